//! Running the checks: one exploration per group of properties (by default
//! [`crate::fastbfs`]'s BFS; stateright's BFS with [`Engine::Stateright`];
//! the non-exhaustive [`Engine::Bitstate`] and [`Engine::Swarm`], whose
//! undiscovered properties stay `incomplete`), the shortest trace for each
//! discovery, the cycle check behind `both-closed`, and the statistics the
//! CLI and reports print.

use crate::config::{Config, ConfigError};
use crate::fastbfs;
use crate::properties::{PropertyId, Verdict};
use crate::search::{self, Budget, Outcome};
use crate::system::TeardownModel;
use crate::trace::{unreduce, Trace, TraceKind};
use crate::variant::Preset;
use serde::Serialize;
use stateright::{Checker, Expectation, Model};
use std::time::{Duration, Instant};

/// The search that explores a group of properties. Both give the same
/// verdicts, and the same counts whenever the exploration is exhaustive
/// (`model/tests/engine_agrees.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// [`crate::fastbfs`]: a level-synchronous parallel BFS keeping 64-bit
    /// fingerprints and two levels of states.
    #[default]
    Fastbfs,
    /// stateright 0.31's BFS (`spawn_bfs`), which keeps every state.
    Stateright,
    /// [`crate::fastbfs`] with Holzmann's bitstate hashing in place of the
    /// exact visited set ([`fastbfs::Store::Bitstate`]): fixed memory, not
    /// exhaustive. A discovery is real; a property not discovered is
    /// `incomplete`, with the estimated coverage in the note.
    Bitstate,
    /// [`crate::swarm`]: many randomised depth-first runs, each with its
    /// own seed, action order and small bit array. Not exhaustive, like
    /// `Bitstate`.
    Swarm,
}

impl Engine {
    pub const ALL: [Engine; 4] = [
        Engine::Fastbfs,
        Engine::Stateright,
        Engine::Bitstate,
        Engine::Swarm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Fastbfs => "fastbfs",
            Engine::Stateright => "stateright",
            Engine::Bitstate => "bitstate",
            Engine::Swarm => "swarm",
        }
    }

    /// Whether a run that no limit stopped explores every reachable state.
    pub fn exhaustive(self) -> bool {
        matches!(self, Engine::Fastbfs | Engine::Stateright)
    }

    pub fn from_name(s: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == s)
    }
}

/// Limits on one check.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Stop after about this many generated states (either engine may
    /// overshoot by a block of states).
    pub max_states: Option<usize>,
    pub timeout: Option<Duration>,
    pub threads: usize,
    pub engine: Engine,
    /// The bit array of [`Engine::Bitstate`]: 2^`bitstate_log2` bits.
    pub bitstate_log2: u8,
    /// Bits set per state under [`Engine::Bitstate`].
    pub bitstate_hashes: u8,
    /// Bytes of encoded states fastbfs keeps in memory per pair of levels
    /// before it writes further chunks to a temporary file; `None` for no
    /// limit.
    pub frontier_memory: Option<usize>,
    /// [`Engine::Swarm`]: how many runs, how many generated states each,
    /// each run's bit array (2^`swarm_log2` bits) and the first seed.
    pub swarm_runs: usize,
    pub swarm_states: usize,
    pub swarm_log2: u8,
    pub swarm_seed: u64,
}

/// The default frontier in memory: 1 GiB, about 15 million encoded states.
/// The default configurations' widest levels take a few MB; three
/// incarnations with faults take several GiB.
pub const DEFAULT_FRONTIER_MEMORY: usize = 1 << 30;

/// The default bit array: 2^33 bits, 1 GiB, about 60 bits per state at
/// 150 million states.
pub const DEFAULT_BITSTATE_LOG2: u8 = 33;
/// The default bits per state: three, where Holzmann's analysis puts the
/// best coverage for hash factors of tens to hundreds.
pub const DEFAULT_BITSTATE_HASHES: u8 = 3;

