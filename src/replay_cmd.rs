//! `timewait replay`: runs specs against a real stack, all at once by
//! default, prints progress and each failure with its exchange, writes a
//! pcap per spec and the Markdown report.

use crate::ci;
use crate::cli::{ReplayArgs, StackArg};
use crate::specs_cmd::load_all;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use timewait_conformance::backends::linux;
use timewait_conformance::results::{self, StackResults};
use timewait_conformance::stack::{Clock, StackKind};
use timewait_conformance::{facts_cache, findings, known, pcap, probe, report, suite};
use timewait_specs::{oracle, Spec};

pub fn run(a: ReplayArgs) -> Result<ExitCode> {
    let kinds: Vec<StackKind> = match a.stack {
        StackArg::All => StackKind::ALL.to_vec(),
        one => vec![kind_of(one)],
    };
    let (specs, bad) = load_all(&a.paths)?;
    if bad > 0 {
        bail!("{bad} specs are invalid; `timewait specs lint` shows why");
    }
    // A spec's own claims about the model are checked before any stack
    // runs it: a spec that a variant it lists contradicts, or that no
    // variant passes, would turn verdicts against it into noise.
    let mut false_claims = 0;
    for (file, spec) in &specs {
        let errors = oracle::claim_errors(file, spec);
        for d in &errors {
            eprintln!("{d}");
        }
        false_claims += usize::from(!errors.is_empty());
    }
    if false_claims > 0 {
        eprintln!(
            "error: {false_claims} specs claim what the model does not do; fix their `model` section (or the steps) before replaying"
        );
        return Ok(ExitCode::from(2));
    }
    // The claims above hold at each spec's own MSL; the replay is at the
    // network's.
    let specs: Vec<(PathBuf, Spec)> = specs
        .into_iter()
        .map(|(p, s)| {
            let s = s.at_network_msl(a.msl);
            match a.tolerance {
                Some(t) => (p, s.with_tolerance(t)),
                None => (p, s),
            }
        })
        .collect();
    eprintln!(
        "network MSL {}: the specs' `msl` durations mean this on every stack; `tw` durations scale to each stack's own TIME-WAIT",
        a.msl
    );
    eprintln!("known departures: {}", known_source(&a));
    // Only what this run writes into is created: the captures' folder
    // (not by --repeat), and the reports' for a whole-suite run.
    let whole = a.paths.paths.is_empty();
    if a.repeat.is_none() {
        create_folder(&a.out, "--out")?;
        if whole {
            create_folder(&a.reports, "--reports")?;
        }
    }
    let mut outcome = Outcome::Clean;
    let mut ci_run = ci::Run::new(ci::command_line());
    for kind in kinds.iter().copied() {
        if let Some(why) = kind.unavailable() {
            if a.stack != StackArg::All {
                eprintln!("error: cannot run the {} harness: {why}", kind.name());
                return Ok(ExitCode::from(2));
            }
            eprintln!("skipping {}: {why}", kind.name());
            ci_run.suites.push(ci::Suite {
                name: kind.name().into(),
                counts: format!("{}: skipped ({why})", kind.name()),
                cases: vec![ci::cases::unavailable(kind.name(), &why)],
                wall: Duration::ZERO,
            });
            continue;
        }
        let this = match a.repeat {
            Some(n) => repeat_stack(kind, specs.clone(), &a, n)?,
            None => {
                let ran = run_stack(kind, specs.clone(), &a)?;
                ci_run.suites.push(ran.suite);
                ci_run.files.extend(ran.files);
                ran.outcome
            }
        };
        outcome = outcome.max(this);
    }
    if a.repeat.is_some() {
        return Ok(outcome.code());
    }
    // The matrix is rendered from every stack's latest record, so running
    // one stack over the whole suite brings it up to date too.
    if whole {
        let stacks = matrix_inputs(&a.reports)?;
        let path = a.reports.join("conformance.md");
        std::fs::write(&path, timewait_conformance::matrix::render(&stacks))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "wrote {} (the matrix of {} stacks)",
            path.display(),
            stacks.len()
        );
        ci_run.files.push(path.display().to_string());
    }
    ci::finish(&ci_run, &a.ci)?;
    Ok(outcome.code())
}

