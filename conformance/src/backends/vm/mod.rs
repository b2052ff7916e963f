//! `linux-6.1-vm`: a second Linux kernel (Debian 12's 6.1 LTS) in QEMU as a
//! stack under test, driven like `lwip-tap`. The harness builds the
//! guest's image ([`image`]), creates its namespace and TAP interface
//! (`tap.rs`), and starts QEMU there as the stack's "agent" process: the
//! guest's NIC is a virtio-net device on that TAP interface, and the guest
//! agent (`timewait-guest-agent`) speaks the agent protocol on a virtio
//! serial port that QEMU connects to its own stdin and stdout, so the
//! agent machinery (deadlines, stderr tail, `setpriv --pdeathsig KILL`)
//! carries over unchanged. The guest's console goes to QEMU's stderr,
//! whose last lines every error quotes.
//!
//! QEMU dies with the harness (its parent-death signal is SIGKILL) and is
//! killed when the stack is dropped; the namespace and the TAP interface
//! go with the harness's thread. Nothing is left behind, even on SIGKILL.

pub mod image;

use crate::backends::linux::netns::{self, NetnsError};
use crate::backends::tap::{TapOptions, TapStack, TAP_IF};
use crate::stack::StackRun;
use crate::wire::{mac_string, SUT_MAC};
use image::Image;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use timewait_specs::Spec;

pub const STACK: &str = "linux-6.1-vm";
/// Chooses the accelerator without the probe: `kvm` or `tcg`.
pub const ACCEL_ENV: &str = "TIMEWAIT_VM_ACCEL";
const QEMU: &str = "qemu-system-x86_64";
const QEMU_PACKAGE: &str = "qemu-system-x86";
/// How long the guest may take from QEMU's start to its agent's `hello`
/// reply. It reaches its agent in 4 to 8 s under TCG on an idle machine;
/// a busy one, with other guests booting, takes several times that.
pub const BOOT_DEADLINE: Duration = Duration::from_secs(90);
/// How long a guest under KVM may take to reach init before KVM is taken
/// as unusable here (a guest that boots under KVM gets there in about a
/// second; here KVM guests hang in the boot stub, after "Probing EDD").
const KVM_PROBE: Duration = Duration::from_secs(4);
const MEMORY_MB: &str = "256";
/// How many guests a suite boots at once by default (`replay --jobs`
/// overrides it), while each spec has a guest of its own.
pub const MAX_GUESTS: usize = 8;
/// The console on the first serial port (QEMU's stderr), errors only, and
/// a panic (init gone, no init found) reboots at once, which
/// `-no-reboot` turns into QEMU's exit.
const KERNEL_ARGS: &str = "console=ttyS0 quiet panic=-1";

/// How QEMU runs the guest's CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// Why this stack cannot run here, with the fix; `None` when it can (the
/// kernel package is fetched on first use, so only the host's own tools
/// are checked).
pub fn unavailable() -> Option<String> {
    if let Err(e) = netns::available() {
        return Some(e);
    }
    let on_path = |p: &str| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path).any(|d| d.join(p).is_file())
    };
    if !on_path(QEMU) {
        return Some(format!(
            "{STACK} needs {QEMU}; install it with `apt-get install -y --no-install-recommends {QEMU_PACKAGE}` (the README's test command does this when run as root)"
        ));
    }
    for (tool, package) in [
        ("apt-get", "apt"),
        ("dpkg-deb", "dpkg"),
        ("setpriv", "util-linux"),
    ] {
        if !on_path(tool) {
            return Some(format!(
                "{STACK} needs `{tool}`; install it with `apt-get install -y {package}`"
            ));
        }
    }
    if let Err(e) = image::agent_binary() {
        return Some(e.to_string());
    }
    None
}

/// The guest's image and the accelerator, found once per process.
pub struct Guest {
    pub image: Image,
    pub accel: Accel,
    /// Why that accelerator (for the output).
    pub why: String,
}

static GUEST: OnceLock<Result<Guest, String>> = OnceLock::new();

