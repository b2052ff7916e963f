//! How many losses in a row reliable termination survives, for a given
//! RTO/MSL ratio: the model's answer (the smallest loss budget under which a
//! variant's teardown fails) beside the closed form for real stacks.
//!
//! The teardown is checked alone: one incarnation, no duplicates, no data,
//! so that every loss the budget allows falls on the FIN exchange.

use crate::check::{self, Limits, Progress, VariantSpec};
use crate::config::{limits::MAX_BUDGET, Config, ConfigError};
use crate::properties::{PropertyId, Verdict};
use crate::variant::Preset;
use serde::Serialize;

/// The closed form: the fewest losses in a row after which a retransmitted
/// FIN can arrive after TIME-WAIT has ended. The first FIN puts the closer
/// in TIME-WAIT the moment it arrives; the last ACK is lost, then every
/// retransmitted FIN until the `n`-th, which leaves `rto * (2^n - 1)` after
/// the first and may spend up to `max_delay` in the network. It meets CLOSED
/// when that reaches `time_wait`. In the model `max_delay` is MSL - 1 tick
/// (a segment whose age reaches MSL is gone); in real time it is MSL.
pub fn losses_until_time_wait_outrun(rto: f64, max_delay: f64, time_wait: f64) -> u32 {
    let mut n = 1;
    while rto * (f64::from(2u32.pow(n)) - 1.0) + max_delay < time_wait && n < 31 {
        n += 1;
    }
    n
}

/// Linux's figures, from the kernel source: TCP_RTO_MIN is HZ/5 (200 ms,
/// include/net/tcp.h), TCP_TIMEWAIT_LEN is 60 s, and an orphaned socket
/// (its application closed) retransmits its FIN 8 times when
/// net.ipv4.tcp_orphan_retries is 0, the default (`tcp_orphan_retries()`,
/// net/ipv4/tcp_timer.c: "8 corresponds to >100 seconds with minimal RTO of
/// 200msec").
pub mod linux {
    pub const RTO_MIN_SECONDS: f64 = 0.2;
    pub const TIME_WAIT_SECONDS: f64 = 60.0;
    /// The MSL Linux's TIME-WAIT is 2 MSL of.
    pub const MSL_SECONDS: f64 = 30.0;
    pub const ORPHAN_RETRIES: u32 = 8;
}

/// One RTO/MSL ratio's answer.
#[derive(Clone, Debug, Serialize)]
pub struct ToleranceRow {
    pub msl: u8,
    pub rto: u8,
    pub retries: u8,
    /// The smallest loss budget under which reliable termination fails,
    /// `None` if it holds up to the largest budget tried.
    pub failing_losses: Option<u8>,
    /// Which half failed first: `reliable-termination/reset` (a FIN met
    /// CLOSED) or `reliable-termination/timeout` (the sender gave up).
    pub failing_property: Option<&'static str>,
    pub trace_steps: Option<usize>,
    /// The closed form for the same ratio, in losses.
    pub predicted: u32,
    /// Largest unique-state count among the runs, and their total time.
    pub unique_states: usize,
    pub seconds: f64,
    /// Whether every run was exhaustive (none stopped at a limit).
    pub exhaustive: bool,
}

