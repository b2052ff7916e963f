//! The conformance report for people: a spec x profile table with the
//! model's prediction, the stack's result, the verdict, and the reason of
//! every failure (reports/conformance-linux.md), then each run that did not
//! pass as a sequence diagram: Mermaid in the report, and an SVG in
//! reports/diagrams/STACK/ linked from it.

use crate::suite::SpecResult;
use crate::verdict::Mark;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use timewait_model::diagram::Diagram;

/// Counts of a run.
#[derive(Default, Debug, Clone, Copy)]
pub struct Summary {
    pub pass: usize,
    pub fail_as_predicted: usize,
    pub known_divergences: usize,
    pub divergences: usize,
    pub harness_errors: usize,
    pub stale_known: usize,
    /// Runs the harness was too late in to judge (rerun them).
    pub timing_invalid: usize,
}

impl Summary {
    /// Whether the run should count as a success: nothing unexpected.
    pub fn clean(&self) -> bool {
        self.divergences == 0
            && self.harness_errors == 0
            && self.stale_known == 0
            && self.timing_invalid == 0
    }
}

/// The counts in one phrase, as the console, `--repeat` and the reports
/// all give them.
impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pass, {} fail as predicted, {} known divergences, {} unexpected divergences, \
             {} harness errors, {} stale known entries, {} timing invalid (rerun)",
            self.pass,
            self.fail_as_predicted,
            self.known_divergences,
            self.divergences,
            self.harness_errors,
            self.stale_known,
            self.timing_invalid
        )
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
            Mark::TimingInvalid => s.timing_invalid += 1,
        }
    }
    s
}

/// The latest action of a run over all its specs: the spec's name and how
/// late (see [`crate::engine::Late`]).
pub fn latest(results: &[SpecResult]) -> Option<(&str, &crate::engine::Late)> {
    results
        .iter()
        .filter_map(|r| {
            let run = r.run.as_ref().ok()?;
            Some((r.name(), run.replay.latest.as_ref()?))
        })
        .max_by_key(|(_, l)| l.by)
}

/// One sentence on the harness's lateness, for the report and the console.
pub fn lateness_line(results: &[SpecResult]) -> String {
    let bad = results
        .iter()
        .filter(|r| r.judgement.mark == Mark::TimingInvalid)
        .count();
    match latest(results) {
        // A virtual clock stands still while the harness works.
        None => "The harness took no action late.".to_string(),
        Some((_, l)) if l.by.is_zero() => "The harness took no action late.".to_string(),
        Some((name, l)) => format!(
            "Largest harness lateness {:.1} ms ({name}, {l}); {bad} runs past their tolerance.",
            l.by.as_secs_f64() * 1e3
        ),
    }
}

/// Text made safe for one Markdown table cell: no column break, no line
/// break.
pub fn cell(s: &str) -> String {
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
        "{} specs: {s}. Wall time {:.1} s for {:.1} s of spec time run one after another. {}\n",
        results.len(),
        wall.as_secs_f64(),
        waits,
        lateness_line(results)
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
            Ok(_) if r.judgement.mark == Mark::TimingInvalid => "not judged".to_string(),
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
    let drawn = diagrams(stack, results);
    if !drawn.is_empty() {
        let _ = writeln!(
            o,
            "\n## Runs that did not pass\n\nEach as a sequence diagram of the exchange: the peer's and the SUT's segments in the spec's relative numbers with the time each crossed the wire, the SUT's calls and states, and the failing step in red, what the spec expected there dashed. The same diagrams as SVG files are in `diagrams/{stack}/`.\n"
        );
    }
    for (r, file, d) in &drawn {
        let _ = writeln!(
            o,
            "### {}: {}\n\n```mermaid\n{}```\n\nDiagram: [`{file}`]({file}).\n",
            r.name(),
            r.judgement.mark.name(),
            d.to_mermaid()
        );
    }
    o
}

