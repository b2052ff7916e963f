//! One TCP endpoint: its RFC 9293 connection state, its TCB variables for the
//! current incarnation, its timers, and what its application has done.

use crate::config::Config;
use crate::segment::{Flags, Segment, Side};
use crate::seq::Seq;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::fmt;

/// The connection states of RFC 9293 section 3.3.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }

    /// States with a TCB: every state but CLOSED and LISTEN (whose sequence
    /// variables are kept at zero).
    pub fn has_tcb(self) -> bool {
        !matches!(self, TcpState::Closed | TcpState::Listen)
    }

    /// States in which our FIN has been sent.
    pub fn fin_sent(self) -> bool {
        matches!(
            self,
            TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::Closing
                | TcpState::LastAck
                | TcpState::TimeWait
        )
    }

    /// States in which the local application has closed and the connection
    /// is still terminating: an error here is an unclean close.
    pub fn terminating(self) -> bool {
        matches!(
            self,
            TcpState::FinWait1 | TcpState::FinWait2 | TcpState::Closing | TcpState::LastAck
        )
    }

    /// States in which the peer's FIN has been received.
    pub fn fin_received(self) -> bool {
        matches!(
            self,
            TcpState::CloseWait | TcpState::Closing | TcpState::LastAck | TcpState::TimeWait
        )
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the application opened its current incarnation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// The first incarnation, which starts ESTABLISHED.
    Initial,
    Listener,
    Connector,
}

/// An in-window segment that arrived ahead of RCV.NXT, held for later
/// processing (RFC 9293 section 3.10.7.4, "seventh"). Without this queue
/// reordering would act as an extra, unbudgeted loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Held {
    pub seq: Seq,
    pub len: u16,
    pub fin: bool,
    pub inc: u8,
}

/// An endpoint. Sequence variables are meaningful only in the states that
/// have a TCB; in CLOSED and LISTEN they are kept at zero so that equal
/// situations are equal states.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Endpoint {
    pub state: TcpState,
    /// Ghost: the incarnation the TCB belongs to (1-based).
    pub inc: u8,
    pub iss: Seq,
    pub snd_una: Seq,
    pub snd_nxt: Seq,
    pub rcv_nxt: Seq,
    /// Payload bytes sent in this incarnation; locates the retransmission head.
    pub data_sent: Seq,
    /// Whether the SYN-RECEIVED state came from LISTEN (RFC 9293 3.10.7.4).
    pub passive: bool,
    /// Retransmission timer: ticks left, 0 when off.
    pub rtx: u8,
    /// Retransmissions of the current head segment so far.
    pub retries: u8,
    /// TIME-WAIT timer: ticks left; in FIN-WAIT-2, the orphan timeout
    /// (Linux `tcp_fin_timeout`) when the variant has one.
    pub tw: u8,
    pub held: SmallVec<[Held; 2]>,
    /// Application: the incarnation it is in (ahead of `inc` while a listen
    /// waits for TIME-WAIT to end).
    pub app_inc: u8,
    pub role: Role,
    pub app_closed: bool,
    /// Ghost, kept to the end: the application's current incarnation ended
    /// in an error (reset or timeout) instead of a close it asked for.
    pub failed: bool,
    /// ISS for a listen that waits for TIME-WAIT to end.
    pub listen_iss: Option<Seq>,
    /// RFC 7323 TS.Recent: the peer's latest timestamp, `None` when the
    /// connection does not use timestamps.
    pub ts_recent: Option<u32>,
    /// The ISN clock (only when the variant binds ISNs to one): the SND.NXT
    /// of the last connection this host had on the 4-tuple. A new ISS must
    /// lie at or after it.
    pub isn_floor: Option<Seq>,
}

