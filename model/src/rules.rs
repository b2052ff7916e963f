//! Segment arrival: RFC 9293 section 3.10.7 ("SEGMENT ARRIVES"), one function
//! per group of states, plus the TIME-WAIT rule books of the variants
//! (RFC 1337, RFC 1122 4.2.2.13 / RFC 6191, Linux `tcp_timewait_state_process`).
//!
//! Every function takes the endpoint and the arriving segment and returns the
//! reply (at most one segment) and the ghost events the properties need.

use crate::config::Config;
use crate::endpoint::{Endpoint, Held, TcpState};
use crate::segment::{Flags, Segment, Side};
use crate::seq::Seq;
use crate::variant::{RstInTimeWait, SynInTimeWait, TimeWaitRestart, TimeWaitRules};
use serde::{Deserialize, Serialize};

/// What kind of segment crossed from one incarnation into another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CrossKind {
    /// Payload delivered to the application.
    Data,
    /// A FIN processed (connection state changed).
    Fin,
    /// A RST that reset or closed the connection.
    Rst,
    /// A SYN that set RCV.NXT (opened a connection or completed an open).
    Syn,
    /// An ACK that acknowledged new data or completed a handshake.
    Ack,
}

/// Ghost record: a segment sent by incarnation `from_inc` was accepted by an
/// endpoint whose TCB belongs to incarnation `to_inc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CrossEvent {
    pub at: Side,
    pub kind: CrossKind,
    pub from_inc: u8,
    pub to_inc: u8,
}

/// Ghost record: the application on `at` saw its incarnation `inc` reset by
/// a RST of the same incarnation while in `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResetEvent {
    pub at: Side,
    pub inc: u8,
    pub state: TcpState,
}

/// Ghost events of one segment arrival.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events {
    pub cross: Option<CrossEvent>,
    pub reset: Option<ResetEvent>,
    pub fin_reacked_in_time_wait: bool,
    pub old_dup_discarded_in_time_wait: bool,
}

/// The outcome of one segment arrival.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reaction {
    pub reply: Option<Segment>,
    pub events: Events,
}

struct Arrival<'a> {
    cfg: &'a Config,
    me: Side,
    seg: Segment,
    out: Reaction,
}

impl Arrival<'_> {
    fn note_accept(&mut self, ep: &Endpoint, kind: CrossKind) {
        // A segment can be accepted in several ways at once (its ACK
        // completes a handshake, then its FIN is processed): keep the
        // weightiest, an ACK only when nothing else crossed.
        let weaker = self
            .out
            .events
            .cross
            .is_none_or(|c| c.kind == CrossKind::Ack);
        if self.seg.inc != ep.inc && weaker {
            self.out.events.cross = Some(CrossEvent {
                at: self.me,
                kind,
                from_inc: self.seg.inc,
                to_inc: ep.inc,
            });
        }
    }

    fn reply(&mut self, seg: Segment) {
        self.out.reply = Some(seg);
    }

    /// `<SEQ=SEG.ACK><CTL=RST>` or `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`
    /// (RFC 9293 3.10.7.1), tagged with the provoking segment's incarnation:
    /// the sender of a reset has no incarnation of its own in it.
    fn reset_reply(&mut self) {
        let s = self.cfg.space();
        let seg = self.seg;
        let rst = if seg.flags.has(Flags::ACK) {
            Segment {
                from: self.me,
                flags: Flags::RST,
                seq: seg.ack,
                ack: 0,
                len: 0,
                ts: None,
                age: 0,
                inc: seg.inc,
                rexmit: false,
                abort: false,
            }
        } else {
            Segment {
                from: self.me,
                flags: Flags::RST | Flags::ACK,
                seq: 0,
                ack: s.add(seg.seq, seg.seg_len()),
                len: 0,
                ts: None,
                age: 0,
                inc: seg.inc,
                rexmit: false,
                abort: false,
            }
        };
        self.reply(rst);
    }
}

/// Processes `seg` arriving at endpoint `ep` (on side `me`).
pub fn on_segment(cfg: &Config, me: Side, ep: &mut Endpoint, seg: Segment) -> Reaction {
    let mut a = Arrival {
        cfg,
        me,
        seg,
        out: Reaction::default(),
    };
    match ep.state {
        TcpState::Closed => closed(&mut a),
        TcpState::Listen => listen(&mut a, ep),
        TcpState::SynSent => syn_sent(&mut a, ep),
        TcpState::TimeWait => match cfg.behaviour.time_wait_rules {
            TimeWaitRules::Rfc => time_wait_rfc(&mut a, ep),
            TimeWaitRules::Linux => time_wait_linux(&mut a, ep),
        },
        _ => synchronized(&mut a, ep),
    }
    // Without TIME-WAIT the TCB is deleted only now, after the last ACK was
    // built from it.
    if ep.state == TcpState::TimeWait && ep.tw == 0 {
        finish_tcb(ep);
    }
    a.out
}

/// RFC 9293 3.10.7.1: CLOSED answers everything but a RST with a RST.
fn closed(a: &mut Arrival) {
    if a.seg.flags.has(Flags::RST) {
        return;
    }
    a.reset_reply();
}

/// RFC 9293 3.10.7.2: LISTEN.
fn listen(a: &mut Arrival, ep: &mut Endpoint) {
    let seg = a.seg;
    // "First, check for a RST": ignore it.
    if seg.flags.has(Flags::RST) {
        return;
    }
    // "Second, check for an ACK": any ACK is bad in LISTEN.
    if seg.flags.has(Flags::ACK) {
        a.reset_reply();
        return;
    }
    // "Third, check for a SYN".
    if seg.flags.has(Flags::SYN) {
        let iss = ep.iss;
        open_syn_received(a, ep, iss);
    }
    // "Fourth, other data or control": drop.
}

/// RFC 7323 section 5.3 R1 (PAWS): a segment whose TSval is older than
/// TS.Recent is a duplicate from an earlier time and is not acceptable. RSTs
/// are exempt ("their cleanup function should take precedence").
fn paws_rejects(ep: &Endpoint, seg: &Segment) -> bool {
    match (ep.ts_recent, seg.ts) {
        (Some(recent), Some(val)) => !seg.flags.has(Flags::RST) && ts_before(val, recent),
        _ => false,
    }
}

/// `a` is earlier than `b` on the 32-bit timestamp clock (RFC 7323 5.2).
fn ts_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// RFC 7323 section 4.3 (3): an acceptable segment at or below RCV.NXT with
/// a timestamp not older than TS.Recent updates TS.Recent.
fn update_ts_recent(cfg: &Config, ep: &mut Endpoint, seg: &Segment) {
    if let (Some(recent), Some(val)) = (ep.ts_recent, seg.ts) {
        if !ts_before(val, recent) && cfg.space().le(seg.seq, ep.rcv_nxt) {
            ep.ts_recent = Some(val);
        }
    }
}

