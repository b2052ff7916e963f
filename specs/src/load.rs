//! Reading spec files: size, depth, node and alias budgets first (so that a
//! hostile document fails fast instead of exhausting memory), then strict
//! YAML (no YAML 1.1 booleans, no duplicate keys), then the shape pass over
//! the YAML tree ([`crate::shape`]: every unknown field, step kind and
//! mistyped value at once), then the typed parse and the semantic checks
//! of [`crate::validate`].

use crate::diag::Diagnostic;
use crate::format::Spec;
use crate::tree::Node;
use crate::{shape, validate};
use serde_saphyr::{Budget, DuplicateKeyPolicy, Options};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Largest spec file accepted. Real specs are a few kilobytes.
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Deepest nesting accepted; the format itself needs 5 levels.
pub const MAX_DEPTH: usize = 16;
/// Most YAML nodes accepted in one document.
pub const MAX_NODES: usize = 20_000;
/// Most alias uses; specs have no need for aliases, a few are tolerated.
pub const MAX_ALIASES: usize = 64;

/// Why a spec could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more problems, each with its location.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl LoadError {
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            LoadError::Io { file, source } => vec![Diagnostic::new(
                file,
                0,
                0,
                format!("cannot read: {source}"),
            )],
            LoadError::Invalid(d) => d.clone(),
        }
    }
}

/// The parser's options for every pass over a spec (the shape pass's tests
/// read with them too).
pub(crate) fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_aliases = MAX_ALIASES;
    budget.max_events = 4 * MAX_NODES;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES;
    let mut o = Options::default();
    o.budget = Some(budget);
    // YAML 1.1 read `NO` and `yes` as booleans; here they stay errors.
    o.strict_booleans = true;
    o.duplicate_keys = DuplicateKeyPolicy::Error;
    o.with_snippet = false;
    o
}

/// Reads and checks one spec file.
pub fn load_file(path: &Path) -> Result<Spec, LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(LoadError::Invalid(vec![Diagnostic::new(
            path,
            1,
            1,
            format!(
                "file is {} bytes, more than the {MAX_FILE_BYTES} a spec may have",
                meta.len()
            ),
        )]));
    }
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    load_bytes(path, &bytes)
}

/// Checks a spec given as bytes; `path` names it in diagnostics (and its
/// stem must equal the spec's name).
pub fn load_bytes(path: &Path, bytes: &[u8]) -> Result<Spec, LoadError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(LoadError::Invalid(vec![Diagnostic::new(
            path,
            1,
            1,
            format!(
                "document is {} bytes, more than the {MAX_FILE_BYTES} a spec may have",
                bytes.len()
            ),
        )]));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        // The bytes before the error are valid UTF-8, so nothing is replaced.
        let valid = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
        let (line, column) = end_position(&valid);
        LoadError::Invalid(vec![Diagnostic::new(
            path,
            line,
            column,
            "invalid UTF-8, expected a UTF-8 text file",
        )])
    })?;
    load_str(path, text)
}

/// Where the end of `text` is, counted as the YAML parser counts for its
/// own errors: CR LF, CR and LF each end a line, columns are characters, a
/// leading byte order mark takes no column. (Counting LF bytes put an error
/// after a CR line break, or after non-ASCII text, elsewhere than an editor
/// shows it.)
fn end_position(text: &str) -> (u64, u64) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut line = 1;
    let mut column = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                line += 1;
                column = 1;
            }
            _ => column += 1,
        }
    }
    (line, column)
}

/// Checks a spec given as text.
pub fn load_str(path: &Path, text: &str) -> Result<Spec, LoadError> {
    let spec = parse_str(path, text)?;
    let problems = validate::check(path, &spec);
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(LoadError::Invalid(problems))
    }
}

