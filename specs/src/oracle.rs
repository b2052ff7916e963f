//! The model as oracle: a spec is played against one model endpoint (the
//! SUT) under each model variant. The spec resolves the model's
//! nondeterminism: its injected segments are the network's deliveries, its
//! application calls are the SUT application's, its `expect` steps decide
//! when a retransmission timer fires, and its waits drive TIME-WAIT in real
//! time. A step whose expectation the variant does not meet fails with the
//! model's actual output, which is Netsem's trace checking done against our
//! own model.
//!
//! What the model does not know, the oracle does not check: windows, TCP
//! options, the PSH flag, and timing other than TIME-WAIT's length.

use crate::format::{App, Expect, Inject, SockState, Spec, Step};
use crate::observed::{Mismatch, Observed, Origins, SegmentSeen};
use crate::values::{Flags, SeqValue};
use std::collections::VecDeque;
use std::fmt;
use timewait_model::endpoint::{Endpoint, TcpState};
use timewait_model::rules;
use timewait_model::segment::{Flags as MFlags, Segment, Side};
use timewait_model::seq::SeqSpace;
use timewait_model::variant::{TimeWaitLen, TimeWaitRules};
use timewait_model::{Config, Preset};

/// The SUT is side A of the model, the scripted peer side B.
const SUT: Side = Side::A;
const PEER: Side = Side::B;
/// Ticks per MSL in the oracle's config; only the ratio of TIME-WAIT to MSL
/// matters, because the oracle keeps TIME-WAIT's time itself in ms.
const MSL_TICKS: u8 = 8;
/// The SUT's ISS for a listen or connect of incarnation `n`; any value
/// would do, since specs count from whatever ISN the SUT's SYN carries.
fn sut_iss(n: u32) -> u32 {
    0x4000_0000u32.wrapping_add(n.wrapping_mul(0x0100_0000))
}

/// The model configuration the oracle plays a spec against.
pub fn config(preset: Preset) -> Config {
    Config {
        msl: MSL_TICKS,
        seq_space: SeqSpace::MAX_MODULUS,
        // Linux's TIME-WAIT keeps the last advertised window (up to 64 KiB
        // unscaled) and reopens at SND.NXT + 65535 + 2; the model's window
        // plays both parts.
        window: 65535,
        isns: vec![0],
        listener_isns: vec![0],
        incarnations: u8::MAX,
        loss_budget: 0,
        dup_budget: 0,
        rto: 1,
        max_retries: u8::MAX,
        data_sends: u8::MAX,
        mss: 1460,
        // A spec's steps say what every incarnation does.
        last_closes: true,
        aborts: true,
        idle_ticks: 0,
        behaviour: preset.behaviour(MSL_TICKS),
    }
}

/// How one variant fared on one spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(Failure),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
}

/// The first step at which the model departs from the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 0-based index into the steps.
    pub step: usize,
    pub line: u64,
    pub column: u64,
    pub kind: &'static str,
    pub expected: String,
    pub actual: String,
    /// What the model's SUT did there, in the form verdicts compare.
    pub observed: Observed,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {} ({}): expected {}; the model {}",
            self.step + 1,
            self.kind,
            self.expected,
            self.actual
        )
    }
}

/// The result of playing a spec against one variant: the outcome and the
/// exchange as a readable log.
#[derive(Clone, Debug)]
pub struct Run {
    pub preset: Preset,
    pub outcome: Outcome,
    pub log: Vec<String>,
    /// Every injected segment: the SUT's state when it arrived, and its kind.
    pub arrivals: Vec<(SockState, Arrival)>,
    /// The wall time the play took (CI reports give each check its time).
    pub elapsed: std::time::Duration,
}

struct Oracle<'a> {
    spec: &'a Spec,
    cfg: Config,
    ep: Endpoint,
    now: u64,
    tw_since: Option<u64>,
    /// The SUT reused a TIME-WAIT 4-tuple and its SYN is not yet written
    /// down: the recorder writes that SYN in the old incarnation's numbers,
    /// so the spec checks the ISN the reuse rule picks.
    reused_from: Option<usize>,
    pending: VecDeque<Segment>,
    incs: Vec<Origins>,
    log: Vec<String>,
    arrivals: Vec<(SockState, Arrival)>,
    /// A persistent listener (`listen-persistent`) is open: the endpoint
    /// keeps `listen_iss` beside its connection (see `sync_listener`).
    persistent: bool,
    /// The incarnation the last `accept` took.
    accepted: Option<u8>,
}

impl<'a> Oracle<'a> {
    fn new(spec: &'a Spec, preset: Preset) -> Self {
        let cfg = config(preset);
        let mut ep = Endpoint::established(&cfg, 0, 0);
        ep.delete_tcb();
        ep.inc = 0;
        ep.app_inc = 0;
        Oracle {
            spec,
            cfg,
            ep,
            now: 0,
            tw_since: None,
            reused_from: None,
            pending: VecDeque::new(),
            incs: vec![Origins::new(spec.first_peer_isn())],
            log: Vec::new(),
            arrivals: Vec::new(),
            persistent: false,
            accepted: None,
        }
    }
}

