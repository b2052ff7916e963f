//! The model's parameters, their validation, and the values derived from them
//! (TIME-WAIT length in ticks, the retransmission schedule).

use crate::seq::{Seq, SeqSpace};
use crate::variant::{Behaviour, TimeWaitLen};
use serde::Serialize;
use thiserror::Error;

/// Limits that keep every timer and counter inside a `u8` and the state space
/// finite; beyond them a run would never finish on a 2-core machine anyway.
pub mod limits {
    /// Longest timer, in ticks: the tick horizon.
    pub const TICK_HORIZON: u16 = 64;
    pub const MAX_MSL: u8 = 16;
    pub const MAX_BUDGET: u8 = 4;
    pub const MAX_INCARNATIONS: u8 = 4;
    pub const MAX_RETRIES: u8 = 6;
    pub const MAX_DATA_SENDS: u8 = 3;
    /// ISNs per side: enough for every number of the default 16-number
    /// space, the full set that the worst-case ISN test compares against.
    pub const MAX_ISNS: usize = 16;
    pub const MAX_IDLE_TICKS: u8 = 16;
}

/// The ISS of both directions of the first incarnation. Any other value
/// would add nothing: each direction's numbers are only compared with each
/// other, and every rule is invariant under shifting them all by a constant,
/// so later incarnations' ISNs are what matters, relative to this one.
pub const FIRST_ISS: Seq = 0;

/// The connector's default ISNs in the 16-number space, relative to the old
/// incarnation's numbers (ISS 0; SND.NXT 2 or 3 after its SYN, one data byte
/// and FIN): every ISN whose SYN lands on or just past them (0 to 3: old
/// segments and RSTs fall into the new window, RFC 5961's exact-RCV.NXT
/// test included, and the SYN is not newer than the old RCV.NXT), the
/// first one after them (4: the SYN is newer, RFC 1122 4.2.2.13, and old
/// segments lie just below the window), and one before them (12: the SYN
/// is older and the new window wraps onto the old ISS). None lies half the
/// space away (8), where RFC 1982 comparison is undefined.
/// `timewait isns` compares them with every ISN for both sides (README,
/// "Worst-case ISNs"); `model/tests/isn_worst_case.rs` pins that where it
/// fits a test's time.
pub const DEFAULT_ISNS: [Seq; 6] = [0, 1, 2, 3, 4, 12];

/// The listener's default ISNs: the old ISS, so that the new sequence space
/// overlaps the old one exactly. The comparison with every ISN for both
/// sides is what licenses trying no other.
pub const DEFAULT_LISTENER_ISNS: [Seq; 1] = [FIRST_ISS];

/// Parameters of one model instance. Times are in ticks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Config {
    /// Maximum segment lifetime: a segment whose age reaches `msl` is gone.
    pub msl: u8,
    /// Size of the sequence space (even, at least 8, at most 2^32).
    pub seq_space: u64,
    /// Receive window, RCV.WND, constant.
    pub window: Seq,
    /// ISNs the connector of a new incarnation may choose from; the checker
    /// tries every one. Numbers are absolute: the first incarnation's two
    /// directions both start at [`FIRST_ISS`].
    pub isns: Vec<Seq>,
    /// ISNs the listener of a new incarnation may choose from; the checker
    /// tries every one.
    pub listener_isns: Vec<Seq>,
    /// Number of incarnations on the same 4-tuple.
    pub incarnations: u8,
    /// Segments the network may lose (an undelivered segment dying at MSL
    /// counts as a loss too).
    pub loss_budget: u8,
    /// Segments the network may duplicate.
    pub dup_budget: u8,
    /// Initial retransmission timeout; it doubles after each retransmission.
    pub rto: u8,
    /// Retransmissions before the sender aborts with a timeout.
    pub max_retries: u8,
    /// Data segments (1 byte each) the two applications send per
    /// incarnation, in total: either side may send them.
    pub data_sends: u8,
    /// Largest payload of a retransmitted data segment. The checker sends
    /// one-byte segments and retransmits one at a time (RFC 6298: the
    /// earliest segment); the spec oracle sends real sizes.
    pub mss: u16,
    /// Whether the last incarnation sends its data and closes too. Without
    /// it the last incarnation only opens, and its segments never meet the
    /// one before it: a `holds` is then conditional on that (README, "Known
    /// limits").
    pub last_closes: bool,
    /// Whether an application may ABORT (SO_LINGER 0, then close) instead of
    /// closing: a RST, and no TIME-WAIT.
    pub aborts: bool,
    /// Ticks the applications may let pass, in all, while nothing else runs
    /// (a slow application: it closes late, or reopens late). Time passes
    /// anyway while a timer runs or a segment is in flight.
    pub idle_ticks: u8,
    /// TIME-WAIT behaviour.
    pub behaviour: Behaviour,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            msl: 2,
            seq_space: 16,
            window: 4,
            isns: DEFAULT_ISNS.to_vec(),
            listener_isns: DEFAULT_LISTENER_ISNS.to_vec(),
            incarnations: 2,
            loss_budget: 1,
            dup_budget: 1,
            rto: 2,
            max_retries: 3,
            data_sends: 1,
            mss: 1,
            last_closes: false,
            aborts: false,
            idle_ticks: 0,
            behaviour: crate::Preset::Rfc1337.behaviour(2),
        }
    }
}

