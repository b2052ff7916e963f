//! The agents timewait ships (lwIP in C, gVisor's netstack in Go, PyTCP in
//! Python). Their sources are embedded in this binary (the build script's
//! table), and built on first use with the system's compilers into the
//! agent cache (`cache.rs`), so a moved or installed binary needs no
//! checkout. PyTCP's agent is not compiled: its "build" checks the source
//! with the virtual environment's interpreter (`py_compile`) and keeps it
//! in the cache like a binary, keyed by the interpreter and PyTCP's version.
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
    Pytcp,
}

/// Where Debian's gVisor sources live (GOPATH mode: there is no module proxy).
const GOCODE: &str = "/usr/share/gocode";
const LWIP_INCLUDE: &str = "/usr/include/lwip";

/// The packages each agent needs, for hints.
pub const LWIP_PACKAGES: &str = "liblwip-dev libcjson-dev gcc";
pub const GVISOR_PACKAGES: &str = "golang-go golang-gvisor-gvisor-dev";
/// PyTCP comes from the Python package index into a virtual environment
/// of its own (`scripts/test` pins the version and installs it), built
/// with Debian's interpreter and its venv module.
pub const PYTCP_PACKAGES: &str = "python3 python3-venv";
/// PyTCP's distribution on the package index: what its version is read from.
pub const PYTCP_DIST: &str = "pmd-pytcp";
/// The virtual environment's folder inside the agent cache (`cache::root`);
/// `scripts/test` installs into the same place.
pub const PYTCP_VENV: &str = "pytcp-venv";

/// Each agent's binary once this process has found or built it.
static BUILT: Mutex<[Option<PathBuf>; 3]> = Mutex::new([None, None, None]);

/// The virtual environment PyTCP is installed in.
pub fn pytcp_venv() -> Result<PathBuf, BuildError> {
    Ok(cache::root()?.join(PYTCP_VENV))
}

/// The virtual environment's interpreter.
fn pytcp_python() -> Result<PathBuf, BuildError> {
    Ok(pytcp_venv()?.join("bin").join("python"))
}

/// The installed PyTCP's version, read from the package's metadata by the
/// virtual environment's interpreter (never typed in here): `Err` says
/// why it cannot be read, with the fix.
pub fn pytcp_version() -> Result<String, String> {
    pytcp_version_in(&pytcp_venv().map_err(|e| e.to_string())?)
}

/// [`pytcp_version`] of the virtual environment `venv`.
fn pytcp_version_in(venv: &Path) -> Result<String, String> {
    let python = venv.join("bin").join("python");
    let fix = format!(
        "install it with `scripts/test` as root (it creates the virtual environment {} and installs the pinned {PYTCP_DIST} with pip; it needs `apt-get install -y {PYTCP_PACKAGES}` and the package index)",
        venv.display()
    );
    if !python.is_file() {
        return Err(format!(
            "the pytcp stack needs PyTCP ({PYTCP_DIST}) in the virtual environment {}, which has no interpreter; {fix}",
            venv.display()
        ));
    }
    let script = format!("import importlib.metadata as m; print(m.version({PYTCP_DIST:?}))");
    let out = crate::spawn::output(Command::new(&python).args(["-c", &script])).map_err(|e| {
        format!(
            "the pytcp stack: cannot run {}: {e}; {fix}",
            python.display()
        )
    })?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !version.is_empty() {
        Ok(version)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "the pytcp stack needs PyTCP ({PYTCP_DIST}) in the virtual environment {}, where it is not installed ({}); {fix}",
            venv.display(),
            stderr.lines().last().unwrap_or_default().trim()
        ))
    }
}

