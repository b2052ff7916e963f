//! Where the shipped agents are built, and how a build is kept whole.
//!
//! Each agent lives in `<root>/<agent>-<key>/` (its sources in `src/`, its
//! binary beside them), where the key hashes the sources embedded in this
//! binary and the toolchain that builds them: a changed source or an
//! upgraded compiler or library gets a build of its own, and an unchanged
//! one is shared by every checkout and installed copy. A build happens in a
//! private temporary folder that is renamed into place whole, so two runs
//! at once, or a build killed halfway, never leave a half-built agent
//! where a run would take it.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use thiserror::Error;

/// Overrides where built agents are kept.
pub const CACHE_ENV: &str = "TIMEWAIT_AGENT_CACHE";
/// How a build folder in progress is named: `.building-<agent>-<pid>-<random>`.
const BUILDING: &str = ".building-";

/// Why a shipped agent could not be built.
#[derive(Debug, Error)]
pub enum BuildError {
    /// The stack's packages are missing (the text names them and the fix).
    #[error("{0}")]
    Unavailable(String),
    #[error("the {agent} agent's build needs `{program}`, which cannot be run ({source}); install it with `apt-get install -y {package}`")]
    Tool {
        agent: &'static str,
        program: &'static str,
        package: &'static str,
        source: std::io::Error,
    },
    #[error("no folder to keep the built agents in: set {CACHE_ENV}, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "building the {agent} agent failed ({status}); the command was `{command}`:\n{stderr}"
    )]
    Compile {
        agent: &'static str,
        command: String,
        status: ExitStatus,
        stderr: String,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BuildError + 'a {
    move |source| BuildError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The folder that holds every built agent: `$TIMEWAIT_AGENT_CACHE`, else
/// `timewait/agents` in the user's cache folder (`$XDG_CACHE_HOME`, else
/// `~/.cache`).
pub fn root() -> Result<PathBuf, BuildError> {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::cache_dir()
        .map(|d| d.join("timewait").join("agents"))
        .ok_or(BuildError::NoCacheDir)
}

/// The build's key: a hash of the agent's name, its sources and the
/// toolchain's identity (compiler and library versions), 16 hex digits.
pub fn key(agent: &str, sources: &[(&str, &[u8])], toolchain: &[String]) -> String {
    let mut h = Sha256::new();
    // Each part with its length, so that no two different inputs hash the
    // same bytes.
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    part(agent.as_bytes());
    for (name, bytes) in sources {
        part(name.as_bytes());
        part(bytes);
    }
    for t in toolchain {
        part(t.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

/// The binary of `agent` built from `sources` under `key`, building it
/// first if no run has yet: `build(src, bin)` compiles the sources written
/// to the folder `src` into the file `bin`.
pub fn ensure(
    root: &Path,
    agent: &str,
    key: &str,
    sources: &[(&str, &[u8])],
    build: impl FnOnce(&Path, &Path) -> Result<(), BuildError>,
) -> Result<PathBuf, BuildError> {
    let home = root.join(format!("{agent}-{key}"));
    let bin_name = format!("{agent}-agent");
    let bin = home.join(&bin_name);
    if bin.is_file() {
        return Ok(bin);
    }
    std::fs::create_dir_all(root).map_err(io("creating", root))?;
    clear_abandoned(root);
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{BUILDING}{agent}-{}-", std::process::id()))
        .tempdir_in(root)
        .map_err(io("creating a build folder in", root))?;
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).map_err(io("creating", &src))?;
    for (name, bytes) in sources {
        let path = src.join(name);
        std::fs::write(&path, bytes).map_err(io("writing", &path))?;
    }
    build(&src, &tmp.path().join(&bin_name))?;
    if home.exists() && !bin.is_file() {
        // A folder without its binary was not made by this code (a build
        // is renamed in whole); it would block the rename.
        std::fs::remove_dir_all(&home).map_err(io("removing the incomplete", &home))?;
    }
    match std::fs::rename(tmp.path(), &home) {
        Ok(()) => {
            // Its path is now `home`'s: nothing is left to remove.
            let _ = tmp.keep();
            Ok(bin)
        }
        // Another run finished the same build first: use its, drop ours.
        Err(_) if bin.is_file() => Ok(bin),
        Err(e) => Err(io("moving the built agent to", &home)(e)),
    }
}

/// Removes the build folders of processes that are gone (a build that was
/// killed); a running build's folder is left alone.
fn clear_abandoned(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(BUILDING)) else {
            continue;
        };
        let pid = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new("/proc").join(pid.to_string()).exists() {
                // Best effort: another run may be clearing it at the same time.
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    const SOURCES: &[(&str, &[u8])] = &[("a.c", b"int main(void) { return 0; }\n")];

    /// A build that copies the source to the binary's place, counting calls.
    fn copy_build(src: &Path, bin: &Path) -> Result<(), BuildError> {
        std::fs::copy(src.join("a.c"), bin).map_err(io("copying", bin))?;
        Ok(())
    }

    fn temp() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary folder")
    }

    #[test]
    fn a_changed_source_or_toolchain_gets_another_key() {
        let tc = vec!["gcc 12".to_string()];
        let k = key("lwip", SOURCES, &tc);
        assert_eq!(k.len(), 16);
        assert_eq!(k, key("lwip", SOURCES, &tc), "the key is stable");
        assert_ne!(k, key("lwip", &[("a.c", b"int main;")], &tc));
        assert_ne!(k, key("lwip", &[("b.c", SOURCES[0].1)], &tc));
        assert_ne!(k, key("lwip", SOURCES, &["gcc 13".to_string()]));
        assert_ne!(k, key("gvisor", SOURCES, &tc));
        // Moving bytes between parts changes the key too.
        assert_ne!(
            key("x", &[("ab", b"c")], &[]),
            key("x", &[("a", b"bc")], &[])
        );
    }

    #[test]
    fn a_built_agent_is_reused_without_building_again() {
        let root = temp();
        let first = ensure(root.path(), "lwip", "k1", SOURCES, copy_build).expect("built");
        assert_eq!(first, root.path().join("lwip-k1/lwip-agent"));
        assert_eq!(std::fs::read(&first).expect("binary"), SOURCES[0].1);
        assert!(root.path().join("lwip-k1/src/a.c").is_file());
        let again = ensure(root.path(), "lwip", "k1", SOURCES, |_, _| {
            panic!("a second build of the same key")
        })
        .expect("reused");
        assert_eq!(again, first);
    }

    #[test]
    fn a_failed_build_leaves_nothing_behind() {
        let root = temp();
        let e = ensure(root.path(), "lwip", "k1", SOURCES, |_, bin| {
            std::fs::write(bin, b"half").map_err(io("writing", bin))?;
            Err(BuildError::NoCacheDir)
        })
        .expect_err("the build fails");
        assert!(matches!(e, BuildError::NoCacheDir), "{e}");
        let left: Vec<_> = std::fs::read_dir(root.path())
            .expect("root")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    #[test]
    fn two_builds_at_once_leave_one_whole_agent() {
        let root = Arc::new(temp());
        let start = Arc::new(Barrier::new(2));
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (root, start) = (Arc::clone(&root), Arc::clone(&start));
                std::thread::spawn(move || {
                    ensure(root.path(), "lwip", "k1", SOURCES, |src, bin| {
                        // Both are building when either renames.
                        start.wait();
                        copy_build(src, bin)
                    })
                })
            })
            .collect();
        for run in runs {
            let bin = run.join().expect("no panic").expect("built");
            assert_eq!(std::fs::read(&bin).expect("binary"), SOURCES[0].1);
        }
        let left: Vec<String> = std::fs::read_dir(root.path())
            .expect("root")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["lwip-k1"], "the loser's build folder is removed");
    }

    #[test]
    fn a_killed_builds_folder_is_cleared_and_a_running_ones_kept() {
        let root = temp();
        // A pid that is surely gone: a child that was reaped.
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let dead = child.id();
        child.wait().expect("reaped");
        let killed = root.path().join(format!("{BUILDING}lwip-{dead}-abc"));
        let running = root
            .path()
            .join(format!("{BUILDING}gvisor-{}-abc", std::process::id()));
        for d in [&killed, &running] {
            std::fs::create_dir_all(d.join("src")).expect("folder");
        }
        ensure(root.path(), "lwip", "k1", SOURCES, copy_build).expect("built");
        assert!(!killed.exists(), "the killed build's folder is removed");
        assert!(running.exists(), "a live process's build is left alone");
    }

    #[test]
    fn a_folder_without_its_binary_is_rebuilt() {
        let root = temp();
        std::fs::create_dir_all(root.path().join("lwip-k1/src")).expect("folder");
        let bin = ensure(root.path(), "lwip", "k1", SOURCES, copy_build).expect("built");
        assert!(bin.is_file());
    }
}
