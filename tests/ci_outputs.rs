//! The CI outputs of `check`, `specs check` and `replay` as a CI job
//! meets them: `--junit` read back as XML (testcases, names, the failure
//! a known bad case carries), `--summary-md`, and the summary appended to
//! `$GITHUB_STEP_SUMMARY`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary with no job summary of its own to append to (a CI runner
/// running these tests has one), unless `step_summary` names one.
fn timewait(args: &[&str], step_summary: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_timewait"));
    c.args(args).env_remove("GITHUB_STEP_SUMMARY");
    if let Some(p) = step_summary {
        c.env("GITHUB_STEP_SUMMARY", p);
    }
    c.output().expect("the binary runs")
}

fn in_repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// One testcase as read back from the JUnit file.
#[derive(Debug)]
struct Case {
    class: String,
    name: String,
    /// `failure`, `error`, `skipped`, or empty for a pass.
    outcome: String,
    message: String,
    body: String,
    system_out: String,
}

fn read_junit(path: &Path) -> Vec<Case> {
    let xml = std::fs::read_to_string(path).expect("the JUnit file is written");
    let doc = roxmltree::Document::parse(&xml).expect("the JUnit file is XML");
    assert_eq!(doc.root_element().tag_name().name(), "testsuites");
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|t| {
            let bad = t
                .children()
                .find(|n| ["failure", "error", "skipped"].contains(&n.tag_name().name()));
            let out = t.children().find(|n| n.has_tag_name("system-out"));
            Case {
                class: t.attribute("classname").unwrap_or_default().into(),
                name: t.attribute("name").unwrap_or_default().into(),
                outcome: bad.map_or("", |n| n.tag_name().name()).into(),
                message: bad
                    .and_then(|n| n.attribute("message"))
                    .unwrap_or_default()
                    .into(),
                body: bad.and_then(|n| n.text()).unwrap_or_default().into(),
                system_out: out.and_then(|n| n.text()).unwrap_or_default().into(),
            }
        })
        .collect()
}

fn case<'a>(cases: &'a [Case], class: &str, name: &str) -> &'a Case {
    cases
        .iter()
        .find(|c| c.class == class && c.name == name)
        .unwrap_or_else(|| panic!("no testcase {class} / {name} in {cases:#?}"))
}

/// The retransmitted FIN of a lost last ACK, answered with a RST: what a
/// SUT without TIME-WAIT does, which the RFC model (and smoltcp) do not.
const LOST_LAST_ACK_RESET: &str = "name: lost-last-ack-reset
description: The retransmitted FIN meets a SUT without TIME-WAIT, which resets it.
role: active-closer
msl: 30s
model:
  pass: [no-time-wait]
  fail: [rfc1337]
steps:
  - app: listen
  - inject: {flags: S, seq: 0, win: 65535, options: {mss: 1460}}
  - expect: {flags: SA, seq: 0, ack: 1}
  - inject: {flags: A, seq: 1, ack: 1}
  - app: accept
  - app: close
  - expect: {flags: FA, seq: 1, ack: 1}
  - inject: {flags: FA, seq: 1, ack: 2}
  - expect: {flags: A, seq: 2, ack: 2}
  - wait: 1s
  - inject: {flags: FA, seq: 1, ack: 2}
  - expect: {flags: R, seq: 2}
";

