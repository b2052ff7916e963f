//! The facts in each stack's summary, measured from its behaviour (never
//! read from documentation): TIME-WAIT's length, what a retransmitted FIN
//! gets, what RSTs and SYNs do to TIME-WAIT, the new ISN when a SYN reopens
//! the 4-tuple, and whether a lost last ACK is recovered. Each probe drives
//! a fresh stack directly (not through a spec) because it observes what
//! the stack does instead of checking an expectation.

use crate::backends::agent::shipped::Agent;
use crate::backends::agent::AgentStack;
use crate::backends::linux::{self, netns};
use crate::backends::smoltcp::SmoltcpStack;
use crate::stack::{Received, Stack, StackKind};
use crate::wire::WireSegment;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use timewait_specs::format::{App, Profile, SockState};
use timewait_specs::values::Flags;

/// What the stack sent back to one stimulus, and its state afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// Each reply as `FLAGS seq=S ack=A`, relative to the SUT's and the
    /// peer's ISNs of the first incarnation.
    pub replies: Vec<String>,
    pub state_after: String,
}

impl std::fmt::Display for Reaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.replies.is_empty() {
            write!(f, "no reply; {}", self.state_after)
        } else {
            write!(f, "{}; {}", self.replies.join(", "), self.state_after)
        }
    }
}

/// A stack's summary facts, as the matrix report shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Measured TIME-WAIT, to the probe's step (250 ms real, 10 ms virtual).
    pub time_wait_ms: Option<u64>,
    /// A FIN retransmitted `fin_copies` times, 200 ms apart (longer than
    /// any delayed-ACK timer seen), in TIME-WAIT; `fin_acks` ACKs came back.
    pub fin_copies: usize,
    pub fin_acks: usize,
    pub rst_exact: Reaction,
    pub rst_in_window: Reaction,
    pub rst_out_of_window: Reaction,
    pub syn_higher_listener: Reaction,
    pub syn_higher_no_listener: Reaction,
    pub syn_lower_listener: Reaction,
    pub syn_lower_no_listener: Reaction,
    /// When a higher SYN 1 s into TIME-WAIT reopened the 4-tuple: the new
    /// ISN minus the old SND.NXT (RFC 1122 4.2.2.13 and RFC 6191 reopen
    /// only if the new ISN exceeds the old SND.NXT, so that the old
    /// connection's duplicates stay below the new window).
    pub reopen_isn_minus_old_snd_nxt: Option<i64>,
    /// The same SYN with no time elapsed since TIME-WAIT began, the old
    /// connection having sent 1000 bytes (a clock that barely moved while
    /// SND.NXT did is the worst case for a time-based ISN, not an
    /// artefact): the reaction, and the new ISN minus the old SND.NXT if it
    /// reopened.
    #[serde(default)]
    pub syn_higher_listener_at_once: Option<Reaction>,
    #[serde(default)]
    pub reopen_at_once_isn_minus_old_snd_nxt: Option<i64>,
    /// An in-window SYN (RCV.NXT+100) whose ACK field is not zero (old
    /// SND.NXT + 1000) but whose ACK bit is off: a stack that answers with
    /// a RST shows where it takes the RST's sequence number from.
    #[serde(default)]
    pub syn_in_window_nonzero_ack: Option<Reaction>,
    /// The ISNs (absolute) of connections opened one after another on one
    /// fresh stack, 1 s apart, on the same 4-tuple (each SYN-ACK answered
    /// with a RST). RFC 6528 wants them unpredictable to an off-path
    /// attacker: a secret keyed hash plus a clock.
    #[serde(default)]
    pub isns: Vec<u32>,
    /// The peer's FIN again 1 s after the last ACK (as if that ACK was lost).
    pub lost_last_ack: Reaction,
}

/// A probe's view of one connection in TIME-WAIT.
struct Probe<'a> {
    s: &'a mut dyn Stack,
    peer_isn: u32,
    sut_isn: u32,
    /// Bytes the SUT's application sent before closing.
    sent: u32,
}

