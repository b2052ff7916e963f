//! Any stack that runs as its own program, over TAP, on real time: the
//! harness creates a namespace held by a thread, a TAP interface in it
//! with no address (so the kernel never answers), starts the stack's agent
//! inside that namespace, and plays the peer with the same packet socket
//! machinery as the Linux adapter. Application calls and state go through
//! the agent protocol; frames go over the TAP interface. When the thread
//! ends, the agent is killed and the kernel removes the namespace and the
//! interface with it.

use crate::backends::agent::process::AgentProcess;
use crate::backends::agent::protocol::{Mode, Request};
use crate::backends::agent::shipped::Agent;
use crate::backends::agent::{app_request, hello_with, pick_state};
use crate::backends::linux::netns::{self, NetnsError};
use crate::backends::linux::packet::PacketSocket;
use crate::stack::{Received, Stack, StackError, StackKind, StackRun, SutState};
use crate::wire::{self, WireSegment};
use crate::wire::{Frame, PEER_ADDR, PEER_MAC, SUT_ADDR, SUT_MAC};
use std::net::SocketAddrV4;
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use timewait_specs::format::App;
use timewait_specs::Spec;

/// The TAP interface's name inside the harness's namespace.
pub const TAP_IF: &str = "tw0";
/// How long the agent may take to bring its end of the TAP link up.
const LINK_READY: Duration = Duration::from_secs(5);
/// How long the agent may take to answer `hello`: it starts its stack
/// there (and an interpreted one, PyTCP, has just imported it, about half
/// a second of CPU), so a whole suite's agents starting at once on two
/// cores take longer than the per-request deadline. No spec step is
/// timed before the reply.
const HELLO_DEADLINE: Duration = Duration::from_secs(60);
/// The longest a started agent waits for the others still starting: on
/// two cores shared with other work at a higher priority, a suite's PyTCP
/// agents took minutes to import.
const SETTLE_WAIT: Duration = Duration::from_secs(300);
/// The gap between the starts of specs released together (see [`NEXT_START`]).
const START_GAP: Duration = Duration::from_millis(10);

/// How many agents of this process are waiting to be spawned or between
/// their spawn and their `hello` reply. An interpreted stack's start is CPU-heavy (PyTCP's
/// import), and a whole suite's agents start at once: a spec replayed
/// beside dozens of starting agents met a stack answering its SYN 300 ms
/// late (21 of 79 specs in one run), which is the machine's load, not the
/// stack. So each agent, once started, waits until none is starting (up
/// to [`SETTLE_WAIT`]) before its spec's clock starts.
static STARTING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// How many agents are between their spawn and their `hello` reply, of at
/// most one per core: 92 PyTCP agents spawned at once (a suite and the
/// probes) on a loaded machine had 39 miss even a 60 s `hello` deadline,
/// each importing at a 92nd of the CPU; queued instead, each takes its
/// import's own time, and the total is the same.
static SPAWNED: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// A place among the agents starting at once ([`SPAWNED`]), given back on drop.
struct Spawning;

impl Spawning {
    fn take() -> Spawning {
        let most = std::thread::available_parallelism().map_or(2, usize::from);
        let mut n = SPAWNED.0.lock().unwrap_or_else(|p| p.into_inner());
        while *n >= most {
            n = SPAWNED.1.wait(n).unwrap_or_else(|p| p.into_inner());
        }
        *n += 1;
        Spawning
    }
}

impl Drop for Spawning {
    fn drop(&mut self) {
        let mut n = SPAWNED.0.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        SPAWNED.1.notify_one();
    }
}

/// The earliest time the next released spec may start. Released together,
/// a whole suite's specs would make their first calls in the same instant,
/// and an interpreted stack's first replies came 100 to 170 ms late (8 of
/// 79 specs, timing invalid); [`START_GAP`] apart, the suite starts in
/// under a second. A spec released alone starts at once.
static NEXT_START: Mutex<Option<Instant>> = Mutex::new(None);

/// One agent counted in [`STARTING`] until it has started (or failed to).
struct Starting(bool);

impl Starting {
    fn enter() -> Starting {
        *STARTING.0.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Starting(true)
    }

    fn leave(&mut self) {
        if std::mem::take(&mut self.0) {
            let mut n = STARTING.0.lock().unwrap_or_else(|p| p.into_inner());
            *n = n.saturating_sub(1);
            STARTING.1.notify_all();
        }
    }

