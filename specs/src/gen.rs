//! `timewait specs gen`: specs generated from the model. Each comes from a
//! shortest model trace: every witness, every counterexample of a variant
//! that breaks an `always` property, and paths chosen to cover the close
//! orders and every kind of segment reaching TIME-WAIT.
//!
//! A trace is seen from one endpoint, the SUT. The other endpoint's part
//! becomes the script: its segments are injected when the trace delivers
//! them, and ticks become waits. The model starts ESTABLISHED, so a handshake
//! is put in front. The SUT's segments are then recorded from the correct
//! variant (rfc1337) by the oracle. A spec from a counterexample therefore
//! expects the correct behaviour, and a stack that has the broken one fails
//! it. Generation checks that the broken variant really does fail it, and
//! says so when it does not.

use crate::emit;
use crate::format::{
    App, Incarnation, Inject, ModelVerdicts, Profile, Role, SockState, Spec, Step, TcpOptions,
    Timestamps, VariantName,
};
use crate::oracle::{self, spec_flags, Arrival};
use crate::values::{Duration, Flags, SeqValue};
use serde_saphyr::{Location, Spanned};
use std::collections::BTreeMap;
use std::path::Path;
use timewait_model::endpoint::TcpState;
use timewait_model::properties::PropertyId;
use timewait_model::search::{self, Budget, Outcome};
use timewait_model::segment::{Flags as MFlags, Segment, Side};
use timewait_model::system::{Action, State};
use timewait_model::variant::TimeWaitLen;
use timewait_model::{Config, Preset, TeardownModel};

/// The variant whose behaviour generated specs expect.
pub const CORRECT: Preset = Preset::Rfc1337;

/// Parameters of a generation run.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// The real MSL that one model MSL stands for; a tick is MSL / ticks-per-MSL.
    pub msl: Duration,
    /// Cap on each search, in generated states.
    pub max_states: usize,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            msl: Duration::secs(30),
            max_states: 20_000_000,
        }
    }
}

/// One generated spec.
#[derive(Clone, Debug)]
pub struct GenSpec {
    pub name: String,
    pub spec: Spec,
    pub yaml: String,
    /// Where it came from, in one line.
    pub origin: String,
}

/// A trace that gave no spec, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub origin: String,
    pub reason: String,
}

/// Everything a generation run produced.
#[derive(Clone, Debug, Default)]
pub struct Generation {
    pub specs: Vec<GenSpec>,
    pub skipped: Vec<Skipped>,
}

/// How the SUT opens the first incarnation (the model starts it ESTABLISHED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opener {
    SutListens,
    SutConnects,
}

impl Opener {
    fn suffix(self) -> &'static str {
        match self {
            Opener::SutListens => "sut-listens",
            Opener::SutConnects => "sut-connects",
        }
    }
}

/// A goal's test of a state: `Some(None)` when the state is the goal,
/// `Some(Some(seg))` when delivering `seg` from it is.
type Finder = Box<dyn Fn(&TeardownModel, &State) -> Option<Option<Segment>>>;

/// Where a trace ends: a state the search looks for, and the side that is the SUT.
struct Goal {
    name: String,
    origin: String,
    preset: Preset,
    /// The SUT side, or `None` to try A, then B.
    sut: Option<Side>,
    openers: &'static [Opener],
    /// Tags beside `generated`.
    tags: Vec<String>,
    /// The state predicate; the optional segment is delivered after reaching it.
    find: Finder,
    /// The variant that must fail the spec: for a counterexample the
    /// broken variant, or, where the trace is what a configured stack does
    /// (`linux-tw-reuse`), the correct variant, which cannot follow it.
    must_fail: Option<Preset>,
    /// The variant whose segments the spec expects.
    record_with: Preset,
    /// Search with the last incarnation talking too (`--last-closes`).
    last_closes: bool,
}

fn sp<T>(v: T) -> Spanned<T> {
    Spanned::new(v, Location::UNKNOWN, Location::UNKNOWN)
}

fn model_for(preset: Preset, last_closes: bool) -> TeardownModel {
    let base = Config::default();
    let cfg = Config {
        behaviour: preset.behaviour(base.msl),
        last_closes,
        ..base
    };
    TeardownModel::observing_all(cfg)
}

