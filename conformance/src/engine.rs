//! The replay engine: plays a spec's steps in order against any
//! [`Stack`], resolving relative sequence numbers per incarnation, matching
//! every segment the SUT sends against the next `expect` (omitted fields are
//! wildcards) within the timing tolerance, and failing the spec at the first
//! step where the stack departs from it, with the exchange so far.
//!
//! Timing: every step is due at a scripted time, counted from the last
//! thing the stack saw or did at its actual time (an injected segment's
//! send, a received segment's kernel timestamp, an application call, the
//! end of a state check) plus the waits scripted since. An `expect` must
//! arrive no earlier than `after` and no later than `within` (default 0)
//! after its due time, give or take the slack: the spec's tolerance plus a
//! quarter of the expected gap, in the spirit of packetdrill's tolerance. A
//! state check polls for up to the tolerance, because the kernel processes
//! an injected frame shortly after it is sent.
//!
//! The harness's own lateness: an inject or application call that happens
//! later than its due time moves every timer the stack runs from it, so the
//! engine records how late each action was. A `wait` (or `expect-none`)
//! that ends later than due is lateness too: what follows it, a state
//! check or a timer the stack runs, then meets the stack later than the
//! script says. Past the spec's tolerance the replay stops with
//! [`Replay::timing_invalid`]: the run says nothing about the stack and is
//! to be rerun, never judged as the stack's departure.

use crate::stack::{Received, Stack, StackError};
use crate::wire::WireSegment;
use std::fmt;
use std::time::Duration;
use timewait_specs::format::{Expect, Inject, Spec, Step};
use timewait_specs::observed::{Mismatch, Observed, Origins, SegmentSeen};
use timewait_specs::values::{Flags, SeqValue};

/// The first step at which the stack departed from the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 0-based index into the steps.
    pub step: usize,
    pub line: u64,
    pub column: u64,
    pub kind: &'static str,
    pub expected: String,
    pub actual: String,
    /// What the stack did there, in the form verdicts compare.
    pub observed: Observed,
    /// Stack time of the failure.
    pub at: Duration,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {} ({}) at {:.3}s: expected {}; got {}",
            self.step + 1,
            self.kind,
            self.at.as_secs_f64(),
            self.expected,
            self.actual
        )
    }
}

/// How late the harness was with one action (inject or application call),
/// or with the end of a wait, against the time the script put it at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Late {
    /// 0-based index into the steps.
    pub step: usize,
    pub line: u64,
    pub column: u64,
    pub kind: &'static str,
    pub by: Duration,
    /// The spec's tolerance on this stack, which `by` is held to.
    pub tolerance: Duration,
}

impl fmt::Display for Late {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {} ({}, line {}) was {:.1} ms late (tolerance {:.1} ms)",
            self.step + 1,
            self.kind,
            self.line,
            self.by.as_secs_f64() * 1e3,
            self.tolerance.as_secs_f64() * 1e3
        )
    }
}

/// How a replay went.
#[derive(Clone, Debug)]
pub struct Replay {
    pub failure: Option<Failure>,
    /// The action that was later than the tolerance; the replay stopped
    /// there and `failure` is `None`: a rerun is needed, not a verdict.
    pub timing_invalid: Option<Late>,
    /// The latest action of the run (within tolerance or not), if any
    /// action was late at all.
    pub latest: Option<Late>,
    /// The exchange, one line per event, in the spec's relative numbers.
    pub log: Vec<String>,
    pub elapsed: Duration,
}

impl Replay {
    /// Whether the stack did all the spec says, in a run whose timing holds.
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.timing_invalid.is_none()
    }
}

struct Engine<'a, S: Stack + ?Sized> {
    spec: &'a Spec,
    stack: &'a mut S,
    incs: Vec<Origins>,
    /// When the next step is due (stack time): see the module's doc.
    due: Duration,
    /// How late the step just run was with its action or with the end of
    /// its wait, if it had either.
    late: Option<Duration>,
    log: Vec<String>,
    /// Segments that arrived while a state check waited, for the next step.
    held: std::collections::VecDeque<Received>,
}

