//! The agents timewait ships (lwIP in C, gVisor's netstack in Go). Their
//! sources are embedded in this binary (the build script's table), and
//! built on first use with the system's compilers into the agent cache
//! (`cache.rs`), so a moved or installed binary needs no checkout.
//! Building at run time rather than from a build script keeps the crate
//! buildable on machines without the stacks' packages: there a stack's
//! tests are ignored with the install hint, instead of the build failing.

use super::cache::{self, BuildError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/agent_sources.rs"));
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    Lwip,
    Gvisor,
}

/// Where Debian's gVisor sources live (GOPATH mode: there is no module proxy).
const GOCODE: &str = "/usr/share/gocode";
const LWIP_INCLUDE: &str = "/usr/include/lwip";

/// The packages each agent needs, for hints.
pub const LWIP_PACKAGES: &str = "liblwip-dev libcjson-dev gcc";
pub const GVISOR_PACKAGES: &str = "golang-go golang-gvisor-gvisor-dev";

/// Each agent's binary once this process has found or built it.
static BUILT: Mutex<[Option<PathBuf>; 2]> = Mutex::new([None, None]);

impl Agent {
    pub fn name(self) -> &'static str {
        match self {
            Agent::Lwip => "lwip",
            Agent::Gvisor => "gvisor",
        }
    }

    /// The agent's source files as embedded at build time, by file name.
    pub fn sources(self) -> &'static [(&'static str, &'static [u8])] {
        match self {
            Agent::Lwip => embedded::LWIP,
            Agent::Gvisor => embedded::GVISOR,
        }
    }

    /// The compiler (program, what prints its version, its package) and
    /// the Debian packages whose versions a build depends on.
    fn toolchain_parts(
        self,
    ) -> (
        &'static str,
        &'static [&'static str],
        &'static str,
        &'static [&'static str],
    ) {
        match self {
            Agent::Lwip => (
                "gcc",
                &["--version"],
                "gcc",
                &["liblwip-dev", "libcjson-dev"],
            ),
            Agent::Gvisor => (
                "go",
                &["version"],
                "golang-go",
                &["golang-gvisor-gvisor-dev"],
            ),
        }
    }

    /// What builds this agent here: the compiler's own version line and
    /// the libraries' package versions. Part of the cache key, so that an
    /// upgrade rebuilds.
    fn toolchain(self) -> Result<Vec<String>, BuildError> {
        let (program, args, package, libraries) = self.toolchain_parts();
        let out = crate::spawn::output(Command::new(program).args(args)).map_err(|source| {
            BuildError::Tool {
                agent: self.name(),
                program,
                package,
                source,
            }
        })?;
        let version = String::from_utf8_lossy(&out.stdout);
        let mut parts = vec![version.lines().next().unwrap_or_default().to_string()];
        for lib in libraries {
            // A package not known to dpkg still keys by what was said of it.
            parts.push(format!(
                "{lib} {}",
                crate::versions::debian_package(lib).unwrap_or_else(|e| e)
            ));
        }
        Ok(parts)
    }

    /// Why this agent cannot be built here, with the fix.
    pub fn unavailable(self) -> Option<String> {
        let (needed, packages): (&[&str], &str) = match self {
            Agent::Lwip => (
                &[
                    "/usr/include/lwip/lwip/tcp.h",
                    "/usr/include/cjson/cJSON.h",
                    "/usr/bin/gcc",
                ],
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

    /// The agent's command, building it first if no run has built these
    /// sources with this toolchain yet.
    pub fn command(self) -> Result<Command, BuildError> {
        if let Some(why) = self.unavailable() {
            return Err(BuildError::Unavailable(why));
        }
        // One build at a time in this process; other processes are kept
        // apart by the cache's rename.
        let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
        let slot = &mut built[self as usize];
        match slot {
            // Checked each time: the cache may have been cleaned meanwhile.
            Some(bin) if bin.is_file() => Ok(Command::new(bin)),
            _ => {
                let bin = self.build()?;
                *slot = Some(bin.clone());
                Ok(Command::new(bin))
            }
        }
    }

    /// The binary in the cache, built there if missing.
    pub fn build(self) -> Result<PathBuf, BuildError> {
        let root = cache::root()?;
        let key = cache::key(self.name(), self.sources(), &self.toolchain()?);
        cache::ensure(&root, self.name(), &key, self.sources(), |src, bin| {
            self.compile(&root, src, bin)
        })
    }

    fn compile(self, root: &Path, src: &Path, bin: &Path) -> Result<(), BuildError> {
        let mut cmd = match self {
            Agent::Lwip => {
                let mut c = Command::new("gcc");
                c.args(["-O2", "-Wall", "-Wextra", "-I", LWIP_INCLUDE])
                    .arg(src.join("lwip_agent.c"))
                    .args(["-llwip", "-lcjson", "-o"])
                    .arg(bin);
                c
            }
            Agent::Gvisor => {
                // The first GOPATH entry is where go would write; it stays
                // inside this build's folder.
                let gopath = src.with_file_name("gopath");
                let mut c = Command::new("go");
                c.args(["build", "-o"])
                    .arg(bin)
                    .arg(".")
                    .current_dir(src)
                    .env("GO111MODULE", "off")
                    .env("GOPATH", format!("{}:{GOCODE}", gopath.display()))
                    // Go's build cache is safe to share between builds and
                    // processes; it makes a rebuild after a small change quick.
                    .env("GOCACHE", root.join("go-build"));
                c
            }
        };
        let (program, _, package, _) = self.toolchain_parts();
        let out = crate::spawn::output(&mut cmd).map_err(|source| BuildError::Tool {
            agent: self.name(),
            program,
            package,
            source,
        })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(BuildError::Compile {
                agent: self.name(),
                command: format!("{cmd:?}"),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_that_does_not_compile_is_reported_with_the_command_and_its_errors() {
        if let Some(why) = Agent::Lwip.unavailable() {
            assert!(!crate::stack::skips_forbidden(), "{why}");
            eprintln!("skipped: {why}");
            return;
        }
        let dir = tempfile::tempdir().expect("a temporary folder");
        let src = dir.path().join("src");
        std::fs::create_dir(&src).expect("src");
        std::fs::write(
            src.join("lwip_agent.c"),
            "int main(void) { return undeclared; }\n",
        )
        .expect("source");
        let bin = dir.path().join("lwip-agent");
        let e = Agent::Lwip
            .compile(dir.path(), &src, &bin)
            .expect_err("the source does not compile");
        let text = e.to_string();
        assert!(
            matches!(e, BuildError::Compile { agent: "lwip", .. }),
            "{text}"
        );
        assert!(text.starts_with("building the lwip agent failed"), "{text}");
        assert!(text.contains("\"gcc\""), "the command is named: {text}");
        assert!(text.contains("undeclared"), "gcc's error is quoted: {text}");
        assert!(!bin.exists());
    }

    #[test]
    fn every_agent_file_is_embedded_byte_for_byte() {
        for agent in [Agent::Lwip, Agent::Gvisor] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("agents")
                .join(agent.name());
            let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
                .expect("the agent's folder")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            on_disk.sort();
            let embedded: Vec<&str> = agent.sources().iter().map(|(n, _)| *n).collect();
            assert_eq!(embedded, on_disk, "{}", agent.name());
            for (name, bytes) in agent.sources() {
                let disk = std::fs::read(dir.join(name)).expect("source file");
                assert_eq!(*bytes, disk.as_slice(), "{name}");
            }
        }
    }
}