/// The image (built on first use) and the accelerator (probed once).
pub fn guest() -> Result<&'static Guest, String> {
    GUEST
        .get_or_init(|| {
            let image = image::ensure().map_err(|e| e.to_string())?;
            let (accel, why) = choose_accel(&image);
            eprintln!(
                "{STACK}: {} ({}), QEMU under {} ({why})",
                image.package,
                image.package_version,
                accel.name().to_uppercase()
            );
            Ok(Guest { image, accel, why })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// KVM when a guest boots under it within [`KVM_PROBE`], else TCG;
/// `TIMEWAIT_VM_ACCEL` decides without the probe.
fn choose_accel(image: &Image) -> (Accel, String) {
    match std::env::var(ACCEL_ENV).as_deref() {
        Ok("kvm") => return (Accel::Kvm, format!("{ACCEL_ENV}=kvm")),
        Ok("tcg") => return (Accel::Tcg, format!("{ACCEL_ENV}=tcg")),
        _ => {}
    }
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return (Accel::Tcg, "no usable /dev/kvm".into());
    }
    // The probe costs its whole time where KVM hangs, so its answer is
    // kept for a day per host kernel, QEMU and guest kernel.
    let memo = image::root().ok().map(|r| r.join(probe_memo_name(image)));
    let fresh = |p: &std::path::Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < PROBE_MEMO)
    };
    if let Some(p) = memo.as_deref().filter(|p| fresh(p)) {
        if let Ok(text) = std::fs::read_to_string(p) {
            match text.split_once(' ') {
                Some(("kvm", why)) => return (Accel::Kvm, format!("{why}; probed earlier")),
                Some(("tcg", why)) => return (Accel::Tcg, format!("{why}; probed earlier")),
                _ => {}
            }
        }
    }
    let (accel, why) = match probe_kvm(image) {
        Ok(t) => (
            Accel::Kvm,
            format!("a guest reached init under KVM in {:.1} s", t.as_secs_f64()),
        ),
        Err(why) => (Accel::Tcg, format!("KVM probe: {why}")),
    };
    if let Some(p) = memo {
        let _ = std::fs::write(p, format!("{} {why}", accel.name()));
    }
    (accel, why)
}

/// How long a KVM probe's answer is kept.
const PROBE_MEMO: Duration = Duration::from_secs(24 * 3600);

/// The probe's memo file: what decides whether KVM boots this guest.
fn probe_memo_name(image: &Image) -> String {
    use sha2::{Digest, Sha256};
    let qemu = std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(QEMU))
                .find(|p| p.is_file())
        })
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| format!("{} {:?}", m.len(), m.modified().ok()))
        .unwrap_or_default();
    let key = format!(
        "{} {qemu} {} {}",
        crate::versions::kernel_release(),
        image.package,
        image.package_version
    );
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("kvm-probe-{hex}")
}

/// Boots the image under KVM, without devices, until its init script
/// speaks or the probe's time is up.
fn probe_kvm(image: &Image) -> Result<Duration, String> {
    let mut cmd = with_pdeathsig(qemu_base(image, Accel::Kvm));
    cmd.args(["-serial", "stdio"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let started = Instant::now();
    let mut child =
        crate::spawn::spawn(&mut cmd).map_err(|e| format!("cannot start {QEMU}: {e}"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if line.contains(image::INIT_MARK) {
                    let _ = tx.send(());
                    break;
                }
            }
        });
    }
    let got = rx.recv_timeout(KVM_PROBE);
    let _ = child.kill();
    let _ = child.wait();
    match got {
        Ok(()) => Ok(started.elapsed()),
        Err(_) => Err(format!(
            "the guest did not reach init within {} s",
            KVM_PROBE.as_secs()
        )),
    }
}

/// QEMU with the guest's kernel and image, nothing else attached.
fn qemu_base(image: &Image, accel: Accel) -> Command {
    let mut cmd = Command::new(QEMU);
    cmd.args(["-accel", accel.name()])
        .args(["-m", MEMORY_MB, "-smp", "1"])
        // No default devices, no monitor, no window, no config files:
        // exactly the devices below. `-no-reboot` turns the guest's
        // reboot (a panic, with panic=-1) into QEMU's exit.
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-no-reboot"])
        .arg("-kernel")
        .arg(&image.kernel)
        .arg("-initrd")
        .arg(&image.initramfs)
        .args(["-append", KERNEL_ARGS]);
    if accel == Accel::Kvm {
        cmd.args(["-cpu", "host"]);
    }
    cmd
}

/// `cmd` run through `setpriv --pdeathsig KILL`, for the probe (the stack's
/// own QEMU gets it from the agent machinery).
fn with_pdeathsig(cmd: Command) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--pdeathsig", "KILL", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    c
}

/// The stack's QEMU: the guest's NIC on the TAP interface `tap` (created
/// by the harness in its namespace), the agent's serial port on QEMU's
/// stdin and stdout, the console on its stderr.
pub fn qemu_command(image: &Image, accel: Accel, tap: &str) -> Command {
    let mut cmd = qemu_base(image, accel);
    cmd.args(["-serial", "file:/dev/stderr"])
        .args(["-device", "virtio-serial-pci"])
        .args(["-chardev", "stdio,id=agent,signal=off"])
        .args(["-device", "virtserialport,chardev=agent,name=timewait"])
        .args([
            "-netdev",
            &format!("tap,id=net,ifname={tap},script=no,downscript=no"),
        ])
        .args([
            "-device",
            &format!("virtio-net-pci,netdev=net,mac={}", mac_string(SUT_MAC)),
        ]);
    cmd
}

/// The sysctls the guest applies for `spec`: the host adapter's, by their
/// full names.
pub fn sysctls(spec: &Spec) -> BTreeMap<String, String> {
    crate::backends::linux::sysctls(&spec.profile())
        .into_iter()
        .collect()
}

