//! `timewait specs`: lint spec files, check them against the model oracle,
//! print the JSON Schema; packetdrill import and export are in
//! `packetdrill_cmd`. Exit codes: 0 fine, 1 a spec disagrees with the
//! model, 2 invalid specs or usage.

use crate::ci;
use crate::cli::{GenArgs, SchemaArgs, SpecCheckArgs, SpecPaths, SpecsCommand};
use crate::packetdrill_cmd;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use timewait_model::Preset;
use timewait_specs::oracle::{self, Outcome};
use timewait_specs::{load, Spec};

pub fn run(c: SpecsCommand) -> Result<ExitCode> {
    match c {
        SpecsCommand::Lint(p) => lint(&p),
        SpecsCommand::Check(a) => check(&a),
        SpecsCommand::Schema(a) => schema(&a),
        SpecsCommand::Gen(a) => gen(&a),
        SpecsCommand::Import(a) => packetdrill_cmd::import(&a),
        SpecsCommand::Export(a) => packetdrill_cmd::export(&a),
    }
}

/// Loads every spec under `paths`, printing every problem; returns the
/// valid specs and how many files were invalid.
pub fn load_all(paths: &SpecPaths) -> Result<(Vec<(PathBuf, Spec)>, usize)> {
    let (ok, bad) = load_reporting(paths)?;
    Ok((ok, bad.len()))
}

/// A spec file that does not load, with its problems as printed.
type Invalid = (PathBuf, Vec<String>);

/// The specs that load, and the files that do not.
type Loaded = (Vec<(PathBuf, Spec)>, Vec<Invalid>);

/// [`load_all`], keeping each invalid file's problems.
fn load_reporting(paths: &SpecPaths) -> Result<Loaded> {
    let files = load::collect(&paths.or_default()).context("cannot list the spec files")?;
    if files.is_empty() {
        anyhow::bail!("no .yaml files under {:?}", paths.or_default());
    }
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for f in files {
        match load::load_file(&f) {
            Ok(spec) => ok.push((f, spec)),
            Err(e) => {
                let problems: Vec<String> = e.diagnostics().iter().map(|d| d.to_string()).collect();
                for d in &problems {
                    eprintln!("{d}");
                }
                bad.push((f, problems));
            }
        }
    }
    Ok((ok, bad))
}