/// Presets whose counterexamples are recorded with the preset itself, not
/// with the correct variant: their traces are what a stack does when so
/// configured (Linux with `net.ipv4.tcp_tw_reuse=1` connects on a 4-tuple
/// it holds in TIME-WAIT), which a correct stack cannot do at all. A replay
/// that passes shows the stack taking the path to the violation; the
/// correct variant must fail the spec.
pub const PRESETS_RECORDED: [Preset; 1] = [Preset::LinuxTwReuse];

/// Every goal, in the order their specs are written.
fn goals() -> Vec<Goal> {
    let mut out = Vec::new();
    for p in PropertyId::ALL.into_iter().filter(|p| p.is_witness()) {
        out.push(Goal {
            name: p.name().replace('/', "-"),
            origin: format!("the shortest witness of `{}` under {CORRECT}", p.name()),
            preset: CORRECT,
            sut: None,
            openers: &[Opener::SutListens],
            tags: vec!["witness".into(), p.name().into()],
            find: Box::new(move |m, s| p.is_discovery(m, s).then_some(None)),
            must_fail: None,
            record_with: CORRECT,
            last_closes: false,
        });
    }
    for preset in Preset::ALL {
        let records = PRESETS_RECORDED.contains(&preset);
        // Every `always` property's counterexample becomes a spec.
        for p in PropertyId::ALL.into_iter().filter(|p| !p.is_witness()) {
            if p.expected(preset) != timewait_model::Verdict::Violated {
                continue;
            }
            let name = p.name().replace('/', "-");
            out.push(Goal {
                name: format!("cx-{preset}-{name}"),
                origin: format!(
                    "the shortest counterexample to `{}` under {preset}",
                    p.name()
                ),
                preset,
                sut: None,
                openers: &[Opener::SutListens],
                tags: vec![
                    "counterexample".into(),
                    p.name().into(),
                    preset.name().into(),
                ],
                find: Box::new(move |m, s| p.is_discovery(m, s).then_some(None)),
                must_fail: Some(if records { CORRECT } else { preset }),
                record_with: if records { preset } else { CORRECT },
                last_closes: false,
            });
        }
    }
    // The hazard of TIME-WAIT's last MSL (reports/model.md, "Beyond the
    // default scope"): with the next incarnation talking, a segment that
    // TIME-WAIT sends in its last tick outlives it and is taken by the next
    // incarnation, under the correct variant itself. The violation is the
    // peer's; as the SUT, a correct stack follows the whole trace.
    let cx = PropertyId::NoCrossIncarnationDelivery;
    out.push(Goal {
        name: format!("cx-{CORRECT}-last-closes-{}", cx.name()),
        origin: format!(
            "the shortest counterexample to `{}` under {CORRECT} with --last-closes",
            cx.name()
        ),
        preset: CORRECT,
        // Only the side whose TIME-WAIT sends the segment: the side that
        // takes it does so only if its own new ISN puts the old numbers in
        // its window, and a stack under test picks that ISN itself.
        sut: Some(Side::A),
        openers: &[Opener::SutListens],
        tags: vec![
            "counterexample".into(),
            cx.name().into(),
            "last-closes".into(),
        ],
        find: Box::new(move |m, s| cx.is_discovery(m, s).then_some(None)),
        must_fail: None,
        record_with: CORRECT,
        last_closes: true,
    });
    // Every kind of segment reaching the SUT in TIME-WAIT.
    for kind in [
        Arrival::RetransmittedFin,
        Arrival::OldData,
        Arrival::OldAck,
        Arrival::RstExact,
        Arrival::RstInWindow,
        Arrival::RstOutOfWindow,
        Arrival::SynHigher,
        Arrival::SynLower,
    ] {
        let slug = kind.name().to_lowercase().replace(['.', ' '], "-");
        out.push(Goal {
            name: format!("tw-{slug}"),
            origin: format!("the shortest path to a {} reaching TIME-WAIT", kind.name()),
            preset: CORRECT,
            sut: Some(Side::A),
            openers: &[Opener::SutListens, Opener::SutConnects],
            tags: vec!["coverage".into(), "time-wait".into()],
            find: Box::new(move |m, s| arriving_in_time_wait(m, s, Side::A, kind)),
            must_fail: None,
            record_with: CORRECT,
            last_closes: false,
        });
    }
    // The same with timestamps: a SYN newer or older by its timestamp, in
    // the variant that has them, whose behaviour the spec then expects.
    for kind in [Arrival::SynNewerTimestamp, Arrival::SynOlderTimestamp] {
        let slug = kind.name().to_lowercase().replace(' ', "-");
        out.push(Goal {
            name: format!("tw-{slug}"),
            origin: format!(
                "the shortest path to a {} reaching TIME-WAIT under {}",
                kind.name(),
                Preset::LinuxTimestamps
            ),
            preset: Preset::LinuxTimestamps,
            sut: Some(Side::A),
            openers: &[Opener::SutListens, Opener::SutConnects],
            tags: vec!["coverage".into(), "time-wait".into(), "timestamps".into()],
            find: Box::new(move |m, s| arriving_in_time_wait(m, s, Side::A, kind)),
            must_fail: None,
            record_with: Preset::LinuxTimestamps,
            last_closes: false,
        });
    }
    let close = |name: &str, origin: &str, f: fn(&State) -> bool| Goal {
        name: name.into(),
        origin: origin.into(),
        preset: CORRECT,
        sut: Some(Side::A),
        openers: &[Opener::SutListens, Opener::SutConnects],
        tags: vec!["coverage".into(), "close-order".into()],
        find: Box::new(move |_, s| f(s).then_some(None)),
        must_fail: None,
        record_with: CORRECT,
        last_closes: false,
    };
    out.push(close(
        "close-active",
        "the shortest active close by the SUT, to TIME-WAIT",
        |s| {
            let (a, b) = (&s.eps[0], &s.eps[1]);
            a.state == TcpState::TimeWait && b.state == TcpState::Closed && b.app_inc == 1
        },
    ));
    out.push(close(
        "close-passive",
        "the shortest passive close by the SUT, to CLOSED",
        |s| {
            let (a, b) = (&s.eps[0], &s.eps[1]);
            a.state == TcpState::Closed
                && a.app_closed
                && a.app_inc == 1
                && b.state == TcpState::TimeWait
        },
    ));
    out.push(close(
        "close-simultaneous",
        "the shortest simultaneous close (the SUT passes CLOSING)",
        |s| s.eps[0].state == TcpState::Closing,
    ));
    out.push(close(
        "close-with-data-in-flight",
        "the shortest close with the SUT's data still unacknowledged",
        |s| {
            let a = &s.eps[0];
            let space = Config::default().space();
            a.state == TcpState::FinWait1
                && a.data_sent > 0
                && space.diff(a.snd_una, a.iss) <= a.data_sent
        },
    ));
    out.push(close(
        "lost-last-ack",
        "the shortest path on which the SUT's last ACK is lost and the peer is still in LAST-ACK",
        |s| {
            let (a, b) = (&s.eps[0], &s.eps[1]);
            a.state == TcpState::TimeWait
                && b.state == TcpState::LastAck
                && a.app_inc == 1
                && s.losses_left == 0
                && !s.net.iter().any(|g| g.from == Side::A)
        },
    ));
    out
}

