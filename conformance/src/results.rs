//! A stack's run as a record: per spec, what the stack did, what the model
//! predicts, the verdict, and which model variants fail the spec the same
//! way. `timewait replay` writes one JSON file per stack under
//! reports/results/, and the cross-stack matrix (reports/conformance.md) is
//! rendered from those files alone, so it can be checked for staleness
//! without rerunning real-time stacks.

use crate::known::Known;
use crate::suite::SpecResult;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};
use timewait_model::Preset;
use timewait_specs::oracle::{self, Outcome};
use timewait_specs::Spec;

/// Where and how a spec failed on the stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepFailure {
    /// 1-based.
    pub step: usize,
    pub line: u64,
    pub kind: String,
    pub expected: String,
    pub actual: String,
}

/// The verdict of one spec, with the known list applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mark {
    Pass,
    FailAsPredicted,
    /// Departs from the model and is listed (reviewed) in the known list.
    Known,
    Diverges,
    /// Listed in the known list but no longer diverging.
    Stale,
    HarnessError,
    /// The spec sets Linux sysctls, which this stack has no equivalent of.
    NotApplicable,
}

impl Mark {
    pub fn of(verdict: Option<&Verdict>, listed: bool) -> Mark {
        match (verdict, listed) {
            (None, _) => Mark::HarnessError,
            (Some(Verdict::Divergence), true) => Mark::Known,
            (Some(Verdict::Divergence), false) => Mark::Diverges,
            (Some(_), true) => Mark::Stale,
            (Some(Verdict::Pass), false) => Mark::Pass,
            (Some(Verdict::FailAsPredicted), false) => Mark::FailAsPredicted,
        }
    }

    /// Whether a run with this mark is what the reviewed record says.
    pub fn expected(self) -> bool {
        matches!(
            self,
            Mark::Pass | Mark::FailAsPredicted | Mark::Known | Mark::NotApplicable
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecRecord {
    pub name: String,
    /// The spec's path relative to the repository.
    pub path: String,
    /// The model variant the stack is compared with.
    pub variant: String,
    pub model_passes: bool,
    /// `None` when the harness failed (see `harness_error`).
    pub stack_passes: Option<bool>,
    pub mark: Mark,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<StepFailure>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub harness_error: Option<String>,
    /// The RFC clause the spec cites first, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rfc: Option<String>,
    /// Model variants that fail the spec at the same step as the stack.
    #[serde(default)]
    pub like_variants: Vec<String>,
    /// The known list's reason, when listed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub known: Option<String>,
}

/// The first "RFC NNNN" citation in the spec's description, with its
/// section when one follows ("RFC 9293 3.10.7.4", "RFC 1337 section 3").
pub fn rfc_clause(spec: &Spec) -> Option<String> {
    let words: Vec<&str> = spec.description.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "RFC")?;
    let number: String = words
        .get(i + 1)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if number.is_empty() {
        return None;
    }
    let mut clause = format!("RFC {number}");
    let mut j = i + 2;
    if words.get(j).is_some_and(|w| *w == "section") {
        j += 1;
    }
    if let Some(sec) = words.get(j) {
        let sec: String = sec
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let sec = sec.trim_end_matches('.');
        if sec.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            clause.push_str(&format!(" {sec}"));
        }
    }
    Some(clause)
}

/// The variants that do what the stack did: fail `spec` at `step`
/// (0-based), or pass it when `step` is `None`.
pub fn like_variants(spec: &Spec, step: Option<usize>) -> Vec<String> {
    Preset::ALL
        .iter()
        .filter(|&&p| match (oracle::run(spec, p).outcome, step) {
            (Outcome::Fail(f), Some(s)) => f.step == s,
            (Outcome::Pass, None) => true,
            _ => false,
        })
        .map(|p| p.name().to_string())
        .collect()
}

pub fn record(r: &SpecResult, known: &Known, root: &std::path::Path) -> SpecRecord {
    let listed = known.get(r.name()).cloned();
    let mark = Mark::of(r.verdict.as_ref(), listed.is_some());
    let failure = r
        .run
        .as_ref()
        .ok()
        .and_then(|run| run.replay.failure.as_ref())
        .map(|f| StepFailure {
            step: f.step + 1,
            line: f.line,
            kind: f.kind.to_string(),
            expected: f.expected.clone(),
            actual: f.actual.clone(),
        });
    let like = match mark {
        Mark::Known | Mark::Diverges | Mark::FailAsPredicted => {
            like_variants(&r.spec, failure.as_ref().map(|f| f.step - 1))
        }
        _ => Vec::new(),
    };
    let path = r.path.strip_prefix(root).unwrap_or(&r.path);
    SpecRecord {
        name: r.name().to_string(),
        path: path.display().to_string(),
        variant: r.preset.name().to_string(),
        model_passes: r.model.passed(),
        stack_passes: r.run.as_ref().ok().map(|run| run.replay.passed()),
        mark,
        failure,
        harness_error: r.run.as_ref().err().cloned(),
        rfc: rfc_clause(&r.spec),
        like_variants: like,
        known: listed,
    }
}

/// The record of a spec that does not apply to the stack.
pub fn not_applicable(path: &std::path::Path, spec: &Spec, root: &std::path::Path) -> SpecRecord {
    SpecRecord {
        name: spec.name.value.clone(),
        path: path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string(),
        variant: String::new(),
        model_passes: true,
        stack_passes: None,
        mark: Mark::NotApplicable,
        failure: None,
        harness_error: None,
        rfc: rfc_clause(spec),
        like_variants: Vec::new(),
        known: None,
    }
}

/// One stack's run, as committed under reports/results/.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StackResults {
    pub stack: String,
    pub title: String,
    /// "virtual" or "real".
    pub clock: String,
    /// What the run was on (kernel release, versions), for the header.
    pub about: String,
    pub specs: Vec<SpecRecord>,
    pub facts: Option<crate::probe::Facts>,
}

impl StackResults {
    pub fn count(&self, m: Mark) -> usize {
        self.specs.iter().filter(|s| s.mark == m).count()
    }

    /// Whether every spec is as the record expects.
    pub fn clean(&self) -> bool {
        self.specs.iter().all(|s| s.mark.expected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_follow_the_verdict_and_the_known_list() {
        assert_eq!(Mark::of(Some(&Verdict::Divergence), true), Mark::Known);
        assert_eq!(Mark::of(Some(&Verdict::Divergence), false), Mark::Diverges);
        assert_eq!(Mark::of(Some(&Verdict::Pass), true), Mark::Stale);
        assert_eq!(Mark::of(None, false), Mark::HarnessError);
        assert!(!Mark::Diverges.expected() && Mark::Known.expected());
    }
}
