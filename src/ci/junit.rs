//! A run as JUnit XML, through quick-junit (nextest's own writer): one
//! `<testsuite>` per suite, one `<testcase>` per case. A failure or error
//! carries its one-line message as the attribute and the place, expected,
//! actual and whole story as its text; a pass with something to say (a
//! failure as predicted, a known departure) says it in `<system-out>`.

use super::{Case, Run, Status};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

pub fn report(run: &Run) -> Report {
    let mut report = Report::new(run.title.as_str());
    let mut total = std::time::Duration::ZERO;
    for s in &run.suites {
        let mut suite = TestSuite::new(s.name.as_str());
        suite.set_time(s.wall);
        total += s.wall;
        suite.add_test_cases(s.cases.iter().map(case));
        report.add_test_suite(suite);
    }
    report.set_time(total);
    report
}

/// The text under a failure or error, or a pass's `<system-out>`.
fn story(c: &Case) -> String {
    let mut lines = Vec::new();
    if c.status == Status::Pass && !c.message.is_empty() {
        lines.push(c.message.clone());
    }
    for (label, v) in [
        ("at", &c.at),
        ("expected", &c.expected),
        ("actual", &c.actual),
    ] {
        if !v.is_empty() {
            lines.push(format!("{label}: {v}"));
        }
    }
    if !c.detail.is_empty() {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push(c.detail.trim_end().to_string());
    }
    lines.join("\n")
}

fn case(c: &Case) -> TestCase {
    let text = story(c);
    let status = match c.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(c.message.as_str());
            s
        }
        Status::Failure | Status::Error => {
            let kind = if c.status == Status::Failure {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(c.message.as_str());
            if !text.is_empty() {
                s.set_description(text.as_str());
            }
            s
        }
    };
    let mut t = TestCase::new(c.name.as_str(), status);
    t.set_classname(c.class.as_str());
    t.set_time(c.time);
    // A plain pass says nothing; one with a note (a failure as predicted,
    // a counterexample as expected) says it with its story.
    if c.status == Status::Pass && !c.message.is_empty() {
        t.set_system_out(text);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::Suite;
    use std::time::Duration;

    #[test]
    fn a_failure_an_error_and_a_pass_with_a_note_serialize_as_junit_says() {
        let mut run = Run::new("timewait test");
        run.suites.push(Suite {
            name: "s".into(),
            counts: String::new(),
            wall: Duration::from_secs(2),
            cases: vec![
                Case::new("k", "ok", Duration::from_millis(1500))
                    .with(Status::Pass, "fail (as predicted): both fail at step 3"),
                Case::new("k", "bad", Duration::ZERO)
                    .with(Status::Failure, "expected holds, found violated")
                    .departed("step 2", "A", "R")
                    .detail("1. x <&> y"),
                Case::new("k", "late", Duration::ZERO).with(Status::Error, "rerun"),
            ],
        });
        let xml = report(&run).to_string().expect("serializes");
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let cases: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].attribute("time"), Some("1.500"));
        let out = cases[0]
            .children()
            .find(|n| n.has_tag_name("system-out"))
            .and_then(|n| n.text());
        assert_eq!(out, Some("fail (as predicted): both fail at step 3"));
        let failure = cases[1]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .expect("a <failure>");
        assert_eq!(
            failure.attribute("message"),
            Some("expected holds, found violated")
        );
        assert_eq!(
            failure.text(),
            Some("at: step 2\nexpected: A\nactual: R\n\n1. x <&> y")
        );
        assert!(cases[2].children().any(|n| n.has_tag_name("error")));
        // The suite's time is its wall time, not the sum of its cases'.
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .expect("a <testsuite>");
        assert_eq!(suite.attribute("time"), Some("2.000"));
        let root = doc.root_element();
        assert_eq!(root.attribute("failures"), Some("1"));
        assert_eq!(root.attribute("errors"), Some("1"));
    }
}
