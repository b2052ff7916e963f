//! `timewait losses`: how many losses in a row reliable termination
//! survives for each RTO/MSL ratio, the model's answer beside the closed
//! form, and what Linux's figures imply.

use crate::cli::LossesArgs;
use anyhow::{Context, Result};
use std::process::ExitCode;
use timewait_model::check::Limits;
use timewait_model::tolerance::{self, linux};

pub fn run(a: LossesArgs) -> Result<ExitCode> {
    let limits = Limits {
        max_states: (a.max_states > 0).then_some(a.max_states),
        ..Limits::default()
    };
    println!(
        "{} teardown alone (1 incarnation, no duplicates, no data); RTO {} tick(s) doubling",
        a.variant, a.rto
    );
    println!(
        "{:>4} {:>4} {:>8} {:>8} {:>10} {:>12}  {:<30} {:>6} {:>12} {:>8}",
        "msl",
        "rto",
        "rto/msl",
        "retries",
        "predicted",
        "model fails",
        "first failure",
        "steps",
        "unique",
        "seconds"
    );
    let mut all_exhaustive = true;
    for &msl in &a.msl {
        let cfg = tolerance::teardown_config(msl, a.rto, a.retries)
            .with_context(|| format!("msl {msl}, rto {}", a.rto))?;
        eprintln!("sweeping msl {msl} ...");
        let row = tolerance::sweep(&cfg, a.variant, &limits, &mut |_| {})
            .with_context(|| format!("msl {msl}"))?;
        all_exhaustive &= row.exhaustive;
        println!(
            "{:>4} {:>4} {:>8.3} {:>8} {:>10} {:>12}  {:<30} {:>6} {:>12} {:>8.2}{}",
            row.msl,
            row.rto,
            f64::from(row.rto) / f64::from(row.msl),
            row.retries,
            row.predicted,
            row.failing_losses.map_or(
                format!("> {}", timewait_model::config::limits::MAX_BUDGET),
                |l| l.to_string()
            ),
            row.failing_property.unwrap_or("-"),
            row.trace_steps.map_or("-".to_string(), |s| s.to_string()),
            row.unique_states,
            row.seconds,
            if row.exhaustive {
                ""
            } else {
                "  (a run hit --max-states)"
            }
        );
    }
    let n = tolerance::losses_until_time_wait_outrun(
        linux::RTO_MIN_SECONDS,
        linux::MSL_SECONDS,
        linux::TIME_WAIT_SECONDS,
    );
    let undelayed = tolerance::losses_until_time_wait_outrun(
        linux::RTO_MIN_SECONDS,
        0.0,
        linux::TIME_WAIT_SECONDS,
    );
    println!(
        "\nLinux: RTO {} s (TCP_RTO_MIN), TIME-WAIT {} s, MSL {} s: a retransmitted FIN can meet CLOSED after {n} losses in a row \
         (the last ACK and {} retransmitted FINs, the next one delayed by the network), {undelayed} without delay. \
         An orphaned LAST-ACK retransmits its FIN {} times (tcp_orphan_retries 0 = 8), so the reset is reachable only through delay; \
         otherwise the run ends in a timeout.",
        linux::RTO_MIN_SECONDS,
        linux::TIME_WAIT_SECONDS,
        linux::MSL_SECONDS,
        n - 1,
        linux::ORPHAN_RETRIES
    );
    Ok(if all_exhaustive {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