fn lint(paths: &SpecPaths) -> Result<ExitCode> {
    let (mut ok, mut bad) = load_all(paths)?;
    // A spec that reads well can still claim what the model does not do.
    ok.retain(|(file, spec)| {
        let errors = oracle::claim_errors(file, spec);
        for d in &errors {
            eprintln!("{d}");
        }
        bad += usize::from(!errors.is_empty());
        errors.is_empty()
    });
    println!("{} specs valid, {} invalid", ok.len(), bad);
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn check(a: &SpecCheckArgs) -> Result<ExitCode> {
    let (specs, invalid) = load_reporting(&a.paths)?;
    let bad = invalid.len();
    let mut cases: Vec<ci::Case> = invalid
        .iter()
        .map(|(f, problems)| ci::cases::invalid(f, problems))
        .collect();
    let started = std::time::Instant::now();
    let mut disagreeing = 0;
    let width = specs
        .iter()
        .map(|(_, s)| s.name.value.len())
        .max()
        .unwrap_or(4)
        .max(4);
    print!("{:width$}", "spec");
    for p in Preset::ALL {
        print!("  {}", short(p));
    }
    println!();
    for (file, spec) in &specs {
        let c = oracle::check(spec);
        cases.extend(
            c.runs
                .iter()
                .filter_map(|r| ci::cases::assertion(file, spec, r)),
        );
        print!("{:width$}", spec.name.value);
        for r in &c.runs {
            let cell = match (oracle::expectation(spec, r.preset), r.outcome.passed()) {
                (Some(true), true) | (Some(false), false) => {
                    if r.outcome.passed() {
                        "pass"
                    } else {
                        "fail"
                    }
                }
                (Some(_), true) => "PASS!",
                (Some(_), false) => "FAIL!",
                (None, true) => "(pass)",
                (None, false) => "(fail)",
            };
            print!("  {:>w$}", cell, w = short(r.preset).len());
        }
        println!();
        if !c.disagreements.is_empty() {
            disagreeing += 1;
        }
        for r in &c.runs {
            let wrong = c.disagreements.contains(&r.preset);
            if !(wrong || a.verbose) {
                continue;
            }
            let want = match oracle::expectation(spec, r.preset) {
                Some(true) => "must pass",
                Some(false) => "must fail",
                None => "not listed",
            };
            println!(
                "  {}: {} under {} ({want}):",
                file.display(),
                spec.name.value,
                r.preset
            );
            match &r.outcome {
                Outcome::Pass => println!("    passes every step"),
                Outcome::Fail(f) => println!("    {}:{}:{}: {f}", file.display(), f.line, f.column),
            }
            for line in &r.log {
                println!("      {line}");
            }
        }
    }
    let counts = format!(
        "{} specs checked against {} variants: {} agree with their `model` section, {} disagree{}",
        specs.len(),
        Preset::ALL.len(),
        specs.len() - disagreeing,
        disagreeing,
        if bad > 0 {
            format!(", {bad} invalid")
        } else {
            String::new()
        }
    );
    println!("\n{counts}");
    println!("cells: pass/fail as the spec says; PASS!/FAIL! contradict it; (pass)/(fail) not listed in the spec");
    let mut run = ci::Run::new(ci::command_line());
    run.suites.push(ci::Suite {
        name: "specs check".into(),
        counts,
        cases,
        wall: started.elapsed(),
    });
    ci::finish(&run, &a.ci)?;
    Ok(if bad > 0 {
        ExitCode::from(2)
    } else if disagreeing > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Column headers short enough for a terminal.
fn short(p: Preset) -> &'static str {
    match p {
        Preset::Rfc9293 => "rfc9293",
        Preset::Rfc1337 => "rfc1337",
        Preset::Linux => "linux",
        Preset::LinuxRfc1337 => "linux-1337",
        Preset::LinuxMsl120 => "linux-msl120",
        Preset::LinuxTimestamps => "linux-ts",
        Preset::NoTimeWait => "no-tw",
        Preset::ShortTimeWait => "short-tw",
        Preset::RstKillsTimeWait => "rst-kills",
        Preset::SynReopensTimeWaitUnchecked => "syn-unchecked",
        Preset::TimeWaitRestartFinOnly => "restart-fin",
        Preset::LinuxTwReuse => "linux-tw-reuse",
        Preset::Rfc6191 => "rfc6191",
    }
}

fn schema(a: &SchemaArgs) -> Result<ExitCode> {
    let json = timewait_specs::schema::json();
    match &a.output {
        Some(p) => {
            std::fs::write(p, json).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => print!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn gen(a: &GenArgs) -> Result<ExitCode> {
    let msl = timewait_specs::values::Duration::parse(&a.msl)
        .map_err(|e| anyhow::anyhow!("--msl: {e}"))?;
    let opts = timewait_specs::gen::GenOptions {
        msl,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let reviewed = if a.reviewed.is_dir() {
        let (specs, bad) = load_all(&SpecPaths {
            paths: vec![a.reviewed.clone()],
        })?;
        if bad > 0 {
            anyhow::bail!("{bad} reviewed specs are invalid; fix them first");
        }
        specs
    } else {
        Vec::new()
    };
    let files = timewait_specs::gen::files(&opts, &reviewed, &mut |m: &str| {
        eprintln!("  [{:>5.1} s] {m}", started.elapsed().as_secs_f64())
    });
    let mut stale = Vec::new();
    for (name, text) in &files.files {
        let path = a.out.join(name);
        // A missing file is stale; one that cannot be read is an error.
        let current = match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if current.as_deref() != Some(text.as_str()) {
            stale.push(path.clone());
            if !a.check {
                std::fs::create_dir_all(&a.out)
                    .with_context(|| format!("cannot create {}", a.out.display()))?;
                std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
    }
    let wanted: Vec<PathBuf> = files.files.iter().map(|(n, _)| a.out.join(n)).collect();
    if a.out.is_dir() {
        for old in
            load::collect(std::slice::from_ref(&a.out)).context("cannot list the output folder")?
        {
            if !wanted.contains(&old) {
                stale.push(old.clone());
                if !a.check {
                    std::fs::remove_file(&old)
                        .with_context(|| format!("cannot remove {}", old.display()))?;
                }
            }
        }
    }
    if let Some((_, table)) = files.files.iter().find(|(n, _)| n == "coverage.md") {
        let upto = table.find("\n## ").unwrap_or(table.len());
        println!("{}", &table[..upto]);
    }
    print!("{}", files.summary);
    println!(
        "{} files in {}, {} {} ({:.1} s)",
        files.files.len(),
        a.out.display(),
        stale.len(),
        if a.check {
            "differ"
        } else {
            "written or removed"
        },
        started.elapsed().as_secs_f64()
    );
    if a.check && !stale.is_empty() {
        for p in &stale {
            println!("  differs: {}", p.display());
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
