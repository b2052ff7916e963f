//! The judge against stacks that misbehave on purpose: smoltcp (virtual
//! time, no root) behind a double that swallows or alters what the SUT
//! sends. A stack that fails a spec at another step, or with another
//! segment, than the model predicts must read `diverges`, and so must a
//! known spec that departs in a new way; only the exact departure a known
//! entry pins is absorbed. A double that stalls the harness (its clock runs
//! on while the engine is held up) shows lateness is never judged as the
//! stack's departure.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::time::Duration;
use timewait_conformance::backends::smoltcp::SmoltcpStack;
use timewait_conformance::known;
use timewait_conformance::stack::{Received, Stack, StackError, StackKind, StackRun, SutState};
use timewait_conformance::suite::{self, SpecResult};
use timewait_conformance::verdict::Mark;
use timewait_conformance::wire::WireSegment;
use timewait_specs::format::App;
use timewait_specs::{load, Spec};

/// What the double does to the SUT's `n`th segment (0-based).
#[derive(Clone, Copy)]
enum Fault {
    None,
    /// It never reaches the peer.
    Swallow(usize),
    /// Its ack field is one higher.
    BumpAck(usize),
    /// After it reaches the peer, the harness stalls this long before its
    /// next step (what a descheduled thread on a loaded machine does):
    /// the stack's clock runs on, and what it sends meanwhile waits.
    StallAfter(usize, Duration),
    /// The `n`th time a deadline passes with nothing from the SUT (a wait
    /// running out), the harness wakes this much after it: the stack's
    /// clock runs on, and what it sends meanwhile waits.
    OversleepAfter(usize, Duration),
}

struct Double {
    inner: SmoltcpStack,
    fault: Fault,
    sent: usize,
    /// Deadlines that passed with nothing from the SUT.
    quiet: usize,
    /// What the SUT sent during a stall, in order.
    stalled: std::collections::VecDeque<Received>,
}

impl Stack for Double {
    fn addresses(&self) -> (SocketAddrV4, SocketAddrV4) {
        self.inner.addresses()
    }
    fn time_wait(&self) -> Duration {
        self.inner.time_wait()
    }
    fn now(&self) -> Duration {
        self.inner.now()
    }
    fn app(&mut self, call: App) -> Result<Result<(), String>, StackError> {
        self.inner.app(call)
    }
    fn inject(&mut self, seg: &WireSegment) -> Result<(), StackError> {
        self.inner.inject(seg)
    }
    fn recv(&mut self, deadline: Duration) -> Result<Option<Received>, StackError> {
        if let Some(r) = self.stalled.pop_front() {
            return Ok(Some(r));
        }
        loop {
            let Some(mut r) = self.inner.recv(deadline)? else {
                let n = self.quiet;
                self.quiet += 1;
                if let Fault::OversleepAfter(i, by) = self.fault {
                    if i == n {
                        let until = self.inner.now() + by;
                        while let Some(later) = self.inner.recv(until)? {
                            self.stalled.push_back(later);
                        }
                    }
                }
                return Ok(None);
            };
            let n = self.sent;
            self.sent += 1;
            match self.fault {
                Fault::Swallow(i) if i == n => continue,
                Fault::BumpAck(i) if i == n => r.segment.ack = r.segment.ack.wrapping_add(1),
                Fault::StallAfter(i, by) if i == n => {
                    let until = self.inner.now() + by;
                    while let Some(later) = self.inner.recv(until)? {
                        self.stalled.push_back(later);
                    }
                }
                _ => {}
            }
            return Ok(Some(r));
        }
    }
    fn state(&mut self) -> Result<Option<SutState>, StackError> {
        self.inner.state()
    }
}

fn spec(text: &str) -> Spec {
    load::load_str(Path::new("lost-last-ack.yaml"), text).expect("a valid spec")
}

/// A passive open, an active close, the peer's FIN re-ACKed once, then a
/// retransmitted FIN that must be re-ACKed again: RFC 9293 3.10.7.4.
const LOST_LAST_ACK: &str = "name: lost-last-ack\ndescription: d\nrole: active-closer\n\
    msl: 30s\nmodel: {pass: [rfc1337]}\nsteps:\n\
    - app: listen\n- inject: {flags: S, seq: 0}\n- expect: {flags: SA, seq: 0, ack: 1}\n\
    - inject: {flags: A, seq: 1, ack: 1}\n- app: accept\n- app: close\n\
    - expect: {flags: FA, seq: 1, ack: 1}\n- inject: {flags: FA, seq: 1, ack: 2}\n\
    - expect: {flags: A, seq: 2, ack: 2}\n- inject: {flags: FA, seq: 1, ack: 2}\n\
    - expect: {flags: A, seq: 2, ack: 2}\n";