type StepResult = Result<Result<(), Mismatch>, StackError>;

/// Plays `spec` against `stack`.
pub fn replay<S: Stack + ?Sized>(spec: &Spec, stack: &mut S) -> Result<Replay, StackError> {
    let mut e = Engine {
        spec,
        incs: vec![Origins::new(spec.first_peer_isn())],
        due: stack.now(),
        late: None,
        stack,
        log: Vec::new(),
        held: Default::default(),
    };
    let mut failure = None;
    let mut timing_invalid = None;
    let mut latest: Option<Late> = None;
    let bound = e.ms(spec.tolerance());
    for (i, step) in spec.steps.iter().enumerate() {
        let at_step = |source| StackError::AtStep {
            step: i + 1,
            line: step.referenced.line(),
            kind: step.value.kind(),
            source: Box::new(source),
        };
        let outcome = e.step(&step.value).map_err(at_step)?;
        if let Some(by) = e.late.take() {
            let late = Late {
                step: i,
                line: step.referenced.line(),
                column: step.referenced.column(),
                kind: step.value.kind(),
                by,
                tolerance: bound,
            };
            if latest.as_ref().is_none_or(|l| by > l.by) {
                latest = Some(late.clone());
            }
            // The action happened, but not when the script says: whatever
            // the stack does next answers another script.
            if by > bound {
                let now = e.stack.now();
                e.note(now, format!("harness late: {late}; timing invalid"));
                timing_invalid = Some(late);
                break;
            }
        }
        if let Err(m) = outcome {
            failure = Some(Failure {
                step: i,
                line: step.referenced.line(),
                column: step.referenced.column(),
                kind: step.value.kind(),
                expected: m.expected,
                actual: m.actual,
                observed: m.observed,
                at: e.stack.now(),
            });
            break;
        }
    }
    if failure.is_none() && timing_invalid.is_none() {
        // Anything the SUT sends right after the last step is unexpected.
        let tol = e.tolerance(Duration::ZERO);
        let deadline = e.stack.now() + tol;
        if let Some(r) = e.recv(deadline)? {
            let shown = e.show(&r);
            let observed = e.seen(&r.segment, e.cur());
            let last = spec.steps.len().saturating_sub(1);
            let (line, column) = spec
                .steps
                .last()
                .map_or((0, 0), |s| (s.referenced.line(), s.referenced.column()));
            failure = Some(Failure {
                step: last,
                line,
                column,
                kind: "end of spec",
                expected: "no further segment from the SUT".into(),
                actual: shown,
                observed,
                at: r.at,
            });
        }
    }
    Ok(Replay {
        failure,
        timing_invalid,
        latest,
        log: e.log,
        elapsed: e.stack.now(),
    })
}