impl Agent {
    pub fn name(self) -> &'static str {
        match self {
            Agent::Lwip => "lwip",
            Agent::Gvisor => "gvisor",
            Agent::Pytcp => "pytcp",
        }
    }

    /// The agent's source files as embedded at build time, by file name.
    pub fn sources(self) -> &'static [(&'static str, &'static [u8])] {
        match self {
            Agent::Lwip => embedded::LWIP,
            Agent::Gvisor => embedded::GVISOR,
            Agent::Pytcp => embedded::PYTCP,
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
            // The interpreter is the venv's (`toolchain` adds PyTCP's version).
            Agent::Pytcp => ("python3", &["--version"], "python3", &[]),
        }
    }

    /// What builds this agent here: the compiler's own version line and
    /// the libraries' package versions. Part of the cache key, so that an
    /// upgrade rebuilds.
    fn toolchain(self) -> Result<Vec<String>, BuildError> {
        if self == Agent::Pytcp {
            let python = pytcp_python()?;
            let out = crate::spawn::output(Command::new(&python).arg("--version"))
                .map_err(|source| self.tool_error(source))?;
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let pytcp = pytcp_version().map_err(BuildError::Unavailable)?;
            return Ok(vec![
                format!("{} {version}", python.display()),
                format!("{PYTCP_DIST} {pytcp}"),
            ]);
        }
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

    fn tool_error(self, source: std::io::Error) -> BuildError {
        let (program, _, package, _) = self.toolchain_parts();
        BuildError::Tool {
            agent: self.name(),
            program,
            package,
            source,
        }
    }

    /// Why this agent cannot be built here, with the fix.
    pub fn unavailable(self) -> Option<String> {
        let (needed, packages): (&[&str], &str) = match self {
            Agent::Pytcp => return pytcp_version().err(),
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
        let bin = match slot {
            // Checked each time: the cache may have been cleaned meanwhile.
            Some(bin) if bin.is_file() => bin.clone(),
            _ => {
                let bin = self.build()?;
                *slot = Some(bin.clone());
                bin
            }
        };
        match self {
            // The agent is a script for the venv's interpreter.
            Agent::Pytcp => {
                let mut c = Command::new(pytcp_python()?);
                c.arg(bin);
                Ok(c)
            }
            Agent::Lwip | Agent::Gvisor => Ok(Command::new(bin)),
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
            Agent::Pytcp => {
                // py_compile checks the syntax with the interpreter that
                // will run it; the checked source is then the "binary".
                std::fs::copy(src.join("agent.py"), bin).map_err(|source| BuildError::Io {
                    action: "copying the agent to",
                    path: bin.to_path_buf(),
                    source,
                })?;
                let mut c = Command::new(pytcp_python()?);
                c.args(["-m", "py_compile"]).arg(bin);
                c
            }
        };
        let out = crate::spawn::output(&mut cmd).map_err(|source| self.tool_error(source))?;
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
    fn a_missing_pytcp_names_the_stack_the_venv_and_the_fix() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let venv = dir.path().join(PYTCP_VENV);
        let why = pytcp_version_in(&venv).expect_err("no venv there");
        assert!(
            why.starts_with("the pytcp stack needs PyTCP (pmd-pytcp)"),
            "{why}"
        );
        assert!(why.contains(&venv.display().to_string()), "{why}");
        assert!(why.contains("scripts/test"), "{why}");
        assert!(why.contains("python3-venv"), "{why}");
        // A venv whose interpreter runs but has no PyTCP: the same, with
        // the interpreter's own error.
        std::fs::create_dir_all(venv.join("bin")).expect("bin");
        let python = venv.join("bin").join("python");
        std::fs::write(
            &python,
            "#!/bin/sh\necho 'No module named pmd-pytcp' >&2\nexit 1\n",
        )
        .expect("script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755))
            .expect("executable");
        let why = pytcp_version_in(&venv).expect_err("no PyTCP there");
        assert!(why.contains("where it is not installed"), "{why}");
        assert!(why.contains("No module named"), "{why}");
    }

    #[test]
    fn every_agent_file_is_embedded_byte_for_byte() {
        for agent in [Agent::Lwip, Agent::Gvisor, Agent::Pytcp] {
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
