//! The conformance report for people: a spec x profile table with the
//! model's prediction, the stack's result, the verdict, and the reason of
//! every failure (reports/conformance-linux.md).

use crate::suite::SpecResult;
use crate::verdict::Mark;
use std::fmt::Write as _;
use std::time::Duration;

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

pub fn summarize(results: &[SpecResult]) -> Summary {
    let mut s = Summary::default();
    for r in results {
        match r.judgement.mark {
            Mark::HarnessError => s.harness_errors += 1,
            Mark::Stale => s.stale_known += 1,
            Mark::Pass | Mark::NotApplicable => s.pass += 1,
            Mark::FailAsPredicted => s.fail_as_predicted += 1,
            Mark::Known => s.known_divergences += 1,
            Mark::Diverges => s.divergences += 1,
        }
    }
    s
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown report.
pub fn markdown(stack: &str, about: &str, results: &[SpecResult], wall: Duration) -> String {
    let s = summarize(results);
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
        let model = r
            .model_departure()
            .map_or("pass".to_string(), |d| format!("fails at {}", d.key()));
        let stack_cell = match r.stack_departure() {
            Err(_) => "harness error".to_string(),
            Ok(None) => "pass".to_string(),
            Ok(Some(d)) => format!("fails at {}", d.key()),
        };
        let verdict = r.judgement.mark.name();
        let reason = &r.judgement.why;
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.name(),
            cell(&profile.join(" ")),
            r.preset,
            cell(&model),
            cell(&stack_cell),
            verdict,
            cell(reason.trim())
        );
    }
    o
}
