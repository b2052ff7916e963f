//! Starting child processes without holding the Linux SUT's sockets open.
//! A child between fork and exec has a copy of every descriptor of this
//! process, including the sockets of Linux specs running on other threads;
//! a socket closed meanwhile is not really closed (no FIN, no RST for an
//! abort, a listener still there) until the child execs and drops its
//! copies. On a loaded machine that window lasts tens of milliseconds, and
//! a Linux spec then saw its SUT's FIN 150 ms after `close` (clean-clone
//! CI, `data-after-fin`). So every spawn in this process goes through here,
//! holding a shared lock until the child has exec'd (std's `spawn` returns
//! only then), and every SUT close takes the lock exclusively: a close
//! waits for the spawns in flight and none starts during it.

use std::io;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static SPAWNING: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    // The lock guards no data, so a panic elsewhere cannot leave it torn.
    SPAWNING.read().unwrap_or_else(|e| e.into_inner())
}

/// Starts `cmd`; no SUT socket closes until the child has exec'd.
pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
    let _g = shared();
    cmd.spawn()
}

/// Runs `cmd` to the end with its output captured and no input, like
/// `Command::output`, spawned through [`spawn`].
pub fn output(cmd: &mut Command) -> io::Result<Output> {
    let child = spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    child.wait_with_output()
}

/// Held while a SUT socket is closed: no child is between fork and exec.
pub fn closing() -> RwLockWriteGuard<'static, ()> {
    SPAWNING.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_captures_what_the_child_printed_and_its_status() {
        let out = output(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]))
            .expect("sh runs");
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
    }

    #[test]
    fn a_close_waits_for_a_spawn_in_flight() {
        let held = shared();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let _c = closing();
            tx.send(()).expect("send");
        });
        // While a spawn holds the lock, the close cannot proceed.
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(100))
            .is_err());
        drop(held);
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("the close goes ahead once the spawn is done");
        t.join().expect("join");
    }
}
