//! The conformance report for people: a spec x profile table with the
//! model's prediction, the stack's result, the verdict, and the reason of
//! every failure (reports/conformance-linux.md).

use crate::known::Known;
use crate::suite::SpecResult;
use crate::verdict::Verdict;
use std::fmt::Write as _;
use std::time::Duration;
use timewait_specs::oracle::Outcome;

/// Counts of a run.
#[derive(Default, Debug, Clone, Copy)]
pub struct Summary {
    pub pass: usize,
    pub fail_as_predicted: usize,
    pub known_divergences: usize,
    pub divergences: usize,
    pub harness_errors: usize,
    pub stale_known: usize,
}

impl Summary {
    /// Whether the run should count as a success: nothing unexpected.
    pub fn clean(&self) -> bool {
        self.divergences == 0 && self.harness_errors == 0 && self.stale_known == 0
    }
}

pub fn summarize(results: &[SpecResult], known: &Known) -> Summary {
    let mut s = Summary::default();
    for r in results {
        let listed = known.contains_key(r.name());
        match &r.verdict {
            None => s.harness_errors += 1,
            Some(Verdict::Pass) | Some(Verdict::FailAsPredicted) if listed => s.stale_known += 1,
            Some(Verdict::Pass) => s.pass += 1,
            Some(Verdict::FailAsPredicted) => s.fail_as_predicted += 1,
            Some(Verdict::Divergence) if listed => s.known_divergences += 1,
            Some(Verdict::Divergence) => s.divergences += 1,
        }
    }
    s
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown report.
pub fn markdown(
    stack: &str,
    about: &str,
    results: &[SpecResult],
    known: &Known,
    wall: Duration,
) -> String {
    let s = summarize(results, known);
    let waits: f64 = results
        .iter()
        .filter_map(|r| r.run.as_ref().ok())
        .map(|r| r.replay.elapsed.as_secs_f64())
        .sum();
    let mut o = String::new();
    let _ = writeln!(o, "# Conformance: {stack}\n");
    let _ = writeln!(
        o,
        "Written by `timewait replay --stack {stack}`. {about} The model columns are the \
         variant the stack is compared with and what it predicts for the spec.\n"
    );
    let _ = writeln!(
        o,
        "{} specs: {} pass, {} fail as the model predicts, {} known divergences, {} unexpected \
         divergences, {} harness errors, {} stale entries in the known list. Wall time {:.1} s \
         for {:.1} s of spec time run one after another.\n",
        results.len(),
        s.pass,
        s.fail_as_predicted,
        s.known_divergences,
        s.divergences,
        s.harness_errors,
        s.stale_known,
        wall.as_secs_f64(),
        waits
    );
    o.push_str("| spec | profile | model variant | model | stack | verdict | reason |\n");
    o.push_str("|---|---|---|---|---|---|---|\n");
    for r in results {
        let profile: Vec<String> = r
            .spec
            .profile()
            .sysctls()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let model = match &r.model {
            Outcome::Pass => "pass".to_string(),
            Outcome::Fail(f) => format!("fail at step {}", f.step + 1),
        };
        let (stack_cell, reason) = match &r.run {
            Err(e) => ("harness error".to_string(), e.clone()),
            Ok(run) => match &run.replay.failure {
                None => ("pass".to_string(), String::new()),
                Some(f) => (format!("fail at step {}", f.step + 1), f.to_string()),
            },
        };
        let mut verdict = r.verdict.as_ref().map_or("error", |v| v.name()).to_string();
        let mut reason = reason;
        if let Some(why) = known.get(r.name()) {
            if r.verdict == Some(Verdict::Divergence) {
                verdict = "diverges (known)".into();
                reason = format!("{why}. {reason}");
            } else {
                verdict = format!("{verdict}; STALE known entry");
            }
        }
        if let (Outcome::Fail(f), Some(Verdict::Divergence)) = (&r.model, &r.verdict) {
            reason = format!("{reason} The model: {f}.");
        }
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.name(),
            cell(&profile.join(" ")),
            r.preset,
            model,
            stack_cell,
            verdict,
            cell(reason.trim())
        );
    }
    o
}
