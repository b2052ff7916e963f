//! What exactly was tested: each stack's version, read from the stack at
//! run time, never typed in. The kernel's release from the running kernel;
//! smoltcp's from the Cargo.lock it was built against; lwIP's and gVisor's
//! from their agents' `hello` and the Debian packages they are built from;
//! PyTCP's from its installed package's metadata (its agent says the
//! same in `hello`, but runs only over TAP, in a namespace).

use crate::backends::agent::shipped::Agent;
use crate::backends::agent::AgentStack;
use crate::stack::StackKind;
use std::process::Command;

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// The version of an installed Debian package, by `dpkg-query`.
pub fn debian_package(name: &str) -> Result<String, String> {
    let out = crate::spawn::output(Command::new("dpkg-query").args(["-W", "-f=${Version}", name]))
        .map_err(|e| format!("cannot run dpkg-query: {e}"))?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !v.is_empty() {
        Ok(v)
    } else {
        Err(format!("{name} is not installed"))
    }
}

/// The stack's own name for itself, from its agent's `hello`.
fn agent_hello(kind: StackKind, agent: Agent) -> Result<String, String> {
    let cmd = agent.command().map_err(|e| e.to_string())?;
    AgentStack::start(kind.name(), cmd, kind.time_wait())
        .map(|s| s.stack.clone())
        .map_err(|e| e.to_string())
}

/// What was tested, for records and reports: `Linux 6.18.44`, `smoltcp
/// 0.14.0`, `lwIP 2.1.3 (Debian liblwip-dev 2.1.3+dfsg1-2)`.
pub fn version(kind: StackKind) -> String {
    let with_package = |agent: Agent, package: &str| {
        let hello = agent_hello(kind, agent).unwrap_or_else(|e| format!("agent: {e}"));
        match debian_package(package) {
            Ok(v) => format!("{hello} (Debian {package} {v})"),
            Err(e) => format!("{hello} ({e})"),
        }
    };
    match kind {
        StackKind::Linux | StackKind::LinuxRfc1337 => format!("Linux {}", kernel_release()),
        StackKind::Smoltcp => format!("smoltcp {}", env!("TIMEWAIT_SMOLTCP_VERSION")),
        StackKind::Lwip | StackKind::LwipTap => with_package(Agent::Lwip, "liblwip-dev"),
        StackKind::Gvisor => with_package(Agent::Gvisor, "golang-gvisor-gvisor-dev"),
        StackKind::LinuxVm => {
            crate::backends::vm::version().unwrap_or_else(|e| format!("unknown ({e})"))
        }
        StackKind::Pytcp => match crate::backends::agent::shipped::pytcp_version() {
            Ok(v) => format!(
                "PyTCP {v} ({})",
                crate::backends::agent::shipped::PYTCP_DIST
            ),
            Err(e) => format!("PyTCP (unknown version: {e})"),
        },
    }
}

/// The header line of a stack's report: what ran (its version, read from
/// the stack) and what it is compared with.
pub fn about(kind: StackKind, version: &str) -> String {
    let rfc = "It has no model variant of its own: each spec is compared with the RFC model (rfc1337), so a divergence is a departure from RFC 9293 with RFC 1337";
    match kind {
        StackKind::Linux => format!(
            "{version}. Each spec runs with its own profile (sysctls), and is compared with the model variant that describes Linux with that profile."
        ),
        StackKind::LinuxRfc1337 => format!(
            "{version}, every spec with net.ipv4.tcp_rfc1337=1 over its own profile, compared with the linux-rfc1337 variant."
        ),
        StackKind::Smoltcp => format!("{version} in this process on a virtual clock. {rfc}."),
        StackKind::Lwip => format!("{version}, unix port, through its agent on a virtual clock. {rfc}."),
        StackKind::Gvisor => format!("{version} through its agent on a virtual clock. {rfc}."),
        StackKind::LwipTap => format!("{version}: its own TAP port as a separate process in a namespace, real time. {rfc}."),
        StackKind::LinuxVm => format!(
            "{version} in QEMU, its NIC on a TAP port in a namespace, real time. Each spec runs with its own profile (sysctls, applied in the guest), and is compared with the model variant that describes Linux with that profile."
        ),
        StackKind::Pytcp => format!("{version}, pure Python, in its agent on a TAP interface in a namespace, real time, at its default TIME-WAIT of 30 s (TCP__TIME_WAIT__DELAY_MS, which its source says assumes an MSL of 15 s): safe for networks whose MSL is at most 15 s, half the 30 s MSL the suite assumes. {rfc}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoltcps_version_comes_from_the_lock_file() {
        let v = version(StackKind::Smoltcp);
        // The lock as this test was compiled, like the build script read it.
        let lock = include_str!("../../Cargo.lock");
        let want = v.strip_prefix("smoltcp ").expect("named");
        assert!(
            lock.contains(&format!("name = \"smoltcp\"\nversion = \"{want}\"")),
            "{v} is not the locked smoltcp"
        );
    }

    #[test]
    fn the_kernel_release_is_the_running_kernels() {
        let osrelease = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("procfs");
        assert_eq!(kernel_release(), osrelease.trim());
    }
}
