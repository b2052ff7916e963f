//! Running many specs on Linux at once: each in its own namespace, so the
//! same addresses and ports are reused without interference, `jobs` at a
//! time. Linux's TIME-WAIT lasts 60 s, so the suite's wall time is close to
//! its longest spec when every spec runs at once.

use crate::backends::agent::shipped::Agent;
use crate::backends::agent::AgentStack;
use crate::backends::linux;
use crate::backends::smoltcp::SmoltcpStack;
use crate::known::{Entry, Known};
use crate::stack::{StackKind, StackRun};
use crate::verdict::{self, Departure, Judgement, Mark};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use timewait_model::Preset;
use timewait_specs::oracle::Outcome;
use timewait_specs::Spec;

/// The network MSL a replay assumes unless told (`replay --msl`): the
/// MSL Linux's 60 s TIME-WAIT is 2 MSL for, and what reports/ records.
pub const DEFAULT_MSL: timewait_specs::values::Duration =
    timewait_specs::values::Duration::secs(30);

/// One spec's result on a stack.
pub struct SpecResult {
    pub path: PathBuf,
    pub spec: Spec,
    pub preset: Preset,
    pub model: Outcome,
    /// `Err` when the harness itself failed (not the spec).
    pub run: Result<StackRun, String>,
    /// The verdict, from [`verdict::judge`].
    pub judgement: Judgement,
    pub started: SystemTime,
    /// The wall time of the prediction and the run together (a virtual
    /// clock's waits cost none of it); CI reports give each run its time.
    pub wall: Duration,
}

impl SpecResult {
    pub fn name(&self) -> &str {
        &self.spec.name.value
    }

    /// Where the stack departed from the spec (`Ok(None)`: it passed).
    pub fn stack_departure(&self) -> Result<Option<Departure>, &str> {
        match &self.run {
            Ok(run) => Ok(run.replay.failure.as_ref().map(Departure::of_stack)),
            Err(e) => Err(e),
        }
    }

    /// Where the model variant departed from the spec.
    pub fn model_departure(&self) -> Option<Departure> {
        Departure::of_outcome(&self.model)
    }
}

/// The model variant a stack's run is compared with: for Linux the
/// variant its profile selects; for other stacks, which have no variant of
/// their own, the RFC model (rfc1337), so their failures are where they
/// depart from RFC behaviour.
pub fn preset_for(spec: &Spec, stack: StackKind) -> Preset {
    match stack {
        StackKind::Linux | StackKind::LinuxVm => verdict::linux_preset(spec, &spec.profile()),
        StackKind::LinuxRfc1337 => {
            let mut p = spec.profile();
            p.tcp_rfc1337 = Some(1);
            verdict::linux_preset(spec, &p)
        }
        StackKind::Smoltcp
        | StackKind::Lwip
        | StackKind::Gvisor
        | StackKind::LwipTap
        | StackKind::Pytcp => Preset::Rfc1337,
    }
}

/// Whether `spec` applies to `stack`. A spec that sets one of Linux's
/// table or timer knobs (tcp_max_tw_buckets, tcp_tw_reuse, tcp_fin_timeout)
/// pins a Linux configuration other stacks have no counterpart of; the
/// RFC-behaviour knobs (tcp_rfc1337, timestamps) are what the model variant
/// stands for, so those specs apply everywhere.
pub fn applies(spec: &Spec, stack: StackKind) -> bool {
    let p = spec.profile();
    match stack {
        StackKind::Linux | StackKind::LinuxVm => return true,
        // No model variant combines RFC 1337 with tcp_tw_reuse.
        StackKind::LinuxRfc1337 => return p.tcp_tw_reuse.unwrap_or(0) == 0,
        _ => {}
    }
    p.tcp_max_tw_buckets.is_none() && p.tcp_tw_reuse.is_none() && p.tcp_fin_timeout.is_none()
}

/// Replays `spec` on `stack`; `Err` when the harness or the stack's agent
/// failed (not the spec).
pub fn replay_on(spec: &Spec, stack: StackKind) -> Result<StackRun, String> {
    let agent = |a: Agent| -> Result<StackRun, String> {
        let cmd = a.command().map_err(|e| e.to_string())?;
        let mut s =
            AgentStack::start(stack.name(), cmd, stack.time_wait()).map_err(|e| e.to_string())?;
        s.set_ack_delay(stack.ack_delay());
        let replay = crate::engine::replay(spec, &mut s).map_err(|e| e.to_string())?;
        Ok(StackRun {
            replay,
            frames: std::mem::take(&mut s.frames),
        })
    };
    match stack {
        StackKind::Linux => linux::run_spec(spec, &[]).map_err(|e| e.to_string()),
        StackKind::LinuxRfc1337 => {
            linux::run_spec(spec, &[("tcp_rfc1337", 1)]).map_err(|e| e.to_string())
        }
        StackKind::Smoltcp => {
            let mut s = SmoltcpStack::new();
            crate::engine::replay(spec, &mut s)
                .map(|replay| StackRun {
                    replay,
                    frames: std::mem::take(&mut s.frames),
                })
                .map_err(|e| e.to_string())
        }
        StackKind::Lwip => agent(Agent::Lwip),
        StackKind::Gvisor => agent(Agent::Gvisor),
        StackKind::LwipTap | StackKind::Pytcp => {
            let agent = if stack == StackKind::Pytcp {
                Agent::Pytcp
            } else {
                Agent::Lwip
            };
            crate::backends::tap::run_spec(spec, agent, stack)
        }
        StackKind::LinuxVm => crate::backends::vm::run_spec(spec, stack.time_wait()),
    }
}