const PEER_ISN: u32 = 1_000_000;
const FIN_SPACING: Duration = Duration::from_millis(200);
/// How long replies are collected after a stimulus.
const SETTLE: Duration = Duration::from_millis(500);

fn seg(flags: Flags, seq: u32, ack: u32) -> WireSegment {
    WireSegment::from_peer(flags, seq, ack)
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl<'a> Probe<'a> {
    /// Takes the stack through an active close into TIME-WAIT, the SUT
    /// having listened (and accepted) or connected, and sent `data` bytes
    /// (acknowledged) before closing.
    fn into_time_wait(
        s: &'a mut dyn Stack,
        sut_listens: bool,
        data: u16,
    ) -> Result<Probe<'a>, String> {
        let fa = Flags::FIN.union(Flags::ACK);
        let mut p = Probe {
            s,
            peer_isn: PEER_ISN,
            sut_isn: 0,
            sent: 0,
        };
        let app = |p: &mut Probe, call: App| -> Result<(), String> {
            p.s.app(call)
                .map_err(err)?
                .map_err(|e| format!("{call}: {e}"))
        };
        if sut_listens {
            app(&mut p, App::Listen)?;
            let mut syn = seg(Flags::SYN, PEER_ISN, 0);
            syn.options.mss = Some(1460);
            p.s.inject(&syn).map_err(err)?;
            let sa = p.expect(Flags::SYN.union(Flags::ACK), "SYN-ACK")?;
            p.sut_isn = sa.seq;
            p.s.inject(&seg(Flags::ACK, PEER_ISN + 1, p.sut_isn + 1))
                .map_err(err)?;
            app(&mut p, App::Accept)?;
        } else {
            app(&mut p, App::Connect)?;
            let syn = p.expect(Flags::SYN, "SYN")?;
            p.sut_isn = syn.seq;
            let mut sa = seg(Flags::SYN.union(Flags::ACK), PEER_ISN, p.sut_isn + 1);
            sa.options.mss = Some(1460);
            p.s.inject(&sa).map_err(err)?;
            p.collect(SETTLE)?;
        }
        if data > 0 {
            app(&mut p, App::Send(data))?;
            let deadline = p.s.now() + Duration::from_secs(3);
            let mut got = 0;
            while got < usize::from(data) {
                match p.s.recv(deadline).map_err(err)? {
                    Some(r) => got += r.segment.payload.len(),
                    None => return Err(format!("the SUT sent {got} of {data} bytes within 3 s")),
                }
            }
            p.sent = u32::from(data);
            let ack = p.sut_isn.wrapping_add(1).wrapping_add(p.sent);
            p.s.inject(&seg(Flags::ACK, PEER_ISN + 1, ack))
                .map_err(err)?;
        }
        app(&mut p, App::Close)?;
        p.expect(fa, "FIN")?;
        p.s.inject(&seg(fa, PEER_ISN + 1, p.snd_nxt()))
            .map_err(err)?;
        p.expect(Flags::ACK, "ACK of the peer's FIN")?;
        let st = p.state()?;
        if st != SockState::TimeWait {
            return Err(format!(
                "after an active close the SUT is in {}, not TIME-WAIT",
                st.name()
            ));
        }
        Ok(p)
    }

    /// Waits for a segment with exactly `flags` (PSH aside).
    fn expect(&mut self, flags: Flags, what: &str) -> Result<WireSegment, String> {
        let deadline = self.s.now() + Duration::from_secs(3);
        while let Some(r) = self.s.recv(deadline).map_err(err)? {
            if r.segment.flags.without_psh() == flags {
                return Ok(r.segment);
            }
        }
        Err(format!("the SUT sent no {what} within 3 s"))
    }

    fn collect(&mut self, window: Duration) -> Result<Vec<Received>, String> {
        let deadline = self.s.now() + window;
        let mut out = Vec::new();
        while let Some(r) = self.s.recv(deadline).map_err(err)? {
            out.push(r);
        }
        Ok(out)
    }

    fn state(&mut self) -> Result<SockState, String> {
        Ok(self
            .s
            .state()
            .map_err(err)?
            .map_or(SockState::Closed, |s| s.state))
    }

    fn wait(&mut self, d: Duration) -> Result<(), String> {
        self.collect(d).map(|_| ())
    }

    fn show(&self, r: &Received) -> String {
        let g = &r.segment;
        let mut s = format!(
            "{} seq={}",
            g.flags.without_psh(),
            g.seq.wrapping_sub(self.sut_isn) as i32
        );
        if g.flags.has(Flags::ACK) {
            s.push_str(&format!(
                " ack={}",
                g.ack.wrapping_sub(self.peer_isn) as i32
            ));
        }
        s
    }

    /// Injects `g`, collects the replies and reads the state.
    fn react(&mut self, g: WireSegment) -> Result<Reaction, String> {
        self.s.inject(&g).map_err(err)?;
        let replies = self.collect(SETTLE)?;
        Ok(Reaction {
            replies: replies.iter().map(|r| self.show(r)).collect(),
            state_after: self.state()?.name().to_string(),
        })
    }

    /// The peer's next sequence number (the SUT's RCV.NXT) in TIME-WAIT.
    fn rcv_nxt(&self) -> u32 {
        self.peer_isn + 2
    }

    fn snd_nxt(&self) -> u32 {
        self.sut_isn.wrapping_add(2).wrapping_add(self.sent)
    }
}