    /// Leaves the count, waits until no agent is starting, then until
    /// this spec's turn to start.
    fn settle(mut self) {
        self.leave();
        let give_up = Instant::now() + SETTLE_WAIT;
        let mut n = STARTING.0.lock().unwrap_or_else(|p| p.into_inner());
        while *n > 0 {
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            n = STARTING
                .1
                .wait_timeout(n, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        drop(n);
        let turn = {
            let mut next = NEXT_START.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let turn = next.map_or(now, |t| t.max(now));
            *next = Some(turn + START_GAP);
            turn
        };
        std::thread::sleep(turn.saturating_duration_since(Instant::now()));
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        self.leave();
    }
}

pub struct TapStack {
    start: Instant,
    time_wait: Duration,
    ack_delay: Duration,
    wire: PacketSocket,
    process: AgentProcess,
    /// Frames written on the wire so far, sent with each request when
    /// `count_frames` is set.
    sent: u64,
    count_frames: bool,
    pub frames: Vec<Frame>,
    pub events: Vec<(Duration, String)>,
    /// The stack's name for itself, from `hello`.
    pub stack: String,
    /// From the agent's start to its `hello` reply (a guest's boot).
    pub startup: Duration,
}

/// How a TAP stack's agent is started, beyond the defaults of `lwip-tap`.
#[derive(Clone, Debug, Default)]
pub struct TapOptions {
    /// The deadline of the `hello` reply, when the agent takes longer than
    /// a request's to come up (a guest kernel boots first).
    pub hello_deadline: Option<Duration>,
    /// Sysctls for the agent's stack, sent in `hello`.
    pub sysctls: Option<std::collections::BTreeMap<String, String>>,
    /// Whether requests carry `frames_sent`: for an agent whose wire and
    /// protocol channel can overtake each other (PROTOCOL.md).
    pub count_frames: bool,
}

fn setup(e: impl std::fmt::Display) -> NetnsError {
    NetnsError::Command {
        cmd: "TAP set-up".into(),
        detail: e.to_string(),
    }
}

impl TapStack {
    /// Builds the TAP topology in the calling thread's (fresh) namespace and
    /// starts the agent `cmd` there.
    pub fn new(name: &str, cmd: Command, time_wait: Duration) -> Result<TapStack, NetnsError> {
        TapStack::start(name, cmd, time_wait, TapOptions::default())
    }

    /// [`TapStack::new`] with `options`.
    pub fn start(
        name: &str,
        cmd: Command,
        time_wait: Duration,
        options: TapOptions,
    ) -> Result<TapStack, NetnsError> {
        netns::sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
        netns::sysctl("net.ipv6.conf.default.disable_ipv6", "1")?;
        netns::ip_batch(&[
            &["link", "set", "lo", "up"],
            &["tuntap", "add", "dev", TAP_IF, "mode", "tap"],
            &["link", "set", TAP_IF, "up"],
        ])?;
        // Subscribed before the agent starts, so its attach is not missed.
        let links = LinkEvents::subscribe()?;
        let starting = Starting::enter();
        let spawning = Spawning::take();
        // The child inherits this thread's namespace.
        let spawned = Instant::now();
        let mut process = AgentProcess::spawn(name, cmd).map_err(setup)?;
        let tap = Some((TAP_IF.to_string(), SUT_MAC));
        // A guest kernel boots before its agent answers: its own deadline.
        process.deadline = options.hello_deadline.unwrap_or(HELLO_DEADLINE);
        let reply =
            hello_with(&mut process, name, Mode::Tap, tap, options.sysctls).map_err(setup)?;
        drop(spawning);
        let startup = spawned.elapsed();
        process.deadline = crate::backends::agent::process::DEFAULT_DEADLINE;
        if reply.clock.as_deref() != Some("real") {
            return Err(setup(format!(
                "{name} agent: asked for tap mode, but its clock is {:?}",
                reply.clock
            )));
        }
        wait_for_carrier(&links)?;
        starting.settle();
        let wire = PacketSocket::open(TAP_IF).map_err(setup)?;
        Ok(TapStack {
            start: Instant::now(),
            time_wait,
            ack_delay: Duration::ZERO,
            wire,
            process,
            sent: 0,
            count_frames: options.count_frames,
            frames: Vec::new(),
            events: Vec::new(),
            stack: reply.stack.clone().unwrap_or_else(|| name.to_string()),
            startup,
        })
    }

    /// Plays `spec` on this stack: the run and the frames it saw.
    pub fn replay(&mut self, spec: &Spec) -> Result<StackRun, NetnsError> {
        let replay = crate::engine::replay(spec, self).map_err(|e| NetnsError::Command {
            cmd: "replay".into(),
            detail: e.to_string(),
        })?;
        Ok(StackRun {
            replay,
            frames: std::mem::take(&mut self.frames),
        })
    }

    /// The stack's delayed-ACK allowance (see [`Stack::ack_delay`]).
    pub fn set_ack_delay(&mut self, d: Duration) {
        self.ack_delay = d;
    }

    /// The agent's process id (QEMU's, for a guest), for tests.
    pub fn process_id(&self) -> u32 {
        self.process.id()
    }

    fn call(
        &mut self,
        req: &Request,
    ) -> Result<crate::backends::agent::protocol::Reply, StackError> {
        let sent = self.count_frames.then_some(self.sent);
        let reply = self.process.call_counted(req, sent)?;
        let at = self.start.elapsed();
        for e in &reply.events {
            self.events.push((at, e.to_string()));
        }
        Ok(reply)
    }
}

/// rtnetlink's link notifications (RTMGRP_LINK) in this thread's
/// namespace: a wake-up whenever a link changes, such as the TAP device
/// gaining its carrier when the agent attaches.
struct LinkEvents(netlink_sys::Socket);

impl LinkEvents {
    fn subscribe() -> Result<LinkEvents, NetnsError> {
        let mut s = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE)
            .map_err(|e| setup(format!("rtnetlink socket: {e}")))?;
        s.bind(&netlink_sys::SocketAddr::new(0, libc::RTMGRP_LINK as u32))
            .map_err(|e| setup(format!("subscribing to link events: {e}")))?;
        Ok(LinkEvents(s))
    }

    /// Waits until a notification arrives or `until` passes, and reads
    /// every queued notification (their content is not needed: the
    /// caller checks the link itself).
    fn wait(&self, until: Instant) -> Result<(), NetnsError> {
        let fd = self.0.as_fd();
        let left = until.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(setup(format!("waiting for link events: {e}"))),
        }
        let mut buf = Vec::with_capacity(16384);
        loop {
            buf.clear();
            match self.0.recv(&mut buf, libc::MSG_DONTWAIT) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                // Notifications lost to a full queue: the check reads the link anyway.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(e) => return Err(setup(format!("reading link events: {e}"))),
            }
        }
    }
}

