//! The PyTCP agent as a harness meets it before any TAP device exists (no
//! root needed): a request before `hello`, a virtual-mode `hello` (PyTCP
//! runs on real time only), a malformed `hello`, a line that is not JSON
//! or not UTF-8 each get one `fatal` reply naming what was wrong, every
//! reply is one line of JSON, the agent answers on afterwards, and it
//! exits 0 at the end of its input. Its runs over TAP are `pytcp::NAME`
//! in tests/linux.rs.

use serde_json::Value;
use std::time::Duration;
use timewait_conformance::backends::agent::shipped::Agent;
use timewait_conformance::stack;

/// How long one reply may take: the first carries PyTCP's import.
const REPLY: Duration = Duration::from_secs(30);

mod common;
use common::Driven;

/// The PyTCP agent, or `None` (after saying why) where PyTCP is not
/// installed.
fn start() -> Option<Driven> {
    if let Some(why) = Agent::Pytcp.unavailable() {
        assert!(
            !stack::skips_forbidden(),
            "CI=true forbids skipping the PyTCP agent's tests: {why}"
        );
        eprintln!("skipped: {why}");
        return None;
    }
    let cmd = Agent::Pytcp.command().expect("the PyTCP agent is ready");
    Some(Driven::spawn(cmd, REPLY))
}

#[test]
fn bad_requests_get_a_fatal_reply_and_the_agent_answers_on() {
    let Some(mut a) = start() else {
        return;
    };
    let f = a.fatal_text(br#"{"op":"listen"}"#);
    assert!(f.contains("before hello"), "{f}");
    let f = a.fatal_text(
        br#"{"op":"hello","version":1,"mode":"virtual","sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#,
    );
    assert!(f.contains("tap mode only"), "{f}");
    let f = a.fatal_text(br#"{"op":"hello","version":2,"mode":"tap"}"#);
    assert!(f.contains("version 1"), "{f}");
    let f = a.fatal_text(
        br#"{"op":"hello","version":1,"mode":"tap","tap":"tw0","sut":"192.0.2.1","peer":"192.0.2.2:40000","sut_mac":"02:00:00:00:00:01"}"#,
    );
    assert!(f.contains("\"sut\""), "the field is named: {f}");
    let f = a.fatal_text(br#"{"op":"hello","version":1,"mode":"tap","sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#);
    assert!(f.contains("\"tap\""), "{f}");
    let f = a.fatal_text(b"not json \"quoted\" \x01");
    assert!(f.starts_with("not a request"), "{f}");
    assert!(f.contains("quoted"), "the line is quoted: {f}");
    let f = a.fatal_text(b"{\"op\":\"st\xffate\"}");
    assert!(
        f.starts_with("not a request"),
        "bytes that are not UTF-8: {f}"
    );
    let f = a.fatal_text(b"[1, 2]");
    assert!(f.contains("not a JSON object"), "{f}");
    // Still answering, still before hello.
    let f = a.fatal_text(br#"{"op":"state"}"#);
    assert!(f.contains("before hello"), "{f}");
}

#[test]
fn the_agent_exits_at_the_end_of_its_input_and_on_quit() {
    let Some(mut a) = start() else {
        return;
    };
    drop(a.stdin.take());
    let status = a.child.wait().expect("waited for");
    assert!(status.success(), "end of input: {status}");
    let Some(mut b) = start() else {
        return;
    };
    let reply = b.ask(br#"{"op":"quit"}"#);
    assert_eq!(reply["ok"], Value::Bool(true), "{reply}");
    let status = b.child.wait().expect("waited for");
    assert!(status.success(), "quit: {status}");
}
