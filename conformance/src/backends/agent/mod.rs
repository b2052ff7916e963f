//! Stacks that run as separate programs ("agents"), driven through the
//! agent protocol (see `conformance/agents/PROTOCOL.md`). [`AgentStack`] is
//! the virtual-time adapter: frames and the clock go through the protocol,
//! so a spec's waits cost no wall time. The TAP adapter (real time) lives
//! in [`crate::backends::tap`] and shares [`process`] and [`protocol`].

pub mod cache;
pub mod process;
pub mod protocol;
pub mod shipped;

use crate::stack::{Received, Stack, StackError, SutState};
use crate::wire::{self, mac_string, WireSegment};
use crate::wire::{Frame, PEER_ADDR, PEER_MAC, SUT_ADDR, SUT_MAC};
use process::AgentProcess;
use protocol::{Conn, Mode, Reply, Request, VERSION};
use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::process::Command;
use std::time::Duration;
use timewait_specs::format::{App, SockState};

/// Virtual time that passes before each injected segment arrives. On a
/// wire some always does; with none, a stack whose ISNs grow with its
/// clock (gVisor's, RFC 6528's) would pick the same ISN for a connection
/// reopened at the very instant the old one closed, which no real run
/// can do.
const WIRE_GAP: Duration = Duration::from_micros(10);

pub struct AgentStack {
    name: String,
    process: AgentProcess,
    time_wait: Duration,
    ack_delay: Duration,
    now: Duration,
    pending: VecDeque<Received>,
    /// Every frame both ways, for the capture.
    pub frames: Vec<Frame>,
    /// What the application saw, with the time.
    pub events: Vec<(Duration, String)>,
    /// The agent's own name for its stack (from `hello`).
    pub stack: String,
}

impl AgentStack {
    /// Starts the agent `cmd` in virtual mode. `name` is the stack's name in
    /// messages; `time_wait` its measured TIME-WAIT.
    pub fn start(name: &str, cmd: Command, time_wait: Duration) -> Result<AgentStack, StackError> {
        let mut process = AgentProcess::spawn(name, cmd)?;
        let reply = hello(&mut process, name, Mode::Virtual, None)?;
        if reply.clock.as_deref() != Some("virtual") {
            return Err(StackError::Agent {
                stack: name.into(),
                detail: format!(
                    "asked for virtual mode, but the agent's clock is {:?}",
                    reply.clock
                ),
            });
        }
        let mut s = AgentStack {
            name: name.into(),
            process,
            time_wait,
            ack_delay: Duration::ZERO,
            now: Duration::ZERO,
            pending: VecDeque::new(),
            frames: Vec::new(),
            events: Vec::new(),
            stack: reply.stack.clone().unwrap_or_else(|| name.into()),
        };
        s.absorb(&reply)?;
        Ok(s)
    }

    fn error(&self, detail: String) -> StackError {
        StackError::Agent {
            stack: self.name.clone(),
            detail,
        }
    }

    /// Takes a reply's clock, frames and events.
    fn absorb(&mut self, reply: &Reply) -> Result<(), StackError> {
        if let Some(us) = reply.now_us {
            let t = Duration::from_micros(us);
            if t < self.now {
                return Err(self.error(format!(
                    "protocol error: the clock went back from {} us to {us} us",
                    self.now.as_micros()
                )));
            }
            self.now = t;
        }
        for hex_packet in &reply.frames {
            let frame = protocol::packet_frame(hex_packet).map_err(|e| {
                self.error(format!(
                    "protocol error: frame {:?} is not hex: {e}",
                    truncate(hex_packet)
                ))
            })?;
            if let Some(segment) = wire::parse_frame(&frame) {
                if segment.src == SUT_ADDR && segment.dst == PEER_ADDR {
                    self.pending.push_back(Received {
                        at: self.now,
                        segment,
                    });
                }
            }
            self.frames.push(Frame {
                at: self.now,
                data: frame,
            });
        }
        for e in &reply.events {
            self.events.push((self.now, e.to_string()));
        }
        Ok(())
    }

    fn call(&mut self, req: &Request) -> Result<Reply, StackError> {
        let reply = self.process.call(req)?;
        self.absorb(&reply)?;
        Ok(reply)
    }

    /// Moves the clock to `t`; whatever the stack sends meanwhile waits in
    /// `pending`, in order.
    fn advance_to(&mut self, t: Duration) -> Result<(), StackError> {
        while self.now < t {
            self.advance_once(t)?;
        }
        Ok(())
    }

    /// One `advance` request towards `until`: the agent must stop at or
    /// before it, and must either move its clock or send something.
    fn advance_once(&mut self, until: Duration) -> Result<(), StackError> {
        let before = self.now;
        let reply = self.call(&Request::Advance {
            until_us: until.as_micros() as u64,
        })?;
        if self.now > until {
            return Err(self.error(format!(
                "protocol error: asked to advance to {} us, went to {} us",
                until.as_micros(),
                self.now.as_micros()
            )));
        }
        if reply.now_us.is_none() || (self.now == before && reply.frames.is_empty()) {
            return Err(self.error(format!(
                "protocol error: `advance` to {} us did not move the clock (now_us {:?}) and sent nothing",
                until.as_micros(),
                reply.now_us
            )));
        }
        Ok(())
    }

