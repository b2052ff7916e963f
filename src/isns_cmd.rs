//! `timewait isns`: whether the ISN sets are a worst case. Each variant is
//! checked with the run's ISN sets (by default the connector's {0, 4, 12}
//! and the listener's {0}) and again with every ISN of the sequence space
//! for both sides; a verdict that differs means the smaller sets hide a
//! behaviour, and the command fails.

use crate::cli::IsnsArgs;
use anyhow::{Context, Result};
use std::process::ExitCode;
use timewait_model::isn_cover::{self, Comparison};
use timewait_model::PropertyId;

pub fn run(a: IsnsArgs) -> Result<ExitCode> {
    let limits = a.limits.limits()?;
    let presets = crate::cli::presets_or_all(&a.variants);
    let mut progress = crate::progress_line(a.quiet);
    let mut rows: Vec<Comparison> = Vec::new();
    for &p in &presets {
        let v = a.model.variant(p)?;
        if !a.quiet {
            eprintln!(
                "{}: ISNs {:?} / listener {:?}, then every ISN for both sides ...",
                v.name, v.cfg.isns, v.cfg.listener_isns
            );
        }
        let c = isn_cover::compare(&v, &PropertyId::ALL, &limits, &mut progress)
            .with_context(|| format!("variant {}", v.name))?;
        if !a.json {
            print_row(&c);
        }
        rows.push(c);
    }
    let same = rows.iter().all(|c| c.differences().is_empty());
    let exhaustive = rows.iter().all(Comparison::exhaustive);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "\n{}",
            match (same, exhaustive) {
                (true, true) => "every verdict is the same with every ISN: the listed ISNs are a worst case for these parameters",
                (true, false) => "no verdict differs, but a run hit a limit: the comparison is not complete",
                (false, _) => "verdicts differ: the listed ISNs are NOT a worst case for these parameters",
            }
        );
    }
    Ok(if same && exhaustive {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_row(c: &Comparison) {
    let diffs = c.differences();
    println!(
        "{:<34} listed {:>11} unique {:>7.1} s | every ISN {:>11} unique {:>7.1} s | {}",
        c.variant,
        c.listed.unique_states,
        c.listed.seconds,
        c.every.unique_states,
        c.every.seconds,
        if !c.exhaustive() {
            "a run hit a limit: not compared".to_string()
        } else if diffs.is_empty() {
            "same verdicts".to_string()
        } else {
            diffs
                .iter()
                .map(|(p, a, b)| format!("{}: {} vs {}", p.name(), a.name(), b.name()))
                .collect::<Vec<_>>()
                .join("; ")
        }
    );
    for (p, v) in &c.every.by_property {
        println!("    {:<46} {}", p.name(), v.name());
    }
}