/// The default cap on generated states: about 90 seconds of fastbfs on 2
/// cores (about 45 million unique states, 1 GB). It was set for
/// stateright's BFS, which needs about 24 GiB for that many; it stays so
/// that an unintended large configuration ends in minutes with an
/// `incomplete` verdict, and `--max-states 0` lifts it.
pub const DEFAULT_MAX_STATES: usize = 150_000_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_states: Some(DEFAULT_MAX_STATES),
            timeout: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            engine: Engine::default(),
            bitstate_log2: DEFAULT_BITSTATE_LOG2,
            bitstate_hashes: DEFAULT_BITSTATE_HASHES,
            frontier_memory: Some(DEFAULT_FRONTIER_MEMORY),
            swarm_runs: 32,
            swarm_states: 2_000_000,
            // 16 MiB per run: 64 bits per state at the default run length.
            swarm_log2: 27,
            swarm_seed: 1,
        }
    }
}

impl Limits {
    /// The defaults on one thread, for callers that already run checks side
    /// by side (libtest runs a crate's tests on every core). Stateright's
    /// threads then only add contention: on two cores, a table test took
    /// about a third more CPU time with two threads than with one, for the
    /// same wall time.
    pub fn single_threaded() -> Self {
        Limits {
            threads: 1,
            ..Limits::default()
        }
    }
}

/// A progress report of a running check.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    pub variant: &'a str,
    pub property: PropertyId,
    pub phase: &'static str,
    pub states: usize,
    pub unique_states: usize,
    pub max_depth: usize,
    pub elapsed: Duration,
}

/// A variant to check: a preset name (or "custom") and its configuration.
#[derive(Clone, Debug)]
pub struct VariantSpec {
    pub name: String,
    pub preset: Option<Preset>,
    pub cfg: Config,
}

impl VariantSpec {
    pub fn preset(p: Preset, base: &Config, short_ticks: u8) -> Result<Self, ConfigError> {
        let cfg = Config {
            behaviour: p.behaviour(short_ticks),
            ..base.clone()
        };
        cfg.validate()?;
        Ok(VariantSpec {
            name: p.name().to_string(),
            preset: Some(p),
            cfg,
        })
    }
}

/// The result of checking one property of one variant.
#[derive(Clone, Debug, Serialize)]
pub struct PropertyReport {
    pub variant: String,
    pub property: &'static str,
    pub verdict: Verdict,
    /// The verdict the RFC reasoning predicts, when the variant is a preset
    /// run with the default configuration.
    pub expected: Option<Verdict>,
    pub unique_states: usize,
    pub states: usize,
    pub max_depth: usize,
    pub seconds: f64,
    pub states_per_second: f64,
    /// The engine that explored the states (`fastbfs`, `stateright` or
    /// `bitstate`).
    pub engine: &'static str,
    /// Whether the exploration covered every reachable state. False under
    /// `bitstate` and when a limit stopped the run; a verdict that rests on
    /// a property not being found is then `incomplete`.
    pub exhaustive: bool,
    /// The bit array of a `bitstate` run.
    pub bitstate: Option<BitstateSummary>,
    /// The runs of a `swarm` search.
    pub swarm: Option<SwarmSummary>,
    /// The birthday bound on the probability that two of the unique states
    /// shared a 64-bit fingerprint and one was never explored (both engines
    /// identify states by fingerprint): unique^2 / 2^65.
    pub collision_probability: f64,
    /// For an `incomplete` verdict of an exact BFS that a limit stopped: the
    /// number of steps from the start within which every reachable state was
    /// checked, so that the property holds (or has no witness) for every
    /// behaviour of at most that many steps. `None` otherwise.
    pub checked_steps: Option<usize>,
    /// Why the verdict is incomplete, or what else the check did.
    pub note: Option<String>,
    pub trace: Option<Trace>,
}

impl PropertyReport {
    pub fn as_expected(&self) -> bool {
        self.expected.is_none_or(|e| e == self.verdict)
    }
}

/// The bit array of a bitstate run, as reports print it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BitstateSummary {
    pub bits: u64,
    pub hashes: u8,
    /// The fraction of bits set at the end.
    pub fill: f64,
    /// Bits per stored state (Holzmann's hash factor).
    pub hash_factor: f64,
    /// The estimated fraction of reachable states explored
    /// ([`fastbfs::Bitstate::coverage`]).
    pub coverage: f64,
}

impl BitstateSummary {
    fn of(b: &fastbfs::Bitstate) -> Self {
        BitstateSummary {
            bits: b.bits(),
            hashes: b.hashes,
            fill: b.fill(),
            hash_factor: b.hash_factor(),
            coverage: b.coverage(),
        }
    }

