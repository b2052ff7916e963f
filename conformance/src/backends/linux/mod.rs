//! The Linux adapter: the kernel's own TCP in a network namespace that the
//! harness creates for one spec. Inside it, the SUT has 192.0.2.1 on a TAP
//! device whose descriptor the harness holds as the peer's wire (see
//! [`tun`]): an injected segment is processed inside the write that hands
//! it over, and the SUT's own frames are read from a packet socket on the
//! device, which the kernel fills and stamps inside the SUT's transmit
//! path. Neither direction waits for a softirq, so how loaded the machine
//! is cannot make the SUT look late. No IP stack answers for the peer,
//! and the SUT's neighbour entry for it is static, so no ARP is needed.

pub mod diag;
pub mod netns;
pub mod packet;
pub mod sut;
pub mod tun;

use crate::stack::{Received, Stack, StackError, StackRun, SutState};
use crate::wire::{
    self, mac_string as mac, Frame, WireSegment, PEER_ADDR, PEER_MAC, SUT_ADDR, SUT_MAC,
};
use netns::NetnsError;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};
use timewait_specs::format::{App, Profile, SockState};

pub const SUT_IF: &str = "sut0";

/// Linux's TCP in the calling thread's (fresh) namespace.
pub struct LinuxStack {
    start: Instant,
    /// The peer's end: what is written here enters the SUT.
    wire: tun::Tap,
    /// What the SUT sends, with the kernel's transmit stamps.
    sent: packet::PacketSocket,
    app: sut::SutApp,
    /// Every frame in both directions, for the pcap.
    pub frames: Vec<Frame>,
}

/// The sysctls a spec's profile sets, with the harness's defaults:
/// `tcp_invalid_ratelimit=0`, because Linux otherwise rate-limits its ACKs
/// to out-of-window segments (500 ms), which would make specs flaky.
pub fn sysctls(profile: &Profile) -> Vec<(String, String)> {
    let mut v = vec![(
        "net.ipv4.tcp_invalid_ratelimit".to_string(),
        "0".to_string(),
    )];
    for (name, value) in profile.sysctls() {
        let key = format!("net.ipv4.{name}");
        v.retain(|(k, _)| *k != key);
        v.push((key, value.to_string()));
    }
    v
}

impl LinuxStack {
    /// Builds the topology in the calling thread's namespace, which must be
    /// a fresh one (see [`netns::run_in_new_netns`]).
    pub fn new(profile: &Profile) -> Result<LinuxStack, NetnsError> {
        // No IPv6: router solicitations and DAD would be noise on the wire.
        netns::sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
        netns::sysctl("net.ipv6.conf.default.disable_ipv6", "1")?;
        let setup = |what: &str| {
            let what = what.to_string();
            move |e: std::io::Error| NetnsError::Command {
                cmd: what,
                detail: e.to_string(),
            }
        };
        let wire = tun::Tap::create(SUT_IF).map_err(setup("create the TAP device"))?;
        // One `ip` process for the whole topology (five were 2 ms each on
        // a quiet core, up to 30 ms on a busy one).
        let (sut_mac, peer_mac) = (mac(SUT_MAC), mac(PEER_MAC));
        netns::ip_batch(&[
            &["link", "set", "lo", "up"],
            &["link", "set", SUT_IF, "address", &sut_mac],
            &["addr", "add", "192.0.2.1/24", "dev", SUT_IF],
            &["link", "set", SUT_IF, "up"],
            &[
                "neigh",
                "replace",
                "192.0.2.2",
                "lladdr",
                &peer_mac,
                "dev",
                SUT_IF,
                "nud",
                "permanent",
            ],
        ])?;
        for (k, v) in sysctls(profile) {
            netns::sysctl(&k, &v)?;
        }
        let sent = packet::PacketSocket::open_reading(SUT_IF, packet::Direction::Outgoing)
            .map_err(setup("packet socket on the SUT's device"))?;
        wait_for_wire(&wire, &sent)?;
        Ok(LinuxStack {
            start: Instant::now(),
            wire,
            sent,
            app: sut::SutApp::new(SUT_ADDR, PEER_ADDR),
            frames: Vec::new(),
        })
    }
}

impl LinuxStack {
    /// Hands a frame to the SUT's device as it is (for the benchmark's
    /// baseline); it is not recorded.
    pub fn send_raw(&self, frame: &[u8]) -> std::io::Result<()> {
        self.wire.send(frame)
    }
}

