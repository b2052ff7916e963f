//! The cross-stack report (reports/conformance.md), rendered from the
//! per-stack result files alone: a one-screen summary of each stack's
//! measured facts, the stack x spec table, then every departure with its
//! step, expected and actual, RFC clause, and the model variants that fail
//! the same way.

use crate::probe::{Facts, Reaction};
use crate::report::cell;
use crate::results::{Mark, StackResults};
use std::collections::BTreeSet;
use std::fmt::Write as _;

fn mark_cell(m: Mark) -> &'static str {
    match m {
        Mark::Pass => "pass",
        Mark::FailAsPredicted => "fail (predicted)",
        Mark::Known => "**fail** (known)",
        Mark::Diverges => "**FAIL**",
        Mark::Stale => "**STALE** known entry",
        Mark::HarnessError => "error",
        Mark::TimingInvalid => "timing invalid",
        Mark::NotApplicable => "n/a",
    }
}

/// A reopened connection's new ISN minus the old SND.NXT, flagged when it
/// is not positive: RFC 1122 4.2.2.13 (and RFC 6191 without timestamps)
/// reopen TIME-WAIT only for a new ISN above the old SND.NXT, so that old
/// duplicates fall below the new connection's window.
fn reopen_cell(d: Option<i64>) -> String {
    match d {
        None => "not reopened".into(),
        Some(d) if d > 0 => format!("{d:+}"),
        Some(d) => format!("**{d:+}: not above the old SND.NXT** (RFC 1122 4.2.2.13, RFC 6191)"),
    }
}

/// ISNs as the first and each one's step from the one before, flagged
/// when they look like a small counter without a secret (RFC 6528).
fn isns_cell(isns: &[u32]) -> String {
    let Some(first) = isns.first() else {
        return "not measured".into();
    };
    let mut parts = vec![first.to_string()];
    parts.extend(
        isns.windows(2)
            .map(|w| format!("{:+}", i64::from(w[1].wrapping_sub(w[0]) as i32))),
    );
    let mut out = parts.join(", ");
    if crate::probe::isns_predictable(isns) {
        out.push_str(" **(a small counter, no secret: predictable, RFC 6528)**");
    }
    out
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
            "reopened 1 s in: new ISN - old SND.NXT",
            reopen_cell(f.reopen_isn_minus_old_snd_nxt),
        ),
        (
            "SYN above RCV.NXT, listener, no time elapsed, 1000 bytes sent before",
            f.syn_higher_listener_at_once
                .as_ref()
                .map_or("not measured".into(), r),
        ),
        (
            "reopened with no time elapsed, 1000 bytes sent: new ISN - old SND.NXT",
            if f.syn_higher_listener_at_once.is_some() {
                reopen_cell(f.reopen_at_once_isn_minus_old_snd_nxt)
            } else {
                "not measured".into()
            },
        ),
        (
            "in-window SYN, ACK bit off, ACK field old SND.NXT+1000",
            f.syn_in_window_nonzero_ack
                .as_ref()
                .map_or("not measured".into(), r),
        ),
        ("ISNs of connections 1 s apart", isns_cell(&f.isns)),
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
         failure there is a departure from RFC 9293 plus RFC 1337. The comparison is step by \
         step: where the stack stopped matching the spec and what it did there (a segment's \
         flags, seq, ack and len, or nothing within the deadline) against the same for the \
         model. `fail (predicted)` means the model fails at the same step with the same \
         observation; `**fail** (known)` is exactly the departure a reviewed entry pins (see \
         conformance/known/ and reports/findings/); `**FAIL**` is any other departure; `n/a` is \
         a spec that pins a Linux table or timer knob (tcp_max_tw_buckets, tcp_tw_reuse, \
         tcp_fin_timeout). `msl` durations are the network MSL stated below, never scaled to \
         a stack; `tw` durations scale to each stack's own TIME-WAIT.\n\n",
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
        let _ = write!(o, " {} ({} clock) |", cell(&s.version), s.clock);
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
    let _ = write!(o, "| network MSL assumed |");
    for s in stacks {
        let _ = write!(o, " {} s |", s.msl_ms as f64 / 1000.0);
    }
    o.push('\n');
    // MSL is the network's, TIME-WAIT the stack's: a stack is safe for an
    // MSL up to half its TIME-WAIT.
    let _ = write!(o, "| largest MSL with TIME-WAIT >= 2 MSL |");
    for s in stacks {
        let v = s
            .facts
            .as_ref()
            .and_then(|f| f.time_wait_ms)
            .map_or("not measured".to_string(), |tw| {
                format!("{:.2} s", tw as f64 / 2000.0)
            });
        let _ = write!(o, " {v} |");
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
    o.push_str("Every spec on which a stack and the model variant it is compared with part ways: one fails where the other passes, or they fail at different steps or with different segments. Each shows where the stack departed from the spec and what it did, then the model's departure, in the form the verdict compares (relative numbers; `@incN` counts from an earlier incarnation's ISN). `like` lists the model variants that depart exactly as the stack does, i.e. the broken behaviours it shares.\n");
    for s in stacks {
        let failures: Vec<_> = s
            .specs
            .iter()
            .filter(|r| {
                matches!(
                    r.mark,
                    Mark::Known | Mark::Diverges | Mark::Stale | Mark::HarnessError
                )
            })
            .collect();
        let _ = writeln!(o, "\n### {}\n", s.stack);
        if failures.is_empty() {
            o.push_str("None.\n");
            continue;
        }
        for r in failures {
            let _ = write!(o, "- **{}** ({}), {}", r.name, r.path, mark_cell(r.mark));
            if let Some(e) = &r.harness_error {
                let _ = write!(o, ": harness error: {e}.");
            } else {
                match &r.stack {
                    Some(d) => {
                        let _ = write!(
                            o,
                            ": the stack departs at {} ({}, line {}): expected {}; did `{}`.",
                            d.at, d.kind, d.line, d.expected, d.observed
                        );
                    }
                    None => o.push_str(": the stack passes."),
                }
                match &r.model {
                    Some(m) => {
                        let _ = write!(
                            o,
                            " The model ({}) departs at {}: `{}`.",
                            r.variant, m.at, m.observed
                        );
                    }
                    None => {
                        let _ = write!(o, " The model ({}) passes.", r.variant);
                    }
                }
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
