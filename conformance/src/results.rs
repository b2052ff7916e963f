//! A stack's run as a record: per spec, what the stack did, what the model
//! predicts, the verdict, and which model variants fail the spec the same
//! way. `timewait replay` writes one JSON file per stack under
//! reports/results/, and the cross-stack matrix (reports/conformance.md) is
//! rendered from those files alone, so it can be checked for staleness
//! without rerunning real-time stacks.

use crate::known::Known;
use crate::suite::SpecResult;
pub use crate::verdict::Mark;
use crate::verdict::{Departure, Judgement};
use serde::{Deserialize, Serialize};
use timewait_model::Preset;
use timewait_specs::oracle::{self, Outcome};
use timewait_specs::Spec;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecRecord {
    pub name: String,
    /// The spec's path relative to the repository.
    pub path: String,
    /// The model variant the stack is compared with.
    pub variant: String,
    pub mark: Mark,
    /// Why the mark: both departures side by side, the known reason.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub why: String,
    /// Where the stack departed from the spec; none when it passed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stack: Option<Departure>,
    /// Where the model variant departed from the spec; none when it passes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub model: Option<Departure>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub harness_error: Option<String>,
    /// The RFC clause the spec cites first, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rfc: Option<String>,
    /// Model variants that depart from the spec exactly as the stack does
    /// (same step, same observation), or pass it when the stack does.
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

/// The variants that do what the stack did: depart from `spec` exactly
/// as `stack` says (same step, same observation), or pass it when `stack`
/// is `None`.
pub fn like_variants(spec: &Spec, stack: Option<&Departure>) -> Vec<String> {
    let key = stack.map(Departure::key);
    Preset::ALL
        .iter()
        .filter(|&&p| match &oracle::run(spec, p).outcome {
            Outcome::Pass => key.is_none(),
            Outcome::Fail(f) => key.as_ref() == Some(&Departure::of_model(f).key()),
        })
        .map(|p| p.name().to_string())
        .collect()
}

pub fn record(r: &SpecResult, known: &Known, root: &std::path::Path) -> SpecRecord {
    let stack = r.stack_departure().ok().flatten();
    let Judgement { mark, why } = r.judgement.clone();
    let like = match mark {
        Mark::Known | Mark::Diverges | Mark::FailAsPredicted => {
            like_variants(&r.spec, stack.as_ref())
        }
        _ => Vec::new(),
    };
    let path = r.path.strip_prefix(root).unwrap_or(&r.path);
    SpecRecord {
        name: r.name().to_string(),
        path: path.display().to_string(),
        variant: r.preset.name().to_string(),
        mark,
        why,
        stack,
        model: r.model_departure(),
        harness_error: r.run.as_ref().err().cloned(),
        rfc: rfc_clause(&r.spec),
        like_variants: like,
        known: known.get(r.name()).map(|e| e.reason.clone()),
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
        mark: Mark::NotApplicable,
        why: String::new(),
        stack: None,
        model: None,
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
    /// What exactly was tested, read from the stack at run time.
    pub version: String,
    /// The network MSL the specs were replayed at (`replay --msl`).
    pub msl_ms: u64,
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
