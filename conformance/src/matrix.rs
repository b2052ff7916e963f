//! The cross-stack report (reports/conformance.md), rendered from the
//! per-stack result files alone: a one-screen summary of each stack's
//! measured facts, the stack x spec table, then every departure with its
//! step, expected and actual, RFC clause, and the model variants that fail
//! the same way.

use crate::probe::{Facts, Reaction};
use crate::results::{Mark, StackResults};
use std::collections::BTreeSet;
use std::fmt::Write as _;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn mark_cell(m: Mark) -> &'static str {
    match m {
        Mark::Pass => "pass",
        Mark::FailAsPredicted => "fail (predicted)",
        Mark::Known => "**fail** (known)",
        Mark::Diverges => "**FAIL**",
        Mark::Stale => "pass (stale known entry)",
        Mark::HarnessError => "error",
        Mark::NotApplicable => "n/a",
    }
}

fn fact_rows(f: &Facts) -> Vec<(&'static str, String)> {
    let r = |x: &Reaction| x.to_string();
    vec![
        (
            "TIME-WAIT length",
            f.time_wait_ms.map_or("over 300 s".into(), |ms| {
                format!("{:.2} s", ms as f64 / 1000.0)
            }),
        ),
        (
            "retransmitted FIN in TIME-WAIT",
            format!(
                "{} of {} copies, 200 ms apart, re-ACKed",
                f.fin_acks, f.fin_copies
            ),
        ),
        ("lost last ACK (FIN again 1 s later)", r(&f.lost_last_ack)),
        ("RST at RCV.NXT", r(&f.rst_exact)),
        ("RST in window (RCV.NXT+100)", r(&f.rst_in_window)),
        ("RST out of window", r(&f.rst_out_of_window)),
        ("SYN above RCV.NXT, listener", r(&f.syn_higher_listener)),
        (
            "SYN above RCV.NXT, no listener",
            r(&f.syn_higher_no_listener),
        ),
        ("SYN below RCV.NXT, listener", r(&f.syn_lower_listener)),
        (
            "SYN below RCV.NXT, no listener",
            r(&f.syn_lower_no_listener),
        ),
        (
            "reopened: new ISN - old SND.NXT",
            f.reopen_isn_minus_old_snd_nxt
                .map_or("not reopened".into(), |d| format!("{d:+}")),
        ),
    ]
}

pub fn render(stacks: &[StackResults]) -> String {
    let mut o = String::new();
    o.push_str("# Conformance matrix\n\n");
    o.push_str(
        "Rendered by `timewait replay` after every run of the whole suite (`--stack all` \
         runs every stack), from the per-stack records in reports/results/ (each stack's own \
         report is reports/conformance-STACK.md). \
         Each stack is compared with the model variant that describes it: Linux with the \
         variant its profile selects, every other stack with the RFC model (rfc1337), so a \
         failure there is a departure from RFC 9293 plus RFC 1337. `fail (predicted)` means the \
         model variant fails the spec too; `**fail** (known)` is a reviewed departure (see \
         conformance/known/ and reports/findings/); `**FAIL**` is an unreviewed one; `n/a` is \
         a spec that pins a Linux table or timer knob (tcp_max_tw_buckets, tcp_tw_reuse, \
         tcp_fin_timeout).\n\n",
    );
    o.push_str("## Summary per stack\n\n");
    o.push_str("Measured by probes on a fresh stack each (conformance/src/probe.rs); sequence numbers are relative to the SUT's ISN (`seq`) and the peer's (`ack`); RCV.NXT is the peer's FIN + 1.\n\n");
    let _ = write!(o, "| |");
    for s in stacks {
        let _ = write!(o, " {} |", s.stack);
    }
    o.push('\n');
    o.push_str(&"|---".repeat(stacks.len() + 1));
    o.push_str("|\n");
    let _ = write!(o, "| stack |");
    for s in stacks {
        let _ = write!(o, " {} ({} clock) |", cell(&s.title), s.clock);
    }
    o.push('\n');
    let _ = write!(o, "| specs |");
    for s in stacks {
        let _ = write!(
            o,
            " {} pass, {} fail (predicted), {} known, {} FAIL, {} error, {} n/a |",
            s.count(Mark::Pass),
            s.count(Mark::FailAsPredicted),
            s.count(Mark::Known),
            s.count(Mark::Diverges) + s.count(Mark::Stale),
            s.count(Mark::HarnessError),
            s.count(Mark::NotApplicable)
        );
    }
    o.push('\n');
    let rows: Vec<Vec<(&str, String)>> = stacks
        .iter()
        .map(|s| s.facts.as_ref().map(fact_rows).unwrap_or_default())
        .collect();
    let labels: Vec<&str> = rows
        .iter()
        .find(|r| !r.is_empty())
        .map(|r| r.iter().map(|(l, _)| *l).collect())
        .unwrap_or_default();
    for (i, label) in labels.iter().enumerate() {
        let _ = write!(o, "| {label} |");
        for r in &rows {
            let v = r.get(i).map_or("not measured", |(_, v)| v.as_str());
            let _ = write!(o, " {} |", cell(v));
        }
        o.push('\n');
    }
    o.push_str("\n## Stack x spec\n\n");
    let _ = write!(o, "| spec |");
    for s in stacks {
        let _ = write!(o, " {} |", s.stack);
    }
    o.push('\n');
    o.push_str(&"|---".repeat(stacks.len() + 1));
    o.push_str("|\n");
    let names: BTreeSet<&str> = stacks
        .iter()
        .flat_map(|s| s.specs.iter().map(|r| r.name.as_str()))
        .collect();
    for name in &names {
        let _ = write!(o, "| {name} |");
        for s in stacks {
            let m = s.specs.iter().find(|r| r.name == *name);
            let _ = write!(o, " {} |", m.map_or("not run", |r| mark_cell(r.mark)));
        }
        o.push('\n');
    }
    o.push_str("\n## Departures\n\n");
    o.push_str("Every spec a stack fails, where the model variant it is compared with passes it. `like` lists the model variants that fail the spec at the same step, i.e. the broken behaviours the stack shares.\n");
    for s in stacks {
        let failures: Vec<_> = s
            .specs
            .iter()
            .filter(|r| matches!(r.mark, Mark::Known | Mark::Diverges | Mark::HarnessError))
            .collect();
        let _ = writeln!(o, "\n### {}\n", s.stack);
        if failures.is_empty() {
            o.push_str("None.\n");
            continue;
        }
        for r in failures {
            let _ = write!(o, "- **{}** ({})", r.name, r.path);
            if let Some(f) = &r.failure {
                let _ = write!(
                    o,
                    ": step {} ({}, line {}): expected {}; got {}.",
                    f.step, f.kind, f.line, f.expected, f.actual
                );
            }
            if r.stack_passes == Some(true) {
                let _ = write!(
                    o,
                    ": passes, where {} fails it: the stack does what the spec pins and the RFC model does not.",
                    r.variant
                );
            }
            if let Some(e) = &r.harness_error {
                let _ = write!(o, ": harness error: {e}.");
            }
            if let Some(rfc) = &r.rfc {
                let _ = write!(o, " Spec cites {rfc}.");
            }
            if !r.like_variants.is_empty() {
                let _ = write!(o, " Like: {}.", r.like_variants.join(", "));
            }
            if let Some(k) = &r.known {
                let _ = write!(o, " Reviewed: {k}");
            }
            o.push('\n');
        }
    }
    o
}
