//! The guest agent of the `linux-6.1-vm` stack: runs as the guest's init
//! (the initramfs's `/init` script loads the modules and execs it) and
//! speaks agent protocol v1 (conformance/agents/PROTOCOL.md), tap mode, over
//! a virtio serial port. The stack under test is the guest's own kernel:
//! application calls are the host Linux adapter's socket calls
//! (`backends/linux/sut.rs`) and states come from the guest's sock_diag
//! (`backends/linux/diag.rs`), so the two Linux stacks differ only in the
//! kernel.
//!
//! The guest's NIC is a virtio-net device on the harness's TAP interface,
//! so a frame the harness sends crosses QEMU's TAP queue and the guest's
//! receive softirq, while a request crosses the serial port: the two can
//! overtake each other. Requests therefore carry `frames_sent`, the number
//! of frames the harness has written on the wire, and the agent counts the
//! frames that have reached `eth0` (a packet socket sees each frame in the
//! same softirq pass that hands it to TCP) before it answers.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use timewait_conformance::backends::linux::packet::{Direction, PacketSocket};
use timewait_conformance::backends::linux::{diag, linux_state, sut::SutApp};

/// The virtio serial port's name (QEMU's `virtserialport,name=`).
const PORT_NAME: &str = "timewait";
const IFACE: &str = "eth0";
const BUSYBOX: &str = "/bin/busybox";
/// How long the port's and the NIC's devices may take to appear after
/// their modules are loaded.
const DEVICE_WAIT: Duration = Duration::from_secs(20);
/// How long a request waits for the frames the harness sent before it.
const FRAMES_WAIT: Duration = Duration::from_secs(2);

fn log(msg: &str) {
    // stderr is the guest's console, which QEMU writes to its stderr.
    eprintln!("timewait-guest-agent: {msg}");
}

