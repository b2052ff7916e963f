//! `timewait scope`: the scope table. Every `holds` of the verdict table is
//! a statement about the default configuration (two incarnations, one loss,
//! one duplicate, 16 sequence numbers, the listed ISNs, a last incarnation
//! that only opens). This command runs each variant again with one of those
//! choices changed at a time and prints, for each run, the `always`
//! properties' verdicts, the states, the seconds and whether the run was
//! exhaustive, and which verdicts differ from the default scope. A run that
//! hits the state cap says so: its `holds` are not proofs.

use crate::cli::ScopeArgs;
use crate::output::thousands;
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use timewait_model::check::{self, Engine, Limits, PropertyReport, VariantSpec};
use timewait_model::{Config, PropertyId, Verdict};

/// One scope: a name and how it changes the default configuration.
struct Scope {
    name: &'static str,
    what: &'static str,
    apply: fn(&mut Config),
}

fn scopes() -> Vec<Scope> {
    vec![
        Scope {
            name: "default",
            what: "the defaults (README, \"Parameters\")",
            apply: |_| {},
        },
        Scope {
            name: "1-incarnation",
            what: "one incarnation: no reopening at all",
            apply: |c| c.incarnations = 1,
        },
        Scope {
            name: "3-incarnations",
            what: "three incarnations, the last one only opening",
            apply: |c| c.incarnations = 3,
        },
        Scope {
            name: "last-closes",
            what: "two incarnations, the last one sending and closing too",
            apply: |c| c.last_closes = true,
        },
        Scope {
            name: "no-faults",
            what: "no loss, no duplicate",
            apply: |c| (c.loss_budget, c.dup_budget) = (0, 0),
        },
        Scope {
            name: "loss-only",
            what: "one loss, no duplicate",
            apply: |c| c.dup_budget = 0,
        },
        Scope {
            name: "dup-only",
            what: "no loss, one duplicate",
            apply: |c| c.loss_budget = 0,
        },
        Scope {
            name: "2-faults",
            what: "two losses and two duplicates",
            apply: |c| (c.loss_budget, c.dup_budget) = (2, 2),
        },
        Scope {
            name: "seq-32",
            what: "32 sequence numbers (the same ISN lists)",
            apply: |c| c.seq_space = 32,
        },
        Scope {
            name: "every-isn",
            what: "every ISN of the space for both sides of the new incarnation",
            apply: |c| {
                let all: Vec<_> = (0..c.seq_space)
                    .filter_map(|n| u32::try_from(n).ok())
                    .collect();
                c.isns = all.clone();
                c.listener_isns = all;
            },
        },
    ]
}

/// The `always` properties: the witnesses do not change with scope.
fn properties() -> Vec<PropertyId> {
    PropertyId::ALL
        .into_iter()
        .filter(|p| !p.is_witness())
        .collect()
}

/// One run of one variant in one scope.
struct Row {
    scope: &'static str,
    variant: String,
    reports: Vec<PropertyReport>,
}

impl Row {
    fn exhaustive(&self) -> bool {
        self.reports
            .iter()
            .all(|r| r.verdict != Verdict::Incomplete)
    }

    /// What a run that is not exhaustive still shows: the steps from the
    /// start within which its BFS checked every state (its `incomplete`
    /// verdicts hold for every behaviour that short).
    fn checked_steps(&self) -> Option<usize> {
        self.reports
            .iter()
            .filter(|r| r.verdict == Verdict::Incomplete)
            .filter_map(|r| r.checked_steps)
            .min()
    }

    /// The exhaustive column: `yes`, or how far the run got: the steps an
    /// exact BFS finished, a bitstate run's estimated coverage, a swarm's
    /// runs.
    fn coverage(&self, no: &str) -> String {
        if self.exhaustive() {
            return "yes".to_string();
        }
        let first = &self.reports[0];
        if let Some(k) = self.checked_steps() {
            format!("{no}: every state within {k} steps")
        } else if let Some(b) = &first.bitstate {
            format!(
                "{no}: bitstate, estimated coverage {:.4} %",
                b.coverage * 100.0
            )
        } else if let Some(w) = &first.swarm {
            format!(
                "{no}: swarm of {} runs, deepest {} steps",
                w.runs.len(),
                w.runs.iter().map(|r| r.max_depth).max().unwrap_or(0)
            )
        } else {
            no.to_string()
        }
    }
}