/// Parses a spec without the semantic checks: syntax, budgets, types.
pub fn parse_str(path: &Path, text: &str) -> Result<Spec, LoadError> {
    let content = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    if !content {
        return Err(LoadError::Invalid(vec![Diagnostic::new(
            path,
            1,
            1,
            "empty document, expected a spec (a mapping with name, description, role, msl, model and steps)",
        )]));
    }
    // The first pass reads the whole document as a located tree, so the
    // budgets see every node and alias expansion whatever the typed pass
    // would stop at first, and the shape pass reports every unknown field,
    // step kind and mistyped value at once.
    let tree = read_tree(path, text)?;
    let problems = shape::check(path, &tree);
    if !problems.is_empty() {
        return Err(LoadError::Invalid(problems));
    }
    typed_parse(path, text)
}

/// The typed parse alone, without the shape pass: it stops at the first
/// problem. The loader runs it only on documents the shape pass found
/// nothing in; tests compare the two passes with it.
pub fn typed_parse(path: &Path, text: &str) -> Result<Spec, LoadError> {
    serde_saphyr::from_str_with_options(text, options())
        .map_err(|e| LoadError::Invalid(vec![yaml_diagnostic(path, &e)]))
}

/// The located YAML tree of a document, read with the loader's options and
/// budgets; syntax errors are diagnostics as in [`load_str`].
pub fn read_tree(path: &Path, text: &str) -> Result<Node, LoadError> {
    serde_saphyr::from_str_with_options::<Node>(text, options())
        .map_err(|e| LoadError::Invalid(vec![yaml_diagnostic(path, &e)]))
}

/// The parser's error, reworded where its wording would puzzle a spec author.
fn yaml_diagnostic(path: &Path, e: &serde_saphyr::Error) -> Diagnostic {
    let full = e.to_string();
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    // The parser appends " at line L, column C"; the diagnostic has its own.
    let mut msg = match full.rfind(" at line ") {
        Some(i) if line > 0 => full[..i].to_string(),
        _ => full.clone(),
    };
    if let Some(rest) = msg.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest);
        msg = format!("duplicate key `{key}`, each key may appear once");
    } else if msg == "expected mapping start" {
        msg = "expected a mapping (key: value pairs) here".into();
    } else if msg.contains("budget") {
        let what = if msg.contains("Depth") {
            format!("is nested deeper than {MAX_DEPTH} levels")
        } else if msg.contains("Alias") {
            format!("uses more than {MAX_ALIASES} aliases")
        } else if msg.contains("Nodes") || msg.contains("Events") || msg.contains("Replay") {
            format!("expands to more than {MAX_NODES} YAML nodes (aliases included)")
        } else {
            "is too large".to_string()
        };
        msg = format!("document {what}; rejected before reading further");
    }
    let (line, column) = if line == 0 { (1, 1) } else { (line, column) };
    Diagnostic::new(path, line, column, msg)
}

/// Every `.yaml` / `.yml` file under `paths` (files are taken as given),
/// sorted, so that runs and reports are deterministic.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| LoadError::Io {
            file: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let rd = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        file: dir.to_path_buf(),
        source,
    })?;
    for entry in rd {
        let entry = entry.map_err(|source| LoadError::Io {
            file: dir.to_path_buf(),
            source,
        })?;
        let p = entry.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml") | Some("yml")
        ) {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_after_a_cr_line_break_and_non_ascii_text_is_located_as_yaml_counts() {
        // Found by fuzzing: a lone CR ends a line for the YAML parser, and
        // its columns are characters; the UTF-8 error counted LF bytes.
        let bytes = b"name: x\rdescription: \xc3\xa9t\xc3\xa9 \xdd\n";
        let e = load_bytes(Path::new("x.yaml"), bytes).expect_err("invalid UTF-8");
        let d = e.diagnostics();
        assert_eq!((d[0].line, d[0].column), (2, 18), "{d:?}");
        let crlf = b"\xef\xbb\xbfname: x\r\n  \xff";
        let d = load_bytes(Path::new("x.yaml"), crlf)
            .expect_err("invalid UTF-8")
            .diagnostics();
        assert_eq!((d[0].line, d[0].column), (2, 3), "{d:?}");
    }
}
