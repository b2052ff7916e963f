//! The one judge of a (stack, spec) run. The model variant that describes
//! the stack is played through the spec ([`predict`]); the stack's run is
//! compared with it step by step: where each stopped matching the spec and
//! what the SUT did there ([`Departure`]). [`judge`] decides the mark, and
//! `replay`, the tests and the reports all take it from there.
//!
//! - `pass`: both pass.
//! - `fail (as predicted)`: both fail at the same step with the same
//!   observation (flags, seq, ack, len, nothing within the deadline, a
//!   state, a refused call).
//! - `known`: they differ, exactly as a reviewed entry in the stack's known
//!   list says (same step, same observation).
//! - `diverges`: they differ in any other way, printing both.
//! - `stale`: a known entry whose departure did not happen.

use crate::engine;
use crate::known::{Entry, Where};
use serde::{Deserialize, Serialize};
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
    // tcp_tw_reuse=1 acts only on connections that used timestamps
    // (tcp_twsk_unique); the default 2 is for loopback, which the harness
    // never uses. No variant has it with RFC 1337 (`applies` in suite.rs).
    // The harness's SUT binds its port, and a bound connect reuses TIME-WAIT
    // whatever the sysctl says; a profile without tcp_tw_reuse=1 is still
    // judged against the preset that waits out TIME-WAIT, so a spec where
    // the SUT reuses shows that departure (tw-bound-connect-reuses-...).
    if profile.tcp_tw_reuse == Some(1) && ts && !rfc1337 {
        return Preset::LinuxTwReuse;
    }
    match (rfc1337, ts) {
        (false, true) => Preset::LinuxTimestamps,
        (false, false) => Preset::Linux,
        // No variant has both; RFC 1337 decides the specs that tell them apart.
        (true, _) => Preset::LinuxRfc1337,
    }
}

/// The model's outcome for `spec` under `preset`.
pub fn predict(spec: &Spec, preset: Preset) -> Outcome {
    oracle::run(spec, preset).outcome
}

/// Where a run (the stack's or the model's) stopped matching the spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departure {
    /// `step N` (1-based), or `end` for a segment after the last step.
    pub at: String,
    /// The step's kind (`expect`, `wait`, ...; `end of spec`).
    pub kind: String,
    /// 1-based line of the step in the spec.
    pub line: u64,
    /// What the SUT did there, in the canonical form verdicts compare and
    /// known entries quote.
    pub observed: String,
    /// What the step expected, for people.
    pub expected: String,
    /// What happened, for people (with the fields that differ and, for a
    /// stack, the time).
    pub actual: String,
}

impl Departure {
    fn at(step: usize, kind: &str) -> String {
        if kind == "end of spec" {
            "end".into()
        } else {
            format!("step {}", step + 1)
        }
    }

    fn new(
        step: usize,
        kind: &str,
        line: u64,
        observed: &timewait_specs::observed::Observed,
        expected: &str,
        actual: &str,
    ) -> Departure {
        Departure {
            at: Self::at(step, kind),
            kind: kind.into(),
            line,
            observed: observed.to_string(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }

    /// The stack's departure, from the engine.
    pub fn of_stack(f: &engine::Failure) -> Departure {
        Self::new(f.step, f.kind, f.line, &f.observed, &f.expected, &f.actual)
    }

    /// The model's departure, from the oracle.
    pub fn of_model(f: &oracle::Failure) -> Departure {
        Self::new(f.step, f.kind, f.line, &f.observed, &f.expected, &f.actual)
    }

    /// What a verdict compares: `step 10: RA seq=1 ack=2 len=0`.
    pub fn key(&self) -> String {
        format!("{}: {}", self.at, self.observed)
    }

    /// The model's departure for an outcome, `None` when it passes.
    pub fn of_outcome(o: &Outcome) -> Option<Departure> {
        match o {
            Outcome::Pass => None,
            Outcome::Fail(f) => Some(Departure::of_model(f)),
        }
    }
}

/// A departure or `passes`, as printed beside another.
fn shown(d: Option<&Departure>) -> String {
    d.map_or("passes".into(), Departure::key)
}

/// The verdict of one spec on one stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mark {
    Pass,
    /// The stack fails where and as the model variant does.
    FailAsPredicted,
    /// Departs from the model exactly as a reviewed known entry says.
    Known,
    /// Departs from the model in a way no known entry describes.
    Diverges,
    /// A known entry whose departure did not happen.
    Stale,
    HarnessError,
    /// The harness was later than the tolerance with an inject, an
    /// application call or the end of a wait: the run says nothing about
    /// the stack; rerun it.
    TimingInvalid,
    /// The spec sets Linux sysctls, which this stack has no equivalent of.
    NotApplicable,
}

impl Mark {
    /// Whether a run with this mark is what the reviewed lists expect.
    pub fn expected(self) -> bool {
        matches!(
            self,
            Mark::Pass | Mark::FailAsPredicted | Mark::Known | Mark::NotApplicable
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Mark::Pass => "pass",
            Mark::FailAsPredicted => "fail (as predicted)",
            Mark::Known => "diverges (known)",
            Mark::Diverges => "DIVERGES",
            Mark::Stale => "STALE known entry",
            Mark::HarnessError => "harness error",
            Mark::TimingInvalid => "timing invalid (rerun)",
            Mark::NotApplicable => "n/a",
        }
    }
}

/// A mark with the reason for it, in one line for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub mark: Mark,
    pub why: String,
}