/// The serial port's device node, found by the port's name in sysfs.
fn find_port() -> Result<PathBuf, String> {
    let give_up = Instant::now() + DEVICE_WAIT;
    loop {
        if let Ok(entries) = std::fs::read_dir("/sys/class/virtio-ports") {
            for e in entries.flatten() {
                let name = std::fs::read_to_string(e.path().join("name")).unwrap_or_default();
                let dev = Path::new("/dev").join(e.file_name());
                if name.trim() == PORT_NAME && dev.exists() {
                    return Ok(dev);
                }
            }
        }
        if Instant::now() >= give_up {
            return Err(format!(
                "no virtio serial port named {PORT_NAME:?} within {} s",
                DEVICE_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn busybox(args: &[&str]) -> Result<(), String> {
    let out = Command::new(BUSYBOX)
        .args(args)
        .output()
        .map_err(|e| format!("busybox {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "busybox {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn sysctl(name: &str, value: &str) -> Result<(), String> {
    let path = Path::new("/proc/sys").join(name.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| format!("sysctl {name}={value}: {e}"))
}

/// Turns GRO off on the NIC: GRO may merge segments into one skb, which a
/// packet socket then counts as one frame, and may hold a segment back
/// past a later one. Each of the harness's frames must reach TCP alone and
/// in order, as on the host adapter's TAP wire.
fn gro_off(ifname: &str) -> Result<(), String> {
    const ETHTOOL_SGRO: u32 = 0x2c;
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    let mut value = EthtoolValue {
        cmd: ETHTOOL_SGRO,
        data: 0,
    };
    // SAFETY: zeroed ifreq is a valid value of the type.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(ifname.bytes()) {
        *d = s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    // SAFETY: plain socket(2) call; the result is checked and closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `ifr` and `value` live across the call.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL, &mut ifr) };
    let err = std::io::Error::last_os_error();
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(format!("ETHTOOL_SGRO off on {ifname}: {err}"));
    }
    Ok(())
}

/// The guest's kernel release, as `hello` names the stack.
fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

struct Agent {
    app: Option<SutApp>,
    sut: Option<SocketAddrV4>,
    /// Frames from the wire that reached eth0, and the socket counting them.
    seen: u64,
    wire: Option<PacketSocket>,
}

impl Agent {
    /// Brings eth0 up at the SUT's address with the MAC `hello` gives,
    /// applies the sysctls, and opens the frame counter.
    fn hello(&mut self, req: &Value) -> Result<Value, String> {
        if req["mode"] != "tap" {
            return Err("only tap mode: the stack is the guest's kernel on its NIC".into());
        }
        let addr = |field: &str| -> Result<SocketAddrV4, String> {
            req[field]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("hello: {field} is not an IPv4 address:port"))
        };
        let (sut, peer) = (addr("sut")?, addr("peer")?);
        let give_up = Instant::now() + DEVICE_WAIT;
        while !Path::new("/sys/class/net").join(IFACE).exists() {
            if Instant::now() >= give_up {
                return Err(format!("no {IFACE} within {} s", DEVICE_WAIT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // No IPv6: router solicitations and DAD would be noise on the wire.
        sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
        sysctl("net.ipv6.conf.default.disable_ipv6", "1")?;
        let mut applied = 0;
        if let Some(list) = req["sysctls"].as_object() {
            for (name, value) in list {
                let value = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                sysctl(name, &value)?;
                applied += 1;
            }
        }
        if let Some(mac) = req["sut_mac"].as_str() {
            busybox(&["ip", "link", "set", IFACE, "address", mac])?;
        }
        gro_off(IFACE)?;
        let cidr = format!("{}/24", sut.ip());
        busybox(&["ip", "link", "set", "lo", "up"])?;
        busybox(&["ip", "addr", "add", &cidr, "dev", IFACE])?;
        busybox(&["ip", "link", "set", IFACE, "up"])?;
        // As the host adapter: a permanent neighbour entry for the peer,
        // so no ARP exchange delays the guest's first segment.
        if let Some(mac) = req["peer_mac"].as_str() {
            let ip = peer.ip().to_string();
            // busybox's `ip neigh` only shows and flushes; its `arp -s`
            // sets a permanent entry (SIOCSARP with ATF_PERM).
            busybox(&["arp", "-i", IFACE, "-s", &ip, mac])?;
        }
        // Opened once the link is up (a packet socket on a device that
        // goes up after it reports ENETDOWN); the harness sends nothing
        // before the reply to this hello, so no frame is missed.
        self.wire = Some(
            PacketSocket::open_reading(IFACE, Direction::Incoming)
                .map_err(|e| format!("packet socket on {IFACE}: {e}"))?,
        );
        self.app = Some(SutApp::new(sut, peer));
        self.sut = Some(sut);
        Ok(json!({
            "ok": true,
            "version": 1,
            "stack": format!("Linux {}", release()),
            "clock": "real",
            "sysctls": applied,
        }))
    }

    /// Waits until `n` frames from the wire have reached eth0.
    fn take_frames(&mut self, n: u64) -> Result<(), String> {
        let Some(wire) = &self.wire else {
            return Ok(());
        };
        let give_up = Instant::now() + FRAMES_WAIT;
        // Read what has arrived even when the count is already reached,
        // so the queue does not grow.
        while let Some(_frame) = wire
            .recv(if self.seen >= n {
                Instant::now()
            } else {
                give_up
            })
            .map_err(|e| format!("reading {IFACE}: {e}"))?
        {
            self.seen += 1;
        }
        if self.seen < n {
            return Err(format!(
                "the harness sent {n} frames, {} reached {IFACE} within {} ms",
                self.seen,
                FRAMES_WAIT.as_millis()
            ));
        }
        Ok(())
    }

    fn app(&mut self, op: &str, req: &Value) -> Result<Result<(), String>, String> {
        let app = self.app.as_mut().ok_or("no hello yet")?;
        // The application reads what arrives, as the host adapter's does.
        app.drain();
        Ok(match op {
            "listen" => app.listen(false),
            "listen-persistent" => app.listen(true),
            "accept" => app.accept(),
            "close-listener" => app.close_listener(),
            "connect" => app.connect(),
            "send" => {
                let n = req["bytes"]
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or("send: bytes is not a count")?;
                app.send(n)
            }
            "shutdown" => app.shutdown(),
            "close" => app.close(),
            "abort" => app.abort(),
            other => return Err(format!("unknown op {other:?}")),
        })
    }

    /// Every socket on the SUT's port: the first on the 4-tuple (the one
    /// the host adapter reads) and the listeners.
    fn state(&self) -> Result<Value, String> {
        let sut = self.sut.ok_or("no hello yet")?;
        let socks = diag::tcp_sockets().map_err(|e| e.to_string())?;
        let mut conns = Vec::new();
        let mut conn_seen = false;
        for s in socks.iter().filter(|s| s.local.port() == sut.port()) {
            let listener = s.state == 10;
            if !listener && (conn_seen || s.local != sut) {
                continue;
            }
            conn_seen |= !listener;
            let state = linux_state(s.state)
                .ok_or_else(|| format!("unknown Linux TCP state {}", s.state))?;
            conns.push(json!({
                "local": s.local.to_string(),
                "remote": s.remote.to_string(),
                "state": state.name(),
                "remaining_us": s.expires.map(|d| d.as_micros() as u64),
            }));
        }
        Ok(json!({"ok": true, "conns": conns}))
    }

    fn handle(&mut self, req: &Value) -> Value {
        let op = req["op"].as_str().unwrap_or("");
        if op != "hello" {
            if let Some(n) = req["frames_sent"].as_u64() {
                if let Err(e) = self.take_frames(n) {
                    return json!({"ok": false, "fatal": e});
                }
            }
        }
        let fatal = |e: String| json!({"ok": false, "fatal": e});
        match op {
            "hello" => self.hello(req).unwrap_or_else(fatal),
            "state" => self.state().unwrap_or_else(fatal),
            "quit" => json!({"ok": true}),
            _ => match self.app(op, req) {
                Ok(Ok(())) => json!({"ok": true}),
                Ok(Err(e)) => json!({"ok": false, "error": e}),
                Err(e) => fatal(e),
            },
        }
    }
}

fn serve() -> Result<(), String> {
    let port = find_port()?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&port)
        .map_err(|e| format!("opening {}: {e}", port.display()))?;
    let mut out = file
        .try_clone()
        .map_err(|e| format!("{}: {e}", port.display()))?;
    log(&format!("serving on {}", port.display()));
    let mut agent = Agent {
        app: None,
        sut: None,
        seen: 0,
        wire: None,
    };
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("reading {}: {e}", port.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let (reply, quit) = match serde_json::from_str::<Value>(&line) {
            Ok(req) => (agent.handle(&req), req["op"] == "quit"),
            Err(e) => (
                json!({"ok": false, "fatal": format!("not a request ({e})")}),
                false,
            ),
        };
        writeln!(out, "{reply}")
            .and_then(|_| out.flush())
            .map_err(|e| format!("writing {}: {e}", port.display()))?;
        if quit {
            break;
        }
    }
    Ok(())
}

fn main() {
    if let Err(e) = serve() {
        log(&e);
    }
    // As init, exiting would panic the kernel; power off instead, which
    // ends QEMU (the harness also kills it).
    if std::process::id() == 1 {
        // SAFETY: reboot(2) with a valid command; nothing runs after it.
        unsafe {
            libc::sync();
            libc::reboot(libc::RB_POWER_OFF);
        }
    }
}
