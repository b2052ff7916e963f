//! `timewait specs import` and `timewait specs export --packetdrill`: the
//! file handling and reporting around `timewait_specs::packetdrill`.
//! Exit codes: 0 done, 2 a construct that does not translate (import) or a
//! spec that does not load (export).

use crate::cli::{ExportArgs, ImportArgs};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::ExitCode;
use timewait_specs::{emit, load, packetdrill};

/// A spec name made of the file stem: lower case, digits and dashes.
fn name_of(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("imported");
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "imported".into()
    } else {
        name
    }
}

pub fn import(a: &ImportArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&a.script)
        .with_context(|| format!("cannot read {}", a.script.display()))?;
    let name = name_of(a.output.as_deref().unwrap_or(&a.script));
    let imported = match packetdrill::import_str(&a.script, &text, &name) {
        Ok(i) => i,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "{}: {} constructs do not translate; no spec written",
                a.script.display(),
                errors.len()
            );
            return Ok(ExitCode::from(2));
        }
    };
    for w in &imported.warnings {
        eprintln!("{w} (warning)");
    }
    let yaml = emit::to_yaml(&imported.spec);
    let target = a
        .output
        .clone()
        .unwrap_or_else(|| Path::new(&format!("{name}.yaml")).to_path_buf());
    // The spec must also pass the linter, as a file written by hand would.
    let problems = match load::load_str(&target, &yaml) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics(),
    };
    match &a.output {
        Some(p) => {
            std::fs::write(p, &yaml).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => print!("{yaml}"),
    }
    for p in &problems {
        eprintln!("{p}");
    }
    let spec = &imported.spec;
    eprintln!(
        "{}: {} steps, role {}, passes {} of {} model variants",
        a.script.display(),
        spec.steps.len(),
        spec.role.value.name(),
        spec.model.value.pass.len(),
        spec.model.value.pass.len() + spec.model.value.fail.len()
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

pub fn export(a: &ExportArgs) -> Result<ExitCode> {
    let spec = match load::load_file(&a.spec) {
        Ok(s) => s,
        Err(e) => {
            for d in e.diagnostics() {
                eprintln!("{d}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    let out = packetdrill::export(&spec, &a.spec.display().to_string());
    match &a.output {
        Some(p) => std::fs::write(p, &out.script)
            .with_context(|| format!("cannot write {}", p.display()))?,
        None => print!("{}", out.script),
    }
    for n in &out.not_exported {
        eprintln!(
            "{}:{}:{}: not exported (kept as a comment): step {} ({}): {}",
            a.spec.display(),
            n.line,
            n.column,
            n.step,
            n.kind,
            n.why
        );
    }
    eprintln!(
        "{}: {} of {} steps exported to packetdrill",
        a.spec.display(),
        spec.steps.len() - out.not_exported.len(),
        spec.steps.len()
    );
    Ok(ExitCode::SUCCESS)
}