/// Creates `dir` (the folder of `flag`) and its parents when missing.
fn create_folder(dir: &Path, flag: &str) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the {flag} folder {}", dir.display()))
}

/// The timing tolerance in force, for the header: `--tolerance`'s, or
/// the specs' own (each spec's, which a step may override).
fn tolerance_line(
    specs: &[(PathBuf, Spec)],
    forced: Option<timewait_specs::values::Duration>,
) -> String {
    use timewait_specs::format::Step;
    if let Some(t) = forced {
        return format!("tolerance {t} on every spec and step (--tolerance)");
    }
    let mut own: Vec<(String, usize)> = Vec::new();
    for (_, s) in specs {
        let t = s.tolerance().to_string();
        match own.iter_mut().find(|(v, _)| *v == t) {
            Some((_, n)) => *n += 1,
            None => own.push((t, 1)),
        }
    }
    own.sort_by_key(|o| std::cmp::Reverse(o.1));
    let spec_level: Vec<String> = own
        .iter()
        .map(|(t, n)| format!("{t} ({n} specs)"))
        .collect();
    let steps = specs
        .iter()
        .flat_map(|(_, s)| &s.steps)
        .filter(|st| match &st.value {
            Step::Expect(e) => e.tolerance.is_some(),
            Step::ExpectState(e) => e.tolerance.is_some(),
            _ => false,
        })
        .count();
    let mut line = match own.as_slice() {
        [(t, _)] => format!("tolerance {t} (the specs' own"),
        _ => format!("tolerance: the specs' own, {}", spec_level.join(", ")),
    };
    if steps > 0 {
        line.push_str(&format!("; {steps} steps set their own"));
    }
    line.push_str(if own.len() == 1 { ")" } else { "" });
    line
}

/// How a stack's run went, worst last: the exit code says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Clean,
    /// Only runs the harness was too late in; a rerun decides (exit 3).
    TimingInvalid,
    /// A verdict not as expected, or changed between runs (exit 1).
    Unexpected,
}

impl Outcome {
    fn of(summary: &report::Summary, stale: bool) -> Outcome {
        let bad = summary.divergences + summary.harness_errors + summary.stale_known;
        if bad > 0 || stale {
            Outcome::Unexpected
        } else if summary.timing_invalid > 0 {
            Outcome::TimingInvalid
        } else {
            Outcome::Clean
        }
    }

    fn code(self) -> ExitCode {
        match self {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::Unexpected => ExitCode::from(1),
            Outcome::TimingInvalid => ExitCode::from(3),
        }
    }
}

/// The specs that apply to `kind`, and those that pin Linux knobs it has
/// no counterpart of, with the line that says how the run will go.
fn applicable(kind: StackKind, specs: Vec<(PathBuf, Spec)>, a: &ReplayArgs) -> Split {
    let (specs, na): (Vec<_>, Vec<_>) = specs
        .into_iter()
        .partition(|(_, s)| suite::applies(s, kind));
    let jobs = a
        .jobs
        .unwrap_or(kind.max_jobs().unwrap_or(specs.len()))
        .max(1);
    let how = match kind.clock() {
        Clock::Real => "real time, each in its own network namespace",
        Clock::Virtual => "a virtual clock",
    };
    eprintln!(
        "replaying {} specs on {}, {jobs} at a time ({how}), {}; {} pin Linux knobs and do not apply",
        specs.len(),
        kind.name(),
        tolerance_line(&specs, a.tolerance),
        na.len()
    );
    Split { specs, na, jobs }
}

struct Split {
    specs: Vec<(PathBuf, Spec)>,
    na: Vec<(PathBuf, Spec)>,
    jobs: usize,
}

/// One run of the suite on `kind` with progress on stderr.
fn run_suite(
    kind: StackKind,
    specs: Vec<(PathBuf, Spec)>,
    known: &known::Known,
    jobs: usize,
    label: &str,
) -> (Vec<suite::SpecResult>, Duration) {
    let started = Instant::now();
    let mut last = (usize::MAX, usize::MAX);
    let results = suite::run_all(specs, kind, known, jobs, Duration::from_secs(5), &mut |p| {
        if (p.done, p.running) != last {
            last = (p.done, p.running);
            eprintln!(
                "  [{:>5.1} s] {label}: {}/{} done, {} running, {} not passing",
                started.elapsed().as_secs_f64(),
                p.done,
                p.total,
                p.running,
                p.failed
            );
        }
    });
    (results, started.elapsed())
}

