//! Behaviour switches for TIME-WAIT and the named presets (`rfc9293`,
//! `rfc1337`, `linux`, and the broken variants) built from them.
//!
//! Every broken variant is `rfc1337` with exactly one switch changed, so a
//! counterexample for it can only come from that switch.

use serde::Serialize;
use std::fmt;

/// How long an endpoint stays in TIME-WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeWaitLen {
    /// 2 x MSL, as RFC 9293 section 3.6 requires.
    TwoMsl,
    /// No TIME-WAIT at all: the active closer goes straight to CLOSED.
    None,
    /// A fixed number of ticks.
    Ticks(u8),
    /// Linux's fixed 60 s (TCP_TIMEWAIT_LEN) read against an assumed MSL in
    /// seconds: `60 / msl_seconds` MSLs, rounded down to whole ticks.
    Linux { msl_seconds: u16 },
}

/// What a RST does to a connection in TIME-WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RstInTimeWait {
    /// RFC 1337's fix: ignore it.
    Ignore,
    /// RFC 9293 section 3.10.7.4 with RFC 5961 section 3: a RST whose
    /// sequence number is exactly RCV.NXT closes the connection; one elsewhere
    /// in the window gets a challenge ACK.
    KillIfExact,
    /// Any RST closes TIME-WAIT, whatever its sequence number.
    KillAny,
}

/// What a SYN does to a connection in TIME-WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SynInTimeWait {
    /// RFC 9293 section 3.10.7.4 (fourth) with RFC 5961 section 4: answer
    /// with a challenge ACK, stay in TIME-WAIT.
    ChallengeAck,
    /// RFC 1122 section 4.2.2.13 / RFC 6191: if a listener exists and the SYN's
    /// sequence number is after RCV.NXT, reopen with an ISS above the old
    /// SND.NXT; otherwise ACK.
    ReopenIfNewer,
    /// Reopen on any SYN when a listener exists, with no sequence check and the
    /// listener's own ISS.
    ReopenUnchecked,
}

/// Which rule book handles the other segments that reach TIME-WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeWaitRules {
    /// RFC 9293 section 3.10.7.4: the acceptability test, then ACK anything
    /// unacceptable; the timer restarts only for a retransmitted FIN (as BSD
    /// and Linux do: the RFC's own restart sits in the FIN step, which a
    /// retransmitted FIN never reaches because it fails the acceptability test).
    Rfc,
    /// Linux `tcp_timewait_state_process()`: a bare ACK or RST exactly at
    /// RCV.NXT is handled in place, every other non-RST segment is ACKed and,
    /// if it carries ACK, restarts the timer.
    Linux,
}

/// Which segments restart the TIME-WAIT timer under the RFC rule book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeWaitRestart {
    /// RFC 9293 3.10.7.4, ACK step, TIME-WAIT: "The only thing that can
    /// arrive in this state is a retransmission of the remote FIN.
    /// Acknowledge it, and restart the 2 MSL timeout": whatever non-RST,
    /// non-SYN segment TIME-WAIT acknowledges restarts the timer (Linux does
    /// the same for every ACK-bearing segment).
    EveryAcked,
    /// Only a retransmitted FIN restarts it (FreeBSD's `tcp_twcheck()`).
    FinOnly,
}

