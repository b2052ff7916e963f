//! A run as a short Markdown summary for a CI job summary: each suite's
//! counts line as the command's console gives it, one line of case counts,
//! a table of what did not pass (where, expected, actual), and the files
//! the run wrote. The table's cells are made safe the way the conformance
//! reports make theirs.

use super::{Run, Status};
use std::fmt::Write as _;
use timewait_conformance::report::cell;

/// Rows past this are left to the JUnit file, so the summary stays short.
const MAX_ROWS: usize = 40;

pub fn markdown(run: &Run) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "### `{}`\n", run.title);
    for s in &run.suites {
        if !s.counts.is_empty() {
            let _ = writeln!(o, "- {}", s.counts);
        }
    }
    let time: std::time::Duration = run.suites.iter().map(|s| s.wall).sum();
    let _ = writeln!(
        o,
        "\n**{} cases: {} passed, {} failed, {} errors, {} skipped** ({:.1} s)\n",
        run.cases(),
        run.count(Status::Pass),
        run.count(Status::Failure),
        run.count(Status::Error),
        run.count(Status::Skipped),
        time.as_secs_f64()
    );
    let bad: Vec<_> = run
        .suites
        .iter()
        .flat_map(|s| &s.cases)
        .filter(|c| matches!(c.status, Status::Failure | Status::Error))
        .collect();
    if !bad.is_empty() {
        o.push_str("| case | result | where | expected | actual |\n");
        o.push_str("|---|---|---|---|---|\n");
        for c in bad.iter().take(MAX_ROWS) {
            // A row with no departure to show (a limit hit, a harness
            // error) shows its message instead.
            let actual = if c.expected.is_empty() && c.actual.is_empty() {
                &c.message
            } else {
                &c.actual
            };
            let _ = writeln!(
                o,
                "| {} / {} | {} | {} | {} | {} |",
                cell(&c.class),
                cell(&c.name),
                c.status.name(),
                cell(&c.at),
                cell(&c.expected),
                cell(actual)
            );
        }
        if bad.len() > MAX_ROWS {
            let _ = writeln!(
                o,
                "\n{} more not listed here: see the JUnit file.",
                bad.len() - MAX_ROWS
            );
        }
        o.push('\n');
    }
    if !run.files.is_empty() {
        o.push_str("Written:\n\n");
        for f in &run.files {
            let _ = writeln!(o, "- {f}");
        }
        o.push('\n');
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::{Case, Suite};
    use std::time::Duration;

    #[test]
    fn only_what_did_not_pass_is_tabled_with_expected_and_actual() {
        let mut run = Run::new("timewait replay --stack smoltcp");
        run.suites.push(Suite {
            name: "smoltcp".into(),
            counts: "smoltcp: 2 specs".into(),
            wall: Duration::from_millis(2300),
            cases: vec![
                Case::new("smoltcp", "fine", Duration::ZERO),
                Case::new("smoltcp", "rst", Duration::ZERO)
                    .with(Status::Failure, "diverges")
                    .departed("step 13 (line 31)", "it is in TIME-WAIT", "it is in CLOSED"),
                Case::new("smoltcp", "late", Duration::ZERO)
                    .with(Status::Error, "the harness was late | rerun"),
                Case::new("smoltcp", "n/a", Duration::ZERO).with(Status::Skipped, "pins Linux"),
            ],
        });
        run.files.push("reports/conformance-smoltcp.md".into());
        let md = markdown(&run);
        assert!(md.starts_with("### `timewait replay --stack smoltcp`\n\n- smoltcp: 2 specs\n"));
        assert!(md.contains("**4 cases: 1 passed, 1 failed, 1 errors, 1 skipped** (2.3 s)"));
        assert!(md.contains(
            "| smoltcp / rst | failure | step 13 (line 31) | it is in TIME-WAIT | it is in CLOSED |"
        ));
        assert!(md.contains("| smoltcp / late | error |  |  | the harness was late \\| rerun |"));
        assert!(!md.contains("/ fine"), "{md}");
        assert!(!md.contains("/ n/a"), "{md}");
        assert!(md.contains("- reports/conformance-smoltcp.md\n"));
    }
}
