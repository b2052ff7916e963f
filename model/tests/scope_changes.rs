//! Why verdicts change with scope: one test per cause that the README
//! ("What changes with scope") gives for a changed cell of the scope table
//! in `reports/model.md`. Each runs the smallest configuration that still
//! shows the cause and pins its shortest trace, so a change of semantics
//! that would make the README's explanation false fails here.

use timewait_model::check::{self, Limits, PropertyReport, VariantSpec};
use timewait_model::isn_cover::with_every_isn;
use timewait_model::trace::Trace;
use timewait_model::{Config, Preset, PropertyId, Verdict};

fn check(p: Preset, base: Config, property: PropertyId) -> PropertyReport {
    let v = VariantSpec::preset(p, &base, base.msl).expect("valid parameters");
    check::check_property(&v, property, None, &Limits::single_threaded(), &mut |_| {})
}

fn violated(r: PropertyReport, steps: usize) -> Trace {
    assert_eq!(
        r.verdict,
        Verdict::Violated,
        "{} / {}",
        r.variant,
        r.property
    );
    let t = r.trace.expect("a counterexample");
    assert_eq!(t.steps.len(), steps, "{}", t.render("  "));
    t
}

/// A last incarnation that sends and closes too, without loss: the
/// smallest space in which the later incarnations' causes show.
fn talking_without_loss() -> Config {
    Config {
        last_closes: true,
        loss_budget: 0,
        ..Config::default()
    }
}

/// The first step whose action matches `needle`, by its number in the trace.
fn step_of(t: &Trace, needle: &str) -> usize {
    step_after(t, needle, 0)
}

/// The first step after step `after` whose action matches `needle`.
fn step_after(t: &Trace, needle: &str, after: usize) -> usize {
    t.steps
        .iter()
        .find(|s| s.n > after && s.action.contains(needle))
        .map(|s| s.n)
        .unwrap_or_else(|| panic!("no step {needle:?} in\n{}", t.render("  ")))
}

/// With one incarnation no segment has a later incarnation to reach: the
/// properties that the default table sees violated only through reopening
/// hold, even for RFC 9293's assassinable TIME-WAIT.
#[test]
fn one_incarnation_has_nothing_to_cross_into() {
    let base = Config {
        incarnations: 1,
        ..Config::default()
    };
    for property in [
        PropertyId::NoCrossIncarnationDelivery,
        PropertyId::NoHalfOpen,
        PropertyId::EndsAgree,
    ] {
        let r = check(Preset::Rfc9293, base.clone(), property);
        assert_eq!(r.verdict, Verdict::Holds, "rfc9293 / {property:?}");
    }
}

/// RFC 9293's TIME-WAIT dies by a RST, an old FIN is taken by incarnation
/// 2, and incarnation 2 is reset once it has closed. The reset is the old
/// cross-incarnation delivery seen later; a last incarnation that never
/// closes cannot show it. No loss is needed.
#[test]
fn a_closing_second_incarnation_is_reset_after_taking_an_old_fin() {
    let t = violated(
        check(
            Preset::Rfc9293,
            talking_without_loss(),
            PropertyId::ReliableTerminationReset,
        ),
        15,
    );
    assert!(t.conclusion.contains("incarnation 2"), "{}", t.conclusion);
    assert!(t.conclusion.contains("LAST-ACK"), "{}", t.conclusion);
    let reopened = step_of(&t, "connects for the next incarnation");
    let old_fin = step_after(&t, "deliver A>B FIN|ACK seq=1 ack=1 (inc 1", reopened);
    assert!(
        t.steps[old_fin - 1].b.contains("CLOSE-WAIT inc2"),
        "the old FIN is taken by incarnation 2:\n{}",
        t.render("  ")
    );
    let silent = Config {
        loss_budget: 0,
        ..Config::default()
    };
    let r = check(
        Preset::Rfc9293,
        silent,
        PropertyId::ReliableTerminationReset,
    );
    assert_eq!(r.verdict, Verdict::Holds, "silent last incarnation");
}

/// Under timestamps, TIME-WAIT answers an old ACK after its application has
/// opened the listener for the next incarnation, with the clock that
/// incarnation reads. A RST kills TIME-WAIT, incarnation 2 opens, the peer
/// sends a byte, and the old ACK passes PAWS and acknowledges a byte that
/// never arrived: the ends disagree for good.
#[test]
fn under_timestamps_an_ack_from_time_wait_acknowledges_a_byte_never_received() {
    let t = violated(
        check(
            Preset::LinuxTimestamps,
            talking_without_loss(),
            PropertyId::EndsAgree,
        ),
        15,
    );
    let text = t.render("  ");
    let listens = step_of(&t, "A: application listens for the next incarnation");
    assert!(
        t.steps[listens - 1].a.contains("TIME-WAIT"),
        "the listen comes while A is still in TIME-WAIT:\n{text}"
    );
    let sends = step_of(&t, "B: application sends 1 byte");
    let last = t.steps.last().expect("steps");
    assert!(
        sends < last.n && last.action.contains("A>B ACK") && last.action.contains("(inc 1"),
        "an ACK of incarnation 1 ends it:\n{text}"
    );
    assert!(t.conclusion.contains("desynchronised"), "{text}");
}

