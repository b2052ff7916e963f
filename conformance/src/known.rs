//! Known departures: reviewed places where a stack departs from the model
//! variant it is compared with, one text file per stack
//! (`conformance/known/<stack>.txt`). An entry pins what happened, not
//! just the spec:
//!
//! ```text
//! spec-name | step 10 | RA seq=1 ack=2 len=0 | reason
//! spec-name | end | R seq=5 len=0 | reason
//! spec-name | passes | reason
//! ```
//!
//! The second field is where the stack departed (`step N`, 1-based; `end`
//! for a segment after the last step; `passes` when the stack passes a
//! spec the model fails), the third what it did there, exactly as the
//! verdict prints it (see `timewait_specs::observed`). The same spec
//! departing at another step or with another segment is an unexpected
//! divergence, and an entry whose departure no longer happens is stale;
//! both fail the run, so the list stays true. `#` starts a comment line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Where a known departure happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Where {
    /// The stack fails the spec at this step (`at` as the verdict prints
    /// it: `step N` or `end`) with this observation.
    Fails { at: String, observed: String },
    /// The stack passes a spec the model fails.
    Passes,
}

/// One reviewed departure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub spec: String,
    pub departs: Where,
    pub reason: String,
    /// 1-based line in the file, for messages.
    pub line: usize,
}

impl Entry {
    /// The departure as the verdict prints it: `step 10: RA seq=1 ack=2
    /// len=0`, or `passes`.
    pub fn departure(&self) -> String {
        match &self.departs {
            Where::Fails { at, observed } => format!("{at}: {observed}"),
            Where::Passes => "passes".into(),
        }
    }
}

/// Spec name -> its reviewed departure.
pub type Known = BTreeMap<String, Entry>;

/// A known file that cannot be read.
#[derive(Debug, Error)]
pub enum KnownError {
    /// A missing file would read as "no departures"; a typo in `--known`
    /// must not pass for that.
    #[error("{}: no such known file; a stack without reviewed departures has one with comments only", path.display())]
    Missing { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Parses a known file's text; `path` is for the messages.
pub fn parse(path: &Path, text: &str) -> Result<Known, KnownError> {
    let mut out = Known::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |column: usize, message: String| KnownError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // Columns are 1-based byte offsets of each field in the raw line.
        let mut fields = Vec::new();
        let mut start = 0;
        for (pos, _) in raw.match_indices('|') {
            fields.push((start, &raw[start..pos]));
            start = pos + 1;
            if fields.len() == 3 {
                break;
            }
        }
        fields.push((start, &raw[start..]));
        let col = |f: &(usize, &str)| match f.1.trim_start().len() {
            0 => f.0 + 1,
            n => f.0 + 1 + (f.1.len() - n),
        };
        let expected_shape = "expected `spec-name | step N | what the stack did | reason`, \
                              `spec-name | end | what the stack did | reason` or \
                              `spec-name | passes | reason`";
        if fields.len() < 3 {
            return Err(err(raw.len() + 1, expected_shape.into()));
        }
        let spec = fields[0].1.trim();
        if spec.is_empty() || spec.contains(char::is_whitespace) {
            return Err(err(
                col(&fields[0]),
                format!("expected a spec name, found `{spec}`"),
            ));
        }
        let at = fields[1].1.trim();
        let (departs, reason_field) = if at == "passes" {
            // The reason may itself contain `|`: take the rest of the line.
            let rest = &raw[fields[2].0..];
            (Where::Passes, (fields[2].0, rest))
        } else {
            let ok = at == "end"
                || at
                    .strip_prefix("step ")
                    .and_then(|n| n.parse::<usize>().ok())
                    .is_some_and(|n| n >= 1);
            if !ok {
                return Err(err(
                    col(&fields[1]),
                    format!("expected `step N` (N from 1), `end` or `passes`, found `{at}`"),
                ));
            }
            if fields.len() < 4 {
                return Err(err(raw.len() + 1, expected_shape.into()));
            }
            let observed = fields[2].1.trim();
            if observed.is_empty() {
                return Err(err(
                    col(&fields[2]),
                    "expected what the stack did (as the verdict prints it)".into(),
                ));
            }
            (
                Where::Fails {
                    at: at.to_string(),
                    observed: observed.to_string(),
                },
                fields[3],
            )
        };
        let reason = reason_field.1.trim();
        if reason.is_empty() {
            return Err(err(col(&reason_field), "expected a reason".into()));
        }
        let entry = Entry {
            spec: spec.to_string(),
            departs,
            reason: reason.to_string(),
            line,
        };
        if let Some(first) = out.insert(spec.to_string(), entry) {
            return Err(err(
                col(&fields[0]),
                format!("{spec} is listed twice (first on line {})", first.line),
            ));
        }
    }
    Ok(out)
}

/// The file of `stack`'s known departures under `dir`.
pub fn path(dir: &Path, stack: &str) -> PathBuf {
    dir.join(format!("{stack}.txt"))
}

/// Reads the file for `stack` under `dir`. Every stack has one (with
/// comments only when nothing departs), so a missing file is an error, as
/// is any other read error and any malformed line.
pub fn load(dir: &Path, stack: &str) -> Result<Known, KnownError> {
    let path = path(dir, stack);
    match std::fs::read_to_string(&path) {
        Ok(t) => parse(&path, &t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(KnownError::Missing { path }),
        Err(source) => Err(KnownError::Io { path, source }),
    }
}

/// Where a run's known departures come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A folder with one file per stack (`replay --known`, or the
    /// checkout's `conformance/known`).
    Folder(PathBuf),
    /// The checkout's lists as they were when this binary was built, for a
    /// binary run outside any checkout (an installed one).
    BuiltIn,
}

/// The checkout's folder, relative to the repository root.
pub const FOLDER: &str = "conformance/known";

/// Each stack's reviewed list as it was at build time.
const BUILT_IN: [(&str, &str); 8] = [
    ("linux", include_str!("../known/linux.txt")),
    ("linux-rfc1337", include_str!("../known/linux-rfc1337.txt")),
    ("smoltcp", include_str!("../known/smoltcp.txt")),
    ("lwip", include_str!("../known/lwip.txt")),
    ("gvisor", include_str!("../known/gvisor.txt")),
    ("lwip-tap", include_str!("../known/lwip-tap.txt")),
    ("linux-6.1-vm", include_str!("../known/linux-6.1-vm.txt")),
    ("pytcp", include_str!("../known/pytcp.txt")),
];

impl Source {
    /// The file a stack's entries are read from, for messages (a built-in
    /// list is named after the file it was built from).
    pub fn path(&self, stack: &str) -> PathBuf {
        match self {
            Source::Folder(dir) => path(dir, stack),
            Source::BuiltIn => path(Path::new(FOLDER), stack),
        }
    }

