//! The oracle's client-side reuse of a TIME-WAIT 4-tuple (`linux-tw-reuse`,
//! Linux's `tcp_twsk_unique`) and the `app-refused` step that pins a refusal:
//! who may reuse, at which ISN, how the new incarnation's numbers are learnt
//! from the reusing SYN, and Linux's quick SYN retransmission when the old
//! peer still answers.

use std::path::Path;
use timewait_model::Preset;
use timewait_specs::load;
use timewait_specs::observed::Observed;
use timewait_specs::oracle::{self, Failure, Outcome};

/// An active close to TIME-WAIT with the Timestamps option on every
/// injected segment (or on none), then `tail`.
fn spec(ts: bool, tail: &str) -> timewait_specs::format::Spec {
    let o = |val: u32| {
        if ts {
            format!(", options: {{ts: {{val: {val}, ecr: 0}}}}")
        } else {
            String::new()
        }
    };
    let text = format!(
        "name: t\ndescription: d\nrole: active-closer\nmsl: 30s\nmodel: {{pass: [linux-tw-reuse]}}\nsteps:\n\
         - app: listen\n- inject: {{flags: S, seq: 0{}}}\n- expect: {{flags: SA, seq: 0, ack: 1}}\n\
         - inject: {{flags: A, seq: 1, ack: 1{}}}\n- app: accept\n- app: close\n\
         - expect: {{flags: FA, seq: 1, ack: 1}}\n- inject: {{flags: FA, seq: 1, ack: 2{}}}\n\
         - expect: {{flags: A, seq: 2, ack: 2}}\n- expect-state: {{state: TIME-WAIT}}\n\
         - incarnation: {{peer-isn: 0}}\n{tail}",
        o(1),
        o(1),
        o(2)
    );
    load::load_str(Path::new("t.yaml"), &text).expect("valid spec")
}

fn fails(s: &timewait_specs::format::Spec, p: Preset) -> Failure {
    match oracle::run(s, p).outcome {
        Outcome::Fail(f) => f,
        Outcome::Pass => panic!("{p} must fail this spec"),
    }
}

/// The reusing SYN at old SND.NXT + 65535 + 2, in the old incarnation's
/// numbers (the old SND.NXT is 2 there).
const REUSE: &str = "- app: connect\n- expect: {flags: S, seq: 65539, incarnation: 1}\n";

#[test]
fn a_connect_from_time_wait_with_timestamps_reuses_the_tuple_at_old_snd_nxt_plus_65537() {
    let s = spec(true, REUSE);
    assert!(oracle::run(&s, Preset::LinuxTwReuse).outcome.passed());
}

#[test]
fn a_reusing_syn_one_number_off_is_a_departure() {
    let s = spec(
        true,
        "- app: connect\n- expect: {flags: S, seq: 65538, incarnation: 1}\n",
    );
    let f = fails(&s, Preset::LinuxTwReuse);
    assert_eq!(f.kind, "expect");
}

#[test]
fn presets_without_reuse_refuse_the_connect_from_time_wait() {
    let s = spec(true, REUSE);
    for p in [
        Preset::LinuxTimestamps,
        Preset::Linux,
        Preset::Rfc9293,
        Preset::Rfc6191,
    ] {
        let f = fails(&s, p);
        assert_eq!(
            (f.step, f.observed.clone()),
            (11, Observed::Refused),
            "{p}: {f}"
        );
    }
}

#[test]
fn without_timestamps_not_even_linux_tw_reuse_reuses_the_tuple() {
    let s = spec(
        false,
        "- app-refused: connect\n- expect-state: {state: TIME-WAIT}\n",
    );
    assert!(oracle::run(&s, Preset::LinuxTwReuse).outcome.passed());
    let s = spec(false, REUSE);
    assert_eq!(fails(&s, Preset::LinuxTwReuse).observed, Observed::Refused);
}

#[test]
fn app_refused_fails_with_call_allowed_when_the_call_goes_ahead() {
    let s = spec(true, "- app-refused: connect\n");
    let f = fails(&s, Preset::LinuxTwReuse);
    assert_eq!((f.kind, f.observed), ("app-refused", Observed::Allowed));
    // Where the call is refused, the step passes.
    assert!(oracle::run(&s, Preset::LinuxTimestamps).outcome.passed());
}

#[test]
fn the_reusing_syn_gives_the_new_incarnation_its_isn() {
    // After the SYN written in incarnation 1's numbers, the handshake is
    // written in incarnation 2's own: the SYN's sequence number is its ISN.
    let tail = format!(
        "{REUSE}- inject: {{flags: SA, seq: 0, ack: 1, options: {{ts: {{val: 3, ecr: 0}}}}}}\n\
         - expect: {{flags: A, seq: 1, ack: 1}}\n- expect-state: {{state: ESTABLISHED}}\n"
    );
    assert!(oracle::run(&spec(true, &tail), Preset::LinuxTwReuse)
        .outcome
        .passed());
}

#[test]
fn linux_resends_the_syn_at_once_after_resetting_the_old_peers_ack() {
    // The old peer, still in LAST-ACK, answers the reusing SYN with its old
    // ACK; Linux resets it (at the ACK's number) and retransmits the SYN
    // within milliseconds, not after an RTO.
    let tail = format!(
        "{REUSE}- inject: {{flags: A, seq: 2, ack: 2, incarnation: 1, options: {{ts: {{val: 3, ecr: 0}}}}}}\n\
         - expect: {{flags: R, seq: 2, incarnation: 1}}\n\
         - expect: {{flags: S, seq: 65539, incarnation: 1}}\n"
    );
    let s = spec(true, &tail);
    let r = oracle::run(&s, Preset::LinuxTwReuse);
    assert!(r.outcome.passed(), "{:?}", r.outcome);
    // The SYN leaves with the RST, before any timer: a spec that waits
    // after the RST meets it (an expect alone would also be met by an RTO).
    let waits = format!(
        "{REUSE}- inject: {{flags: A, seq: 2, ack: 2, incarnation: 1, options: {{ts: {{val: 3, ecr: 0}}}}}}\n\
         - expect: {{flags: R, seq: 2, incarnation: 1}}\n- wait: 1ms\n"
    );
    let f = fails(&spec(true, &waits), Preset::LinuxTwReuse);
    assert_eq!(f.kind, "wait");
    assert!(f.actual.contains("S seq="), "{f}");
}
