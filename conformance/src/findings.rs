//! Findings (reports/findings/*.md) are written by people, but their
//! evidence is not: each finding names the stack and the spec that
//! reproduces it in a marker, and `timewait replay` rewrites the block
//! between the markers with that spec's run (the failing step and the
//! exchange, then the same run as a sequence diagram: Mermaid in the block,
//! and an SVG beside the finding in `diagrams/`), so a finding cannot drift
//! from what the stack does. A test checks the blocks and the SVGs against
//! fresh runs of the virtual-time stacks.
//!
//! ```text
//! <!-- evidence: stack=smoltcp spec=specs/reviewed/rst-in-window-in-time-wait.yaml -->
//! (generated)
//! <!-- end evidence -->
//! ```

use crate::stack::StackRun;
use std::path::{Path, PathBuf};
use timewait_model::diagram::Diagram;

const OPEN: &str = "<!-- evidence: ";
const CLOSE: &str = "<!-- end evidence -->";

/// One evidence block's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub stack: String,
    /// The spec's path, relative to the repository.
    pub spec: PathBuf,
}

/// The evidence blocks a finding asks for, in order.
pub fn blocks(text: &str) -> Result<Vec<Evidence>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim().strip_prefix(OPEN) else {
            continue;
        };
        let rest = rest.trim_end_matches("-->").trim();
        let mut stack = None;
        let mut spec = None;
        for kv in rest.split_whitespace() {
            match kv.split_once('=') {
                Some(("stack", v)) => stack = Some(v.to_string()),
                Some(("spec", v)) => spec = Some(PathBuf::from(v)),
                _ => return Err(format!("line {}: unknown marker field {kv:?}", i + 1)),
            }
        }
        match (stack, spec) {
            (Some(_), Some(spec)) if spec.extension().is_none_or(|x| x != "yaml") => {
                return Err(format!(
                    "line {}: expected spec= to name a .yaml spec file, found {:?}",
                    i + 1,
                    spec.display().to_string()
                ))
            }
            (Some(stack), Some(spec)) => out.push(Evidence { stack, spec }),
            _ => return Err(format!("line {}: the marker needs stack= and spec=", i + 1)),
        }
    }
    Ok(out)
}

/// The block for one run: the verdict line, the failing step and the
/// exchange, as the replay log shows it, then its sequence diagram.
pub fn render(e: &Evidence, run: &Result<StackRun, String>) -> String {
    let mut o = format!(
        "Replayed by `timewait replay --stack {} {}`:\n\n```text\n",
        e.stack,
        e.spec.display()
    );
    match run {
        Err(err) => o.push_str(&format!("harness error: {err}\n")),
        Ok(run) => {
            match &run.replay.failure {
                None => o.push_str("the stack passes every step\n"),
                Some(f) => o.push_str(&format!(
                    "{}:{}:{}: {f}\n",
                    e.spec.display(),
                    f.line,
                    f.column
                )),
            }
            for line in &run.replay.log {
                o.push_str(line);
                o.push('\n');
            }
        }
    }
    o.push_str("```\n\n");
    if let Some(d) = diagram(e, run) {
        o.push_str(&format!(
            "```mermaid\n{}```\n\nDiagram: [`{1}`]({1}).\n",
            d.to_mermaid(),
            diagram_name(e)
        ));
    }
    o.push_str(&format!(
        "Capture: [`{0}`]({0}) (time counted from the spec's start).\n",
        capture_name(e)
    ));
    o
}

/// The run of an evidence block as a sequence diagram (none for a harness
/// error, which has no exchange).
pub fn diagram(e: &Evidence, run: &Result<StackRun, String>) -> Option<Diagram> {
    let run = run.as_ref().ok()?;
    let stem = e.spec.file_stem().unwrap_or(e.spec.as_os_str());
    let title = format!("{} on {}", stem.to_string_lossy(), e.stack);
    Some(crate::diagram::of_replay(
        &title,
        &e.stack,
        &run.replay,
        None,
    ))
}

/// The SVG of an evidence block's run, beside the findings
/// (`diagrams/STACK-SPEC.svg`, relative to reports/findings/).
pub fn diagram_name(e: &Evidence) -> String {
    let stem = e.spec.file_stem().unwrap_or(e.spec.as_os_str());
    format!("diagrams/{}-{}.svg", e.stack, stem.to_string_lossy())
}

/// The capture of an evidence block's run, beside the findings
/// (`pcap/STACK-SPEC.pcap`, relative to reports/findings/).
pub fn capture_name(e: &Evidence) -> String {
    // `blocks` admits only `.yaml` paths, which have a stem.
    let stem = e.spec.file_stem().unwrap_or(e.spec.as_os_str());
    format!("pcap/{}-{}.pcap", e.stack, stem.to_string_lossy())
}

/// `text` with every block replaced by `fill(evidence)`.
pub fn refresh(
    text: &str,
    mut fill: impl FnMut(&Evidence) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        out.push_str(line);
        out.push('\n');
        if !line.trim().starts_with(OPEN) {
            continue;
        }
        let e = blocks(line)?
            .pop()
            .ok_or_else(|| format!("line {}: bad marker", i + 1))?;
        let mut old = String::new();
        let mut closed = false;
        for (_, l) in lines.by_ref() {
            if l.trim() == CLOSE {
                closed = true;
                break;
            }
            old.push_str(l);
            old.push('\n');
        }
        if !closed {
            return Err(format!("line {}: evidence block without `{CLOSE}`", i + 1));
        }
        out.push_str(&fill(&e).unwrap_or(old));
        out.push_str(CLOSE);
        out.push('\n');
    }
    Ok(out)
}

