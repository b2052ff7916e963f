//! Known divergences: specs on which a stack is known to depart from the
//! model, each with the reason, in a reviewed text file per stack
//! (`conformance/known/<stack>.txt`, lines `spec-name: reason`). A known
//! divergence does not fail a run; an unknown one does, and so does a listed
//! spec that no longer diverges, so the list stays true.

use std::collections::BTreeMap;
use std::path::Path;

/// Spec name -> reason.
pub type Known = BTreeMap<String, String>;

/// Parses a known-divergences file; `#` starts a comment.
pub fn parse(text: &str) -> Result<Known, String> {
    let mut out = Known::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, reason) = line
            .split_once(':')
            .ok_or_else(|| format!("line {}: expected `spec-name: reason`", i + 1))?;
        if out
            .insert(name.trim().to_string(), reason.trim().to_string())
            .is_some()
        {
            return Err(format!("line {}: {} is listed twice", i + 1, name.trim()));
        }
    }
    Ok(out)
}

/// Reads the file for `stack` under `dir`; a missing file lists nothing.
pub fn load(dir: &Path, stack: &str) -> Result<Known, String> {
    let path = dir.join(format!("{stack}.txt"));
    match std::fs::read_to_string(&path) {
        Ok(t) => parse(&t).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Known::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_reasons_and_rejects_duplicates() {
        let k = parse("# c\nspec-a: data after close gets RST\n\nspec-b: x: y\n").expect("ok");
        assert_eq!(k.get("spec-b").map(String::as_str), Some("x: y"));
        assert!(parse("a: 1\na: 2\n").is_err());
        assert!(parse("no colon\n").is_err());
    }
}
