//! What the SUT was seen to do at the step where a run stopped matching its
//! spec, in one canonical form shared by the model oracle and the replay
//! engine: a segment (flags, seq, ack, len in the spec's relative numbers),
//! nothing within the deadline, a socket state, or a refused application
//! call. A conformance verdict compares a stack's observation with the
//! model's, and a reviewed known departure is pinned by its printed form,
//! so the form must be stable across runs: it carries no times and no
//! random numbers.

use crate::values::{Flags, SeqValue};
use std::fmt;

/// The origins of one incarnation's relative numbers: each side's ISN,
/// the SUT's once its SYN (or SYN-ACK) has been seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origins {
    pub peer: u32,
    pub sut: Option<u32>,
    /// One past the highest sequence number the SUT was seen to send in
    /// this incarnation (SYN and FIN count one each): its SND.NXT, from
    /// which a later incarnation's `sut-isn: {snd-nxt: N}` counts.
    pub snd_nxt: Option<u32>,
    /// `sut` was stated by the spec (`sut-isn`), not learned from a SYN, so
    /// the SUT's SYN is checked against it.
    pub isn_stated: bool,
}

impl Origins {
    /// The first incarnation's origins: the peer's ISN, the SUT's unknown.
    pub fn new(peer: u32) -> Origins {
        Origins {
            peer,
            sut: None,
            snd_nxt: None,
            isn_stated: false,
        }
    }

    /// The origins of the incarnation that `m` starts after `prev`.
    pub fn next(
        prev: &Origins,
        m: &crate::format::Incarnation,
    ) -> Result<Origins, crate::values::SutIsnUnknown> {
        let sut = m
            .sut_isn
            .map(|s| s.resolve(prev.sut, prev.snd_nxt))
            .transpose()?;
        Ok(Origins {
            peer: m.peer_isn.resolve(prev.peer),
            sut,
            snd_nxt: None,
            isn_stated: sut.is_some(),
        })
    }

    /// [`Origins::next`] for a step: why the stated ISN cannot be known is
    /// the step's mismatch.
    pub fn next_step(prev: &Origins, m: &crate::format::Incarnation) -> Result<Origins, Mismatch> {
        Origins::next(prev, m).map_err(|e| {
            let want = m.sut_isn.map_or(String::new(), |s| s.to_string());
            Mismatch::new(
                format!("the SUT's ISN {want} in the next incarnation"),
                format!("cannot be known: {e}"),
                Observed::NoSutIsn,
            )
        })
    }

    /// The log line of incarnation `n` (1-based) starting with these origins.
    pub fn started(&self, n: usize) -> String {
        let sut = self.sut.map_or(String::new(), |s| format!(", SUT ISN {s}"));
        format!("incarnation {n} (peer ISN {}{sut})", self.peer)
    }

    /// The SUT sent a segment of this incarnation: `seq`, `len` payload
    /// bytes, and SYN and FIN as `flags` say. A RST takes no sequence space.
    pub fn sent(&mut self, seq: u32, len: usize, flags: Flags) {
        if flags.has(Flags::RST) {
            return;
        }
        let span = len as u32 + u32::from(flags.has(Flags::SYN)) + u32::from(flags.has(Flags::FIN));
        let end = seq.wrapping_add(span);
        // Sequence-space order (RFC 9293 3.4): a retransmission is not newer.
        if self
            .snd_nxt
            .is_none_or(|n| (end.wrapping_sub(n) as i32) > 0)
        {
            self.snd_nxt = Some(end);
        }
    }

    /// What a SUT segment matching `e` (with sequence number `seq`, checked
    /// in incarnation `target`'s numbers) tells about the SUT's ISNs: an
    /// unknown ISN of `target` comes from a SYN, and a SYN written in an
    /// older incarnation's numbers (a reused TIME-WAIT 4-tuple, whose ISN
    /// the old SND.NXT fixes) still gives the current incarnation its ISN.
    pub fn learn(incs: &mut [Origins], e: &crate::format::Expect, seq: u32, target: usize) {
        let Some(cur) = incs.len().checked_sub(1) else {
            return;
        };
        if incs[target].sut.is_none() {
            incs[target].sut = e.isn_from(seq);
        }
        if target != cur && e.flags.has(Flags::SYN) && incs[cur].sut.is_none() {
            incs[cur].sut = Some(seq);
        }
    }
}