    /// The stack's delayed-ACK allowance (see [`Stack::ack_delay`]).
    pub fn set_ack_delay(&mut self, d: Duration) {
        self.ack_delay = d;
    }

    /// Overrides the reply deadline (tests of hung agents).
    pub fn set_deadline(&mut self, d: Duration) {
        self.process.deadline = d;
    }

    pub fn process_id(&self) -> u32 {
        self.process.id()
    }
}

/// Opens a session: `hello`, and the version and mode checks.
pub(crate) fn hello(
    process: &mut AgentProcess,
    name: &str,
    mode: Mode,
    tap: Option<(String, [u8; 6])>,
) -> Result<Reply, StackError> {
    hello_with(process, name, mode, tap, None)
}

/// [`hello`] with sysctls for the agent's stack; an agent that does not
/// say it applied every one of them is refused, since a profile silently
/// left out would pass for the stack's own behaviour.
pub(crate) fn hello_with(
    process: &mut AgentProcess,
    name: &str,
    mode: Mode,
    tap: Option<(String, [u8; 6])>,
    sysctls: Option<std::collections::BTreeMap<String, String>>,
) -> Result<Reply, StackError> {
    let wanted = sysctls.as_ref().map(|s| s.len() as u64);
    let peer_mac = tap.as_ref().map(|_| mac_string(PEER_MAC));
    let (tap, sut_mac) = match tap {
        Some((t, mac)) => (Some(t), Some(mac_string(mac))),
        None => (None, None),
    };
    let reply = process.call(&Request::Hello {
        version: VERSION,
        mode,
        sut: SUT_ADDR.to_string(),
        peer: PEER_ADDR.to_string(),
        tap,
        sut_mac,
        peer_mac,
        sysctls,
    })?;
    let agent_error = |detail: String| StackError::Agent {
        stack: name.into(),
        detail,
    };
    if let Some(e) = reply.error.as_ref().filter(|_| !reply.ok) {
        return Err(agent_error(format!("refused hello: {e}")));
    }
    if reply.version != Some(VERSION) {
        return Err(agent_error(format!(
            "speaks protocol version {:?}; this harness speaks {VERSION}",
            reply.version
        )));
    }
    if wanted.is_some_and(|n| n > 0) && reply.sysctls != wanted {
        return Err(agent_error(format!(
            "was given {} sysctls in hello and says it applied {:?}: the spec's profile would be left out",
            wanted.unwrap_or(0),
            reply.sysctls
        )));
    }
    Ok(reply)
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The request for an application call.
pub(crate) fn app_request(call: App) -> Request {
    match call {
        App::Listen => Request::Listen,
        App::ListenPersistent => Request::ListenPersistent,
        App::Accept => Request::Accept,
        App::CloseListener => Request::CloseListener,
        App::Connect => Request::Connect,
        App::Send(n) => Request::Send { bytes: n },
        App::Shutdown => Request::Shutdown,
        App::Close => Request::Close,
        App::Abort => Request::Abort,
    }
}

/// The state the engine checks, from the agent's list: the newest entry on
/// the spec's 4-tuple that is not CLOSED, else a listener, else CLOSED.
pub(crate) fn pick_state(conns: &[Conn]) -> SutState {
    let (sut, peer) = (SUT_ADDR.to_string(), PEER_ADDR.to_string());
    let conn = conns
        .iter()
        .rev()
        .find(|c| c.local == sut && c.remote == peer && c.state != SockState::Closed);
    match conn {
        Some(c) => SutState {
            state: c.state,
            remaining: c.remaining_us.map(Duration::from_micros),
        },
        None => SutState {
            state: if conns.iter().any(|c| c.state == SockState::Listen) {
                SockState::Listen
            } else {
                SockState::Closed
            },
            remaining: None,
        },
    }
}

impl Stack for AgentStack {
    fn addresses(&self) -> (SocketAddrV4, SocketAddrV4) {
        (SUT_ADDR, PEER_ADDR)
    }

    fn time_wait(&self) -> Duration {
        self.time_wait
    }

    fn ack_delay(&self) -> Duration {
        self.ack_delay
    }

    fn now(&self) -> Duration {
        self.now
    }

    fn app(&mut self, call: App) -> Result<Result<(), String>, StackError> {
        Ok(self.call(&app_request(call))?.app_outcome())
    }

    fn inject(&mut self, seg: &WireSegment) -> Result<(), StackError> {
        let frame = wire::build_frame(seg, PEER_MAC, SUT_MAC)
            .map_err(|e| StackError::Harness(e.to_string()))?;
        let data = hex::encode(&frame[protocol::ETH..]);
        self.advance_to(self.now + WIRE_GAP)?;
        self.frames.push(Frame {
            at: self.now,
            data: frame,
        });
        let reply = self.call(&Request::Frame { data })?;
        if let Err(e) = reply.app_outcome() {
            return Err(self.error(format!("refused a frame: {e}")));
        }
        Ok(())
    }

    fn recv(&mut self, deadline: Duration) -> Result<Option<Received>, StackError> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Ok(Some(r));
            }
            if self.now >= deadline {
                return Ok(None);
            }
            self.advance_once(deadline)?;
        }
    }

    fn state(&mut self) -> Result<Option<SutState>, StackError> {
        let reply = self.call(&Request::State)?;
        Ok(Some(pick_state(&reply.conns)))
    }
}