/// TS.Recent of a connection opened by `syn`: its timestamp, if both sides
/// use timestamps (RFC 7323 section 3.2).
fn negotiated_ts(cfg: &Config, syn: &Segment) -> Option<u32> {
    if cfg.behaviour.timestamps {
        syn.ts
    } else {
        None
    }
}

/// LISTEN (or a reopened TIME-WAIT) takes a SYN: RCV.NXT = SEG.SEQ+1, send
/// <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, enter SYN-RECEIVED.
fn open_syn_received(a: &mut Arrival, ep: &mut Endpoint, iss: Seq) {
    let s = a.cfg.space();
    ep.delete_tcb();
    ep.inc = ep.app_inc;
    ep.listen_iss = None;
    ep.app_closed = false;
    ep.state = TcpState::SynReceived;
    ep.passive = true;
    ep.iss = iss;
    ep.snd_una = iss;
    ep.snd_nxt = s.add(iss, 1);
    ep.rcv_nxt = s.add(a.seg.seq, 1);
    ep.ts_recent = negotiated_ts(a.cfg, &a.seg);
    a.note_accept(ep, CrossKind::Syn);
    ep.arm_rtx(a.cfg);
    if let Some(synack) = ep.head_segment(a.cfg, a.me) {
        a.reply(synack);
    }
}

/// RFC 9293 3.10.7.3: SYN-SENT.
fn syn_sent(a: &mut Arrival, ep: &mut Endpoint) {
    let s = a.cfg.space();
    let seg = a.seg;
    let mut ack_ok = false;
    // "First, check the ACK bit": unacceptable if SEG.ACK =< ISS or > SND.NXT.
    if seg.flags.has(Flags::ACK) {
        if !(s.lt(ep.iss, seg.ack) && s.le(seg.ack, ep.snd_nxt)) {
            if !seg.flags.has(Flags::RST) {
                a.reset_reply();
            }
            return;
        }
        ack_ok = true;
    }
    // "Second, check the RST bit": with an acceptable ACK the connection is
    // refused; without one, drop.
    if seg.flags.has(Flags::RST) {
        if ack_ok {
            a.note_accept(ep, CrossKind::Rst);
            record_reset(a, ep);
            ep.delete_tcb();
            ep.app_closed = true;
            ep.failed = !a.seg.abort;
        }
        return;
    }
    // A connection that reused a TIME-WAIT 4-tuple keeps its TS.Recent
    // (`tcp_twsk_unique`); Linux's SYN-SENT drops a segment without ACK that
    // PAWS rejects (`tcp_rcv_synsent_state_process`, "PAWS check."). A
    // segment with an unacceptable ACK was reset above, whatever its
    // timestamp, as Linux does.
    if !ack_ok && paws_rejects(ep, &seg) {
        return;
    }
    // "Fourth, check the SYN bit".
    if seg.flags.has(Flags::SYN) {
        a.note_accept(ep, CrossKind::Syn);
        ep.rcv_nxt = s.add(seg.seq, 1);
        ep.ts_recent = negotiated_ts(a.cfg, &seg);
        if ack_ok {
            ep.snd_una = seg.ack;
        }
        if s.lt(ep.iss, ep.snd_una) {
            a.note_accept(ep, CrossKind::Ack);
            ep.state = TcpState::Established;
            ep.rtx = 0;
            ep.retries = 0;
            a.reply(ep.ack_segment(a.me));
        } else {
            // Simultaneous open: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
            ep.state = TcpState::SynReceived;
            ep.passive = false;
            if let Some(synack) = ep.head_segment(a.cfg, a.me) {
                a.reply(synack);
            }
        }
    }
    // "Fifth, if neither SYN nor RST is set, drop the segment".
}

/// RFC 9293 3.4 / 3.10.7.4 "first": the acceptability test for RCV.WND > 0.
fn acceptable(cfg: &Config, ep: &Endpoint, seg: &Segment) -> bool {
    let s = cfg.space();
    let len = seg.seg_len();
    if len == 0 {
        s.in_window(seg.seq, ep.rcv_nxt, cfg.window)
    } else {
        s.in_window(seg.seq, ep.rcv_nxt, cfg.window)
            || s.in_window(s.add(seg.seq, len - 1), ep.rcv_nxt, cfg.window)
    }
}

/// A reset of this incarnation that its application did not ask for: the
/// RST of the peer's ABORT is the peer application's choice, not a failure.
fn record_reset(a: &mut Arrival, ep: &Endpoint) {
    if a.seg.inc == ep.inc && !a.seg.abort {
        a.out.events.reset = Some(ResetEvent {
            at: a.me,
            inc: ep.inc,
            state: ep.state,
        });
    }
}