/// Runs one spec on `stack` and judges it against the model variant for
/// it ([`preset_for`]) and the stack's known entry for the spec.
pub fn run_one(path: PathBuf, spec: Spec, stack: StackKind, known: Option<&Entry>) -> SpecResult {
    run_with(path, spec, stack, known, |spec| replay_on(spec, stack))
}

/// Runs one spec with `replay` (any way of running it on `stack`) and
/// judges it against the model variant for `stack`.
pub fn run_with(
    path: PathBuf,
    spec: Spec,
    stack: StackKind,
    known: Option<&Entry>,
    replay: impl FnOnce(&Spec) -> Result<StackRun, String>,
) -> SpecResult {
    let started = SystemTime::now();
    let clock = std::time::Instant::now();
    let preset = preset_for(&spec, stack);
    let model = verdict::predict(&spec, preset);
    let run = replay(&spec);
    let stack_departure = match &run {
        Ok(r) => Ok(r.replay.failure.as_ref().map(Departure::of_stack)),
        Err(e) => Err(e.as_str()),
    };
    let late = run
        .as_ref()
        .ok()
        .and_then(|r| r.replay.timing_invalid.as_ref());
    let judgement = match late {
        // Neither a pass nor a departure: the script was not played.
        Some(l) => Judgement {
            mark: Mark::TimingInvalid,
            why: format!("the harness was late: {l}; rerun"),
        },
        None => verdict::judge(
            stack_departure.as_ref().map(Option::as_ref).map_err(|e| *e),
            Departure::of_outcome(&model).as_ref(),
            preset,
            known,
        ),
    };
    SpecResult {
        path,
        spec,
        preset,
        model,
        run,
        judgement,
        started,
        wall: clock.elapsed(),
    }
}

/// Progress of a suite, for people watching.
pub struct Progress {
    pub done: usize,
    pub running: usize,
    pub failed: usize,
    pub total: usize,
}

/// Runs `specs`, `jobs` at a time, calling `progress` about every
/// `every`; results come back in the order given.
pub fn run_all(
    specs: Vec<(PathBuf, Spec)>,
    stack: StackKind,
    known: &Known,
    jobs: usize,
    every: Duration,
    progress: &mut dyn FnMut(&Progress),
) -> Vec<SpecResult> {
    let total = specs.len();
    let queue = Arc::new(Mutex::new(
        specs.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let running = Arc::new(Mutex::new(0usize));
    let known = Arc::new(known.clone());
    let (tx, rx) = mpsc::channel();
    let mut workers = Vec::new();
    for _ in 0..jobs.max(1).min(total.max(1)) {
        let queue = Arc::clone(&queue);
        let running = Arc::clone(&running);
        let tx = tx.clone();
        let known = Arc::clone(&known);
        workers.push(std::thread::spawn(move || loop {
            let next = queue.lock().map(|mut q| q.pop_front()).ok().flatten();
            let Some((i, (path, spec))) = next else {
                break;
            };
            if let Ok(mut r) = running.lock() {
                *r += 1;
            }
            let entry = known.get(&spec.name.value);
            // A panic in one spec's harness is that spec's harness error,
            // never a spec missing from the results.
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_one(path.clone(), spec.clone(), stack, entry)
            }));
            let result = attempt.unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("no message");
                run_with(path, spec, stack, entry, |_| {
                    Err(format!("the harness panicked: {why}"))
                })
            });
            if let Ok(mut r) = running.lock() {
                *r -= 1;
            }
            if tx.send((i, result)).is_err() {
                break;
            }
        }));
    }
    drop(tx);
    let mut results: Vec<Option<SpecResult>> = (0..total).map(|_| None).collect();
    let (mut done, mut failed) = (0, 0);
    loop {
        match rx.recv_timeout(every) {
            Ok((i, r)) => {
                done += 1;
                if r.judgement.mark != Mark::Pass {
                    failed += 1;
                }
                results[i] = Some(r);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let running = running.lock().map(|r| *r).unwrap_or(0);
        progress(&Progress {
            done,
            running,
            failed,
            total,
        });
        if done == total {
            break;
        }
    }
    for w in workers {
        let _ = w.join();
    }
    results.into_iter().flatten().collect()
}
