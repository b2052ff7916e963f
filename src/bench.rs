//! `timewait bench`: the scaling table (fault budgets x incarnations) for one
//! variant, with stateright's raw exploration rate on a trivial model measured
//! in the same run as the baseline, so figures compare across noisy machines.

use crate::cli::BenchArgs;
use anyhow::Result;
use stateright::{Checker, Model};
use std::process::ExitCode;
use std::time::Instant;
use timewait_model::check::{self, VariantSpec};
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

fn baseline(threads: usize) -> (usize, f64) {
    let start = Instant::now();
    let c = Grid { side: 120 }
        .checker()
        .threads(threads)
        .spawn_bfs()
        .join();
    (c.state_count(), start.elapsed().as_secs_f64())
}

pub fn run(a: BenchArgs) -> Result<ExitCode> {
    if a.target == crate::cli::BenchTarget::Replay {
        return crate::replay_cmd::bench(a.round_trips);
    }
    let limits = a.limits.limits()?;
    let (base_states, base_secs) = baseline(limits.threads);
    let base_rate = base_states as f64 / base_secs;
    println!(
        "baseline: stateright BFS on a trivial grid model, {} states in {:.2} s = {:.0} states/s ({} threads)",
        base_states, base_secs, base_rate, limits.threads
    );
    // A property that holds whenever losses stay within the retry budget, so
    // that every run explores its whole state space.
    let property = PropertyId::ReliableTerminationTimeout;
    println!(
        "variant {}, property {} (holds, so each run is exhaustive)\n",
        a.variant,
        property.name()
    );
    println!(
        "{:>6} {:>4} {:>12} {:>12} {:>9} {:>12} {:>9}  verdict",
        "budget", "inc", "unique", "states", "seconds", "states/s", "vs base"
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
            let r = check::check_property(&v, property, None, &limits, &mut |_| {});
            println!(
                "{:>6} {:>4} {:>12} {:>12} {:>9.2} {:>12.0} {:>8.2}x  {}",
                format!("{b}/{b}"),
                inc,
                r.unique_states,
                r.states,
                r.seconds,
                r.states_per_second,
                r.states_per_second / base_rate,
                r.verdict.name()
            );
            if r.verdict == Verdict::Incomplete {
                println!("        (stopped at the state limit: not exhaustive; see --max-states)");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
