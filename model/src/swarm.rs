//! Swarm verification (Holzmann, Joshi and Groce, "Swarm Verification",
//! ASE 2008): many small depth-first searches, each with its own seed, its
//! own random order of the actions at every state and its own small bit
//! array, run side by side instead of one search that cannot finish. Each
//! run covers a different corner of a state space too large to exhaust;
//! together they find violations that sit deep in the order one exhaustive
//! search would take.
//!
//! A swarm search is never exhaustive and never says a property holds:
//! what it discovers is real (every state it visits is reachable: it got
//! there by the model's own steps), and what it does not discover stays
//! undecided. The shortest trace to a discovery still comes from the
//! exhaustive BFS in [`crate::search`].

use crate::fastbfs::{self, EngineError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use stateright::Model;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many runs, how large, and from which seed.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub runs: usize,
    pub threads: usize,
    /// Generated states after which a run stops.
    pub states_per_run: usize,
    /// Each run's bit array: 2^`log2_bits` bits, 3 hashes per state.
    pub log2_bits: u8,
    /// Run i uses seed `seed + i`, so a run is reproduced from its seed.
    pub seed: u64,
    pub timeout: Option<Duration>,
}

/// What one run did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    pub seed: u64,
    /// Generated states.
    pub states: usize,
    /// States stored in its bit array (visited).
    pub stored: usize,
    pub max_depth: usize,
    /// The properties it discovered, in the model's order.
    pub discovered: Vec<&'static str>,
    /// It stopped at `states_per_run` (or the timeout) rather than running
    /// out of unvisited states.
    pub cut: bool,
    pub seconds: f64,
}

/// What the swarm found.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub runs: Vec<Run>,
    /// The union of the runs' discoveries, in the model's order.
    pub discovered: Vec<&'static str>,
    /// Generated states over all runs.
    pub states: usize,
    pub seconds: f64,
    /// The timeout stopped the swarm before every run was started.
    pub timed_out: bool,
}

/// How far a swarm has got: what its finished runs add up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub runs_done: usize,
    /// Generated and stored states, and the deepest path, of the finished
    /// runs.
    pub states: usize,
    pub stored: usize,
    pub max_depth: usize,
}

