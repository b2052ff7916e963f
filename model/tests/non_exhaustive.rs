//! `check --engine bitstate` and `--engine swarm`: what a non-exhaustive
//! search may and may not claim. A violation it finds is real and gets the
//! shortest counterexample of the exhaustive BFS; a property it does not
//! find is `incomplete`, never `holds`, and every report says the run was
//! not exhaustive and how much it covered.

use timewait_model::check::{self, Engine, Limits, VariantSpec};
use timewait_model::{Config, Preset, PropertyId, Verdict};

fn limits(engine: Engine, log2: u8) -> Limits {
    Limits {
        engine,
        bitstate_log2: log2,
        ..Limits::single_threaded()
    }
}

/// One loss, no duplicate: a few hundred thousand states, seconds.
fn base() -> Config {
    Config {
        dup_budget: 0,
        ..Config::default()
    }
}

#[test]
fn a_violation_found_by_bitstate_is_real_and_gets_the_shortest_trace() {
    let v = VariantSpec::preset(Preset::NoTimeWait, &base(), 2).expect("valid");
    let props = [PropertyId::ReliableTerminationReset];
    let exact = check::check_variant(&v, &props, false, &limits(Engine::Fastbfs, 30), &mut |_| {});
    let bits = check::check_variant(
        &v,
        &props,
        false,
        &limits(Engine::Bitstate, 24),
        &mut |_| {},
    );
    assert_eq!(exact[0].verdict, Verdict::Violated);
    assert_eq!(bits[0].verdict, Verdict::Violated);
    let steps = |r: &check::PropertyReport| r.trace.as_ref().map(|t| t.steps.len());
    assert_eq!(steps(&bits[0]), steps(&exact[0]));
    assert!(!bits[0].exhaustive && bits[0].bitstate.is_some());
    assert!(exact[0].exhaustive && exact[0].bitstate.is_none());
}

#[test]
fn a_property_bitstate_does_not_find_is_incomplete_never_holds() {
    let v = VariantSpec::preset(Preset::Rfc1337, &base(), 2).expect("valid");
    let props = [
        PropertyId::NoCrossIncarnationDelivery,
        PropertyId::ReliableTerminationReset,
    ];
    let exact = check::check_variant(&v, &props, false, &limits(Engine::Fastbfs, 30), &mut |_| {});
    // 2^24 bits, about 16 million, for a few hundred thousand states: the
    // estimate says nearly everything was covered, and still no `holds`.
    let bits = check::check_variant(
        &v,
        &props,
        false,
        &limits(Engine::Bitstate, 24),
        &mut |_| {},
    );
    for (e, b) in exact.iter().zip(&bits) {
        assert_eq!(e.verdict, Verdict::Holds, "{}", e.property);
        assert_eq!(b.verdict, Verdict::Incomplete, "{}", b.property);
        let s = b.bitstate.expect("the bit array is reported");
        assert!(s.coverage > 0.99 && s.coverage < 1.0, "{}", s.coverage);
        let note = b.note.as_deref().unwrap_or_default();
        assert!(
            note.contains("not exhaustive") && note.contains("estimated coverage"),
            "{note}"
        );
        // Unless two states collide in the array, it stores what the exact
        // run counts; it can only store fewer.
        assert!(b.unique_states <= e.unique_states);
        assert!(b.unique_states * 100 >= e.unique_states * 99);
    }
    let json = serde_json::to_value(&bits[0]).expect("a report serialises");
    assert_eq!(json["exhaustive"], false);
    assert_eq!(json["engine"], "bitstate");
    assert!(json["bitstate"]["coverage"].as_f64().is_some());
}

#[test]
fn a_crowded_bit_array_reports_a_low_coverage() {
    let v = VariantSpec::preset(Preset::Rfc1337, &base(), 2).expect("valid");
    let r = check::check_variant(
        &v,
        &[PropertyId::NoCrossIncarnationDelivery],
        false,
        &limits(Engine::Bitstate, 16),
        &mut |_| {},
    );
    let s = r[0].bitstate.expect("the bit array is reported");
    assert_eq!(s.bits, 1 << 16);
    assert!(s.fill > 0.9, "{}", s.fill);
    assert!(s.coverage < 0.5, "{}", s.coverage);
    assert_eq!(r[0].verdict, Verdict::Incomplete);
}