/// A parameter the model cannot work with.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("msl must be between 1 and {max} ticks, got {got}")]
    Msl { got: u8, max: u8 },
    #[error("seq-space must be even and between 8 and {max}, got {got}")]
    SeqSpace { got: u64, max: u64 },
    #[error("window must be between 1 and seq-space/4 = {max}, got {got} (a larger window lets old and new incarnations alias trivially)")]
    Window { got: Seq, max: u64 },
    #[error("{which} must list 1 to {max} distinct values below seq-space {space}, got {got:?}")]
    Isns {
        which: &'static str,
        got: Vec<Seq>,
        space: u64,
        max: usize,
    },
    #[error("incarnations must be between 1 and {max}, got {got}")]
    Incarnations { got: u8, max: u8 },
    #[error("{what} budget must be at most {max}, got {got} (the state space grows exponentially with it)")]
    Budget {
        what: &'static str,
        got: u8,
        max: u8,
    },
    #[error("rto must be at least 1 tick, got 0")]
    Rto,
    #[error("max-retries must be at most {max}, got {got}")]
    Retries { got: u8, max: u8 },
    #[error("the retransmission schedule (rto {rto} doubling over {retries} retries = {total} ticks) exceeds the tick horizon of {horizon} ticks")]
    Schedule {
        rto: u8,
        retries: u8,
        total: u32,
        horizon: u16,
    },
    #[error("data-sends must be at most {max}, got {got}")]
    DataSends { got: u8, max: u8 },
    #[error("TIME-WAIT of {got} ticks is longer than the tick horizon of {horizon} ticks")]
    TimeWait { got: u32, horizon: u16 },
    #[error("TIME-WAIT of 0 ticks: use the no-time-wait variant to model no TIME-WAIT")]
    TimeWaitZero,
    #[error("idle-ticks must be at most {max}, got {got}")]
    IdleTicks { got: u8, max: u8 },
    #[error("the FIN-WAIT-2 timeout must be between 1 and {horizon} ticks, got {got}")]
    FinWait2Timeout { got: u8, horizon: u16 },
    #[error("linux MSL must be between 1 and 3600 seconds, got {0}")]
    LinuxMsl(u16),
}

