//! TCP segments as the model sees them: control bits, sequence and
//! acknowledgment numbers, a payload length, an age in ticks, and the ghost
//! incarnation of the sender.

use crate::seq::Seq;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the two endpoints. The model is asymmetric only in names: `A` is
/// the side whose application is first offered the close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::A, Side::B];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn peer(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::A => "A",
            Side::B => "B",
        })
    }
}

/// TCP control bits used by the model (RFC 9293 section 3.1).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct Flags(u8);

impl Flags {
    pub const SYN: Flags = Flags(1);
    pub const ACK: Flags = Flags(2);
    pub const FIN: Flags = Flags(4);
    pub const RST: Flags = Flags(8);
    pub const NONE: Flags = Flags(0);

    pub const fn union(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }

    pub const fn has(self, o: Flags) -> bool {
        self.0 & o.0 == o.0
    }

    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, o: Flags) -> Flags {
        self.union(o)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (flag, name) in [
            (Flags::SYN, "SYN"),
            (Flags::FIN, "FIN"),
            (Flags::RST, "RST"),
            (Flags::ACK, "ACK"),
        ] {
            if self.has(flag) {
                parts.push(name);
            }
        }
        if parts.is_empty() {
            f.write_str("-")
        } else {
            f.write_str(&parts.join("|"))
        }
    }
}

/// A segment in flight. Field order matters: the network keeps segments
/// sorted, and two segments equal except for age are different segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Segment {
    pub from: Side,
    pub flags: Flags,
    pub seq: Seq,
    pub ack: Seq,
    /// Payload bytes.
    pub len: u16,
    /// RFC 7323 TSval, when the segment carries the Timestamps option. The
    /// model's clocks are coarse: an endpoint's clock reads its application's
    /// incarnation, so timestamps grow across incarnations (RFC 6191's
    /// premise) and are equal within one.
    pub ts: Option<u32>,
    /// Ticks spent in the network; the segment dies when this reaches MSL.
    pub age: u8,
    /// Ghost: the incarnation that sent it (for a RST sent in reply, the
    /// incarnation of the segment that provoked it).
    pub inc: u8,
    /// Ghost: sent by the retransmission timer (a witness needs to tell a
    /// retransmitted FIN from a network duplicate).
    pub rexmit: bool,
    /// Ghost: the RST of an application's ABORT (SO_LINGER 0). The reset it
    /// causes is what that application asked for, not a failed termination.
    pub abort: bool,
}

impl Segment {
    /// SEG.LEN of RFC 9293: payload plus one for each of SYN and FIN.
    pub fn seg_len(&self) -> Seq {
        Seq::from(self.len)
            + Seq::from(self.flags.has(Flags::SYN))
            + Seq::from(self.flags.has(Flags::FIN))
    }

    /// A short description in tcpdump's spirit: `A>B FIN|ACK seq=3 ack=9`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}>{} {} seq={}",
            self.from,
            self.from.peer(),
            self.flags,
            self.seq
        );
        if self.flags.has(Flags::ACK) {
            s.push_str(&format!(" ack={}", self.ack));
        }
        if self.len > 0 {
            s.push_str(&format!(" len={}", self.len));
        }
        s.push_str(&format!(" (inc {}, age {}", self.inc, self.age));
        if self.rexmit {
            s.push_str(", retransmission");
        }
        if self.abort {
            s.push_str(", abort");
        }
        s.push(')');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_and_fin_occupy_sequence_space() {
        let s = Segment {
            from: Side::A,
            flags: Flags::FIN | Flags::ACK,
            seq: 3,
            ack: 0,
            len: 1,
            ts: None,
            age: 0,
            inc: 1,
            rexmit: false,
            abort: false,
        };
        assert_eq!(s.seg_len(), 2);
        assert_eq!(s.flags.to_string(), "FIN|ACK");
    }
}
