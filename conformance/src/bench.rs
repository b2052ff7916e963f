//! Figures for `timewait bench replay`: the round trip of one injected
//! segment to the SUT's reply, against the bare wire (a frame handed to the
//! SUT's TAP device and seen arriving on it, no TCP) measured in the same run; and specs per second
//! for specs without waits.

use crate::backends::linux::netns::{self, NetnsError};
use crate::backends::linux::{packet::PacketSocket, LinuxStack, SUT_IF};
use crate::stack::Stack;
use crate::wire::WireSegment;
use std::time::{Duration, Instant};
use timewait_specs::format::{App, Profile, TcpOptions};
use timewait_specs::values::Flags;

/// Round-trip samples.
pub struct RoundTrips {
    /// Inject a SYN to a listening socket, receive its SYN-ACK.
    pub tcp: Vec<Duration>,
    /// A frame handed to the SUT's TAP device, seen arriving on it.
    pub wire: Vec<Duration>,
}

fn harness(e: impl std::fmt::Display) -> NetnsError {
    NetnsError::Command {
        cmd: "bench".into(),
        detail: e.to_string(),
    }
}

/// A SYN from the peer to the SUT's port.
fn syn(isn: u32, options: TcpOptions) -> WireSegment {
    WireSegment {
        options,
        ..WireSegment::from_peer(Flags::SYN, isn, 0)
    }
}

/// `n` round trips of each kind, in a fresh namespace.
pub fn round_trips(n: usize) -> Result<RoundTrips, NetnsError> {
    netns::run_in_new_netns("bench".into(), move || {
        let mut stack = LinuxStack::new(&Profile::default())?;
        stack.app(App::Listen).map_err(harness)?.map_err(harness)?;
        let sut_side = PacketSocket::open(SUT_IF).map_err(harness)?;
        let mut tcp = Vec::with_capacity(n);
        let mut wire = Vec::with_capacity(n);
        let mut isn: u32 = 1_000_000;
        for _ in 0..n {
            let syn = syn(isn, TcpOptions::default());
            let t0 = stack.now();
            stack.inject(&syn).map_err(harness)?;
            let reply = stack
                .recv(t0 + Duration::from_secs(1))
                .map_err(harness)?
                .ok_or_else(|| harness("no SYN-ACK within 1 s"))?;
            tcp.push(reply.at.saturating_sub(t0));
            // A RST at SEQ+1 removes the half-open connection for the next SYN.
            let rst = WireSegment {
                flags: Flags::RST,
                seq: isn.wrapping_add(1),
                ..syn
            };
            stack.inject(&rst).map_err(harness)?;
            isn = isn.wrapping_add(100_000);
            // The bare wire: the same kind of frame, captured on the far end.
            let frame =
                crate::wire::build_frame(&rst, crate::wire::PEER_MAC, [0x02, 0, 0, 0, 0, 0x7f])
                    .map_err(harness)?;
            // The SUT's end also saw this round's SYN and RST; drop them first.
            while sut_side.recv(Instant::now()).map_err(harness)?.is_some() {}
            let start = Instant::now();
            stack.send_raw(&frame).map_err(harness)?;
            loop {
                let got = sut_side
                    .recv(start + Duration::from_secs(1))
                    .map_err(harness)?
                    .ok_or_else(|| harness("the frame never reached the SUT's device"))?;
                if got.data == frame {
                    // Kernel-stamped, like the SYN-ACK's time above.
                    wire.push(got.at.saturating_duration_since(start));
                    break;
                }
            }
        }
        Ok(RoundTrips { tcp, wire })
    })
}

/// The `q` quantile (0..=1) of `v`.
pub fn quantile(v: &[Duration], q: f64) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    if s.is_empty() {
        return Duration::ZERO;
    }
    let i = ((s.len() - 1) as f64 * q).round() as usize;
    s[i.min(s.len() - 1)]
}

/// `n` inject -> reply exchanges on a fresh stack of `kind`: a SYN to a
/// listening socket and its SYN-ACK, then a RST that removes the half-open
/// connection. Timed on the wall clock (a virtual clock does not move while
/// a stack answers at once), so the figure is the adapter's and the stack's
/// cost per exchange.
pub fn exchanges(kind: crate::stack::StackKind, n: usize) -> Result<Vec<Duration>, String> {
    crate::probe::with_stack(kind, move |stack| {
        let e = |e: crate::stack::StackError| e.to_string();
        stack
            .app(App::Listen)
            .map_err(e)?
            .map_err(|x| format!("listen: {x}"))?;
        let mut out = Vec::with_capacity(n);
        let mut isn: u32 = 1_000_000;
        for _ in 0..n {
            let syn = syn(
                isn,
                TcpOptions {
                    mss: Some(1460),
                    ..TcpOptions::default()
                },
            );
            let start = Instant::now();
            stack.inject(&syn).map_err(e)?;
            let deadline = stack.now() + Duration::from_secs(1);
            stack
                .recv(deadline)
                .map_err(e)?
                .ok_or("no SYN-ACK within 1 s")?;
            out.push(start.elapsed());
            let rst = WireSegment {
                flags: Flags::RST,
                seq: isn.wrapping_add(1),
                options: TcpOptions::default(),
                ..syn
            };
            stack.inject(&rst).map_err(e)?;
            // Whatever the RST draws is not part of the next exchange.
            let settle = stack.now() + Duration::from_millis(1);
            while stack.recv(settle).map_err(e)?.is_some() {}
            isn = isn.wrapping_add(100_000);
        }
        Ok(out)
    })
}

/// One stack's whole suite, timed: wall time against the specs' own time
/// (what a real clock would cost).
pub struct SuiteTiming {
    pub specs: usize,
    /// Specs run at once.
    pub jobs: usize,
    pub wall: Duration,
    pub spec_time: Duration,
}

/// Runs `specs` on `kind` (all at once on a real clock, one after another
/// on a virtual one) and times it; verdicts are not judged here.
pub fn suite_timing(
    kind: crate::stack::StackKind,
    specs: &[(std::path::PathBuf, timewait_specs::Spec)],
) -> SuiteTiming {
    let jobs = if kind.clock() == crate::stack::Clock::Real {
        specs.len()
    } else {
        1
    };
    let started = Instant::now();
    let results = crate::suite::run_all(
        specs.to_vec(),
        kind,
        &Default::default(),
        jobs,
        Duration::from_secs(3600),
        &mut |_| {},
    );
    let wall = started.elapsed();
    let spec_time = results
        .iter()
        .filter_map(|r| r.run.as_ref().ok())
        .map(|r| r.replay.elapsed)
        .sum();
    SuiteTiming {
        specs: results.len(),
        jobs,
        wall,
        spec_time,
    }
}