/// One complete set of behaviour switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Behaviour {
    pub time_wait: TimeWaitLen,
    pub rst_in_time_wait: RstInTimeWait,
    pub syn_in_time_wait: SynInTimeWait,
    pub time_wait_rules: TimeWaitRules,
    pub time_wait_restart: TimeWaitRestart,
    /// RFC 7323 timestamps (Linux's net.ipv4.tcp_timestamps): segments carry
    /// TSval, PAWS drops older ones, and a SYN with a newer timestamp may
    /// reopen TIME-WAIT (RFC 6191).
    pub timestamps: bool,
    /// Ticks an orphaned connection (its application closed) may stay in
    /// FIN-WAIT-2 before it is deleted without a word, as Linux's
    /// `net.ipv4.tcp_fin_timeout` does (60 s by default); `None`: forever,
    /// as RFC 9293 has it.
    pub fin_wait_2_timeout: Option<u8>,
    /// ISNs bound to a clock (RFC 9293 3.4.1, RFC 6528): a new incarnation's
    /// ISS lies at or after every sequence number the host used on this
    /// 4-tuple, i.e. its old SND.NXT (less than half the space ahead). Off:
    /// any listed ISN, the worst case the presets are checked against.
    pub isn_clock: bool,
    /// Linux's `net.ipv4.tcp_tw_reuse=1` (`tcp_twsk_unique()` in
    /// net/ipv4/tcp_ipv4.c): a client may connect on a 4-tuple that it still
    /// holds in TIME-WAIT, if the old connection used timestamps. The
    /// TIME-WAIT is dropped, the new ISS is the old SND.NXT + 65535 + 2 (the
    /// model's window + 2), and the new connection keeps TS.Recent, so PAWS
    /// guards SYN-SENT. For a connect that picks an ephemeral port Linux
    /// also waits `tcp_tw_reuse_delay` (1 s) after TIME-WAIT began; a
    /// socket bound to its port first (SO_REUSEADDR) reuses at once and
    /// whatever the sysctl says (`!twp` in `tcp_twsk_unique`). A second is
    /// less than a tick here, so the model lets the reuse happen at any
    /// time in TIME-WAIT, which covers both. Under reuse the server's application may
    /// listen while its old connection is still in LAST-ACK: without that a
    /// reusing SYN could never meet the old connection, which is reuse's
    /// hazard.
    pub tw_reuse: bool,
    /// RFC 5961 section 5.2, which RFC 9293 3.10.7.4 leaves optional
    /// (MAY-12), as Linux's `tcp_ack()` does it: past SYN-RECEIVED, a
    /// segment whose ACK lies below SND.UNA - min(MAX.SND.WND, bytes acked)
    /// is dropped with a challenge ACK before its text or FIN is looked at.
    /// MAX.SND.WND is the model's window; the bound by the bytes acked is
    /// Linux's ("tcp: do not accept ACK of bytes we never sent", 2023), and
    /// for a new connection it is the SYN alone, so every older ACK is
    /// refused. That is what makes `tcp_tw_reuse`'s ISS of old SND.NXT +
    /// 65535 + 2 work: the old incarnation's ACKs lie below the new window.
    /// Off: RFC 9293's base rule, which ignores an old ACK and goes on with
    /// the segment.
    pub old_ack_check: bool,
}

/// The named presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    Rfc9293,
    Rfc1337,
    Linux,
    LinuxRfc1337,
    LinuxMsl120,
    LinuxTimestamps,
    NoTimeWait,
    ShortTimeWait,
    RstKillsTimeWait,
    SynReopensTimeWaitUnchecked,
    TimeWaitRestartFinOnly,
    LinuxTwReuse,
    Rfc6191,
}