/// How long a new device may take to carry frames both ways.
const WIRE_READY: Duration = Duration::from_secs(5);
/// How long each readiness try waits for its answer. A ready wire answers
/// inside the write, so the wait only spaces the tries; the device is
/// usually ready a few ms after it is up, and 20 ms tries cost a spec
/// about 20 ms of set-up.
const WIRE_RETRY: Duration = Duration::from_millis(2);

/// Waits until the wire carries frames both ways with kernel stamps: an
/// ARP request for the SUT's address, written to the TAP device, must be
/// answered inside the write (the answer's stamp comes before the write
/// returned). Until the device is up the request is dropped; until the
/// kernel has turned receive stamping on (a moment after the first socket
/// asks for it), the answer is stamped when it is read, after the write.
fn wait_for_wire(wire: &tun::Tap, sent: &packet::PacketSocket) -> Result<(), NetnsError> {
    let failed = |what: String| NetnsError::Command {
        cmd: "wire readiness".into(),
        detail: what,
    };
    let io = |e: std::io::Error| failed(e.to_string());
    let request = arp_request().map_err(failed)?;
    let give_up = Instant::now() + WIRE_READY;
    let mut last = "no answer to an ARP request";
    loop {
        if Instant::now() >= give_up {
            return Err(failed(format!("{last} within {} s", WIRE_READY.as_secs())));
        }
        wire.send(&request).map_err(io)?;
        let written = Instant::now();
        let until = written + WIRE_RETRY;
        while let Some(got) = sent.recv(until).map_err(io)? {
            if got.data.get(12..14) == Some(&[0x08, 0x06]) {
                if got.at <= written {
                    // Drop anything else the SUT said while it came up.
                    while sent.recv(Instant::now()).map_err(io)?.is_some() {}
                    wire.drain().map_err(io)?;
                    return Ok(());
                }
                last = "no ARP answer with a kernel stamp";
            }
        }
        // Not answered inside the write (each try waited WIRE_RETRY for it):
        // the device or stamping was not ready; a late answer waits on
        // the device too.
        wire.drain().map_err(io)?;
    }
}

/// An ARP request from the peer for the SUT's address.
fn arp_request() -> Result<Vec<u8>, String> {
    let arp = etherparse::ArpEthIpv4Packet {
        operation: etherparse::ArpOperation::REQUEST,
        sender_mac: PEER_MAC,
        sender_ipv4: PEER_ADDR.ip().octets(),
        target_mac: [0; 6],
        target_ipv4: SUT_ADDR.ip().octets(),
    };
    let mut frame = Vec::with_capacity(42);
    etherparse::PacketBuilder::ethernet2(PEER_MAC, [0xff; 6])
        .arp(arp.into())
        .write_to_vec(&mut frame)
        .map_err(|e| format!("ARP request: {e}"))?;
    Ok(frame)
}

fn harness(e: impl std::fmt::Display) -> StackError {
    StackError::Harness(e.to_string())
}

/// Linux's TCP states (include/net/tcp_states.h) as RFC 9293 names them.
pub fn linux_state(n: u8) -> Option<SockState> {
    Some(match n {
        1 => SockState::Established,
        2 => SockState::SynSent,
        3 | 12 => SockState::SynReceived,
        4 => SockState::FinWait1,
        5 => SockState::FinWait2,
        6 => SockState::TimeWait,
        7 => SockState::Closed,
        8 => SockState::CloseWait,
        9 => SockState::LastAck,
        10 => SockState::Listen,
        11 => SockState::Closing,
        _ => return None,
    })
}

impl Stack for LinuxStack {
    fn time_wait(&self) -> Duration {
        crate::stack::StackKind::Linux.time_wait()
    }

