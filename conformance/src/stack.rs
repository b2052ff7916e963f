//! What the replay engine needs from a stack under test. Time is the
//! stack's: a real-time stack (Linux) reads a monotonic clock and waits for
//! real; a virtual-time stack (issue 7) advances its clock to the deadline
//! it is asked about. The engine never sleeps on its own; it only asks the
//! stack for the next segment before a deadline.

use crate::wire::WireSegment;
use std::net::SocketAddrV4;
use std::time::Duration;
use timewait_specs::format::{App, SockState};

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
    /// For reports: `linux`, `smoltcp`, ...
    fn name(&self) -> &str;
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
