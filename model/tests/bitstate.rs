//! `check --engine bitstate`: what a non-exhaustive search may and may not
//! claim. A violation it finds is real and gets the shortest counterexample
//! of the exhaustive BFS; a property it does not find is `incomplete`,
//! never `holds`, and every report says the run was not exhaustive and how
//! much it is estimated to have covered.

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
    let bits = check::check_variant(&v, &props, false, &limits(Engine::Bitstate, 24), &mut |_| {});
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
    let bits = check::check_variant(&v, &props, false, &limits(Engine::Bitstate, 24), &mut |_| {});
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
