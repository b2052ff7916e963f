//! `timewait bench`: the engines side by side on one configuration
//! (states/s, bytes per unique state from peak memory, wall time), then the
//! scaling table (fault budgets x incarnations) for one variant, each rate
//! against stateright's own `paxos check 3` measured in the same run (see
//! [`paxos`]), so figures compare across noisy machines.

mod paxos;

use crate::cli::BenchArgs;
use anyhow::Result;
use stateright::{Checker, Model};
use std::process::ExitCode;
use std::time::Instant;
use timewait_model::check::{self, Engine, Limits, VariantSpec};
use timewait_model::{Config, PropertyId, Verdict};

/// A grid walk whose states are as cheap as states get: what the checker
/// itself costs per state.
struct Grid {
    side: u16,
}

impl Model for Grid {
    type State = (u16, u16, u16);
    type Action = u8;
    fn init_states(&self) -> Vec<Self::State> {
        vec![(0, 0, 0)]
    }
    fn actions(&self, s: &Self::State, out: &mut Vec<u8>) {
        if s.0 < self.side {
            out.push(0);
        }
        if s.1 < self.side {
            out.push(1);
        }
        if s.2 < self.side {
            out.push(2);
        }
    }
    fn next_state(&self, s: &Self::State, a: u8) -> Option<Self::State> {
        Some(match a {
            0 => (s.0 + 1, s.1, s.2),
            1 => (s.0, s.1 + 1, s.2),
            _ => (s.0, s.1, s.2 + 1),
        })
    }
    // One property that always holds, so that the checker explores everything
    // (with none it would stop at once).
    fn properties(&self) -> Vec<stateright::Property<Self>> {
        vec![stateright::Property::always(
            "in bounds",
            |m: &Grid, s: &(u16, u16, u16)| s.0 <= m.side && s.1 <= m.side && s.2 <= m.side,
        )]
    }
}

/// The fallback baseline when the paxos example cannot be built (no network
/// for its dev-dependencies, say): stateright's BFS on the grid.
fn grid_baseline(threads: usize) -> (usize, f64) {
    let start = Instant::now();
    let c = Grid { side: 120 }
        .checker()
        .threads(threads)
        .spawn_bfs()
        .join();
    (c.state_count(), start.elapsed().as_secs_f64())
}

