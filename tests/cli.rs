//! The `timewait` binary as a user meets it: exit codes, JSON, errors.

use std::process::Command;

fn timewait(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_timewait"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn msl_zero_is_a_usage_error_with_exit_2() {
    let o = timewait(&["check", "--msl", "0"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("msl must be between 1"), "{err}");
}

#[test]
fn unknown_variant_is_a_usage_error_listing_the_known_ones() {
    let o = timewait(&["check", "--variant", "bsd"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("rfc1337"), "{err}");
}

#[test]
fn a_misspelt_variant_is_a_usage_error_naming_the_closest_one() {
    let o = timewait(&["check", "--variant", "rfc793"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unknown model variant `rfc793`; did you mean `rfc9293`?"),
        "{err}"
    );
}

#[test]
fn json_has_one_object_per_variant_and_property() {
    let o = timewait(&[
        "check",
        "--variant",
        "rfc1337",
        "--variant",
        "no-time-wait",
        "--property",
        "reliable-termination/reset",
        "--json",
        "--quiet",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let rows = v.as_array().expect("an array");
    assert_eq!(rows.len(), 2);
    for key in [
        "variant",
        "property",
        "verdict",
        "unique_states",
        "states",
        "max_depth",
        "seconds",
        "collision_probability",
    ] {
        assert!(rows[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(rows[0]["engine"], "fastbfs", "the default engine");
    assert_eq!(rows[0]["verdict"], "holds");
    assert_eq!(rows[1]["verdict"], "violated");
    assert!(rows[1]["trace"]["steps"]
        .as_array()
        .is_some_and(|s| !s.is_empty()));
}

#[test]
fn a_state_limit_says_incomplete_and_exits_1() {
    let o = timewait(&[
        "check",
        "--variant",
        "rfc1337",
        "--property",
        "no-cross-incarnation-delivery",
        "--max-states",
        "5000",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("incomplete") && out.contains("not exhaustive"),
        "{out}"
    );
}

#[test]
fn a_bitstate_run_says_not_exhaustive_and_never_holds() {
    let args = [
        "check",
        "--variant",
        "rfc1337",
        "--property",
        "no-cross-incarnation-delivery",
        "--loss",
        "0",
        "--dup",
        "0",
        "--engine",
        "bitstate",
        "--bitstate-mib",
        "1",
        "--quiet",
    ];
    let o = timewait(&[&args[..], &["--json"]].concat());
    // incomplete is not as expected: exit 1.
    assert_eq!(o.status.code(), Some(1));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(rows[0]["verdict"], "incomplete");
    assert_eq!(rows[0]["exhaustive"], false);
    assert_eq!(rows[0]["bitstate"]["bits"], 1u64 << 23);
    let o = timewait(&args);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("NOT EXHAUSTIVE: bitstate search"), "{out}");
}

#[test]
fn bitstate_sizes_are_checked_and_need_the_bitstate_engine() {
    for (args, says) in [
        (
            &["--engine", "bitstate", "--bitstate-mib", "3"][..],
            "power of two",
        ),
        (
            &["--engine", "bitstate", "--bitstate-hashes", "9"][..],
            "1 to 8",
        ),
        (&["--bitstate-mib", "64"][..], "--engine bitstate only"),
    ] {
        let mut all = vec!["check", "--variant", "rfc1337", "--quiet"];
        all.extend_from_slice(args);
        let o = timewait(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_scope_row_says_how_far_a_run_that_is_not_exhaustive_got() {
    let scope = |extra: &[&str]| {
        let mut args = vec![
            "scope",
            "--variant",
            "rfc1337",
            "--scope",
            "1-incarnation",
            "-q",
        ];
        args.extend_from_slice(extra);
        let o = timewait(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // A cap inside the exploration: the exact BFS names the steps it checked.
    let capped = scope(&["--max-states", "20000"]);
    assert!(
        capped.contains("NOT exhaustive: every state within "),
        "{capped}"
    );
    let bits = scope(&["--engine", "bitstate", "--bitstate-mib", "16"]);
    assert!(
        bits.contains("NOT exhaustive: bitstate, estimated coverage"),
        "{bits}"
    );
    assert!(!bits.contains("holds"), "{bits}");
    let swarm = scope(&[
        "--engine",
        "swarm",
        "--swarm-runs",
        "2",
        "--swarm-states",
        "50000",
    ]);
    assert!(swarm.contains("NOT exhaustive: swarm of 2 runs"), "{swarm}");
    assert!(
        scope(&[]).contains("exhaustive |"),
        "the whole space without a cap"
    );
    let o = timewait(&["scope", "--swarm-runs", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--engine swarm only"));
}

#[test]
fn a_counterexample_is_printed_as_numbered_steps() {
    let o = timewait(&[
        "check",
        "--variant",
        "no-time-wait",
        "--property",
        "reliable-termination/reset",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("shortest counterexample (6 steps)"), "{out}");
    assert!(out.contains("  1. A: application closes"), "{out}");
    assert!(
        out.contains("sees a reset of incarnation 1 in LAST-ACK"),
        "{out}"
    );
}

#[test]
fn losses_prints_the_model_beside_the_closed_form_and_linuxs_figures() {
    let o = timewait(&["losses", "--msl", "1,2"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("reliable-termination/reset"))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    for r in rows {
        let cols: Vec<&str> = r.split_whitespace().collect();
        assert_eq!(cols[4], cols[5], "model and closed form agree: {r}");
    }
    assert!(out.contains("after 8 losses in a row"), "{out}");
}

#[test]
fn losses_with_an_invalid_msl_is_a_usage_error() {
    let o = timewait(&["losses", "--msl", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("msl must be between 1"));
}

fn in_repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn specs_lint_prints_every_problem_with_its_location_and_exits_2() {
    let file = in_repo("specs/testdata/invalid/several-problems.yaml");
    let o = timewait(&["specs", "lint", &file]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 4, "{err}");
    assert!(
        err.contains("several-problems.yaml:18:5: wait must be positive"),
        "{err}"
    );
}

#[test]
fn nine_mistakes_of_different_kinds_in_one_file_are_reported_in_one_run() {
    let file = in_repo("specs/testdata/invalid/several-kinds-of-mistakes.yaml");
    let o = timewait(&["specs", "lint", &file]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 9, "{err}");
    // In file order, each with its line and column.
    for (line, want) in lines.iter().zip([
        ":5:1: unknown field `tolerence`",
        ":7:10: unknown model variant `rfc793`",
        ":10:21: unknown flag 'Y'",
        ":11:5: unknown step kind `expcet` in step 3; did you mean `expect`?",
        ":12:45: `len` of `inject` (step 4) must be an integer",
        ":15:41: unknown field `sq`",
        ":16:60: `sack-ok` of `options` of `inject` (step 8) must be true or false",
        ":18:11: duration 5 has no unit",
        ":19:27: unknown state `TIMEWAIT`; did you mean `TIME-WAIT`?",
    ]) {
        assert!(line.contains(want), "{line} lacks {want}");
    }
}

#[test]
fn specs_check_agrees_on_the_reviewed_specs() {
    let o = timewait(&["specs", "check", &in_repo("specs/reviewed")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("0 disagree"), "{out}");
}

#[test]
fn specs_check_exits_1_and_shows_the_step_when_a_spec_misjudges_a_variant() {
    // The reviewed spec says no-time-wait fails; claim it passes instead.
    let text = std::fs::read_to_string(in_repo("specs/reviewed/lost-last-ack-reacked.yaml"))
        .expect("spec")
        .replace(
            "  fail: [no-time-wait, short-time-wait]",
            "  fail: [short-time-wait]",
        )
        .replace(
            "time-wait-restart-fin-only]",
            "time-wait-restart-fin-only, no-time-wait]",
        );
    let dir = std::env::temp_dir().join(format!("timewait-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("lost-last-ack-reacked.yaml");
    std::fs::write(&file, text).expect("write");
    let o = timewait(&["specs", "check", file.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("no-time-wait (must pass)"), "{out}");
    assert!(
        out.contains("expected A seq=2 ack=2; the model sends R seq=2"),
        "{out}"
    );
}

/// A fresh folder for one test's files, removed at the end.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("timewait-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("folder");
        }
        std::fs::write(&p, text).expect("write");
        p.to_string_lossy().into_owned()
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    /// `timewait replay --stack smoltcp` without probes, its reports and
    /// captures in this folder, with `extra` arguments.
    fn replay_smoltcp(&self, extra: &[&str]) -> std::process::Output {
        let (reports, out) = (self.path("reports"), self.path("pcap"));
        let mut args = vec![
            "replay",
            "--stack",
            "smoltcp",
            "--no-facts",
            "--reports",
            &reports,
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        timewait(&args)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The reviewed lost-last-ACK spec with its last expectation turned into a
/// RST: a spec that no model variant passes.
fn spec_no_variant_passes() -> String {
    std::fs::read_to_string(in_repo("specs/reviewed/lost-last-ack-reacked.yaml"))
        .expect("spec")
        .replace(
            "  - inject: {flags: FA, seq: 1, ack: 2}\n  - expect: {flags: A, seq: 2, ack: 2}\n  - expect-none",
            "  - inject: {flags: FA, seq: 1, ack: 2}\n  - expect: {flags: SA, seq: 2, ack: 2}\n  - expect-none",
        )
}

#[test]
fn specs_lint_rejects_a_spec_that_no_model_variant_passes() {
    let s = Scratch::new("lint-nopass");
    let file = s.write("lost-last-ack-reacked.yaml", &spec_no_variant_passes());
    let o = timewait(&["specs", "lint", &file]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no model variant passes this spec"), "{err}");
    assert!(
        err.contains("model.pass lists rfc1337 but it fails the spec"),
        "{err}"
    );
}

#[test]
fn replay_exits_2_naming_spec_and_variant_when_a_spec_claims_what_the_model_does_not_do() {
    let s = Scratch::new("replay-claims");
    let file = s.write("lost-last-ack-reacked.yaml", &spec_no_variant_passes());
    let o = s.replay_smoltcp(&[&file]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("lost-last-ack-reacked.yaml:15:10: model.pass lists rfc9293 but it fails the spec: step 13"),
        "{err}"
    );
}

#[test]
fn a_known_spec_departing_in_a_new_way_diverges_with_exit_1() {
    // smoltcp departs from old-ack-in-time-wait at step 12 (no ACK); a
    // known entry that pins another step absorbs nothing.
    let s = Scratch::new("replay-known");
    s.write(
        "known/smoltcp.txt",
        "old-ack-in-time-wait | step 11 | nothing | pinned at the wrong step on purpose\n",
    );
    let file = in_repo("specs/reviewed/old-ack-in-time-wait.yaml");
    let run = |known: &str| s.replay_smoltcp(&["--known", known, &file]);
    let o = run(&s.path("known"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("old-ack-in-time-wait"), "{out}");
    assert!(
        out.contains("the stack step 12: nothing; the model (rfc1337) passes; the known entry (line 1) says step 11: nothing, so this is a new departure"),
        "{out}"
    );
    // The committed entry pins what happens: exit 0.
    let o = run(&in_repo("conformance/known"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("diverges (known)"), "{out}");
}

#[test]
fn the_network_msl_is_not_scaled_to_the_stack() {
    // smoltcp's 10 s TIME-WAIT is under 2 MSL at the default 30 s: the
    // spec that waits 1.95 MSL fails there, as its known entry says.
    let s = Scratch::new("replay-msl");
    let file = in_repo("specs/reviewed/time-wait-outlasts-2msl.yaml");
    let o = s.replay_smoltcp(&[&file]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("time-wait-outlasts-2msl"), "{out}");
    assert!(out.contains("diverges (known)"), "{out}");
    let o = timewait(&["replay", "--stack", "smoltcp", "--msl", "2msl", &file]);
    assert_eq!(o.status.code(), Some(2), "an MSL in msl units is refused");
}

#[test]
fn an_isn_list_that_is_not_numbers_is_a_usage_error() {
    let o = timewait(&["check", "--isns", "0,x"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("expected `all` or comma-separated ISNs"),
        "{err}"
    );
}

#[test]
fn isns_refuses_a_space_larger_than_the_isn_lists_with_exit_2() {
    let o = timewait(&["isns", "--variant", "rfc1337", "--seq-space", "64", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("isns must list 1 to 16"), "{err}");
}

/// A run small enough for a test: the teardown of one incarnation has no
/// ISN to choose, so both columns must agree, on every property.
#[test]
fn isns_prints_both_verdicts_and_exits_0_when_they_agree() {
    let o = timewait(&[
        "isns",
        "--variant",
        "no-time-wait",
        "--incarnations",
        "1",
        "-q",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("same verdicts"), "{out}");
    assert!(out.contains("the listed ISNs are a worst case"), "{out}");
    assert!(out.contains("reliable-termination/reset"), "{out}");
}

/// `--merge` refuses, before any run, what it cannot merge: a partial set
/// of scopes, a report without a table, a table written with another cap.
#[test]
fn scope_merge_refuses_what_it_cannot_merge_before_running() {
    let dir = std::env::temp_dir().join(format!("timewait-cli-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let report = dir.join("model.md");
    let path = report.to_string_lossy().to_string();
    let merge = |extra: &[&str]| {
        let mut args = vec![
            "scope",
            "--variant",
            "linux",
            "-q",
            "--report",
            &path,
            "--merge",
        ];
        args.extend_from_slice(extra);
        let o = timewait(&args);
        assert!(!o.status.success(), "{args:?} must fail");
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    std::fs::write(&report, "# Model\n").expect("write");
    assert!(merge(&[]).contains("no scope table to merge into"));
    assert!(merge(&["--scope", "default"]).contains("run every scope"));
    std::fs::write(
        &report,
        "<!-- scope table: written by `timewait scope --report` -->\nchecked, capped at 2,000,000 generated states. More.\n<!-- end scope table -->\n",
    )
    .expect("write");
    let err = merge(&["--max-states", "3000000"]);
    assert!(err.contains("not written capped at 3,000,000"), "{err}");
    let o = timewait(&["scope", "--merge"]);
    assert_eq!(o.status.code(), Some(2), "--merge needs --report");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scope_marks_what_changed_from_the_default_and_keeps_its_block_through_check_report() {
    let dir = std::env::temp_dir().join(format!("timewait-cli-scope-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let report = dir.join("model.md");
    let path = report.to_string_lossy().to_string();
    let o = timewait(&[
        "scope",
        "--variant",
        "no-time-wait",
        "--scope",
        "default",
        "--scope",
        "1-incarnation",
        "--max-states",
        "2000000",
        "-q",
        "--report",
        &path,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    // One incarnation has no next one to deliver into; the default capped
    // at 2 million states is not exhaustive and says so.
    assert!(
        out.contains("changed: no-cross-incarnation-delivery: VIOLATED -> holds"),
        "{out}"
    );
    assert!(out.contains("NOT exhaustive"), "{out}");
    let table = std::fs::read_to_string(&report).expect("the report");
    assert!(
        table.contains("| 1-incarnation | no-time-wait | holds |"),
        "{table}"
    );
    // check --report rewrites the file and keeps the scope table.
    let o = timewait(&[
        "check",
        "--variant",
        "rfc1337",
        "--property",
        "reliable-termination/reset",
        "-q",
        "--report",
        &path,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = std::fs::read_to_string(&report).expect("the report");
    assert!(after.starts_with("# Model verdicts"), "{after}");
    assert!(
        after.contains("| 1-incarnation | no-time-wait | holds |"),
        "{after}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_repeat_reports_each_run_and_no_changed_verdict_and_writes_nothing() {
    let s = Scratch::new("replay-repeat");
    let o = s.replay_smoltcp(&["--repeat", "3"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for run in 1..=3 {
        assert!(out.contains(&format!("smoltcp run {run}/3: ")), "{out}");
    }
    assert!(
        out.contains("specs: 0 specs changed verdict between runs, 0 unexpected verdicts, 0 timing-invalid runs"),
        "{out}"
    );
    assert!(!out.contains("CHANGED"), "{out}");
    // A measurement, not a record: no report, record or capture.
    assert!(!std::path::Path::new(&s.path("reports"))
        .join("results")
        .exists());
    assert!(!std::path::Path::new(&s.path("pcap"))
        .join("smoltcp")
        .exists());
}

#[test]
fn replay_repeat_below_two_is_a_usage_error() {
    let o = timewait(&["replay", "--stack", "smoltcp", "--repeat", "1"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--repeat"), "{err}");
}

#[test]
fn a_known_folder_without_the_stacks_file_is_an_error_naming_it() {
    // A typo in --known must not read as "no reviewed departures".
    let s = Scratch::new("replay-no-known");
    let file = in_repo("specs/reviewed/old-ack-in-time-wait.yaml");
    let o = s.replay_smoltcp(&["--known", &s.path("no-such-folder"), &file]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("no-such-folder/smoltcp.txt: no such known file"),
        "{err}"
    );
}

#[test]
fn a_reports_folder_without_findings_is_replayed_into_with_no_evidence_to_refresh() {
    let s = Scratch::new("replay-no-findings");
    let o = s.replay_smoltcp(&[]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("no findings under"), "{out}");
    assert!(std::path::Path::new(&s.path("reports"))
        .join("results/smoltcp.json")
        .is_file());
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_failed_step_is_drawn_beside_its_capture_and_named_on_the_console() {
    let s = Scratch::new("replay-failure-diagram");
    let out = s.path("pcap");
    // smoltcp's TIME-WAIT is 10 s: it departs from this spec (a known
    // divergence), so the run has a failed step to draw.
    let spec = in_repo("specs/reviewed/time-wait-outlasts-2msl.yaml");
    let o = timewait(&["replay", "--stack", "smoltcp", "--out", &out, &spec]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    let svg = format!("{out}/smoltcp/time-wait-outlasts-2msl.svg");
    assert!(stdout.contains(&format!("    diagram: {svg}")), "{stdout}");
    let text = std::fs::read_to_string(&svg).expect("the diagram is written");
    assert!(
        text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
        "{text}"
    );
    assert!(text.contains("time-wait-outlasts-2msl"), "{text}");
}

#[test]
fn a_subset_run_writes_only_the_captures_it_names_and_probes_nothing() {
    let s = Scratch::new("replay-subset-writes");
    let (reports, out) = (s.path("deep/reports"), s.path("deep/pcap"));
    let specs = [
        in_repo("specs/reviewed/simultaneous-close.yaml"),
        in_repo("specs/reviewed/abort-sends-rst.yaml"),
    ];
    let o = timewait(&[
        "replay",
        "--stack",
        "smoltcp",
        "--reports",
        &reports,
        "--out",
        &out,
        &specs[0],
        &specs[1],
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("facts: not probed (a subset of the specs;"),
        "{stdout}"
    );
    assert!(!stderr.contains("facts: probing"), "{stderr}");
    // What it says it wrote is exactly what is on disk.
    let said: Vec<String> = stdout
        .lines()
        .skip_while(|l| *l != "wrote:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().to_string())
        .collect();
    let on_disk: Vec<String> = files_under(&s.0).into_iter().map(|f| s.path(&f)).collect();
    let mut said_sorted = said.clone();
    said_sorted.sort();
    assert_eq!(said_sorted, on_disk, "{stdout}");
    assert_eq!(said.len(), 2, "{stdout}");
    assert!(
        !std::path::Path::new(&reports).exists(),
        "a subset writes no report"
    );
    assert!(!stdout.contains("conformance-smoltcp.md"), "{stdout}");
}

#[test]
fn missing_reports_and_out_folders_are_created_for_a_whole_suite_run() {
    let s = Scratch::new("replay-folders");
    let (reports, out) = (s.path("a/b/reports"), s.path("c/d/pcap"));
    let o = timewait(&[
        "replay",
        "--stack",
        "smoltcp",
        "--no-facts",
        "--reports",
        &reports,
        "--out",
        &out,
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    let written = std::path::Path::new(&reports).join("results/smoltcp.json");
    assert!(written.is_file());
    assert!(
        stdout.contains(&format!("  {}", written.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("facts: not probed (--no-facts)"),
        "{stdout}"
    );
    assert!(std::path::Path::new(&out).join("smoltcp").is_dir());
}

#[test]
fn an_out_folder_that_cannot_be_created_is_an_error_naming_it() {
    let s = Scratch::new("replay-bad-out");
    let file = s.write("a-file", "not a folder");
    let out = format!("{file}/pcap");
    let spec = in_repo("specs/reviewed/simultaneous-close.yaml");
    let o = timewait(&["replay", "--stack", "smoltcp", "--out", &out, &spec]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot create the --out folder {out}")),
        "{stderr}"
    );
}

#[test]
fn whole_suite_facts_are_probed_once_then_taken_from_the_cache_until_forced() {
    let s = Scratch::new("replay-facts-cache");
    let cache = s.path("cache");
    let (reports, out) = (s.path("reports"), s.path("pcap"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "replay",
            "--stack",
            "smoltcp",
            "--reports",
            &reports,
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        let o = Command::new(env!("CARGO_BIN_EXE_timewait"))
            .args(&args)
            .env("TIMEWAIT_FACTS_CACHE", &cache)
            .output()
            .expect("the binary runs");
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
        let record =
            std::fs::read_to_string(std::path::Path::new(&reports).join("results/smoltcp.json"))
                .expect("the record");
        let v: serde_json::Value = serde_json::from_str(&record).expect("JSON");
        (stdout, stderr, v["facts"].clone())
    };
    // A miss: probed, announced, then kept.
    let (stdout, stderr, probed) = run(&[]);
    assert!(
        stderr.contains("facts: probing smoltcp (none cached for this version): 13 probes"),
        "{stderr}"
    );
    assert!(stdout.contains("facts: probed in "), "{stdout}");
    assert!(
        stdout.contains(&format!("; cached in {cache}/smoltcp-")),
        "{stdout}"
    );
    assert!(probed.is_object(), "facts recorded: {probed}");
    // A hit: not probed, the same facts recorded.
    let (stdout, stderr, cached) = run(&[]);
    assert!(
        stderr.contains(&format!("facts: from the cache {cache}/smoltcp-")),
        "{stderr}"
    );
    assert!(!stderr.contains("facts: probing"), "{stderr}");
    assert!(
        stdout.contains("facts: from the cache (smoltcp "),
        "{stdout}"
    );
    assert_eq!(cached, probed);
    // Forced: probed again.
    let (_, stderr, _) = run(&["--fresh-facts"]);
    assert!(
        stderr.contains("facts: probing smoltcp (--fresh-facts)"),
        "{stderr}"
    );
}

#[test]
fn the_replay_header_names_the_tolerance_in_force() {
    let s = Scratch::new("replay-tolerance");
    let spec = in_repo("specs/reviewed/simultaneous-close.yaml");
    let own = in_repo("specs/reviewed/peer-never-acks-fin.yaml");
    let o = s.replay_smoltcp(&[&spec]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("a virtual clock), tolerance 100ms (the specs' own);"),
        "{err}"
    );
    let o = s.replay_smoltcp(&[&spec, &own]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("tolerance: the specs' own, 100ms (1 specs), 200ms (1 specs)")
            || err.contains("tolerance: the specs' own, 200ms (1 specs), 100ms (1 specs)"),
        "{err}"
    );
    let o = s.replay_smoltcp(&["--tolerance", "5ms", &spec, &own]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("tolerance 5ms on every spec and step (--tolerance)"),
        "{err}"
    );
    let o = timewait(&["replay", "--stack", "smoltcp", "--tolerance", "1msl", &spec]);
    assert_eq!(o.status.code(), Some(2), "a tolerance in msl is refused");
}

#[test]
fn a_linux_subset_replays_in_seconds_without_probes() {
    use timewait_conformance::stack::{self, StackKind};
    if let Some(why) = StackKind::Linux.unavailable() {
        assert!(
            !stack::skips_forbidden(),
            "CI=true forbids skipping the Linux subset replay: {why}"
        );
        eprintln!("a_linux_subset_replays_in_seconds_without_probes skipped: {why}");
        return;
    }
    let s = Scratch::new("replay-linux-subset");
    let (reports, out) = (s.path("reports"), s.path("pcap"));
    let spec = in_repo("specs/generated/close-active-sut-connects.yaml");
    let started = std::time::Instant::now();
    let o = timewait(&[
        "replay",
        "--stack",
        "linux",
        "--reports",
        &reports,
        "--out",
        &out,
        &spec,
    ]);
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("facts: not probed (a subset of the specs;"),
        "{stdout}"
    );
    // The probes alone wait out a 60 s TIME-WAIT; the spec takes 0.2 s.
    // The bound leaves a loaded machine room without letting probes in.
    assert!(wall.as_secs() < 20, "{wall:?}\n{stdout}");
    assert!(!std::path::Path::new(&reports).exists());
}

#[test]
fn specs_import_reports_every_untranslatable_construct_with_its_place_and_exits_2() {
    let file = in_repo("specs/testdata/packetdrill/untranslatable.pkt");
    let o = timewait(&["specs", "import", &file]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "no spec is written");
    let err = String::from_utf8_lossy(&o.stderr);
    for at in [
        ":3:1: cannot translate option --mss",
        ":15:4: cannot translate getsockopt()",
        ":16:9: cannot translate `[ect0]`",
    ] {
        assert!(err.contains(at), "{at} missing in:\n{err}");
    }
    assert!(err.contains("3 constructs do not translate"), "{err}");
}

#[test]
fn specs_import_writes_a_spec_that_lints_and_export_lists_what_packetdrill_cannot_run() {
    let dir = std::env::temp_dir().join(format!("timewait-cli-pd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let spec = dir.join("rst-in-time-wait-rfc1337-1.yaml");
    let spec = spec.to_string_lossy().to_string();
    let script = in_repo("specs/testdata/packetdrill/rst-in-time-wait-rfc1337-1.pkt");
    let o = timewait(&["specs", "import", &script, "-o", &spec]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lint = timewait(&["specs", "lint", &spec]);
    assert_eq!(
        lint.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    let o = timewait(&[
        "specs",
        "export",
        "--packetdrill",
        &in_repo("specs/reviewed/rst-in-time-wait-ignored-rfc1337.yaml"),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("`sysctl -q net.ipv4.tcp_rfc1337=1`"), "{out}");
    assert!(out.contains("--tolerance_usecs=100000"), "{out}");
    assert!(out.contains("    +0 < R 2:2(0) win 65535\n"), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rst-in-time-wait-ignored-rfc1337.yaml:30:5: not exported (kept as a comment): step 12 (expect-none)"),
        "{err}"
    );
    assert!(
        err.contains("10 of 13 steps exported to packetdrill"),
        "{err}"
    );
}
