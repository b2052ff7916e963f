//! The Linux adapter: the kernel's own TCP in a network namespace that the
//! harness creates for one spec. Inside it, the SUT has 192.0.2.1 on one end
//! of a veth pair; the other end has no address at all (so no IP stack
//! answers for the peer) and a raw packet socket on it is the peer's wire.
//! The SUT's neighbour entry for the peer is static, so no ARP is needed.

pub mod diag;
pub mod netns;
pub mod packet;
pub mod sut;

use crate::stack::{Received, Stack, StackError, StackRun, SutState};
use crate::wire::{
    self, mac_string as mac, Frame, WireSegment, PEER_ADDR, PEER_MAC, SUT_ADDR, SUT_MAC,
};
use netns::NetnsError;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};
use timewait_specs::format::{App, Profile, SockState};

pub const SUT_IF: &str = "sut0";
pub const PEER_IF: &str = "peer0";

/// Linux's TCP in the calling thread's (fresh) namespace.
pub struct LinuxStack {
    start: Instant,
    wire: packet::PacketSocket,
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
        netns::ip(&["link", "set", "lo", "up"])?;
        netns::ip(&[
            "link",
            "add",
            SUT_IF,
            "address",
            &mac(SUT_MAC),
            "type",
            "veth",
            "peer",
            "name",
            PEER_IF,
            "address",
            &mac(PEER_MAC),
        ])?;
        netns::ip(&["addr", "add", "192.0.2.1/24", "dev", SUT_IF])?;
        netns::ip(&["link", "set", SUT_IF, "up"])?;
        netns::ip(&["link", "set", PEER_IF, "up"])?;
        netns::ip(&[
            "neigh",
            "replace",
            "192.0.2.2",
            "lladdr",
            &mac(PEER_MAC),
            "dev",
            SUT_IF,
            "nud",
            "permanent",
        ])?;
        for (k, v) in sysctls(profile) {
            netns::sysctl(&k, &v)?;
        }
        let wire = packet::PacketSocket::open(PEER_IF).map_err(|e| NetnsError::Command {
            cmd: format!("packet socket on {PEER_IF}"),
            detail: e.to_string(),
        })?;
        wait_for_wire(&wire)?;
        Ok(LinuxStack {
            start: Instant::now(),
            wire,
            app: sut::SutApp::new(SUT_ADDR, PEER_ADDR),
            frames: Vec::new(),
        })
    }
}

impl LinuxStack {
    /// Sends a frame on the peer's wire as it is (for the benchmark's
    /// baseline); it is not recorded.
    pub fn send_raw(&self, frame: &[u8]) -> std::io::Result<()> {
        self.wire.send(frame)
    }
}

/// How long a new veth pair may take to carry frames both ways.
const WIRE_READY: Duration = Duration::from_secs(5);

/// Waits until frames cross the veth pair in both directions. A link that
/// was just set up drops frames until its carrier is up; a spec that starts
/// earlier would lose its first segment (seen with 66 namespaces starting
/// at once on two cores).
fn wait_for_wire(wire: &packet::PacketSocket) -> Result<(), NetnsError> {
    let failed = |what: &str| NetnsError::Command {
        cmd: "veth readiness".into(),
        detail: format!("{what} within {} s", WIRE_READY.as_secs()),
    };
    let io = |e: std::io::Error| NetnsError::Command {
        cmd: "veth readiness".into(),
        detail: e.to_string(),
    };
    let sut_side = packet::PacketSocket::open(SUT_IF).map_err(io)?;
    // An IEEE 802 local experimental EtherType: no stack acts on it.
    let probe = |src: [u8; 6], dst: [u8; 6]| {
        let mut f = Vec::with_capacity(60);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&src);
        f.extend_from_slice(&[0x88, 0xb5]);
        f.resize(60, 0);
        f
    };
    let give_up = Instant::now() + WIRE_READY;
    for (from, to, frame) in [
        (wire, &sut_side, probe(PEER_MAC, SUT_MAC)),
        (&sut_side, wire, probe(SUT_MAC, PEER_MAC)),
    ] {
        'crossed: loop {
            if Instant::now() >= give_up {
                return Err(failed("no probe frame crossed the veth pair"));
            }
            from.send(&frame).map_err(io)?;
            let until = Instant::now() + Duration::from_millis(20);
            while let Some(got) = to.recv(until).map_err(io)? {
                if got.data == frame {
                    break 'crossed;
                }
            }
        }
    }
    // Drop any probe copies still queued on the peer's wire.
    while wire.recv(Instant::now()).map_err(io)?.is_some() {}
    Ok(())
}

fn harness(e: impl std::fmt::Display) -> StackError {
    StackError::Harness(e.to_string())
}

/// Linux's TCP states (include/net/tcp_states.h) as RFC 9293 names them.
fn linux_state(n: u8) -> Option<SockState> {
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
            App::Listen => self.app.listen(),
            App::Accept => self.app.accept(),
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
            let Some(arrival) = self.wire.recv(until).map_err(harness)? else {
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
