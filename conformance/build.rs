//! Two things the installed binary must carry, since it may run far from
//! this checkout:
//!
//! - the version of smoltcp this crate is built against, read from the
//!   workspace's Cargo.lock, so that reports name the version under test
//!   without anyone typing it in (and it changes when the lock does);
//! - the shipped agents' sources (`agents/lwip/`, `agents/gvisor/`,
//!   `agents/pytcp/`), as an
//!   `include_bytes!` table that `backends/agent/shipped.rs` writes out and
//!   builds on first use.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The agents whose every file is embedded, by folder under `agents/`.
const AGENTS: [&str; 3] = ["lwip", "gvisor", "pytcp"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    smoltcp_version(&manifest);
    let mut table = String::new();
    for agent in AGENTS {
        let dir = manifest.join("agents").join(agent);
        // A folder's entry makes cargo rerun this when a file is added or removed.
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry?.path();
            if path.is_file() {
                files.push(path);
            }
        }
        // Sorted, so the sources' hash does not depend on the directory order.
        files.sort();
        writeln!(
            table,
            "/// Every file of `agents/{agent}/`, by name.\npub static {}: &[(&str, &[u8])] = &[",
            agent.to_uppercase()
        )?;
        for path in &files {
            println!("cargo:rerun-if-changed={}", path.display());
            let name = file_name(path)?;
            writeln!(
                table,
                "    ({name:?}, include_bytes!({:?})),",
                path.display()
            )?;
        }
        table.push_str("];\n");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("agent_sources.rs");
    std::fs::write(&out, table)?;
    Ok(())
}

fn file_name(path: &Path) -> Result<String, String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| format!("{}: not a UTF-8 file name", path.display()))
}

fn smoltcp_version(manifest: &Path) {
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