/// The finding files under `dir`, sorted; a folder that cannot be listed
/// is an error, not a folder without findings.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, RefreshError> {
    let io = |source| RefreshError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut v = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.extension().is_some_and(|x| x == "md") {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

/// A findings folder that cannot be refreshed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Markers { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Capture { path: PathBuf, message: String },
    #[error("cannot write the diagram {}", path.display())]
    Diagram {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes `svg` to `path`, creating its folder.
fn write_svg(path: &Path, svg: &str) -> Result<(), RefreshError> {
    let err = |source| RefreshError::Diagram {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, svg).map_err(err)
}

/// Rewrites the evidence blocks about `stack` in every finding under `dir`
/// with `results` (the suite's runs; paths are read relative to `root`),
/// and writes each block's capture beside the findings. Returns the
/// findings whose text changed.
pub fn refresh_dir(
    stack: crate::stack::StackKind,
    results: &[crate::suite::SpecResult],
    dir: &Path,
    root: &Path,
) -> Result<Vec<PathBuf>, RefreshError> {
    let mut changed = Vec::new();
    for path in files(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|source| RefreshError::Io {
            path: path.clone(),
            source,
        })?;
        let mut capture_error = None;
        let mut marker_error = None;
        let new = refresh(&text, |e| {
            if crate::stack::StackKind::from_name(&e.stack).is_none() {
                marker_error = Some(format!("evidence names an unknown stack `{}`", e.stack));
                return None;
            }
            if e.stack != stack.name() {
                return None;
            }
            // Only a run of the whole suite refreshes the findings, so a
            // spec missing from it is a marker naming no spec the stack runs.
            let Some(r) = results
                .iter()
                .find(|r| r.path.strip_prefix(root).unwrap_or(&r.path) == e.spec)
            else {
                marker_error = Some(format!(
                    "evidence names {}, which is not among the specs run on {}",
                    e.spec.display(),
                    e.stack
                ));
                return None;
            };
            if let Ok(run) = &r.run {
                // Stamped from the epoch, so that a virtual-time capture
                // changes only when the stack's bytes do (gVisor's IP IDs
                // are random).
                let pcap = dir.join(capture_name(e));
                if let Err(message) = crate::pcap::write(&pcap, &run.frames, std::time::UNIX_EPOCH)
                {
                    capture_error = Some(RefreshError::Capture {
                        path: pcap,
                        message,
                    });
                }
            }
            if let Some(d) = diagram(e, &r.run) {
                if let Err(err) = write_svg(&dir.join(diagram_name(e)), &d.to_svg()) {
                    capture_error = Some(err);
                }
            }
            Some(render(e, &r.run))
        })
        .map_err(|message| RefreshError::Markers {
            path: path.clone(),
            message,
        })?;
        if let Some(message) = marker_error {
            return Err(RefreshError::Markers { path, message });
        }
        if let Some(e) = capture_error {
            return Err(e);
        }
        if new != text {
            std::fs::write(&path, new).map_err(|source| RefreshError::Io {
                path: path.clone(),
                source,
            })?;
            changed.push(path);
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_replaced_and_other_text_kept() {
        let text = "# F\nprose\n<!-- evidence: stack=s spec=specs/x.yaml -->\nold\n<!-- end evidence -->\ntail\n";
        let got = refresh(text, |e| Some(format!("new {}\n", e.stack))).expect("ok");
        assert_eq!(
            got,
            "# F\nprose\n<!-- evidence: stack=s spec=specs/x.yaml -->\nnew s\n<!-- end evidence -->\ntail\n"
        );
        let kept = refresh(text, |_| None).expect("ok");
        assert_eq!(kept, text);
        assert!(refresh("<!-- evidence: stack=s spec=x -->\nno end\n", |_| None).is_err());
        assert!(blocks("<!-- evidence: stack=s -->").is_err());
    }

    #[test]
    fn a_marker_naming_no_yaml_spec_is_an_error_naming_the_line() {
        let e = blocks("x\n<!-- evidence: stack=s spec=specs/ -->").expect_err("no file");
        assert!(
            e.starts_with("line 2: expected spec= to name a .yaml spec file"),
            "{e}"
        );
    }

    #[test]
    fn an_unlistable_findings_folder_is_an_error() {
        let e = files(Path::new("/nonexistent/findings")).expect_err("no folder");
        assert_eq!(e.to_string(), "cannot read /nonexistent/findings");
        assert!(
            std::error::Error::source(&e).is_some(),
            "the OS error is the source"
        );
    }

    #[test]
    fn refreshing_a_finding_whose_spec_did_not_run_is_an_error() {
        let dir = std::env::temp_dir().join(format!("timewait-findings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let f = dir.join("f.md");
        let text = "<!-- evidence: stack=smoltcp spec=specs/reviewed/gone.yaml -->\nold\n<!-- end evidence -->\n";
        std::fs::write(&f, text).expect("write");
        let e = refresh_dir(crate::stack::StackKind::Smoltcp, &[], &dir, &dir)
            .expect_err("the spec is not in the run");
        assert!(
            e.to_string()
                .contains("evidence names specs/reviewed/gone.yaml, which is not among the specs run on smoltcp"),
            "{e}"
        );
        std::fs::write(&f, text.replace("smoltcp", "nosuch")).expect("write");
        let e = refresh_dir(crate::stack::StackKind::Smoltcp, &[], &dir, &dir)
            .expect_err("unknown stack");
        assert!(e.to_string().contains("unknown stack `nosuch`"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&f).expect("read"),
            text.replace("smoltcp", "nosuch")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
