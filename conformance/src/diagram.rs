//! A replay as a sequence diagram for the reports and findings: the test
//! peer and the SUT as lifelines, every segment each way in the spec's
//! relative numbers with the time it crossed the wire, the SUT's
//! application calls and state checks as notes, and, for a run that
//! departed from its spec, the failing step marked: what the spec expected
//! there (dashed) against what the stack did (red). Drawn with the model
//! crate's builder ([`timewait_model::diagram`]), so a failure looks like a
//! model counterexample.
//!
//! The rows come from the engine's log, whose lines the engine writes in one
//! fixed form (`   1.100s  peer > SUT  R seq=100 win=65535`); a line of any
//! other form still appears, as a note over both lifelines.

use crate::engine::{Failure, Replay};
use timewait_model::diagram::{Diagram, Mark};
use timewait_specs::observed::Observed;

/// The lifelines: the harness's test peer and the stack under test.
pub const PEER: usize = 0;
pub const SUT: usize = 1;

/// Notes are wrapped at this many characters so that a long reason does not
/// make the picture wider than a page.
const WRAP: usize = 88;

/// The diagram of one replay of a spec on `stack`. `verdict`, when given,
/// is the judge's line for the run (its mark and why), shown under the
/// failing step.
pub fn of_replay(title: &str, stack: &str, replay: &Replay, verdict: Option<&str>) -> Diagram {
    let sut = format!("SUT ({stack})");
    let mut d = Diagram::new(title, &["peer (harness)", &sut]);
    for line in &replay.log {
        row(&mut d, line);
    }
    if let Some(f) = &replay.failure {
        failure(&mut d, f, verdict);
    } else if let Some(late) = &replay.timing_invalid {
        d.note_all(
            wrap(&format!(
                "timing invalid: {late}; the run says nothing about the stack (rerun it)"
            )),
            Mark::Failed,
        );
    } else {
        d.note_all("the stack passes every step", Mark::Plain);
    }
    d
}

/// One log line as a row.
fn row(d: &mut Diagram, line: &str) {
    let Some((time, text)) = line.trim_start().split_once("s  ") else {
        d.note_all(wrap(line.trim()), Mark::Plain);
        return;
    };
    let at = format!("{time}s");
    if let Some(seg) = text.strip_prefix("peer > SUT  ") {
        d.message(PEER, SUT, format!("{at}  {seg}"), Mark::Plain);
    } else if let Some(seg) = text.strip_prefix("SUT > peer  ") {
        d.message(SUT, PEER, format!("{at}  {seg}"), Mark::Plain);
    } else if let Some(call) = text.strip_prefix("SUT app: ") {
        d.note(SUT, SUT, format!("{at}  app: {call}"), Mark::Plain);
    } else if let Some(state) = text.strip_prefix("SUT state") {
        let state = state.trim_start_matches(':').trim();
        d.note(SUT, SUT, wrap(&format!("{at}  state {state}")), Mark::Plain);
    } else {
        d.note_all(wrap(&format!("{at}  {text}")), Mark::Plain);
    }
}

/// The failing step: what the spec expected, what the stack did, and the
/// step marked with its place in the spec.
fn failure(d: &mut Diagram, f: &Failure, verdict: Option<&str>) {
    let at = format!("{:.3}s", f.at.as_secs_f64());
    let expected = format!("expected: {}", f.expected);
    // An expected segment is an arrow the SUT should have sent; anything
    // else the spec expected (a state, a silence, a call's result) is a
    // note over the SUT.
    if f.kind == "expect" {
        d.message(SUT, PEER, wrap(&expected), Mark::Expected);
    } else {
        d.note(SUT, SUT, wrap(&expected), Mark::Expected);
    }
    let got = format!("{at}  got: {}", f.actual);
    match &f.observed {
        Observed::Segment(_) => d.message(SUT, PEER, wrap(&got), Mark::Failed),
        _ => d.note(SUT, SUT, wrap(&got), Mark::Failed),
    }
    let mut text = format!(
        "✗ step {} ({}, line {}:{}) is where the stack departs from the spec",
        f.step + 1,
        f.kind,
        f.line,
        f.column
    );
    if let Some(v) = verdict {
        text.push('\n');
        text.push_str(v);
    }
    d.note_all(wrap(&text), Mark::Failed);
}

