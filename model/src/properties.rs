//! The properties TIME-WAIT exists for, the witnesses that keep their proofs
//! from being vacuous, and the verdict each variant is expected to get.

use crate::endpoint::TcpState;
use crate::system::{Observe, State, TeardownModel};
use crate::variant::Preset;
use serde::Serialize;
use stateright::{Expectation, Property};

/// The properties, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum PropertyId {
    NoCrossIncarnationDelivery,
    ReliableTerminationReset,
    ReliableTerminationTimeout,
    BothClosed,
    NoHalfOpen,
    EndsAgree,
    TimeWaitReached,
    ClosingReached,
    FinReackedInTimeWait,
    OldDuplicateDiscardedInTimeWait,
    NextIncarnationEstablished,
}

/// What a check concluded about one property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// `always`: no reachable state violates it. `sometimes`: a witness exists.
    Holds,
    /// `always`: a counterexample exists. `sometimes`: no reachable state is a
    /// witness.
    Violated,
    /// The run stopped at a limit before deciding.
    Incomplete,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Incomplete => "incomplete",
        }
    }
}

impl PropertyId {
    pub const ALL: [PropertyId; 11] = [
        PropertyId::NoCrossIncarnationDelivery,
        PropertyId::ReliableTerminationReset,
        PropertyId::ReliableTerminationTimeout,
        PropertyId::BothClosed,
        PropertyId::NoHalfOpen,
        PropertyId::EndsAgree,
        PropertyId::TimeWaitReached,
        PropertyId::ClosingReached,
        PropertyId::FinReackedInTimeWait,
        PropertyId::OldDuplicateDiscardedInTimeWait,
        PropertyId::NextIncarnationEstablished,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PropertyId::NoCrossIncarnationDelivery => "no-cross-incarnation-delivery",
            PropertyId::ReliableTerminationReset => "reliable-termination/reset",
            PropertyId::ReliableTerminationTimeout => "reliable-termination/timeout",
            PropertyId::BothClosed => "both-closed",
            PropertyId::NoHalfOpen => "no-half-open",
            PropertyId::EndsAgree => "ends-agree",
            PropertyId::TimeWaitReached => "witness/time-wait-reached",
            PropertyId::ClosingReached => "witness/closing-reached",
            PropertyId::FinReackedInTimeWait => "witness/fin-reacked-in-time-wait",
            PropertyId::OldDuplicateDiscardedInTimeWait => {
                "witness/old-duplicate-discarded-in-time-wait"
            }
            PropertyId::NextIncarnationEstablished => "witness/next-incarnation-established",
        }
    }

    pub fn from_name(name: &str) -> Option<PropertyId> {
        PropertyId::ALL.into_iter().find(|p| p.name() == name)
    }

    /// One line on what the property says.
    pub fn meaning(self) -> &'static str {
        match self {
            PropertyId::NoCrossIncarnationDelivery => "no segment sent by one incarnation changes the state of another: no data delivered, no FIN, RST or SYN taken, no ACK that moves SND.UNA or completes a handshake",
            PropertyId::ReliableTerminationReset => "no endpoint whose application closed sees its connection reset by its peer (e.g. a retransmitted FIN answered with RST)",
            PropertyId::ReliableTerminationTimeout => "no endpoint whose application closed gives up retransmitting (faults within the retry budget)",
            PropertyId::BothClosed => "every behaviour is finite and ends with both endpoints CLOSED after the last incarnation, each application having closed it without an error (reset or timeout), nothing in flight",
            PropertyId::NoHalfOpen => "no behaviour ends with one end holding a connection that the other end does not hold (e.g. FIN-WAIT-2 forever against a CLOSED peer)",
            PropertyId::EndsAgree => "while both ends hold a synchronized connection of the same incarnation, each one's RCV.NXT lies between the other's SND.UNA and SND.NXT (no RFC 1337 H2 desynchronisation)",
            PropertyId::TimeWaitReached => "some endpoint reaches TIME-WAIT",
            PropertyId::ClosingReached => "some endpoint reaches CLOSING (simultaneous close)",
            PropertyId::FinReackedInTimeWait => "a retransmitted FIN is re-ACKed from TIME-WAIT",
            PropertyId::OldDuplicateDiscardedInTimeWait => "an old duplicate data segment is discarded by TIME-WAIT",
            PropertyId::NextIncarnationEstablished => "a next incarnation is ESTABLISHED on the same 4-tuple",
        }
    }

    pub fn expectation(self) -> Expectation {
        match self {
            PropertyId::NoCrossIncarnationDelivery
            | PropertyId::ReliableTerminationReset
            | PropertyId::ReliableTerminationTimeout
            | PropertyId::BothClosed
            | PropertyId::NoHalfOpen
            | PropertyId::EndsAgree => Expectation::Always,
            _ => Expectation::Sometimes,
        }
    }

    pub fn is_witness(self) -> bool {
        self.expectation() == Expectation::Sometimes
    }

    /// Adds the ghost events this property reads.
    pub fn observe(self, o: &mut Observe) {
        match self {
            PropertyId::NoCrossIncarnationDelivery => o.cross = true,
            PropertyId::ReliableTerminationReset => o.reset = true,
            PropertyId::ReliableTerminationTimeout => o.timeout = true,
            PropertyId::FinReackedInTimeWait => {
                o.fin_reacked = true;
                o.rexmit = true;
            }
            PropertyId::OldDuplicateDiscardedInTimeWait => o.old_dup = true,
            _ => {}
        }
    }

    /// The state predicate: for `always` properties true when the state is
    /// fine, for `sometimes` properties true when it is a witness.
    pub fn condition(self) -> fn(&TeardownModel, &State) -> bool {
        match self {
            // Every acceptance that changes the receiver's state: data, FIN,
            // RST, SYN, and ACKs that move SND.UNA or complete a handshake.
            PropertyId::NoCrossIncarnationDelivery => |_, s| s.ghost.cross.is_none(),
            // Errors after the application closed: errors before it are not
            // about termination (and, in the broken variants, follow from a
            // cross-incarnation delivery, which has its own property).
            PropertyId::ReliableTerminationReset => {
                |_, s| s.ghost.reset.is_none_or(|r| !r.state.terminating())
            }
            PropertyId::ReliableTerminationTimeout => {
                |_, s| s.ghost.timeout.is_none_or(|t| !t.state.terminating())
            }
            PropertyId::BothClosed => |m, s| !m.is_quiescent(s) || all_done(m, s),
            PropertyId::NoHalfOpen => |m, s| !m.is_quiescent(s) || !half_open(s),
            PropertyId::EndsAgree => |m, s| ends_agree(m, s),
            PropertyId::TimeWaitReached => |_, s| any_in(s, TcpState::TimeWait),
            PropertyId::ClosingReached => |_, s| any_in(s, TcpState::Closing),
            PropertyId::FinReackedInTimeWait => |_, s| s.ghost.fin_reacked_in_time_wait,
            PropertyId::OldDuplicateDiscardedInTimeWait => {
                |_, s| s.ghost.old_dup_discarded_in_time_wait
            }
            PropertyId::NextIncarnationEstablished => |_, s| {
                s.eps
                    .iter()
                    .any(|e| e.inc > 1 && e.state == TcpState::Established)
            },
        }
    }

    /// True when `s` is a discovery for this property: a violation of an
    /// `always` property or a witness of a `sometimes` one.
    pub fn is_discovery(self, m: &TeardownModel, s: &State) -> bool {
        let c = (self.condition())(m, s);
        if self.is_witness() {
            c
        } else {
            !c
        }
    }

    pub fn property(self) -> Property<TeardownModel> {
        let cond = self.condition();
        match self.expectation() {
            Expectation::Always => Property::always(self.name(), cond),
            _ => Property::sometimes(self.name(), cond),
        }
    }

    /// The verdict `preset` should get under the default configuration, from
    /// the RFCs' reasoning (README "Reading the verdict table" explains each).
    pub fn expected(self, preset: Preset) -> Verdict {
        use Preset::*;
        use PropertyId::*;
        use Verdict::*;
        match (self, preset) {
            // RFC 1337 hazard H1: a RST provoked by an ACK from TIME-WAIT
            // assassinates it; the next incarnation then meets old segments.
            (NoCrossIncarnationDelivery, Rfc9293 | Linux | RstKillsTimeWait) => Violated,
            // TIME-WAIT too short (or absent) to outlive old duplicates.
            (NoCrossIncarnationDelivery, NoTimeWait | ShortTimeWait | LinuxMsl120) => Violated,
            // The reopened incarnation's window overlaps the old one.
            (NoCrossIncarnationDelivery, SynReopensTimeWaitUnchecked) => Violated,
            // A newer timestamp reopens TIME-WAIT even for a SYN below the
            // old RCV.NXT (RFC 6191, which Linux follows too); an old RST,
            // exempt from PAWS, then resets the new connection. Under
            // tcp_tw_reuse the same, and more.
            (NoCrossIncarnationDelivery, LinuxTimestamps | LinuxTwReuse | Rfc6191) => Violated,
            // With one loss a retransmitted data segment is re-ACKed before a
            // second copy can be sent (RFC 1337's every-ACK restart).
            (NoCrossIncarnationDelivery, Rfc1337 | LinuxRfc1337) => Holds,
            // FreeBSD's FIN-only restart: TIME-WAIT ACKs a retransmitted data
            // segment without restarting, runs out while the RST that the
            // ACK drew from the CLOSED peer is still in flight, and that RST
            // lands exactly on the RCV.NXT of a new incarnation whose ISS is
            // the old RCV.NXT - 1 (README).
            (NoCrossIncarnationDelivery, TimeWaitRestartFinOnly) => Violated,
            // tcp_tw_reuse: the reusing SYN-SENT answers the peer's late ACK
            // of the old FIN with a RST, which resets the peer's LAST-ACK.
            (ReliableTerminationReset, LinuxTwReuse) => Violated,
            // The lost last ACK: the retransmitted FIN meets a CLOSED endpoint.
            (ReliableTerminationReset, NoTimeWait | ShortTimeWait | LinuxMsl120) => Violated,
            (ReliableTerminationReset, _) => Holds,
            (ReliableTerminationTimeout, _) => Holds,
            // Where old segments reach the next incarnation they can leave it
            // half-open or reset: the behaviour ends without both endpoints
            // ESTABLISHED in it.
            (BothClosed, Rfc1337 | LinuxRfc1337) => Holds,
            (BothClosed, _) => Violated,
            // The same old segments leave one end ESTABLISHED or FIN-WAIT-2
            // against a peer that has no connection.
            (NoHalfOpen, Rfc1337 | LinuxRfc1337) => Holds,
            (NoHalfOpen, _) => Violated,
            // An old data segment or ACK taken by the new incarnation moves
            // one end's numbers past what the other sent or received. With
            // timestamps PAWS drops those old segments; only the old RST,
            // exempt from PAWS, crosses, and it resets rather than
            // desynchronises. FreeBSD's rule lets only that RST through too,
            // with the listener at the old ISS; with every listener ISN an
            // old FIN crosses and desynchronises (README, "Worst-case ISNs").
            // Under tcp_tw_reuse the server may listen again from LAST-ACK,
            // so its retransmitted old FIN carries the new incarnation's
            // clock (the model's clock is coarse: it reads the incarnation)
            // and passes PAWS; a client that reconnected from CLOSED after a
            // RST, with a listed ISS, takes it (README). A reusing client
            // refuses it: its ACK is too old (RFC 5961 5.2, as Linux).
            (
                EndsAgree,
                Rfc1337 | LinuxRfc1337 | TimeWaitRestartFinOnly | LinuxTimestamps | Rfc6191,
            ) => Holds,
            (EndsAgree, _) => Violated,
            // Without TIME-WAIT there is nothing to reach or to re-ACK from.
            (
                TimeWaitReached | FinReackedInTimeWait | OldDuplicateDiscardedInTimeWait,
                NoTimeWait,
            ) => Violated,
            (_, _) => Holds,
        }
    }
}

