//! Speed not bought by missing states: on every preset, at configurations
//! stateright's BFS finishes in a moment, the fastbfs engine discovers the
//! same properties, and where the exploration is exhaustive (some property
//! of the group is never discovered) it counts the same unique states, the
//! same generated states and the same depth. Where every property of a
//! group is discovered both engines stop early, at different places: fastbfs
//! at the end of the level holding the last first discovery, stateright
//! after the block of states in which it saw it; there only the verdicts and
//! the order of the depths are pinned.

use stateright::{Checker, Model};
use timewait_model::check::{self, Engine, Limits, VariantSpec};
use timewait_model::fastbfs::{self, Options, Stop};
use timewait_model::{Config, Preset, PropertyId, TeardownModel};

/// The `always` properties, then the witnesses: the groups `check` explores.
fn groups() -> [Vec<PropertyId>; 2] {
    let (w, a): (Vec<_>, Vec<_>) = PropertyId::ALL.iter().partition(|p| p.is_witness());
    [a, w]
}

/// fastbfs on `model`, two threads, no limit.
fn exhaust(model: &TeardownModel) -> fastbfs::Report {
    let opts = Options {
        threads: 2,
        store: Default::default(),
        frontier_memory: None,
        max_states: None,
        timeout: None,
    };
    fastbfs::explore(
        model,
        &opts,
        std::time::Duration::from_secs(3600),
        &mut |_| {},
    )
    .expect("always and sometimes properties only")
}

/// Both engines on one group; panics saying where they differ.
fn agree(p: Preset, base: &Config, group: &[PropertyId]) -> fastbfs::Report {
    let v = VariantSpec::preset(p, base, base.msl).expect("valid parameters");
    let model = TeardownModel::new(v.cfg.clone(), group.to_vec());
    let ours = exhaust(&model);
    // One thread: stateright's BFS is then exactly breadth-first, so the
    // depth of an early stop is comparable.
    let theirs = model.checker().threads(1).spawn_bfs().join();
    let what = format!(
        "{} loss {} dup {} inc {}, group {:?}",
        p.name(),
        base.loss_budget,
        base.dup_budget,
        base.incarnations,
        group.iter().map(|p| p.name()).collect::<Vec<_>>()
    );
    let mut theirs_found: Vec<&str> = group
        .iter()
        .map(|p| p.name())
        .filter(|n| theirs.discovery(n).is_some())
        .collect();
    theirs_found.sort_unstable();
    let mut ours_found = ours.discovered.clone();
    ours_found.sort_unstable();
    assert_eq!(ours_found, theirs_found, "discoveries differ: {what}");
    if ours.stop.is_none() {
        assert!(ours_found.len() < group.len(), "{what}");
        assert_eq!(
            ours.counts.unique,
            theirs.unique_state_count(),
            "unique states: {what}"
        );
        assert_eq!(
            ours.counts.states,
            theirs.state_count(),
            "generated states: {what}"
        );
        assert_eq!(ours.counts.max_depth, theirs.max_depth(), "depth: {what}");
    } else {
        assert_eq!(ours.stop, Some(Stop::AllDiscovered), "{what}");
        assert_eq!(ours_found.len(), group.len(), "{what}");
        // stateright had to reach the level of the last first discovery too.
        assert!(
            ours.counts.max_depth <= theirs.max_depth(),
            "fastbfs stopped at depth {}, stateright at {}: {what}",
            ours.counts.max_depth,
            theirs.max_depth()
        );
    }
    ours
}

/// Both engines on both groups of each of `presets`; the number of
/// exhaustive runs, where the counts were compared.
fn presets_agree(presets: &[Preset], base: Config) -> usize {
    let mut exhaustive = 0;
    for &p in presets {
        for g in groups() {
            if agree(p, &base, &g).stop.is_none() {
                exhaustive += 1;
            }
        }
    }
    // Every preset's `always` group has a property that holds (at least
    // one of no-half-open, ends-agree, reliable-termination/timeout), so each
    // preset compared counts at least once.
    assert!(
        exhaustive >= presets.len(),
        "only {exhaustive} exhaustive runs"
    );
    exhaustive
}

// One incarnation with one loss and one duplicate: about 3 million unique
// states over all presets, in two tests of about 20 s each.
#[test]
fn the_first_presets_agree_with_one_incarnation_one_loss_and_one_duplicate() {
    presets_agree(
        &Preset::ALL[..7],
        Config {
            incarnations: 1,
            ..Config::default()
        },
    );
}

#[test]
fn the_other_presets_agree_with_one_incarnation_one_loss_and_one_duplicate() {
    presets_agree(
        &Preset::ALL[7..],
        Config {
            incarnations: 1,
            ..Config::default()
        },
    );
}

/// Two incarnations without faults, on the presets under half a million
/// unique states per group (about 3 million in all; the five others,
/// linux-msl120, linux-timestamps, no-time-wait, linux-tw-reuse and
/// syn-reopens-time-wait-unchecked, add 4 million more and 20 s).
#[test]
fn most_presets_agree_with_two_incarnations_without_faults() {
    let big = [
        Preset::LinuxMsl120,
        Preset::LinuxTimestamps,
        Preset::NoTimeWait,
        Preset::LinuxTwReuse,
        Preset::SynReopensTimeWaitUnchecked,
    ];
    let presets: Vec<Preset> = Preset::ALL
        .into_iter()
        .filter(|p| !big.contains(p))
        .collect();
    presets_agree(
        &presets,
        Config {
            loss_budget: 0,
            dup_budget: 0,
            ..Config::default()
        },
    );
}

