//! What the replay engine needs from a stack under test. Time is the
//! stack's: a real-time stack (Linux) reads a monotonic clock and waits for
//! real; a virtual-time stack (issue 7) advances its clock to the deadline
//! it is asked about. The engine never sleeps on its own; it only asks the
//! stack for the next segment before a deadline.

use crate::wire::WireSegment;
use std::net::SocketAddrV4;
use std::time::Duration;
use timewait_specs::format::{App, SockState};

/// The stacks timewait can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StackKind {
    /// The Linux kernel's TCP, in namespaces the harness creates (real
    /// time), with each spec's own sysctl profile.
    Linux,
    /// The same with `net.ipv4.tcp_rfc1337=1` on every spec.
    LinuxRfc1337,
    /// smoltcp in this process (virtual time).
    Smoltcp,
    /// lwIP through its agent (virtual time).
    Lwip,
    /// gVisor's netstack through its agent (virtual time).
    Gvisor,
    /// lwIP's agent on its own TAP port in a namespace (real time): the
    /// path for any stack that runs as a separate program.
    LwipTap,
    /// Debian 12's Linux 6.1 kernel in QEMU, its NIC on a TAP port in a
    /// namespace (real time), with each spec's own sysctl profile.
    LinuxVm,
    /// PyTCP, a pure-Python stack, in its agent on a TAP interface in a
    /// namespace (real time), at its default TIME-WAIT.
    Pytcp,
}

/// Whose clock a stack runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Waits take wall time.
    Real,
    /// The harness moves the clock; waits cost nothing.
    Virtual,
}

impl StackKind {
    pub const ALL: [StackKind; 7] = [
        StackKind::Linux,
        StackKind::LinuxRfc1337,
        StackKind::Smoltcp,
        StackKind::Lwip,
        StackKind::Gvisor,
        StackKind::LwipTap,
        StackKind::Pytcp,
    ];

    /// Stacks that run on request but are not yet part of `ALL` (the
    /// whole-suite runs, the matrix, the bench): `linux-6.1-vm` boots a
    /// guest per spec until one guest can serve the whole suite.
    pub const MORE: [StackKind; 1] = [StackKind::LinuxVm];

    pub fn name(self) -> &'static str {
        match self {
            StackKind::Linux => "linux",
            StackKind::LinuxRfc1337 => "linux-rfc1337",
            StackKind::Smoltcp => "smoltcp",
            StackKind::Lwip => "lwip",
            StackKind::Gvisor => "gvisor",
            StackKind::LwipTap => "lwip-tap",
            StackKind::LinuxVm => "linux-6.1-vm",
            StackKind::Pytcp => "pytcp",
        }
    }

    pub fn from_name(name: &str) -> Option<StackKind> {
        Self::ALL
            .into_iter()
            .chain(Self::MORE)
            .find(|k| k.name() == name)
    }

    /// The implementation under test, for reports; its version is read at
    /// run time ([`crate::versions::version`]).
    pub fn title(self) -> &'static str {
        match self {
            StackKind::Linux => "Linux (the spec's profile)",
            StackKind::LinuxRfc1337 => "Linux, tcp_rfc1337=1",
            StackKind::Smoltcp => "smoltcp",
            StackKind::Lwip => "lwIP",
            StackKind::Gvisor => "gVisor netstack",
            StackKind::LwipTap => "lwIP over TAP",
            StackKind::LinuxVm => "Linux 6.1 in QEMU (the spec's profile)",
            StackKind::Pytcp => "PyTCP",
        }
    }

    pub fn clock(self) -> Clock {
        match self {
            StackKind::Linux
            | StackKind::LinuxRfc1337
            | StackKind::LwipTap
            | StackKind::LinuxVm
            | StackKind::Pytcp => Clock::Real,
            StackKind::Smoltcp | StackKind::Lwip | StackKind::Gvisor => Clock::Virtual,
        }
    }

    /// TIME-WAIT's length on this stack, as measured by
    /// [`crate::probe::time_wait`] (tests pin each value).
    pub fn time_wait(self) -> Duration {
        Duration::from_millis(match self {
            // TCP_TIMEWAIT_LEN; sock_diag shows about 61 s (timer wheel).
            StackKind::Linux | StackKind::LinuxRfc1337 | StackKind::LinuxVm => 60_000,
            StackKind::Smoltcp => 10_000,
            // 2 x TCP_MSL (60 s), counted in 500 ms slow-timer ticks, and
            // dropped on the tick after the limit.
            StackKind::Lwip | StackKind::LwipTap => 120_250,
            StackKind::Gvisor => 60_000,
            // TCP__TIME_WAIT__DELAY_MS, its default (tcp__constants.py),
            // which its source says assumes an MSL of 15 s: run as
            // shipped, so safe for networks whose MSL is at most 15 s.
            StackKind::Pytcp => 30_000,
        })
    }

    /// The longest the stack delays an ACK, from its source: lwIP sends a
    /// delayed ACK on its next 250 ms fast-timer tick (TCP_TMR_INTERVAL),
    /// and in real time that tick can come almost a whole period later;
    /// PyTCP holds one for TCP__DELAYED_ACK__DELAY_MS (100 ms, its own timer).
    pub fn ack_delay(self) -> Duration {
        match self {
            StackKind::Lwip | StackKind::LwipTap => Duration::from_millis(250),
            StackKind::Pytcp => Duration::from_millis(100),
            _ => Duration::ZERO,
        }
    }

    /// How many specs may run at once by default, where not all of them
    /// can: each `linux-6.1-vm` spec boots a guest of its own (256 MB, and
    /// a TCG thread that keeps a core busy while it boots).
    pub fn max_jobs(self) -> Option<usize> {
        match self {
            StackKind::LinuxVm => Some(crate::backends::vm::MAX_GUESTS),
            _ => None,
        }
    }

    /// Why this stack cannot run here, if it cannot (with what would fix it).
    pub fn unavailable(self) -> Option<String> {
        match self {
            StackKind::Linux | StackKind::LinuxRfc1337 => {
                crate::backends::linux::netns::available().err()
            }
            StackKind::Smoltcp => None,
            StackKind::Lwip => crate::backends::agent::shipped::Agent::Lwip.unavailable(),
            StackKind::Gvisor => crate::backends::agent::shipped::Agent::Gvisor.unavailable(),
            StackKind::LwipTap => crate::backends::linux::netns::available()
                .err()
                .or_else(|| crate::backends::agent::shipped::Agent::Lwip.unavailable()),
            StackKind::LinuxVm => crate::backends::vm::unavailable(),
            StackKind::Pytcp => crate::backends::linux::netns::available()
                .err()
                .map(|why| format!("the pytcp stack runs in a network namespace: {why}"))
                .or_else(|| crate::backends::agent::shipped::Agent::Pytcp.unavailable()),
        }
    }
}