/// The sysctl profile the probes run Linux with: the defaults, with
/// `tcp_rfc1337=1` for linux-rfc1337 (other stacks have none).
pub fn profile(kind: StackKind) -> Profile {
    Profile {
        tcp_rfc1337: (kind == StackKind::LinuxRfc1337).then_some(1),
        ..Profile::default()
    }
}

/// The probes' code as built: the facts measured by another version of
/// this file may differ, so a cached measurement names it.
pub const SOURCE: &str = include_str!("probe.rs");

/// Opens a fresh stack of `kind` and runs `f` on it, in a namespace of its
/// own for the real-time stacks.
pub fn with_stack<T, F>(kind: StackKind, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Stack) -> Result<T, String> + Send + 'static,
{
    let tw = kind.time_wait();
    let linux_in_netns = |f: F| {
        let profile = profile(kind);
        netns::run_in_new_netns(format!("probe-{}", kind.name()), move || {
            let mut s = linux::LinuxStack::new(&profile)?;
            Ok(f(&mut s))
        })
        .map_err(err)?
    };
    match kind {
        StackKind::Linux | StackKind::LinuxRfc1337 => linux_in_netns(f),
        StackKind::Smoltcp => f(&mut SmoltcpStack::new()),
        StackKind::Lwip | StackKind::Gvisor => {
            let agent = if kind == StackKind::Lwip {
                Agent::Lwip
            } else {
                Agent::Gvisor
            };
            let mut s =
                AgentStack::start(kind.name(), agent.command().map_err(err)?, tw).map_err(err)?;
            s.set_ack_delay(kind.ack_delay());
            f(&mut s)
        }
        StackKind::LwipTap | StackKind::Pytcp => {
            let agent = if kind == StackKind::Pytcp {
                Agent::Pytcp
            } else {
                Agent::Lwip
            };
            let cmd = agent.command().map_err(err)?;
            netns::run_in_new_netns(format!("probe-{}", kind.name()), move || {
                let mut s = crate::backends::tap::TapStack::new(kind.name(), cmd, tw)?;
                s.set_ack_delay(kind.ack_delay());
                Ok(f(&mut s))
            })
            .map_err(err)?
        }
        StackKind::LinuxVm => {
            let sysctls = crate::backends::linux::sysctls(&profile(kind))
                .into_iter()
                .collect();
            netns::run_in_new_netns(format!("probe-{}", kind.name()), move || {
                let mut s = crate::backends::vm::boot(sysctls, tw)?;
                Ok(f(&mut s))
            })
            .map_err(err)?
        }
    }
}