impl<S: Stack + ?Sized> Engine<'_, S> {
    /// The next segment from the SUT before `deadline`: one held back by a
    /// state check first, then the stack's.
    fn recv(&mut self, deadline: Duration) -> Result<Option<Received>, StackError> {
        match self.held.pop_front() {
            Some(r) => Ok(Some(r)),
            None => self.stack.recv(deadline),
        }
    }

    /// A spec duration on this stack. `tw` is about the stack's own timer,
    /// so it means the stack's TIME-WAIT; `msl` is a property of the
    /// network, not of the stack, so it never scales: it is the MSL the
    /// spec is replayed at ([`Spec::at_network_msl`]). Scaled, no spec could
    /// catch a TIME-WAIT shorter than 2 MSL. `ms` and `s` are absolute.
    fn ms(&self, d: timewait_specs::values::Duration) -> Duration {
        let tw = self.stack.time_wait().as_millis() as u64;
        Duration::from_millis(d.to_ms(self.spec.msl_ms(), tw))
    }

    /// The slack around an expected time `gap` after the previous step.
    fn tolerance(&self, gap: Duration) -> Duration {
        self.ms(self.spec.tolerance()) + gap / 4
    }

    /// The time of an action the harness takes now, recording how much
    /// later than due it is.
    fn act(&mut self) -> Duration {
        let now = self.stack.now();
        self.late = Some(now.saturating_sub(self.due));
        now
    }

    /// Records how far past `until` a wait that ran out has ended. A real
    /// clock wakes the harness some time after the deadline (a busy machine
    /// can make that long); a virtual one stops on it.
    fn overshoot(&mut self, until: Duration) {
        self.late = Some(self.stack.now().saturating_sub(until));
    }

    fn note(&mut self, at: Duration, text: String) {
        self.log.push(format!("{:>9.3}s  {text}", at.as_secs_f64()));
    }

    fn cur(&self) -> usize {
        self.incs.len() - 1
    }

    fn rel(v: u32, base: Option<u32>) -> String {
        SeqValue::readable(v, base).to_string()
    }

    /// A segment in the spec's relative numbers of the current incarnation.
    fn describe(&self, seg: &WireSegment, from_sut: bool) -> String {
        let isns = self.incs[self.cur()];
        let (own, other) = if from_sut {
            (isns.sut, Some(isns.peer))
        } else {
            (Some(isns.peer), isns.sut)
        };
        let mut s = format!("{} seq={}", seg.flags, Self::rel(seg.seq, own));
        if seg.flags.has(Flags::ACK) {
            s.push_str(&format!(" ack={}", Self::rel(seg.ack, other)));
        }
        if !seg.payload.is_empty() {
            s.push_str(&format!(" len={}", seg.payload.len()));
        }
        s.push_str(&format!(" win={}", seg.window));
        if let Some(ts) = seg.options.ts {
            s.push_str(&format!(" ts={}/{}", ts.val, ts.ecr));
        }
        s
    }

    /// `seg` as a verdict compares it, in incarnation `target`'s numbers.
    fn seen(&self, seg: &WireSegment, target: usize) -> Observed {
        Observed::Segment(SegmentSeen::new(
            seg.flags,
            seg.seq,
            seg.ack,
            seg.payload.len(),
            &self.incs,
            target,
        ))
    }

    fn show(&self, r: &Received) -> String {
        format!(
            "{} at {:.3}s",
            self.describe(&r.segment, true),
            r.at.as_secs_f64()
        )
    }

    fn step(&mut self, step: &Step) -> StepResult {
        match step {
            Step::Note(t) => {
                let now = self.stack.now();
                self.note(now, format!("note: {t}"));
                Ok(Ok(()))
            }
            Step::Wait(d) => {
                let until = self.due + self.ms(*d);
                self.due = until;
                if let Some(r) = self.recv(until)? {
                    return Ok(Err(Mismatch::new(
                        format!("nothing from the SUT during the wait of {d}"),
                        format!("the SUT sent {}", self.show(&r)),
                        self.seen(&r.segment, self.cur()),
                    )));
                }
                self.overshoot(until);
                Ok(Ok(()))
            }
            Step::ExpectNone(e) => {
                let until = self.due + self.ms(e.duration);
                self.due = until;
                while let Some(r) = self.recv(until)? {
                    let hit = e.flags.is_none_or(|f| r.segment.flags.has(f));
                    let shown = self.show(&r);
                    if hit {
                        let what = e.flags.map_or(String::new(), |f| format!(" with {f}"));
                        return Ok(Err(Mismatch::new(
                            format!("no segment{what} for {}", e.duration),
                            format!("the SUT sent {shown}"),
                            self.seen(&r.segment, self.cur()),
                        )));
                    }
                    self.note(r.at, format!("SUT > peer  {shown} (not checked)"));
                }
                self.overshoot(until);
                Ok(Ok(()))
            }
            Step::App(call) => {
                let now = self.stack.now();
                let r = self.stack.app(*call)?;
                // Lateness counts to the call's end: a call that could not
                // start at once (a Linux close waits for a child process to
                // exec, see spawn.rs) took effect that late.
                self.act();
                self.due = self.stack.now();
                self.note(now, format!("SUT app: {}", call));
                Ok(r.map_err(|why| {
                    Mismatch::new(format!("{} to succeed", call), why, Observed::Refused)
                }))
            }
            Step::AppRefused(call) => {
                let now = self.stack.now();
                let r = self.stack.app(*call)?;
                self.act();
                self.due = self.stack.now();
                match r {
                    Err(why) => {
                        self.note(now, format!("SUT app: {call} refused ({why})"));
                        Ok(Ok(()))
                    }
                    Ok(()) => {
                        self.note(now, format!("SUT app: {call} (allowed)"));
                        Ok(Err(Mismatch::new(
                            format!("{call} to be refused"),
                            "the call succeeded",
                            Observed::Allowed,
                        )))
                    }
                }
            }
            Step::Inject(i) => self.inject(i),
            Step::Expect(e) => self.expect(e),
            Step::ExpectState(e) => {
                let tol = self.ms(e.tolerance.unwrap_or(self.spec.tolerance()));
                let until = self.stack.now() + tol;
                loop {
                    let Some(s) = self.stack.state()? else {
                        let now = self.stack.now();
                        self.note(
                            now,
                            "SUT state: not shown by this stack (not checked)".into(),
                        );
                        return Ok(Ok(()));
                    };
                    let mut ok = s.state == e.state;
                    let mut shown = s.state.name().to_string();
                    let mut observed = Observed::State(shown.clone());
                    if let (true, Some(r)) = (ok, e.remaining) {
                        match s.remaining {
                            Some(left) => {
                                shown = format!("{shown} with {:.3}s left", left.as_secs_f64());
                                let (min, max) = (self.ms(r.min), self.ms(r.max));
                                ok = left + tol >= min && left <= max + tol;
                                observed = Observed::TimeLeftOutOfRange;
                            }
                            // A stack that does not show the time left
                            // cannot be held to it.
                            None => shown = format!("{shown} (time left not shown, not checked)"),
                        }
                    }
                    let now = self.stack.now();
                    if ok {
                        // A state check waits for the stack, so the script
                        // restarts from its end rather than counting the
                        // wait as the harness's lateness.
                        self.due = now;
                        self.note(now, format!("SUT state {shown}"));
                        return Ok(Ok(()));
                    }
                    if now >= until {
                        let want = match e.remaining {
                            Some(r) => format!("{} with {}..{} left", e.state.name(), r.min, r.max),
                            None => e.state.name().to_string(),
                        };
                        return Ok(Err(Mismatch::new(
                            format!("the SUT's socket in {want}"),
                            format!("it is in {shown}"),
                            observed,
                        )));
                    }
                    // Let the stack run a little (real or virtual time);
                    // segments arriving meanwhile stay for the next step.
                    let step = (now + Duration::from_millis(2)).min(until);
                    if let Some(r) = self.stack.recv(step)? {
                        self.held.push_back(r);
                    }
                }
            }
            Step::Incarnation(m) => {
                let next = match Origins::next_step(&self.incs[self.cur()], m) {
                    Ok(o) => o,
                    Err(mismatch) => return Ok(Err(mismatch)),
                };
                self.incs.push(next);
                let now = self.stack.now();
                self.note(now, next.started(self.incs.len()));
                Ok(Ok(()))
            }
        }
    }

    fn inject(&mut self, i: &Inject) -> StepResult {
        let (sut, peer) = self.stack.addresses();
        let target = i.incarnation.unwrap_or(self.incs.len() as u32) as usize - 1;
        let isns = self.incs[target];
        let ack = match (i.ack, isns.sut) {
            (None, _) => 0,
            (Some(v @ SeqValue::Abs(_)), _) => v.resolve(0),
            (Some(v), Some(base)) => v.resolve(base),
            (Some(SeqValue::Rel(_)), None) => {
                return Ok(Err(Mismatch::new(
                    "a relative ack, which needs the SUT's ISN",
                    "the SUT sent no SYN in this incarnation",
                    Observed::NoSutIsn,
                )))
            }
        };
        let seg = WireSegment {
            src: peer,
            dst: sut,
            flags: i.flags,
            seq: i.seq.resolve(isns.peer),
            ack,
            window: i.win.unwrap_or(timewait_specs::format::defaults::WINDOW),
            options: i.options.clone(),
            payload: vec![b'p'; usize::from(i.len)],
        };
        let now = self.act();
        let line = format!("peer > SUT  {}", self.describe(&seg, false));
        self.note(now, line);
        self.stack.inject(&seg)?;
        self.due = self.stack.now();
        Ok(Ok(()))
    }

    fn expect(&mut self, e: &Expect) -> StepResult {
        let after = e.after.map_or(Duration::ZERO, |d| self.ms(d));
        let within = e.within.map_or(Duration::ZERO, |d| self.ms(d)).max(after);
        let slack = match e.tolerance {
            Some(t) => self.ms(t) + after / 4,
            None => self.tolerance(after),
        };
        let earliest = (self.due + after).saturating_sub(slack);
        // A stack may hold an ACK back until its delayed-ACK timer fires
        // (RFC 1122 4.2.3.2); that is lateness the spec cannot know about.
        let deadline = self.due + within + slack + self.stack.ack_delay();
        let Some(r) = self.recv(deadline)? else {
            return Ok(Err(Mismatch::new(
                format!("{} by {:.3}s", e.summary(), deadline.as_secs_f64()),
                "nothing arrived",
                Observed::Nothing,
            )));
        };
        let target = e.incarnation.unwrap_or(self.incs.len() as u32) as usize - 1;
        let seg = &r.segment;
        let mut diffs = Vec::new();
        if seg.flags.without_psh() != e.flags.without_psh() {
            diffs.push(format!("flags {} (expected {})", seg.flags, e.flags));
        }
        if diffs.is_empty() {
            Origins::learn(&mut self.incs, e, seg.seq, target);
        }
        let isns = self.incs[target];
        if let Some(want) = e.seq {
            if !e.seq_matches(seg.seq, isns.sut) {
                diffs.push(format!(
                    "seq {} (expected {want})",
                    Self::rel(seg.seq, isns.sut)
                ));
            }
        }
        if let Some(want) = e.ack {
            if !seg.flags.has(Flags::ACK) {
                diffs.push(format!("no ACK (expected ack {want})"));
            } else if want.resolve(isns.peer) != seg.ack {
                diffs.push(format!(
                    "ack {} (expected {want})",
                    Self::rel(seg.ack, Some(isns.peer))
                ));
            }
        }
        if let Some(len) = e.len {
            if usize::from(len) != seg.payload.len() {
                diffs.push(format!("len {} (expected {len})", seg.payload.len()));
            }
        }
        if let Some(win) = e.win {
            if win != seg.window {
                diffs.push(format!("win {} (expected {win})", seg.window));
            }
        }
        if let Some(o) = &e.options {
            diffs.extend(o.departures(&seg.options));
        }
        if r.at < earliest {
            diffs.push(format!(
                "arrived at {:.3}s, before the earliest {:.3}s",
                r.at.as_secs_f64(),
                earliest.as_secs_f64()
            ));
        }
        let shown = self.show(&r);
        if diffs.is_empty() {
            // What follows is scripted from when the segment crossed the
            // wire, not from when the harness got round to reading it.
            self.due = r.at;
            // A SYN is the current incarnation's even where the spec writes
            // it in an older one's numbers (a reused 4-tuple).
            let own = if seg.flags.has(Flags::SYN) {
                self.cur()
            } else {
                target
            };
            self.incs[own].sent(seg.seq, seg.payload.len(), seg.flags);
            self.note(r.at, format!("SUT > peer  {}", self.describe(seg, true)));
            Ok(Ok(()))
        } else {
            Ok(Err(Mismatch::new(
                e.summary(),
                format!("{shown}: {}", diffs.join(", ")),
                self.seen(seg, target),
            )))
        }
    }
}
