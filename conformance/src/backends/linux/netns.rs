//! Network namespaces owned by a thread. `unshare(CLONE_NEWNET)` moves only
//! the calling thread; everything created from it (interfaces, sockets,
//! `ip` child processes, sysctl writes through /proc/sys/net) lives in the
//! new namespace. Nothing is bind-mounted, so the namespace disappears with
//! its last user: when the thread ends, or when the process dies, however it
//! dies. The host's namespace is never touched.

use std::io;
use std::path::Path;
use std::process::Command;

/// Why the harness could not set up or use its namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("cannot create a network namespace (needs root or CAP_SYS_ADMIN): {0}")]
    Unshare(nix::Error),
    #[error("`{cmd}` failed: {detail}")]
    Command { cmd: String, detail: String },
    #[error("cannot write sysctl {name}: {source}")]
    Sysctl {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("the namespace thread panicked")]
    Panicked,
}

/// Whether this process may create network namespaces, and why not.
pub fn available() -> Result<(), String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Err("not running as root (network namespaces and raw sockets need root)".into());
    }
    if !Path::new("/proc/self/ns/net").exists() {
        return Err("the kernel has no network namespaces".into());
    }
    match std::thread::spawn(|| nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)).join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("unshare(CLONE_NEWNET) failed: {e}")),
        Err(_) => return Err("unshare probe panicked".into()),
    }
    if crate::spawn::output(Command::new("ip").arg("-V")).is_err() {
        return Err("the `ip` command (iproute2) is missing".into());
    }
    Ok(())
}

/// Runs `f` on a new thread in a new network namespace and returns its
/// result. The namespace ends when `f` returns and its sockets are closed.
pub fn run_in_new_netns<T, F>(name: String, f: F) -> Result<T, NetnsError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, NetnsError> + Send + 'static,
{
    let handle = std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(NetnsError::Unshare)?;
            f()
        })
        .map_err(|e| NetnsError::Command {
            cmd: "spawn thread".into(),
            detail: e.to_string(),
        })?;
    handle.join().map_err(|_| NetnsError::Panicked)?
}

/// Runs `ip ARGS` in the calling thread's namespace.
pub fn ip(args: &[&str]) -> Result<(), NetnsError> {
    let out =
        crate::spawn::output(Command::new("ip").args(args)).map_err(|e| NetnsError::Command {
            cmd: format!("ip {}", args.join(" ")),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetnsError::Command {
            cmd: format!("ip {}", args.join(" ")),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Runs several `ip` commands in the calling thread's namespace with one
/// `ip -batch -` (each a list of arguments): one process instead of one a
/// command, which a spec's set-up pays for on a busy machine (and every
/// spawn holds up SUT closes on other threads, see [`crate::spawn`]).
/// `ip` stops at the first command that fails, and its error names that
/// command.
pub fn ip_batch(commands: &[&[&str]]) -> Result<(), NetnsError> {
    use std::io::Write;
    let script: String = commands.iter().map(|c| c.join(" ") + "\n").collect();
    let what = || format!("ip -batch - ({})", script.trim_end().replace('\n', "; "));
    let failed = |detail: String| NetnsError::Command {
        cmd: what(),
        detail,
    };
    let mut child = crate::spawn::spawn(
        Command::new("ip")
            .args(["-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped()),
    )
    .map_err(|e| failed(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| failed(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// Writes a sysctl of the calling thread's namespace, e.g.
/// `net.ipv4.tcp_rfc1337`.
pub fn sysctl(name: &str, value: &str) -> Result<(), NetnsError> {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::write(&path, value).map_err(|source| NetnsError::Sysctl {
        name: name.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_batch_runs_every_command_and_names_the_one_that_fails() {
        if let Err(why) = available() {
            assert!(
                !crate::stack::skips_forbidden(),
                "CI=true forbids skipping the ip batch test: {why}"
            );
            eprintln!("an_ip_batch_runs_every_command_and_names_the_one_that_fails skipped: {why}");
            return;
        }
        let r = run_in_new_netns("ip-batch-test".into(), || {
            ip_batch(&[
                &["link", "set", "lo", "up"],
                &["addr", "add", "192.0.2.9/32", "dev", "lo"],
            ])?;
            // The address is there: adding it again fails, and says which.
            let again = ip_batch(&[&["addr", "add", "192.0.2.9/32", "dev", "lo"]]);
            Ok(again.map_err(|e| e.to_string()))
        })
        .expect("the namespace runs");
        let err = r.expect_err("a second add of the same address fails");
        assert!(
            err.contains("ip -batch - (addr add 192.0.2.9/32 dev lo)"),
            "{err}"
        );
    }
}