/// Judges a run. `stack` is the stack's departure (`Ok(None)` when it
/// passed, `Err` when the harness failed), `model` the departure of the
/// model variant the stack is compared with, `known` the stack's reviewed
/// entry for this spec, if any.
pub fn judge(
    stack: Result<Option<&Departure>, &str>,
    model: Option<&Departure>,
    preset: Preset,
    known: Option<&Entry>,
) -> Judgement {
    let stack = match stack {
        Err(e) => {
            return Judgement {
                mark: Mark::HarnessError,
                why: e.to_string(),
            }
        }
        Ok(s) => s,
    };
    let same = match (stack, model) {
        (None, None) => true,
        (Some(s), Some(m)) => s.key() == m.key(),
        _ => false,
    };
    let both = format!(
        "the stack {}; the model ({preset}) {}",
        shown(stack),
        shown(model)
    );
    if same {
        let (mark, why) = match stack {
            None => (Mark::Pass, String::new()),
            Some(s) => (Mark::FailAsPredicted, format!("both fail at {}", s.key())),
        };
        return match known {
            Some(k) => Judgement {
                mark: Mark::Stale,
                why: format!(
                    "known entry (line {}) says the stack {}, but it agrees with the model: {}",
                    k.line,
                    k.departure(),
                    if why.is_empty() { "both pass" } else { &why }
                ),
            },
            None => Judgement { mark, why },
        };
    }
    let matches_entry = known.is_some_and(|k| match (&k.departs, stack) {
        (Where::Passes, None) => true,
        (Where::Fails { .. }, Some(s)) => k.departure() == s.key(),
        _ => false,
    });
    match known {
        Some(k) if matches_entry => Judgement {
            mark: Mark::Known,
            why: format!("{both}; known: {}", k.reason),
        },
        Some(k) => Judgement {
            mark: Mark::Diverges,
            why: format!(
                "{both}; the known entry (line {}) says {}, so this is a new departure",
                k.line,
                k.departure()
            ),
        },
        None => Judgement {
            mark: Mark::Diverges,
            why: both,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(at: &str, observed: &str) -> Departure {
        Departure {
            at: at.into(),
            kind: "expect".into(),
            line: 1,
            observed: observed.into(),
            expected: String::new(),
            actual: String::new(),
        }
    }

    fn entry(departs: Where) -> Entry {
        Entry {
            spec: "s".into(),
            departs,
            reason: "reviewed".into(),
            line: 3,
        }
    }

    const P: Preset = Preset::Rfc1337;

    #[test]
    fn both_passing_is_a_pass_and_a_known_entry_then_is_stale() {
        assert_eq!(judge(Ok(None), None, P, None).mark, Mark::Pass);
        let k = entry(Where::Passes);
        assert_eq!(judge(Ok(None), None, P, Some(&k)).mark, Mark::Stale);
    }

    #[test]
    fn failing_at_the_same_step_with_the_same_segment_is_as_predicted() {
        let s = dep("step 4", "A seq=1 ack=2 len=0");
        let j = judge(Ok(Some(&s)), Some(&s.clone()), P, None);
        assert_eq!(j.mark, Mark::FailAsPredicted);
    }

    #[test]
    fn failing_at_the_same_step_with_another_segment_diverges() {
        let s = dep("step 4", "nothing");
        let m = dep("step 4", "A seq=1 ack=2 len=0");
        let j = judge(Ok(Some(&s)), Some(&m), P, None);
        assert_eq!(j.mark, Mark::Diverges);
        assert_eq!(
            j.why,
            "the stack step 4: nothing; the model (rfc1337) step 4: A seq=1 ack=2 len=0"
        );
    }

    #[test]
    fn failing_at_another_step_with_the_same_segment_diverges() {
        let s = dep("step 5", "A seq=1 ack=2 len=0");
        let m = dep("step 4", "A seq=1 ack=2 len=0");
        assert_eq!(judge(Ok(Some(&s)), Some(&m), P, None).mark, Mark::Diverges);
    }

    #[test]
    fn a_known_entry_absorbs_only_the_departure_it_pins() {
        let s = dep("step 10", "RA seq=1 ack=2 len=0");
        let pinned = entry(Where::Fails {
            at: "step 10".into(),
            observed: "RA seq=1 ack=2 len=0".into(),
        });
        assert_eq!(
            judge(Ok(Some(&s)), None, P, Some(&pinned)).mark,
            Mark::Known
        );
        let other = dep("step 9", "R seq=1 len=0");
        let j = judge(Ok(Some(&other)), None, P, Some(&pinned));
        assert_eq!(j.mark, Mark::Diverges);
        assert!(
            j.why.contains("known entry (line 3) says step 10"),
            "{}",
            j.why
        );
        // A stack that passes is not the departure the entry pins.
        let m = dep("step 2", "nothing");
        assert_eq!(
            judge(Ok(None), Some(&m), P, Some(&pinned)).mark,
            Mark::Diverges
        );
    }

    #[test]
    fn a_passes_entry_absorbs_a_stack_that_passes_where_the_model_fails() {
        let m = dep("step 2", "nothing");
        let k = entry(Where::Passes);
        assert_eq!(judge(Ok(None), Some(&m), P, Some(&k)).mark, Mark::Known);
        let s = dep("step 3", "nothing");
        assert_eq!(
            judge(Ok(Some(&s)), Some(&m), P, Some(&k)).mark,
            Mark::Diverges
        );
    }

    #[test]
    fn a_harness_error_is_never_a_verdict_on_the_stack() {
        let j = judge(Err("agent died"), None, P, None);
        assert_eq!(j.mark, Mark::HarnessError);
        assert!(!j.mark.expected());
    }
}