fn any_in(s: &State, st: TcpState) -> bool {
    s.eps.iter().any(|e| e.state == st)
}

/// Nothing in flight, every incarnation used, and the last one ended as
/// the applications wanted: both endpoints CLOSED, each application having
/// closed it itself (no reset, no timeout); or, when the last incarnation
/// only opens (`cfg.last_closes` off), both ESTABLISHED in it. Two ends
/// that disagree (one reset, the other closed) do not count as done.
pub fn all_done(m: &TeardownModel, s: &State) -> bool {
    let last = m.cfg.incarnations;
    let closes = m.closes(last);
    s.net.is_empty()
        && s.eps.iter().all(|e| {
            e.app_inc == last
                && e.listen_iss.is_none()
                && !e.failed
                && if closes {
                    e.state == TcpState::Closed && e.app_closed
                } else {
                    e.inc == last && e.state == TcpState::Established
                }
        })
}

/// One end holds a connection (any state with a TCB) that the other does not
/// hold: it is CLOSED or LISTEN, or its TCB is of another incarnation.
pub fn half_open(s: &State) -> bool {
    let [a, b] = &s.eps;
    match (a.state.has_tcb(), b.state.has_tcb()) {
        (true, true) => a.inc != b.inc,
        (false, false) => false,
        _ => true,
    }
}