/// RFC 9293 3.10.7.4 for SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT,
/// CLOSING and LAST-ACK.
fn synchronized(a: &mut Arrival, ep: &mut Endpoint) {
    let s = a.cfg.space();
    let seg = a.seg;
    // RFC 7323 5.3: PAWS comes before the sequence number check.
    if paws_rejects(ep, &seg) {
        a.reply(ep.ack_segment(a.me));
        return;
    }
    // "First, check sequence number": unacceptable segments get an ACK
    // (unless RST) and are dropped.
    if !acceptable(a.cfg, ep, &seg) {
        if !seg.flags.has(Flags::RST) {
            a.reply(ep.ack_segment(a.me));
        }
        return;
    }
    update_ts_recent(a.cfg, ep, &seg);
    // "Second, check the RST bit", with RFC 5961 section 3: only a RST at
    // exactly RCV.NXT resets; one elsewhere in the window gets a challenge ACK.
    if seg.flags.has(Flags::RST) {
        if seg.seq != ep.rcv_nxt {
            a.reply(ep.ack_segment(a.me));
            return;
        }
        a.note_accept(ep, CrossKind::Rst);
        if ep.state == TcpState::SynReceived && ep.passive {
            // "If this connection was initiated with a passive OPEN, then
            // return this connection to the LISTEN state".
            let iss = ep.iss;
            ep.become_listener(iss);
            return;
        }
        record_reset(a, ep);
        finish_tcb(ep);
        ep.app_closed = true;
        ep.failed = !seg.abort;
        return;
    }
    // "Fourth, check the SYN bit": RFC 5961 section 4 challenge ACK.
    if seg.flags.has(Flags::SYN) {
        a.reply(ep.ack_segment(a.me));
        return;
    }
    // "Fifth, check the ACK field": without ACK, drop.
    if !seg.flags.has(Flags::ACK) {
        return;
    }
    // RFC 5961 5.2 where the variant has it (Linux): an ACK older than the
    // bytes this connection has had acknowledged, or than one window, comes
    // from a blind attacker or an earlier incarnation. SYN-RECEIVED already
    // insists on an ACK of its SYN (below) and resets anything else.
    if a.cfg.behaviour.old_ack_check && ep.state != TcpState::SynReceived {
        let bound = s.diff(ep.snd_una, ep.iss).min(a.cfg.window);
        if s.lt(seg.ack, s.sub(ep.snd_una, bound)) {
            a.reply(ep.ack_segment(a.me));
            return;
        }
    }
    let acks_new = s.lt(ep.snd_una, seg.ack) && s.le(seg.ack, ep.snd_nxt);
    if ep.state == TcpState::SynReceived {
        if !acks_new {
            // "<SEQ=SEG.ACK><CTL=RST>".
            a.reset_reply();
            return;
        }
        ep.state = TcpState::Established;
    } else if s.lt(ep.snd_nxt, seg.ack) {
        // Acknowledges something not yet sent: "send an ACK, drop the segment".
        a.reply(ep.ack_segment(a.me));
        return;
    }
    if acks_new {
        a.note_accept(ep, CrossKind::Ack);
        ep.snd_una = seg.ack;
        if ep.snd_una == ep.snd_nxt {
            ep.rtx = 0;
            ep.retries = 0;
        } else {
            // RFC 6298 5.3 restarts the timer here (and 5.7 collapses the
            // backoff). Real stacks have RTO << MSL, so the restart delays a
            // FIN's retransmission by a sliver of TIME-WAIT; at the model's
            // granularity (RTO = MSL) it would delay it by a whole MSL, an
            // artefact that breaks every variant. So the new head is
            // retransmitted at the earlier of the running timer and one
            // initial RTO from now.
            ep.retries = 0;
            ep.rtx = ep.rtx.min(a.cfg.rto_after(0));
        }
    }
    let fin_acked = ep.state.fin_sent() && ep.snd_una == ep.snd_nxt;
    match ep.state {
        TcpState::FinWait1 if fin_acked => {
            ep.state = TcpState::FinWait2;
            // An orphan (its application closed) waits for the peer's FIN
            // only so long where the variant has a FIN-WAIT-2 timeout.
            if ep.app_closed {
                ep.tw = a.cfg.behaviour.fin_wait_2_timeout.unwrap_or(0);
            }
        }
        TcpState::Closing => {
            if fin_acked {
                enter_time_wait(a.cfg, ep);
            }
            return;
        }
        TcpState::LastAck => {
            if fin_acked {
                finish_tcb(ep);
            }
            return;
        }
        _ => {}
    }
    // "Seventh, process the segment text" and "eighth, check the FIN bit",
    // in order; segments ahead of RCV.NXT are held (RFC 9293: "Segments with
    // higher beginning sequence numbers SHOULD be held for later processing").
    if seg.len == 0 && !seg.flags.has(Flags::FIN) {
        return;
    }
    if seg.seq != ep.rcv_nxt {
        if s.lt(ep.rcv_nxt, seg.seq) {
            let held = Held {
                seq: seg.seq,
                len: seg.len,
                fin: seg.flags.has(Flags::FIN),
                inc: seg.inc,
            };
            if !ep.held.contains(&held) {
                ep.held.push(held);
                ep.held.sort_unstable();
            }
        }
        a.reply(ep.ack_segment(a.me));
        return;
    }
    let first = Held {
        seq: seg.seq,
        len: seg.len,
        fin: seg.flags.has(Flags::FIN),
        inc: seg.inc,
    };
    let mut took = take_in_order(a, ep, first);
    // Anything held that now starts at RCV.NXT is processed too; anything
    // now below it was a duplicate.
    loop {
        let rcv = ep.rcv_nxt;
        ep.held.retain(|h| s.le(rcv, h.seq));
        match ep.held.iter().position(|h| h.seq == rcv) {
            Some(i) => {
                let h = ep.held.remove(i);
                took |= take_in_order(a, ep, h);
            }
            None => break,
        }
    }
    // Seventh and eighth steps acknowledge what they take; text that
    // CLOSE-WAIT, CLOSING or LAST-ACK ignores ("this should not occur") is
    // dropped without an ACK, as Linux does too.
    if took {
        a.reply(ep.ack_segment(a.me));
    }
}

/// Text and FIN of a segment that starts at RCV.NXT. Returns whether
/// either was taken.
fn take_in_order(a: &mut Arrival, ep: &mut Endpoint, h: Held) -> bool {
    let s = a.cfg.space();
    let saved_inc = a.seg.inc;
    a.seg.inc = h.inc;
    if h.len > 0 {
        // Seventh: ESTABLISHED and FIN-WAIT-1/2 deliver text; CLOSE-WAIT,
        // CLOSING, LAST-ACK and TIME-WAIT have seen the FIN and ignore it.
        if matches!(
            ep.state,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        ) {
            a.note_accept(ep, CrossKind::Data);
            ep.rcv_nxt = s.add(ep.rcv_nxt, Seq::from(h.len));
        } else {
            a.seg.inc = saved_inc;
            return false;
        }
    }
    let took = h.len > 0 || (h.fin && !ep.state.fin_received());
    if h.fin && !ep.state.fin_received() {
        // Eighth: "advance RCV.NXT over the FIN".
        a.note_accept(ep, CrossKind::Fin);
        ep.rcv_nxt = s.add(ep.rcv_nxt, 1);
        match ep.state {
            TcpState::SynReceived | TcpState::Established => ep.state = TcpState::CloseWait,
            TcpState::FinWait1 => {
                if ep.snd_una == ep.snd_nxt {
                    enter_time_wait(a.cfg, ep);
                } else {
                    ep.state = TcpState::Closing;
                }
            }
            TcpState::FinWait2 => enter_time_wait(a.cfg, ep),
            _ => {}
        }
    }
    a.seg.inc = saved_inc;
    took
}

/// Enters TIME-WAIT for the variant's duration ("start the time-wait timer,
/// turn off the other timers"), or, without TIME-WAIT, closes at once.
pub fn enter_time_wait(cfg: &Config, ep: &mut Endpoint) {
    ep.rtx = 0;
    ep.retries = 0;
    ep.held.clear();
    match cfg.time_wait_ticks() {
        Some(t) => {
            ep.state = TcpState::TimeWait;
            ep.tw = t;
        }
        // No TIME-WAIT: marked with a zero timer, deleted by `on_segment`
        // once the reply is built.
        None => {
            ep.state = TcpState::TimeWait;
            ep.tw = 0;
        }
    }
}

