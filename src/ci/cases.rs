//! The cases of each command, in the words its console and reports use:
//! a `check` verdict row ([`verdict`]), a `specs check` assertion
//! ([`assertion`]), a spec's run on a stack in `replay` ([`replay`]), and
//! what a replay could not run ([`not_applicable`], [`unavailable`],
//! [`stale_entry`]).

use super::{Case, Status};
use std::path::Path;
use std::time::Duration;
use timewait_conformance::results::Mark;
use timewait_conformance::suite::SpecResult;
use timewait_conformance::verdict::Departure;
use timewait_model::check::PropertyReport;
use timewait_model::Verdict;
use timewait_specs::oracle::{self, Outcome};
use timewait_specs::Spec;

/// One row of `check`'s verdict table. A verdict against the variant's
/// expected one is a failure; an incomplete check is no verdict, an error.
pub fn verdict(r: &PropertyReport) -> Case {
    let time = Duration::try_from_secs_f64(r.seconds).unwrap_or_default();
    let case = Case::new(r.variant.as_str(), r.property, time);
    let got = crate::output::verdict_with_trace(r);
    let mut detail = r.trace.as_ref().map_or(String::new(), |t| t.render("  "));
    if let Some(n) = &r.note {
        detail.push_str(n);
    }
    let expected = r.expected.map_or("-", |e| e.name());
    let case = if r.verdict == Verdict::Incomplete {
        let why = r
            .note
            .as_deref()
            .unwrap_or("the check stopped before it was done");
        let got = format!("incomplete: {why}");
        case.with(Status::Error, got.as_str())
            .departed("", expected, got)
    } else if !r.as_expected() {
        case.with(Status::Failure, format!("expected {expected}, found {got}"))
            .departed("", expected, got)
    } else if r.expected.is_none() {
        case.with(
            Status::Pass,
            format!("{got} (no expected verdict: non-default parameters)"),
        )
    } else {
        case.with(Status::Pass, format!("{got}, as expected"))
    };
    case.detail(detail)
}

/// Where a run departed: `step 13 (expect-state, line 31)`.
fn place(d: &Departure) -> String {
    format!("{} ({}, line {})", d.at, d.kind, d.line)
}

/// One assertion of a spec's `model` section: `spec` under the variant of
/// `run` must pass or must fail. `None` when the spec lists no such claim.
pub fn assertion(file: &Path, spec: &Spec, run: &oracle::Run) -> Option<Case> {
    let want = oracle::expectation(spec, run.preset)?;
    let name = format!("{} must {}", run.preset, if want { "pass" } else { "fail" });
    let case = Case::new(spec.name.value.as_str(), name, run.elapsed);
    let case = match (&run.outcome, want) {
        (Outcome::Pass, true) => case,
        (Outcome::Fail(f), false) => {
            case.with(Status::Pass, format!("fails as the spec says: {f}"))
        }
        (Outcome::Fail(f), true) => {
            let d = Departure::of_model(f);
            case.with(
                Status::Failure,
                format!("{}:{}:{}: {f}", file.display(), f.line, f.column),
            )
            .departed(place(&d), d.expected, format!("the model {}", d.actual))
        }
        (Outcome::Pass, false) => case
            .with(
                Status::Failure,
                format!(
                    "{}: model.fail lists {}, but the model passes every step",
                    file.display(),
                    run.preset
                ),
            )
            .departed("", "a departure at some step", "passes every step"),
    };
    Some(case.detail(run.log.join("\n")))
}

/// A spec file that does not load: an error, with every problem.
pub fn invalid(file: &Path, problems: &[String]) -> Case {
    let first = problems.first().map_or("invalid", String::as_str);
    Case::new(file.display().to_string(), "valid spec", Duration::ZERO)
        .with(Status::Error, first)
        .detail(problems.join("\n"))
}

/// A spec's run on `stack`, judged. A departure is a failure and says the
/// step, expected and actual as the console does; a failure as predicted
/// or a known departure passes and says so; a run that was too late to
/// judge, or whose harness failed, is an error.
pub fn replay(stack: &str, r: &SpecResult) -> Case {
    let mark = r.judgement.mark;
    let why = r.judgement.why.trim();
    let case = Case::new(stack, r.name(), r.wall);
    let log = r
        .run
        .as_ref()
        .map_or(String::new(), |run| run.replay.log.join("\n"));
    let case = match mark {
        Mark::Pass => case,
        Mark::NotApplicable => case.with(Status::Skipped, mark.name()),
        Mark::FailAsPredicted | Mark::Known => {
            case.with(Status::Pass, format!("{}: {why}", mark.name()))
        }
        Mark::HarnessError | Mark::TimingInvalid => {
            case.with(Status::Error, format!("{}: {why}", mark.name()))
        }
        Mark::Stale => case.with(Status::Failure, format!("{}: {why}", mark.name())),
        Mark::Diverges => {
            let engine = r
                .run
                .as_ref()
                .ok()
                .and_then(|run| run.replay.failure.as_ref());
            let message = match engine {
                // The console's two lines: where and how, then both runs.
                Some(f) => format!("{}:{}:{}: {f}; {why}", r.path.display(), f.line, f.column),
                None => format!("{}: {why}", mark.name()),
            };
            let case = case.with(Status::Failure, message);
            match (r.stack_departure().ok().flatten(), r.model_departure()) {
                (Some(d), _) => case.departed(place(&d), d.expected, d.actual),
                // The stack passed where the model departs.
                (None, Some(m)) => case.departed(
                    place(&m),
                    format!("the model ({}): {}", r.preset, m.actual),
                    "the stack passes every step",
                ),
                (None, None) => case,
            }
        }
    };
    if mark == Mark::Pass {
        case
    } else {
        case.detail(log)
    }
}