/// What a verdict is, for comparing runs: the mark and, when the stack
/// departed, where and how.
fn verdict_of(r: &suite::SpecResult) -> String {
    let mark = r.judgement.mark.name();
    match r.stack_departure() {
        Ok(Some(d)) if r.judgement.mark != results::Mark::TimingInvalid => {
            format!("{mark} (stack fails at {})", d.key())
        }
        _ => mark.to_string(),
    }
}

/// A spec whose verdict changed between runs: each distinct verdict with
/// the (1-based) runs that gave it.
type Flake<'a> = (&'a str, Vec<(&'a str, Vec<usize>)>);

/// The specs of `seen` (each spec's verdict per run) whose verdict was not
/// the same in every run. A timing-invalid run is no verdict, so it cannot
/// change one; it is counted on its own.
fn changed_verdicts(seen: &[(String, Vec<String>)]) -> Vec<Flake<'_>> {
    let invalid = results::Mark::TimingInvalid.name();
    let mut out = Vec::new();
    for (name, runs) in seen {
        let mut distinct: Vec<&str> = runs
            .iter()
            .map(String::as_str)
            .filter(|v| *v != invalid)
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() > 1 {
            let verdicts = distinct
                .into_iter()
                .map(|v| {
                    let which = (1..=runs.len()).filter(|i| runs[i - 1] == v).collect();
                    (v, which)
                })
                .collect();
            out.push((name.as_str(), verdicts));
        }
    }
    out
}

/// `replay --repeat N`: the suite N times on one stack; every spec whose
/// verdict changed between runs, and the runs the harness was too late in.
fn repeat_stack(
    kind: StackKind,
    specs: Vec<(PathBuf, Spec)>,
    a: &ReplayArgs,
    n: u32,
) -> Result<Outcome> {
    let stack = kind.name();
    let known = known_source(a).load(stack)?;
    let Split { specs, jobs, .. } = applicable(kind, specs, a);
    // Per spec, in the suite's order: each run's verdict.
    let mut seen: Vec<(String, Vec<String>)> = specs
        .iter()
        .map(|(_, s)| (s.name.value.clone(), Vec::new()))
        .collect();
    let (mut timing_invalid, mut unexpected) = (0, 0);
    for run in 1..=n {
        let label = format!("{stack} run {run}/{n}");
        let (results, wall) = run_suite(kind, specs.clone(), &known, jobs, &label);
        let s = report::summarize(&results);
        timing_invalid += s.timing_invalid;
        unexpected += s.divergences + s.harness_errors + s.stale_known;
        println!(
            "{label}: {:.1} s; {s}. {}",
            wall.as_secs_f64(),
            report::lateness_line(&results)
        );
        for r in &results {
            let mark = r.judgement.mark;
            if !mark.expected() {
                println!(
                    "    {} run {run}: {}: {}",
                    r.name(),
                    mark.name(),
                    r.judgement.why
                );
            }
        }
        for r in &results {
            if let Some((_, runs)) = seen.iter_mut().find(|(name, _)| name == r.name()) {
                runs.push(verdict_of(r));
            }
        }
    }
    let flakes = changed_verdicts(&seen);
    for (name, verdicts) in &flakes {
        println!("CHANGED {name}:");
        for (v, runs) in verdicts {
            let runs: Vec<String> = runs.iter().map(usize::to_string).collect();
            println!("    runs {}: {v}", runs.join(", "));
        }
    }
    let changed = flakes.len();
    println!(
        "\n{stack}: {n} runs of {} specs: {changed} specs changed verdict between runs, {unexpected} unexpected verdicts, {timing_invalid} timing-invalid runs (rerun, not judged); wrote nothing (a measurement: no report, record or capture)",
        specs.len()
    );
    Ok(if changed > 0 || unexpected > 0 {
        Outcome::Unexpected
    } else if timing_invalid > 0 {
        Outcome::TimingInvalid
    } else {
        Outcome::Clean
    })
}