/// A fresh folder, removed at the end.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("timewait-ci-{tag}-"))
            .tempdir()
            .expect("temp dir");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().expect("a folder")).expect("folder");
        std::fs::write(&p, text).expect("write");
        p.to_string_lossy().into_owned()
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn check_writes_one_testcase_per_verdict_row_and_an_incomplete_one_as_an_error() {
    let dir = Scratch::new("check");
    let (junit, md) = (dir.path("deep/junit.xml"), dir.path("deep/summary.md"));
    let o = timewait(
        &[
            "check",
            "--variant",
            "no-time-wait",
            "--variant",
            "short-time-wait",
            "--property",
            "reliable-termination/reset",
            "--quiet",
            "--junit",
            s(&junit),
            "--summary-md",
            s(&md),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let cases = read_junit(&junit);
    assert_eq!(cases.len(), 2, "{cases:#?}");
    // Violated, as these variants are expected to be: passes, and says so.
    let c = case(&cases, "no-time-wait", "reliable-termination/reset");
    assert_eq!(c.outcome, "", "{c:#?}");
    assert!(
        c.system_out
            .starts_with("violated, shortest counterexample (6 steps), as expected\n"),
        "{c:#?}"
    );
    let summary = std::fs::read_to_string(&md).expect("the summary is written");
    assert!(
        summary.contains("- 2 verdicts: 2 as expected, 0 not as expected, 0 incomplete\n"),
        "{summary}"
    );
    assert!(summary.contains("**2 cases: 2 passed, 0 failed, 0 errors, 0 skipped**"));
    assert!(!summary.contains("| case |"), "nothing to table: {summary}");

    // A state limit leaves the verdict undecided: an error, exit 1.
    let o = timewait(
        &[
            "check",
            "--variant",
            "rfc1337",
            "--property",
            "reliable-termination/reset",
            "--max-states",
            "100",
            "--quiet",
            "--junit",
            s(&junit),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let cases = read_junit(&junit);
    assert_eq!(cases.len(), 1);
    let c = case(&cases, "rfc1337", "reliable-termination/reset");
    assert_eq!(c.outcome, "error", "{c:#?}");
    assert!(
        c.message.starts_with("incomplete: stopped at a limit"),
        "{c:#?}"
    );
}

#[test]
fn specs_check_fails_the_assertion_the_model_contradicts_with_its_step_expected_and_actual() {
    let dir = Scratch::new("specs");
    // The reviewed spec says no-time-wait fails; claim it passes instead.
    let spec = std::fs::read_to_string(in_repo("specs/reviewed/lost-last-ack-reacked.yaml"))
        .expect("spec")
        .replace(
            "  fail: [no-time-wait, short-time-wait]",
            "  fail: [short-time-wait]",
        )
        .replace(
            "time-wait-restart-fin-only]",
            "time-wait-restart-fin-only, no-time-wait]",
        );
    let file = dir.write("specs/lost-last-ack-reacked.yaml", &spec);
    let (junit, md) = (dir.path("out/junit.xml"), dir.path("out/summary.md"));
    let o = timewait(
        &[
            "specs",
            "check",
            &file,
            &in_repo("specs/reviewed/abort-sends-rst.yaml"),
            "--junit",
            s(&junit),
            "--summary-md",
            s(&md),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let cases = read_junit(&junit);
    // One testcase per variant each spec's `model` section lists.
    let listed = |spec: &str| cases.iter().filter(|c| c.class == spec).count();
    assert_eq!(listed("lost-last-ack-reacked"), 11, "{cases:#?}");
    assert_eq!(listed("abort-sends-rst"), 11, "{cases:#?}");
    let failures: Vec<&Case> = cases.iter().filter(|c| c.outcome == "failure").collect();
    assert_eq!(failures.len(), 1, "{cases:#?}");
    let c = case(&cases, "lost-last-ack-reacked", "no-time-wait must pass");
    assert_eq!(c.outcome, "failure");
    assert!(
        c.message.ends_with(
            "lost-last-ack-reacked.yaml:31:5: step 13 (expect): expected A seq=2 ack=2; the model sends R seq=2 (differs in flags R, ack)"
        ),
        "{c:#?}"
    );
    assert!(
        c.body.starts_with(
            "at: step 13 (expect, line 31)\nexpected: A seq=2 ack=2\nactual: the model sends R seq=2"
        ),
        "{c:#?}"
    );
    // The variant the spec says fails, and does, passes saying where.
    let c = case(&cases, "lost-last-ack-reacked", "short-time-wait must fail");
    assert_eq!(c.outcome, "");
    assert!(
        c.system_out.starts_with("fails as the spec says: step 15"),
        "{c:#?}"
    );
    let summary = std::fs::read_to_string(&md).expect("the summary is written");
    assert!(summary.contains(
        "| lost-last-ack-reacked / no-time-wait must pass | failure | step 13 (expect, line 31) | A seq=2 ack=2 | the model sends R seq=2 (differs in flags R, ack) |"
    ), "{summary}");
    assert!(
        summary.contains("**22 cases: 21 passed, 1 failed, 0 errors, 0 skipped**"),
        "{summary}"
    );
}

#[test]
fn replay_fails_a_new_departure_and_passes_a_known_or_predicted_one_saying_which() {
    let dir = Scratch::new("replay");
    // smoltcp departs from old-ack-in-time-wait at step 12 (no ACK): an
    // entry pinned at step 11 absorbs nothing. Its 10 s TIME-WAIT departs
    // from time-wait-outlasts-2msl as the committed entry says.
    let committed = std::fs::read_to_string(in_repo("conformance/known/smoltcp.txt"))
        .expect("the committed list");
    let outlasts = committed
        .lines()
        .find(|l| l.starts_with("time-wait-outlasts-2msl |"))
        .expect("the committed entry");
    dir.write(
        "known/smoltcp.txt",
        &format!(
            "old-ack-in-time-wait | step 11 | nothing | pinned at the wrong step on purpose\n{outlasts}\n"
        ),
    );
    // A spec without TIME-WAIT's re-ACK: smoltcp fails it where and as
    // the RFC model does.
    let predicted = dir.write("specs/lost-last-ack-reset.yaml", LOST_LAST_ACK_RESET);
    let (junit, md) = (dir.path("ci/a/junit.xml"), dir.path("ci/b/summary.md"));
    let o = timewait(
        &[
            "replay",
            "--stack",
            "smoltcp",
            "--known",
            s(&dir.path("known")),
            "--out",
            s(&dir.path("pcap")),
            &in_repo("specs/reviewed/old-ack-in-time-wait.yaml"),
            &in_repo("specs/reviewed/time-wait-outlasts-2msl.yaml"),
            &in_repo("specs/reviewed/simultaneous-close.yaml"),
            &predicted,
            "--junit",
            s(&junit),
            "--summary-md",
            s(&md),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let cases = read_junit(&junit);
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "lost-last-ack-reset",
            "old-ack-in-time-wait",
            "simultaneous-close",
            "time-wait-outlasts-2msl"
        ]
    );
    assert!(cases.iter().all(|c| c.class == "smoltcp"), "{cases:#?}");
    let c = case(&cases, "smoltcp", "old-ack-in-time-wait");
    assert_eq!(c.outcome, "failure");
    assert!(
        c.message.contains(
            "old-ack-in-time-wait.yaml:29:5: step 12 (expect) at 0.100s: expected A seq=2 ack=2 by 0.100s; got nothing arrived; the stack step 12: nothing; the model (rfc1337) passes; the known entry (line 1) says step 11: nothing, so this is a new departure"
        ),
        "{c:#?}"
    );
    let c = case(&cases, "smoltcp", "time-wait-outlasts-2msl");
    assert_eq!(c.outcome, "", "a known departure passes: {c:#?}");
    assert!(
        c.system_out
            .starts_with("diverges (known): the stack step 11: state CLOSED; the model (rfc1337) passes; known: TIME-WAIT is a fixed 10 s"),
        "{c:#?}"
    );
    assert_eq!(case(&cases, "smoltcp", "simultaneous-close").outcome, "");
    let c = case(&cases, "smoltcp", "lost-last-ack-reset");
    assert_eq!(c.outcome, "", "a failure as predicted passes: {c:#?}");
    assert!(
        c.system_out
            .starts_with("fail (as predicted): both fail at step 12: A seq=2 ack=2 len=0\n"),
        "{c:#?}"
    );
    let summary = std::fs::read_to_string(&md).expect("the summary is written");
    assert!(summary.contains(
        "| smoltcp / old-ack-in-time-wait | failure | step 12 (expect, line 29) | A seq=2 ack=2 by 0.100s | nothing arrived |"
    ), "{summary}");
    assert!(summary.contains("- smoltcp: 4 specs in "), "{summary}");
    // Only what did not pass is tabled.
    assert_eq!(summary.matches("| smoltcp / ").count(), 1, "{summary}");
    // The failed step's diagram is named, so a reader can open it.
    let svg = dir.path("pcap/smoltcp/old-ack-in-time-wait.svg");
    assert!(
        summary.contains(&format!("- {}\n", svg.display())),
        "{summary}"
    );
    assert!(svg.exists());
}

#[test]
fn the_summary_is_appended_to_the_job_summary_when_github_sets_one() {
    let dir = Scratch::new("step-summary");
    let step = dir.path("step_summary.md");
    std::fs::write(&step, "an earlier step's summary\n").expect("write");
    let md = dir.path("summary.md");
    let o = timewait(
        &[
            "specs",
            "check",
            &in_repo("specs/reviewed/abort-sends-rst.yaml"),
            "--summary-md",
            s(&md),
        ],
        Some(&step),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ours = std::fs::read_to_string(&md).expect("the summary");
    let appended = std::fs::read_to_string(&step).expect("the job summary");
    assert_eq!(appended, format!("an earlier step's summary\n{ours}"));
    assert!(
        ours.contains("**11 cases: 11 passed, 0 failed, 0 errors, 0 skipped**"),
        "{ours}"
    );
}

#[test]
fn a_repeat_run_takes_no_junit_file() {
    let o = timewait(
        &[
            "replay", "--stack", "smoltcp", "--repeat", "2", "--junit", "j.xml",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cannot be used with"), "{}", text(&o));
}

#[test]
fn a_whole_smoltcp_suite_has_a_testcase_per_spec_and_skips_those_that_do_not_apply() {
    let dir = Scratch::new("replay-whole");
    let (junit, md) = (dir.path("junit.xml"), dir.path("summary.md"));
    let o = Command::new(env!("CARGO_BIN_EXE_timewait"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GITHUB_STEP_SUMMARY")
        .args(["replay", "--stack", "smoltcp", "--no-facts", "--reports"])
        .arg(dir.path("reports"))
        .arg("--out")
        .arg(dir.path("pcap"))
        .arg("--junit")
        .arg(&junit)
        .arg("--summary-md")
        .arg(&md)
        .output()
        .expect("the binary runs");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let specs = ["specs/reviewed", "specs/generated"]
        .iter()
        .flat_map(|d| std::fs::read_dir(in_repo(d)).expect("the specs"))
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        })
        .count();
    let cases = read_junit(&junit);
    assert_eq!(cases.len(), specs, "one testcase per spec");
    // The console's "N pin Linux knobs and do not apply" are the skips.
    let err = String::from_utf8_lossy(&o.stderr);
    let na: usize = err
        .split(" pin Linux knobs and do not apply")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the header counts the specs that do not apply");
    assert!(na > 0, "{err}");
    let skipped: Vec<&Case> = cases.iter().filter(|c| c.outcome == "skipped").collect();
    assert_eq!(skipped.len(), na, "{skipped:#?}");
    assert!(skipped[0].message.starts_with("n/a: pins Linux knobs"));
    assert!(cases
        .iter()
        .all(|c| c.outcome != "failure" && c.outcome != "error"));
    let summary = std::fs::read_to_string(&md).expect("the summary");
    let report = dir.path("reports/conformance-smoltcp.md");
    assert!(
        summary.contains(&format!("- {}\n", report.display())),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "- {}\n",
            dir.path("reports/conformance.md").display()
        )),
        "{summary}"
    );
}