fn swarm(runs: usize, states: usize) -> Limits {
    Limits {
        engine: Engine::Swarm,
        swarm_runs: runs,
        swarm_states: states,
        swarm_log2: 22,
        threads: 2,
        ..Limits::single_threaded()
    }
}

#[test]
fn a_violation_a_swarm_finds_is_real_and_names_the_runs_that_found_it() {
    let v = VariantSpec::preset(Preset::NoTimeWait, &base(), 2).expect("valid");
    let props = [PropertyId::ReliableTerminationReset];
    let exact = check::check_variant(&v, &props, false, &limits(Engine::Fastbfs, 30), &mut |_| {});
    let w = check::check_variant(&v, &props, false, &swarm(8, 200_000), &mut |_| {});
    assert_eq!(w[0].verdict, Verdict::Violated);
    let steps = |r: &check::PropertyReport| r.trace.as_ref().map(|t| t.steps.len());
    assert_eq!(steps(&w[0]), steps(&exact[0]), "the BFS's shortest trace");
    assert!(!w[0].exhaustive);
    let s = w[0].swarm.as_ref().expect("the runs are reported");
    assert_eq!(s.runs.len(), 8);
    assert_eq!(
        s.runs.iter().map(|r| r.seed).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<u64>>()
    );
    let note = w[0].note.as_deref().unwrap_or_default();
    assert!(note.contains("runs found it (seeds "), "{note}");
}

#[test]
fn a_property_no_swarm_run_finds_is_incomplete_never_holds() {
    let v = VariantSpec::preset(Preset::Rfc1337, &base(), 2).expect("valid");
    let props = [PropertyId::NoCrossIncarnationDelivery];
    let w = check::check_variant(&v, &props, false, &swarm(4, 50_000), &mut |_| {});
    assert_eq!(w[0].verdict, Verdict::Incomplete);
    let note = w[0].note.as_deref().unwrap_or_default();
    assert!(
        note.contains("swarm search, not exhaustive: 4 randomised"),
        "{note}"
    );
    let json = serde_json::to_value(&w[0]).expect("a report serialises");
    assert_eq!(json["exhaustive"], false);
    assert_eq!(json["swarm"]["runs"].as_array().map(Vec::len), Some(4));
}

#[test]
fn a_capped_exact_run_states_the_steps_within_which_it_checked_every_state() {
    // no-time-wait violates reliable-termination/reset in 6 steps (the
    // verdict table). Capped early, the exact BFS has not reached them.
    let v = VariantSpec::preset(Preset::NoTimeWait, &base(), 2).expect("valid");
    let props = [PropertyId::ReliableTerminationReset];
    let capped = |n| Limits {
        max_states: Some(n),
        ..limits(Engine::Fastbfs, 30)
    };
    let r = &check::check_variant(&v, &props, false, &capped(200), &mut |_| {})[0];
    assert_eq!(r.verdict, Verdict::Incomplete);
    let k = r
        .checked_steps
        .expect("an exact run names the steps it checked");
    assert!(k < 6, "the 6-step violation lies beyond them: {k}");
    let note = r.note.as_deref().unwrap_or_default();
    assert!(
        note.contains(&format!("every state within {k} steps")),
        "{note}"
    );
    let json = serde_json::to_value(r).expect("serialises");
    assert_eq!(json["checked_steps"], k);
    // A cap past the violation's level finds it: then there is nothing
    // bounded to state.
    let found = &check::check_variant(&v, &props, false, &capped(1_000_000), &mut |_| {})[0];
    assert_eq!(found.verdict, Verdict::Violated);
    assert_eq!(found.checked_steps, None);
    // Bitstate may lose states in any level: it never claims a bound.
    let bits = Limits {
        max_states: Some(200),
        ..limits(Engine::Bitstate, 24)
    };
    let b = &check::check_variant(&v, &props, false, &bits, &mut |_| {})[0];
    assert_eq!(b.verdict, Verdict::Incomplete);
    assert_eq!(b.checked_steps, None);
}