/// A spec that pins Linux knobs this stack has no counterpart of.
pub fn not_applicable(stack: &str, spec: &Spec) -> Case {
    Case::new(stack, spec.name.value.as_str(), Duration::ZERO).with(
        Status::Skipped,
        "n/a: pins Linux knobs this stack has no counterpart of",
    )
}

/// A stack `replay --stack all` skipped.
pub fn unavailable(stack: &str, why: &str) -> Case {
    Case::new(stack, "the suite", Duration::ZERO)
        .with(Status::Skipped, format!("skipping {stack}: {why}"))
}

/// A known entry that names no spec of the suite: stale.
pub fn stale_entry(stack: &str, file: &Path, line: usize, spec: &str) -> Case {
    Case::new(stack, spec, Duration::ZERO).with(
        Status::Failure,
        format!(
            "{}:{line}: STALE known entry: no spec named {spec} in the suite",
            file.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use timewait_conformance::engine::{Late, Replay};
    use timewait_conformance::stack::{StackKind, StackRun};
    use timewait_conformance::suite;
    use timewait_model::check::{check_variant, Limits, VariantSpec};
    use timewait_model::{Config, Preset, PropertyId};

    fn no_time_wait_reset() -> PropertyReport {
        let cfg = Config::default();
        let v = VariantSpec::preset(Preset::NoTimeWait, &cfg, cfg.msl).expect("valid");
        check_variant(
            &v,
            &[PropertyId::ReliableTerminationReset],
            true,
            &Limits::default(),
            &mut |_| {},
        )
        .remove(0)
    }

    #[test]
    fn a_verdict_against_the_expected_one_fails_saying_both_and_the_counterexample_length() {
        let mut r = no_time_wait_reset();
        assert_eq!(r.verdict, Verdict::Violated);
        let steps = r.trace.as_ref().expect("a counterexample").steps.len();
        // As expected, it passes and says so.
        let c = verdict(&r);
        assert_eq!(c.status, Status::Pass);
        assert_eq!(
            c.message,
            format!("violated, shortest counterexample ({steps} steps), as expected")
        );
        // Had the variant been expected to hold, the row contradicts it.
        r.expected = Some(Verdict::Holds);
        let c = verdict(&r);
        assert_eq!(c.status, Status::Failure);
        assert_eq!(
            c.message,
            format!("expected holds, found violated, shortest counterexample ({steps} steps)")
        );
        assert_eq!(
            (c.class.as_str(), c.name.as_str()),
            ("no-time-wait", "reliable-termination/reset")
        );
        assert!(c.detail.contains("  1. "), "the steps: {}", c.detail);
    }

    #[test]
    fn a_run_the_harness_was_too_late_in_is_an_error_not_a_failure() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = root.join("specs/reviewed/simultaneous-close.yaml");
        let spec = timewait_specs::load::load_file(&path).expect("spec");
        let late = Late {
            step: 3,
            line: 12,
            column: 5,
            kind: "inject",
            by: Duration::from_millis(500),
            tolerance: Duration::from_millis(100),
        };
        let r = suite::run_with(path, spec, StackKind::Smoltcp, None, |_| {
            Ok(StackRun {
                replay: Replay {
                    failure: None,
                    timing_invalid: Some(late.clone()),
                    latest: Some(late),
                    log: vec!["0.000s  SUT app: listen".into()],
                    elapsed: Duration::ZERO,
                },
                frames: Vec::new(),
            })
        });
        let c = replay("smoltcp", &r);
        assert_eq!(c.status, Status::Error);
        assert_eq!(
            c.message,
            "timing invalid (rerun): the harness was late: step 4 (inject, line 12) was 500.0 ms late (tolerance 100.0 ms); rerun"
        );
        assert_eq!(
            (c.class.as_str(), c.name.as_str()),
            ("smoltcp", "simultaneous-close")
        );
    }
}