/// Runs the swarm on `opts.threads` threads; `progress` gets the finished
/// runs' totals about every `every`.
pub fn swarm<M>(
    model: &M,
    opts: &Options,
    every: Duration,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report, EngineError>
where
    M: Model + Sync,
    M::State: Serialize + DeserializeOwned + Send + Sync,
    M::Action: Send,
{
    let start = Instant::now();
    let properties = model.properties();
    fastbfs::property_bits(&properties)?;
    if !(fastbfs::MIN_BITSTATE_LOG2..=fastbfs::MAX_BITSTATE_LOG2).contains(&opts.log2_bits) {
        return Err(EngineError::Bitstate {
            log2_bits: opts.log2_bits,
            hashes: 3,
        });
    }
    let deadline = opts.timeout.map(|t| start + t);
    let next_run = AtomicUsize::new(0);
    let threads = opts.threads.max(1).min(opts.runs.max(1));
    let live = AtomicUsize::new(threads);
    let timed_out = AtomicBool::new(false);
    let runs: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    let error: Mutex<Option<EngineError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        let main = std::thread::current();
        for _ in 0..threads {
            let main = main.clone();
            let (next_run, timed_out, runs, error, properties, live) =
                (&next_run, &timed_out, &runs, &error, &properties, &live);
            scope.spawn(move || {
                // Counted out and the main thread woken however the thread
                // ends, a panic in the model included (the scope re-raises
                // it once every thread is done).
                struct Leave<'a>(&'a AtomicUsize, std::thread::Thread);
                impl Drop for Leave<'_> {
                    fn drop(&mut self) {
                        self.0.fetch_sub(1, Ordering::Release);
                        self.1.unpark();
                    }
                }
                let _leave = Leave(live, main.clone());
                loop {
                    let i = next_run.fetch_add(1, Ordering::Relaxed);
                    if i >= opts.runs {
                        break;
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        timed_out.store(true, Ordering::Relaxed);
                        break;
                    }
                    let seed = opts.seed.wrapping_add(i as u64);
                    match one_run(model, properties, opts, seed, deadline) {
                        Ok(r) => runs.lock().unwrap_or_else(|e| e.into_inner()).push(r),
                        Err(e) => {
                            error
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .get_or_insert(e);
                            break;
                        }
                    }
                    main.unpark();
                }
            });
        }
        let mut last = Instant::now();
        while live.load(Ordering::Acquire) > 0 {
            std::thread::park_timeout(Duration::from_millis(200));
            if last.elapsed() >= every {
                last = Instant::now();
                // The totals are taken under the lock, reported outside it.
                let p = {
                    let done = runs.lock().unwrap_or_else(|e| e.into_inner());
                    Progress {
                        runs_done: done.len(),
                        states: done.iter().map(|r| r.states).sum(),
                        stored: done.iter().map(|r| r.stored).sum(),
                        max_depth: done.iter().map(|r| r.max_depth).max().unwrap_or(0),
                    }
                };
                progress(&p);
            }
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let mut runs = runs.into_inner().unwrap_or_else(|e| e.into_inner());
    runs.sort_by_key(|r| r.seed);
    let discovered = properties
        .iter()
        .map(|p| p.name)
        .filter(|n| runs.iter().any(|r| r.discovered.contains(n)))
        .collect();
    Ok(Report {
        states: runs.iter().map(|r| r.states).sum(),
        discovered,
        runs,
        seconds: start.elapsed().as_secs_f64(),
        timed_out: timed_out.load(Ordering::Relaxed),
    })
}