/// The teardown-only configuration for `msl` and `rto` ticks, with as many
/// retries as the tick horizon allows (up to `max_retries`).
pub fn teardown_config(msl: u8, rto: u8, max_retries: u8) -> Result<Config, ConfigError> {
    let mut cfg = Config {
        msl,
        rto,
        incarnations: 1,
        dup_budget: 0,
        data_sends: 0,
        loss_budget: 0,
        max_retries,
        ..Config::default()
    };
    while cfg.max_retries > 0 && cfg.validate().is_err() {
        cfg.max_retries -= 1;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Raises the loss budget from 0 until `preset`'s teardown fails under
/// `cfg`, or `MAX_BUDGET` is reached.
pub fn sweep(
    cfg: &Config,
    preset: Preset,
    limits: &Limits,
    progress: &mut dyn FnMut(&Progress),
) -> Result<ToleranceRow, ConfigError> {
    let tw = f64::from(cfg.time_wait_ticks().unwrap_or(0));
    let mut row = ToleranceRow {
        msl: cfg.msl,
        rto: cfg.rto,
        retries: cfg.max_retries,
        failing_losses: None,
        failing_property: None,
        trace_steps: None,
        predicted: losses_until_time_wait_outrun(f64::from(cfg.rto), f64::from(cfg.msl) - 1.0, tw),
        unique_states: 0,
        seconds: 0.0,
        exhaustive: true,
    };
    let properties = [
        PropertyId::ReliableTerminationReset,
        PropertyId::ReliableTerminationTimeout,
    ];
    for loss in 0..=MAX_BUDGET {
        let base = Config {
            loss_budget: loss,
            ..cfg.clone()
        };
        let v = VariantSpec::preset(preset, &base, base.msl)?;
        let reports = check::check_variant(&v, &properties, false, limits, progress);
        for r in &reports {
            row.unique_states = row.unique_states.max(r.unique_states);
            row.exhaustive &= r.verdict != Verdict::Incomplete;
        }
        row.seconds += reports.first().map_or(0.0, |r| r.seconds);
        // The shorter counterexample says which failure comes first.
        let failed = reports
            .iter()
            .filter(|r| r.verdict == Verdict::Violated)
            .min_by_key(|r| r.trace.as_ref().map_or(usize::MAX, |t| t.steps.len()));
        if let Some(r) = failed {
            row.failing_losses = Some(loss);
            row.failing_property = Some(r.property);
            row.trace_steps = r.trace.as_ref().map(|t| t.steps.len());
            break;
        }
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_needs_eight_losses_and_its_orphan_still_sends_the_eighth_fin() {
        let n = losses_until_time_wait_outrun(
            linux::RTO_MIN_SECONDS,
            linux::MSL_SECONDS,
            linux::TIME_WAIT_SECONDS,
        );
        // 0.2 s x (2^7 - 1) + 30 s = 55.4 s < 60 s <= 0.2 s x (2^8 - 1) + 30 s.
        assert_eq!(n, 8);
        // The eighth FIN is the orphan's last retransmission: a reset, not a
        // timeout, is reachable.
        assert!(n <= linux::ORPHAN_RETRIES);
        // Without delay in the network it takes nine, past the orphan's last.
        let undelayed =
            losses_until_time_wait_outrun(linux::RTO_MIN_SECONDS, 0.0, linux::TIME_WAIT_SECONDS);
        assert_eq!(undelayed, 9);
        assert!(undelayed > linux::ORPHAN_RETRIES);
    }

    #[test]
    fn the_closed_form_matches_the_models_small_cases() {
        // (msl, rto) in ticks with TIME-WAIT = 2 MSL, and what `sweep` found.
        for (msl, rto, found) in [(1.0, 1.0, 2), (2.0, 1.0, 2), (4.0, 1.0, 3), (2.0, 2.0, 2)] {
            assert_eq!(
                losses_until_time_wait_outrun(rto, msl - 1.0, 2.0 * msl),
                found,
                "msl {msl}, rto {rto}"
            );
        }
    }

    #[test]
    fn the_model_agrees_with_the_closed_form() {
        for (msl, rto) in [(2, 2), (1, 1), (2, 1), (4, 1)] {
            let cfg = teardown_config(msl, rto, 6).expect("valid");
            let row = sweep(&cfg, Preset::Rfc1337, &Limits::default(), &mut |_| {}).unwrap();
            assert!(row.exhaustive);
            assert_eq!(row.failing_losses, Some(row.predicted as u8), "{row:?}");
            assert_eq!(row.failing_property, Some("reliable-termination/reset"));
        }
    }
}
