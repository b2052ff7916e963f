//! smoltcp on a virtual clock: no root, no namespace, no wall time for
//! waits, so these run in every `cargo test`. They pin what smoltcp's
//! behaviour shows (its TIME-WAIT length is measured, not read from its
//! source) and that every committed spec replays on it without a harness
//! error.

use std::path::{Path, PathBuf};
use timewait_conformance::backends::smoltcp::SmoltcpStack;
use timewait_conformance::engine;
use timewait_specs::load;

fn replay(text: &str) -> engine::Replay {
    let spec = load::load_str(Path::new("t.yaml"), text).expect("valid spec");
    engine::replay(&spec, &mut SmoltcpStack::new()).expect("no harness error")
}

/// An active close into TIME-WAIT, then `tail`.
fn active_close(tail: &str) -> String {
    format!(
        "name: t\ndescription: d\nrole: active-closer\nmsl: 30s\nmodel: {{pass: [rfc1337]}}\nsteps:\n\
         - app: listen\n- inject: {{flags: S, seq: 0}}\n- expect: {{flags: SA, seq: 0, ack: 1}}\n\
         - inject: {{flags: A, seq: 1, ack: 1}}\n- app: accept\n- app: close\n\
         - expect: {{flags: FA, seq: 1, ack: 1}}\n- inject: {{flags: FA, seq: 1, ack: 2}}\n\
         - expect: {{flags: A, seq: 2, ack: 2}}\n{tail}"
    )
}

#[test]
fn smoltcp_time_wait_lasts_ten_seconds() {
    let r = replay(&active_close(
        "- wait: 9900ms\n- expect-state: {state: TIME-WAIT, tolerance: 1ms}\n\
         - wait: 200ms\n- expect-state: {state: CLOSED, tolerance: 1ms}\n",
    ));
    assert!(r.passed(), "{:?}\n{}", r.failure, r.log.join("\n"));
}

#[test]
fn smoltcp_reacks_a_retransmitted_fin_within_its_time_wait() {
    let r = replay(&active_close(
        "- wait: 1s\n- inject: {flags: FA, seq: 1, ack: 2}\n- expect: {flags: A, seq: 2, ack: 2}\n",
    ));
    assert!(r.passed(), "{:?}\n{}", r.failure, r.log.join("\n"));
}

#[test]
fn smoltcp_lets_a_new_socket_connect_on_a_tuple_it_holds_in_time_wait() {
    // smoltcp keeps no table of 4-tuples in use: a second socket connects
    // beside the one in TIME-WAIT, so `app-refused` fails with the call made.
    let r = replay(&active_close(
        "- incarnation: {peer-isn: 0}\n- app-refused: connect\n",
    ));
    let f = r.failure.expect("the connect goes ahead");
    assert_eq!(
        (f.step, f.kind, f.observed),
        (
            10,
            "app-refused",
            timewait_specs::observed::Observed::Allowed
        )
    );
}

#[test]
fn smoltcp_time_wait_socket_takes_the_syn_ack_meant_for_the_new_one() {
    // What follows the connect above (reports/findings/
    // smoltcp-connect-beside-time-wait.md): the peer's SYN-ACK goes to the
    // older socket, in TIME-WAIT, which sends nothing; the new socket, in
    // SYN-SENT still, retransmits its SYN after its 1 s RTO, and a second
    // SYN-ACK goes the same way.
    let r = replay(&active_close(
        "- incarnation: {peer-isn: 0}\n- app: connect\n- expect: {flags: S}\n\
         - inject: {flags: SA, seq: 0, ack: 1}\n- expect-none: {for: 900ms}\n\
         - expect-state: {state: SYN-SENT}\n- expect: {flags: S, within: 200ms}\n\
         - inject: {flags: SA, seq: 0, ack: 1}\n- expect-none: {for: 1s, flags: A}\n\
         - expect-state: {state: SYN-SENT}\n",
    ));
    assert!(r.passed(), "{:?}\n{}", r.failure, r.log.join("\n"));
}

#[test]
fn smoltcp_persistent_listener_sends_nothing_for_a_syn_its_time_wait_socket_takes() {
    // The listener is a fresh socket put into listen at accept; the socket
    // in TIME-WAIT sits in an earlier slot, gets the SYN first and drops
    // it, so the listener never sees it (the spec
    // persistent-listener-takes-a-newer-syn-in-time-wait, known for smoltcp).
    let text = active_close(
        "- incarnation: {peer-isn: 100000}\n- inject: {flags: S, seq: 0}\n\
         - expect-none: {for: 1s}\n- expect-state: {state: TIME-WAIT}\n\
         - app-refused: accept\n- app: close-listener\n- app-refused: close-listener\n",
    )
    .replace("- app: listen\n", "- app: listen-persistent\n");
    let r = replay(&text);
    assert!(r.passed(), "{:?}\n{}", r.failure, r.log.join("\n"));
}

#[test]
fn app_refused_passes_when_the_stack_refuses_the_call() {
    // Nothing can be sent on a connection in TIME-WAIT.
    let r = replay(&active_close("- app-refused: {send: 1}\n"));
    assert!(r.passed(), "{:?}\n{}", r.failure, r.log.join("\n"));
}

#[test]
fn every_spec_replays_on_smoltcp_on_a_virtual_clock() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs");
    let files = load::collect(&[root.join("reviewed"), root.join("generated")]).expect("specs");
    assert!(files.len() > 60);
    let mut longest = std::time::Duration::ZERO;
    for f in files {
        let spec = load::load_file(&f).expect("valid spec");
        let r = engine::replay(&spec, &mut SmoltcpStack::new())
            .unwrap_or_else(|e| panic!("{}: harness error {e}", f.display()));
        longest = longest.max(r.elapsed);
    }
    // The TIME-WAIT waits, scaled to smoltcp's 10 s, ran on the virtual clock.
    let tw = timewait_conformance::stack::StackKind::Smoltcp.time_wait();
    assert!(longest >= tw, "{longest:?}");
}