pub fn run(a: ScopeArgs) -> Result<ExitCode> {
    let mut limits = Limits {
        max_states: (a.max_states > 0).then_some(a.max_states),
        timeout: a.timeout.map(std::time::Duration::from_secs_f64),
        ..Limits::default()
    };
    if let Some(t) = a.threads {
        if t == 0 {
            bail!("--threads must be at least 1");
        }
        limits.threads = t;
    }
    a.engine.apply(&mut limits)?;
    let all = scopes();
    for s in &a.scopes {
        if !all.iter().any(|x| x.name == s) {
            let names: Vec<_> = all.iter().map(|x| x.name).collect();
            bail!("unknown scope {s:?}: one of {}", names.join(", "));
        }
    }
    let chosen: Vec<&Scope> = all
        .iter()
        .filter(|s| a.scopes.is_empty() || a.scopes.iter().any(|n| n == s.name))
        .collect();
    let presets = crate::cli::presets_or_all(&a.variants);
    let props = properties();
    // Rows carried over from the report's table, read before the long run
    // so that a table that cannot be merged fails at once.
    let kept = match (&a.report, a.merge) {
        (Some(path), true) => {
            if !a.scopes.is_empty() {
                bail!("--merge replaces whole variants: run every scope (drop --scope)");
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {} to merge into", path.display()))?;
            let block = kept_block(&text)
                .with_context(|| format!("{}: no scope table to merge into", path.display()))?;
            let cap = cap_phrase(&limits);
            // The introduction ends the phrase with a full stop, so a table
            // capped by states and seconds does not pass for one by states.
            if !block.contains(&format!("{cap}. ")) {
                bail!(
                    "{}: its scope table was not written {cap}; re-run every variant or use the same --max-states and --timeout",
                    path.display()
                );
            }
            kept_rows(block, &presets)
        }
        _ => Vec::new(),
    };
    let mut progress = crate::progress_line(a.quiet);
    let mut rows = Vec::new();
    let started = std::time::Instant::now();
    for scope in &chosen {
        let mut base = Config::default();
        (scope.apply)(&mut base);
        for &p in &presets {
            let v = VariantSpec::preset(p, &base, base.msl)
                .with_context(|| format!("scope {} for {p}", scope.name))?;
            if !a.quiet {
                eprintln!(
                    "[{:>6.0} s] scope {}: {} ...",
                    started.elapsed().as_secs_f64(),
                    scope.name,
                    v.name
                );
            }
            let reports = check::check_variant(&v, &props, false, &limits, &mut progress);
            let row = Row {
                scope: scope.name,
                variant: v.name.clone(),
                reports,
            };
            println!("{}", line(&row, &rows));
            rows.push(row);
        }
    }
    let table = markdown(&chosen, &rows, &kept, &props, &limits);
    if let Some(path) = &a.report {
        write_block(path, &table)?;
        if !a.quiet {
            eprintln!("wrote the scope table into {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn short(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "holds",
        Verdict::Violated => "VIOLATED",
        Verdict::Incomplete => "incomplete",
    }
}

/// The properties whose verdict differs from the same variant's in the
/// default scope (both runs exhaustive or definite).
fn changes(row: &Row, rows: &[Row]) -> Vec<String> {
    let Some(base) = rows
        .iter()
        .find(|r| r.scope == "default" && r.variant == row.variant)
    else {
        return Vec::new();
    };
    row.reports
        .iter()
        .zip(&base.reports)
        .filter(|(r, b)| {
            r.verdict != b.verdict
                && r.verdict != Verdict::Incomplete
                && b.verdict != Verdict::Incomplete
        })
        .map(|(r, b)| {
            format!(
                "{}: {} -> {}",
                r.property,
                short(b.verdict),
                short(r.verdict)
            )
        })
        .collect()
}

fn seconds(row: &Row) -> f64 {
    // The `always` properties share one exploration; traces add their own.
    row.reports.iter().map(|r| r.seconds).fold(0.0, f64::max)
}

fn line(row: &Row, earlier: &[Row]) -> String {
    let first = &row.reports[0];
    let verdicts: Vec<_> = row.reports.iter().map(|r| short(r.verdict)).collect();
    let ch = changes(row, earlier);
    format!(
        "{:<15} {:<32} {:>12} unique {:>7.1} s {} | {}{}",
        row.scope,
        row.variant,
        first.unique_states,
        seconds(row),
        if row.exhaustive() {
            "exhaustive".to_string()
        } else {
            row.coverage("NOT exhaustive")
        },
        verdicts.join(" "),
        if ch.is_empty() {
            String::new()
        } else {
            format!(" | changed: {}", ch.join("; "))
        }
    )
}

const OPEN: &str = "<!-- scope table: written by `timewait scope --report` -->";
const CLOSE: &str = "<!-- end scope table -->";

/// How the runs were capped, as the table's introduction says it.
fn cap_phrase(limits: &Limits) -> String {
    format!(
        "capped at {} generated states{}{}",
        limits
            .max_states
            .map_or("an unlimited number of".to_string(), thousands),
        limits
            .timeout
            .map_or(String::new(), |t| format!(" or {} s", t.as_secs())),
        match limits.engine {
            // The default engine is not named, so that tables written before
            // engines could be chosen still merge.
            Engine::Fastbfs => String::new(),
            e => format!(", with the {} engine (not exhaustive: a property it does not find is `incomplete`)", e.name()),
        }
    )
}

/// A table row carried over from an earlier run: its scope, its variant and
/// the Markdown line as written.
struct KeptRow {
    scope: String,
    variant: String,
    line: String,
}

/// The rows of `block` whose variant is not among `rerun`.
fn kept_rows(block: &str, rerun: &[timewait_model::Preset]) -> Vec<KeptRow> {
    block
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix("| ")?.split(" | ");
            let scope = cells.next()?;
            let variant = cells.next()?;
            let known = scopes().iter().any(|s| s.name == scope);
            let rerun_here = rerun.iter().any(|p| p.name() == variant);
            (known && !rerun_here).then(|| KeptRow {
                scope: scope.to_string(),
                variant: variant.to_string(),
                line: line.to_string(),
            })
        })
        .collect()
}

fn markdown(
    scopes: &[&Scope],
    rows: &[Row],
    kept: &[KeptRow],
    props: &[PropertyId],
    limits: &Limits,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{OPEN}\n\n## Scope table\n");
    let _ = writeln!(
        out,
        "Written by `timewait scope --report`: every variant again with one choice of the default configuration changed at a time, checked for the `always` properties in one exploration per run, {}. `VIOLATED` is definite and `holds` is a proof only where the run is exhaustive; `incomplete` means the cap was reached first, and such a row is marked not exhaustive, with the number of steps from the start within which the BFS checked every state: its `incomplete` verdicts hold for every behaviour that short, and only there. \"Changed\" lists the verdicts that differ from the same variant's in the default scope; the README (\"What changes with scope\") explains each. Seconds are this machine's, from one run{}.\n",
        cap_phrase(limits),
        if kept.is_empty() {
            ""
        } else {
            " (rows of variants not re-run are carried over from the run before: `timewait scope --merge`)"
        }
    );
    for s in scopes {
        let _ = writeln!(out, "- `{}`: {}", s.name, s.what);
    }
    let _ = write!(out, "\n| scope | variant |");
    for p in props {
        let _ = write!(out, " {} |", p.name());
    }
    let _ = writeln!(
        out,
        " unique states | states | seconds | exhaustive | changed |"
    );
    let _ = write!(out, "|---|---|");
    for _ in props {
        let _ = write!(out, "---|");
    }
    let _ = writeln!(out, "---:|---:|---:|---|---|");
    // Scope by scope, in preset order, whether run now or carried over.
    for scope in scopes {
        for p in timewait_model::Preset::ALL {
            if let Some(row) = rows
                .iter()
                .find(|r| r.scope == scope.name && r.variant == p.name())
            {
                out.push_str(&row_line(row, rows));
            } else if let Some(k) = kept
                .iter()
                .find(|k| k.scope == scope.name && k.variant == p.name())
            {
                let _ = writeln!(out, "{}", k.line);
            }
        }
    }
    let _ = writeln!(
        out,
        "\nA number after `VIOLATED` is the length of the shortest counterexample.\n\n{CLOSE}"
    );
    out
}

/// One run as a Markdown table line.
fn row_line(row: &Row, rows: &[Row]) -> String {
    let mut out = String::new();
    let first = &row.reports[0];
    let _ = write!(out, "| {} | {} |", row.scope, row.variant);
    for r in &row.reports {
        let steps = r
            .trace
            .as_ref()
            .map_or(String::new(), |t| format!(" ({})", t.steps.len()));
        let _ = write!(out, " {}{} |", short(r.verdict), steps);
    }
    let _ = writeln!(
        out,
        " {} | {} | {:.1} | {} | {} |",
        thousands(first.unique_states),
        thousands(first.states),
        seconds(row),
        row.coverage("**no**"),
        changes(row, rows).join("; ")
    );
    out
}

/// Replaces the marked block in `path` with `table`, or appends it.
fn write_block(path: &Path, table: &str) -> Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let new = match (old.find(OPEN), old.find(CLOSE)) {
        (Some(i), Some(j)) if j > i => {
            format!("{}{table}{}", &old[..i], &old[j + CLOSE.len()..])
        }
        (None, None) => format!("{}\n{table}\n", old.trim_end()),
        _ => bail!(
            "{}: the scope-table markers are not paired; remove them or fix them",
            path.display()
        ),
    };
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}