/// Plays `spec` against `preset`.
pub fn run(spec: &Spec, preset: Preset) -> Run {
    let started = std::time::Instant::now();
    let mut o = Oracle::new(spec, preset);
    let mut outcome = Outcome::Pass;
    for (i, step) in spec.steps.iter().enumerate() {
        if let Err(m) = o.step(&step.value) {
            outcome = Outcome::Fail(Failure {
                step: i,
                line: step.referenced.line(),
                column: step.referenced.column(),
                kind: step.value.kind(),
                expected: m.expected,
                actual: m.actual,
                observed: m.observed,
            });
            break;
        }
    }
    if outcome.passed() {
        if let Some(seg) = o.pending.front().copied() {
            let last = spec.steps.len().saturating_sub(1);
            let (line, column) = spec
                .steps
                .last()
                .map_or((0, 0), |s| (s.referenced.line(), s.referenced.column()));
            outcome = Outcome::Fail(Failure {
                step: last,
                line,
                column,
                kind: "end of spec",
                expected: "no further segment from the SUT".into(),
                actual: format!("sends {}", o.show(&seg)),
                observed: o.seen(&seg, o.cur()),
            });
        }
    }
    Run {
        preset,
        outcome,
        log: o.log,
        arrivals: o.arrivals,
        elapsed: started.elapsed(),
    }
}

/// A spec written by [`record`]: the script with the SUT's segments filled in.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub steps: Vec<Step>,
    /// Why recording stopped before the end of the script, if it did.
    pub stopped: Option<String>,
}

/// Plays a script that has no `expect` steps against `preset` and writes
/// down what the SUT sends as `expect` steps, each right after the step that
/// caused it. A wait during which the SUT has a retransmission timer running
/// becomes `expect-none` for RSTs only: a real stack retransmits many times
/// within one of the model's ticks. Recording stops at an application call the
/// variant cannot make, with the SUT's state as the last step.
pub fn record(spec: &Spec, preset: Preset) -> Recorded {
    let mut o = Oracle::new(spec, preset);
    let mut steps = Vec::new();
    let mut stopped = None;
    for step in &spec.steps {
        let step = match &step.value {
            Step::Wait(d) if o.ep.rtx > 0 => Step::ExpectNone(crate::format::ExpectNone {
                duration: *d,
                flags: Some(Flags::RST),
            }),
            other => other.clone(),
        };
        if let Err(m) = o.step(&step) {
            stopped = Some(format!("expected {}; the model {}", m.expected, m.actual));
            steps.push(Step::ExpectState(crate::format::ExpectState {
                state: sock_state(o.ep.state),
                remaining: None,
                tolerance: None,
            }));
            break;
        }
        steps.push(step);
        while let Some(seg) = o.pending.pop_front() {
            steps.push(Step::Expect(o.expectation(&seg)));
        }
    }
    Recorded { steps, stopped }
}

/// Plays `spec` against every variant.
pub fn run_all(spec: &Spec) -> Vec<Run> {
    Preset::ALL.iter().map(|&p| run(spec, p)).collect()
}

type StepResult = Result<(), Mismatch>;