/// Deletes the TCB; a listen that waited for it takes over the 4-tuple.
pub fn finish_tcb(ep: &mut Endpoint) {
    match ep.listen_iss.take() {
        Some(iss) => ep.become_listener(iss),
        None => ep.delete_tcb(),
    }
}

/// Restarts the TIME-WAIT timer to its full length.
fn restart_time_wait(cfg: &Config, ep: &mut Endpoint) {
    if let Some(t) = cfg.time_wait_ticks() {
        ep.tw = t;
    }
}

/// A copy of the peer's FIN, which RCV.NXT has already passed.
fn is_repeated_fin(cfg: &Config, ep: &Endpoint, seg: &Segment) -> bool {
    seg.flags.has(Flags::FIN) && cfg.space().add(seg.seq, seg.seg_len()) == ep.rcv_nxt
}

/// The witnesses' events for a segment of this incarnation that TIME-WAIT
/// answers without taking: a retransmitted FIN re-ACKed, or old data dropped.
fn note_time_wait_arrival(a: &mut Arrival, ep: &Endpoint, repeated_fin: bool) {
    let seg = a.seg;
    if repeated_fin {
        a.out.events.fin_reacked_in_time_wait = seg.inc == ep.inc && seg.rexmit;
    } else if seg.len > 0 && seg.inc == ep.inc {
        a.out.events.old_dup_discarded_in_time_wait = true;
    }
}

/// RFC 1122 4.2.2.13 condition (1): the reopened connection's ISS lies above
/// every sequence number the old one used. Linux uses `tw_snd_nxt + 65535 + 2`
/// (a maximal unscaled window past SND.NXT); the model uses its own window.
pub fn reopen_iss(cfg: &Config, ep: &Endpoint) -> Seq {
    cfg.space().add(ep.snd_nxt, cfg.window + 2)
}

/// What TIME-WAIT does with a SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SynInTw {
    /// Taken: the connection reopened in SYN-RECEIVED.
    Reopened,
    /// Answered with an ACK (RFC 5961 4's challenge ACK, or Linux's ACK).
    Ack,
    /// Dropped without an answer (RFC 6191: "silently drop the incoming SYN
    /// segment, thus leaving the previous incarnation of the connection in
    /// the TIME-WAIT state").
    Drop,
}

/// A SYN reaches TIME-WAIT: reopen per the variant, or say how to answer.
fn syn_reopens(a: &mut Arrival, ep: &mut Endpoint) -> SynInTw {
    let s = a.cfg.space();
    let seg = a.seg;
    let listening = ep.listen_iss.is_some();
    let plain_syn = !seg.flags.has(Flags::ACK) && !seg.flags.has(Flags::RST);
    match a.cfg.behaviour.syn_in_time_wait {
        SynInTimeWait::ChallengeAck => SynInTw::Ack,
        SynInTimeWait::ReopenIfNewer => {
            // With timestamps on both sides the timestamp decides; without,
            // a sequence number above RCV.NXT (RFC 1122 4.2.2.13). Linux
            // takes either (`tcp_timewait_state_process`) and ACKs the rest;
            // RFC 6191 takes a newer timestamp, or the same one with a newer
            // sequence number, and drops the rest silently.
            let ts_order = match (seg.ts, ep.ts_recent) {
                (Some(val), Some(recent)) => Some((ts_before(recent, val), val == recent)),
                _ => None,
            };
            let newer_seq = s.gt(seg.seq, ep.rcv_nxt);
            let (newer, otherwise) = match (a.cfg.behaviour.time_wait_rules, ts_order) {
                (TimeWaitRules::Linux, ts) => (
                    newer_seq || ts.is_some_and(|(newer, _)| newer),
                    SynInTw::Ack,
                ),
                (TimeWaitRules::Rfc, Some((newer_ts, same_ts))) => {
                    (newer_ts || (same_ts && newer_seq), SynInTw::Drop)
                }
                (TimeWaitRules::Rfc, None) => (newer_seq, SynInTw::Drop),
            };
            if listening && plain_syn && newer {
                let iss = reopen_iss(a.cfg, ep);
                open_syn_received(a, ep, iss);
                SynInTw::Reopened
            } else if plain_syn {
                otherwise
            } else {
                SynInTw::Ack
            }
        }
        SynInTimeWait::ReopenUnchecked => match ep.listen_iss {
            Some(iss) if plain_syn => {
                open_syn_received(a, ep, iss);
                SynInTw::Reopened
            }
            _ => SynInTw::Ack,
        },
    }
}

/// TIME-WAIT under RFC 9293 3.10.7.4 plus the variant's RST and SYN switches.
fn time_wait_rfc(a: &mut Arrival, ep: &mut Endpoint) {
    let seg = a.seg;
    // RFC 7323 5.3 applies in TIME-WAIT too: an older timestamp is a
    // duplicate, answered with an ACK.
    if paws_rejects(ep, &seg) {
        note_time_wait_arrival(a, ep, false);
        a.reply(ep.ack_segment(a.me));
        return;
    }
    if seg.flags.has(Flags::RST) {
        match a.cfg.behaviour.rst_in_time_wait {
            // RFC 1337: "ignore RST segments in TIME-WAIT state".
            RstInTimeWait::Ignore => {}
            RstInTimeWait::KillAny => {
                a.note_accept(ep, CrossKind::Rst);
                finish_tcb(ep);
            }
            RstInTimeWait::KillIfExact => {
                if !acceptable(a.cfg, ep, &seg) {
                } else if seg.seq == ep.rcv_nxt {
                    // "CLOSING, LAST-ACK, TIME-WAIT: If the RST bit is set,
                    // then enter the CLOSED state, delete the TCB".
                    a.note_accept(ep, CrossKind::Rst);
                    finish_tcb(ep);
                } else {
                    a.reply(ep.ack_segment(a.me));
                }
            }
        }
        return;
    }
    if seg.flags.has(Flags::SYN) {
        if syn_reopens(a, ep) == SynInTw::Ack {
            // RFC 5961 section 4 challenge ACK.
            a.reply(ep.ack_segment(a.me));
        }
        return;
    }
    if !acceptable(a.cfg, ep, &seg) {
        let repeated_fin = is_repeated_fin(a.cfg, ep, &seg);
        // "Acknowledge it, and restart the 2 MSL timeout". The restart is
        // explicit: the RFC's FIN step, which also restarts, is never
        // reached by a retransmission, which fails the acceptability test.
        let restart = match a.cfg.behaviour.time_wait_restart {
            TimeWaitRestart::EveryAcked => seg.flags.has(Flags::ACK),
            TimeWaitRestart::FinOnly => repeated_fin,
        };
        if restart {
            restart_time_wait(a.cfg, ep);
        }
        note_time_wait_arrival(a, ep, repeated_fin);
        a.reply(ep.ack_segment(a.me));
        return;
    }
    // Acceptable: the ACK field acknowledges nothing new (our FIN is acked),
    // text is ignored, a FIN here would be a new one, which cannot come from
    // this incarnation's peer.
    note_time_wait_arrival(a, ep, false);
    if seg.flags.has(Flags::FIN) {
        a.note_accept(ep, CrossKind::Fin);
        restart_time_wait(a.cfg, ep);
        a.reply(ep.ack_segment(a.me));
    }
}