/// A segment of `kind` from the peer in flight to `sut`, which is in TIME-WAIT.
fn arriving_in_time_wait(
    m: &TeardownModel,
    s: &State,
    sut: Side,
    kind: Arrival,
) -> Option<Option<Segment>> {
    let ep = s.ep(sut);
    if ep.state != TcpState::TimeWait {
        return None;
    }
    s.net
        .iter()
        .find(|g| g.from == sut.peer() && Arrival::classify(&m.cfg, ep, g) == kind)
        .map(|g| Some(*g))
}

/// The model's ISNs per incarnation and side, read off the trace's states.
struct Isns {
    by_inc: BTreeMap<(u8, Side), u32>,
}

impl Isns {
    fn of(states: &[State]) -> Isns {
        let mut by_inc = BTreeMap::new();
        for side in Side::BOTH {
            by_inc.insert((1, side), timewait_model::FIRST_ISS);
        }
        for s in states {
            for side in Side::BOTH {
                let e = s.ep(side);
                if e.inc >= 1 && e.state != TcpState::Closed {
                    by_inc.entry((e.inc, side)).or_insert(e.iss);
                }
            }
        }
        Isns { by_inc }
    }

    fn get(&self, inc: u8, side: Side) -> u32 {
        self.by_inc.get(&(inc, side)).copied().unwrap_or(0)
    }
}

