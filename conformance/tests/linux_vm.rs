//! The `linux-6.1-vm` stack end to end: a guest boots (Debian's 6.1 kernel
//! in QEMU, fetched and packed on first use) and replays a spec; a guest
//! that fails to boot or hangs is reported with the stack and the fix; a
//! harness killed with SIGKILL takes its QEMU and its namespace with it.
//! Needs root and qemu-system-x86: without them each test prints why and
//! passes, and under CI=true it fails instead.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use timewait_conformance::backends::linux::netns;
use timewait_conformance::backends::vm;
use timewait_conformance::stack::{self, StackKind};
use timewait_conformance::verdict::Mark;

/// Set in the child process of the SIGKILL test.
const CHILD_ENV: &str = "TIMEWAIT_VM_TEST_CHILD";

fn ready() -> bool {
    match StackKind::LinuxVm.unavailable() {
        None => true,
        Some(why) => {
            assert!(!stack::skips_forbidden(), "CI=true forbids skipping: {why}");
            eprintln!("skipped (needs root and the stack's packages): {why}");
            false
        }
    }
}

fn spec_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../specs/generated")
        .join(name)
}

#[test]
fn an_active_close_replays_on_the_guest_and_passes() {
    if !ready() {
        return;
    }
    let path = spec_path("close-active-sut-connects.yaml");
    let spec = timewait_specs::load::load_file(&path).expect("the spec loads");
    let started = Instant::now();
    let r = timewait_conformance::suite::run_one(path, spec, StackKind::LinuxVm, None);
    let run = r.run.as_ref().map_err(String::as_str);
    assert_eq!(
        r.judgement.mark,
        Mark::Pass,
        "{}; the run: {:?}",
        r.judgement.why,
        run.err()
    );
    eprintln!(
        "booted, replayed and judged in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Boots a guest in a fresh namespace with `how`, and returns how it ended.
fn boot(how: vm::Boot) -> Result<(), String> {
    netns::run_in_new_netns("vm-test".into(), move || {
        vm::boot_with(Default::default(), Duration::from_secs(60), &how).map(|_| ())
    })
    .map_err(|e| e.to_string())
}

#[test]
fn a_guest_without_an_init_is_a_boot_failure_quoting_its_console() {
    if !ready() {
        return;
    }
    let e = boot(vm::Boot {
        deadline: None,
        append: Some("rdinit=/no-such-init".into()),
    })
    .expect_err("no init, no agent");
    eprintln!("{e}");
    assert!(e.contains("linux-6.1-vm"), "names the stack: {e}");
    assert!(e.contains("stopped before its agent answered"), "{e}");
    // The kernel's own words, from the console on QEMU's stderr.
    assert!(e.contains("init"), "quotes the console: {e}");
}

#[test]
fn a_guest_that_does_not_answer_in_time_is_killed_at_the_deadline() {
    if !ready() {
        return;
    }
    let deadline = Duration::from_millis(300);
    let started = Instant::now();
    let e = boot(vm::Boot {
        deadline: Some(deadline),
        append: None,
    })
    .expect_err("no guest boots in 0.3 s");
    eprintln!("{e}");
    assert!(e.contains("linux-6.1-vm"), "names the stack: {e}");
    assert!(e.contains("did not reach its agent within 0.3 s"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// The SIGKILL test's child: boots a guest, says QEMU's pid and waits to
/// be killed. A no-op in the normal run.
#[test]
fn child_boots_a_guest_and_waits() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let r = netns::run_in_new_netns("vm-child".into(), || {
        let s = vm::boot(Default::default(), Duration::from_secs(60))?;
        println!("qemu-pid {}", s.process_id());
        std::thread::sleep(Duration::from_secs(600));
        Ok(())
    });
    eprintln!("the child's guest did not start: {r:?}");
}

fn net_namespace(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()
}

/// Whether `pid` has ended (gone, or a zombie waiting for a reaper).
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn sigkill_of_the_harness_takes_its_qemu_and_namespace_with_it() {
    if !ready() {
        return;
    }
    let exe = std::env::current_exe().expect("this test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_boots_a_guest_and_waits",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts");
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            // libtest's "test NAME ... " has no newline before it.
            if let Some((_, pid)) = line.split_once("qemu-pid ") {
                let _ = tx.send(pid.trim().parse::<u32>().ok());
            }
        }
    });
    let qemu = match rx.recv_timeout(vm::BOOT_DEADLINE + Duration::from_secs(30)) {
        Ok(Some(pid)) => pid,
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child's guest did not come up: {other:?}");
        }
    };
    let ns = net_namespace(qemu).expect("QEMU's namespace");
    assert_ne!(
        Some(&ns),
        net_namespace(std::process::id()).as_ref(),
        "QEMU runs in the harness's own namespace, not the host's"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("SIGKILL");
    let _ = child.wait();
    let give_up = Instant::now() + Duration::from_secs(10);
    while !ended(qemu) {
        assert!(
            Instant::now() < give_up,
            "QEMU {qemu} outlived the harness by 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // No process is left in the namespace, so the kernel has removed it
    // and the TAP interface in it.
    let left: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| !ended(*pid) && net_namespace(*pid).as_ref() == Some(&ns))
        .map(|pid| pid.to_string())
        .collect();
    assert!(left.is_empty(), "processes left in {ns:?}: {left:?}");
}