/// The scope-table block of a report, to carry over when `check --report`
/// rewrites the file.
pub fn kept_block(text: &str) -> Option<&str> {
    let i = text.find(OPEN)?;
    let j = text.find(CLOSE)?;
    (j > i).then(|| &text[i..j + CLOSE.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_block_is_replaced_in_place_and_found_again() {
        let dir = std::env::temp_dir().join(format!("timewait-scope-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let f = dir.join("r.md");
        std::fs::write(&f, "# R\n\ntext\n").expect("write");
        let block = |x: &str| format!("{OPEN}\n{x}\n{CLOSE}");
        write_block(&f, &block("one")).expect("append");
        write_block(&f, &block("two")).expect("replace");
        let text = std::fs::read_to_string(&f).expect("read");
        assert_eq!(text.matches(OPEN).count(), 1, "{text}");
        assert!(text.starts_with("# R\n\ntext\n"), "{text}");
        assert_eq!(kept_block(&text), Some(block("two").as_str()));
        std::fs::write(&f, format!("{CLOSE} {OPEN}")).expect("write");
        assert!(write_block(&f, &block("x")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `--merge` keeps the rows of variants that were not re-run, whatever
    /// else the block holds, and drops those that were.
    #[test]
    fn merging_keeps_only_the_rows_of_variants_not_rerun() {
        use timewait_model::Preset;
        let block = format!(
            "{OPEN}\n\n| scope | variant | x |\n|---|---|---|\n| default | rfc1337 | holds |\n| default | linux | holds |\n| 1-incarnation | linux | holds |\n| no-such-scope | rfc1337 | holds |\ntext | default | rfc1337 |\n{CLOSE}"
        );
        let kept = kept_rows(&block, &[Preset::Linux]);
        let got: Vec<(&str, &str)> = kept
            .iter()
            .map(|k| (k.scope.as_str(), k.variant.as_str()))
            .collect();
        assert_eq!(got, vec![("default", "rfc1337")]);
        assert_eq!(kept[0].line, "| default | rfc1337 | holds |");
        let limits = Limits {
            max_states: Some(50_000_000),
            ..Limits::default()
        };
        assert_eq!(cap_phrase(&limits), "capped at 50,000,000 generated states");
    }

    #[test]
    fn every_scope_gives_a_valid_configuration() {
        for s in scopes() {
            let mut c = Config::default();
            (s.apply)(&mut c);
            assert!(c.validate().is_ok(), "{}", s.name);
            assert_ne!(c == Config::default(), s.name != "default", "{}", s.name);
        }
    }
}
