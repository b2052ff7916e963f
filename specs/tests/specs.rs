//! Each committed spec as its own test, `specs::<folder>::<name>`: it must
//! load without a diagnostic, and every model variant it lists must pass or
//! fail it as it says. A failure shows the step, the expected and the
//! model's actual output, and the exchange up to there.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use timewait_specs::oracle::{self, Outcome};
use timewait_specs::{emit, load};

fn run(path: &Path) -> Result<(), Failed> {
    let spec = load::load_file(path).map_err(|e| Failed::from(e.to_string()))?;
    // What the emitter writes must read back as the same spec.
    let again = load::load_str(path, &emit::to_yaml(&spec))
        .map_err(|e| Failed::from(format!("the emitted YAML does not load again:\n{e}")))?;
    if again != spec {
        return Err("the emitted YAML loads as a different spec".into());
    }
    let check = oracle::check(&spec);
    if check.disagreements.is_empty() {
        return Ok(());
    }
    let mut msg = String::new();
    for r in check
        .runs
        .iter()
        .filter(|r| check.disagreements.contains(&r.preset))
    {
        let want = if oracle::expectation(&spec, r.preset) == Some(true) {
            "pass"
        } else {
            "fail"
        };
        msg.push_str(&format!("variant {} must {want} this spec, but ", r.preset));
        match &r.outcome {
            Outcome::Pass => msg.push_str("it passes every step\n"),
            Outcome::Fail(f) => msg.push_str(&format!(
                "{}:{}:{}: {f}\n",
                path.display(),
                f.line,
                f.column
            )),
        }
        for line in &r.log {
            msg.push_str(&format!("    {line}\n"));
        }
    }
    Err(msg.into())
}

fn main() {
    let args = Arguments::from_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut trials = Vec::new();
    for folder in ["reviewed", "generated"] {
        let dir = root.join(folder);
        // A folder that cannot be listed fails its own test instead of
        // leaving the suite silently smaller.
        let files = match load::collect(std::slice::from_ref(&dir)) {
            Ok(f) => f,
            Err(e) => {
                let e = format!("{}: {e}", dir.display());
                trials.push(Trial::test(format!("specs::{folder}::*"), move || {
                    Err(e.into())
                }));
                continue;
            }
        };
        for f in files {
            let stem = f.file_stem().map_or_else(
                || f.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            );
            trials.push(Trial::test(format!("specs::{folder}::{stem}"), move || {
                run(&f)
            }));
        }
    }
    assert!(
        !trials.is_empty(),
        "no specs found under {}",
        root.display()
    );
    libtest_mimic::run(&args, trials).exit();
}