impl Endpoint {
    /// An endpoint of the first incarnation, ESTABLISHED with `iss` and the
    /// peer's `irs`.
    pub fn established(cfg: &Config, iss: Seq, irs: Seq) -> Self {
        let s = cfg.space();
        Endpoint {
            state: TcpState::Established,
            inc: 1,
            iss,
            snd_una: s.add(iss, 1),
            snd_nxt: s.add(iss, 1),
            rcv_nxt: s.add(irs, 1),
            data_sent: 0,
            passive: false,
            rtx: 0,
            retries: 0,
            tw: 0,
            held: SmallVec::new(),
            app_inc: 1,
            role: Role::Initial,
            app_closed: false,
            failed: false,
            listen_iss: None,
            // The handshake of the first incarnation, which happened before
            // the model starts, carried the peer's clock reading 1.
            ts_recent: cfg.behaviour.timestamps.then_some(1),
            isn_floor: cfg.behaviour.isn_clock.then_some(s.add(iss, 1)),
        }
    }

    /// Forgets the TCB (RFC 9293 "delete the TCB"), keeping the application.
    pub fn delete_tcb(&mut self) {
        if let Some(floor) = self.isn_floor.as_mut() {
            if self.state.has_tcb() {
                *floor = self.snd_nxt;
            }
        }
        self.state = TcpState::Closed;
        self.iss = 0;
        self.snd_una = 0;
        self.snd_nxt = 0;
        self.rcv_nxt = 0;
        self.data_sent = 0;
        self.passive = false;
        self.rtx = 0;
        self.retries = 0;
        self.tw = 0;
        self.held.clear();
        self.ts_recent = None;
    }

    /// Whether `iss` may start a new incarnation: always, unless ISNs are
    /// bound to a clock, which has moved past every number this host used.
    fn isn_allowed(&self, cfg: &Config, iss: Seq) -> bool {
        self.clock_floor()
            .is_none_or(|floor| cfg.space().le(floor, iss))
    }

    /// Where the ISN clock stands at the least: the SND.NXT of the live
    /// connection, or of the last one. `None` without an ISN clock.
    pub fn clock_floor(&self) -> Option<Seq> {
        if self.state.has_tcb() {
            self.isn_floor.map(|_| self.snd_nxt)
        } else {
            self.isn_floor
        }
    }

    /// The ISSs this endpoint may open its next incarnation with, as a
    /// listener or as a connector: every ISN listed for that role that the
    /// clock allows, and, with a clock, first the clock's slowest reading
    /// (exactly the old SND.NXT: a connection that nearly outran the clock),
    /// the worst case for old segments.
    pub fn isn_choices(&self, cfg: &Config, listener: bool) -> Vec<Seq> {
        let listed = if listener {
            &cfg.listener_isns
        } else {
            &cfg.isns
        };
        let mut out: Vec<Seq> = self.clock_floor().into_iter().collect();
        for &iss in listed {
            if self.isn_allowed(cfg, iss) && !out.contains(&iss) {
                out.push(iss);
            }
        }
        out
    }

    /// Becomes a listener of the application's incarnation with `iss`.
    pub fn become_listener(&mut self, iss: Seq) {
        self.delete_tcb();
        self.state = TcpState::Listen;
        self.inc = self.app_inc;
        self.iss = iss;
    }

    /// The segment to (re)transmit from SND.UNA: SYN (or SYN-ACK), the data
    /// from SND.UNA (at most `cfg.mss` bytes), or our FIN. `None` when nothing is outstanding.
    pub fn head_segment(&self, cfg: &Config, from: Side) -> Option<Segment> {
        let s = cfg.space();
        if self.snd_una == self.snd_nxt {
            return None;
        }
        let mut seg = self.segment(from, Flags::ACK, self.snd_una, 0);
        if self.snd_una == self.iss {
            if self.state == TcpState::SynSent {
                seg.flags = Flags::SYN;
                seg.ack = 0;
                seg.ts = cfg.behaviour.timestamps.then(|| self.clock());
            } else {
                seg.flags = Flags::SYN | Flags::ACK;
            }
        } else if s.diff(self.snd_una, self.iss) <= self.data_sent {
            let left = self.data_sent - s.diff(self.snd_una, self.iss) + 1;
            seg.len = left.min(Seq::from(cfg.mss)) as u16;
        } else {
            seg.flags = Flags::FIN | Flags::ACK;
        }
        Some(seg)
    }