/// Where the known departures come from: `--known`, else the checkout's
/// folder when run in one, else the lists built into the binary (an
/// installed binary runs anywhere).
fn known_source(a: &ReplayArgs) -> known::Source {
    match &a.known {
        Some(dir) => known::Source::Folder(dir.clone()),
        None if Path::new(known::FOLDER).is_dir() => known::Source::Folder(known::FOLDER.into()),
        None => known::Source::BuiltIn,
    }
}

fn kind_of(a: StackArg) -> StackKind {
    match a {
        StackArg::Linux | StackArg::All => StackKind::Linux,
        StackArg::LinuxRfc1337 => StackKind::LinuxRfc1337,
        StackArg::Smoltcp => StackKind::Smoltcp,
        StackArg::Lwip => StackKind::Lwip,
        StackArg::Gvisor => StackKind::Gvisor,
        StackArg::LwipTap => StackKind::LwipTap,
        StackArg::LinuxVm => StackKind::LinuxVm,
        StackArg::Pytcp => StackKind::Pytcp,
    }
}

/// The committed per-stack results, in the stacks' order.
pub fn matrix_inputs(reports: &Path) -> Result<Vec<StackResults>> {
    let names: Vec<&str> = StackKind::ALL.iter().map(|k| k.name()).collect();
    Ok(results::load_existing(reports, &names)?)
}

pub fn results_path(reports: &Path, kind: StackKind) -> PathBuf {
    results::file(reports, kind.name())
}

/// Where a stack's summary facts come from in this run.
enum FactsPlan {
    /// Not probed: why, and whether the recorded facts are kept.
    NotRun(&'static str),
    /// Taken from the cache.
    Cached(Box<facts_cache::Entry>),
    /// Being probed, beside the suite.
    Probing(Probing),
}

struct Probing {
    facts: std::thread::JoinHandle<Result<probe::Facts, String>>,
    watcher: std::thread::JoinHandle<()>,
    started: Instant,
    key: facts_cache::Key,
    /// Where the result is kept, if a cache folder could be found.
    cache: Option<PathBuf>,
}

/// Decides where `kind`'s facts come from and, if they are to be probed,
/// starts the probes (announced, with progress on stderr).
fn start_facts(kind: StackKind, a: &ReplayArgs, whole: bool, version: &str) -> FactsPlan {
    let stack = kind.name();
    // Facts that are not probed are said once, with the run's summary.
    if a.no_facts {
        return FactsPlan::NotRun("not probed (--no-facts); the recorded ones are kept");
    }
    if !whole {
        return FactsPlan::NotRun(
            "not probed (a subset of the specs; the probes run only for the whole suite)",
        );
    }
    let key = facts_cache::Key::of(kind, version);
    let cache = match facts_cache::root() {
        Ok(root) => Some(root),
        Err(e) => {
            eprintln!("facts: no cache ({e}); probing");
            None
        }
    };
    if let (Some(root), false) = (&cache, a.fresh_facts) {
        match facts_cache::load(root, &key) {
            facts_cache::Lookup::Hit(entry) => {
                eprintln!(
                    "facts: from the cache {} (probed {} ago in {:.1} s, {}, probe code {}); --fresh-facts probes again",
                    facts_cache::path(root, &key).display(),
                    entry.age(),
                    entry.seconds,
                    entry.key.version,
                    entry.key.probe_code
                );
                return FactsPlan::Cached(entry);
            }
            facts_cache::Lookup::Miss => {}
            facts_cache::Lookup::Unreadable(why) => {
                eprintln!("facts: the cached entry cannot be used ({why}); probing again");
            }
        }
    }
    // The probes wait out one TIME-WAIT on a real clock; on a virtual one
    // they take a moment.
    let estimate = match kind.clock() {
        Clock::Real => Some(kind.time_wait() + Duration::from_secs(2)),
        Clock::Virtual => None,
    };
    let why = if a.fresh_facts {
        "--fresh-facts"
    } else {
        "none cached for this version"
    };
    eprintln!(
        "facts: probing {stack} ({why}): {} probes at once, each on a fresh stack: TIME-WAIT's length, retransmitted FINs, RSTs and SYNs in TIME-WAIT, ISNs; {}",
        probe::PROBES.len(),
        match estimate {
            Some(e) => format!("about {} s (the TIME-WAIT probe waits it out)", e.as_secs()),
            None => "a few seconds (a virtual clock)".to_string(),
        }
    );
    let (tx, rx) = std::sync::mpsc::channel::<&'static str>();
    let started = Instant::now();
    let facts = std::thread::spawn(move || probe::facts_reporting(kind, Some(tx)));
    let watcher = std::thread::spawn(move || {
        let mut left: Vec<&str> = probe::PROBES.to_vec();
        // Every 5 s, however many probes end in between.
        let every = Duration::from_secs(5);
        let mut next = started + every;
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(done) => left.retain(|p| *p != done),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    next += every;
                    let elapsed = started.elapsed();
                    let remaining = match estimate {
                        Some(e) if e > elapsed => {
                            format!("about {} s left", (e - elapsed).as_secs().max(1))
                        }
                        Some(_) => "any moment now".to_string(),
                        None => "seconds left".to_string(),
                    };
                    eprintln!(
                        "  [{:>5.1} s] {stack} probes: {}/{} done, running: {}; {remaining}",
                        elapsed.as_secs_f64(),
                        probe::PROBES.len() - left.len(),
                        probe::PROBES.len(),
                        left.join(", ")
                    );
                }
            }
        }
    });
    FactsPlan::Probing(Probing {
        facts,
        watcher,
        started,
        key,
        cache,
    })
}