/// A field of `/proc/PROC/status` in bytes (`VmRSS`, `VmHWM`), if readable;
/// `proc` is `self` or a child's pid.
fn status_bytes(proc: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{proc}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak resident set size to the current one (Linux 4.0 and
/// later: `5` written to clear_refs), so that each engine's peak is its own.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One engine's run of `property` on `v`: the report and the growth of the
/// peak resident set during it (what the run itself held at most).
fn engine_run(
    v: &VariantSpec,
    property: PropertyId,
    limits: &Limits,
    engine: Engine,
) -> (check::PropertyReport, Option<u64>) {
    let limits = Limits { engine, ..*limits };
    let before = if reset_peak() {
        status_bytes("self", "VmRSS")
    } else {
        None
    };
    let r = check::check_property(v, property, None, &limits, &mut |_| {});
    let grown = before
        .zip(status_bytes("self", "VmHWM"))
        .map(|(b, p)| p.saturating_sub(b));
    (r, grown)
}

/// fastbfs against stateright's BFS on the variant's default configuration
/// (1.4 million unique states for rfc1337: large enough that the states,
/// not the program, dominate peak memory).
fn engines(a: &BenchArgs, limits: &Limits, base_rate: f64, property: PropertyId) -> Result<()> {
    let base = Config::default();
    let v = VariantSpec::preset(a.variant, &base, base.msl)?;
    println!(
        "engines: {} with {} loss(es), {} duplicate(s), {} incarnations, property {}, {} threads",
        a.variant,
        base.loss_budget,
        base.dup_budget,
        base.incarnations,
        property.name(),
        limits.threads
    );
    println!(
        "{:>10} {:>12} {:>12} {:>9} {:>12} {:>9} {:>12} {:>10}",
        "engine", "unique", "states", "wall s", "states/s", "vs base", "peak MB", "B/unique"
    );
    let mut rows = Vec::new();
    // fastbfs first: memory freed by one run and kept by the allocator could
    // hide part of the next run's growth, and the smaller run should go first.
    for engine in [Engine::Fastbfs, Engine::Stateright, Engine::Bitstate] {
        let started = Instant::now();
        let (r, grown) = engine_run(&v, property, limits, engine);
        let wall = started.elapsed().as_secs_f64();
        let per_state = grown.map(|g| g as f64 / r.unique_states.max(1) as f64);
        println!(
            "{:>10} {:>12} {:>12} {:>9.2} {:>12.0} {:>8.2}x {:>12} {:>10}",
            engine.name(),
            r.unique_states,
            r.states,
            wall,
            r.states_per_second,
            r.states_per_second / base_rate,
            grown.map_or("-".to_string(), |g| format!("{:.0}", g as f64 / 1e6)),
            per_state.map_or("-".to_string(), |b| format!("{b:.0}")),
        );
        if let Some(b) = r.bitstate {
            println!("{:>10} ({})", "", b.describe());
        }
        rows.push((r, wall, per_state));
    }
    let (f, s) = (&rows[0], &rows[1]);
    println!(
        "fastbfs / stateright: states/s {:.2}x, wall time {:.2}x, bytes per unique state {}",
        f.0.states_per_second / s.0.states_per_second.max(1e-9),
        f.1 / s.1.max(1e-9),
        match (f.2, s.2) {
            (Some(a), Some(b)) => format!("{:.2}x", a / b.max(1e-9)),
            _ => "not measured (no /proc/self/clear_refs)".to_string(),
        }
    );
    if f.0.unique_states != s.0.unique_states || f.0.verdict != s.0.verdict {
        println!(
            "WARNING: the engines disagree: {} unique states ({}) against {} ({})",
            f.0.unique_states,
            f.0.verdict.name(),
            s.0.unique_states,
            s.0.verdict.name()
        );
    }
    println!(
        "(wall time includes the trace and cycle searches the engines share; peak MB is the growth of peak RSS during the run; a state takes {} bytes as a value, and fastbfs keeps its frontier as postcard encodings of a fraction of that)\n",
        std::mem::size_of::<timewait_model::State>()
    );
    Ok(())
}

pub fn run(a: BenchArgs) -> Result<ExitCode> {
    if a.target == crate::cli::BenchTarget::Replay {
        return crate::replay_cmd::bench(a.round_trips);
    }
    let limits = a.limits.limits()?;
    let base_rate = match paxos::run() {
        Ok((version, b)) => {
            println!(
                "baseline: stateright {version}'s `paxos check 3` ({} threads): {} states, {} unique, in {:.2} s = {:.0} states/s; peak RSS {}",
                std::thread::available_parallelism().map_or(1, |n| n.get()),
                b.states,
                b.unique,
                b.seconds,
                b.states_per_second(),
                b.peak_bytes.map_or("not measured".to_string(), |p| format!(
                    "{:.0} MB = {:.0} bytes per unique state",
                    p as f64 / 1e6,
                    p as f64 / b.unique.max(1) as f64
                ))
            );
            b.states_per_second()
        }
        Err(e) => {
            let (states, secs) = grid_baseline(limits.threads);
            println!(
                "baseline: stateright's paxos example is unavailable ({e:#}); stateright BFS on a trivial grid model instead: {states} states in {secs:.2} s = {:.0} states/s ({} threads)",
                states as f64 / secs,
                limits.threads
            );
            states as f64 / secs
        }
    };
    // A property that holds whenever losses stay within the retry budget, so
    // that every run explores its whole state space.
    let property = PropertyId::ReliableTerminationTimeout;
    engines(&a, &limits, base_rate, property)?;
    println!(
        "scaling with the {} engine: variant {}, property {} (holds, so each run is exhaustive)\n",
        limits.engine.name(),
        a.variant,
        property.name()
    );
    println!(
        "{:>6} {:>4} {:>12} {:>12} {:>9} {:>12} {:>9} {:>9} {:>9}  verdict",
        "budget",
        "inc",
        "unique",
        "states",
        "seconds",
        "states/s",
        "vs base",
        "peak MB",
        "B/unique"
    );
    let (budgets, incs) = if a.quick {
        (0..=1, 1..=2)
    } else {
        (0..=2, 1..=3)
    };
    for b in budgets {
        for inc in incs.clone() {
            let base = Config {
                loss_budget: b,
                dup_budget: b,
                incarnations: inc,
                ..Config::default()
            };
            let v = VariantSpec::preset(a.variant, &base, base.msl)?;
            let (r, grown) = engine_run(&v, property, &limits, limits.engine);
            println!(
                "{:>6} {:>4} {:>12} {:>12} {:>9.2} {:>12.0} {:>8.2}x {:>9} {:>9}  {}",
                format!("{b}/{b}"),
                inc,
                r.unique_states,
                r.states,
                r.seconds,
                r.states_per_second,
                r.states_per_second / base_rate,
                grown.map_or("-".to_string(), |g| format!("{:.0}", g as f64 / 1e6)),
                grown.map_or("-".to_string(), |g| format!(
                    "{:.0}",
                    g as f64 / r.unique_states.max(1) as f64
                )),
                r.verdict.name()
            );
            if r.verdict == Verdict::Incomplete {
                println!("        (stopped at the state limit: not exhaustive; see --max-states)");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