    /// SEND of `len` bytes (RFC 9293 3.10.2) in ESTABLISHED or CLOSE-WAIT:
    /// the segment that carries them.
    pub fn app_send(&mut self, cfg: &Config, from: Side, len: u16) -> Segment {
        let seg = self.segment(from, Flags::ACK, self.snd_nxt, len);
        self.snd_nxt = cfg.space().add(self.snd_nxt, Seq::from(len));
        self.data_sent += Seq::from(len);
        self.arm_rtx(cfg);
        seg
    }

    /// CLOSE (RFC 9293 3.10.4) in ESTABLISHED or CLOSE-WAIT: enter
    /// FIN-WAIT-1 or LAST-ACK and send <FIN,ACK>.
    pub fn app_close(&mut self, cfg: &Config, from: Side) -> Segment {
        self.state = match self.state {
            TcpState::Established => TcpState::FinWait1,
            _ => TcpState::LastAck,
        };
        let fin = self.segment(from, Flags::FIN | Flags::ACK, self.snd_nxt, 0);
        self.snd_nxt = cfg.space().add(self.snd_nxt, 1);
        self.app_closed = true;
        self.arm_rtx(cfg);
        fin
    }

    /// Passive OPEN (RFC 9293 3.10.1) for the application's next incarnation
    /// with `iss`.
    pub fn app_listen(&mut self, iss: Seq) {
        self.app_inc += 1;
        self.role = Role::Listener;
        self.app_closed = false;
        self.failed = false;
        if self.state.has_tcb() {
            // A listener beside a TIME-WAIT (or, under tcp_tw_reuse, a
            // LAST-ACK) connection on the same port (SO_REUSEADDR): it takes
            // over when that connection ends, or earlier if the variant
            // reopens TIME-WAIT on a SYN.
            self.listen_iss = Some(iss);
        } else {
            self.become_listener(iss);
        }
    }

    /// ABORT (RFC 9293 3.10.5; SO_LINGER 0 then close): in a synchronized
    /// state send <SEQ=SND.NXT><CTL=RST> (with ACK, as Linux's
    /// `tcp_send_active_reset` and every stack here do) and delete the TCB
    /// without TIME-WAIT. Returns the RST, if one is sent.
    pub fn app_abort(&mut self, from: Side) -> Option<Segment> {
        let rst = (!matches!(
            self.state,
            TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::TimeWait
        ))
        .then(|| Segment {
            flags: Flags::RST | Flags::ACK,
            ts: None,
            abort: true,
            ..self.segment(from, Flags::RST, self.snd_nxt, 0)
        });
        self.delete_tcb();
        self.app_closed = true;
        rst
    }

    /// Active OPEN (RFC 9293 3.10.1) for the application's next incarnation:
    /// enter SYN-SENT and send <SEQ=ISS><CTL=SYN>.
    pub fn app_connect(&mut self, cfg: &Config, from: Side, iss: Seq) -> Segment {
        // Reusing a TIME-WAIT 4-tuple keeps its TS.Recent (tcp_twsk_unique).
        let inherited = if self.state == TcpState::TimeWait {
            self.ts_recent
        } else {
            None
        };
        self.delete_tcb();
        self.ts_recent = inherited;
        self.app_inc += 1;
        self.inc = self.app_inc;
        self.role = Role::Connector;
        self.app_closed = false;
        self.failed = false;
        self.state = TcpState::SynSent;
        self.iss = iss;
        self.snd_una = iss;
        self.snd_nxt = cfg.space().add(iss, 1);
        self.arm_rtx(cfg);
        Segment {
            ack: 0,
            ts: cfg.behaviour.timestamps.then(|| self.clock()),
            ..self.segment(from, Flags::SYN, iss, 0)
        }
    }

    /// A bare ACK carrying SND.NXT and RCV.NXT.
    pub fn ack_segment(&self, from: Side) -> Segment {
        self.segment(from, Flags::ACK, self.snd_nxt, 0)
    }

    /// The endpoint's timestamp clock: coarse, it reads the application's
    /// incarnation, so it never goes back across incarnations.
    pub fn clock(&self) -> u32 {
        u32::from(self.app_inc)
    }

    /// A new segment of this incarnation acknowledging RCV.NXT; it carries a
    /// timestamp when the connection uses them.
    fn segment(&self, from: Side, flags: Flags, seq: Seq, len: u16) -> Segment {
        Segment {
            from,
            flags,
            seq,
            ack: self.rcv_nxt,
            len,
            ts: self.ts_recent.map(|_| self.clock()),
            age: 0,
            inc: self.inc,
            rexmit: false,
            abort: false,
        }
    }