/// Whether skips are forbidden: CI sets `CI=true`, and there a stack that
/// cannot run is a failure with its reason, never an ignored test.
pub fn skips_forbidden() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// One spec's run on a stack: the replay and the frames for its capture.
pub struct StackRun {
    pub replay: crate::engine::Replay,
    pub frames: Vec<crate::wire::Frame>,
}

/// A failure of the stack or its harness (not of the spec).
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("harness: {0}")]
    Harness(String),
    /// An out-of-process agent broke the protocol, crashed or hung.
    #[error("{stack} agent: {detail}")]
    Agent { stack: String, detail: String },
    /// Where in the spec a stack failure happened.
    #[error("step {step} ({kind}, line {line}): {source}")]
    AtStep {
        /// 1-based.
        step: usize,
        line: u64,
        kind: &'static str,
        source: Box<StackError>,
    },
}

/// The state of the SUT's connection on the spec's 4-tuple.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SutState {
    pub state: SockState,
    /// TIME-WAIT (or orphaned FIN-WAIT-2) time left, where the stack shows it.
    pub remaining: Option<Duration>,
}

/// A segment the SUT sent, and when (stack time since the start).
#[derive(Clone, Debug)]
pub struct Received {
    pub at: Duration,
    pub segment: WireSegment,
}

pub trait Stack {
    /// The SUT's and the peer's ends of the 4-tuple.
    fn addresses(&self) -> (SocketAddrV4, SocketAddrV4);
    /// The stack's TIME-WAIT length, as measured (a test pins it). The
    /// engine scales a spec's `tw` durations to it, so that "wait 1.1tw"
    /// means "after TIME-WAIT" on a stack with 10 s as on one with 60 s;
    /// `msl` durations are the network's and do not scale.
    fn time_wait(&self) -> Duration;
    /// The longest a stack holds back an ACK (its delayed-ACK timer); the
    /// engine allows it on top of every expectation's deadline.
    fn ack_delay(&self) -> Duration {
        Duration::ZERO
    }
    /// Time since the stack started.
    fn now(&self) -> Duration;
    /// An application call on the SUT; `Err(reason)` when the call fails
    /// (for the spec, not the harness).
    fn app(&mut self, call: App) -> Result<Result<(), String>, StackError>;
    /// Delivers a segment from the peer to the SUT.
    fn inject(&mut self, seg: &WireSegment) -> Result<(), StackError>;
    /// The next segment the SUT sends before `deadline` (stack time), or
    /// `None` once the deadline has passed without one.
    fn recv(&mut self, deadline: Duration) -> Result<Option<Received>, StackError>;
    /// The SUT's connection state, or `None` if the stack cannot show it.
    fn state(&mut self) -> Result<Option<SutState>, StackError>;
}