/// `v - base` in the model's small space, as a signed offset. Exactly half
/// a space apart counts as ahead: the model's ISNs 0 and 8 of a 16-number
/// space then become a new incarnation 8 numbers above the old one.
fn rel(cfg: &Config, v: u32, base: u32) -> i64 {
    let m = cfg.seq_space as i64;
    let d = i64::from(cfg.space().diff(v, base));
    if d > m / 2 {
        d - m
    } else {
        d
    }
}

/// The peer's part of a trace as a script without expectations, seen from `sut`.
fn script(
    model: &TeardownModel,
    states: &[State],
    actions: &[Action],
    sut: Side,
    opener: Opener,
    clock: Clock,
) -> Vec<Step> {
    let cfg = &model.cfg;
    let isns = Isns::of(states);
    let peer = sut.peer();
    // The peer's clock reads 1 in the first incarnation (see Endpoint::clock).
    let ts = cfg.behaviour.timestamps.then_some(1);
    let mut steps = match opener {
        Opener::SutListens => vec![
            Step::App(App::Listen),
            Step::Inject(inject(Flags::SYN, 0, None, ts)),
            Step::Inject(inject(Flags::ACK, 1, Some(1), ts)),
            Step::App(App::Accept),
        ],
        Opener::SutConnects => vec![
            Step::App(App::Connect),
            Step::Inject(inject(Flags::SYN.union(Flags::ACK), 0, Some(1), ts)),
        ],
    };
    let mut inc: u8 = 1;
    let mut ticks = 0u64;
    // A wait whose ticks end the SUT's TIME-WAIT gets a margin: a real timer
    // fires after its nominal time (Linux's timer wheel rounds a 60 s timer
    // up to its level's granularity, up to about 4 s), and the next step
    // must find TIME-WAIT over, as in the trace.
    let mut tw_ended = false;
    let mut accepted = true;
    for (action, pair) in actions.iter().zip(states.windows(2)) {
        let (before, after) = (&pair[0], &pair[1]);
        if *action != Action::Tick && ticks > 0 {
            steps.push(Step::Wait(clock.wait(ticks, tw_ended)));
            ticks = 0;
            tw_ended = false;
        }
        let mark = |steps: &mut Vec<Step>, next: u8, inc: &mut u8| {
            if next > *inc {
                let d = rel(cfg, isns.get(next, peer), isns.get(*inc, peer));
                steps.push(Step::Incarnation(Incarnation {
                    peer_isn: SeqValue::Rel(d),
                    sut_isn: None,
                }));
                *inc = next;
            }
        };
        match *action {
            Action::Tick => {
                ticks += 1;
                tw_ended |= before.ep(sut).state == TcpState::TimeWait
                    && after.ep(sut).state != TcpState::TimeWait;
            }
            Action::Deliver(g) | Action::DeliverCopy(g) if g.from == peer => {
                let seq = if g.flags.has(MFlags::RST) && g.flags.has(MFlags::ACK) && g.seq == 0 {
                    // RFC 9293's <SEQ=0><CTL=RST,ACK> reply: a literal zero.
                    SeqValue::Abs(0)
                } else {
                    SeqValue::Rel(rel(cfg, g.seq, isns.get(g.inc, peer)))
                };
                let ack = g
                    .flags
                    .has(MFlags::ACK)
                    .then(|| SeqValue::Rel(rel(cfg, g.ack, isns.get(g.inc, sut))));
                let mut i = Inject {
                    flags: spec_flags(g.flags),
                    seq,
                    ack,
                    len: g.len,
                    win: None,
                    options: options(g.ts),
                    incarnation: None,
                };
                if g.inc != inc && g.inc >= 1 {
                    i.incarnation = Some(u32::from(g.inc));
                }
                steps.push(Step::Inject(i));
            }
            Action::Deliver(_) | Action::DeliverCopy(_) => {}
            Action::Send(side) | Action::Close(side) | Action::Abort(side) if side == sut => {
                if !accepted {
                    steps.push(Step::App(App::Accept));
                    accepted = true;
                }
                steps.push(Step::App(match action {
                    Action::Send(_) => App::Send(1),
                    Action::Close(_) => App::Close,
                    _ => App::Abort,
                }));
            }
            Action::Send(_) | Action::Close(_) | Action::Abort(_) => {}
            Action::Listen(side, _) | Action::Connect(side, _) => {
                let next = before.ep(side).app_inc + 1;
                mark(&mut steps, next, &mut inc);
                if side == sut {
                    let listen = matches!(action, Action::Listen(..));
                    accepted = !listen;
                    steps.push(Step::App(if listen { App::Listen } else { App::Connect }));
                }
            }
        }
    }
    if ticks > 0 {
        steps.push(Step::Wait(clock.wait(ticks, tw_ended)));
    }
    steps
}