/// A TIME-WAIT of one MSL (`short-time-wait`) is too short only when the
/// last ACK dies and the peer must send its FIN again.
#[test]
fn short_time_wait_fails_reliable_termination_only_through_a_loss() {
    let no_faults = Config {
        loss_budget: 0,
        dup_budget: 0,
        ..Config::default()
    };
    let r = check(
        Preset::ShortTimeWait,
        no_faults,
        PropertyId::ReliableTerminationReset,
    );
    assert_eq!(r.verdict, Verdict::Holds);
    let one_loss = Config {
        loss_budget: 1,
        dup_budget: 0,
        ..Config::default()
    };
    let t = violated(
        check(
            Preset::ShortTimeWait,
            one_loss,
            PropertyId::ReliableTerminationReset,
        ),
        9,
    );
    let lost = step_of(&t, "dies at MSL (lost)");
    assert!(
        t.steps[lost - 1].action.contains("A>B ACK"),
        "the last ACK is what dies:\n{}",
        t.render("  ")
    );
}

/// At the default granularity the RTO equals the MSL: the last ACK dies,
/// then the first retransmitted FIN, and the second arrives after 2 MSL.
/// Without a duplicate the closed end's RST for it reaches only the old
/// peer, so nothing crosses.
#[test]
fn two_losses_in_a_row_outlast_time_wait_when_rto_equals_msl() {
    let base = Config {
        incarnations: 1,
        loss_budget: 2,
        dup_budget: 0,
        ..Config::default()
    };
    let t = violated(
        check(Preset::Rfc1337, base, PropertyId::ReliableTerminationReset),
        13,
    );
    let losses: Vec<&str> = t
        .steps
        .iter()
        .filter(|s| s.action.contains("(lost)"))
        .map(|s| s.action.as_str())
        .collect();
    assert_eq!(losses.len(), 2, "{}", t.render("  "));
    assert!(losses[0].contains("A>B ACK"), "{losses:?}");
    assert!(
        losses[1].contains("B>A FIN|ACK") && losses[1].contains("retransmission"),
        "{losses:?}"
    );
    let no_dup = Config {
        loss_budget: 2,
        dup_budget: 0,
        ..Config::default()
    };
    let r = check(
        Preset::Rfc1337,
        no_dup,
        PropertyId::NoCrossIncarnationDelivery,
    );
    assert_eq!(r.verdict, Verdict::Holds);
}

/// With a duplicate as well, a copy of the RST that answers the late FIN
/// survives into the next incarnation and resets its SYN-RECEIVED.
#[test]
fn after_two_losses_a_copy_of_the_rst_for_the_late_fin_resets_the_next_incarnation() {
    let base = Config {
        loss_budget: 2,
        dup_budget: 1,
        ..Config::default()
    };
    let t = violated(
        check(
            Preset::Rfc1337,
            base,
            PropertyId::NoCrossIncarnationDelivery,
        ),
        17,
    );
    let dup = step_of(&t, "network duplicates");
    assert!(
        t.steps[dup - 1].action.contains("A>B RST"),
        "{}",
        t.render("  ")
    );
    assert!(
        t.conclusion
            .contains("reset by a RST sent by incarnation 1"),
        "{}",
        t.conclusion
    );
}

/// Every ISN shortens RFC 9293's counterexample by one step only through
/// the listener: with every connector ISN and the listener at 0 it stays
/// at 12; with every ISN for both, an old ACK completes the handshake of a
/// listener whose ISS is its old SND.NXT - 1 (11).
#[test]
fn every_isn_shortens_a_trace_only_through_the_listeners_isn() {
    let base = Config {
        isns: (0..16).collect(),
        ..Config::default()
    };
    violated(
        check(
            Preset::Rfc9293,
            base.clone(),
            PropertyId::NoCrossIncarnationDelivery,
        ),
        12,
    );
    let v = with_every_isn(
        &VariantSpec::preset(Preset::Rfc9293, &base, base.msl).expect("valid parameters"),
    )
    .expect("every ISN fits 16 numbers");
    let r = check::check_property(
        &v,
        PropertyId::NoCrossIncarnationDelivery,
        None,
        &Limits::single_threaded(),
        &mut |_| {},
    );
    let t = violated(r, 11);
    let listens = step_of(&t, "listens for the next incarnation");
    assert!(
        !t.steps[listens - 1].action.contains("(ISS 0)"),
        "{}",
        t.render("  ")
    );
    assert!(t.conclusion.contains("took an ACK"), "{}", t.conclusion);
}