/// Measures TIME-WAIT: the time from the ACK that enters it until the
/// stack no longer shows the connection in TIME-WAIT. A real-time stack is
/// polled every 250 ms. A virtual-time stack is deterministic, so it is run
/// twice: once in 1 s steps to find the second in which TIME-WAIT ends,
/// then again, jumping to that second and polling every 10 ms.
pub fn time_wait(kind: StackKind) -> Result<Option<u64>, String> {
    match kind.clock() {
        crate::stack::Clock::Real => {
            time_wait_polled(kind, Duration::ZERO, Duration::from_millis(250))
        }
        crate::stack::Clock::Virtual => {
            let coarse = time_wait_polled(kind, Duration::ZERO, Duration::from_secs(1))?;
            match coarse {
                None => Ok(None),
                Some(ms) => time_wait_polled(
                    kind,
                    Duration::from_millis(ms.saturating_sub(1000)),
                    Duration::from_millis(10),
                ),
            }
        }
    }
}

/// TIME-WAIT's length, polled every `step` after waiting `skip`.
fn time_wait_polled(
    kind: StackKind,
    skip: Duration,
    step: Duration,
) -> Result<Option<u64>, String> {
    with_stack(kind, move |s| {
        let mut p = Probe::into_time_wait(s, true, 0)?;
        let start = p.s.now();
        p.wait(skip)?;
        let limit = Duration::from_secs(300);
        while p.s.now() - start < limit {
            p.wait(step)?;
            if p.state()? != SockState::TimeWait {
                return Ok(Some((p.s.now() - start).as_millis() as u64));
            }
        }
        Ok(None)
    })
}

/// A probe that starts in TIME-WAIT (the SUT listened first).
fn in_time_wait<T, F>(kind: StackKind, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&mut Probe) -> Result<T, String> + Send + 'static,
{
    in_time_wait_after(kind, 0, f)
}

/// The same, the SUT having sent `data` bytes before it closed.
fn in_time_wait_after<T, F>(kind: StackKind, data: u16, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&mut Probe) -> Result<T, String> + Send + 'static,
{
    with_stack(kind, move |s| {
        let mut p = Probe::into_time_wait(s, true, data)?;
        f(&mut p)
    })
}

/// A SYN into TIME-WAIT `after` it began, `above` RCV.NXT by 100000 or
/// below it by as much, with the application listening again or not, the
/// old connection having sent `data` bytes; the reaction and, when the
/// stack answers with a SYN-ACK, its ISN minus the old SND.NXT. With
/// `after` zero the clock has barely moved since the old connection's ISN
/// was chosen, and its data moved SND.NXT ahead: the worst case for an ISN
/// that only a clock drives (RFC 1122 4.2.2.13 wants the new ISN above the
/// old SND.NXT, whatever the clock did).
fn syn_into_time_wait(
    kind: StackKind,
    above: bool,
    listener: bool,
    after: Duration,
    data: u16,
) -> Result<(Reaction, Option<i64>), String> {
    in_time_wait_after(kind, data, move |p| {
        p.wait(after)?;
        if listener {
            p.s.app(App::Listen)
                .map_err(err)?
                .map_err(|e| format!("listen in TIME-WAIT: {e}"))?;
        }
        let seq = if above {
            p.rcv_nxt().wrapping_add(100_000)
        } else {
            p.rcv_nxt().wrapping_sub(100_000)
        };
        let mut syn = seg(Flags::SYN, seq, 0);
        syn.options.mss = Some(1460);
        p.s.inject(&syn).map_err(err)?;
        let replies = p.collect(SETTLE)?;
        let isn = replies
            .iter()
            .find(|r| r.segment.flags.without_psh() == Flags::SYN.union(Flags::ACK))
            .map(|r| i64::from(r.segment.seq.wrapping_sub(p.snd_nxt()) as i32));
        let reaction = Reaction {
            replies: replies.iter().map(|r| p.show(r)).collect(),
            state_after: p.state()?.name().to_string(),
        };
        Ok((reaction, isn))
    })
}