/// The margin after a wait that ends TIME-WAIT (see `tw_ended` in
/// [`script`]), in thousandths of a TIME-WAIT: 6 s of Linux's 60 s.
const TW_MARGIN_MILLI_TW: u64 = 100;
/// The same margin for a TIME-WAIT shorter than 2 MSL, in thousandths of
/// an MSL.
const TW_MARGIN_MILLI_MSL: u64 = 50;

/// How the model's time reads in a spec.
#[derive(Clone, Copy, Debug)]
struct Clock {
    tick_ms: u64,
    msl_ms: u64,
    /// The traced variant's TIME-WAIT.
    tw_ms: u64,
}

impl Clock {
    /// A wait of `ticks` of model time. Time in the network is the
    /// network's: it is written in MSLs, which a replay never scales, so a
    /// stack whose TIME-WAIT is shorter than the trace needs fails where
    /// the trace's broken variant does. Only a wait that ends a lawful
    /// TIME-WAIT (2 MSL or more) is about the stack's own timer ("after
    /// TIME-WAIT, the 4-tuple is free"): that one is in TIME-WAITs, which a
    /// replay scales to the stack's. A wait that ends a TIME-WAIT shorter
    /// than 2 MSL (the counterexample of `linux-msl120`, `short-time-wait`)
    /// stays in MSLs; by its own TIME-WAIT it would fail every stack by
    /// construction. Only the wait's own part of TIME-WAIT is in
    /// TIME-WAITs: earlier waits inside it are network time, so on a stack
    /// whose TIME-WAIT is longer than the trace's (lwIP's 120 s against
    /// 2 x 30 s) the 4-tuple may still be held at the next step. Spanning
    /// the whole TIME-WAIT instead would cross timer restarts that the
    /// recording variant makes and the traced one does not
    /// (`time-wait-restart-fin-only`'s counterexamples then vanish).
    fn wait(self, ticks: u64, tw_ended: bool) -> Duration {
        let ms = ticks * self.tick_ms;
        let lawful = self.tw_ms >= 2 * self.msl_ms;
        match (tw_ended, lawful) {
            (true, true) => Duration::tw(ms * 1000 / self.tw_ms.max(1) + TW_MARGIN_MILLI_TW),
            (true, false) => Duration::msl(ms * 1000 / self.msl_ms.max(1) + TW_MARGIN_MILLI_MSL),
            (false, _) => Duration::msl(ms * 1000 / self.msl_ms.max(1)),
        }
    }
}

fn inject(flags: Flags, seq: i64, ack: Option<i64>, ts: Option<u32>) -> Inject {
    Inject {
        flags,
        seq: SeqValue::Rel(seq),
        ack: ack.map(SeqValue::Rel),
        len: 0,
        win: None,
        options: options(ts),
        incarnation: None,
    }
}

/// The Timestamps option of a model segment; TSecr is not modelled.
fn options(ts: Option<u32>) -> TcpOptions {
    TcpOptions {
        ts: ts.map(|val| Timestamps { val, ecr: 0 }),
        ..TcpOptions::default()
    }
}

/// The role that fits the recorded steps, checked the way the linter checks
/// it; `recorded` is the run of the variant the steps were recorded from.
fn role(spec: &mut Spec, path: &Path, recorded: &oracle::Run) -> Option<Role> {
    let closing = recorded.log.iter().any(|l| l.contains("-> CLOSING"));
    let mut order = vec![Role::NewIncarnationListener];
    if closing {
        order.push(Role::SimultaneousClose);
    }
    order.extend([Role::ActiveCloser, Role::PassiveCloser]);
    for r in order {
        spec.role = sp(r);
        let fits = !crate::validate::check(path, spec)
            .iter()
            .any(|d| d.message.starts_with("role "));
        if fits {
            return Some(r);
        }
    }
    None
}

/// The Linux profile closest to `preset`, so that a Linux run of the spec
/// is predicted by the matching Linux variant.
fn profile_for(preset: Preset) -> Profile {
    let b = preset.behaviour(1);
    Profile {
        tcp_rfc1337: Some(u8::from(
            b.rst_in_time_wait == timewait_model::variant::RstInTimeWait::Ignore,
        )),
        tcp_timestamps: Some(u8::from(b.timestamps)),
        tcp_tw_reuse: b.tw_reuse.then_some(1),
        tcp_invalid_ratelimit: Some(0),
        ..Profile::default()
    }
}