impl Oracle<'_> {
    fn cur(&self) -> usize {
        self.incs.len() - 1
    }

    fn time_wait_ms(&self) -> Option<u64> {
        let msl = self.spec.msl_ms();
        match self.cfg.behaviour.time_wait {
            TimeWaitLen::TwoMsl => Some(2 * msl),
            TimeWaitLen::None => None,
            TimeWaitLen::Ticks(t) => Some(u64::from(t) * msl / u64::from(MSL_TICKS)),
            // TCP_TIMEWAIT_LEN: Linux's TIME-WAIT is 60 s whatever the MSL.
            TimeWaitLen::Linux { .. } => Some(60_000),
        }
    }

    fn stamp(&self) -> String {
        format!("{:>9.3}s", self.now as f64 / 1000.0)
    }

    fn note(&mut self, text: String) {
        let line = format!("{}  {text}", self.stamp());
        self.log.push(line);
    }

    /// A segment in the spec's relative numbers of the current incarnation.
    fn show(&self, seg: &Segment) -> String {
        let isns = self.incs[self.cur()];
        let (own, other) = if seg.from == SUT {
            (isns.sut, Some(isns.peer))
        } else {
            (Some(isns.peer), isns.sut)
        };
        let rel = |v, base| SeqValue::readable(v, base).to_string();
        let flags = spec_flags(seg.flags);
        let mut s = format!("{flags} seq={}", rel(seg.seq, own));
        if seg.flags.has(MFlags::ACK) {
            s.push_str(&format!(" ack={}", rel(seg.ack, other)));
        }
        if seg.len > 0 {
            s.push_str(&format!(" len={}", seg.len));
        }
        s
    }

    /// `seg` as a verdict compares it, in incarnation `target`'s numbers.
    fn seen(&self, seg: &Segment, target: usize) -> Observed {
        Observed::Segment(SegmentSeen::new(
            spec_flags(seg.flags),
            seg.seq,
            seg.ack,
            usize::from(seg.len),
            &self.incs,
            target,
        ))
    }

    fn advance(&mut self, ms: u64) {
        let to = self.now + ms;
        if let (Some(since), Some(len)) = (self.tw_since, self.time_wait_ms()) {
            if self.ep.state == TcpState::TimeWait && since + len <= to {
                self.now = since + len;
                rules::finish_tcb(&mut self.ep);
                self.tw_since = None;
                self.note(format!("SUT: TIME-WAIT ends, now {}", self.ep.state));
            }
        }
        self.now = to;
    }

    fn unexpected_pending(&self, what: &str) -> StepResult {
        match self.pending.front() {
            Some(seg) => Err(Mismatch::new(
                format!("no segment from the SUT before this {what}"),
                format!(
                    "sends {} first, which the spec does not expect",
                    self.show(seg)
                ),
                self.seen(seg, self.cur()),
            )),
            None => Ok(()),
        }
    }

    fn step(&mut self, step: &Step) -> StepResult {
        let r = self.step_inner(step);
        self.sync_listener();
        r
    }

    /// A persistent listener as the model has one: the endpoint is one
    /// 4-tuple, so the listener is `listen_iss` beside the connection, the
    /// same "listener beside a TIME-WAIT connection" a `listen` after an
    /// `incarnation` marker makes (`Endpoint::app_listen`). While the
    /// connection has a TCB (from ESTABLISHED on; a SYN-RECEIVED child dies
    /// back into the listener by RFC 9293's passive-open rule), the
    /// listener waits for the application's next incarnation with
    /// `sut_iss`, so the TIME-WAIT rules hand it an acceptable SYN (Linux's
    /// `TCP_TW_SYN` to `inet_lookup_listener`), and a connection that ends
    /// (`finish_tcb`) leaves the endpoint listening. A connection that ends
    /// without `finish_tcb` (an abort) leaves it listening here.
    fn sync_listener(&mut self) {
        if !self.persistent {
            return;
        }
        let st = self.ep.state;
        if st == TcpState::Closed {
            let iss = match self.ep.listen_iss.take() {
                Some(iss) => iss,
                None => sut_iss(u32::from(self.ep.app_inc)),
            };
            self.ep.become_listener(iss);
            self.note(format!(
                "SUT: the persistent listener holds the port, now {}",
                self.ep.state
            ));
        } else if st.has_tcb() && st != TcpState::SynReceived && self.ep.listen_iss.is_none() {
            self.ep.app_inc = self.ep.app_inc.saturating_add(1);
            self.ep.listen_iss = Some(sut_iss(u32::from(self.ep.app_inc)));
        }
    }

    fn step_inner(&mut self, step: &Step) -> StepResult {
        match step {
            Step::Note(text) => {
                self.note(format!("note: {text}"));
                Ok(())
            }
            Step::Wait(d) => {
                self.unexpected_pending("wait")?;
                let ms = self.spec.ms(*d);
                self.advance(ms);
                Ok(())
            }
            Step::App(app) => {
                self.unexpected_pending("application call")?;
                self.app(*app)
            }
            Step::AppRefused(app) => {
                self.unexpected_pending("application call")?;
                match self.app(*app) {
                    Err(m) if m.observed == Observed::Refused => {
                        self.note(format!("SUT app: {app} refused ({})", m.actual));
                        Ok(())
                    }
                    Err(m) => Err(m),
                    Ok(()) => Err(Mismatch::new(
                        format!("the SUT's {app} to be refused"),
                        format!("makes it: its connection is now in {}", self.ep.state),
                        Observed::Allowed,
                    )),
                }
            }
            Step::Inject(seg) => {
                self.unexpected_pending("injected segment")?;
                self.inject(seg)
            }
            Step::Expect(e) => self.expect(e),
            Step::ExpectNone(e) => {
                while let Some(seg) = self.pending.pop_front() {
                    let hit = e.flags.is_none_or(|f| spec_flags(seg.flags).has(f));
                    if hit {
                        return Err(Mismatch::new(
                            match e.flags {
                                Some(f) => format!("no segment with {f} for {}", e.duration),
                                None => format!("no segment for {}", e.duration),
                            },
                            format!("sends {}", self.show(&seg)),
                            self.seen(&seg, self.cur()),
                        ));
                    }
                    let line = format!("SUT > peer  {} (not checked)", self.show(&seg));
                    self.note(line);
                }
                let ms = self.spec.ms(e.duration);
                let what = e.flags.map_or(String::new(), |f| format!(" with {f}"));
                self.note(format!("SUT sends nothing{what} for {}", e.duration));
                self.advance(ms);
                Ok(())
            }
            Step::ExpectState(e) => {
                self.unexpected_pending("state check")?;
                let actual = sock_state(self.ep.state);
                if actual != e.state {
                    return Err(Mismatch::new(
                        format!("the SUT's socket in {}", e.state.name()),
                        format!("is in {}", actual.name()),
                        Observed::State(actual.name().into()),
                    ));
                }
                if let (Some(r), SockState::TimeWait) = (e.remaining, actual) {
                    let left = match (self.tw_since, self.time_wait_ms()) {
                        (Some(since), Some(len)) => (since + len).saturating_sub(self.now),
                        _ => 0,
                    };
                    let tol = self.spec.ms(e.tolerance.unwrap_or(self.spec.tolerance()));
                    let (min, max) = (self.spec.ms(r.min), self.spec.ms(r.max));
                    if left + tol < min || left > max + tol {
                        return Err(Mismatch::new(
                            format!("TIME-WAIT with {}..{} left", r.min, r.max),
                            format!("has {:.3}s of TIME-WAIT left", left as f64 / 1000.0),
                            Observed::TimeLeftOutOfRange,
                        ));
                    }
                    self.note(format!(
                        "SUT state {} ({:.3}s left)",
                        actual.name(),
                        left as f64 / 1000.0
                    ));
                } else {
                    self.note(format!("SUT state {}", actual.name()));
                }
                Ok(())
            }
            Step::Incarnation(m) => {
                self.unexpected_pending("new incarnation")?;
                let next = Origins::next_step(&self.incs[self.cur()], m)?;
                self.incs.push(next);
                self.note(next.started(self.incs.len()));
                Ok(())
            }
        }
    }

    fn app(&mut self, app: App) -> StepResult {
        let n = self.incs.len() as u32;
        let st = self.ep.state;
        let fail = |what: &str| {
            Err(Mismatch::new(
                format!("the SUT's {what} to succeed"),
                format!("cannot: its connection is in {st}"),
                Observed::Refused,
            ))
        };
        let open = matches!(st, TcpState::Established | TcpState::CloseWait);
        match app {
            App::Listen | App::ListenPersistent => {
                if !matches!(st, TcpState::Closed | TcpState::TimeWait) {
                    return fail("listen (bind would fail with EADDRINUSE)");
                }
                self.ep.app_listen(sut_iss(n));
                self.persistent = app == App::ListenPersistent;
            }
            App::CloseListener => {
                self.persistent = false;
                if self.ep.listen_iss.take().is_some() {
                    // The incarnation the listener waited for never comes.
                    self.ep.app_inc = self.ep.app_inc.saturating_sub(1);
                }
                if st == TcpState::Listen {
                    self.ep.delete_tcb();
                }
            }
            App::Accept => {
                if matches!(
                    st,
                    TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::SynReceived
                ) {
                    return Err(Mismatch::new(
                        "accept to return a connection",
                        format!("has none established (state {st}); accept would block"),
                        Observed::Refused,
                    ));
                }
                // The persistent listener hands out each connection once:
                // the one in TIME-WAIT beside it was accepted already.
                if self.persistent && self.accepted == Some(self.ep.inc) {
                    return Err(Mismatch::new(
                        "accept to return a connection",
                        format!(
                            "has no new one (state {st}, accepted already); accept would block"
                        ),
                        Observed::Refused,
                    ));
                }
                self.accepted = Some(self.ep.inc);
            }
            App::Connect => {
                let iss = match st {
                    TcpState::Closed => sut_iss(n),
                    TcpState::TimeWait if self.may_reuse() => {
                        // The TIME-WAIT's own incarnation (the spec may
                        // already have announced the next one).
                        self.reused_from = Some(usize::from(self.ep.inc.max(1)) - 1);
                        self.tw_since = None;
                        rules::reopen_iss(&self.cfg, &self.ep)
                    }
                    _ => return fail("connect"),
                };
                let syn = self.ep.app_connect(&self.cfg, SUT, iss);
                self.pending.push_back(syn);
            }
            App::Send(len) => {
                if !open {
                    return fail("send");
                }
                let seg = self.ep.app_send(&self.cfg, SUT, len);
                self.pending.push_back(seg);
            }
            App::Shutdown | App::Close => match st {
                TcpState::Established | TcpState::CloseWait => {
                    let fin = self.ep.app_close(&self.cfg, SUT);
                    self.pending.push_back(fin);
                }
                // The connection ended and the persistent listener holds
                // the port: closing the connection's socket leaves it be.
                TcpState::Listen if self.persistent => self.ep.app_closed = true,
                // RFC 9293 3.10.4: CLOSE in LISTEN or SYN-SENT deletes the TCB.
                TcpState::Listen | TcpState::SynSent if app == App::Close => {
                    self.ep.delete_tcb();
                    self.ep.app_closed = true;
                }
                // After shutdown the FIN is out; close only lets go.
                _ if self.ep.app_closed || st.fin_sent() => self.ep.app_closed = true,
                _ => {
                    return fail(if app == App::Close {
                        "close"
                    } else {
                        "shutdown"
                    })
                }
            },
            App::Abort => {
                // The model's ABORT: RST|ACK at SND.NXT from a synchronized
                // state, then no TCB and no TIME-WAIT.
                if let Some(rst) = self.ep.app_abort(SUT) {
                    self.pending.push_back(rst);
                }
            }
        }
        self.note(format!("SUT app: {} -> {}", app, self.ep.state));
        Ok(())
    }

    /// Whether a connect may take over the SUT's TIME-WAIT 4-tuple, as
    /// `tcp_twsk_unique()` decides for the harness's SUT: the old connection
    /// used timestamps. The SUT binds its port before it connects
    /// (SO_REUSEADDR), and for a bound socket Linux passes no `twp`, which
    /// skips both the `tcp_tw_reuse` sysctl and its one-second delay
    /// (`!twp || (reuse && time_after32(...))`); those gate only connects
    /// that pick an ephemeral port. The model's `tw_reuse` preset is the
    /// rule either way, since its ticks are longer than that second.
    fn may_reuse(&self) -> bool {
        self.cfg.behaviour.tw_reuse && self.ep.ts_recent.is_some()
    }

    fn inject(&mut self, spec_seg: &Inject) -> StepResult {
        let target = spec_seg.incarnation.unwrap_or(self.incs.len() as u32);
        let isns = self.incs[target as usize - 1];
        let seq = spec_seg.seq.resolve(isns.peer);
        let ack = match (spec_seg.ack, isns.sut) {
            (None, _) => 0,
            (Some(v @ SeqValue::Abs(_)), _) => v.resolve(0),
            (Some(v), Some(base)) => v.resolve(base),
            (Some(SeqValue::Rel(_)), None) => {
                return Err(Mismatch::new(
                    "a relative ack, which needs the SUT's ISN",
                    "never sent a SYN in this incarnation, so the ISN is unknown",
                    Observed::NoSutIsn,
                ))
            }
        };
        let seg = Segment {
            from: PEER,
            flags: model_flags(spec_seg.flags),
            seq,
            ack,
            len: spec_seg.len,
            ts: spec_seg.options.ts.map(|t| t.val),
            age: 0,
            inc: u8::try_from(target).unwrap_or(u8::MAX),
            rexmit: false,
            abort: false,
        };
        let before = self.ep.state;
        self.arrivals.push((
            sock_state(before),
            Arrival::classify(&self.cfg, &self.ep, &seg),
        ));
        let was_tw = before == TcpState::TimeWait;
        if was_tw {
            // A restart sets the timer back to its full length (at least
            // 2 ticks here), which tells it apart from this 1.
            self.ep.tw = 1;
        }
        let line = format!("peer > SUT  {}", self.show(&seg));
        self.note(line);
        let r = rules::on_segment(&self.cfg, SUT, &mut self.ep, seg);
        if self.ep.state == TcpState::TimeWait {
            if !was_tw || self.ep.tw != 1 {
                self.tw_since = Some(self.now);
            }
        } else {
            self.tw_since = None;
        }
        if self.ep.state != before {
            let line = format!("SUT: {before} -> {}", self.ep.state);
            self.note(line);
        }
        if let Some(c) = r.events.cross {
            let line = format!(
                "model: a {:?} segment of incarnation {} was accepted by incarnation {}",
                c.kind, c.from_inc, c.to_inc
            );
            self.note(line);
        }
        if let Some(reply) = r.reply {
            self.pending.push_back(reply);
            self.linux_quick_syn_retransmit(before, &seg, &reply);
        }
        Ok(())
    }

    /// Linux answers an unacceptable ACK in SYN-SENT with a RST and, if the
    /// SYN was not retransmitted yet, re-arms the retransmission timer to
    /// TCP_TIMEOUT_MIN (a few ms; `tcp_rcv_synsent_state_process`:
    /// "Previous FIN/ACK or RST/ACK might be ignored"), so the SYN goes out
    /// again at once. That is how a client reusing a TIME-WAIT 4-tuple
    /// recovers when the old peer still answers. The model's timer runs in
    /// ticks and retransmits the SYN at its RTO; only the oracle, which
    /// keeps real time, knows the retransmission comes within milliseconds.
    fn linux_quick_syn_retransmit(&mut self, before: TcpState, seg: &Segment, reply: &Segment) {
        let linux = self.cfg.behaviour.time_wait_rules == TimeWaitRules::Linux;
        let bad_ack = before == TcpState::SynSent
            && seg.flags.has(MFlags::ACK)
            && !seg.flags.has(MFlags::RST)
            && reply.flags.has(MFlags::RST);
        if !(linux && bad_ack && self.ep.state == TcpState::SynSent && self.ep.retries == 0) {
            return;
        }
        self.ep.retries = 1;
        self.ep.rtx = self.cfg.rto_after(1);
        if let Some(mut syn) = self.ep.head_segment(&self.cfg, SUT) {
            syn.rexmit = true;
            self.pending.push_back(syn);
        }
    }

    /// The `expect` step that matches `seg` exactly, learning the SUT's ISN
    /// from a SYN.
    fn expectation(&mut self, seg: &Segment) -> Expect {
        let own = usize::from(seg.inc.max(1)).min(self.incs.len()) - 1;
        if seg.flags.has(MFlags::SYN) && self.incs[own].sut.is_none() {
            self.incs[own].sut = Some(seg.seq);
        }
        self.incs[own].sent(seg.seq, usize::from(seg.len), spec_flags(seg.flags));
        // A SYN that reuses a TIME-WAIT 4-tuple is written in the old
        // incarnation's numbers, which pins the ISN the reuse rule picks.
        let inc = match self.reused_from.take() {
            Some(old) if seg.flags.has(MFlags::SYN) => old,
            _ => own,
        };
        let isns = self.incs[inc];
        let rel = SeqValue::relative;
        let line = format!("SUT > peer  {}", self.show(seg));
        self.note(line);
        Expect {
            flags: spec_flags(seg.flags),
            seq: Some(rel(seg.seq, isns.sut)),
            ack: seg
                .flags
                .has(MFlags::ACK)
                .then(|| rel(seg.ack, Some(isns.peer))),
            len: Some(seg.len),
            win: None,
            options: None,
            incarnation: (inc + 1 != self.incs.len()).then_some(inc as u32 + 1),
            after: None,
            within: None,
            tolerance: None,
        }
    }

    fn expect(&mut self, e: &Expect) -> StepResult {
        if let Some(after) = e.after {
            let ms = self.spec.ms(after);
            self.advance(ms);
        }
        let seg = match self.pending.pop_front() {
            Some(s) => s,
            None if self.ep.rtx > 0 => {
                // The spec says the timer fires now: retransmit the head.
                self.ep.retries = self.ep.retries.saturating_add(1);
                match self.ep.head_segment(&self.cfg, SUT) {
                    Some(mut s) => {
                        s.rexmit = true;
                        s
                    }
                    None => {
                        return Err(Mismatch::new(
                            e.summary(),
                            "sends nothing",
                            Observed::Nothing,
                        ))
                    }
                }
            }
            None => {
                return Err(Mismatch::new(
                    e.summary(),
                    "sends nothing",
                    Observed::Nothing,
                ))
            }
        };
        let target = e.incarnation.unwrap_or(self.incs.len() as u32) as usize - 1;
        let flags = spec_flags(seg.flags);
        let want_flags = e.flags.without_psh();
        let mut problems = Vec::new();
        if flags != want_flags {
            problems.push(format!("flags {flags}"));
        }
        if problems.is_empty() {
            Origins::learn(&mut self.incs, e, seg.seq, target);
        }
        let isns = self.incs[target];
        if !e.seq_matches(seg.seq, isns.sut) {
            problems.push("seq".into());
        }
        if let Some(want) = e.ack {
            if !seg.flags.has(MFlags::ACK) || want.resolve(isns.peer) != seg.ack {
                problems.push("ack".into());
            }
        }
        if let Some(len) = e.len {
            if len != seg.len {
                problems.push("len".into());
            }
        }
        let shown = self.show(&seg);
        if problems.is_empty() {
            let own = usize::from(seg.inc.max(1)).min(self.incs.len()) - 1;
            self.incs[own].sent(seg.seq, usize::from(seg.len), flags);
            let mark = if seg.rexmit { " (retransmission)" } else { "" };
            self.note(format!("SUT > peer  {shown}{mark}"));
            Ok(())
        } else {
            Err(Mismatch::new(
                e.summary(),
                format!("sends {shown} (differs in {})", problems.join(", ")),
                self.seen(&seg, target),
            ))
        }
    }
}