/// Every probe [`facts`] runs, by the name its progress reports.
pub const PROBES: [&str; 13] = [
    "exact RST",
    "in-window RST",
    "out-of-window RST",
    "lost last ACK",
    "TIME-WAIT's length",
    "retransmitted FINs",
    "higher SYN, listener",
    "higher SYN, no listener",
    "lower SYN, listener",
    "lower SYN, no listener",
    "higher SYN at once",
    "in-window SYN with an ACK field",
    "ISNs 1 s apart",
];

/// Every fact, each probe on a fresh stack, the probes in parallel (a
/// real-time stack's TIME-WAIT measurement sets the wall time).
pub fn facts(kind: StackKind) -> Result<Facts, String> {
    facts_reporting(kind, None)
}

/// Runs `f` on a thread of its own; when it ends, sends `name` (one of
/// [`PROBES`]) to `done`, if anyone listens.
fn probe_thread<T: Send + 'static>(
    name: &'static str,
    done: &Option<std::sync::mpsc::Sender<&'static str>>,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let done = done.clone();
    std::thread::spawn(move || {
        let out = f();
        if let Some(tx) = done {
            // A watcher that went away is no reason to lose the fact.
            let _ = tx.send(name);
        }
        out
    })
}

/// [`facts`], sending the name of each probe (from [`PROBES`]) to `done`
/// as it ends, so that people watching see what is left.
pub fn facts_reporting(
    kind: StackKind,
    done: Option<std::sync::mpsc::Sender<&'static str>>,
) -> Result<Facts, String> {
    type Job = Box<dyn FnOnce() -> Result<Reaction, String> + Send>;
    let rst = |off: u32| -> Job {
        Box::new(move || {
            in_time_wait(kind, move |p| {
                let g = seg(Flags::RST, p.rcv_nxt().wrapping_add(off), 0);
                p.react(g)
            })
        })
    };
    let fa = Flags::FIN.union(Flags::ACK);
    let jobs: Vec<Job> = vec![
        rst(0),
        rst(100),
        rst(10_000_000),
        Box::new(move || {
            in_time_wait(kind, move |p| {
                p.wait(Duration::from_secs(1))?;
                let g = seg(fa, p.peer_isn + 1, p.snd_nxt());
                p.react(g)
            })
        }),
    ];
    let tw = probe_thread(PROBES[4], &done, move || time_wait(kind));
    let fins = probe_thread(PROBES[5], &done, move || {
        in_time_wait(kind, move |p| {
            let copies = 5;
            let mut acks = 0;
            for _ in 0..copies {
                p.s.inject(&seg(fa, p.peer_isn + 1, p.snd_nxt()))
                    .map_err(err)?;
                acks += p
                    .collect(FIN_SPACING)?
                    .iter()
                    .filter(|r| r.segment.flags.without_psh() == Flags::ACK)
                    .count();
            }
            acks += p
                .collect(SETTLE)?
                .iter()
                .filter(|r| r.segment.flags.without_psh() == Flags::ACK)
                .count();
            Ok((copies, acks))
        })
    });
    let second = Duration::from_secs(1);
    let syns: Vec<_> = [
        (true, true, second, 0),
        (true, false, second, 0),
        (false, true, second, 0),
        (false, false, second, 0),
        (true, true, Duration::ZERO, REOPEN_DATA),
    ]
    .into_iter()
    .zip(&PROBES[6..11])
    .map(|((above, listener, after, data), name)| {
        probe_thread(name, &done, move || {
            syn_into_time_wait(kind, above, listener, after, data)
        })
    })
    .collect();
    let in_window_syn = probe_thread(PROBES[11], &done, move || {
        in_time_wait(kind, move |p| {
            let ack = p.snd_nxt().wrapping_add(1000);
            let mut syn = seg(Flags::SYN, p.rcv_nxt().wrapping_add(100), ack);
            syn.options.mss = Some(1460);
            p.react(syn)
        })
    });
    let isns = probe_thread(PROBES[12], &done, move || isn_samples(kind));
    let handles: Vec<_> = jobs
        .into_iter()
        .zip(&PROBES[..4])
        .map(|(job, name)| probe_thread(name, &done, job))
        .collect();
    let join = |h: std::thread::JoinHandle<Result<Reaction, String>>| {
        h.join().map_err(|_| "probe panicked".to_string())?
    };
    let mut rs = handles.into_iter().map(join);
    let mut next = || rs.next().unwrap_or_else(|| Err("missing probe".into()));
    let (rst_exact, rst_in_window, rst_out_of_window, lost_last_ack) =
        (next()?, next()?, next()?, next()?);
    let mut ss = syns
        .into_iter()
        .map(|h| h.join().map_err(|_| "probe panicked".to_string())?);
    let mut syn = || ss.next().unwrap_or_else(|| Err("missing probe".into()));
    let (hl, hn, ll, ln, at_once) = (syn()?, syn()?, syn()?, syn()?, syn()?);
    let syn_in_window_nonzero_ack = in_window_syn
        .join()
        .map_err(|_| "probe panicked".to_string())??;
    let isns = isns.join().map_err(|_| "probe panicked".to_string())??;
    let (fin_copies, fin_acks) = fins.join().map_err(|_| "probe panicked".to_string())??;
    let time_wait_ms = tw.join().map_err(|_| "probe panicked".to_string())??;
    Ok(Facts {
        time_wait_ms,
        fin_copies,
        fin_acks,
        rst_exact,
        rst_in_window,
        rst_out_of_window,
        reopen_isn_minus_old_snd_nxt: hl.1.or(hn.1),
        syn_higher_listener_at_once: Some(at_once.0),
        reopen_at_once_isn_minus_old_snd_nxt: at_once.1,
        syn_in_window_nonzero_ack: Some(syn_in_window_nonzero_ack),
        isns,
        syn_higher_listener: hl.0,
        syn_higher_no_listener: hn.0,
        syn_lower_listener: ll.0,
        syn_lower_no_listener: ln.0,
        lost_last_ack,
    })
}

