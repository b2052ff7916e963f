//! The default ISN sets against every ISN for both sides. At the default
//! parameters every ISN for both sides does not fit a test (rfc1337 alone is
//! 56 million states, 8 minutes; README, "Worst-case ISNs"), so these tests
//! pin the comparison where it fits, on the variant where a smaller set
//! once hid a violation.

use timewait_model::check::{self, Limits, VariantSpec};
use timewait_model::isn_cover::{self, with_every_isn};
use timewait_model::{Config, Preset, PropertyId, Verdict, DEFAULT_ISNS, DEFAULT_LISTENER_ISNS};

/// No loss, no duplicate: reordering and delay only.
fn fault_free(p: Preset, isns: &[u32]) -> VariantSpec {
    let base = Config {
        loss_budget: 0,
        dup_budget: 0,
        isns: isns.to_vec(),
        ..Config::default()
    };
    VariantSpec::preset(p, &base, base.msl).expect("valid parameters")
}

fn verdicts(v: &VariantSpec) -> Vec<(PropertyId, Verdict)> {
    check::verdicts(v, &PropertyId::ALL, &Limits::single_threaded(), &mut |_| {}).by_property
}

/// One exploration with every ISN (about 7 million states) serves both
/// comparisons.
#[test]
fn under_freebsds_restart_rule_the_default_isns_find_what_every_isn_finds_and_three_miss_it() {
    let c = isn_cover::compare(
        &fault_free(Preset::TimeWaitRestartFinOnly, &[0, 4, 12]),
        &PropertyId::ALL,
        &Limits::single_threaded(),
        &mut |_| {},
    )
    .expect("16 ISNs fit");
    assert!(c.exhaustive());
    // Without the ISNs just below the old RCV.NXT (1 to 3), the old RST
    // never lands exactly on the new RCV.NXT (RFC 5961's exact test): the
    // violation, and the two end states it leaves, are missed. The reason
    // the default set has them.
    assert_eq!(
        c.differences(),
        vec![
            (
                PropertyId::NoCrossIncarnationDelivery,
                Verdict::Holds,
                Verdict::Violated
            ),
            (PropertyId::BothClosed, Verdict::Holds, Verdict::Violated),
            (PropertyId::NoHalfOpen, Verdict::Holds, Verdict::Violated),
        ]
    );
    let listed = fault_free(Preset::TimeWaitRestartFinOnly, &DEFAULT_ISNS);
    assert_eq!(verdicts(&listed), c.every.by_property);
}

#[test]
fn the_default_isns_avoid_half_the_space_and_the_listener_reuses_the_old_iss() {
    let cfg = Config::default();
    let half = (cfg.seq_space / 2) as u32;
    for &isn in &DEFAULT_ISNS {
        // RFC 1982: a number exactly half the space away from the old
        // numbers (0 to 3) is neither before nor after them.
        assert!((0..4).all(|old| (isn + cfg.seq_space as u32 - old) % cfg.seq_space as u32 != half));
    }
    assert_eq!(DEFAULT_LISTENER_ISNS, [timewait_model::FIRST_ISS]);
    assert_eq!(cfg.isns, DEFAULT_ISNS);
}

#[test]
fn every_isn_is_refused_for_a_space_larger_than_the_isn_lists() {
    let base = Config {
        seq_space: 64,
        window: 4,
        ..Config::default()
    };
    let v = VariantSpec::preset(Preset::Rfc1337, &base, base.msl).expect("valid");
    assert!(with_every_isn(&v).is_err());
}
