//! Every (stack, spec) pair of the virtual-time stacks as its own test
//! (`smoltcp::NAME`, `lwip::NAME`, `gvisor::NAME`, and `smoltcp-agent::NAME`
//! for the worked-example agent), plus each stack's summary facts
//! (`STACK::facts`) and the matrix report (`matrix::current`).
//!
//! A spec test fails on a verdict of `diverges`, a harness error or a
//! stale known entry (conformance/src/verdict.rs judges); then, the record
//! being an output, it checks that the committed record
//! (reports/results/STACK.json) is what `timewait replay --stack STACK`
//! writes for the run. A stack whose system packages are missing has its
//! tests ignored, with the install hint printed (under CI=true they fail).

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::PathBuf;
use std::process::Command;
use timewait_conformance::backends::agent::AgentStack;
use timewait_conformance::results::{self, SpecRecord, StackResults};
use timewait_conformance::stack::{self, Clock, StackKind, StackRun};
use timewait_conformance::suite::{self, SpecResult};
use timewait_conformance::{engine, findings, known, matrix, probe};
use timewait_specs::{load, Spec};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every committed spec, and every error reading one (each becomes a
/// failing test instead of vanishing from the suite).
fn specs() -> (Vec<(PathBuf, Spec)>, Vec<String>) {
    let dirs = [
        root().join("specs/reviewed"),
        root().join("specs/generated"),
    ];
    let paths = match load::collect(&dirs) {
        Ok(p) => p,
        Err(e) => return (Vec::new(), vec![e.to_string()]),
    };
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for p in paths {
        match load::load_file(&p) {
            Ok(s) => ok.push((p, s.at_network_msl(suite::DEFAULT_MSL))),
            Err(e) => bad.push(e.to_string()),
        }
    }
    (ok, bad)
}

fn committed(stack: &str) -> Result<StackResults, String> {
    let path = root().join(format!("reports/results/{stack}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn known_for(stack: &str) -> Result<known::Known, String> {
    known::load(&root().join("conformance/known"), stack).map_err(|e| e.to_string())
}

/// The verdict first: `diverges`, a harness error and a stale known entry
/// fail, with both departures and the exchange.
fn verdict(stack: &str, r: &SpecResult) -> Result<(), Failed> {
    if r.judgement.mark.expected() {
        return Ok(());
    }
    let log = match &r.run {
        Ok(run) => run.replay.log.join("\n    "),
        Err(e) => e.clone(),
    };
    Err(format!(
        "{} on {stack}: {}\n    {log}",
        r.judgement.mark.name(),
        r.judgement.why
    )
    .into())
}

/// The record of `spec`'s run, as `timewait replay` would write it.
fn record_of(result: SpecResult, known: &known::Known) -> SpecRecord {
    let root = root().canonicalize().unwrap_or_else(|_| root());
    let mut r = result;
    r.path = r.path.canonicalize().unwrap_or(r.path);
    results::record(&r, known, &root)
}

/// Another way of running a spec on a stack (the smoltcp agent).
type Runner = fn(&Spec) -> Result<StackRun, String>;

/// Runs `spec` on `kind` (through `run` when given), judges it, and
/// checks the committed record against the run.
fn judged(
    kind: StackKind,
    record_stack: &str,
    path: PathBuf,
    spec: Spec,
    want: Option<&SpecRecord>,
    run: Option<Runner>,
) -> Result<(), Failed> {
    let known = known_for(record_stack)?;
    let entry = known.get(&spec.name.value).cloned();
    let r = match run {
        Some(f) => suite::run_with(path, spec, kind, entry.as_ref(), f),
        None => suite::run_one(path, spec, kind, entry.as_ref()),
    };
    verdict(record_stack, &r)?;
    compare(record_stack, &record_of(r, &known), want)
}

fn compare(stack: &str, got: &SpecRecord, want: Option<&SpecRecord>) -> Result<(), Failed> {
    let hint = format!(
        "if the change is intended, run `timewait replay --stack {stack}` (or `--stack all`) and review the diff of reports/"
    );
    match want {
        None => Err(format!("{} is not in reports/results/{stack}.json; {hint}", got.name).into()),
        Some(w) if w == got => Ok(()),
        Some(w) => Err(format!(
            "{stack} no longer does what the record says for {}:\n  recorded: {}\n  now:      {}\n{hint}",
            got.name,
            serde_json::to_string(w).unwrap_or_default(),
            serde_json::to_string(got).unwrap_or_default()
        )
        .into()),
    }
}

/// The smoltcp worked-example agent: the same smoltcp as `--stack smoltcp`,
/// behind the protocol; its verdicts must be smoltcp's.
fn smoltcp_agent_run(spec: &Spec) -> Result<StackRun, String> {
    let cmd = Command::new(env!("CARGO_BIN_EXE_timewait-smoltcp-agent"));
    let tw = StackKind::Smoltcp.time_wait();
    let mut s = AgentStack::start("smoltcp-agent", cmd, tw).map_err(|e| e.to_string())?;
    let replay = engine::replay(spec, &mut s).map_err(|e| e.to_string())?;
    Ok(StackRun {
        replay,
        frames: std::mem::take(&mut s.frames),
    })
}

fn trials_for(kind: StackKind, specs: &[(PathBuf, Spec)], out: &mut Vec<Trial>) {
    let stack = kind.name();
    let unavailable = kind.unavailable();
    if let Some(why) = &unavailable {
        if stack::skips_forbidden() {
            eprintln!("{stack}: cannot run under CI=true, so its tests fail: {why}");
        } else {
            eprintln!("{stack}: tests ignored: {why}");
        }
    }
    let ignored = unavailable.is_some() && !stack::skips_forbidden();
    let record = committed(stack);
    for (path, spec) in specs {
        let (path, spec) = (path.clone(), spec.clone());
        let want = record
            .as_ref()
            .ok()
            .and_then(|r| r.specs.iter().find(|s| s.name == spec.name.value).cloned());
        let missing = record.as_ref().err().cloned();
        let t = Trial::test(format!("{stack}::{}", spec.name.value), move || {
            if let Some(e) = missing {
                return Err(format!("no committed record: {e}").into());
            }
            if !suite::applies(&spec, kind) {
                let na = results::not_applicable(&path, &spec, &root());
                return compare(stack, &na, want.as_ref());
            }
            judged(kind, stack, path, spec, want.as_ref(), None)
        });
        out.push(t.with_ignored_flag(ignored));
    }
    let facts_want = record.ok().and_then(|r| r.facts);
    let t = Trial::test(format!("{stack}::facts"), move || {
        let got = probe::facts(kind)?;
        if got.time_wait_ms != Some(kind.time_wait().as_millis() as u64) {
            return Err(format!(
                "{stack}: measured TIME-WAIT {:?} ms, declared {:?} (StackKind::time_wait)",
                got.time_wait_ms,
                kind.time_wait()
            )
            .into());
        }
        if Some(&got) != facts_want.as_ref() {
            return Err(format!(
                "{stack}'s summary facts changed:\n  recorded: {facts_want:?}\n  now:      {got:?}\nrun `timewait replay --stack {stack}` and review"
            )
            .into());
        }
        Ok(())
    });
    out.push(t.with_ignored_flag(ignored));
}

fn main() {
    let args = Arguments::from_args();
    let (specs, unreadable) = specs();
    let mut trials = Vec::new();
    for (i, why) in unreadable.into_iter().enumerate() {
        trials.push(Trial::test(format!("specs::unreadable-{i}"), move || {
            Err(why.into())
        }));
    }
    for kind in [StackKind::Smoltcp, StackKind::Lwip, StackKind::Gvisor] {
        trials_for(kind, &specs, &mut trials);
    }
    let smoltcp = committed("smoltcp").ok();
    for (path, spec) in &specs {
        let (path, spec) = (path.clone(), spec.clone());
        let want = smoltcp
            .as_ref()
            .and_then(|r| r.specs.iter().find(|s| s.name == spec.name.value).cloned());
        trials.push(Trial::test(
            format!("smoltcp-agent::{}", spec.name.value),
            move || {
                if !suite::applies(&spec, StackKind::Smoltcp) {
                    let na = results::not_applicable(&path, &spec, &root());
                    return compare("smoltcp", &na, want.as_ref());
                }
                judged(
                    StackKind::Smoltcp,
                    "smoltcp",
                    path,
                    spec,
                    want.as_ref(),
                    Some(smoltcp_agent_run),
                )
            },
        ));
    }
    trials.push(Trial::test("findings::evidence-current", || {
        let repo = root();
        for path in findings::files(&repo.join("reports/findings")) {
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let mut missing = None;
            let fresh = findings::refresh(&text, |e| {
                let kind = StackKind::from_name(&e.stack)?;
                if kind.clock() != Clock::Virtual {
                    return None;
                }
                if let Some(why) = kind.unavailable() {
                    missing = Some(why);
                    return None;
                }
                let spec = load::load_file(&repo.join(&e.spec))
                    .ok()?
                    .at_network_msl(suite::DEFAULT_MSL);
                Some(findings::render(e, &suite::replay_on(&spec, kind)))
            })
            .map_err(|e| format!("{}: {e}", path.display()))?;
            if missing.is_none() && fresh != text {
                return Err(format!(
                    "{}: the evidence is not what the stack does now; run `timewait replay --stack STACK` and review",
                    path.display()
                )
                .into());
            }
        }
        Ok(())
    }));
    trials.push(Trial::test("matrix::current", || {
        let mut stacks = Vec::new();
        for kind in StackKind::ALL {
            if let Ok(r) = committed(kind.name()) {
                stacks.push(r);
            }
        }
        let path = root().join("reports/conformance.md");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if text != matrix::render(&stacks) {
            return Err(format!(
                "{} is stale: it is not what reports/results/*.json render to; run `timewait replay --stack all`",
                path.display()
            )
            .into());
        }
        Ok(())
    }));
    libtest_mimic::run(&args, trials).exit();
}