/// Bytes the old connection sends before the no-time-elapsed reopen: one
/// segment, more than a 64 ns ISN clock (RFC 6528's example, gVisor's and
/// Linux's) advances in the few microseconds of a virtual handshake.
const REOPEN_DATA: u16 = 1000;

/// How many connections [`isn_samples`] opens.
const ISN_SAMPLES: usize = 4;

/// The ISNs of connections opened 1 s apart on one fresh stack (see
/// [`Facts::isns`]); fewer when the stack stops answering SYNs.
fn isn_samples(kind: StackKind) -> Result<Vec<u32>, String> {
    with_stack(kind, move |s| {
        s.app(App::Listen)
            .map_err(err)?
            .map_err(|e| format!("listen: {e}"))?;
        let mut p = Probe {
            s,
            peer_isn: PEER_ISN,
            sut_isn: 0,
            sent: 0,
        };
        let mut out = Vec::new();
        for i in 0..ISN_SAMPLES as u32 {
            if i > 0 {
                p.wait(Duration::from_secs(1))?;
            }
            // A new peer ISN each time, far from the last, as a new
            // connection would pick.
            let peer_isn = PEER_ISN.wrapping_add(i.wrapping_mul(0x1000_0000));
            let mut syn = seg(Flags::SYN, peer_isn, 0);
            syn.options.mss = Some(1460);
            p.s.inject(&syn).map_err(err)?;
            let Ok(sa) = p.expect(Flags::SYN.union(Flags::ACK), "SYN-ACK") else {
                break;
            };
            out.push(sa.seq);
            // Back to LISTEN (RFC 9293 3.10.7.4: a RST in SYN-RECEIVED from
            // a passive open).
            p.s.inject(&seg(Flags::RST, peer_isn.wrapping_add(1), 0))
                .map_err(err)?;
            p.collect(SETTLE)?;
        }
        Ok(out)
    })
}

/// Whether ISNs look like a small counter without a secret: every one
/// below 2^20. A random 32-bit ISN is that small with probability 1/4096,
/// so several together mean the generator is guessable from the clock.
pub fn isns_predictable(isns: &[u32]) -> bool {
    isns.len() >= 2 && isns.iter().all(|&i| i < 1 << 20)
}