    /// Starts the retransmission timer if it is not running.
    pub fn arm_rtx(&mut self, cfg: &Config) {
        if self.rtx == 0 {
            self.retries = 0;
            self.rtx = cfg.rto_after(0);
        }
    }

    /// The endpoint in RFC 9293's terms, one fact a line, as the Explorer
    /// shows it: the connection state, the send and receive sequence
    /// variables (section 3.3.1), the timers in ticks, the out-of-order
    /// queue, and what the application has done.
    pub fn rfc_view(&self) -> Vec<String> {
        let mut v = vec![format!("{}, incarnation {}", self.state, self.inc)];
        if self.state.has_tcb() {
            v.push(format!(
                "ISS {}  SND.UNA {}  SND.NXT {}  RCV.NXT {}",
                self.iss, self.snd_una, self.snd_nxt, self.rcv_nxt
            ));
        }
        if self.rtx > 0 {
            let retry = if self.retries > 0 {
                format!(", retransmission {} of the head segment sent", self.retries)
            } else {
                String::new()
            };
            v.push(format!(
                "retransmission timer: {} tick(s) left{retry}",
                self.rtx
            ));
        }
        if self.state == TcpState::TimeWait {
            v.push(format!("TIME-WAIT timer: {} tick(s) left", self.tw));
        } else if self.state == TcpState::FinWait2 && self.tw > 0 {
            v.push(format!(
                "FIN-WAIT-2 timeout (tcp_fin_timeout): {} tick(s) left",
                self.tw
            ));
        }
        for h in &self.held {
            v.push(format!(
                "held ahead of RCV.NXT: seq {} len {}{} (incarnation {})",
                h.seq,
                h.len,
                if h.fin { " with FIN" } else { "" },
                h.inc
            ));
        }
        if let Some(ts) = self.ts_recent {
            v.push(format!("TS.Recent {ts} (RFC 7323)"));
        }
        if let Some(floor) = self.isn_floor {
            v.push(format!("ISN clock: a new ISS must be at or after {floor}"));
        }
        let role = match self.role {
            Role::Initial => "the first incarnation",
            Role::Listener => "opened by a passive OPEN (listen)",
            Role::Connector => "opened by an active OPEN (connect)",
        };
        let app = if self.failed {
            format!("saw incarnation {} end in an error", self.app_inc)
        } else if self.app_closed {
            format!("has closed incarnation {}", self.app_inc)
        } else {
            format!("in incarnation {}, open", self.app_inc)
        };
        v.push(format!("application: {app} ({role})"));
        if let Some(iss) = self.listen_iss {
            v.push(format!(
                "listening for incarnation {} with ISS {iss} once TIME-WAIT ends",
                self.app_inc
            ));
        }
        v
    }

    /// One line for traces: `ESTABLISHED inc1 una=1 nxt=2 rcv=9 rtx=1`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} inc{}", self.state, self.inc);
        if self.state.has_tcb() {
            s.push_str(&format!(
                " iss={} una={} nxt={} rcv={}",
                self.iss, self.snd_una, self.snd_nxt, self.rcv_nxt
            ));
        }
        if self.rtx > 0 {
            s.push_str(&format!(" rtx={}", self.rtx));
            if self.retries > 0 {
                s.push_str(&format!("(retry {})", self.retries));
            }
        }
        if self.state == TcpState::TimeWait {
            s.push_str(&format!(" tw={}", self.tw));
        } else if self.state == TcpState::FinWait2 && self.tw > 0 {
            s.push_str(&format!(" fin-timeout={}", self.tw));
        }
        if !self.held.is_empty() {
            s.push_str(&format!(" held={}", self.held.len()));
        }
        if let Some(iss) = self.listen_iss {
            s.push_str(&format!(" [listen for inc{} iss={}]", self.app_inc, iss));
        }
        if self.failed {
            s.push_str(" [app saw an error]");
        } else if self.app_closed && self.app_inc == self.inc {
            s.push_str(" [app closed]");
        }
        s
    }
}