/// One randomised depth-first search.
fn one_run<M>(
    model: &M,
    properties: &[stateright::Property<M>],
    opts: &Options,
    seed: u64,
    deadline: Option<Instant>,
) -> Result<Run, EngineError>
where
    M: Model,
    M::State: Serialize + DeserializeOwned,
{
    let start = Instant::now();
    let mut rng = fastrand::Rng::with_seed(seed);
    let bits = fastbfs::Bits::new(opts.log2_bits, 3);
    let all_bits = fastbfs::property_bits(properties)?;
    let discoveries = |s: &M::State| fastbfs::discoveries(model, properties, s);
    let mut scratch = Vec::new();
    let mut found = 0u64;
    let mut states = 0usize;
    let mut max_depth = 0usize;
    let mut cut = false;
    // The stack holds each state on the current path with the actions of
    // it not yet tried, in this run's random order.
    let mut stack: Vec<(M::State, Vec<M::Action>)> = Vec::new();
    let mut inits: Vec<M::State> = model
        .init_states()
        .into_iter()
        .filter(|s| model.within_boundary(s))
        .collect();
    rng.shuffle(&mut inits);
    'runs: for init in inits {
        states += 1;
        fastbfs::encode(&init, &mut scratch)?;
        if !bits.insert(fastbfs::fingerprint(&scratch)) {
            continue;
        }
        let mut push = |s: M::State, found: &mut u64, stack: &mut Vec<_>| {
            let here = discoveries(&s);
            *found |= here;
            // As in the BFS: a state that discovers every property is not
            // expanded; nothing is left to look for below it.
            let mut actions = Vec::new();
            if here != all_bits {
                model.actions(&s, &mut actions);
                rng.shuffle(&mut actions);
            }
            stack.push((s, actions));
        };
        push(init, &mut found, &mut stack);
        loop {
            max_depth = max_depth.max(stack.len());
            let Some((state, actions)) = stack.last_mut() else {
                break;
            };
            if found == all_bits {
                break 'runs;
            }
            if states >= opts.states_per_run
                || (states.is_multiple_of(4096) && deadline.is_some_and(|d| Instant::now() >= d))
            {
                cut = true;
                break 'runs;
            }
            let Some(a) = actions.pop() else {
                stack.pop();
                continue;
            };
            let Some(next) = model.next_state(state, a) else {
                continue;
            };
            if !model.within_boundary(&next) {
                continue;
            }
            states += 1;
            fastbfs::encode(&next, &mut scratch)?;
            if bits.insert(fastbfs::fingerprint(&scratch)) {
                push(next, &mut found, &mut stack);
            }
        }
    }
    Ok(Run {
        seed,
        states,
        stored: bits.stored(),
        max_depth,
        discovered: properties
            .iter()
            .enumerate()
            .filter(|(i, _)| found & (1 << i) != 0)
            .map(|(_, p)| p.name)
            .collect(),
        cut,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::Property;

    /// Walks from 0 up to `top` by +1 or +2; the property `"reaches x"`
    /// is discovered at `x`.
    struct Line {
        top: u32,
        x: u32,
    }

    impl Model for Line {
        type State = u32;
        type Action = u32;
        fn init_states(&self) -> Vec<u32> {
            vec![0]
        }
        fn actions(&self, s: &u32, out: &mut Vec<u32>) {
            for step in [1, 2] {
                if s + step <= self.top {
                    out.push(step);
                }
            }
        }
        fn next_state(&self, s: &u32, a: u32) -> Option<u32> {
            Some(s + a)
        }
        fn properties(&self) -> Vec<Property<Self>> {
            vec![
                Property::sometimes("reaches x", |m: &Line, s: &u32| *s == m.x),
                Property::always("below the top", |m: &Line, s: &u32| *s <= m.top),
            ]
        }
    }

    fn opts(runs: usize, states_per_run: usize) -> Options {
        Options {
            runs,
            threads: 2,
            states_per_run,
            log2_bits: 16,
            seed: 7,
            timeout: None,
        }
    }

    fn run(m: &Line, o: &Options) -> Report {
        swarm(m, o, Duration::from_secs(3600), &mut |_| {}).expect("a valid swarm")
    }

    #[test]
    fn every_run_reports_its_seed_and_what_it_found() {
        let r = run(&Line { top: 50, x: 37 }, &opts(4, 10_000));
        assert_eq!(
            r.runs.iter().map(|r| r.seed).collect::<Vec<_>>(),
            vec![7, 8, 9, 10]
        );
        // Small enough for each run to see everything.
        for one in &r.runs {
            assert_eq!(one.discovered, vec!["reaches x"]);
            assert_eq!(one.stored, 51);
            assert!(!one.cut);
        }
        assert_eq!(r.discovered, vec!["reaches x"]);
        assert!(!r.timed_out);
    }

    #[test]
    fn a_seed_reproduces_its_run() {
        let m = Line { top: 5000, x: 4999 };
        let a = run(&m, &opts(3, 300));
        let b = run(&m, &opts(3, 300));
        let key = |r: &Report| {
            r.runs
                .iter()
                .map(|x| (x.seed, x.states, x.stored, x.max_depth, x.cut))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&a), key(&b));
        assert!(a.runs.iter().all(|r| r.cut && r.states <= 300));
    }

    #[test]
    fn runs_cut_short_discover_only_what_they_reached() {
        // 100 generated states cannot reach 4999 from 0.
        let r = run(&Line { top: 5000, x: 4999 }, &opts(3, 100));
        assert!(r.discovered.is_empty());
        assert!(r.runs.iter().all(|r| r.cut));
    }

    #[test]
    fn a_bit_array_outside_the_limits_is_refused() {
        let o = Options {
            log2_bits: 40,
            ..opts(1, 10)
        };
        assert!(matches!(
            swarm(
                &Line { top: 3, x: 1 },
                &o,
                Duration::from_secs(1),
                &mut |_| {}
            ),
            Err(EngineError::Bitstate { log2_bits: 40, .. })
        ));
    }
}