impl Preset {
    pub const ALL: [Preset; 13] = [
        Preset::Rfc9293,
        Preset::Rfc1337,
        Preset::Linux,
        Preset::LinuxRfc1337,
        Preset::LinuxMsl120,
        Preset::LinuxTimestamps,
        Preset::NoTimeWait,
        Preset::ShortTimeWait,
        Preset::RstKillsTimeWait,
        Preset::SynReopensTimeWaitUnchecked,
        Preset::TimeWaitRestartFinOnly,
        Preset::LinuxTwReuse,
        Preset::Rfc6191,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Rfc9293 => "rfc9293",
            Preset::Rfc1337 => "rfc1337",
            Preset::Linux => "linux",
            Preset::LinuxRfc1337 => "linux-rfc1337",
            Preset::LinuxMsl120 => "linux-msl120",
            Preset::LinuxTimestamps => "linux-timestamps",
            Preset::NoTimeWait => "no-time-wait",
            Preset::ShortTimeWait => "short-time-wait",
            Preset::RstKillsTimeWait => "rst-kills-time-wait",
            Preset::SynReopensTimeWaitUnchecked => "syn-reopens-time-wait-unchecked",
            Preset::TimeWaitRestartFinOnly => "time-wait-restart-fin-only",
            Preset::LinuxTwReuse => "linux-tw-reuse",
            Preset::Rfc6191 => "rfc6191",
        }
    }

    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// One line on what the preset is, for the report.
    pub fn summary(self) -> &'static str {
        match self {
            Preset::Rfc9293 => "RFC 9293 as written: 2MSL TIME-WAIT, an exact RST closes it, SYN gets a challenge ACK",
            Preset::Rfc1337 => "RFC 9293 plus RFC 1337's fix: RST ignored in TIME-WAIT",
            Preset::Linux => "Linux: 60 s TIME-WAIT with MSL = 30 s, tcp_rfc1337=0, tcp_timestamps=0, SYN reopens if its sequence number is newer, an ACK older than the bytes acked is refused (RFC 5961 5.2)",
            Preset::LinuxRfc1337 => "Linux with net.ipv4.tcp_rfc1337=1 (tcp_timestamps=0), MSL = 30 s",
            Preset::LinuxMsl120 => "Linux with tcp_rfc1337=1 against RFC 793's MSL of 120 s (TIME-WAIT = MSL/2)",
            Preset::LinuxTimestamps => "Linux defaults with tcp_timestamps=1: PAWS, and a SYN with a newer timestamp reopens TIME-WAIT",
            Preset::NoTimeWait => "broken: the active closer skips TIME-WAIT",
            Preset::ShortTimeWait => "broken: TIME-WAIT shorter than 2MSL (default: 1 MSL)",
            Preset::RstKillsTimeWait => "broken: any RST closes TIME-WAIT, sequence number unchecked",
            Preset::SynReopensTimeWaitUnchecked => "broken: any SYN reopens TIME-WAIT, sequence number unchecked",
            Preset::TimeWaitRestartFinOnly => "as rfc1337, but only a retransmitted FIN restarts TIME-WAIT (FreeBSD's rule)",
            Preset::LinuxTwReuse => "linux-timestamps with net.ipv4.tcp_tw_reuse=1: a client connects on a 4-tuple it holds in TIME-WAIT, ISS = old SND.NXT + 65535 + 2, TS.Recent kept (tcp_twsk_unique)",
            Preset::Rfc6191 => "rfc1337 with RFC 7323 timestamps and RFC 6191: a SYN with a newer timestamp (or the same one and a newer sequence number) reopens TIME-WAIT; any other SYN is dropped",
        }
    }

    /// The preset's switches. `short_ticks` is the TIME-WAIT length of
    /// `short-time-wait`, already resolved against the MSL.
    pub fn behaviour(self, short_ticks: u8) -> Behaviour {
        let rfc1337 = Behaviour {
            time_wait: TimeWaitLen::TwoMsl,
            rst_in_time_wait: RstInTimeWait::Ignore,
            syn_in_time_wait: SynInTimeWait::ChallengeAck,
            time_wait_rules: TimeWaitRules::Rfc,
            time_wait_restart: TimeWaitRestart::EveryAcked,
            timestamps: false,
            fin_wait_2_timeout: None,
            isn_clock: false,
            tw_reuse: false,
            old_ack_check: false,
        };
        let linux = |msl_seconds, rst| Behaviour {
            time_wait: TimeWaitLen::Linux { msl_seconds },
            rst_in_time_wait: rst,
            syn_in_time_wait: SynInTimeWait::ReopenIfNewer,
            time_wait_rules: TimeWaitRules::Linux,
            time_wait_restart: TimeWaitRestart::EveryAcked,
            timestamps: false,
            fin_wait_2_timeout: None,
            isn_clock: false,
            tw_reuse: false,
            old_ack_check: true,
        };
        match self {
            Preset::Rfc9293 => Behaviour {
                rst_in_time_wait: RstInTimeWait::KillIfExact,
                ..rfc1337
            },
            Preset::Rfc1337 => rfc1337,
            Preset::Linux => linux(30, RstInTimeWait::KillIfExact),
            Preset::LinuxRfc1337 => linux(30, RstInTimeWait::Ignore),
            Preset::LinuxMsl120 => linux(120, RstInTimeWait::Ignore),
            Preset::LinuxTimestamps => Behaviour {
                timestamps: true,
                ..linux(30, RstInTimeWait::KillIfExact)
            },
            Preset::NoTimeWait => Behaviour {
                time_wait: TimeWaitLen::None,
                ..rfc1337
            },
            Preset::ShortTimeWait => Behaviour {
                time_wait: TimeWaitLen::Ticks(short_ticks),
                ..rfc1337
            },
            Preset::RstKillsTimeWait => Behaviour {
                rst_in_time_wait: RstInTimeWait::KillAny,
                ..rfc1337
            },
            Preset::SynReopensTimeWaitUnchecked => Behaviour {
                syn_in_time_wait: SynInTimeWait::ReopenUnchecked,
                ..rfc1337
            },
            Preset::TimeWaitRestartFinOnly => Behaviour {
                time_wait_restart: TimeWaitRestart::FinOnly,
                ..rfc1337
            },
            Preset::LinuxTwReuse => Behaviour {
                timestamps: true,
                tw_reuse: true,
                ..linux(30, RstInTimeWait::KillIfExact)
            },
            Preset::Rfc6191 => Behaviour {
                timestamps: true,
                syn_in_time_wait: SynInTimeWait::ReopenIfNewer,
                ..rfc1337
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
