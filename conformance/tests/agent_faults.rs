//! An agent that misbehaves: crashes mid-spec, hangs, prints garbage, or
//! speaks another protocol version. Each must end the spec with an error
//! naming the stack, the step and what happened, quickly, with the agent's
//! process gone. The agents here are small shell scripts that answer
//! `hello` properly and then misbehave.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use timewait_conformance::backends::agent::AgentStack;
use timewait_conformance::engine;
use timewait_specs::load;

const HELLO: &str = r#"{"ok":true,"version":1,"stack":"fake","clock":"virtual","now_us":0}"#;

fn agent(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script);
    c
}

fn spec() -> timewait_specs::Spec {
    load::load_str(
        Path::new("t.yaml"),
        "name: t\ndescription: d\nrole: active-closer\nmsl: 30s\nmodel: {pass: [rfc1337]}\nsteps:\n\
         - app: listen\n- inject: {flags: S, seq: 0}\n- expect: {flags: SA, seq: 0, ack: 1}\n\
         - inject: {flags: A, seq: 1, ack: 1}\n- app: accept\n- app: close\n\
         - expect: {flags: FA, seq: 1, ack: 1}\n- inject: {flags: FA, seq: 1, ack: 2}\n\
         - expect: {flags: A, seq: 2, ack: 2}\n",
    )
    .expect("valid spec")
}

fn gone(pid: u32) -> bool {
    // Reaped children are gone; kill(pid, 0) fails with ESRCH.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_err()
}

/// Starts `script` as an agent and replays the spec; the error text.
fn fails_with(script: &str, deadline: Duration) -> (String, u32, Duration) {
    let mut s =
        AgentStack::start("fake", agent(script), Duration::from_secs(60)).expect("hello succeeds");
    s.set_deadline(deadline);
    let pid = s.process_id();
    let t = Instant::now();
    let e = engine::replay(&spec(), &mut s).expect_err("the spec cannot complete");
    let took = t.elapsed();
    drop(s);
    (e.to_string(), pid, took)
}

#[test]
fn an_agent_that_crashes_mid_spec_is_reported_with_stack_step_and_exit_status() {
    let script = format!("read l; echo '{HELLO}'; read l; echo 'dying' >&2; exit 3");
    let (e, pid, _) = fails_with(&script, Duration::from_secs(5));
    assert!(e.contains("fake agent"), "{e}");
    assert!(e.contains("step 1 (app, line 7)"), "{e}");
    assert!(e.contains("exit status: 3"), "{e}");
    assert!(e.contains("while handling `listen`"), "{e}");
    assert!(e.contains("dying"), "stderr tail quoted: {e}");
    assert!(gone(pid));
}

#[test]
fn an_agent_that_hangs_is_killed_at_the_deadline() {
    let script = format!("read l; echo '{HELLO}'; read l; exec sleep 60");
    let (e, pid, took) = fails_with(&script, Duration::from_millis(300));
    assert!(e.contains("no reply to `listen` within"), "{e}");
    assert!(e.contains("killed"), "{e}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(gone(pid));
}

#[test]
fn garbage_from_an_agent_is_a_protocol_error_quoting_the_line() {
    let script = format!("read l; echo '{HELLO}'; read l; echo 'this is not json'; sleep 60");
    let (e, pid, _) = fails_with(&script, Duration::from_secs(5));
    assert!(e.contains("protocol error"), "{e}");
    assert!(e.contains("\"this is not json\""), "{e}");
    assert!(e.contains("step 1 (app"), "{e}");
    assert!(gone(pid), "the harness kills the agent it gave up on");
}

#[test]
fn a_reply_without_error_text_is_a_protocol_error() {
    let script = format!("read l; echo '{HELLO}'; read l; echo '{{\"ok\":false}}'; sleep 60");
    let (e, _, _) = fails_with(&script, Duration::from_secs(5));
    assert!(e.contains("`ok: false` without `error`"), "{e}");
}

#[test]
fn a_fatal_reply_ends_the_spec() {
    let script = format!(
        "read l; echo '{HELLO}'; read l; echo '{{\"ok\":false,\"fatal\":\"out of pbufs\"}}'; sleep 60"
    );
    let (e, _, _) = fails_with(&script, Duration::from_secs(5));
    assert!(e.contains("fatal error on `listen`: out of pbufs"), "{e}");
}

#[test]
fn another_protocol_version_is_refused_at_hello() {
    let script = r#"read l; echo '{"ok":true,"version":2,"clock":"virtual"}'; sleep 60"#;
    let e = AgentStack::start("fake", agent(script), Duration::from_secs(60))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("speaks protocol version Some(2)"), "{e}");
}

#[test]
fn a_missing_agent_binary_is_named() {
    let e = AgentStack::start(
        "fake",
        Command::new("/nonexistent/agent"),
        Duration::from_secs(60),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("cannot start \"/nonexistent/agent\""), "{e}");
}

#[test]
fn a_clock_that_runs_backwards_is_a_protocol_error() {
    let script = format!(
        "read l; echo '{HELLO}' | sed 's/\"now_us\":0/\"now_us\":5000/'; read l; echo '{{\"ok\":true,\"now_us\":10}}'; sleep 60"
    );
    let (e, _, _) = fails_with(&script, Duration::from_secs(5));
    assert!(e.contains("the clock went back"), "{e}");
}

#[test]
fn a_crashing_agents_stderr_is_quoted_up_to_its_last_line() {
    // Thousands of lines and then the last words: the error is written
    // only once the stderr reader has reached end of file.
    let script =
        format!("read l; echo '{HELLO}'; read l; seq 1 5000 >&2; echo 'last words' >&2; exit 3");
    let (e, _, _) = fails_with(&script, Duration::from_secs(5));
    assert!(e.contains("5000 | last words"), "{e}");
}

#[test]
fn a_stderr_line_that_is_not_utf8_does_not_end_the_tail() {
    let script = format!(
        "read l; echo '{HELLO}'; read l; printf 'bad \\377 byte\\n' >&2; echo 'after it' >&2; exit 3"
    );
    let (e, _, _) = fails_with(&script, Duration::from_secs(5));
    assert!(e.contains("bad \u{fffd} byte | after it"), "{e}");
}