    /// One line for notes and footers.
    pub fn describe(&self) -> String {
        format!(
            "bitstate search, not exhaustive: {} MiB of bits, {} hash(es) per state, {:.1}% set, {:.0} bits per state, estimated coverage {:.4}%",
            self.bits / 8 / (1 << 20),
            self.hashes,
            self.fill * 100.0,
            self.hash_factor,
            self.coverage * 100.0
        )
    }
}

/// A swarm search, as reports give it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SwarmSummary {
    pub runs: Vec<crate::swarm::Run>,
    pub states_per_run: usize,
    pub bits_per_run: u64,
    /// The timeout stopped it before every run was started.
    pub timed_out: bool,
}

impl SwarmSummary {
    /// One line for notes and footers; `property` names the runs that
    /// found it.
    pub fn describe(&self, property: Option<&str>) -> String {
        let seeds = |rs: &[crate::swarm::Run]| match (rs.first(), rs.last()) {
            (Some(a), Some(b)) => format!("seeds {} to {}", a.seed, b.seed),
            _ => "no run".to_string(),
        };
        let total: usize = self.runs.iter().map(|r| r.states).sum();
        let mut s = format!(
            "swarm search, not exhaustive: {} randomised depth-first runs ({}), up to {} generated states each, {} in all, {} MiB of bits each",
            self.runs.len(),
            seeds(&self.runs),
            self.states_per_run,
            total,
            self.bits_per_run / 8 / (1 << 20)
        );
        if let Some(p) = property {
            let by: Vec<String> = self
                .runs
                .iter()
                .filter(|r| r.discovered.contains(&p))
                .map(|r| r.seed.to_string())
                .collect();
            s.push_str(&format!(
                "; {} of {} runs found it{}",
                by.len(),
                self.runs.len(),
                if by.is_empty() {
                    String::new()
                } else {
                    format!(" (seeds {})", by.join(", "))
                }
            ));
        }
        if self.timed_out {
            s.push_str("; the timeout stopped it before every run started");
        }
        s
    }
}

/// What one exploration of a group of properties found.
struct GroupRun {
    engine: Engine,
    bitstate: Option<BitstateSummary>,
    swarm: Option<SwarmSummary>,
    discovered: Vec<PropertyId>,
    states: usize,
    unique: usize,
    depth: usize,
    seconds: f64,
    hit_limit: bool,
    /// An exact BFS that a limit stopped: the steps from the start within
    /// which it checked every state (its complete levels less one).
    checked_steps: Option<usize>,
}

impl GroupRun {
    fn exhaustive(&self) -> bool {
        self.engine.exhaustive() && !self.hit_limit
    }

    /// The verdict of `p`, one of the run's properties, from what the run
    /// discovered (before any cycle check).
    fn verdict(&self, p: PropertyId) -> Verdict {
        match (self.discovered.contains(&p), p.expectation()) {
            (true, Expectation::Always) => Verdict::Violated,
            (true, _) => Verdict::Holds,
            (false, _) if !self.exhaustive() => Verdict::Incomplete,
            (false, Expectation::Always) => Verdict::Holds,
            (false, _) => Verdict::Violated,
        }
    }
}

