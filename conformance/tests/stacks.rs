//! Every (stack, spec) pair of the virtual-time stacks as its own test
//! (`smoltcp::NAME`, `lwip::NAME`, `gvisor::NAME`, and `smoltcp-agent::NAME`
//! for the worked-example agent), plus each stack's summary facts
//! (`STACK::facts`) and the matrix report (`matrix::current`).
//!
//! A spec test passes when the stack does exactly what the committed
//! record (reports/results/STACK.json) says it does: so a change in the
//! stack, the harness or a spec that alters a verdict is noticed, and
//! `timewait replay --stack STACK` rewrites the record for review. A stack
//! whose system packages are missing has its tests ignored, with the
//! install hint printed.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::PathBuf;
use std::process::Command;
use timewait_conformance::agent::AgentStack;
use timewait_conformance::results::{self, SpecRecord, StackResults};
use timewait_conformance::stack::{Clock, StackKind, StackRun};
use timewait_conformance::suite::{self, SpecResult};
use timewait_conformance::{engine, findings, known, matrix, probe};
use timewait_specs::{load, Spec};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn specs() -> Vec<(PathBuf, Spec)> {
    let dirs = [
        root().join("specs/reviewed"),
        root().join("specs/generated"),
    ];
    load::collect(&dirs)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| load::load_file(&p).ok().map(|s| (p, s)))
        .collect()
}

fn committed(stack: &str) -> Result<StackResults, String> {
    let path = root().join(format!("reports/results/{stack}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn known_for(stack: &str) -> known::Known {
    known::load(&root().join("conformance/known"), stack).unwrap_or_default()
}

/// The record of `spec`'s run, as `timewait replay` would write it.
fn record_of(kind: StackKind, result: SpecResult) -> SpecRecord {
    let root = root().canonicalize().unwrap_or_else(|_| root());
    let mut r = result;
    r.path = r.path.canonicalize().unwrap_or(r.path);
    results::record(&r, &known_for(kind.name()), &root)
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
        eprintln!("{stack}: tests ignored: {why}");
    }
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
            let r = suite::run_one(path, spec, kind);
            compare(stack, &record_of(kind, r), want.as_ref())
        });
        out.push(t.with_ignored_flag(unavailable.is_some()));
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
    out.push(t.with_ignored_flag(unavailable.is_some()));
}

fn main() {
    let args = Arguments::from_args();
    let specs = specs();
    let mut trials = Vec::new();
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
                let r = suite::run_with(path, spec, StackKind::Smoltcp, smoltcp_agent_run);
                compare("smoltcp", &record_of(StackKind::Smoltcp, r), want.as_ref())
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
                let spec = load::load_file(&repo.join(&e.spec)).ok()?;
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