/// The flags the model knows, spec letter beside model bit.
const FLAG_PAIRS: [(Flags, MFlags); 4] = [
    (Flags::SYN, MFlags::SYN),
    (Flags::ACK, MFlags::ACK),
    (Flags::FIN, MFlags::FIN),
    (Flags::RST, MFlags::RST),
];

pub(crate) fn model_flags(f: Flags) -> MFlags {
    FLAG_PAIRS
        .iter()
        .filter(|(a, _)| f.has(*a))
        .fold(MFlags::NONE, |m, &(_, b)| m | b)
}

pub(crate) fn spec_flags(m: MFlags) -> Flags {
    FLAG_PAIRS
        .iter()
        .filter(|(_, b)| m.has(*b))
        .fold(Flags::default(), |f, &(a, _)| f.union(a))
}

fn sock_state(s: TcpState) -> SockState {
    match s {
        TcpState::Closed => SockState::Closed,
        TcpState::Listen => SockState::Listen,
        TcpState::SynSent => SockState::SynSent,
        TcpState::SynReceived => SockState::SynReceived,
        TcpState::Established => SockState::Established,
        TcpState::FinWait1 => SockState::FinWait1,
        TcpState::FinWait2 => SockState::FinWait2,
        TcpState::CloseWait => SockState::CloseWait,
        TcpState::Closing => SockState::Closing,
        TcpState::LastAck => SockState::LastAck,
        TcpState::TimeWait => SockState::TimeWait,
    }
}

