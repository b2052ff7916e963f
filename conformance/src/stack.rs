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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackKind {
    /// The Linux kernel's TCP, in namespaces the harness creates (real time).
    Linux,
    /// smoltcp in this process (virtual time).
    Smoltcp,
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
    pub fn name(self) -> &'static str {
        match self {
            StackKind::Linux => "linux",
            StackKind::Smoltcp => "smoltcp",
        }
    }

    pub fn clock(self) -> Clock {
        match self {
            StackKind::Linux => Clock::Real,
            StackKind::Smoltcp => Clock::Virtual,
        }
    }

    /// Why this stack cannot run here, if it cannot.
    pub fn unavailable(self) -> Option<String> {
        match self {
            StackKind::Linux => crate::linux::netns::available().err(),
            StackKind::Smoltcp => None,
        }
    }
}

/// One spec's run on a stack: the replay and the frames for its capture.
pub struct StackRun {
    pub replay: crate::engine::Replay,
    pub frames: Vec<crate::linux::Frame>,
}

/// A failure of the stack or its harness (not of the spec).
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("harness: {0}")]
    Harness(String),
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