    fn addresses(&self) -> (SocketAddrV4, SocketAddrV4) {
        (SUT_ADDR, PEER_ADDR)
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn app(&mut self, call: App) -> Result<Result<(), String>, StackError> {
        Ok(match call {
            App::Listen => self.app.listen(false),
            App::ListenPersistent => self.app.listen(true),
            App::Accept => self.app.accept(),
            App::CloseListener => self.app.close_listener(),
            App::Connect => self.app.connect(),
            App::Send(n) => self.app.send(usize::from(n)),
            App::Shutdown => self.app.shutdown(),
            App::Close => self.app.close(),
            App::Abort => self.app.abort(),
        })
    }

    fn inject(&mut self, seg: &WireSegment) -> Result<(), StackError> {
        let frame = wire::build_frame(seg, PEER_MAC, SUT_MAC).map_err(harness)?;
        self.wire.send(&frame).map_err(harness)?;
        self.frames.push(Frame {
            at: self.now(),
            data: frame,
        });
        Ok(())
    }

    fn recv(&mut self, deadline: Duration) -> Result<Option<Received>, StackError> {
        loop {
            let until = self.start + deadline;
            // The same frames wait on the TAP descriptor, unstamped.
            self.wire.drain().map_err(harness)?;
            let Some(arrival) = self.sent.recv(until).map_err(harness)? else {
                return Ok(None);
            };
            let at = arrival.at.saturating_duration_since(self.start);
            let mut frame = arrival.data;
            wire::complete_checksum(&mut frame);
            let seg = wire::parse_frame(&frame);
            self.frames.push(Frame { at, data: frame });
            // The application reads what arrives, as a real one would.
            self.app.drain();
            if let Some(segment) = seg {
                if segment.src == SUT_ADDR && segment.dst == PEER_ADDR {
                    return Ok(Some(Received { at, segment }));
                }
            }
        }
    }

    fn state(&mut self) -> Result<Option<SutState>, StackError> {
        let socks = diag::tcp_sockets().map_err(harness)?;
        let conn = socks
            .iter()
            .find(|s| s.local == SUT_ADDR && s.remote == PEER_ADDR);
        if let Some(s) = conn {
            let state = linux_state(s.state)
                .ok_or_else(|| harness(format!("unknown Linux TCP state {}", s.state)))?;
            return Ok(Some(SutState {
                state,
                remaining: s.expires,
            }));
        }
        let listening = socks
            .iter()
            .any(|s| s.local.port() == SUT_ADDR.port() && s.state == 10);
        Ok(Some(SutState {
            state: if listening {
                SockState::Listen
            } else {
                SockState::Closed
            },
            remaining: None,
        }))
    }
}

/// Replays `spec` in a fresh namespace with the spec's profile, changed by
/// `overrides` (sysctl name under net.ipv4, value).
pub fn run_spec(
    spec: &timewait_specs::Spec,
    overrides: &[(&str, u64)],
) -> Result<StackRun, NetnsError> {
    let spec = spec.clone();
    let mut profile = spec.profile();
    for &(name, value) in overrides {
        apply_override(&mut profile, name, value);
    }
    let name = format!("netns-{}", spec.name.value);
    netns::run_in_new_netns(name, move || {
        let mut stack = LinuxStack::new(&profile)?;
        let replay = crate::engine::replay(&spec, &mut stack).map_err(|e| NetnsError::Command {
            cmd: "replay".into(),
            detail: e.to_string(),
        })?;
        Ok(StackRun {
            replay,
            frames: std::mem::take(&mut stack.frames),
        })
    })
}

fn apply_override(p: &mut Profile, name: &str, value: u64) {
    let small = u8::try_from(value).ok();
    let big = u32::try_from(value).ok();
    match name {
        "tcp_rfc1337" => p.tcp_rfc1337 = small,
        "tcp_timestamps" => p.tcp_timestamps = small,
        "tcp_max_tw_buckets" => p.tcp_max_tw_buckets = big,
        "tcp_invalid_ratelimit" => p.tcp_invalid_ratelimit = big,
        "tcp_tw_reuse" => p.tcp_tw_reuse = small,
        "tcp_fin_timeout" => p.tcp_fin_timeout = big,
        "tcp_orphan_retries" => p.tcp_orphan_retries = small,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_ratelimit_is_off_unless_the_profile_sets_it() {
        let d = sysctls(&Profile::default());
        assert!(d.contains(&("net.ipv4.tcp_invalid_ratelimit".into(), "0".into())));
        let p = Profile {
            tcp_invalid_ratelimit: Some(500),
            tcp_rfc1337: Some(1),
            ..Profile::default()
        };
        let s = sysctls(&p);
        assert!(s.contains(&("net.ipv4.tcp_invalid_ratelimit".into(), "500".into())));
        assert!(!s.contains(&("net.ipv4.tcp_invalid_ratelimit".into(), "0".into())));
        assert!(s.contains(&("net.ipv4.tcp_rfc1337".into(), "1".into())));
    }

    #[test]
    fn linux_states_map_to_rfc_names() {
        assert_eq!(linux_state(6), Some(SockState::TimeWait));
        assert_eq!(linux_state(12), Some(SockState::SynReceived));
        assert_eq!(linux_state(99), None);
    }
}