fn run(spec: Spec, fault: Fault, entry: Option<&known::Entry>) -> SpecResult {
    suite::run_with(
        PathBuf::from("t.yaml"),
        spec,
        StackKind::Smoltcp,
        entry,
        move |s| {
            let mut d = Double {
                inner: SmoltcpStack::new(),
                fault,
                sent: 0,
                quiet: 0,
                stalled: Default::default(),
            };
            let replay =
                timewait_conformance::engine::replay(s, &mut d).map_err(|e| e.to_string())?;
            Ok(StackRun {
                replay,
                frames: std::mem::take(&mut d.inner.frames),
            })
        },
    )
}

fn entry(text: &str) -> known::Entry {
    let k = known::parse(Path::new("known.txt"), text).expect("a valid entry");
    k.into_values().next().expect("one entry")
}

#[test]
fn the_honest_stack_passes_as_the_model_does() {
    let r = run(spec(LOST_LAST_ACK), Fault::None, None);
    assert_eq!(r.judgement.mark, Mark::Pass, "{}", r.judgement.why);
}

#[test]
fn a_stack_silent_where_the_model_re_acks_diverges_with_both_departures() {
    // The fifth segment is the re-ACK of the retransmitted FIN.
    let r = run(spec(LOST_LAST_ACK), Fault::Swallow(3), None);
    assert_eq!(r.judgement.mark, Mark::Diverges);
    assert_eq!(
        r.judgement.why,
        "the stack step 11: nothing; the model (rfc1337) passes"
    );
}

#[test]
fn failing_where_the_model_fails_but_with_another_segment_diverges() {
    // Expect a RST where rfc1337 re-ACKs: the model fails at step 11 with
    // the re-ACK; a stack whose re-ACK carries another ack fails at the same
    // step with another segment, and that is not "as predicted".
    let cut = LOST_LAST_ACK
        .rfind("- expect: {flags: A")
        .expect("the last expect");
    let text = format!("{}- expect: {{flags: R, seq: 2}}\n", &LOST_LAST_ACK[..cut]);
    let s = spec(&text);
    let predicted = run(s.clone(), Fault::None, None);
    assert_eq!(
        predicted.judgement.mark,
        Mark::FailAsPredicted,
        "{}",
        predicted.judgement.why
    );
    assert_eq!(
        predicted.judgement.why,
        "both fail at step 11: A seq=2 ack=2 len=0"
    );
    let other = run(s, Fault::BumpAck(3), None);
    assert_eq!(other.judgement.mark, Mark::Diverges);
    assert_eq!(
        other.judgement.why,
        "the stack step 11: A seq=2 ack=3 len=0; the model (rfc1337) step 11: A seq=2 ack=2 len=0"
    );
}

#[test]
fn a_known_entry_absorbs_its_departure_and_nothing_else() {
    let pinned = entry("lost-last-ack | step 11 | nothing | the re-ACK is lost on purpose\n");
    let r = run(spec(LOST_LAST_ACK), Fault::Swallow(3), Some(&pinned));
    assert_eq!(r.judgement.mark, Mark::Known, "{}", r.judgement.why);
    // The same spec departing at another step is a new departure.
    let r = run(spec(LOST_LAST_ACK), Fault::Swallow(2), Some(&pinned));
    assert_eq!(r.judgement.mark, Mark::Diverges);
    assert!(
        r.judgement
            .why
            .starts_with("the stack step 9: nothing; the model (rfc1337) passes; the known entry (line 1) says step 11: nothing"),
        "{}",
        r.judgement.why
    );
    // And so is the same step with another segment.
    let r = run(spec(LOST_LAST_ACK), Fault::BumpAck(3), Some(&pinned));
    assert_eq!(r.judgement.mark, Mark::Diverges, "{}", r.judgement.why);
    // An entry whose departure no longer happens is stale.
    let r = run(spec(LOST_LAST_ACK), Fault::None, Some(&pinned));
    assert_eq!(r.judgement.mark, Mark::Stale, "{}", r.judgement.why);
}

#[test]
fn a_departure_is_keyed_by_its_step_and_what_was_observed_not_by_time() {
    let r = run(spec(LOST_LAST_ACK), Fault::Swallow(3), None);
    let d = r
        .stack_departure()
        .expect("no harness error")
        .expect("a departure");
    assert_eq!(d.key(), "step 11: nothing");
    assert!(
        d.expected.contains(" by "),
        "the deadline is for people: {}",
        d.expected
    );
}

/// LOST_LAST_ACK with the harness stalled `ms` after the first re-ACK
/// (the SUT's third segment), before it injects the retransmitted FIN.
fn stalled(ms: u64, entry: Option<&known::Entry>) -> SpecResult {
    run(
        spec(LOST_LAST_ACK),
        Fault::StallAfter(2, Duration::from_millis(ms)),
        entry,
    )
}

