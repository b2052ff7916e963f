//! What the model predicts for a spec on a given Linux profile, and how a
//! Linux run compares: the spec passes as predicted, fails as predicted, or
//! diverges from the model.

use timewait_model::Preset;
use timewait_specs::format::{Profile, Step};
use timewait_specs::oracle::{self, Outcome};
use timewait_specs::Spec;

/// The model variant that describes Linux with this profile.
pub fn linux_preset(spec: &Spec, profile: &Profile) -> Preset {
    if profile.tcp_max_tw_buckets == Some(0) {
        return Preset::NoTimeWait;
    }
    let rfc1337 = profile.tcp_rfc1337.unwrap_or(0) == 1;
    // Timestamps matter only if the peer offers them (Linux's default is on).
    let offers_ts = spec
        .steps
        .iter()
        .any(|s| matches!(&s.value, Step::Inject(i) if i.options.ts.is_some()));
    let ts = offers_ts && profile.tcp_timestamps.unwrap_or(1) != 0;
    match (rfc1337, ts) {
        (false, true) => Preset::LinuxTimestamps,
        (false, false) => Preset::Linux,
        // No variant has both; RFC 1337 decides the specs that tell them apart.
        (true, _) => Preset::LinuxRfc1337,
    }
}

/// A Linux run against the model's prediction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Linux passes, as the model predicts.
    Pass,
    /// Linux fails, as the model predicts (the spec pins a behaviour this
    /// profile does not have).
    FailAsPredicted,
    /// Linux and the model disagree.
    Divergence,
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::FailAsPredicted => "fail (as predicted)",
            Verdict::Divergence => "DIVERGES",
        }
    }
}

/// The model's outcome for `spec` under `preset`.
pub fn predict(spec: &Spec, preset: Preset) -> Outcome {
    oracle::run(spec, preset).outcome
}

pub fn compare(linux_passed: bool, model: &Outcome) -> Verdict {
    match (linux_passed, model.passed()) {
        (true, true) => Verdict::Pass,
        (false, false) => Verdict::FailAsPredicted,
        _ => Verdict::Divergence,
    }
}