    pub fn load(&self, stack: &str) -> Result<Known, KnownError> {
        match self {
            Source::Folder(dir) => load(dir, stack),
            Source::BuiltIn => match BUILT_IN.iter().find(|(s, _)| *s == stack) {
                Some((_, text)) => parse(&self.path(stack), text),
                None => Err(KnownError::Missing {
                    path: self.path(stack),
                }),
            },
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Folder(dir) => write!(f, "{}", dir.display()),
            Source::BuiltIn => write!(
                f,
                "the lists built into this binary ({FOLDER} at build time)"
            ),
        }
    }
}

/// Entries naming specs that are not among `names`: stale once the whole
/// suite has run.
pub fn unknown_specs<'a>(known: &'a Known, names: &[&str]) -> Vec<&'a Entry> {
    known
        .values()
        .filter(|e| !names.contains(&e.spec.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Known, KnownError> {
        parse(Path::new("k.txt"), text)
    }

    #[test]
    fn an_entry_pins_the_step_and_the_observation_and_keeps_colons_in_the_reason() {
        let k = p("# c\nspec-a | step 10 | RA seq=1 ack=2 len=0 | x: y\n").expect("ok");
        let e = &k["spec-a"];
        assert_eq!(e.departure(), "step 10: RA seq=1 ack=2 len=0");
        assert_eq!(e.reason, "x: y");
        assert_eq!(e.line, 2);
    }

    #[test]
    fn a_passing_stack_entry_takes_the_rest_of_the_line_as_its_reason() {
        let k = p("spec-b | passes | reopens | like Linux\n").expect("ok");
        assert_eq!(k["spec-b"].departs, Where::Passes);
        assert_eq!(k["spec-b"].reason, "reopens | like Linux");
    }

    #[test]
    fn errors_name_the_line_and_the_column_of_the_bad_field() {
        let e = p("a | step 1 | nothing | r\na | step 2 | nothing | r\n").expect_err("twice");
        assert_eq!(
            e.to_string(),
            "k.txt:2:1: a is listed twice (first on line 1)"
        );
        let e = p("a | stp 3 | nothing | r\n").expect_err("bad where");
        assert_eq!(
            e.to_string(),
            "k.txt:1:5: expected `step N` (N from 1), `end` or `passes`, found `stp 3`"
        );
        let e = p("a | step 0 | nothing | r\n").expect_err("step 0");
        assert!(e.to_string().starts_with("k.txt:1:5:"), "{e}");
        let e = p("spec: the old format\n").expect_err("old format");
        assert!(
            e.to_string().contains("expected `spec-name | step N"),
            "{e}"
        );
        let e = p("a | step 1 | nothing |   \n").expect_err("no reason");
        assert_eq!(e.to_string(), "k.txt:1:23: expected a reason");
    }

    #[test]
    fn a_missing_or_unreadable_known_file_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("timewait-known-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("x.txt")).expect("mkdir");
        let e = load(&dir, "none").expect_err("missing");
        assert!(matches!(e, KnownError::Missing { .. }), "{e:?}");
        assert!(
            e.to_string().contains("none.txt: no such known file"),
            "{e}"
        );
        assert!(matches!(load(&dir, "x"), Err(KnownError::Io { .. })));
        std::fs::write(dir.join("empty.txt"), "# nothing departs\n").expect("write");
        assert!(load(&dir, "empty").expect("comments only").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_malformed_known_file_is_an_error_naming_file_and_line() {
        let dir = std::env::temp_dir().join(format!("timewait-known-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("s.txt"),
            "# c\na | step 1 | A seq=1 len=0 | fine\nb | step one | A | bad\n",
        )
        .expect("write");
        let e = load(&dir, "s").expect_err("line 3 is malformed");
        let want = format!("{}:3:5: expected `step N`", dir.join("s.txt").display());
        assert!(e.to_string().starts_with(&want), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_stack_has_a_built_in_list_equal_to_its_file() {
        let kinds = crate::stack::StackKind::ALL
            .into_iter()
            .chain(crate::stack::StackKind::MORE);
        for stack in kinds.map(|k| k.name()) {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("known");
            let from_file = load(&dir, stack).expect("the checkout's list");
            let built_in = Source::BuiltIn.load(stack).expect("the built-in list");
            assert_eq!(from_file, built_in, "{stack}");
        }
        assert!(matches!(
            Source::BuiltIn.load("no-such-stack"),
            Err(KnownError::Missing { .. })
        ));
    }
}
