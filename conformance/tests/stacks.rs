//! Every (stack, spec) pair of the virtual-time stacks as its own test
//! (`smoltcp::NAME`, `lwip::NAME`, `gvisor::NAME`, and `smoltcp-agent::NAME`
//! for the worked-example agent), plus each stack's summary facts
//! (`STACK::facts`), the matrix report (`matrix::current`) and each
//! finding's evidence (`findings::NAME`).
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
    results::load(&root().join("reports"), stack).map_err(|e| e.to_string())
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
    let facts_want = record.map(|r| r.facts);
    let t = Trial::test(format!("{stack}::facts"), move || {
        let facts_want = facts_want.map_err(|e| format!("no committed record: {e}"))?;
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

/// One test per finding (`findings::NAME`): its evidence blocks about the
/// virtual-time stacks are what those stacks do now. A finding about a
/// stack that cannot run here is ignored with the reason printed (failed
/// under CI=true); a finding or marker that cannot be read fails.
fn evidence_trials(out: &mut Vec<Trial>) {
    let repo = root();
    let dir = repo.join("reports/findings");
    let paths = match findings::files(&dir) {
        Ok(p) => p,
        Err(e) => {
            let e = e.to_string();
            out.push(Trial::test("findings::unreadable", move || Err(e.into())));
            return;
        }
    };
    for path in paths {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let name = format!("findings::{name}");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                let e = format!("{}: {e}", path.display());
                out.push(Trial::test(name, move || Err(e.into())));
                continue;
            }
        };
        // Which stacks the finding needs, known before the test runs so
        // that it can be ignored (not passed) when one is missing. Markers
        // that do not parse fail in `check_evidence`.
        let mut unavailable = Vec::new();
        if let Ok(blocks) = findings::blocks(&text) {
            for b in blocks {
                let why = StackKind::from_name(&b.stack)
                    .filter(|k| k.clock() == Clock::Virtual)
                    .and_then(StackKind::unavailable);
                if let Some(why) = why {
                    unavailable.push(format!("{}: {why}", b.stack));
                }
            }
        }
        let ignored = !unavailable.is_empty() && !stack::skips_forbidden();
        if !unavailable.is_empty() {
            let verdict = if ignored {
                "ignored"
            } else {
                "fails (CI=true)"
            };
            eprintln!("{name} {verdict}: {}", unavailable.join("; "));
        }
        let repo = repo.clone();
        let t = Trial::test(name, move || {
            if !unavailable.is_empty() {
                return Err(format!("cannot replay: {}", unavailable.join("; ")).into());
            }
            check_evidence(&repo, &path, &text)
        });
        out.push(t.with_ignored_flag(ignored));
    }
    // The check itself fails, rather than keeping the old text, when a
    // marker names a spec that cannot be read or a stack that does not exist.
    let repo = root();
    out.push(Trial::test(
        "findings::a_marker_whose_spec_cannot_be_read_fails",
        move || {
            let text = "<!-- evidence: stack=smoltcp spec=specs/reviewed/no-such-spec.yaml -->\nold\n<!-- end evidence -->\n";
            match check_evidence(&repo, std::path::Path::new("f.md"), text) {
                Err(e) if e.message().is_some_and(|m| {
                    m.starts_with("f.md: the evidence's spec cannot be read:") && m.contains("no-such-spec.yaml")
                }) => Ok(()),
                other => Err(format!("expected an error naming the spec, got {other:?}").into()),
            }
        },
    ));
    let repo = root();
    out.push(Trial::test(
        "findings::a_marker_naming_an_unknown_stack_fails",
        move || {
            let text = "<!-- evidence: stack=nosuch spec=specs/reviewed/x.yaml -->\nold\n<!-- end evidence -->\n";
            match check_evidence(&repo, std::path::Path::new("f.md"), text) {
                Err(e) if e.message() == Some("f.md: evidence names an unknown stack `nosuch`") => Ok(()),
                other => Err(format!("expected an error naming the stack, got {other:?}").into()),
            }
        },
    ));
}

/// Replays every evidence block about a virtual-time stack and compares.
/// Blocks about real-time stacks are `timewait replay`'s to refresh.
fn check_evidence(
    repo: &std::path::Path,
    path: &std::path::Path,
    text: &str,
) -> Result<(), Failed> {
    let mut error = None;
    let mut stale_svg = Vec::new();
    let fresh = findings::refresh(text, |e| {
        let Some(kind) = StackKind::from_name(&e.stack) else {
            error = Some(format!("evidence names an unknown stack `{}`", e.stack));
            return None;
        };
        if kind.clock() != Clock::Virtual {
            return None;
        }
        match load::load_file(&repo.join(&e.spec)) {
            Ok(spec) => {
                let spec = spec.at_network_msl(suite::DEFAULT_MSL);
                let run = suite::replay_on(&spec, kind);
                // The SVG beside the finding is the run's diagram too.
                if let Some(d) = findings::diagram(e, &run) {
                    let svg = path
                        .parent()
                        .unwrap_or(std::path::Path::new("."))
                        .join(findings::diagram_name(e));
                    if std::fs::read_to_string(&svg).ok() != Some(d.to_svg()) {
                        stale_svg.push(svg.display().to_string());
                    }
                }
                Some(findings::render(e, &run))
            }
            Err(err) => {
                error = Some(format!("the evidence's spec cannot be read: {err}"));
                None
            }
        }
    })
    .map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(e) = error {
        return Err(format!("{}: {e}", path.display()).into());
    }
    if fresh != text {
        return Err(format!(
            "{}: the evidence is not what the stack does now; run `timewait replay --stack STACK` and review",
            path.display()
        )
        .into());
    }
    if !stale_svg.is_empty() {
        return Err(format!(
            "{}: the diagrams {} are not what the stack does now; run `timewait replay --stack STACK` and review",
            path.display(),
            stale_svg.join(", ")
        )
        .into());
    }
    Ok(())
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
    let smoltcp = committed("smoltcp");
    for (path, spec) in &specs {
        let (path, spec) = (path.clone(), spec.clone());
        let want = smoltcp
            .as_ref()
            .map(|r| r.specs.iter().find(|s| s.name == spec.name.value).cloned())
            .map_err(Clone::clone);
        trials.push(Trial::test(
            format!("smoltcp-agent::{}", spec.name.value),
            move || {
                let want = want.map_err(|e| format!("no committed record: {e}"))?;
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
    evidence_trials(&mut trials);
    trials.push(Trial::test("matrix::current", || {
        // Every stack has a record; one that cannot be read fails the test.
        let mut stacks = Vec::new();
        for kind in StackKind::ALL {
            stacks.push(committed(kind.name())?);
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
