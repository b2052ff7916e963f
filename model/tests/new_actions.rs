//! A trace for each action and switch that is off by default: ABORT, the
//! orphan FIN-WAIT-2 timeout, a slow application, and a last incarnation
//! that closes. Each pins what the switch lets happen, with its shortest
//! trace, so a change of semantics shows up as a changed trace.

use timewait_model::check::{self, Limits, PropertyReport, VariantSpec};
use timewait_model::{Config, Preset, PropertyId, Verdict};

fn check(base: Config, fin_wait_2_timeout: Option<u8>, p: PropertyId) -> PropertyReport {
    let mut v = VariantSpec::preset(Preset::Rfc1337, &base, base.msl).expect("valid parameters");
    v.cfg.behaviour.fin_wait_2_timeout = fin_wait_2_timeout;
    v.cfg.validate().expect("valid switches");
    check::check_property(&v, p, None, &Limits::single_threaded(), &mut |_| {})
}

/// SO_LINGER 0 is what people use to skip TIME-WAIT, and it forfeits what
/// TIME-WAIT is for: the aborting end is CLOSED at once, the next
/// incarnation opens, and a segment of the old one is taken by it.
#[test]
fn an_abort_skips_time_wait_and_lets_an_old_segment_cross() {
    let base = Config {
        aborts: true,
        ..Config::default()
    };
    let r = check(base, None, PropertyId::NoCrossIncarnationDelivery);
    assert_eq!(r.verdict, Verdict::Violated);
    let t = r.trace.expect("a counterexample");
    let text = t.render("  ");
    assert!(text.contains("application aborts"), "{text}");
    assert!(
        text.contains("RST|ACK"),
        "the abort's RST carries ACK:\n{text}"
    );
    assert!(t.conclusion.contains("sent by incarnation 1"), "{text}");
    assert_eq!(t.steps.len(), 5, "{text}");
}

/// Linux deletes an orphaned FIN-WAIT-2 connection after tcp_fin_timeout;
/// a peer application that closes later gets RST for its FIN, in LAST-ACK,
/// after it closed cleanly: reliable termination fails without any loss.
#[test]
fn a_late_close_after_the_fin_wait_2_timeout_is_answered_with_rst() {
    let r = check(
        Config::default(),
        Some(4),
        PropertyId::ReliableTerminationReset,
    );
    assert_eq!(r.verdict, Verdict::Violated);
    let t = r.trace.expect("a counterexample");
    let text = t.render("  ");
    assert!(text.contains("FIN-WAIT-2 times out"), "{text}");
    assert!(t.conclusion.contains("LAST-ACK"), "{text}");
    assert_eq!(t.steps.len(), 10, "{text}");
}

/// Without the timeout (RFC 9293) the same late close is answered properly:
/// FIN-WAIT-2 waits forever, and the slow application changes nothing.
#[test]
fn a_slow_application_leaves_rfc1337_safe() {
    let base = Config {
        idle_ticks: 1,
        ..Config::default()
    };
    // One exploration for the three (they share it as `always` properties).
    let v = VariantSpec::preset(Preset::Rfc1337, &base, base.msl).expect("valid parameters");
    let reports = check::check_variant(
        &v,
        &[
            PropertyId::NoCrossIncarnationDelivery,
            PropertyId::ReliableTerminationReset,
            PropertyId::NoHalfOpen,
        ],
        false,
        &Limits::single_threaded(),
        &mut |_| {},
    );
    assert_eq!(reports.len(), 3);
    for r in reports {
        assert_eq!(r.verdict, Verdict::Holds, "{}", r.property);
    }
}

/// The idle budget is spent only when nothing else makes time pass.
#[test]
fn an_idle_tick_is_spent_only_while_nothing_runs() {
    use stateright::Model;
    use timewait_model::{Action, TeardownModel};
    let cfg = Config {
        idle_ticks: 2,
        ..Config::default()
    };
    let m = TeardownModel::observing_all(cfg);
    let s = m.init_states().remove(0);
    let mut acts = Vec::new();
    m.actions(&s, &mut acts);
    assert!(acts.contains(&Action::Tick), "an idle application may wait");
    let idled = m.step(&s, Action::Tick).expect("enabled");
    assert_eq!(idled.idle_left, 1);
    // With a segment in flight the tick is the network's, not idling.
    let closing = m
        .step(&idled, Action::Close(timewait_model::segment::Side::A))
        .expect("A may close");
    let ticked = m.step(&closing, Action::Tick).expect("a FIN is in flight");
    assert_eq!(ticked.idle_left, 1);
    // Once spent, a quiet system has no tick.
    let spent = m.step(&idled, Action::Tick).expect("one tick left");
    let mut acts = Vec::new();
    m.actions(&spent, &mut acts);
    assert!(!acts.contains(&Action::Tick), "the budget is spent");
}