/// TIME-WAIT as Linux's `tcp_timewait_state_process()` handles it
/// (net/ipv4/tcp_minisocks.c), with PAWS when timestamps are on.
fn time_wait_linux(a: &mut Arrival, ep: &mut Endpoint) {
    let seg = a.seg;
    let rst = seg.flags.has(Flags::RST);
    let paws_reject = paws_rejects(ep, &seg);
    // "In window segment, it may be only reset or bare ack."
    if !paws_reject && seg.seq == ep.rcv_nxt && (seg.seg_len() == 0 || rst) {
        if seg.ts.is_some() && ep.ts_recent.is_some() {
            ep.ts_recent = seg.ts;
        }
        if rst {
            // "This is TIME_WAIT assassination" unless tcp_rfc1337 is set.
            if a.cfg.behaviour.rst_in_time_wait != RstInTimeWait::Ignore {
                a.note_accept(ep, CrossKind::Rst);
                finish_tcb(ep);
            }
        } else {
            restart_time_wait(a.cfg, ep);
        }
        return;
    }
    // A new SYN: accepted if a listener exists and it is newer (sequence
    // number after RCV.NXT, or a newer timestamp) and passes PAWS.
    if seg.flags.has(Flags::SYN) && !rst && !paws_reject && syn_reopens(a, ep) == SynInTw::Reopened
    {
        return;
    }
    if rst {
        // Out-of-window RST: dropped.
        return;
    }
    // "All the segments are ACKed immediately"; an ACK-bearing or
    // PAWS-rejected one restarts the timer (an ACK-less SYN may be a good
    // new SYN and does not).
    if seg.flags.has(Flags::ACK) || paws_reject {
        restart_time_wait(a.cfg, ep);
    }
    let repeated_fin = is_repeated_fin(a.cfg, ep, &seg);
    note_time_wait_arrival(a, ep, repeated_fin);
    a.reply(ep.ack_segment(a.me));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::Preset;

    fn cfg(p: Preset) -> Config {
        Config {
            behaviour: p.behaviour(2),
            ..Config::default()
        }
    }

    /// B's endpoint in `state`, with ISS 0 and peer ISS 0: after SYN both
    /// sides' next sequence number is 1.
    fn ep(c: &Config, state: TcpState) -> Endpoint {
        let mut e = Endpoint::established(c, 0, 0);
        match state {
            TcpState::Closed => e.delete_tcb(),
            TcpState::Listen => e.become_listener(0),
            _ => e.state = state,
        }
        if state.fin_sent() {
            e.snd_nxt = 2;
            if state != TcpState::FinWait1
                && state != TcpState::Closing
                && state != TcpState::LastAck
            {
                e.snd_una = 2;
            }
        }
        if state.fin_received() {
            e.rcv_nxt = 2;
        }
        if state == TcpState::TimeWait {
            e.snd_una = 2;
            e.tw = c.time_wait_ticks().unwrap_or(0);
        }
        e
    }

    /// TIME-WAIT of incarnation 1 with the application listening for 2.
    fn time_wait_with_listener(c: &Config) -> Endpoint {
        let mut e = ep(c, TcpState::TimeWait);
        e.listen_iss = Some(0);
        e.app_inc = 2;
        e
    }

    fn seg(flags: Flags, seq: u32, ack: u32, len: u16) -> Segment {
        Segment {
            from: Side::A,
            flags,
            seq,
            ack,
            len,
            ts: None,
            age: 0,
            inc: 1,
            rexmit: false,
            abort: false,
        }
    }

    fn arrive(c: &Config, e: &mut Endpoint, s: Segment) -> Reaction {
        on_segment(c, Side::B, e, s)
    }

    fn reply(r: &Reaction) -> (Flags, u32, u32) {
        let s = r.reply.expect("a reply");
        (s.flags, s.seq, s.ack)
    }

    #[test]
    fn closed_answers_an_ack_with_rst_at_seg_ack() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Closed);
        let r = arrive(&c, &mut e, seg(Flags::FIN | Flags::ACK, 5, 7, 0));
        assert_eq!(reply(&r), (Flags::RST, 7, 0));
        assert_eq!(
            r.reply.unwrap().inc,
            1,
            "tagged with the provoking segment's incarnation"
        );
    }

    #[test]
    fn closed_answers_a_syn_with_rst_ack() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Closed);
        let r = arrive(&c, &mut e, seg(Flags::SYN, 5, 0, 0));
        assert_eq!(reply(&r), (Flags::RST | Flags::ACK, 0, 6));
    }

    #[test]
    fn closed_ignores_a_rst() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Closed);
        assert_eq!(arrive(&c, &mut e, seg(Flags::RST, 5, 0, 0)).reply, None);
    }

    #[test]
    fn listen_takes_a_syn_into_syn_received() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Listen);
        e.iss = 8;
        e.app_inc = 2;
        let r = arrive(&c, &mut e, seg(Flags::SYN, 3, 0, 0));
        assert_eq!(e.state, TcpState::SynReceived);
        assert_eq!(e.inc, 2);
        assert_eq!(reply(&r), (Flags::SYN | Flags::ACK, 8, 4));
    }

    #[test]
    fn listen_answers_an_ack_with_rst() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Listen);
        let r = arrive(&c, &mut e, seg(Flags::ACK, 3, 9, 0));
        assert_eq!(reply(&r), (Flags::RST, 9, 0));
        assert_eq!(e.state, TcpState::Listen);
    }

    #[test]
    fn syn_sent_answers_an_unacceptable_ack_with_rst_and_stays() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Established);
        e.state = TcpState::SynSent;
        e.iss = 8;
        e.snd_una = 8;
        e.snd_nxt = 9;
        let r = arrive(&c, &mut e, seg(Flags::ACK, 2, 3, 0));
        assert_eq!(reply(&r), (Flags::RST, 3, 0));
        assert_eq!(e.state, TcpState::SynSent);
    }

    #[test]
    fn syn_sent_takes_a_syn_ack_into_established() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Established);
        e.state = TcpState::SynSent;
        e.iss = 8;
        e.snd_una = 8;
        e.snd_nxt = 9;
        e.rtx = 2;
        let r = arrive(&c, &mut e, seg(Flags::SYN | Flags::ACK, 4, 9, 0));
        assert_eq!(e.state, TcpState::Established);
        assert_eq!((e.rcv_nxt, e.snd_una, e.rtx), (5, 9, 0));
        assert_eq!(reply(&r), (Flags::ACK, 9, 5));
    }

    #[test]
    fn unacceptable_segment_is_answered_with_an_ack() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Established);
        let r = arrive(&c, &mut e, seg(Flags::ACK, 9, 1, 1));
        assert_eq!(reply(&r), (Flags::ACK, 1, 1));
        assert_eq!(e.rcv_nxt, 1, "nothing delivered");
    }

    #[test]
    fn rst_in_window_but_not_exact_gets_a_challenge_ack() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Established);
        let r = arrive(&c, &mut e, seg(Flags::RST, 2, 0, 0));
        assert_eq!(reply(&r), (Flags::ACK, 1, 1));
        assert_eq!(e.state, TcpState::Established);
    }

    #[test]
    fn exact_rst_resets_established_and_the_application_sees_it() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Established);
        let r = arrive(&c, &mut e, seg(Flags::RST, 1, 0, 0));
        assert_eq!(e.state, TcpState::Closed);
        assert!(e.app_closed);
        assert_eq!(
            r.events.reset,
            Some(ResetEvent {
                at: Side::B,
                inc: 1,
                state: TcpState::Established
            })
        );
    }

    #[test]
    fn fin_in_established_enters_close_wait_and_is_acked() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Established);
        let r = arrive(&c, &mut e, seg(Flags::FIN | Flags::ACK, 1, 1, 0));
        assert_eq!(e.state, TcpState::CloseWait);
        assert_eq!(reply(&r), (Flags::ACK, 1, 2));
    }

    #[test]
    fn fin_acking_our_fin_goes_from_fin_wait_1_to_time_wait() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::FinWait1);
        e.rtx = 2;
        let r = arrive(&c, &mut e, seg(Flags::FIN | Flags::ACK, 1, 2, 0));
        assert_eq!(e.state, TcpState::TimeWait);
        assert_eq!((e.tw, e.rtx), (4, 0));
        assert_eq!(reply(&r), (Flags::ACK, 2, 2));
    }

    #[test]
    fn simultaneous_close_goes_through_closing() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::FinWait1);
        arrive(&c, &mut e, seg(Flags::FIN | Flags::ACK, 1, 1, 0));
        assert_eq!(e.state, TcpState::Closing);
        arrive(&c, &mut e, seg(Flags::ACK, 2, 2, 0));
        assert_eq!(e.state, TcpState::TimeWait);
    }

    #[test]
    fn last_ack_closes_when_its_fin_is_acked() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::LastAck);
        let r = arrive(&c, &mut e, seg(Flags::ACK, 2, 2, 0));
        assert_eq!(e.state, TcpState::Closed);
        assert_eq!(r.reply, None);
    }

    #[test]
    fn out_of_order_fin_is_held_until_the_data_before_it_arrives() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Established);
        arrive(&c, &mut e, seg(Flags::FIN | Flags::ACK, 2, 1, 0));
        assert_eq!((e.state, e.held.len()), (TcpState::Established, 1));
        let r = arrive(&c, &mut e, seg(Flags::ACK, 1, 1, 1));
        assert_eq!(e.state, TcpState::CloseWait);
        assert_eq!(reply(&r), (Flags::ACK, 1, 3), "data and FIN acked at once");
        assert!(e.held.is_empty());
    }

    #[test]
    fn time_wait_re_acks_a_retransmitted_fin_and_restarts() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::TimeWait);
        e.tw = 1;
        let mut fin = seg(Flags::FIN | Flags::ACK, 1, 2, 0);
        fin.rexmit = true;
        let r = arrive(&c, &mut e, fin);
        assert_eq!(reply(&r), (Flags::ACK, 2, 2));
        assert_eq!(e.tw, 4, "timer restarted to 2MSL");
        assert!(r.events.fin_reacked_in_time_wait);
    }

    #[test]
    fn fin_only_restart_does_not_restart_on_retransmitted_data() {
        let c = cfg(Preset::TimeWaitRestartFinOnly);
        let mut e = ep(&c, TcpState::TimeWait);
        e.tw = 1;
        let r = arrive(&c, &mut e, seg(Flags::ACK, 0, 2, 1));
        assert_eq!(reply(&r), (Flags::ACK, 2, 2));
        assert_eq!(e.tw, 1);
        assert!(r.events.old_dup_discarded_in_time_wait);
    }

    #[test]
    fn rfc1337_ignores_rst_in_time_wait() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::TimeWait);
        let r = arrive(&c, &mut e, seg(Flags::RST, 2, 0, 0));
        assert_eq!((e.state, r.reply), (TcpState::TimeWait, None));
    }

    #[test]
    fn rfc9293_exact_rst_kills_time_wait() {
        let c = cfg(Preset::Rfc9293);
        let mut e = ep(&c, TcpState::TimeWait);
        arrive(&c, &mut e, seg(Flags::RST, 2, 0, 0));
        assert_eq!(e.state, TcpState::Closed);
    }

    #[test]
    fn rfc9293_in_window_rst_gets_a_challenge_ack_in_time_wait() {
        let c = cfg(Preset::Rfc9293);
        let mut e = ep(&c, TcpState::TimeWait);
        let r = arrive(&c, &mut e, seg(Flags::RST, 3, 0, 0));
        assert_eq!(e.state, TcpState::TimeWait);
        assert_eq!(reply(&r), (Flags::ACK, 2, 2));
    }

    #[test]
    fn kill_any_rst_kills_time_wait_out_of_window() {
        let c = cfg(Preset::RstKillsTimeWait);
        let mut e = ep(&c, TcpState::TimeWait);
        arrive(&c, &mut e, seg(Flags::RST, 12, 0, 0));
        assert_eq!(e.state, TcpState::Closed);
    }

    #[test]
    fn a_listener_takes_over_when_time_wait_is_killed() {
        let c = cfg(Preset::Rfc9293);
        let mut e = time_wait_with_listener(&c);
        arrive(&c, &mut e, seg(Flags::RST, 2, 0, 0));
        assert_eq!((e.state, e.inc), (TcpState::Listen, 2));
    }

    #[test]
    fn rfc_syn_in_time_wait_gets_a_challenge_ack() {
        let c = cfg(Preset::Rfc1337);
        let mut e = time_wait_with_listener(&c);
        let r = arrive(&c, &mut e, seg(Flags::SYN, 8, 0, 0));
        assert_eq!(e.state, TcpState::TimeWait);
        assert_eq!(reply(&r), (Flags::ACK, 2, 2));
    }

    #[test]
    fn linux_newer_syn_reopens_with_an_iss_above_the_old_snd_nxt() {
        let c = cfg(Preset::LinuxRfc1337);
        let mut e = time_wait_with_listener(&c);
        let r = arrive(&c, &mut e, seg(Flags::SYN, 8, 0, 0));
        assert_eq!((e.state, e.inc), (TcpState::SynReceived, 2));
        // SND.NXT 2 + window 4 + 2.
        assert_eq!(reply(&r), (Flags::SYN | Flags::ACK, 8, 9));
    }

    #[test]
    fn linux_older_syn_is_acked_without_reopening() {
        let c = cfg(Preset::LinuxRfc1337);
        let mut e = time_wait_with_listener(&c);
        let r = arrive(&c, &mut e, seg(Flags::SYN, 0, 0, 0));
        assert_eq!(e.state, TcpState::TimeWait);
        assert_eq!(reply(&r), (Flags::ACK, 2, 2));
    }

    /// `s` carrying the Timestamps option with TSval `ts`.
    fn with_ts(mut s: Segment, ts: u32) -> Segment {
        s.ts = Some(ts);
        s
    }

    #[test]
    fn linux_syn_below_rcv_nxt_with_a_newer_timestamp_reopens() {
        let c = cfg(Preset::LinuxTimestamps);
        let mut e = time_wait_with_listener(&c);
        assert_eq!(
            e.ts_recent,
            Some(1),
            "the first incarnation used timestamps"
        );
        let r = arrive(&c, &mut e, with_ts(seg(Flags::SYN, 0, 0, 0), 2));
        assert_eq!(
            (e.state, e.inc, e.ts_recent),
            (TcpState::SynReceived, 2, Some(2))
        );
        assert_eq!(reply(&r), (Flags::SYN | Flags::ACK, 8, 1));
        assert!(
            r.reply.is_some_and(|g| g.ts.is_some()),
            "the SYN-ACK carries TSval"
        );
    }

    #[test]
    fn linux_syn_above_rcv_nxt_with_an_older_timestamp_fails_paws_and_is_acked() {
        let c = cfg(Preset::LinuxTimestamps);
        let mut e = time_wait_with_listener(&c);
        e.ts_recent = Some(5);
        let r = arrive(&c, &mut e, with_ts(seg(Flags::SYN, 8, 0, 0), 4));
        assert_eq!(e.state, TcpState::TimeWait);
        assert_eq!(reply(&r), (Flags::ACK, 2, 2));
    }

    #[test]
    fn rfc6191_drops_a_syn_with_the_same_timestamp_and_a_lower_sequence_number_silently() {
        let c = cfg(Preset::Rfc6191);
        let mut e = time_wait_with_listener(&c);
        // RCV.NXT is 2 and TS.Recent 1: the same timestamp with SEQ 0 is
        // neither newer nor at a higher sequence number.
        let r = arrive(&c, &mut e, with_ts(seg(Flags::SYN, 0, 0, 0), 1));
        assert_eq!((e.state, r.reply), (TcpState::TimeWait, None));
    }

    #[test]
    fn rfc6191_reopens_on_the_same_timestamp_with_a_higher_sequence_number() {
        let c = cfg(Preset::Rfc6191);
        let mut e = time_wait_with_listener(&c);
        let r = arrive(&c, &mut e, with_ts(seg(Flags::SYN, 8, 0, 0), 1));
        assert_eq!(
            (e.state, reply(&r).0),
            (TcpState::SynReceived, Flags::SYN | Flags::ACK)
        );
    }

    #[test]
    fn rfc6191_reopens_on_a_newer_timestamp_below_rcv_nxt() {
        let c = cfg(Preset::Rfc6191);
        let mut e = time_wait_with_listener(&c);
        let r = arrive(&c, &mut e, with_ts(seg(Flags::SYN, 0, 0, 0), 2));
        assert_eq!(
            (e.state, reply(&r).0),
            (TcpState::SynReceived, Flags::SYN | Flags::ACK)
        );
    }

    #[test]
    fn a_reused_connection_keeps_ts_recent_and_paws_drops_an_old_syn_in_syn_sent() {
        let c = cfg(Preset::LinuxTwReuse);
        let mut e = ep(&c, TcpState::TimeWait);
        e.ts_recent = Some(3);
        e.app_closed = true;
        let iss = reopen_iss(&c, &e);
        let syn = e.app_connect(&c, Side::A, iss);
        assert_eq!(
            (e.state, e.ts_recent, syn.seq),
            (TcpState::SynSent, Some(3), iss)
        );
        // A SYN without ACK whose timestamp is older than TS.Recent: dropped.
        let r = arrive(&c, &mut e, with_ts(seg(Flags::SYN, 5, 0, 0), 2));
        assert_eq!((e.state, r.reply), (TcpState::SynSent, None));
        // A segment with an unacceptable ACK is reset whatever its timestamp
        // (Linux checks the ACK before PAWS in SYN-SENT).
        let r = arrive(&c, &mut e, with_ts(seg(Flags::ACK, 5, 1, 0), 2));
        assert_eq!(reply(&r).0, Flags::RST);
    }

    /// Linux's RFC 5961 5.2: a FIN whose ACK lies below SND.UNA by more than
    /// the bytes acked so far (here the SYN's one) is an earlier
    /// incarnation's and gets a challenge ACK; RFC 9293's base rule ignores
    /// the old ACK and takes the FIN.
    #[test]
    fn linux_refuses_a_fin_whose_ack_is_older_than_its_bytes_acked() {
        let c = cfg(Preset::Linux);
        let mut e = ep(&c, TcpState::Established);
        e.iss = 6;
        e.snd_una = 7;
        e.snd_nxt = 7;
        let r = arrive(&c, &mut e, seg(Flags::FIN | Flags::ACK, 1, 2, 0));
        assert_eq!((e.state, e.rcv_nxt), (TcpState::Established, 1));
        assert_eq!(reply(&r), (Flags::ACK, 7, 1), "a challenge ACK");
        let c = cfg(Preset::Rfc1337);
        let r = arrive(&c, &mut e, seg(Flags::FIN | Flags::ACK, 1, 2, 0));
        assert_eq!((e.state, e.rcv_nxt), (TcpState::CloseWait, 2));
        assert_eq!(reply(&r), (Flags::ACK, 7, 2));
    }

    /// Why Linux's reusing ISS is old SND.NXT + 65535 + 2: the server's old
    /// FIN, retransmitted from LAST-ACK, acknowledges the old SND.NXT, which
    /// lies below the reused connection's SND.UNA by more than the SYN it
    /// has had acknowledged. Linux answers with a challenge ACK (seen in the
    /// replay of `cx-linux-tw-reuse-ends-agree-sut-a`).
    #[test]
    fn a_reusing_connection_refuses_the_old_fin_its_iss_puts_out_of_reach() {
        let c = cfg(Preset::LinuxTwReuse);
        let mut e = ep(&c, TcpState::TimeWait);
        e.ts_recent = Some(1);
        e.app_closed = true;
        let iss = reopen_iss(&c, &e);
        e.app_connect(&c, Side::A, iss);
        arrive(
            &c,
            &mut e,
            with_ts(seg(Flags::SYN | Flags::ACK, 0, iss + 1, 0), 2),
        );
        assert_eq!((e.state, e.rcv_nxt), (TcpState::Established, 1));
        let r = arrive(
            &c,
            &mut e,
            with_ts(seg(Flags::FIN | Flags::ACK, 1, 2, 0), 2),
        );
        assert_eq!((e.state, e.rcv_nxt), (TcpState::Established, 1));
        assert_eq!(reply(&r), (Flags::ACK, iss + 1, 1), "a challenge ACK");
    }

    /// The bound is min(window, bytes acked): an ACK within it is a
    /// duplicate and the segment goes on.
    #[test]
    fn linux_takes_a_duplicate_ack_within_the_bytes_acked() {
        let c = cfg(Preset::Linux);
        let mut e = ep(&c, TcpState::Established);
        e.snd_una = 3;
        e.snd_nxt = 3;
        // Bytes acked: 3 (SYN and two data bytes), window 4: ACK 0 and up pass.
        let r = arrive(&c, &mut e, seg(Flags::ACK, 1, 0, 1));
        assert_eq!(e.rcv_nxt, 2, "the data byte is taken");
        assert_eq!(reply(&r), (Flags::ACK, 3, 2));
        e.iss = 1;
        let r = arrive(&c, &mut e, seg(Flags::ACK, 2, 0, 1));
        assert_eq!(e.rcv_nxt, 2, "ACK 0 is below 3 - 2: refused");
        assert_eq!(reply(&r), (Flags::ACK, 3, 2));
    }

    #[test]
    fn paws_drops_an_older_segment_with_an_ack_but_not_a_rst() {
        let c = cfg(Preset::LinuxTimestamps);
        let mut e = ep(&c, TcpState::Established);
        e.ts_recent = Some(3);
        let r = arrive(&c, &mut e, with_ts(seg(Flags::ACK, 1, 1, 1), 2));
        assert_eq!((e.rcv_nxt, reply(&r)), (1, (Flags::ACK, 1, 1)));
        let r = arrive(&c, &mut e, with_ts(seg(Flags::ACK, 1, 1, 1), 3));
        assert_eq!(e.rcv_nxt, 2, "a current timestamp is accepted");
        assert!(r.reply.is_some());
        let r = arrive(&c, &mut e, with_ts(seg(Flags::RST, 2, 0, 0), 1));
        assert_eq!(
            (e.state, r.reply),
            (TcpState::Closed, None),
            "RSTs are exempt from PAWS"
        );
    }

    #[test]
    fn linux_newer_syn_without_a_listener_is_acked() {
        let c = cfg(Preset::LinuxRfc1337);
        let mut e = ep(&c, TcpState::TimeWait);
        let r = arrive(&c, &mut e, seg(Flags::SYN, 8, 0, 0));
        assert_eq!(e.state, TcpState::TimeWait);
        assert_eq!(reply(&r), (Flags::ACK, 2, 2));
    }

    #[test]
    fn linux_exact_rst_kills_time_wait_unless_rfc1337() {
        let mut e = ep(&cfg(Preset::Linux), TcpState::TimeWait);
        arrive(&cfg(Preset::Linux), &mut e, seg(Flags::RST, 2, 0, 0));
        assert_eq!(e.state, TcpState::Closed);
        let c = cfg(Preset::LinuxRfc1337);
        let mut e = ep(&c, TcpState::TimeWait);
        arrive(&c, &mut e, seg(Flags::RST, 2, 0, 0));
        assert_eq!(e.state, TcpState::TimeWait);
    }

    #[test]
    fn linux_exact_bare_ack_restarts_time_wait_silently() {
        let c = cfg(Preset::LinuxRfc1337);
        let mut e = ep(&c, TcpState::TimeWait);
        e.tw = 1;
        let r = arrive(&c, &mut e, seg(Flags::ACK, 2, 2, 0));
        assert_eq!((e.tw, r.reply), (4, None));
    }

    #[test]
    fn unchecked_syn_reopens_with_the_listeners_own_iss() {
        let c = cfg(Preset::SynReopensTimeWaitUnchecked);
        let mut e = time_wait_with_listener(&c);
        let r = arrive(&c, &mut e, seg(Flags::SYN, 0, 0, 0));
        assert_eq!(e.state, TcpState::SynReceived);
        assert_eq!(reply(&r), (Flags::SYN | Flags::ACK, 0, 1));
    }

    #[test]
    fn without_time_wait_the_last_ack_is_built_before_the_tcb_goes() {
        let c = cfg(Preset::NoTimeWait);
        let mut e = ep(&c, TcpState::FinWait2);
        let r = arrive(&c, &mut e, seg(Flags::FIN | Flags::ACK, 1, 2, 0));
        assert_eq!(e.state, TcpState::Closed);
        assert_eq!(reply(&r), (Flags::ACK, 2, 2));
    }

    #[test]
    fn an_old_ack_that_acknowledges_new_data_is_a_cross_incarnation_acceptance() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Established);
        e.inc = 2;
        e.snd_nxt = 2;
        let r = arrive(&c, &mut e, seg(Flags::ACK, 1, 2, 0));
        assert_eq!(
            e.snd_una, 2,
            "the old ACK acknowledged a byte never received"
        );
        assert_eq!(r.events.cross.map(|x| x.kind), Some(CrossKind::Ack));
    }

    #[test]
    fn an_old_syn_taken_by_a_listener_is_a_cross_incarnation_acceptance() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Listen);
        e.app_inc = 3;
        e.inc = 3;
        let r = arrive(&c, &mut e, seg(Flags::SYN, 5, 0, 0));
        assert_eq!(e.state, TcpState::SynReceived);
        assert_eq!(r.events.cross.map(|x| x.kind), Some(CrossKind::Syn));
    }

    #[test]
    fn a_segment_from_another_incarnation_is_recorded_when_accepted() {
        let c = cfg(Preset::Rfc1337);
        let mut e = ep(&c, TcpState::Established);
        e.inc = 2;
        let r = arrive(&c, &mut e, seg(Flags::ACK, 1, 1, 1));
        assert_eq!(
            r.events.cross,
            Some(CrossEvent {
                at: Side::B,
                kind: CrossKind::Data,
                from_inc: 1,
                to_inc: 2
            })
        );
    }
}