#[test]
fn an_inject_later_than_the_tolerance_is_timing_invalid_never_a_departure() {
    // The spec's tolerance is 100 ms.
    let r = stalled(500, None);
    assert_eq!(r.judgement.mark, Mark::TimingInvalid, "{}", r.judgement.why);
    assert_eq!(
        r.judgement.why,
        "the harness was late: step 10 (inject, line 16) was 500.0 ms late (tolerance 100.0 ms); rerun"
    );
    assert!(!r.judgement.mark.expected(), "a rerun is needed");
    let replay = &r.run.as_ref().expect("no harness error").replay;
    assert!(replay.failure.is_none(), "the stack is not blamed");
    assert!(!replay.passed(), "nor does it pass");
    // Even a known entry for the spec is neither absorbed nor stale.
    let pinned = entry("lost-last-ack | step 11 | nothing | pinned\n");
    let r = stalled(500, Some(&pinned));
    assert_eq!(r.judgement.mark, Mark::TimingInvalid, "{}", r.judgement.why);
}

/// The run's latest action (a run without a harness error takes some).
fn latest(r: &SpecResult) -> timewait_conformance::engine::Late {
    r.run
        .as_ref()
        .expect("no harness error")
        .replay
        .latest
        .clone()
        .expect("actions were taken")
}

#[test]
fn lateness_within_the_tolerance_is_recorded_and_the_run_judged() {
    let r = stalled(40, None);
    assert_eq!(r.judgement.mark, Mark::Pass, "{}", r.judgement.why);
    let latest = latest(&r);
    assert_eq!((latest.step, latest.kind), (9, "inject"));
    assert_eq!(latest.by, Duration::from_millis(40));
}

#[test]
fn an_honest_run_on_a_virtual_clock_is_never_late() {
    let r = run(spec(LOST_LAST_ACK), Fault::None, None);
    let latest = latest(&r);
    assert_eq!(latest.by, Duration::ZERO, "{latest}");
}

/// LOST_LAST_ACK, then a wait of 1 s and a state check: nothing the
/// harness does after the wait would show that it ended late.
fn waits_then_checks() -> Spec {
    spec(&format!(
        "{LOST_LAST_ACK}- wait: 1s\n- expect-state: {{state: TIME-WAIT}}\n"
    ))
}

#[test]
fn a_wait_that_ends_later_than_the_tolerance_is_timing_invalid_never_a_departure() {
    // The first deadline that passes in silence is the wait's.
    let r = run(
        waits_then_checks(),
        Fault::OversleepAfter(0, Duration::from_millis(500)),
        None,
    );
    assert_eq!(r.judgement.mark, Mark::TimingInvalid, "{}", r.judgement.why);
    assert_eq!(
        r.judgement.why,
        "the harness was late: step 12 (wait, line 18) was 500.0 ms late (tolerance 100.0 ms); rerun"
    );
    let replay = &r.run.as_ref().expect("no harness error").replay;
    assert!(replay.failure.is_none(), "the stack is not blamed");
}

#[test]
fn a_wait_overshoot_within_the_tolerance_is_the_runs_largest_lateness() {
    let r = run(
        waits_then_checks(),
        Fault::OversleepAfter(0, Duration::from_millis(40)),
        None,
    );
    assert_eq!(r.judgement.mark, Mark::Pass, "{}", r.judgement.why);
    let latest = latest(&r);
    assert_eq!((latest.step, latest.kind), (11, "wait"));
    assert_eq!(latest.by, Duration::from_millis(40));
}

#[test]
fn a_tighter_tolerance_override_makes_the_same_lateness_timing_invalid() {
    // 40 ms late passes the spec's own 100 ms ...
    assert_eq!(stalled(40, None).judgement.mark, Mark::Pass);
    // ... and not a 10 ms tolerance in force for the run.
    let tight = spec(LOST_LAST_ACK).with_tolerance(timewait_specs::values::Duration::ms(10));
    let r = run(tight, Fault::StallAfter(2, Duration::from_millis(40)), None);
    assert_eq!(r.judgement.mark, Mark::TimingInvalid, "{}", r.judgement.why);
    assert!(
        r.judgement
            .why
            .ends_with("was 40.0 ms late (tolerance 10.0 ms); rerun"),
        "{}",
        r.judgement.why
    );
}

#[test]
fn a_tolerance_override_replaces_every_steps_own() {
    use timewait_specs::format::Step;
    let text = LOST_LAST_ACK.replace(
        "- expect: {flags: SA, seq: 0, ack: 1}",
        "- expect: {flags: SA, seq: 0, ack: 1, tolerance: 2s}",
    ) + "- expect-state: {state: TIME-WAIT, tolerance: 3s}\n";
    let s = spec(&text).with_tolerance(timewait_specs::values::Duration::ms(5));
    assert_eq!(s.tolerance(), timewait_specs::values::Duration::ms(5));
    for step in &s.steps {
        match &step.value {
            Step::Expect(e) => assert_eq!(e.tolerance, None),
            Step::ExpectState(e) => assert_eq!(e.tolerance, None),
            _ => {}
        }
    }
}