impl Config {
    /// Checks every parameter; the model assumes a validated config.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use limits::*;
        if self.msl == 0 || self.msl > MAX_MSL {
            return Err(ConfigError::Msl {
                got: self.msl,
                max: MAX_MSL,
            });
        }
        if self.seq_space < 8
            || !self.seq_space.is_multiple_of(2)
            || self.seq_space > SeqSpace::MAX_MODULUS
        {
            return Err(ConfigError::SeqSpace {
                got: self.seq_space,
                max: SeqSpace::MAX_MODULUS,
            });
        }
        if self.window == 0 || u64::from(self.window) > self.seq_space / 4 {
            return Err(ConfigError::Window {
                got: self.window,
                max: self.seq_space / 4,
            });
        }
        for (which, isns) in [("isns", &self.isns), ("listener-isns", &self.listener_isns)] {
            let mut sorted = isns.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if isns.is_empty()
                || isns.len() > MAX_ISNS
                || sorted.len() != isns.len()
                || isns.iter().any(|&i| u64::from(i) >= self.seq_space)
            {
                return Err(ConfigError::Isns {
                    which,
                    got: isns.clone(),
                    space: self.seq_space,
                    max: MAX_ISNS,
                });
            }
        }
        if self.incarnations == 0 || self.incarnations > MAX_INCARNATIONS {
            return Err(ConfigError::Incarnations {
                got: self.incarnations,
                max: MAX_INCARNATIONS,
            });
        }
        for (what, got) in [("loss", self.loss_budget), ("dup", self.dup_budget)] {
            if got > MAX_BUDGET {
                return Err(ConfigError::Budget {
                    what,
                    got,
                    max: MAX_BUDGET,
                });
            }
        }
        if self.rto == 0 {
            return Err(ConfigError::Rto);
        }
        if self.max_retries > MAX_RETRIES {
            return Err(ConfigError::Retries {
                got: self.max_retries,
                max: MAX_RETRIES,
            });
        }
        let total = self.give_up_after();
        if total > u32::from(TICK_HORIZON) {
            return Err(ConfigError::Schedule {
                rto: self.rto,
                retries: self.max_retries,
                total,
                horizon: TICK_HORIZON,
            });
        }
        if self.idle_ticks > MAX_IDLE_TICKS {
            return Err(ConfigError::IdleTicks {
                got: self.idle_ticks,
                max: MAX_IDLE_TICKS,
            });
        }
        if let Some(t) = self.behaviour.fin_wait_2_timeout {
            if t == 0 || u16::from(t) > TICK_HORIZON {
                return Err(ConfigError::FinWait2Timeout {
                    got: t,
                    horizon: TICK_HORIZON,
                });
            }
        }
        if self.data_sends > MAX_DATA_SENDS {
            return Err(ConfigError::DataSends {
                got: self.data_sends,
                max: MAX_DATA_SENDS,
            });
        }
        if let TimeWaitLen::Linux { msl_seconds } = self.behaviour.time_wait {
            if msl_seconds == 0 || msl_seconds > 3600 {
                return Err(ConfigError::LinuxMsl(msl_seconds));
            }
        }
        match self.time_wait_ticks_unchecked() {
            Some(0) => return Err(ConfigError::TimeWaitZero),
            Some(t) if t > u32::from(TICK_HORIZON) => {
                return Err(ConfigError::TimeWait {
                    got: t,
                    horizon: TICK_HORIZON,
                })
            }
            _ => {}
        }
        Ok(())
    }

    fn time_wait_ticks_unchecked(&self) -> Option<u32> {
        match self.behaviour.time_wait {
            TimeWaitLen::TwoMsl => Some(2 * u32::from(self.msl)),
            TimeWaitLen::None => None,
            TimeWaitLen::Ticks(t) => Some(u32::from(t)),
            // Rounded down: a shorter TIME-WAIT is the conservative reading.
            TimeWaitLen::Linux { msl_seconds } => {
                Some(60 * u32::from(self.msl) / u32::from(msl_seconds.max(1)))
            }
        }
    }

    /// TIME-WAIT length in ticks, `None` for no TIME-WAIT. Valid after
    /// [`Config::validate`].
    pub fn time_wait_ticks(&self) -> Option<u8> {
        self.time_wait_ticks_unchecked()
            .map(|t| t.min(u32::from(limits::TICK_HORIZON)) as u8)
    }

    /// The retransmission timeout after `retries` retransmissions.
    pub fn rto_after(&self, retries: u8) -> u8 {
        let v = u32::from(self.rto) << retries;
        v.min(u32::from(limits::TICK_HORIZON)) as u8
    }

    /// Ticks from a segment's first transmission until its sender gives up.
    pub fn give_up_after(&self) -> u32 {
        (0..=self.max_retries)
            .map(|r| u32::from(self.rto) << r)
            .sum()
    }

    pub fn space(&self) -> SeqSpace {
        SeqSpace::new(self.seq_space)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Preset;

    #[test]
    fn default_is_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
        assert_eq!(Config::default().time_wait_ticks(), Some(4));
    }

    #[test]
    fn msl_zero_is_rejected() {
        let c = Config {
            msl: 0,
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::Msl { .. })));
    }

    #[test]
    fn time_wait_beyond_the_horizon_is_rejected() {
        let c = Config {
            behaviour: Preset::ShortTimeWait.behaviour(200),
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::TimeWait { .. })));
    }

    #[test]
    fn linux_time_wait_is_sixty_seconds_against_the_assumed_msl() {
        let at30 = Config {
            behaviour: Preset::Linux.behaviour(0),
            ..Config::default()
        };
        assert_eq!(at30.time_wait_ticks(), Some(4), "60 s = 2 MSL of 30 s");
        let at120 = Config {
            behaviour: Preset::LinuxMsl120.behaviour(0),
            ..Config::default()
        };
        assert_eq!(at120.time_wait_ticks(), Some(1), "60 s = MSL/2 of 120 s");
    }

    #[test]
    fn the_sender_outlasts_a_worst_case_round_trip() {
        // Pitfall: a sender that gives up while its segment and the answer are
        // still legally in flight turns every variant's verdict into a timeout.
        let c = Config::default();
        let round_trip = 2 * u32::from(c.msl);
        assert!(c.give_up_after() > round_trip * (u32::from(c.loss_budget) + 1));
    }

    #[test]
    fn absurd_budgets_are_rejected() {
        let c = Config {
            loss_budget: 9,
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::Budget { .. })));
    }
}
