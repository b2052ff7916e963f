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
use std::path::{Path, PathBuf};
use thiserror::Error;
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

/// A stack's record that cannot be read.
#[derive(Debug, Error)]
pub enum RecordError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}; expected a results record as `timewait replay` writes it", path.display())]
    Format {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: the record is of stack `{found}`, expected `{expected}`", path.display())]
    WrongStack {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

/// Where `timewait replay` writes `stack`'s record under `reports`.
pub fn file(reports: &Path, stack: &str) -> PathBuf {
    reports.join("results").join(format!("{stack}.json"))
}

/// Reads `stack`'s record under `reports`: a missing file, a file that is
/// not a record, and another stack's record are errors.
pub fn load(reports: &Path, stack: &str) -> Result<StackResults, RecordError> {
    let path = file(reports, stack);
    let text = std::fs::read_to_string(&path).map_err(|source| RecordError::Io {
        path: path.clone(),
        source,
    })?;
    parse(&path, &text, stack)
}

/// Parses a record's text; `path` is for the messages.
pub fn parse(path: &Path, text: &str, stack: &str) -> Result<StackResults, RecordError> {
    let r: StackResults = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        // serde_json appends " at line L column C"; the location leads here.
        let message = match full.rsplit_once(" at line ") {
            Some((m, _)) => m.to_string(),
            None => full,
        };
        RecordError::Format {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message,
        }
    })?;
    if r.stack != stack {
        return Err(RecordError::WrongStack {
            path: path.to_path_buf(),
            expected: stack.into(),
            found: r.stack,
        });
    }
    Ok(r)
}

/// The records of every stack in `stacks` that has one under `reports`
/// (a stack never replayed has no file); a file that exists but cannot be
/// read is an error.
pub fn load_existing(reports: &Path, stacks: &[&str]) -> Result<Vec<StackResults>, RecordError> {
    let mut out = Vec::new();
    for stack in stacks {
        match load(reports, stack) {
            Ok(r) => out.push(r),
            Err(RecordError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(stack: &str) -> String {
        let r = StackResults {
            stack: stack.into(),
            title: "t".into(),
            clock: "virtual".into(),
            about: String::new(),
            version: "1".into(),
            msl_ms: 30_000,
            specs: Vec::new(),
            facts: None,
        };
        serde_json::to_string_pretty(&r).expect("a record serializes")
    }

    #[test]
    fn a_record_reads_back() {
        let r = parse(Path::new("r/s.json"), &record("s"), "s").expect("valid");
        assert_eq!(r.stack, "s");
    }

    #[test]
    fn a_malformed_record_is_an_error_naming_file_line_and_column() {
        let text = record("s").replace("\"msl_ms\": 30000", "\"msl_ms\": \"soon\"");
        let e = parse(Path::new("r/s.json"), &text, "s").expect_err("a string for a number");
        assert!(matches!(e, RecordError::Format { line: 7, .. }), "{e:?}");
        assert!(e.to_string().starts_with("r/s.json:7:"), "{e}");
        assert!(e.to_string().contains("expected u64"), "{e}");
    }

    #[test]
    fn a_record_of_another_stack_is_an_error() {
        let e = parse(Path::new("r/s.json"), &record("other"), "s").expect_err("wrong stack");
        assert_eq!(
            e.to_string(),
            "r/s.json: the record is of stack `other`, expected `s`"
        );
    }

    #[test]
    fn a_missing_record_is_skipped_only_when_existing_ones_are_asked_for() {
        let dir = std::env::temp_dir().join(format!("timewait-results-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("results")).expect("mkdir");
        std::fs::write(file(&dir, "bad"), "{").expect("write");
        assert!(matches!(load(&dir, "none"), Err(RecordError::Io { .. })));
        assert!(load_existing(&dir, &["none"])
            .expect("none is fine")
            .is_empty());
        let e = load_existing(&dir, &["none", "bad"]).expect_err("bad is not");
        assert!(matches!(e, RecordError::Format { line: 1, .. }), "{e:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