/// The facts to record (when the plan gives any) and the line that says
/// where they came from; a probe that failed is an error.
fn finish_facts(kind: StackKind, plan: FactsPlan) -> Result<(Option<probe::Facts>, String)> {
    let stack = kind.name();
    match plan {
        FactsPlan::NotRun(why) => Ok((None, format!("facts: {why}"))),
        FactsPlan::Cached(entry) => {
            let line = format!(
                "facts: from the cache ({}, probed {} ago)",
                entry.key.version,
                entry.age()
            );
            Ok((Some(entry.facts), line))
        }
        FactsPlan::Probing(p) => {
            let facts = match p.facts.join() {
                Ok(Ok(f)) => f,
                Ok(Err(e)) => bail!("{stack}: the summary probes failed: {e}"),
                Err(_) => bail!("{stack}: the summary probes panicked"),
            };
            let _ = p.watcher.join();
            let took = p.started.elapsed();
            let mut line = format!("facts: probed in {:.1} s", took.as_secs_f64());
            if let Some(root) = p.cache {
                let entry = facts_cache::Entry::new(p.key, took, facts.clone());
                match facts_cache::store(&root, &entry) {
                    Ok(path) => line.push_str(&format!("; cached in {}", path.display())),
                    Err(e) => line.push_str(&format!("; not cached: {e}")),
                }
            }
            Ok((Some(facts), line))
        }
    }
}

/// A stack's run: how it went, its cases for CI and the files it wrote.
struct Ran {
    outcome: Outcome,
    suite: ci::Suite,
    files: Vec<String>,
}