/// RFC 1337's hazard H2 is a desynchronised connection: one end has taken
/// bytes the other never sent, or believes acknowledged bytes the other never
/// received. While both ends are past the handshake in the same incarnation,
/// each one's RCV.NXT must lie in the other's [SND.UNA, SND.NXT].
pub fn ends_agree(m: &TeardownModel, s: &State) -> bool {
    let sp = m.cfg.space();
    let synced = |e: &crate::endpoint::Endpoint| {
        !matches!(
            e.state,
            TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::SynReceived
        )
    };
    let [a, b] = &s.eps;
    if !(synced(a) && synced(b) && a.inc == b.inc) {
        return true;
    }
    let within = |tx: &crate::endpoint::Endpoint, rx: &crate::endpoint::Endpoint| {
        sp.le(tx.snd_una, rx.rcv_nxt) && sp.le(rx.rcv_nxt, tx.snd_nxt)
    };
    within(a, b) && within(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn model() -> TeardownModel {
        TeardownModel::new(Config::default(), PropertyId::ALL.to_vec())
    }

    #[test]
    fn ends_agree_while_the_numbers_match_and_not_after_an_old_ack_moves_snd_una() {
        let m = model();
        let mut s = m.initial_state(0, 0);
        assert!(ends_agree(&m, &s));
        // A sent one byte that B has not received yet: still in agreement.
        s.eps[0].snd_nxt = 2;
        assert!(ends_agree(&m, &s));
        // An old ACK made A believe the byte was received: desynchronised.
        s.eps[0].snd_una = 2;
        assert!(!ends_agree(&m, &s));
    }

    #[test]
    fn ends_of_different_incarnations_are_not_compared() {
        let m = model();
        let mut s = m.initial_state(0, 0);
        s.eps[0].inc = 2;
        s.eps[0].snd_una = 9;
        assert!(ends_agree(&m, &s));
    }

    #[test]
    fn half_open_is_one_end_holding_a_connection_the_other_lacks() {
        let m = model();
        let mut s = m.initial_state(0, 0);
        assert!(!half_open(&s), "both ESTABLISHED in incarnation 1");
        s.eps[0].state = TcpState::FinWait2;
        s.eps[1].delete_tcb();
        assert!(half_open(&s), "FIN-WAIT-2 against a CLOSED peer");
        s.eps[0].delete_tcb();
        assert!(!half_open(&s), "both CLOSED");
    }

    #[test]
    fn a_reset_end_is_not_done_even_when_both_are_closed() {
        let cfg = Config {
            incarnations: 1,
            ..Config::default()
        };
        let m = TeardownModel::new(cfg, vec![PropertyId::BothClosed]);
        let mut s = m.initial_state(0, 0);
        for e in s.eps.iter_mut() {
            e.delete_tcb();
            e.app_closed = true;
        }
        assert!(all_done(&m, &s));
        s.eps[1].failed = true;
        assert!(!all_done(&m, &s), "one end saw a reset: the ends disagree");
    }
}