/// What was tested: the kernel's upstream version and its Debian package,
/// read from the package the image is built from.
pub fn version() -> Result<String, String> {
    let g = guest()?;
    let v = &g.image.package_version;
    let upstream = v.split('-').next().unwrap_or(v);
    Ok(format!("Linux {upstream} (Debian {} {v})", g.image.package))
}

/// Boots a guest with `sysctls` on the TAP interface of the calling
/// thread's (fresh) namespace, and waits for its agent.
pub fn boot(
    sysctls: BTreeMap<String, String>,
    time_wait: Duration,
) -> Result<TapStack, NetnsError> {
    boot_with(sysctls, time_wait, &Boot::default())
}

/// What a test changes about a boot.
#[derive(Clone, Debug, Default)]
pub struct Boot {
    /// The deadline for the guest's agent, instead of [`BOOT_DEADLINE`].
    pub deadline: Option<Duration>,
    /// Added to the kernel's command line.
    pub append: Option<String>,
}

/// [`boot`] with a test's changes.
pub fn boot_with(
    sysctls: BTreeMap<String, String>,
    time_wait: Duration,
    how: &Boot,
) -> Result<TapStack, NetnsError> {
    let guest = guest().map_err(|detail| NetnsError::Command {
        cmd: format!("preparing the {STACK} guest"),
        detail,
    })?;
    let mut cmd = qemu_command(&guest.image, guest.accel, TAP_IF);
    if let Some(extra) = &how.append {
        // A later -append replaces the first: repeat the whole line.
        cmd.args(["-append", &format!("{KERNEL_ARGS} {extra}")]);
    }
    let deadline = how.deadline.unwrap_or(BOOT_DEADLINE);
    let options = TapOptions {
        hello_deadline: Some(deadline),
        sysctls: Some(sysctls),
        count_frames: true,
    };
    let _turn = BootTurn::take();
    TapStack::start(STACK, cmd, time_wait, options).map_err(|e| booting(e, deadline))
}

/// How many guests boot at once in this process. A boot under TCG keeps a
/// core busy for its 3 s; eight at once on two cores starved the running
/// specs' harness threads (their first call 110 ms late, timing invalid),
/// while a booted guest waiting out TIME-WAIT costs almost nothing. Two at
/// once, with 16 guests running, was slower on this shared two-core
/// machine (427 s for the suite against 358 s) and starved the running
/// guests' vCPUs: 6 runs timing invalid and 3 SUT replies past their
/// tolerance, against none with one boot at a time and 8 guests.
const BOOTS_AT_ONCE: usize = 1;

static BOOTING: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

/// One of the [`BOOTS_AT_ONCE`] turns to boot, given back when dropped.
struct BootTurn;

impl BootTurn {
    fn take() -> BootTurn {
        let (lock, freed) = &BOOTING;
        let mut n = lock.lock().unwrap_or_else(|p| p.into_inner());
        while *n >= BOOTS_AT_ONCE {
            n = freed.wait(n).unwrap_or_else(|p| p.into_inner());
        }
        *n += 1;
        BootTurn
    }
}

impl Drop for BootTurn {
    fn drop(&mut self) {
        let (lock, freed) = &BOOTING;
        let mut n = lock.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        freed.notify_one();
    }
}

/// Boots a guest for `spec` in a fresh namespace and replays the spec on it.
pub fn run_spec(spec: &Spec, time_wait: Duration) -> Result<StackRun, String> {
    if let Some(why) = unavailable() {
        return Err(why);
    }
    // Built before the namespace thread, so an image error reads as one.
    guest()?;
    let spec = spec.clone();
    let sysctls = sysctls(&spec);
    netns::run_in_new_netns(format!("vm-{}", spec.name.value), move || {
        let mut s = boot(sysctls, time_wait)?;
        eprintln!(
            "{STACK}: {}'s guest ({}) reached its agent in {:.1} s",
            spec.name.value,
            s.stack,
            s.startup.as_secs_f64()
        );
        s.replay(&spec)
    })
    .map_err(|e| e.to_string())
}

/// A start-up failure, with what to do about it: the guest's console is in
/// the message (its last lines), and a hang names the deadline.
fn booting(e: NetnsError, deadline: Duration) -> NetnsError {
    let detail = e.to_string();
    let hint = if detail.contains("no reply to `hello`") {
        format!(
            "; the guest did not reach its agent within {:.1} s (a boot that hangs: the console's last lines are quoted; under KVM, try {ACCEL_ENV}=tcg)",
            deadline.as_secs_f64()
        )
    } else if detail.contains("while handling `hello`") {
        format!(
            "; the guest stopped before its agent answered (a boot that failed: the console's last lines are quoted; to fetch and build the image again, remove {})",
            image::root()
                .map(|r| r.display().to_string())
                .unwrap_or_else(|e| e.to_string())
        )
    } else {
        String::new()
    };
    NetnsError::Command {
        cmd: format!("booting the {STACK} guest"),
        detail: format!("{detail}{hint}"),
    }
}