fn header(
    name: &str,
    description: String,
    tags: Vec<String>,
    msl: Duration,
    time_wait: Option<Duration>,
    recorded_with: Preset,
) -> Spec {
    Spec {
        name: sp(name.to_string()),
        description,
        tags,
        role: sp(Role::ActiveCloser),
        profile: Some(sp(profile_for(recorded_with))),
        msl: sp(msl),
        time_wait: time_wait.map(sp),
        tolerance: None,
        peer_isn: None,
        model: sp(ModelVerdicts {
            pass: Vec::new(),
            fail: Vec::new(),
        }),
        steps: Vec::new(),
    }
}

/// Builds the spec of one trace for one SUT side and opener.
#[allow(clippy::too_many_arguments)]
fn build(
    goal: &Goal,
    model: &TeardownModel,
    states: &[State],
    actions: &[Action],
    sut: Side,
    opener: Opener,
    opts: &GenOptions,
    name: &str,
) -> Result<Spec, String> {
    // The Linux variants fix what an MSL is: their TIME-WAIT is 60 s of
    // real time read against their own MSL, so their specs use that MSL.
    let msl = match model.cfg.behaviour.time_wait {
        TimeWaitLen::Linux { msl_seconds } => Duration::secs(u64::from(msl_seconds)),
        _ => opts.msl,
    };
    let msl_ms = msl.to_ms(0, 0);
    let tick_ms = msl_ms / u64::from(model.cfg.msl);
    // The spec's TIME-WAIT: Linux's fixed 60 s, else 2 MSL (the default).
    let time_wait = match model.cfg.behaviour.time_wait {
        TimeWaitLen::Linux { .. } => Some(Duration::secs(60)),
        _ => None,
    };
    // What the traced variant's TIME-WAIT lasts, in this spec's time.
    let tw_ms = match model.cfg.behaviour.time_wait {
        TimeWaitLen::TwoMsl => 2 * msl_ms,
        TimeWaitLen::Ticks(t) => u64::from(t) * tick_ms,
        TimeWaitLen::Linux { .. } => 60_000,
        TimeWaitLen::None => 0,
    };
    let clock = Clock {
        tick_ms,
        msl_ms,
        tw_ms,
    };
    let steps = script(model, states, actions, sut, opener, clock);
    let description = format!(
        "Generated by `timewait specs gen` from {} ({} model steps), with the SUT as side {sut} of the model \
         and the first incarnation opened with the SUT {}. The peer's segments are the model's deliveries to \
         the SUT; one model tick is {} ms ({} MSL = {}). The SUT's segments are what {} sends.",
        goal.origin,
        actions.len(),
        if opener == Opener::SutListens { "listening" } else { "connecting" },
        tick_ms,
        model.cfg.msl,
        msl,
        goal.record_with,
    );
    let description = wrap(&description, 76);
    let mut tags = vec!["generated".to_string()];
    tags.extend(goal.tags.iter().cloned());
    let mut spec = header(name, description, tags, msl, time_wait, goal.record_with);
    spec.steps = steps.into_iter().map(sp).collect();
    let rec = oracle::record(&spec, goal.record_with);
    spec.steps = rec.steps.into_iter().map(sp).collect();
    if let Some(why) = rec.stopped {
        let more = format!(
            "{} The script stops where {} cannot follow the trace: {why}.",
            spec.description.replace('\n', " "),
            goal.record_with
        );
        spec.description = wrap(&more, 76);
    }
    let path = Path::new(name).with_extension("yaml");
    // The role does not change what the oracle does, so one set of runs
    // serves both the role and the model lists.
    let runs = oracle::run_all(&spec);
    let recorded = runs
        .iter()
        .find(|r| r.preset == goal.record_with)
        .ok_or("the recording variant did not run")?;
    role(&mut spec, &path, recorded).ok_or("no role fits the steps")?;
    let mut pass = Vec::new();
    let mut fail = Vec::new();
    for r in runs {
        let v = sp(VariantName(r.preset));
        if r.outcome.passed() {
            pass.push(v);
        } else {
            fail.push(v);
        }
    }
    if !pass.iter().any(|v| v.value.0 == goal.record_with) {
        return Err(format!(
            "{} fails its own recording (a generator bug)",
            goal.record_with
        ));
    }
    if let Some(must) = goal.must_fail {
        if !fail.iter().any(|v| v.value.0 == must) {
            return Err(format!(
                "{must} passes: side {sut} behaves as {} does for this peer script",
                goal.record_with
            ));
        }
    }
    spec.model = sp(ModelVerdicts { pass, fail });
    let problems = crate::validate::check(&path, &spec);
    if let Some(d) = problems.first() {
        return Err(format!("the generated spec is invalid: {}", d.message));
    }
    Ok(spec)
}

