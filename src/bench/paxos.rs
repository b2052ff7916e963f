//! The baseline the issue names: stateright's own example, `paxos check 3`
//! (single-decree Paxos, three clients, three servers), built from the
//! stateright release this workspace depends on and run in the same bench,
//! so that the teardown model's rates compare with a model checker's
//! showcase on the same machine at the same moment.
//!
//! The example ships in stateright's crate package. It is copied out of the
//! cargo registry into `target/bench-baseline/` (building it in place would
//! write a lock file into the registry) and built there once; the version
//! comes from `cargo metadata`, never from this file.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one `paxos check 3` printed and took.
#[derive(Clone, Copy, Debug)]
pub struct Baseline {
    pub states: u64,
    pub unique: u64,
    pub seconds: f64,
    /// The child's peak resident set, sampled every 10 ms.
    pub peak_bytes: Option<u64>,
}

impl Baseline {
    pub fn states_per_second(&self) -> f64 {
        self.states as f64 / self.seconds.max(1e-9)
    }
}

/// The workspace root, where `cargo metadata` and `target/` are.
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The stateright package this workspace resolves: its version and the
/// folder of its manifest in the cargo registry.
fn stateright_source() -> Result<(String, PathBuf)> {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(workspace().join("Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .context("running `cargo metadata` to find stateright's source")?;
    if !out.status.success() {
        bail!("`cargo metadata` failed ({})", out.status);
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading `cargo metadata` output")?;
    let pkg = meta["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "stateright"))
        .context("`cargo metadata` lists no stateright package")?;
    let version = pkg["version"]
        .as_str()
        .context("stateright's package has no version")?
        .to_string();
    let manifest = pkg["manifest_path"]
        .as_str()
        .context("stateright's package has no manifest path")?;
    let dir = Path::new(manifest)
        .parent()
        .context("stateright's manifest path has no folder")?
        .to_path_buf();
    Ok((version, dir))
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// Builds the example once per stateright version; returns the binary.
fn build() -> Result<(String, PathBuf)> {
    let (version, src) = stateright_source()?;
    if !src.join("examples/paxos.rs").is_file() {
        bail!(
            "stateright {version}'s package at {} has no examples/paxos.rs",
            src.display()
        );
    }
    let root = workspace().join("target/bench-baseline");
    let copy = root.join(format!("stateright-{version}"));
    if !copy.join("Cargo.toml").is_file() {
        copy_tree(&src, &copy)?;
        // The copy lies under this workspace's folder: an empty workspace
        // table makes it a workspace of its own, as it was in the registry.
        let manifest = copy.join("Cargo.toml");
        let mut text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        text.push_str("\n[workspace]\n");
        std::fs::write(&manifest, text)
            .with_context(|| format!("writing {}", manifest.display()))?;
    }
    let target = root.join("target");
    let bin = target.join("release/examples/paxos");
    if !bin.is_file() {
        eprintln!(
            "building stateright {version}'s paxos example in {} (once; about a minute)",
            copy.display()
        );
    }
    // cargo decides whether anything needs rebuilding; its output goes to
    // stderr, so a first build shows its progress.
    let status = Command::new("cargo")
        .args(["build", "--release", "--quiet", "--example", "paxos"])
        .arg("--manifest-path")
        .arg(copy.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .context("running cargo to build stateright's paxos example")?;
    if !status.success() {
        bail!("building stateright's paxos example failed ({status})");
    }
    Ok((version, bin))
}

/// The number after `key=` in stateright's report line.
fn field(line: &str, key: &str) -> Option<f64> {
    let at = line.find(&format!("{key}="))? + key.len() + 1;
    let rest = &line[at..];
    let end = rest
        .find(|c: char| c == ',' || c.is_whitespace())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Reads stateright's closing line: `Done. states=N, unique=N, depth=N, sec=N`.
pub fn parse_done(stdout: &str) -> Option<(u64, u64, f64)> {
    let line = stdout.lines().find(|l| l.starts_with("Done."))?;
    Some((
        field(line, "states")? as u64,
        field(line, "unique")? as u64,
        field(line, "sec")?,
    ))
}

/// Builds (once) and runs `paxos check 3`, sampling its peak memory.
pub fn run() -> Result<(String, Baseline)> {
    let (version, bin) = build()?;
    let started = Instant::now();
    let mut child = Command::new(&bin)
        .args(["check", "3"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("running {}", bin.display()))?;
    let reader = {
        let mut out = child.stdout.take().context("the example's stdout")?;
        std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut out, &mut s).map(|_| s)
        })
    };
    let mut peak = None;
    let status = loop {
        if let Some(b) = super::status_bytes(&child.id().to_string(), "VmHWM") {
            peak = Some(b);
        }
        if let Some(st) = child.try_wait()? {
            break st;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let wall = started.elapsed().as_secs_f64();
    let stdout = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the reader of the example's output panicked"))?
        .context("reading the example's output")?;
    if !status.success() {
        bail!("`paxos check 3` failed ({status})");
    }
    let (states, unique, sec) = parse_done(&stdout).with_context(|| {
        format!("`paxos check 3` printed no `Done. states=..., sec=...` line:\n{stdout}")
    })?;
    Ok((
        version,
        Baseline {
            states,
            unique,
            // stateright prints whole seconds; the wall time (process start
            // and the discoveries' paths included) is the finer figure.
            seconds: if sec > wall { sec } else { wall },
            peak_bytes: peak,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stateright_s_closing_line_is_read() {
        let out = "Model checking Single Decree Paxos with 3 clients.\nChecking. states=4, unique=4, depth=1\nDone. states=1529583, unique=1529583, depth=27, sec=7\nDiscovered \"valid and chosen\" example Path[...]\n";
        assert_eq!(parse_done(out), Some((1_529_583, 1_529_583, 7.0)));
    }

    #[test]
    fn output_without_the_closing_line_is_not_read() {
        assert_eq!(parse_done("Checking. states=4, unique=4, depth=1\n"), None);
        assert_eq!(parse_done("Done. states=x, unique=4, sec=1\n"), None);
    }
}