/// Waits until the agent has attached to the TAP device: until then the
/// kernel drops what is sent on it. The link is read again at each link
/// notification, until the deadline.
fn wait_for_carrier(links: &LinkEvents) -> Result<(), NetnsError> {
    let give_up = Instant::now() + LINK_READY;
    loop {
        let out = crate::spawn::output(Command::new("ip").args(["-o", "link", "show", TAP_IF]))
            .map_err(setup)?;
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("LOWER_UP") {
            return Ok(());
        }
        if Instant::now() >= give_up {
            return Err(setup(format!(
                "{TAP_IF} has no carrier after {} s: the agent did not attach to it ({})",
                LINK_READY.as_secs(),
                text.trim()
            )));
        }
        links.wait(give_up)?;
    }
}

impl Stack for TapStack {
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
        self.start.elapsed()
    }

    fn app(&mut self, call: App) -> Result<Result<(), String>, StackError> {
        // No wait after an inject: the packet socket bypasses the TAP
        // device's queue, so a sent frame is on the TAP port when `send`
        // returns, and the agent takes every queued frame into its stack
        // before it answers a request (conformance/agents/PROTOCOL.md).
        Ok(self.call(&app_request(call))?.app_outcome())
    }

    fn inject(&mut self, seg: &WireSegment) -> Result<(), StackError> {
        let frame = wire::build_frame(seg, PEER_MAC, SUT_MAC)
            .map_err(|e| StackError::Harness(e.to_string()))?;
        self.wire
            .send(&frame)
            .map_err(|e| StackError::Harness(format!("sending on {TAP_IF}: {e}")))?;
        self.sent += 1;
        self.frames.push(Frame {
            at: self.now(),
            data: frame,
        });
        Ok(())
    }

    fn recv(&mut self, deadline: Duration) -> Result<Option<Received>, StackError> {
        loop {
            let until = self.start + deadline;
            let Some(arrival) = self
                .wire
                .recv(until)
                .map_err(|e| StackError::Harness(format!("reading {TAP_IF}: {e}")))?
            else {
                return Ok(None);
            };
            let at = arrival.at.saturating_duration_since(self.start);
            let frame = arrival.data;
            let seg = wire::parse_frame(&frame);
            let arp = wire::arp_reply(&frame, PEER_ADDR, PEER_MAC);
            self.frames.push(Frame { at, data: frame });
            if let Some(reply) = arp {
                self.wire
                    .send(&reply)
                    .map_err(|e| StackError::Harness(format!("answering ARP: {e}")))?;
                self.sent += 1;
                self.frames.push(Frame {
                    at: self.now(),
                    data: reply,
                });
                continue;
            }
            if let Some(segment) = seg {
                if segment.src == SUT_ADDR && segment.dst == PEER_ADDR {
                    return Ok(Some(Received { at, segment }));
                }
            }
        }
    }

    fn state(&mut self) -> Result<Option<SutState>, StackError> {
        let reply = self.call(&Request::State)?;
        Ok(Some(pick_state(&reply.conns)))
    }
}

/// Replays `spec` on `kind`, whose stack `agent` runs over TAP, in a
/// fresh namespace.
pub fn run_spec(spec: &Spec, agent: Agent, kind: StackKind) -> Result<StackRun, String> {
    if let Some(why) = kind.unavailable() {
        return Err(why);
    }
    let cmd = agent.command().map_err(|e| e.to_string())?;
    let spec = spec.clone();
    let name = format!("tap-{}", spec.name.value);
    let (time_wait, ack_delay) = (kind.time_wait(), kind.ack_delay());
    netns::run_in_new_netns(name, move || {
        let mut s = TapStack::new(kind.name(), cmd, time_wait)?;
        s.set_ack_delay(ack_delay);
        s.replay(&spec)
    })
    .map_err(|e| e.to_string())
}