/// A spec's verdict against the model: each variant's run and whether it is
/// what the spec's `model` section says.
#[derive(Clone, Debug)]
pub struct Check {
    pub runs: Vec<Run>,
    /// Variants whose outcome contradicts the spec's `model` section.
    pub disagreements: Vec<Preset>,
}

/// What the spec says of `p`: `Some(true)` must pass, `Some(false)` must
/// fail, `None` not listed.
pub fn expectation(spec: &Spec, p: Preset) -> Option<bool> {
    let m = &spec.model.value;
    if m.pass.iter().any(|v| v.value.0 == p) {
        Some(true)
    } else if m.fail.iter().any(|v| v.value.0 == p) {
        Some(false)
    } else {
        None
    }
}

/// Plays `spec` against every variant and compares with its `model` section.
pub fn check(spec: &Spec) -> Check {
    let runs = run_all(spec);
    let disagreements = runs
        .iter()
        .filter(|r| expectation(spec, r.preset).is_some_and(|want| want != r.outcome.passed()))
        .map(|r| r.preset)
        .collect();
    Check {
        runs,
        disagreements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// An active close to TIME-WAIT, then `tail`.
    fn spec(tail: &str) -> Spec {
        let text = format!(
            "name: t\ndescription: d\nrole: active-closer\nmsl: 30s\nmodel: {{pass: [rfc1337]}}\nsteps:\n\
             - app: listen\n- inject: {{flags: S, seq: 0}}\n- expect: {{flags: SA, seq: 0, ack: 1}}\n\
             - inject: {{flags: A, seq: 1, ack: 1}}\n- app: accept\n- app: close\n\
             - expect: {{flags: FA, seq: 1, ack: 1}}\n- inject: {{flags: FA, seq: 1, ack: 2}}\n\
             - expect: {{flags: A, seq: 2, ack: 2}}\n{tail}"
        );
        crate::load::load_str(Path::new("t.yaml"), &text).expect("valid spec")
    }

    fn outcome(s: &Spec, p: Preset) -> Outcome {
        run(s, p).outcome
    }

    #[test]
    fn time_wait_lasts_two_msl_then_the_tuple_is_closed() {
        let s = spec("- wait: 59.9s\n- expect-state: {state: TIME-WAIT}\n- wait: 0.1s\n- expect-state: {state: CLOSED}\n");
        assert_eq!(outcome(&s, Preset::Rfc1337), Outcome::Pass);
        // Linux's 60 s equals 2 x 30 s here; a 1-MSL TIME-WAIT is gone earlier.
        assert_eq!(outcome(&s, Preset::Linux), Outcome::Pass);
        let Outcome::Fail(f) = outcome(&s, Preset::ShortTimeWait) else {
            panic!("short-time-wait must fail")
        };
        assert_eq!((f.step, f.actual.as_str()), (10, "is in CLOSED"));
    }

    #[test]
    fn without_time_wait_a_retransmitted_fin_meets_a_reset() {
        let s =
            spec("- inject: {flags: FA, seq: 1, ack: 2}\n- expect: {flags: A, seq: 2, ack: 2}\n");
        assert_eq!(outcome(&s, Preset::Rfc1337), Outcome::Pass);
        let Outcome::Fail(f) = outcome(&s, Preset::NoTimeWait) else {
            panic!("no-time-wait must fail")
        };
        assert!(f.actual.starts_with("sends R seq=2"), "{f}");
    }

    #[test]
    fn an_unexpected_reply_fails_the_next_step() {
        // The retransmitted FIN is re-ACKed, but the spec goes on waiting.
        let s = spec("- inject: {flags: FA, seq: 1, ack: 2}\n- wait: 1s\n");
        let Outcome::Fail(f) = outcome(&s, Preset::Rfc1337) else {
            panic!("the ACK is not expected")
        };
        assert_eq!(f.kind, "wait");
        assert!(f.actual.contains("A seq=2 ack=2"), "{f}");
    }

    /// The SUT accepts through `listen` (one-shot or persistent), closes
    /// first and is in TIME-WAIT; then incarnation 2's SYN, 100000 above
    /// the old one, and `tail`.
    fn newer_syn_into_time_wait(listen: &str, tail: &str) -> Spec {
        let text = format!(
            "name: t\ndescription: d\nrole: active-closer\nmsl: 30s\nmodel: {{pass: [linux]}}\nsteps:\n\
             - app: {listen}\n- inject: {{flags: S, seq: 0}}\n- expect: {{flags: SA, seq: 0, ack: 1}}\n\
             - inject: {{flags: A, seq: 1, ack: 1}}\n- app: accept\n- app: close\n\
             - expect: {{flags: FA, seq: 1, ack: 1}}\n- inject: {{flags: FA, seq: 1, ack: 2}}\n\
             - expect: {{flags: A, seq: 2, ack: 2}}\n- expect-state: {{state: TIME-WAIT}}\n\
             - incarnation: {{peer-isn: 100000}}\n- inject: {{flags: S, seq: 0}}\n{tail}"
        );
        crate::load::load_str(Path::new("t.yaml"), &text).expect("valid spec")
    }

    #[test]
    fn a_newer_syn_into_time_wait_beside_a_persistent_listener_gets_a_syn_ack() {
        // Linux's TCP_TW_SYN finds the listener: a new incarnation, which
        // the same listener hands to a second accept.
        let s = newer_syn_into_time_wait(
            "listen-persistent",
            "- expect: {flags: SA, seq: 0, ack: 1}\n- inject: {flags: A, seq: 1, ack: 1}\n\
             - app: accept\n- expect-state: {state: ESTABLISHED}\n",
        );
        for p in [Preset::Linux, Preset::LinuxRfc1337] {
            let r = run(&s, p);
            assert_eq!(r.outcome, Outcome::Pass, "{p}: {:?}", r.log);
        }
        // RFC 9293 alone challenges it (RFC 5961 section 4), listener or not.
        let Outcome::Fail(f) = outcome(&s, Preset::Rfc9293) else {
            panic!("rfc9293 must answer with a challenge ACK")
        };
        assert_eq!(f.step, 12, "{f}");
        assert!(f.actual.starts_with("sends A seq="), "{f}");
    }

    #[test]
    fn a_newer_syn_into_time_wait_after_the_one_shot_listener_closed_gets_the_time_wait_ack() {
        // The accept closed the listener: Linux's TCP_TW_SYN finds none and
        // answers with TIME-WAIT's ACK, as the model's
        // `linux_newer_syn_without_a_listener_is_acked` has it.
        let acked = "- expect: {flags: A, seq: 2, ack: 2, incarnation: 1}\n\
                     - expect-state: {state: TIME-WAIT}\n";
        let s = newer_syn_into_time_wait("listen", acked);
        for p in [Preset::Linux, Preset::LinuxRfc1337] {
            let r = run(&s, p);
            assert_eq!(r.outcome, Outcome::Pass, "{p}: {:?}", r.log);
        }
        // The same script with the persistent listener is not acked.
        let s = newer_syn_into_time_wait("listen-persistent", acked);
        let Outcome::Fail(f) = outcome(&s, Preset::Linux) else {
            panic!("the persistent listener takes the SYN")
        };
        assert!(f.actual.starts_with("sends SA seq="), "{f}");
    }

    #[test]
    fn close_listener_leaves_the_time_wait_ack_and_then_a_closed_port() {
        let s = newer_syn_into_time_wait(
            "listen-persistent",
            "- expect: {flags: A, seq: 2, ack: 2, incarnation: 1}\n",
        );
        let mut steps = s.clone();
        // close-listener right after accept (step 5), before the close.
        steps.steps.insert(
            5,
            serde_saphyr::Spanned::new(
                Step::App(App::CloseListener),
                serde_saphyr::Location::UNKNOWN,
                serde_saphyr::Location::UNKNOWN,
            ),
        );
        let r = run(&steps, Preset::Linux);
        assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.log);
    }

    #[test]
    fn an_accept_before_the_next_connection_blocks_on_the_persistent_listener() {
        // Incarnation 1 is in TIME-WAIT beside the listener and was
        // accepted already: a second accept has nothing to take.
        let s = newer_syn_into_time_wait("listen-persistent", "");
        let mut steps = s.clone();
        steps.steps.truncate(10);
        steps.steps.push(serde_saphyr::Spanned::new(
            Step::App(App::Accept),
            serde_saphyr::Location::UNKNOWN,
            serde_saphyr::Location::UNKNOWN,
        ));
        let Outcome::Fail(f) = outcome(&steps, Preset::Linux) else {
            panic!("the accept must block")
        };
        assert_eq!((f.step, &f.observed), (10, &Observed::Refused), "{f}");
    }

    #[test]
    fn a_connection_that_ends_leaves_the_persistent_listener_listening() {
        // Passive close: LAST-ACK ends without TIME-WAIT, and the port
        // is the listener's again.
        let text = "name: t\ndescription: d\nrole: passive-closer\nmsl: 30s\nmodel: {pass: [linux]}\nsteps:\n\
             - app: listen-persistent\n- inject: {flags: S, seq: 0}\n- expect: {flags: SA, seq: 0, ack: 1}\n\
             - inject: {flags: A, seq: 1, ack: 1}\n- app: accept\n- inject: {flags: FA, seq: 1, ack: 1}\n\
             - expect: {flags: A, seq: 1, ack: 2}\n- app: close\n- expect: {flags: FA, seq: 1, ack: 2}\n\
             - inject: {flags: A, seq: 2, ack: 2}\n- expect-state: {state: LISTEN}\n\
             - app: close-listener\n- expect-state: {state: CLOSED}\n";
        let s = crate::load::load_str(Path::new("t.yaml"), text).expect("valid spec");
        let r = run(&s, Preset::Rfc1337);
        assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.log);
    }

    #[test]
    fn an_expect_with_nothing_pending_fires_the_retransmission_timer() {
        let s = spec("");
        let mut steps = s.clone();
        // Drop the peer's FIN and the ACK of it: the SUT's FIN is unacknowledged.
        steps.steps.truncate(7);
        let again = Step::Expect(Expect {
            flags: Flags::FIN.union(Flags::ACK),
            seq: Some(SeqValue::Rel(1)),
            ack: Some(SeqValue::Rel(1)),
            len: None,
            win: None,
            options: None,
            incarnation: None,
            after: None,
            within: None,
            tolerance: None,
        });
        steps.steps.push(serde_saphyr::Spanned::new(
            again,
            serde_saphyr::Location::UNKNOWN,
            serde_saphyr::Location::UNKNOWN,
        ));
        let r = run(&steps, Preset::Rfc1337);
        assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.log);
        assert!(r.log.last().is_some_and(|l| l.contains("(retransmission)")));
    }
}

