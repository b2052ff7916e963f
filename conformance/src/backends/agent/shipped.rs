//! The agents timewait ships (lwIP in C, gVisor's netstack in Go), built on
//! first use into `target/timewait-agents/` with the system's compilers.
//! Building at run time rather than from a build script keeps the crate
//! buildable on machines without the stacks' packages: there a stack's
//! tests are ignored with the install hint, instead of the build failing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::SystemTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    Lwip,
    Gvisor,
}

/// Where Debian's gVisor sources live (GOPATH mode: there is no module proxy).
const GOCODE: &str = "/usr/share/gocode";
const LWIP_INCLUDE: &str = "/usr/include/lwip";

/// The packages each agent needs, for hints.
pub const LWIP_PACKAGES: &str = "liblwip-dev gcc";
pub const GVISOR_PACKAGES: &str = "golang-go golang-gvisor-gvisor-dev";

static BUILD: Mutex<()> = Mutex::new(());

impl Agent {
    pub fn name(self) -> &'static str {
        match self {
            Agent::Lwip => "lwip",
            Agent::Gvisor => "gvisor",
        }
    }

    fn source_dir(self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("agents")
            .join(self.name())
    }

    fn binary(self) -> PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
        target
            .join("timewait-agents")
            .join(format!("{}-agent", self.name()))
    }

    /// Why this agent cannot be built here, with the fix.
    pub fn unavailable(self) -> Option<String> {
        let (needed, packages): (&[&str], &str) = match self {
            Agent::Lwip => (
                &["/usr/include/lwip/lwip/tcp.h", "/usr/bin/gcc"],
                LWIP_PACKAGES,
            ),
            Agent::Gvisor => (
                &[
                    "/usr/share/gocode/src/gvisor.dev/gvisor/pkg/tcpip/stack/stack.go",
                    "/usr/bin/go",
                ],
                GVISOR_PACKAGES,
            ),
        };
        let missing: Vec<&str> = needed
            .iter()
            .copied()
            .filter(|p| !Path::new(p).exists())
            .collect();
        if missing.is_empty() {
            None
        } else {
            Some(format!(
                "the {} agent needs {} (missing: {}); install with `apt-get install -y {packages}` (the README's test command does this when run as root)",
                self.name(),
                packages,
                missing.join(", ")
            ))
        }
    }

    /// The agent's command, building it first if its sources are newer than
    /// its binary.
    pub fn command(self) -> Result<Command, String> {
        if let Some(why) = self.unavailable() {
            return Err(why);
        }
        let bin = self.binary();
        let _guard = BUILD
            .lock()
            .map_err(|_| "agent build lock poisoned".to_string())?;
        if newest(&self.source_dir())? > modified(&bin) {
            self.build(&bin)?;
        }
        Ok(Command::new(bin))
    }

    fn build(self, bin: &Path) -> Result<(), String> {
        let dir = bin.parent().ok_or("agent binary has no directory")?;
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        // Build beside and rename: another process never runs a half-written binary.
        let tmp = dir.join(format!("{}-agent.{}.tmp", self.name(), std::process::id()));
        let src = self.source_dir();
        let mut cmd = match self {
            Agent::Lwip => {
                let mut c = Command::new("gcc");
                c.args(["-O2", "-Wall", "-Wextra", "-I", LWIP_INCLUDE])
                    .arg(src.join("lwip_agent.c"))
                    .args(["-llwip", "-o"])
                    .arg(&tmp);
                c
            }
            Agent::Gvisor => {
                let gopath = dir.join("gopath");
                let mut c = Command::new("go");
                c.args(["build", "-o"])
                    .arg(&tmp)
                    .arg(".")
                    .current_dir(&src)
                    .env("GO111MODULE", "off")
                    .env("GOPATH", format!("{}:{GOCODE}", gopath.display()))
                    .env("GOCACHE", dir.join("gocache"));
                c
            }
        };
        let out = cmd
            .output()
            .map_err(|e| format!("building the {} agent: {e}", self.name()))?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!(
                "building the {} agent failed ({}):\n{}",
                self.name(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::fs::rename(&tmp, bin).map_err(|e| format!("installing {}: {e}", bin.display()))
    }
}

/// None for a binary not built yet, which is then built.
fn modified(p: &Path) -> Option<SystemTime> {
    p.metadata().and_then(|m| m.modified()).ok()
}

/// The newest modification time of the files in `dir`; an entry that
/// cannot be read is an error (skipping it could skip a rebuild).
fn newest(dir: &Path) -> Result<Option<SystemTime>, String> {
    let err = |e: std::io::Error| format!("reading {}: {e}", dir.display());
    let mut newest = None;
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        let t = path
            .metadata()
            .and_then(|m| m.modified())
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        newest = newest.max(Some(t));
    }
    Ok(newest)
}
