//! Reads the version of smoltcp this crate is built against from the
//! workspace's Cargo.lock, so that reports name the version under test
//! without anyone typing it in (and it changes when the lock does).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let lock = manifest.join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let version = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|text| locked_version(&text, "smoltcp"))
        .unwrap_or_else(|| {
            println!(
                "cargo:warning=no smoltcp entry in {}: reports will say its version is unknown",
                lock.display()
            );
            "unknown".into()
        });
    println!("cargo:rustc-env=TIMEWAIT_SMOLTCP_VERSION={version}");
}

/// The `version` of the `[[package]]` named `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let want = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == want {
            let v = lines.next()?.trim().strip_prefix("version = ")?;
            return Some(v.trim_matches('"').to_string());
        }
    }
    None
}