/// What kind of segment reached the SUT, relative to its connection: the
/// columns of the coverage table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arrival {
    Syn,
    SynHigher,
    SynLower,
    SynNewerTimestamp,
    SynOlderTimestamp,
    SynAck,
    Ack,
    OldAck,
    Data,
    OldData,
    Fin,
    RetransmittedFin,
    RstExact,
    RstInWindow,
    RstOutOfWindow,
}

impl Arrival {
    pub const ALL: [Arrival; 15] = [
        Arrival::Syn,
        Arrival::SynHigher,
        Arrival::SynLower,
        Arrival::SynNewerTimestamp,
        Arrival::SynOlderTimestamp,
        Arrival::SynAck,
        Arrival::Ack,
        Arrival::OldAck,
        Arrival::Data,
        Arrival::OldData,
        Arrival::Fin,
        Arrival::RetransmittedFin,
        Arrival::RstExact,
        Arrival::RstInWindow,
        Arrival::RstOutOfWindow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Arrival::Syn => "SYN",
            Arrival::SynHigher => "SYN above RCV.NXT",
            Arrival::SynLower => "SYN not above RCV.NXT",
            Arrival::SynNewerTimestamp => "SYN with a newer timestamp",
            Arrival::SynOlderTimestamp => "SYN with an older timestamp",
            Arrival::SynAck => "SYN-ACK",
            Arrival::Ack => "ACK",
            Arrival::OldAck => "old ACK",
            Arrival::Data => "data",
            Arrival::OldData => "old data",
            Arrival::Fin => "FIN",
            Arrival::RetransmittedFin => "retransmitted FIN",
            Arrival::RstExact => "RST at RCV.NXT",
            Arrival::RstInWindow => "RST in window",
            Arrival::RstOutOfWindow => "RST out of window",
        }
    }

    /// Classifies `seg` arriving at `ep`. "Old" means wholly below RCV.NXT.
    /// A SYN to a connection that has timestamps is classed by its
    /// timestamp, which then decides (RFC 6191), else by its sequence number.
    pub fn classify(cfg: &Config, ep: &Endpoint, seg: &Segment) -> Arrival {
        let s = cfg.space();
        let synced = !matches!(
            ep.state,
            TcpState::Closed | TcpState::Listen | TcpState::SynSent
        );
        let f = seg.flags;
        if f.has(MFlags::RST) {
            return if !synced {
                Arrival::RstOutOfWindow
            } else if seg.seq == ep.rcv_nxt {
                Arrival::RstExact
            } else if s.in_window(seg.seq, ep.rcv_nxt, cfg.window) {
                Arrival::RstInWindow
            } else {
                Arrival::RstOutOfWindow
            };
        }
        if f.has(MFlags::SYN) {
            if let (false, true, Some(val), Some(recent)) =
                (f.has(MFlags::ACK), synced, seg.ts, ep.ts_recent)
            {
                return if (val.wrapping_sub(recent) as i32) > 0 {
                    Arrival::SynNewerTimestamp
                } else {
                    Arrival::SynOlderTimestamp
                };
            }
            return match (f.has(MFlags::ACK), synced) {
                (true, _) => Arrival::SynAck,
                (false, true) if s.gt(seg.seq, ep.rcv_nxt) => Arrival::SynHigher,
                (false, true) => Arrival::SynLower,
                (false, false) => Arrival::Syn,
            };
        }
        let end = s.add(seg.seq, seg.seg_len());
        let old = synced && s.le(end, ep.rcv_nxt) && seg.seq != ep.rcv_nxt;
        if f.has(MFlags::FIN) {
            if synced && end == ep.rcv_nxt {
                Arrival::RetransmittedFin
            } else {
                Arrival::Fin
            }
        } else if seg.len > 0 {
            if old {
                Arrival::OldData
            } else {
                Arrival::Data
            }
        } else if synced && s.lt(seg.seq, ep.rcv_nxt) {
            Arrival::OldAck
        } else {
            Arrival::Ack
        }
    }
}