/// Runs every search and writes every spec, in a fixed order.
pub fn generate(opts: &GenOptions, progress: &mut dyn FnMut(&str)) -> Generation {
    let mut out = Generation::default();
    let mut seen: Vec<Vec<Step>> = Vec::new();
    for goal in goals() {
        let model = model_for(goal.preset, goal.last_closes);
        progress(&format!("searching: {}", goal.origin));
        let budget = Budget {
            max_states: Some(opts.max_states),
            deadline: None,
        };
        let found =
            search::shortest_discovery(&model, |s| (goal.find)(&model, s).is_some(), budget);
        let (mut states, mut actions) = match found {
            Outcome::Found(f) => (f.states, f.actions),
            Outcome::NotFound { states } => {
                out.skipped.push(Skipped {
                    origin: goal.origin.clone(),
                    reason: format!("no such path in {states} states"),
                });
                continue;
            }
            Outcome::Cut(_) => {
                out.skipped.push(Skipped {
                    origin: goal.origin.clone(),
                    reason: format!("search stopped at {} states", opts.max_states),
                });
                continue;
            }
        };
        // A goal that names a segment ends with its delivery.
        if let Some(Some(seg)) = states.last().and_then(|s| (goal.find)(&model, s)) {
            let last = states.last().cloned();
            if let Some(next) = last.and_then(|s| model.step(&s, Action::Deliver(seg))) {
                actions.push(Action::Deliver(seg));
                states.push(next);
            }
        }
        let sides: Vec<Side> = goal.sut.map_or(vec![Side::A, Side::B], |s| vec![s]);
        let mut made = 0;
        let mut reasons = Vec::new();
        for &sut in &sides {
            for &opener in goal.openers {
                let mut name = goal.name.clone();
                if goal.openers.len() > 1 {
                    name = format!("{name}-{}", opener.suffix());
                }
                if goal.sut.is_none() {
                    name = format!("{name}-sut-{}", sut.to_string().to_lowercase());
                }
                match build(&goal, &model, &states, &actions, sut, opener, opts, &name) {
                    Ok(spec) => {
                        let steps: Vec<Step> = spec.steps.iter().map(|s| s.value.clone()).collect();
                        if seen.contains(&steps) {
                            reasons.push(format!("side {sut}: same script as an earlier spec"));
                            continue;
                        }
                        seen.push(steps);
                        made += 1;
                        let yaml = emit::to_yaml(&spec);
                        out.specs.push(GenSpec {
                            name,
                            spec,
                            yaml,
                            origin: goal.origin.clone(),
                        });
                    }
                    Err(why) => reasons.push(format!("side {sut}: {why}")),
                }
            }
        }
        if made == 0 {
            out.skipped.push(Skipped {
                origin: goal.origin.clone(),
                reason: reasons.join("; "),
            });
        }
    }
    out
}