/// The presets whose two-incarnation space with one fault is small (the
/// others are 0.5 to 12 million unique states per group).
#[test]
fn small_presets_agree_with_two_incarnations_and_one_loss() {
    presets_agree(
        &[
            Preset::Rfc1337,
            Preset::LinuxRfc1337,
            Preset::ShortTimeWait,
            Preset::TimeWaitRestartFinOnly,
        ],
        Config {
            dup_budget: 0,
            ..Config::default()
        },
    );
}

#[test]
fn rfc1337_agrees_with_two_incarnations_and_one_duplicate() {
    presets_agree(
        &[Preset::Rfc1337],
        Config {
            loss_budget: 0,
            ..Config::default()
        },
    );
}

/// The defaults (1 loss, 1 duplicate) on the preset the report leads with.
#[test]
fn rfc1337_agrees_at_the_defaults() {
    let r = agree(Preset::Rfc1337, &Config::default(), &groups()[0]);
    assert_eq!(r.stop, None, "every always property holds under rfc1337");
    assert_eq!(
        r.counts.unique, 1_338_896,
        "the figure timewait check prints"
    );
}

/// The `always` group does not read the retransmission marks, so its search
/// drops them (`Observe::rexmit`): a retransmission and an identical segment
/// sent otherwise become one state. With the marks kept the count is the
/// one before the reduction (1,435,788), and on every preset the reduction
/// changes no discovery and only ever removes states.
#[test]
fn dropping_the_retransmission_marks_keeps_every_discovery_and_only_removes_states() {
    let small = Config {
        dup_budget: 0,
        ..Config::default()
    };
    // The defaults where the report leads, and one loss only on presets with
    // each TIME-WAIT rule (every preset takes a minute: CI runs these).
    let others = [
        Preset::Rfc9293,
        Preset::NoTimeWait,
        Preset::LinuxTimestamps,
        Preset::TimeWaitRestartFinOnly,
        Preset::Rfc6191,
    ];
    for (p, base) in [(Preset::Rfc1337, Config::default())]
        .into_iter()
        .chain(others.into_iter().map(|p| (p, small.clone())))
    {
        let v = VariantSpec::preset(p, &base, base.msl).expect("valid parameters");
        let reduced = TeardownModel::new(v.cfg.clone(), groups()[0].clone());
        assert!(!reduced.observe.rexmit);
        let mut marked = reduced.clone();
        marked.observe.rexmit = true;
        let (r, m) = (exhaust(&reduced), exhaust(&marked));
        let what = format!("{} dup {}", p.name(), base.dup_budget);
        let sorted = |mut d: Vec<&'static str>| {
            d.sort_unstable();
            d
        };
        assert_eq!(
            sorted(r.discovered.clone()),
            sorted(m.discovered.clone()),
            "{what}"
        );
        if r.stop.is_none() && m.stop.is_none() {
            assert!(r.counts.unique <= m.counts.unique, "{what}");
        }
        if p == Preset::Rfc1337 && base.dup_budget == 1 {
            assert_eq!(m.counts.unique, 1_435_788, "the count before the reduction");
            assert_eq!(r.counts.unique, 1_338_896);
        }
    }
}

/// Through `check`: the engine is named in the report, and the verdicts,
/// traces and counts of an exhaustive group are the same with either.
#[test]
fn check_reports_the_same_with_either_engine() {
    let base = Config {
        loss_budget: 1,
        dup_budget: 0,
        ..Config::default()
    };
    let v = VariantSpec::preset(Preset::NoTimeWait, &base, base.msl).expect("valid");
    // The reset is violated, the timeout holds: the exploration is
    // exhaustive, so the counts are comparable.
    let props = [
        PropertyId::ReliableTerminationReset,
        PropertyId::ReliableTerminationTimeout,
    ];
    let run = |engine| {
        let limits = Limits {
            engine,
            ..Limits::single_threaded()
        };
        check::check_variant(&v, &props, false, &limits, &mut |_| {})
    };
    let (fast, slow) = (run(Engine::Fastbfs), run(Engine::Stateright));
    for (f, s) in fast.iter().zip(&slow) {
        assert_eq!(f.engine, "fastbfs");
        assert_eq!(s.engine, "stateright");
        assert_eq!(f.verdict, s.verdict, "{}", f.property);
        assert_eq!(f.unique_states, s.unique_states, "{}", f.property);
        assert_eq!(f.states, s.states, "{}", f.property);
        let steps = |r: &check::PropertyReport| r.trace.as_ref().map(|t| t.steps.len());
        assert_eq!(steps(f), steps(s), "{}", f.property);
    }
    assert_eq!(
        fast[0].verdict,
        timewait_model::Verdict::Violated,
        "no TIME-WAIT: a lost last ACK draws a reset"
    );
    assert_eq!(fast[1].verdict, timewait_model::Verdict::Holds);
}
