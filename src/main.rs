//! The `timewait` binary: wires the model (and, later, specs and conformance)
//! to the command line. Exit codes: 0 every verdict as expected, 1 a verdict
//! differs from its expectation or is incomplete, 2 usage or parameter error.

mod bench;
mod ci;
mod cli;
mod isns_cmd;
mod losses_cmd;
mod output;
mod packetdrill_cmd;
mod replay_cmd;
mod scope_cmd;
mod specs_cmd;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{CheckArgs, Cli, Command, ExploreArgs};
use std::io::Write;
use std::process::ExitCode;
use timewait_model::check::{self, Progress};
use timewait_model::{Preset, PropertyId, TeardownModel};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli
        .command
        .unwrap_or_else(|| Command::Check(CheckArgs::default_run()));
    let result = match command {
        Command::Check(a) => run_check(a),
        Command::Explore(a) => run_explore(a),
        Command::Bench(a) => bench::run(a),
        Command::Losses(a) => losses_cmd::run(a),
        Command::Isns(a) => isns_cmd::run(a),
        Command::Scope(a) => scope_cmd::run(a),
        Command::Specs(c) => specs_cmd::run(c),
        Command::Replay(a) => replay_cmd::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

impl CheckArgs {
    /// `timewait` with no arguments: every variant, default parameters.
    fn default_run() -> CheckArgs {
        CheckArgs::parse_from(["check"])
    }

    fn parse_from<I: IntoIterator<Item = &'static str>>(args: I) -> CheckArgs {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            inner: CheckArgs,
        }
        Wrapper::parse_from(args).inner
    }
}

pub(crate) fn progress_line(quiet: bool) -> impl FnMut(&Progress) {
    move |p: &Progress| {
        if quiet {
            return;
        }
        let secs = p.elapsed.as_secs_f64();
        eprintln!(
            "  [{} / {}] {}: {} states, {} unique, depth {}, {:.1} s, {:.0} states/s",
            p.variant,
            p.property.name(),
            p.phase,
            p.states,
            p.unique_states,
            p.max_depth,
            secs,
            p.states as f64 / secs.max(1e-9)
        );
    }
}

fn run_check(a: CheckArgs) -> Result<ExitCode> {
    let limits = a.limits.limits()?;
    let presets = cli::presets_or_all(&a.variants);
    let properties: Vec<PropertyId> = if a.properties.is_empty() {
        PropertyId::ALL.to_vec()
    } else {
        a.properties.clone()
    };
    let variants = presets
        .iter()
        .map(|&p| a.model.variant(p))
        .collect::<Result<Vec<_>>>()?;
    let with_expectations = a.model.is_default();
    let mut progress = progress_line(a.quiet);
    let started = std::time::Instant::now();
    let mut reports = Vec::new();
    for v in &variants {
        if !a.quiet {
            eprintln!("checking {} ...", v.name);
        }
        reports.extend(check::check_variant(
            v,
            &properties,
            with_expectations,
            &limits,
            &mut progress,
        ));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &reports).context("writing JSON")?;
        writeln!(out)?;
    } else {
        write!(out, "{}", output::table(&reports))?;
        // Witnesses only when properties were picked: with all of them the
        // screen would fill with paths that are in the report anyway.
        let witnesses = !a.properties.is_empty();
        write!(out, "{}", output::counterexamples(&reports, witnesses))?;
        if !with_expectations {
            writeln!(
                out,
                "\n(non-default parameters: expected verdicts are stated for the defaults only)"
            )?;
        }
    }
    let mut ci_run = ci::Run::new(ci::command_line());
    if let Some(path) = &a.report {
        let command = ci::command_line();
        // The hazard beyond the default scope, traced afresh for the report
        // when the report is of the default configuration.
        let beyond = match variants.iter().find(|v| v.preset == Some(Preset::Rfc1337)) {
            Some(v) if with_expectations => {
                if !a.quiet {
                    eprintln!("checking rfc1337 --last-closes for the report ...");
                }
                let mut talking = v.clone();
                talking.cfg.last_closes = true;
                talking.name = format!("{} --last-closes", v.name);
                Some(check::check_property(
                    &talking,
                    PropertyId::NoCrossIncarnationDelivery,
                    None,
                    &limits,
                    &mut progress,
                ))
            }
            _ => None,
        };
        let mut md = output::markdown(&reports, beyond.as_ref(), &variants[0].cfg, &command);
        // The scope table is `timewait scope`'s: keep it.
        // A report not written yet has no table to keep.
        match std::fs::read_to_string(path) {
            Ok(old) => {
                if let Some(block) = scope_cmd::kept_block(&old) {
                    md.push_str(&format!("{block}\n"));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, md).with_context(|| format!("writing {}", path.display()))?;
        if !a.quiet {
            eprintln!("wrote {}", path.display());
        }
        ci_run.files.push(path.display().to_string());
    }
    let incomplete = reports
        .iter()
        .filter(|r| r.verdict == timewait_model::Verdict::Incomplete)
        .count();
    let differ = reports
        .iter()
        .filter(|r| !r.as_expected() && r.verdict != timewait_model::Verdict::Incomplete)
        .count();
    ci_run.suites.push(ci::Suite {
        name: "check".into(),
        counts: format!(
            "{} verdicts: {} as expected, {differ} not as expected, {incomplete} incomplete",
            reports.len(),
            reports.len() - differ - incomplete
        ),
        cases: reports.iter().map(ci::cases::verdict).collect(),
        wall: started.elapsed(),
    });
    ci::finish(&ci_run, &a.ci)?;
    let all_ok = reports
        .iter()
        .all(|r| r.as_expected() && r.verdict != timewait_model::Verdict::Incomplete);
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_explore(a: ExploreArgs) -> Result<ExitCode> {
    use stateright::Model;
    let v = a.model.variant(a.variant)?;
    let addr = format!("127.0.0.1:{}", a.port);
    // stateright panics if it cannot bind; say why instead.
    drop(
        std::net::TcpListener::bind(&addr)
            .with_context(|| format!("cannot listen on {addr} (is the port in use? try --port)"))?,
    );
    eprintln!(
        "serving stateright Explorer for {} on http://{addr}/ (Ctrl-C to stop)",
        v.name
    );
    let model = TeardownModel::observing_all(v.cfg);
    let _ = model.checker().serve(addr.as_str());
    Ok(ExitCode::SUCCESS)
}