/// With ISNs bound to a clock (RFC 6528) no side reopens below its old
/// SND.NXT: the listener takes the clock's slowest reading, exactly its old
/// SND.NXT, never the old ISN 0, and the next incarnation is still reached.
/// Under the clock no variant lets an old segment cross (README, "Switches").
#[test]
fn an_isn_clock_reopens_at_or_past_the_old_snd_nxt() {
    let mut v = VariantSpec::preset(Preset::NoTimeWait, &Config::default(), 2).expect("valid");
    v.cfg.behaviour.isn_clock = true;
    let r = check::check_property(
        &v,
        PropertyId::NextIncarnationEstablished,
        None,
        &Limits::single_threaded(),
        &mut |_| {},
    );
    assert_eq!(r.verdict, Verdict::Holds);
    let t = r.trace.expect("a witness");
    let text = t.render("  ");
    assert!(
        text.contains("listens for the next incarnation (ISS "),
        "{text}"
    );
    assert!(!text.contains("(ISS 0)"), "{text}");
    assert!(!text.contains("(ISS 1)"), "{text}");
    let cross = check::check_property(
        &v,
        PropertyId::NoCrossIncarnationDelivery,
        None,
        &Limits::single_threaded(),
        &mut |_| {},
    );
    assert_eq!(
        cross.verdict,
        Verdict::Holds,
        "even without TIME-WAIT, a clock-bound ISN keeps old segments out"
    );
}

fn preset_check(p: Preset, property: PropertyId) -> PropertyReport {
    let base = Config::default();
    let v = VariantSpec::preset(p, &base, base.msl).expect("valid parameters");
    check::check_property(&v, property, None, &Limits::single_threaded(), &mut |_| {})
}

/// tcp_tw_reuse: the client reuses its TIME-WAIT 4-tuple while the
/// server's ACK of the client's FIN is still in flight; SYN-SENT answers
/// that ACK with a RST at exactly the server's RCV.NXT, and the server's
/// LAST-ACK is reset. No loss, no duplicate.
#[test]
fn tw_reuse_resets_the_servers_last_ack_from_syn_sent() {
    let r = preset_check(Preset::LinuxTwReuse, PropertyId::ReliableTerminationReset);
    assert_eq!(r.verdict, Verdict::Violated);
    let t = r.trace.expect("a counterexample");
    let text = t.render("  ");
    assert!(
        text.contains("A TIME-WAIT") || text.contains("B TIME-WAIT"),
        "{text}"
    );
    assert!(text.contains("SYN-SENT"), "{text}");
    assert!(t.conclusion.contains("LAST-ACK"), "{text}");
    assert!(
        !text.contains("lost") && !text.contains("duplicates"),
        "{text}"
    );
    assert_eq!(t.steps.len(), 8, "{text}");
}

/// RFC 6191 reopens TIME-WAIT for a SYN below the old RCV.NXT when its
/// timestamp is newer; the old RST, exempt from PAWS, then lands exactly on
/// the new RCV.NXT and resets the reopened connection.
#[test]
fn rfc6191_lets_an_old_rst_reset_the_reopened_connection() {
    let r = preset_check(Preset::Rfc6191, PropertyId::NoCrossIncarnationDelivery);
    assert_eq!(r.verdict, Verdict::Violated);
    let t = r.trace.expect("a counterexample");
    let text = t.render("  ");
    assert!(
        t.conclusion
            .contains("was reset by a RST sent by incarnation 1"),
        "{text}"
    );
    assert!(text.contains("SYN-RECEIVED"), "{text}");
    assert_eq!(t.steps.len(), 10, "{text}");
}
