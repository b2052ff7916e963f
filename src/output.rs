//! What `timewait check` prints and writes: the verdict table, the
//! counterexamples, the JSON array and the Markdown report.

use std::fmt::Write as _;
use timewait_model::check::{Engine, PropertyReport};
use timewait_model::trace::{Trace, LEGEND};
use timewait_model::{Config, Preset, Verdict};

pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict_cell(r: &PropertyReport) -> String {
    match r.expected {
        Some(e) if e != r.verdict => format!("{} (expected {})", r.verdict.name(), e.name()),
        _ => r.verdict.name().to_string(),
    }
}

/// The verdict table for a terminal.
pub fn table(reports: &[PropertyReport]) -> String {
    let header = [
        "variant",
        "property",
        "verdict",
        "unique states",
        "states",
        "depth",
        "seconds",
        "states/s",
    ];
    let rows: Vec<[String; 8]> = reports
        .iter()
        .map(|r| {
            [
                r.variant.clone(),
                r.property.to_string(),
                verdict_cell(r),
                thousands(r.unique_states),
                thousands(r.states),
                r.max_depth.to_string(),
                format!("{:.2}", r.seconds),
                thousands(r.states_per_second as usize),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            // Text columns left-aligned, numbers right-aligned.
            if i < 3 {
                let _ = write!(out, "{c:<w$}  ");
            } else {
                let _ = write!(out, "{c:>w$}  ");
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&mut out, &header.map(String::from));
    let mut prev = String::new();
    for row in &rows {
        if !prev.is_empty() && prev != row[0] {
            out.push('\n');
        }
        prev = row[0].clone();
        line(&mut out, row);
    }
    if let Some(e) = engine_line(reports) {
        let _ = writeln!(out, "\n{e}");
    }
    out
}

/// Which engine explored the states, and the chance that a fingerprint
/// collision hid one in the largest exploration.
pub fn engine_line(reports: &[PropertyReport]) -> Option<String> {
    let largest = reports.iter().max_by_key(|r| r.unique_states)?;
    let mut engines: Vec<&str> = reports.iter().map(|r| r.engine).collect();
    engines.dedup();
    let mut line = format!(
        "engine: {}; states are identified by 64-bit fingerprints: the chance that a collision hid a state is at most {:.1e} (largest run, {} unique states)",
        engines.join(", "),
        largest.collision_probability,
        thousands(largest.unique_states)
    );
    // A non-exhaustive run says so where every reader looks: the footer.
    let least = reports
        .iter()
        .filter_map(|r| r.bitstate)
        .min_by(|a, b| a.coverage.total_cmp(&b.coverage));
    if let Some(b) = least {
        let _ = write!(
            line,
            "\nNOT EXHAUSTIVE: {} (the least covered run); a property it did not find is `incomplete`, never `holds`",
            b.describe()
        );
    }
    if let Some(w) = reports.iter().find_map(|r| r.swarm.as_ref()) {
        let _ = write!(
            line,
            "\nNOT EXHAUSTIVE: {} (the first group's); a property no run found is `incomplete`, never `holds`",
            w.describe(None)
        );
    }
    Some(line)
}

/// A verdict and its trace, as the console heads a counterexample and CI
/// reports give a verdict: `violated, shortest counterexample (6 steps)`.
pub fn verdict_with_trace(r: &PropertyReport) -> String {
    match (r.verdict, &r.trace) {
        (Verdict::Violated, Some(t)) => {
            format!(
                "violated, shortest counterexample ({} steps)",
                t.steps.len()
            )
        }
        (Verdict::Holds, Some(t)) => format!("holds, shortest witness ({} steps)", t.steps.len()),
        (v, _) => v.name().to_string(),
    }
}

/// Each counterexample (and lasso) as numbered steps, and the witnesses too
/// when `witnesses` is set.
pub fn counterexamples(reports: &[PropertyReport], witnesses: bool) -> String {
    let mut out = String::new();
    for r in reports {
        if let (Some(t), Verdict::Holds, true) = (&r.trace, r.verdict, witnesses) {
            let _ = writeln!(
                out,
                "\n{} / {}: shortest witness ({} steps)",
                r.variant,
                r.property,
                t.steps.len()
            );
            out.push_str(&t.render("  "));
        }
        if let (Some(t), Verdict::Violated) = (&r.trace, r.verdict) {
            let _ = writeln!(
                out,
                "\n{} / {}: {}",
                r.variant,
                r.property,
                verdict_with_trace(r)
            );
            out.push_str(&t.render("  "));
        }
        if let Some(n) = &r.note {
            if r.verdict == Verdict::Incomplete {
                let _ = writeln!(out, "\n{} / {}: {n}", r.variant, r.property);
            }
        }
    }
    out
}

/// The Markdown report written by `--report`.
pub fn markdown(
    reports: &[PropertyReport],
    beyond: Option<&PropertyReport>,
    cfg: &Config,
    command: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Model verdicts\n");
    let _ = writeln!(
        out,
        "Generated by `{command}`. Do not edit by hand: rerun the command.\n"
    );
    let _ = writeln!(out, "## Parameters\n");
    let _ = writeln!(
        out,
        "MSL {} ticks; sequence space {}; window {}; a new incarnation's connector tries ISNs {:?} and its listener {:?} (README, \"Worst-case ISNs\"); {} incarnation(s), {}; loss budget {}; duplicate budget {}; RTO {} tick(s) doubling, {} retries (a sender gives up {} ticks after its first transmission); {} data segment(s) per incarnation, sent by either side.\n",
        cfg.msl,
        cfg.seq_space,
        cfg.window,
        cfg.isns,
        cfg.listener_isns,
        cfg.incarnations,
        if cfg.last_closes || cfg.incarnations == 1 {
            "every one sends and closes"
        } else {
            "the last one only opens (it never sends or closes: README, \"Known limits\")"
        },
        cfg.loss_budget,
        cfg.dup_budget,
        cfg.rto,
        cfg.max_retries,
        cfg.give_up_after(),
        cfg.data_sends
    );
    legend(&mut out, cfg);
    let _ = writeln!(out, "## Variants\n");
    let mut seen = Vec::new();
    for r in reports {
        if seen.contains(&r.variant) {
            continue;
        }
        seen.push(r.variant.clone());
        let summary = Preset::from_name(&r.variant).map_or("custom switches", |p| p.summary());
        let _ = writeln!(out, "- `{}`: {summary}", r.variant);
    }
    let _ = writeln!(out, "\n## Verdict table\n");
    let _ = writeln!(
        out,
        "| variant | property | verdict | expected | unique states | states | depth | trace steps |"
    );
    let _ = writeln!(out, "|---|---|---|---|---:|---:|---:|---:|");
    for r in reports {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.variant,
            r.property,
            if r.as_expected() {
                r.verdict.name().to_string()
            } else {
                format!("**{}**", r.verdict.name())
            },
            r.expected.map_or("-", |e| e.name()),
            thousands(r.unique_states),
            thousands(r.states),
            r.max_depth,
            r.trace
                .as_ref()
                .map_or("-".to_string(), |t| t.steps.len().to_string())
        );
    }
    let deterministic = reports.iter().all(|r| r.engine == Engine::Fastbfs.name());
    let _ = writeln!(
        out,
        "\nUnique state counts of exhaustive runs (`holds`) are deterministic for these parameters{}. Timings are left out so that the report only changes when the model does (run `timewait check` to see them).\n",
        if deterministic {
            "; so are the depths and the counts of a run that stops early (a violation, or the witnesses once all are found): the fastbfs engine stops at the end of the level where the last property is found"
        } else {
            "; depths, and the counts of a run that stops early (a violation, or the witnesses once all are found), depend on how stateright's threads interleave and vary a little from run to run"
        }
    );
    if let Some(e) = engine_line(reports) {
        let _ = writeln!(out, "{e}.\n");
    }
    let _ = writeln!(out, "## Counterexamples\n");
    for r in reports {
        if let (Some(t), Verdict::Violated) = (&r.trace, r.verdict) {
            let _ = writeln!(out, "### {} / {}\n", r.variant, r.property);
            trace_md(&mut out, t);
        }
    }
    if let Some(r) = beyond {
        beyond_scope(&mut out, r);
    }
    let _ = writeln!(out, "## Witnesses\n");
    let _ = writeln!(
        out,
        "Shortest paths to each `witness/...` property, so that no proof above is vacuous. Shown for the first variant in which each was found.\n"
    );
    let mut shown = Vec::new();
    for r in reports {
        if shown.contains(&r.property) {
            continue;
        }
        if let (Some(t), Verdict::Holds) = (&r.trace, r.verdict) {
            shown.push(r.property);
            let _ = writeln!(out, "### {} ({})\n", r.property, r.variant);
            trace_md(&mut out, t);
        }
    }
    out
}

/// The model finding that the default scope hides: TIME-WAIT's own last
/// segments outlive it. The prose states what the trace below it shows; the
/// trace is searched afresh each time the report is written.
fn beyond_scope(out: &mut String, r: &PropertyReport) {
    let _ = writeln!(
        out,
        "## Beyond the default scope: TIME-WAIT's own segments outlive it\n"
    );
    let _ = writeln!(
        out,
        "`timewait check --variant rfc1337 --last-closes --property no-cross-incarnation-delivery`: {}{}.\n",
        r.verdict.name(),
        r.trace
            .as_ref()
            .map_or(String::new(), |t| format!(", shortest trace {} steps", t.steps.len()))
    );
    out.push_str(
        "The correct variant breaks its own guarantee once the next incarnation talks too. \
TIME-WAIT lasts 2 MSL after the last ACK, which outlives every segment sent before it; \
it does not outlive the segments TIME-WAIT itself sends. In its last MSL it answers a copy \
of the next incarnation's SYN with an ACK in the old numbers (RFC 9293 3.10.7.4 and RFC 5961 \
section 4: a SYN in a synchronized state gets a challenge ACK), then ends while that ACK is \
in flight. The next incarnation reuses the old ISN (the model's worst case), so after one \
data byte its SND.NXT equals the old RCV.NXT and the old ACK is acceptable: it moves SND.UNA \
over a byte the peer has not received, which `no-cross-incarnation-delivery` counts. With \
three incarnations (`--incarnations 3`) the same segment draws a RST from SYN-SENT (RFC 9293 \
3.10.7.3), which RFC 1337's rule makes TIME-WAIT ignore and outlive, and which resets the \
incarnation after it. The clauses in conflict: RFC 9293 3.6.1 and RFC 1122 4.2.2.13 count \
2 MSL from the last ACK, RFC 5961 and 3.10.7.4 make TIME-WAIT send until its last tick, and \
only the ISN rule (RFC 9293 3.4.1, RFC 6528: ISNs on a clock, so a new incarnation starts \
above every number the old one used) keeps such a segment out of the new window; the model \
drops that rule on purpose, and `--isn-clock on` restores it (README, \"Known limits\").\n\n\
Who is exposed: the side whose TIME-WAIT answers a SYN sends the segment; spec \
`cx-rfc1337-last-closes-no-cross-incarnation-delivery` (specs/generated/) replays that \
side on every stack, and the matrix (reports/conformance.md) shows which ones do. The side \
that takes it is exposed when its own next ISN puts the old numbers in its window: a stack \
whose ISNs come from a slow counter (lwIP, reports/findings/lwip-predictable-isn.md) or \
that reopens below the old SND.NXT (gVisor, reports/findings/gvisor-reopen-isn-below-old-snd-nxt.md), \
or any stack after an old connection that sent faster than its ISN clock runs; with \
RFC 7323 timestamps on both ends, PAWS drops the old ACK, whose TSval predates the new \
connection's. A spec cannot replay that side: the stack under test picks its ISN.\n\n",
    );
    if let Some(t) = &r.trace {
        trace_md(out, t);
    }
}

/// How to read the traces: the tick unit and every abbreviation.
fn legend(out: &mut String, cfg: &Config) {
    let _ = writeln!(out, "## How to read the traces\n");
    let _ = writeln!(
        out,
        "Each trace is a sequence diagram (GitHub draws the Mermaid source) of A, the network and B, with the numbered steps of the text form below it. Time is discrete: **one tick is MSL / {0}** (MSL is {0} ticks here, so at Linux's MSL of 30 s a tick is {1} s; specs/README.md scales ticks the same way). A segment dies when its age reaches MSL; TIME-WAIT is 2 MSL = {2} ticks unless a variant says otherwise.\n",
        cfg.msl,
        30.0 / f64::from(cfg.msl.max(1)),
        2 * u32::from(cfg.msl)
    );
    let _ = writeln!(out, "| abbreviation | meaning |");
    let _ = writeln!(out, "|---|---|");
    for (k, v) in LEGEND {
        let _ = writeln!(
            out,
            "| {} | {} |",
            k.replace('|', "\\|"),
            v.replace('|', "\\|")
        );
    }
    out.push('\n');
}

/// A trace in the report: its sequence diagram, then the text form folded.
fn trace_md(out: &mut String, t: &Trace) {
    let _ = writeln!(out, "```mermaid\n{}```\n", t.diagram.to_mermaid());
    let _ = writeln!(
        out,
        "<details><summary>The same trace as numbered steps</summary>\n\n```\n{}```\n\n</details>\n",
        t.render("")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use timewait_model::check::{check_variant, Limits, VariantSpec};
    use timewait_model::PropertyId;

    /// The abbreviations a report's traces use: every `key=`, every
    /// bracketed tag (`[app closed]`) and the words of a segment's and an
    /// endpoint's parentheses.
    fn abbreviations(md: &str) -> Vec<String> {
        let mut out = Vec::new();
        let chars: Vec<char> = md.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if *c == '=' {
                let mut j = i;
                while j > 0 && (chars[j - 1].is_ascii_lowercase() || chars[j - 1] == '-') {
                    j -= 1;
                }
                if j < i {
                    out.push(format!("`{}=`", chars[j..i].iter().collect::<String>()));
                }
            }
            if *c == '[' {
                let tag: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_lowercase() || **c == ' ')
                    .collect();
                if !tag.trim().is_empty() {
                    out.push(format!("`[{tag}"));
                }
            }
        }
        for word in ["(inc ", " age ", "(retry ", "retransmission", "abort"] {
            if md.contains(word) {
                out.push(word.trim_matches(|c| c == '(' || c == ' ').to_string());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn check_legend(md: &str) {
        let trace_text: String = md
            .split("```")
            .skip(1)
            .step_by(2)
            .collect::<Vec<_>>()
            .join("\n");
        let legend: String = LEGEND.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        let found = abbreviations(&trace_text);
        assert!(found.iter().any(|a| a == "`seq=`"), "{found:?}");
        let missing: Vec<&String> = found
            .iter()
            .filter(|a| !legend.contains(a.as_str()))
            .collect();
        assert!(missing.is_empty(), "no legend entry for {missing:?}");
        assert!(md.contains("## How to read the traces"));
        assert!(
            md.contains("one tick is MSL / 2"),
            "the tick unit is stated"
        );
    }

    #[test]
    fn every_abbreviation_in_the_committed_model_report_has_a_legend_entry() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/reports/model.md");
        let md = std::fs::read_to_string(path).expect("reports/model.md");
        check_legend(&md);
        // TIME-WAIT's timer, the question the issue asked, is among them.
        assert!(abbreviations(&md).iter().any(|a| a == "`tw=`"));
        assert!(md.contains("```mermaid\nsequenceDiagram\n"));
    }

    #[test]
    fn a_fresh_report_draws_each_counterexample_and_keeps_its_steps() {
        let base = Config {
            data_sends: 0,
            ..Config::default()
        };
        let v = VariantSpec::preset(Preset::NoTimeWait, &base, base.msl).expect("valid");
        let reports = check_variant(
            &v,
            &[PropertyId::ReliableTerminationReset],
            true,
            &Limits::default(),
            &mut |_| {},
        );
        let md = markdown(&reports, None, &v.cfg, "timewait test");
        check_legend(&md);
        let t = reports[0].trace.as_ref().expect("a counterexample");
        let section = md
            .split("### no-time-wait / reliable-termination/reset\n")
            .nth(1)
            .expect("the counterexample's section")
            .trim_start();
        assert!(section.starts_with(&format!(
            "```mermaid\n{}```\n\n<details><summary>The same trace as numbered steps</summary>\n\n```\n{}```",
            t.diagram.to_mermaid(),
            t.render("")
        )), "{section}");
    }
}