/// The properties in the groups that share an exploration: the `always`
/// ones, then the witnesses; empty groups left out.
fn groups(properties: &[PropertyId]) -> Vec<Vec<PropertyId>> {
    [false, true]
        .into_iter()
        .map(|witnesses| {
            properties
                .iter()
                .copied()
                .filter(|p| p.is_witness() == witnesses)
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

/// One exploration checking `group` together, with the engine `limits`
/// names. The properties of a group share one exploration: for `always`
/// properties that hold (the expensive case) the state space is the same
/// whichever of them is checked.
fn run_group(
    variant: &VariantSpec,
    group: &[PropertyId],
    limits: &Limits,
    progress: &mut dyn FnMut(&Progress),
) -> GroupRun {
    match limits.engine {
        Engine::Fastbfs | Engine::Bitstate => run_group_fastbfs(variant, group, limits, progress),
        Engine::Stateright => run_group_stateright(variant, group, limits, progress),
        Engine::Swarm => run_group_swarm(variant, group, limits, progress),
    }
}

/// Why the engines' errors cannot happen for the teardown model: the CLI
/// checks the bit array's size, and engine_agrees.rs shows its states
/// round-trip through the encoding.
const CANNOT_FAIL: &str = "the teardown model has only `always` and `sometimes` properties, fewer than 64, states that round-trip through postcard, and a bit array the CLI checked";

/// The properties of `group` whose names an engine reported discovered.
fn discovered_in(group: &[PropertyId], names: &[&str]) -> Vec<PropertyId> {
    group
        .iter()
        .copied()
        .filter(|p| names.contains(&p.name()))
        .collect()
}

fn run_group_fastbfs(
    variant: &VariantSpec,
    group: &[PropertyId],
    limits: &Limits,
    progress: &mut dyn FnMut(&Progress),
) -> GroupRun {
    let model = TeardownModel::new(variant.cfg.clone(), group.to_vec());
    let store = match limits.engine {
        Engine::Bitstate => fastbfs::Store::Bitstate {
            log2_bits: limits.bitstate_log2,
            hashes: limits.bitstate_hashes,
        },
        _ => fastbfs::Store::Exact,
    };
    let opts = fastbfs::Options {
        threads: limits.threads.max(1),
        store,
        frontier_memory: limits.frontier_memory,
        max_states: limits.max_states,
        timeout: limits.timeout,
    };
    let start = Instant::now();
    let mut report = |c: &fastbfs::Counts| {
        progress(&Progress {
            variant: &variant.name,
            property: group[0],
            phase: "bfs",
            states: c.states,
            unique_states: c.unique,
            max_depth: c.max_depth,
            elapsed: start.elapsed(),
        })
    };
    let r =
        fastbfs::explore(&model, &opts, Duration::from_secs(2), &mut report).expect(CANNOT_FAIL);
    GroupRun {
        engine: limits.engine,
        bitstate: r.bitstate.as_ref().map(BitstateSummary::of),
        swarm: None,
        discovered: discovered_in(group, &r.discovered),
        states: r.counts.states,
        unique: r.counts.unique,
        depth: r.counts.max_depth,
        seconds: r.seconds,
        hit_limit: r.hit_limit(),
        // Only an exact store: a bitstate level may have lost states to
        // collisions however complete it is.
        checked_steps: (r.hit_limit() && r.bitstate.is_none())
            .then(|| r.complete_levels.checked_sub(1))
            .flatten(),
    }
}

fn run_group_swarm(
    variant: &VariantSpec,
    group: &[PropertyId],
    limits: &Limits,
    progress: &mut dyn FnMut(&Progress),
) -> GroupRun {
    let model = TeardownModel::new(variant.cfg.clone(), group.to_vec());
    let opts = crate::swarm::Options {
        runs: limits.swarm_runs.max(1),
        threads: limits.threads.max(1),
        states_per_run: limits.swarm_states.max(1),
        log2_bits: limits.swarm_log2,
        seed: limits.swarm_seed,
        timeout: limits.timeout,
    };
    let start = Instant::now();
    let mut report = |p: &crate::swarm::Progress| {
        progress(&Progress {
            variant: &variant.name,
            property: group[0],
            phase: "swarm (finished runs)",
            states: p.states,
            unique_states: p.stored,
            max_depth: p.max_depth,
            elapsed: start.elapsed(),
        })
    };
    let r =
        crate::swarm::swarm(&model, &opts, Duration::from_secs(2), &mut report).expect(CANNOT_FAIL);
    GroupRun {
        engine: Engine::Swarm,
        bitstate: None,
        discovered: discovered_in(group, &r.discovered),
        states: r.states,
        unique: r.runs.iter().map(|x| x.stored).sum(),
        depth: r.runs.iter().map(|x| x.max_depth).max().unwrap_or(0),
        seconds: r.seconds,
        hit_limit: r.timed_out,
        checked_steps: None,
        swarm: Some(SwarmSummary {
            runs: r.runs,
            states_per_run: opts.states_per_run,
            bits_per_run: 1 << opts.log2_bits,
            timed_out: r.timed_out,
        }),
    }
}

/// stateright's own BFS, as `timewait check` ran before [`crate::fastbfs`].
fn run_group_stateright(
    variant: &VariantSpec,
    group: &[PropertyId],
    limits: &Limits,
    progress: &mut dyn FnMut(&Progress),
) -> GroupRun {
    let model = TeardownModel::new(variant.cfg.clone(), group.to_vec());
    let start = Instant::now();
    let mut builder = model.checker().threads(limits.threads.max(1));
    if let Some(m) = limits.max_states {
        builder = builder.target_state_count(m);
    }
    if let Some(t) = limits.timeout {
        builder = builder.timeout(t);
    }
    let checker = builder.spawn_bfs();
    let mut last_report = Instant::now();
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(20));
        if last_report.elapsed() >= Duration::from_secs(2) {
            last_report = Instant::now();
            progress(&Progress {
                variant: &variant.name,
                property: group[0],
                phase: "bfs",
                states: checker.state_count(),
                unique_states: checker.unique_state_count(),
                max_depth: checker.max_depth(),
                elapsed: start.elapsed(),
            });
        }
    }
    let checker = checker.join();
    let states = checker.state_count();
    let discovered = group
        .iter()
        .copied()
        .filter(|p| checker.discovery(p.name()).is_some())
        .collect();
    GroupRun {
        engine: Engine::Stateright,
        bitstate: None,
        swarm: None,
        discovered,
        states,
        unique: checker.unique_state_count(),
        depth: checker.max_depth(),
        seconds: start.elapsed().as_secs_f64(),
        hit_limit: limits.max_states.is_some_and(|m| states >= m)
            || limits.timeout.is_some_and(|t| start.elapsed() >= t),
        // stateright's BFS runs its levels on several threads at once: it
        // names no level that it finished.
        checked_steps: None,
    }
}

fn budget(limits: &Limits) -> Budget {
    Budget {
        max_states: limits.max_states,
        deadline: limits.timeout.map(|t| Instant::now() + t),
    }
}

/// The verdict, trace and cycle check of one property, given its group's run.
fn conclude(
    variant: &VariantSpec,
    property: PropertyId,
    expected: Option<Verdict>,
    run: &GroupRun,
    group_size: usize,
    limits: &Limits,
    progress: &mut dyn FnMut(&Progress),
) -> PropertyReport {
    let start = Instant::now();
    // Only this property's ghost events: its shortest trace is not lengthened
    // or multiplied by other properties' latches.
    let model = TeardownModel::new(variant.cfg.clone(), vec![property]);
    let discovered = run.discovered.contains(&property);
    let mut note = (group_size > 1).then(|| {
        format!(
            "explored together with the other {} properties of its kind; the counts are that run's",
            group_size - 1
        )
    });
    let mut trace = None;
    let mut verdict = run.verdict(property);
    if verdict == Verdict::Incomplete {
        note = Some(match (&run.bitstate, &run.swarm) {
            (Some(b), _) if !run.hit_limit => format!("not found by a {}", b.describe()),
            (_, Some(w)) => format!("not found by a {}", w.describe(None)),
            _ => match run.checked_steps {
                Some(k) => format!(
                    "stopped at a limit after {} states: not exhaustive, but every state within {k} steps of the start was checked and {}{}",
                    run.states,
                    if property.is_witness() { "none is a witness" } else { "none violates it" },
                    if property == PropertyId::BothClosed {
                        " (that behaviours are finite needs the cycle check, which runs only after an exhaustive run)"
                    } else {
                        ""
                    }
                ),
                None => format!(
                    "stopped at a limit after {} states: the result is not exhaustive",
                    run.states
                ),
            },
        });
    }
    if discovered {
        let kind = if property.is_witness() {
            TraceKind::Witness
        } else {
            TraceKind::Counterexample
        };
        let goal = |s: &_| property.is_discovery(&model, s);
        match search::shortest_discovery(&model, goal, budget(limits)) {
            Outcome::Found(f) => {
                let f = unreduce(&model, f);
                trace = Some(Trace::new(&model, property, kind, f, None))
            }
            // The BFS cannot miss what stateright found; only a limit stops it.
            _ => note = Some("no shortest trace: the trace search hit a limit".to_string()),
        }
    }
    if let (true, Some(w)) = (discovered, &run.swarm) {
        let found = format!("found by a {}", w.describe(Some(property.name())));
        note = Some(match note {
            Some(n) => format!("{n}; {found}"),
            None => found,
        });
    }
    if property == PropertyId::BothClosed && verdict == Verdict::Holds {
        progress(&Progress {
            variant: &variant.name,
            property,
            phase: "cycle check",
            states: run.states,
            unique_states: run.unique,
            max_depth: run.depth,
            elapsed: Duration::from_secs_f64(run.seconds),
        });
        match search::find_cycle(&model, budget(limits)) {
            Outcome::Found(l) => {
                verdict = Verdict::Violated;
                trace = Some(Trace::new(
                    &model,
                    property,
                    TraceKind::Lasso,
                    unreduce(&model, l.path),
                    Some(l.cycle_len),
                ));
            }
            Outcome::NotFound { states: n } => {
                note = Some(format!(
                    "every quiescent state is closed, and a DFS over {n} states found no cycle, so every behaviour ends in one"
                ));
            }
            Outcome::Cut(_) => {
                verdict = Verdict::Incomplete;
                note = Some("the cycle check hit a limit: termination is not proven".to_string());
            }
        }
    }
    let seconds = run.seconds + start.elapsed().as_secs_f64();
    PropertyReport {
        variant: variant.name.clone(),
        property: property.name(),
        verdict,
        expected,
        unique_states: run.unique,
        states: run.states,
        max_depth: run.depth,
        seconds,
        states_per_second: run.states as f64 / run.seconds.max(1e-9),
        engine: run.engine.name(),
        exhaustive: run.exhaustive(),
        bitstate: run.bitstate,
        swarm: run.swarm.clone(),
        collision_probability: fastbfs::collision_bound(run.unique),
        checked_steps: (verdict == Verdict::Incomplete)
            .then_some(run.checked_steps)
            .flatten(),
        note,
        trace,
    }
}

/// Checks one property of one variant on its own.
pub fn check_property(
    variant: &VariantSpec,
    property: PropertyId,
    expected: Option<Verdict>,
    limits: &Limits,
    progress: &mut dyn FnMut(&Progress),
) -> PropertyReport {
    let run = run_group(variant, &[property], limits, progress);
    conclude(variant, property, expected, &run, 1, limits, progress)
}

/// Checks every listed property of `variant`: the `always` properties in one
/// exploration, the witnesses in another.
pub fn check_variant(
    variant: &VariantSpec,
    properties: &[PropertyId],
    with_expectations: bool,
    limits: &Limits,
    progress: &mut dyn FnMut(&Progress),
) -> Vec<PropertyReport> {
    let expected = |p: PropertyId| match (with_expectations, variant.preset) {
        (true, Some(preset)) => Some(p.expected(preset)),
        _ => None,
    };
    let mut reports = Vec::new();
    for group in groups(properties) {
        let run = run_group(variant, &group, limits, progress);
        for &p in &group {
            reports.push(conclude(
                variant,
                p,
                expected(p),
                &run,
                group.len(),
                limits,
                progress,
            ));
        }
    }
    // Report in the order asked for.
    reports.sort_by_key(|r| {
        properties
            .iter()
            .position(|p| p.name() == r.property)
            .unwrap_or(usize::MAX)
    });
    reports
}

/// The verdict of each listed property of `variant`, without traces: the
/// group explorations and, when `both-closed` survives them, the cycle check
/// that completes it. What comparisons of configurations need, at a fraction
/// of [`check_variant`]'s memory (no shortest-trace searches).
pub fn verdicts(
    variant: &VariantSpec,
    properties: &[PropertyId],
    limits: &Limits,
    progress: &mut dyn FnMut(&Progress),
) -> Verdicts {
    let mut out = Verdicts::default();
    for group in groups(properties) {
        let run = run_group(variant, &group, limits, progress);
        out.unique_states += run.unique;
        out.seconds += run.seconds;
        for &p in &group {
            let mut verdict = run.verdict(p);
            if p == PropertyId::BothClosed && verdict == Verdict::Holds {
                let start = Instant::now();
                let model = TeardownModel::new(variant.cfg.clone(), vec![p]);
                verdict = match search::find_cycle(&model, budget(limits)) {
                    Outcome::Found(_) => Verdict::Violated,
                    Outcome::NotFound { .. } => Verdict::Holds,
                    Outcome::Cut(_) => Verdict::Incomplete,
                };
                out.seconds += start.elapsed().as_secs_f64();
            }
            out.by_property.push((p, verdict));
        }
    }
    out
}

/// What [`verdicts`] found for one variant.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verdicts {
    pub by_property: Vec<(PropertyId, Verdict)>,
    /// Unique states over the explorations (the `always` group's and the
    /// witnesses').
    pub unique_states: usize,
    pub seconds: f64,
}