/// The coverage table: for each SUT state, how many specs deliver each kind
/// of segment to it (played with and without timestamps), as Markdown.
pub fn coverage(specs: &[(String, Spec)]) -> String {
    let mut cells: BTreeMap<(usize, Arrival), usize> = BTreeMap::new();
    for (_, spec) in specs {
        // Without timestamps, and with them: a SYN's timestamp only counts
        // in a variant that uses timestamps.
        let runs = [
            oracle::run(spec, CORRECT),
            oracle::run(spec, Preset::LinuxTimestamps),
        ];
        let mut mine: Vec<(usize, Arrival)> = runs
            .iter()
            .flat_map(|r| r.arrivals.iter())
            .map(|(st, a)| (SockState::ALL.iter().position(|x| x == st).unwrap_or(0), *a))
            .collect();
        mine.sort();
        mine.dedup();
        for k in mine {
            *cells.entry(k).or_default() += 1;
        }
    }
    let mut o = String::new();
    o.push_str("# Coverage: segments reaching the SUT, by SUT state\n\n");
    o.push_str(&format!(
        "Written by `timewait specs gen` over {} specs (reviewed and generated), each played against \
         {CORRECT} and against {} (the variant with RFC 7323 timestamps, in which a SYN's timestamp \
         decides). A cell counts the specs in which a segment of that kind reaches the SUT in that \
         state; a blank cell is a combination no spec exercises.\n\n",
        specs.len(),
        Preset::LinuxTimestamps
    ));
    o.push_str("| state |");
    for a in Arrival::ALL {
        o.push_str(&format!(" {} |", a.name()));
    }
    o.push_str("\n|---|");
    for _ in Arrival::ALL {
        o.push_str("---|");
    }
    o.push('\n');
    for (i, st) in SockState::ALL.iter().enumerate() {
        o.push_str(&format!("| {} |", st.name()));
        for a in Arrival::ALL {
            match cells.get(&(i, a)) {
                Some(n) => o.push_str(&format!(" {n} |")),
                None => o.push_str("  |"),
            }
        }
        o.push('\n');
    }
    o
}

/// The files of a generated folder, by name, and a summary for people.
pub struct Files {
    pub files: Vec<(String, String)>,
    pub summary: String,
}

/// Generates the specs and the coverage table (over `reviewed` and the
/// generated specs) as the files of the generated folder.
pub fn files(
    opts: &GenOptions,
    reviewed: &[(std::path::PathBuf, Spec)],
    progress: &mut dyn FnMut(&str),
) -> Files {
    let g = generate(opts, progress);
    let mut all: Vec<(String, Spec)> = reviewed
        .iter()
        .map(|(_, s)| (s.name.value.clone(), s.clone()))
        .collect();
    all.extend(g.specs.iter().map(|s| (s.name.clone(), s.spec.clone())));
    let mut table = coverage(&all);
    let mut summary = String::new();
    summary.push_str(&format!("{} specs generated\n", g.specs.len()));
    table.push_str(
        "\n## Generated specs\n\n| spec | from | role | fails under |\n|---|---|---|---|\n",
    );
    for s in &g.specs {
        let fails: Vec<&str> = s
            .spec
            .model
            .value
            .fail
            .iter()
            .map(|v| v.value.0.name())
            .collect();
        table.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            s.name,
            s.origin,
            s.spec.role.value.name(),
            if fails.is_empty() {
                "-".to_string()
            } else {
                fails.join(", ")
            }
        ));
    }
    if !g.skipped.is_empty() {
        table.push_str("\n## Traces that gave no spec\n\n");
        summary.push_str(&format!("{} traces gave no spec:\n", g.skipped.len()));
        for s in &g.skipped {
            table.push_str(&format!("- {}: {}\n", s.origin, s.reason));
            summary.push_str(&format!("  {}: {}\n", s.origin, s.reason));
        }
    }
    let mut files: Vec<(String, String)> = g
        .specs
        .into_iter()
        .map(|s| (format!("{}.yaml", s.name), s.yaml))
        .collect();
    files.push(("coverage.md".to_string(), table));
    files.sort();
    Files { files, summary }
}

/// Breaks `text` into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        if line > 0 && line + 1 + word.len() > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 15 s ticks, MSL 30 s, a lawful 60 s TIME-WAIT (the defaults).
    const CLOCK: Clock = Clock {
        tick_ms: 15_000,
        msl_ms: 30_000,
        tw_ms: 60_000,
    };

    #[test]
    fn a_wait_inside_time_wait_is_network_time_in_msls() {
        assert_eq!(CLOCK.wait(3, false), Duration::msl(1500));
    }

    #[test]
    fn the_wait_that_ends_time_wait_is_in_time_waits_with_a_margin() {
        assert_eq!(CLOCK.wait(4, true), Duration::tw(1000 + TW_MARGIN_MILLI_TW));
        assert_eq!(CLOCK.wait(1, true), Duration::tw(250 + TW_MARGIN_MILLI_TW));
    }

    #[test]
    fn the_wait_that_ends_a_time_wait_shorter_than_2msl_stays_in_msls() {
        let short = Clock {
            tw_ms: 30_000,
            ..CLOCK
        };
        assert_eq!(
            short.wait(1, true),
            Duration::msl(500 + TW_MARGIN_MILLI_MSL)
        );
    }
}