/// A spec's claims about the model, checked: every variant its
/// `model.pass` lists passes it, every one `model.fail` lists fails it,
/// and at least one variant passes it (a spec every variant fails asks for
/// behaviour no model of TCP has, and would pass any stack's failure off as
/// predicted). One diagnostic per broken claim, at the variant's name.
pub fn claim_errors(file: &std::path::Path, spec: &Spec) -> Vec<crate::Diagnostic> {
    let runs = run_all(spec);
    let mut out = Vec::new();
    let m = &spec.model.value;
    for (list, must_pass) in [(&m.pass, true), (&m.fail, false)] {
        for v in list {
            let Some(run) = runs.iter().find(|r| r.preset == v.value.0) else {
                continue;
            };
            let msg = match (&run.outcome, must_pass) {
                (Outcome::Fail(f), true) => {
                    format!("model.pass lists {} but it fails the spec: {f}", run.preset)
                }
                (Outcome::Pass, false) => {
                    format!("model.fail lists {} but it passes the spec", run.preset)
                }
                _ => continue,
            };
            out.push(crate::Diagnostic::at(file, v.referenced, msg));
        }
    }
    if !runs.iter().any(|r| r.outcome.passed()) {
        out.push(crate::Diagnostic::at(
            file,
            spec.model.referenced,
            "no model variant passes this spec: its expectations describe no TCP the model \
             knows, so a stack's failure could not be judged (`timewait specs check -v` shows \
             where each variant departs)",
        ));
    }
    out
}
