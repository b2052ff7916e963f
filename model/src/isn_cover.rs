//! Whether a run's ISN sets are a worst case: each variant checked with them
//! and with every ISN of the sequence space for both sides of a new
//! incarnation must reach the same verdict on every property.
//!
//! Every ISN for both sides multiplies the state space by 25 to 40 at the
//! default parameters (56 million unique states for `rfc1337`), so the
//! default checks use six connector ISNs and one listener ISN
//! ([`crate::config::DEFAULT_ISNS`]), and this comparison is the evidence
//! for them: `timewait isns` runs it, and `model/tests/isn_worst_case.rs`
//! pins it where it fits a test's time. It has also shown where they fall
//! short (README, "Worst-case ISNs").

use crate::check::{self, Limits, Progress, VariantSpec, Verdicts};
use crate::config::{limits, ConfigError};
use crate::properties::{PropertyId, Verdict};
use crate::seq::Seq;
use serde::Serialize;

/// One variant's verdicts with the run's ISN sets and with every ISN.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub variant: String,
    pub listed: Verdicts,
    pub every: Verdicts,
}

impl Comparison {
    /// Properties whose verdicts differ, with (listed, every); a run that
    /// hit a limit differs from nothing (see [`Comparison::exhaustive`]).
    pub fn differences(&self) -> Vec<(PropertyId, Verdict, Verdict)> {
        self.listed
            .by_property
            .iter()
            .zip(&self.every.by_property)
            .filter(|((_, a), (_, b))| {
                a != b && *a != Verdict::Incomplete && *b != Verdict::Incomplete
            })
            .map(|((p, a), (_, b))| (*p, *a, *b))
            .collect()
    }

    /// Whether both runs were exhaustive: no verdict is `incomplete`.
    pub fn exhaustive(&self) -> bool {
        self.listed
            .by_property
            .iter()
            .chain(&self.every.by_property)
            .all(|(_, v)| *v != Verdict::Incomplete)
    }
}

/// The same variant, with every number of its sequence space as an ISN for
/// both sides; an error when the space is larger than the model's ISN lists
/// may be.
pub fn with_every_isn(variant: &VariantSpec) -> Result<VariantSpec, ConfigError> {
    let n = variant.cfg.seq_space.min(limits::MAX_ISNS as u64 + 1);
    let every: Vec<Seq> = (0..n).map(|v| v as Seq).collect();
    let mut v = variant.clone();
    v.cfg.isns = every.clone();
    v.cfg.listener_isns = every;
    v.cfg.validate()?;
    Ok(v)
}

/// Compares `variant` as given with [`with_every_isn`] on `properties`.
pub fn compare(
    variant: &VariantSpec,
    properties: &[PropertyId],
    limits: &Limits,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Comparison, ConfigError> {
    let all = with_every_isn(variant)?;
    let listed = check::verdicts(variant, properties, limits, progress);
    let every = check::verdicts(&all, properties, limits, progress);
    Ok(Comparison {
        variant: variant.name.clone(),
        listed,
        every,
    })
}
