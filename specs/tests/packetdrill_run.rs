//! Runs every committed spec's packetdrill export with packetdrill itself,
//! each in a network namespace this test creates (packetdrill's tun device
//! lives inside it; the host's namespace is never touched), and prints
//! which scripts pass. Ignored by default: it needs root and packetdrill,
//! which is not a Debian package and never a CI dependency:
//!
//!   PACKETDRILL=$(scripts/packetdrill) cargo test -p timewait-specs \
//!       --test packetdrill_run -- --ignored --nocapture
//!
//! A script packetdrill cannot parse fails the test (the exporter wrote
//! something packetdrill does not accept); a script that runs and fails is
//! reported with packetdrill's message, since a spec's expectations are
//! the model's and Linux departs from some of them (conformance/known).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use timewait_specs::{load, packetdrill};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// packetdrill's binary: `$PACKETDRILL`, else what `scripts/packetdrill`
/// builds (or has cached).
fn packetdrill_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PACKETDRILL") {
        return PathBuf::from(p);
    }
    let script = root().join("../scripts/packetdrill");
    let out = Command::new(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "scripts/packetdrill failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The outcome of one script: passed, or packetdrill's last message.
struct Outcome {
    name: String,
    passed: bool,
    parse_error: bool,
    message: String,
    seconds: f64,
}

fn run_one(pd: &Path, dir: &Path, name: &str, script: &str, ns: &str) -> Outcome {
    let file = dir.join(format!("{name}.pkt"));
    std::fs::write(&file, script).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let started = std::time::Instant::now();
    let add = Command::new("ip").args(["netns", "add", ns]).status();
    assert!(
        add.is_ok_and(|s| s.success()),
        "cannot create network namespace {ns}"
    );
    let out = Command::new("timeout")
        .args(["300", "ip", "netns", "exec", ns])
        .arg(pd)
        .arg(&file)
        .output();
    let _ = Command::new("ip").args(["netns", "del", ns]).status();
    let (passed, text) = match out {
        Ok(o) => (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ),
        Err(e) => (false, format!("cannot run packetdrill: {e}")),
    };
    let message = text
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string();
    Outcome {
        name: name.to_string(),
        passed,
        parse_error: text.contains("syntax error") || text.contains("parse error"),
        message,
        seconds: started.elapsed().as_secs_f64(),
    }
}

#[test]
#[ignore = "needs root and packetdrill (scripts/packetdrill); run with --ignored"]
fn packetdrill_runs_every_exported_spec_in_a_namespace_of_its_own() {
    assert!(is_root(), "packetdrill and network namespaces need root");
    let pd = packetdrill_binary();
    let dirs = [root().join("reviewed"), root().join("generated")];
    let files = load::collect(&dirs).unwrap_or_else(|e| panic!("{e}"));
    let mut work = Vec::new();
    for f in files {
        let spec = load::load_file(&f).unwrap_or_else(|e| panic!("{e}"));
        let out = packetdrill::export(&spec, &f.display().to_string());
        work.push((spec.name.value.clone(), out.script));
    }
    let tmp = std::env::temp_dir().join(format!("timewait-packetdrill-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("{e}"));
    let jobs: usize = std::env::var("PACKETDRILL_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(8);
    let queue = Arc::new(Mutex::new(work.into_iter().enumerate().collect::<Vec<_>>()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..jobs)
        .map(|_| {
            let (queue, results, pd, tmp) =
                (queue.clone(), results.clone(), pd.clone(), tmp.clone());
            std::thread::spawn(move || loop {
                let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                let Some((i, (name, script))) = next else {
                    break;
                };
                let ns = format!("twpd-{}-{i}", std::process::id());
                let o = run_one(&pd, &tmp, &name, &script, &ns);
                if let Ok(mut r) = results.lock() {
                    r.push(o);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let mut results = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let passed = results.iter().filter(|o| o.passed).count();
    for o in &results {
        println!(
            "{:<70} {:>4} {:>6.1} s  {}",
            o.name,
            if o.passed { "pass" } else { "FAIL" },
            o.seconds,
            if o.passed { "" } else { o.message.as_str() }
        );
    }
    println!(
        "{passed} of {} exported scripts pass under packetdrill ({:.0} s wall, {jobs} at once)",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    let unparsed: Vec<&str> = results
        .iter()
        .filter(|o| o.parse_error)
        .map(|o| o.name.as_str())
        .collect();
    assert!(
        unparsed.is_empty(),
        "packetdrill could not parse: {unparsed:?}"
    );
}