/// A sequence number the SUT sent, relative to the newest SUT ISN known at
/// or before the incarnation it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SutSeq {
    /// Relative to this incarnation's SUT ISN.
    Rel(i64),
    /// Relative to the SUT ISN of an earlier incarnation (1-based), when
    /// this one's is not known yet: a challenge ACK to a SYN of a new
    /// incarnation is in the old connection's numbers.
    Earlier { inc: u32, rel: i64 },
    /// No SUT ISN known in any incarnation so far: the absolute number,
    /// which then comes from the spec's own numbers (a RST takes SEG.ACK).
    Abs(u32),
    /// The ISN of a SYN the spec did not expect: the stack's own choice
    /// (random on most stacks, RFC 6528), so not compared. What a reopened
    /// connection's ISN must satisfy is measured by the probes instead.
    Isn,
}

impl fmt::Display for SutSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SutSeq::Rel(v) => write!(f, "{v}"),
            SutSeq::Earlier { inc, rel } => write!(f, "{rel}@inc{inc}"),
            SutSeq::Abs(v) => write!(f, "{{abs: {v}}}"),
            SutSeq::Isn => f.write_str("isn"),
        }
    }
}

impl SutSeq {
    /// `seq` read against the origins of incarnation `target` (0-based) and,
    /// when the SUT's ISN of that one is unknown, the newest earlier one.
    pub fn of(seq: u32, incs: &[Origins], target: usize) -> SutSeq {
        let rel = |base: u32| i64::from(seq.wrapping_sub(base) as i32);
        let upto = target.min(incs.len().saturating_sub(1));
        if let Some(base) = incs.get(upto).and_then(|o| o.sut) {
            return SutSeq::Rel(rel(base));
        }
        (0..upto)
            .rev()
            .find_map(|i| {
                incs[i].sut.map(|base| SutSeq::Earlier {
                    inc: i as u32 + 1,
                    rel: rel(base),
                })
            })
            .unwrap_or(SutSeq::Abs(seq))
    }
}

/// A segment from the SUT, as far as a verdict compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SegmentSeen {
    /// Without PSH, which no spec or model tells apart.
    pub flags: Flags,
    pub seq: SutSeq,
    /// Relative to the peer's ISN; `None` without the ACK bit.
    pub ack: Option<i64>,
    pub len: usize,
}

impl SegmentSeen {
    /// A segment of incarnation `target` (0-based) read against `incs`.
    pub fn new(
        flags: Flags,
        seq: u32,
        ack: u32,
        len: usize,
        incs: &[Origins],
        target: usize,
    ) -> SegmentSeen {
        let peer = incs
            .get(target.min(incs.len().saturating_sub(1)))
            .map_or(0, |o| o.peer);
        SegmentSeen {
            flags: flags.without_psh(),
            // The ISN is the stack's own choice (RFC 6528), so not a number
            // to compare: a SYN at the ISN the spec stated for this
            // incarnation is at 0, any other at an ISN of its own.
            seq: match incs.get(target) {
                Some(o) if flags.has(Flags::SYN) && o.isn_stated && o.sut == Some(seq) => {
                    SutSeq::Rel(0)
                }
                _ if flags.has(Flags::SYN) => SutSeq::Isn,
                _ => SutSeq::of(seq, incs, target),
            },
            ack: flags
                .has(Flags::ACK)
                .then(|| match SeqValue::relative(ack, Some(peer)) {
                    SeqValue::Rel(v) => v,
                    SeqValue::Abs(v) => i64::from(v),
                }),
            len,
        }
    }
}

impl fmt::Display for SegmentSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} seq={}", self.flags, self.seq)?;
        if let Some(a) = self.ack {
            write!(f, " ack={a}")?;
        }
        write!(f, " len={}", self.len)
    }
}

/// What the SUT did at a failed step.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Observed {
    /// It sent this segment (where one was expected but differed, or where
    /// none was allowed).
    Segment(SegmentSeen),
    /// It sent nothing within the step's deadline.
    Nothing,
    /// Its socket was in this state (a state check failed), written as the
    /// spec writes states.
    State(String),
    /// Its socket was in TIME-WAIT, but for less or more time than the
    /// check allows.
    TimeLeftOutOfRange,
    /// The application call was refused.
    Refused,
    /// The application call succeeded where the spec expects a refusal.
    Allowed,
    /// A relative ack needed the SUT's ISN, and it never sent a SYN.
    NoSutIsn,
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observed::Segment(s) => write!(f, "{s}"),
            Observed::Nothing => f.write_str("nothing"),
            Observed::State(s) => write!(f, "state {s}"),
            Observed::TimeLeftOutOfRange => f.write_str("TIME-WAIT time left out of range"),
            Observed::Refused => f.write_str("call refused"),
            Observed::Allowed => f.write_str("call allowed"),
            Observed::NoSutIsn => f.write_str("no SUT ISN"),
        }
    }
}