/// Runs the suite (and the probes, at the same time, for the whole suite)
/// on one stack, prints the failures, writes its captures and, for the
/// whole suite, its report and results file, and says what it wrote;
/// whether every verdict is what the reviewed lists expect.
fn run_stack(kind: StackKind, specs: Vec<(PathBuf, Spec)>, a: &ReplayArgs) -> Result<Ran> {
    let stack = kind.name();
    let known = known_source(a).load(stack)?;
    let Split { specs, na, jobs } = applicable(kind, specs, a);
    // Only a run of the whole suite may replace what reports/ records, so
    // only it needs the probes.
    let whole = a.paths.paths.is_empty();
    let version = timewait_conformance::versions::version(kind);
    let plan = start_facts(kind, a, whole, &version);
    let names: Vec<String> = specs.iter().map(|(_, s)| s.name.value.clone()).collect();
    let (results, wall) = run_suite(kind, specs, &known, jobs, stack);
    let mut captures = Vec::new();
    // A failure's exchange drawn beside its capture, for the reader of
    // the console (a whole suite also draws them under reports/).
    let mut drawn = Vec::new();
    for r in &results {
        println!("{stack:<14} {:<60} {}", r.name(), r.judgement.mark.name());
        if !r.judgement.mark.expected() && !r.judgement.why.is_empty() {
            println!("    {}", r.judgement.why);
        }
        match &r.run {
            Err(_) => {}
            Ok(run) => {
                let path = a.out.join(stack).join(format!("{}.pcap", r.name()));
                match pcap::write(&path, &run.frames, r.started) {
                    Ok(()) => captures.push(path.clone()),
                    Err(e) => println!("    cannot write the capture: {e}"),
                }
                let shown = a.verbose || run.replay.failure.is_some();
                if let Some(f) = &run.replay.failure {
                    println!("    {}:{}:{}: {f}", r.path.display(), f.line, f.column);
                    println!("    capture: {}", path.display());
                    if let Some((_, _, d)) = report::diagrams(stack, std::slice::from_ref(r)).pop()
                    {
                        let svg = path.with_extension("svg");
                        match std::fs::write(&svg, d.to_svg()) {
                            Ok(()) => {
                                println!("    diagram: {}", svg.display());
                                drawn.push(svg);
                            }
                            Err(e) => {
                                println!("    cannot write the diagram {}: {e}", svg.display())
                            }
                        }
                    }
                }
                if shown {
                    for line in &run.replay.log {
                        println!("      {line}");
                    }
                }
            }
        }
    }
    let mut summary = report::summarize(&results);
    let about = format!(
        "{} Network MSL {}: the specs' `msl` durations mean this; `tw` durations scale to the stack's own TIME-WAIT.",
        timewait_conformance::versions::about(kind, &version),
        a.msl
    );
    // Once the whole suite ran, an entry naming no spec in it is stale too.
    let mut stale_entries = Vec::new();
    let mut cases: Vec<ci::Case> = results
        .iter()
        .map(|r| ci::cases::replay(stack, r))
        .collect();
    cases.extend(na.iter().map(|(_, s)| ci::cases::not_applicable(stack, s)));
    if whole {
        let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
        all.extend(na.iter().map(|(_, s)| s.name.value.as_str()));
        for e in known::unknown_specs(&known, &all) {
            println!(
                "{}:{}: STALE known entry: no spec named {} in the suite",
                known_source(a).path(stack).display(),
                e.line,
                e.spec
            );
            stale_entries.push(e.spec.clone());
            cases.push(ci::cases::stale_entry(
                stack,
                &known_source(a).path(stack),
                e.line,
                &e.spec,
            ));
        }
        summary.stale_known += stale_entries.len();
    }
    let counts = format!(
        "{stack}: {} specs in {:.1} s: {summary}. {}",
        results.len(),
        wall.as_secs_f64(),
        report::lateness_line(&results),
    );
    println!("\n{counts}");
    let (probed, facts_line) = finish_facts(kind, plan)?;
    println!("{facts_line}");
    let outcome = Outcome::of(&summary, !stale_entries.is_empty());
    let ran = |files| Ran {
        outcome,
        suite: ci::Suite {
            name: stack.into(),
            counts,
            cases,
            wall,
        },
        files,
    };
    let mut wrote: Vec<String> = Vec::new();
    if !whole {
        wrote.extend(captures.iter().map(|p| p.display().to_string()));
        wrote.extend(drawn.iter().map(|p| p.display().to_string()));
        print_written(&wrote);
        println!(
            "(a subset of the specs: the report, the record and the findings under {} are left as they are)",
            a.reports.display()
        );
        // The summary names the diagrams one by one, the captures by folder.
        let mut files = Vec::new();
        if !captures.is_empty() {
            files.push(format!(
                "{} captures under {}",
                captures.len(),
                a.out.join(stack).display()
            ));
        }
        files.extend(drawn.iter().map(|p| p.display().to_string()));
        return Ok(ran(files));
    }
    if !captures.is_empty() {
        wrote.push(format!(
            "{} captures under {}",
            captures.len(),
            a.out.join(stack).display()
        ));
    }
    if !drawn.is_empty() {
        wrote.push(format!(
            "{} diagrams of failed steps under {}",
            drawn.len(),
            a.out.join(stack).display()
        ));
    }
    let path = a.reports.join(format!("conformance-{stack}.md"));
    let md = report::markdown(stack, &about, &results, wall);
    std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
    wrote.push(path.display().to_string());
    let diagrams = report::write_diagrams(&a.reports, stack, &results)
        .with_context(|| format!("cannot write the diagrams under {}", a.reports.display()))?;
    if !diagrams.is_empty() {
        wrote.push(format!(
            "{} diagrams of the runs that did not pass under {}",
            diagrams.len(),
            a.reports.join("diagrams").join(stack).display()
        ));
    }
    // The findings' evidence is what the stack does at the default MSL.
    // A reports folder without findings (`--reports` elsewhere) has no
    // evidence to refresh; one that has them must refresh cleanly.
    let findings_dir = a.reports.join("findings");
    if a.msl == suite::DEFAULT_MSL && findings_dir.exists() {
        let root = std::env::current_dir().context("cannot read the current directory")?;
        for path in findings::refresh_dir(kind, &results, &findings_dir, &root)? {
            wrote.push(format!("{} (refreshed evidence)", path.display()));
        }
    } else if a.msl == suite::DEFAULT_MSL {
        println!(
            "no findings under {}: no evidence to refresh",
            a.reports.display()
        );
    }
    let root = std::env::current_dir().context("cannot read the current directory")?;
    let mut records: Vec<_> = results
        .iter()
        .map(|r| results::record(r, &known, &root))
        .collect();
    records.extend(na.iter().map(|(p, s)| results::not_applicable(p, s, &root)));
    records.sort_by(|x, y| x.name.cmp(&y.name));
    let facts = match probed {
        Some(f) => Some(f),
        // Without probes the recorded facts stay as they were.
        None => match results::load(&a.reports, stack) {
            Ok(r) => r.facts,
            Err(results::RecordError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    let out = StackResults {
        stack: stack.into(),
        title: kind.title().into(),
        clock: match kind.clock() {
            Clock::Real => "real".into(),
            Clock::Virtual => "virtual".into(),
        },
        about,
        version,
        msl_ms: a.msl.to_ms(0, 0),
        specs: records,
        facts,
    };
    let path = results_path(&a.reports, kind);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(&out)? + "\n";
    std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
    wrote.push(path.display().to_string());
    print_written(&wrote);
    Ok(ran(wrote))
}

/// Says what a stack's run wrote, one path (or group of captures) a line.
fn print_written(wrote: &[String]) {
    if wrote.is_empty() {
        println!("wrote nothing");
        return;
    }
    println!("wrote:");
    for w in wrote {
        println!("  {w}");
    }
}

/// `timewait bench replay`: round trips against the bare wire, and specs
/// per second for specs without waits.
pub fn bench(n: usize) -> Result<ExitCode> {
    use timewait_conformance::bench;
    use timewait_specs::format::Step;
    if let Err(why) = linux::netns::available() {
        eprintln!("error: cannot run the Linux harness: {why}");
        return Ok(ExitCode::from(2));
    }
    let rt = bench::round_trips(n).map_err(anyhow::Error::msg)?;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (t50, t99) = (
        bench::quantile(&rt.tcp, 0.5),
        bench::quantile(&rt.tcp, 0.99),
    );
    let (w50, w99) = (
        bench::quantile(&rt.wire, 0.5),
        bench::quantile(&rt.wire, 0.99),
    );
    println!("round trips ({n} each, same namespace, same run):");
    println!(
        "  baseline: frame into the SUT's TAP device, no TCP: median {:.1} us, p99 {:.1} us",
        us(w50),
        us(w99)
    );
    println!(
        "  inject SYN -> SYN-ACK from a listening socket: median {:.1} us ({:.1}x baseline), p99 {:.1} us ({:.1}x)",
        us(t50),
        us(t50) / us(w50).max(1e-9),
        us(t99),
        us(t99) / us(w99).max(1e-9)
    );
    // Specs without waits, one after another, each in a new namespace.
    let (specs, _) = load_all(&crate::cli::SpecPaths { paths: Vec::new() })?;
    let quick: Vec<_> = specs
        .iter()
        .filter(|(_, s)| {
            s.steps.iter().all(|st| match &st.value {
                Step::Wait(_) | Step::ExpectNone(_) => false,
                Step::Expect(e) => e.after.is_none(),
                _ => true,
            })
        })
        .cloned()
        .collect();
    let count = quick.len();
    let started = Instant::now();
    let mut spec_time = Duration::ZERO;
    for (path, spec) in quick {
        let r = suite::run_one(path, spec, StackKind::Linux, None);
        if let Ok(run) = &r.run {
            spec_time += run.replay.elapsed;
        }
    }
    let wall = started.elapsed();
    println!(
        "specs without waits: {count} in {:.2} s = {:.1} specs/s one after another ({:.3} s of it inside the specs; the rest is namespace set-up and the model's prediction)",
        wall.as_secs_f64(),
        count as f64 / wall.as_secs_f64().max(1e-9),
        spec_time.as_secs_f64()
    );
    per_stack(n.min(500), &specs)?;
    Ok(ExitCode::SUCCESS)
}

/// Per stack: one inject -> reply exchange (median, p99, against Linux's in
/// the same run), then the whole suite: specs per second and wall time
/// against the sum of the specs' scripted time. Real-time stacks other than
/// Linux give their exchange figures only (their suite takes as long as
/// Linux's).
fn per_stack(n: usize, specs: &[(PathBuf, Spec)]) -> Result<()> {
    use timewait_conformance::bench;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let kinds: Vec<StackKind> = StackKind::ALL
        .into_iter()
        .filter(|k| *k != StackKind::LinuxRfc1337)
        .collect();
    println!("\nper stack ({n} exchanges each: inject SYN -> SYN-ACK, wall clock; ratios against Linux in this run):");
    let mut base = None;
    for kind in &kinds {
        if let Some(why) = kind.unavailable() {
            println!("  {:<10} not run: {why}", kind.name());
            continue;
        }
        let x = bench::exchanges(*kind, n).map_err(anyhow::Error::msg)?;
        let (m, p) = (bench::quantile(&x, 0.5), bench::quantile(&x, 0.99));
        let (bm, bp) = *base.get_or_insert((m, p));
        println!(
            "  {:<10} median {:>7.1} us ({:>5.2}x), p99 {:>7.1} us ({:>5.2}x)",
            kind.name(),
            us(m),
            us(m) / us(bm).max(1e-9),
            us(p),
            us(p) / us(bp).max(1e-9)
        );
    }
    println!("\nwhole suites ({} specs; wall time against the specs' own time, which is what a real clock would cost):", specs.len());
    let mut virtual_wall = Duration::ZERO;
    for kind in [
        StackKind::Linux,
        StackKind::Smoltcp,
        StackKind::Lwip,
        StackKind::Gvisor,
    ] {
        if kind.unavailable().is_some() {
            continue;
        }
        let t = bench::suite_timing(kind, specs);
        if kind.clock() == Clock::Virtual {
            virtual_wall += t.wall;
        }
        println!(
            "  {:<10} {:>7.3} s wall for {:>6.1} s of spec time ({:>8.0}x faster than real time), {:>8.1} specs/s{}",
            kind.name(),
            t.wall.as_secs_f64(),
            t.spec_time.as_secs_f64(),
            t.spec_time.as_secs_f64() / t.wall.as_secs_f64().max(1e-9),
            t.specs as f64 / t.wall.as_secs_f64().max(1e-9),
            if t.jobs == 1 { ", one after another" } else { ", all at once" }
        );
    }
    println!(
        "  the virtual-time suites together: {:.3} s wall (target: under 2 s)",
        virtual_wall.as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::changed_verdicts;

    fn seen(runs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        runs.iter()
            .map(|(n, v)| (n.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn a_spec_that_passed_once_and_diverged_once_is_a_changed_verdict_with_its_runs() {
        let s = seen(&[
            ("steady", &["pass", "pass", "pass"]),
            (
                "flaky",
                &["pass", "DIVERGES (stack fails at step 9: nothing)", "pass"],
            ),
        ]);
        let got = changed_verdicts(&s);
        assert_eq!(
            got,
            vec![(
                "flaky",
                vec![
                    ("DIVERGES (stack fails at step 9: nothing)", vec![2]),
                    ("pass", vec![1, 3])
                ]
            )]
        );
    }

    #[test]
    fn a_timing_invalid_run_is_no_verdict_and_changes_none() {
        let s = seen(&[("late-once", &["pass", "timing invalid (rerun)", "pass"])]);
        assert!(changed_verdicts(&s).is_empty());
    }

    #[test]
    fn the_same_mark_with_another_departure_is_a_change() {
        let s = seen(&[(
            "moved",
            &[
                "diverges (known) (stack fails at step 11: nothing)",
                "diverges (known) (stack fails at step 12: nothing)",
            ],
        )]);
        assert_eq!(changed_verdicts(&s).len(), 1);
    }
}