/// The runs of a report that did not pass, each with its SVG's path
/// (relative to the reports folder) and its diagram. A harness error has
/// no exchange to draw.
pub fn diagrams<'a>(
    stack: &str,
    results: &'a [SpecResult],
) -> Vec<(&'a SpecResult, String, Diagram)> {
    results
        .iter()
        .filter(|r| !matches!(r.judgement.mark, Mark::Pass | Mark::NotApplicable))
        .filter_map(|r| {
            let run = r.run.as_ref().ok()?;
            let verdict = format!(
                "verdict: {}: {}",
                r.judgement.mark.name(),
                r.judgement.why.trim()
            );
            let title = format!("{} on {stack}", r.name());
            let d = crate::diagram::of_replay(&title, stack, &run.replay, Some(&verdict));
            Some((r, format!("diagrams/{stack}/{}.svg", r.name()), d))
        })
        .collect()
}

/// Writes the SVG of every run that did not pass under `reports`
/// (`diagrams/STACK/SPEC.svg`), removing the stack's SVGs of runs that
/// pass now. Returns the files written.
pub fn write_diagrams(
    reports: &Path,
    stack: &str,
    results: &[SpecResult],
) -> Result<Vec<PathBuf>, std::io::Error> {
    let dir = reports.join("diagrams").join(stack);
    std::fs::create_dir_all(&dir)?;
    for entry in std::fs::read_dir(&dir)? {
        let p = entry?.path();
        if p.extension().is_some_and(|x| x == "svg") {
            std::fs::remove_file(&p)?;
        }
    }
    let mut written = Vec::new();
    for (_, file, d) in diagrams(stack, results) {
        let path = reports.join(file);
        std::fs::write(&path, d.to_svg())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::StackKind;

    fn smoltcp_run(spec: &str) -> SpecResult {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let path = root.join(spec);
        let spec = timewait_specs::load::load_file(&path)
            .expect("spec")
            .at_network_msl(crate::suite::DEFAULT_MSL);
        crate::suite::run_one(path, spec, StackKind::Smoltcp, None)
    }

    #[test]
    fn a_report_draws_each_run_that_did_not_pass_and_writes_its_svg() {
        // smoltcp lets a RST close TIME-WAIT (a divergence without its
        // known entry here); it passes the plain active close.
        let failed = smoltcp_run("specs/reviewed/rst-in-window-in-time-wait.yaml");
        let passed = smoltcp_run("specs/generated/close-active-sut-connects.yaml");
        assert_eq!(failed.judgement.mark, Mark::Diverges);
        assert_eq!(passed.judgement.mark, Mark::Pass);
        let results = [failed, passed];
        let md = markdown("smoltcp", "about.", &results, Duration::ZERO);
        let section = md
            .split("### rst-in-window-in-time-wait: DIVERGES\n\n```mermaid\nsequenceDiagram\n")
            .nth(1)
            .expect("the failing run is drawn");
        assert!(section.contains("rect rgb(255, 222, 222)"), "{section}");
        assert!(
            section.contains("✗ step 13 (expect-state, line 31:5)"),
            "{section}"
        );
        assert!(section.contains(
            "Diagram: [`diagrams/smoltcp/rst-in-window-in-time-wait.svg`](diagrams/smoltcp/rst-in-window-in-time-wait.svg)."
        ));
        assert!(
            !md.contains("### close-active-sut-connects"),
            "a pass is not drawn"
        );

        let dir = tempfile::tempdir().expect("temp dir");
        let stale = dir.path().join("diagrams/smoltcp/passes-now.svg");
        std::fs::create_dir_all(stale.parent().expect("parent")).expect("mkdir");
        std::fs::write(&stale, "<svg/>").expect("write");
        let written = write_diagrams(dir.path(), "smoltcp", &results).expect("written");
        assert_eq!(
            written,
            [dir.path()
                .join("diagrams/smoltcp/rst-in-window-in-time-wait.svg")]
        );
        assert!(
            !stale.exists(),
            "the SVG of a run that passes now is removed"
        );
        let svg = std::fs::read_to_string(&written[0]).expect("read");
        let doc = roxmltree::Document::parse(&svg).expect("the SVG parses");
        assert!(doc
            .descendants()
            .any(|n| n.text() == Some("1.100s  got: it is in CLOSED")));
    }
}