/// `text` broken at spaces into lines of at most [`WRAP`] characters
/// (a longer word stays whole); existing line breaks are kept.
pub fn wrap(text: &str) -> String {
    let mut out = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        for word in para.split(' ') {
            let len = line.chars().count();
            if len > 0 && len + 1 + word.chars().count() > WRAP {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push(line);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use timewait_model::diagram::Row;

    fn replay(log: &[&str], failure: Option<Failure>) -> Replay {
        Replay {
            failure,
            timing_invalid: None,
            latest: None,
            log: log.iter().map(|s| s.to_string()).collect(),
            elapsed: Duration::from_millis(1100),
        }
    }

    const LOG: &[&str] = &[
        "    0.000s  SUT app: listen",
        "    0.000s  peer > SUT  S seq=0 win=65535",
        "    0.000s  SUT > peer  SA seq=0 ack=1 win=65535",
        "    0.000s  SUT state TIME-WAIT",
        "    1.000s  incarnation 2 (peer ISN 100000)",
    ];

    #[test]
    fn every_kind_of_log_line_becomes_its_own_kind_of_row() {
        let d = of_replay("t", "smoltcp", &replay(LOG, None), None);
        assert_eq!(d.lifelines, ["peer (harness)", "SUT (smoltcp)"]);
        let want = [
            Row::Note {
                from: SUT,
                to: SUT,
                text: "0.000s  app: listen".into(),
                mark: Mark::Plain,
            },
            Row::Message {
                from: PEER,
                to: SUT,
                text: "0.000s  S seq=0 win=65535".into(),
                mark: Mark::Plain,
            },
            Row::Message {
                from: SUT,
                to: PEER,
                text: "0.000s  SA seq=0 ack=1 win=65535".into(),
                mark: Mark::Plain,
            },
            Row::Note {
                from: SUT,
                to: SUT,
                text: "0.000s  state TIME-WAIT".into(),
                mark: Mark::Plain,
            },
            Row::Note {
                from: PEER,
                to: SUT,
                text: "1.000s  incarnation 2 (peer ISN 100000)".into(),
                mark: Mark::Plain,
            },
            Row::Note {
                from: PEER,
                to: SUT,
                text: "the stack passes every step".into(),
                mark: Mark::Plain,
            },
        ];
        assert_eq!(d.rows, want);
    }

    #[test]
    fn a_failures_diagram_marks_the_failing_step_and_shows_expected_against_actual() {
        let f = Failure {
            step: 12,
            line: 31,
            column: 5,
            kind: "expect",
            expected: "A seq=2 ack=2 by 1.350s".into(),
            actual: "R seq=2 win=0 at 1.100s: flags R (expected A)".into(),
            observed: Observed::Nothing,
            at: Duration::from_millis(1100),
        };
        let d = of_replay(
            "t",
            "lwip",
            &replay(LOG, Some(f)),
            Some("verdict: diverges (known)"),
        );
        let tail = &d.rows[d.rows.len() - 3..];
        assert_eq!(
            tail[0],
            Row::Message {
                from: SUT,
                to: PEER,
                text: "expected: A seq=2 ack=2 by 1.350s".into(),
                mark: Mark::Expected
            }
        );
        assert_eq!(
            tail[1],
            Row::Note {
                from: SUT,
                to: SUT,
                text: "1.100s  got: R seq=2 win=0 at 1.100s: flags R (expected A)".into(),
                mark: Mark::Failed
            }
        );
        assert_eq!(
            tail[2],
            Row::Note {
                from: PEER,
                to: SUT,
                text: "✗ step 13 (expect, line 31:5) is where the stack departs from the spec\nverdict: diverges (known)".into(),
                mark: Mark::Failed
            }
        );
        let m = d.to_mermaid();
        assert!(
            m.contains("    L1-->>L0: expected: A seq=2 ack=2 by 1.350s\n"),
            "{m}"
        );
        assert!(
            m.contains("    rect rgb(255, 222, 222)\n        Note over L1: 1.100s  got: R seq=2"),
            "{m}"
        );
        roxmltree::Document::parse(&d.to_svg()).expect("the SVG parses");
    }

    #[test]
    fn long_notes_are_wrapped_at_spaces() {
        let w = wrap(&"word ".repeat(40));
        assert!(w.lines().count() > 1);
        assert!(w.lines().all(|l| l.chars().count() <= WRAP), "{w}");
        assert_eq!(wrap("a\nb"), "a\nb");
    }

    /// A real run: smoltcp lets a RST close TIME-WAIT, so the state check
    /// after it fails. Every line of the engine's log is drawn as a
    /// segment or a note over the SUT (none falls through to the catch-all),
    /// and the failing step ends the diagram.
    #[test]
    fn a_real_failing_replay_is_drawn_line_by_line_with_the_failing_step_last() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let spec = timewait_specs::load::load_file(
            &root.join("specs/reviewed/rst-in-window-in-time-wait.yaml"),
        )
        .expect("spec")
        .at_network_msl(crate::suite::DEFAULT_MSL);
        let run = crate::suite::replay_on(&spec, crate::stack::StackKind::Smoltcp).expect("run");
        let f = run.replay.failure.clone().expect("smoltcp fails this spec");
        let d = of_replay("t", "smoltcp", &run.replay, None);
        let log = &run.replay.log;
        assert!(log.len() > 5, "{log:?}");
        for (line, row) in log.iter().zip(&d.rows) {
            let across = matches!(
                row,
                Row::Note {
                    from: PEER,
                    to: SUT,
                    ..
                }
            );
            assert!(
                !across || line.contains("incarnation") || line.contains("note:"),
                "{line:?} fell through to a note over both: {row:?}"
            );
        }
        match d.rows.last() {
            Some(Row::Note {
                text,
                mark: Mark::Failed,
                ..
            }) => assert!(
                text.starts_with(&format!("✗ step {} ({}", f.step + 1, f.kind)),
                "{text}"
            ),
            other => panic!("the failing step must end the diagram: {other:?}"),
        }
        assert_eq!(d.rows.len(), log.len() + 3);
        roxmltree::Document::parse(&d.to_svg()).expect("the SVG parses");
    }
}