/// Why a step failed: what it expected, what happened (for people, with
/// the fields that differ), and the canonical observation (for verdicts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: String,
    pub actual: String,
    pub observed: Observed,
}

impl Mismatch {
    pub fn new(expected: impl Into<String>, actual: impl Into<String>, observed: Observed) -> Self {
        Mismatch {
            expected: expected.into(),
            actual: actual.into(),
            observed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incs() -> Vec<Origins> {
        vec![
            Origins {
                sut: Some(5000),
                ..Origins::new(1000)
            },
            Origins::new(9000),
        ]
    }

    #[test]
    fn a_challenge_ack_to_a_new_incarnations_syn_counts_from_the_old_isn() {
        let s = SegmentSeen::new(Flags::ACK, 5002, 1002, 0, &incs(), 1);
        assert_eq!(s.to_string(), "A seq=2@inc1 ack=-7998 len=0");
    }

    #[test]
    fn a_segment_of_the_current_incarnation_is_relative_and_drops_psh() {
        let s = SegmentSeen::new(
            Flags::ACK.union(Flags::PSH).union(Flags::FIN),
            5001,
            1002,
            3,
            &incs(),
            0,
        );
        assert_eq!(s.to_string(), "FA seq=1 ack=2 len=3");
    }

    #[test]
    fn an_unexpected_syns_sequence_number_is_its_isn_and_not_compared() {
        let s = SegmentSeen::new(Flags::SYN.union(Flags::ACK), 123_456, 9001, 0, &incs(), 1);
        assert_eq!(s.to_string(), "SA seq=isn ack=1 len=0");
    }

    #[test]
    fn without_any_sut_isn_the_number_is_absolute_and_no_ack_bit_means_no_ack() {
        let none = [Origins::new(7)];
        let s = SegmentSeen::new(Flags::RST, 42, 99, 0, &none, 0);
        assert_eq!(s.to_string(), "R seq={abs: 42} len=0");
    }

    #[test]
    fn a_stated_isn_counts_from_the_old_snd_nxt_and_makes_the_syn_compared() {
        let mut old = Origins {
            sut: Some(5000),
            ..Origins::new(1000)
        };
        old.sent(5000, 0, Flags::SYN.union(Flags::ACK));
        old.sent(5001, 10, Flags::ACK);
        old.sent(5011, 0, Flags::FIN.union(Flags::ACK));
        // A retransmission of the SYN-ACK does not move SND.NXT back.
        old.sent(5000, 0, Flags::SYN.union(Flags::ACK));
        old.sent(7, 0, Flags::RST);
        assert_eq!(old.snd_nxt, Some(5012));
        let m = crate::format::Incarnation {
            peer_isn: SeqValue::Rel(100_000),
            sut_isn: Some(crate::values::SutIsn::SndNxt(65537)),
        };
        let new = Origins::next(&old, &m).expect("SND.NXT is known");
        assert_eq!(
            (new.peer, new.sut, new.isn_stated),
            (101_000, Some(70_549), true)
        );
        let incs = [old, new];
        let right = SegmentSeen::new(Flags::SYN.union(Flags::ACK), 70_549, 101_001, 0, &incs, 1);
        let wrong = SegmentSeen::new(Flags::SYN.union(Flags::ACK), 123, 101_001, 0, &incs, 1);
        assert_eq!(right.to_string(), "SA seq=0 ack=1 len=0");
        // Another ISN is the stack's own choice: no random number in a
        // verdict's observation.
        assert_eq!(wrong.to_string(), "SA seq=isn ack=1 len=0");
    }

    #[test]
    fn a_stated_isn_needs_what_it_counts_from() {
        let m = |s| crate::format::Incarnation {
            peer_isn: SeqValue::Rel(1),
            sut_isn: Some(s),
        };
        let nothing = Origins::new(1000);
        assert_eq!(
            Origins::next(&nothing, &m(crate::values::SutIsn::SndNxt(1))),
            Err(crate::values::SutIsnUnknown::NoSndNxt)
        );
        assert_eq!(
            Origins::next(&nothing, &m(crate::values::SutIsn::Seq(SeqValue::Rel(9)))),
            Err(crate::values::SutIsnUnknown::NoIsn)
        );
        let abs = Origins::next(&nothing, &m(crate::values::SutIsn::Seq(SeqValue::Abs(9))));
        assert_eq!(abs.map(|o| o.sut), Ok(Some(9)));
    }
}
