//! `timewait replay`: runs specs against a real stack, all at once by
//! default, prints progress and each failure with its exchange, writes a
//! pcap per spec and the Markdown report.

use crate::cli::{ReplayArgs, StackArg};
use crate::specs_cmd::load_all;
use anyhow::{bail, Context, Result};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use timewait_conformance::stack::{Clock, StackKind};
use timewait_conformance::{known, linux, pcap, report, suite};

pub fn run(a: ReplayArgs) -> Result<ExitCode> {
    let kind = match a.stack {
        StackArg::Linux => StackKind::Linux,
        StackArg::Smoltcp => StackKind::Smoltcp,
    };
    let stack = kind.name();
    if let Some(why) = kind.unavailable() {
        eprintln!("error: cannot run the {stack} harness: {why}");
        return Ok(ExitCode::from(2));
    }
    let (specs, bad) = load_all(&a.paths)?;
    if bad > 0 {
        bail!("{bad} specs are invalid; `timewait specs lint` shows why");
    }
    let known = known::load(&a.known, stack).map_err(anyhow::Error::msg)?;
    let jobs = a.jobs.unwrap_or(specs.len()).max(1);
    let how = match kind.clock() {
        Clock::Real => "real time, each in its own network namespace",
        Clock::Virtual => "a virtual clock, in this process",
    };
    eprintln!(
        "replaying {} specs on {stack}, {jobs} at a time ({how})",
        specs.len()
    );
    let started = Instant::now();
    let mut last = (usize::MAX, usize::MAX);
    let results = suite::run_all(specs, kind, jobs, Duration::from_secs(5), &mut |p| {
        if (p.done, p.running) != last {
            last = (p.done, p.running);
            eprintln!(
                "  [{:>5.1} s] {}/{} done, {} running, {} not passing",
                started.elapsed().as_secs_f64(),
                p.done,
                p.total,
                p.running,
                p.failed
            );
        }
    });
    let wall = started.elapsed();
    for r in &results {
        let verdict = r.verdict.as_ref().map_or("harness error", |v| v.name());
        println!("{:<60} {}", r.name(), verdict);
        match &r.run {
            Err(e) => println!("    {e}"),
            Ok(run) => {
                let path = a.out.join(stack).join(format!("{}.pcap", r.name()));
                if let Err(e) = pcap::write(&path, &run.frames, r.started) {
                    println!("    cannot write the capture: {e}");
                }
                let shown = a.verbose || run.replay.failure.is_some();
                if let Some(f) = &run.replay.failure {
                    println!("    {}:{}:{}: {f}", r.path.display(), f.line, f.column);
                    println!("    capture: {}", path.display());
                }
                if shown {
                    for line in &run.replay.log {
                        println!("      {line}");
                    }
                }
            }
        }
    }
    let summary = report::summarize(&results, &known);
    let about = match kind {
        StackKind::Linux => format!(
            "Kernel {}. Each spec runs with its own profile (sysctls), and is compared with the model variant that describes Linux with that profile.",
            kernel_release()
        ),
        StackKind::Smoltcp => "smoltcp 0.12 on a virtual clock. smoltcp has no model variant of its own: each spec is compared with the RFC model (rfc1337), so a divergence is where smoltcp departs from RFC behaviour, as far as this first adapter shows it (its findings are not reviewed yet).".to_string(),
    };
    let md = report::markdown(stack, &about, &results, &known, wall);
    let path = a
        .report
        .clone()
        .unwrap_or_else(|| format!("reports/conformance-{stack}.md").into());
    std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "\n{} specs in {:.1} s: {} pass, {} fail as predicted, {} known divergences, {} unexpected divergences, {} harness errors, {} stale known entries; report {}",
        results.len(),
        wall.as_secs_f64(),
        summary.pass,
        summary.fail_as_predicted,
        summary.known_divergences,
        summary.divergences,
        summary.harness_errors,
        summary.stale_known,
        path.display()
    );
    Ok(if summary.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
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
        "  baseline: frame across the veth pair, no TCP: median {:.1} us, p99 {:.1} us",
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
        .into_iter()
        .filter(|(_, s)| {
            s.steps.iter().all(|st| match &st.value {
                Step::Wait(_) | Step::ExpectNone(_) => false,
                Step::Expect(e) => e.after.is_none(),
                _ => true,
            })
        })
        .collect();
    let count = quick.len();
    let started = Instant::now();
    let mut spec_time = Duration::ZERO;
    for (path, spec) in quick {
        let r = suite::run_one(path, spec, StackKind::Linux);
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
    println!("the whole suite's wall time against its spec time: see the header of reports/conformance-linux.md");
    Ok(ExitCode::SUCCESS)
}
