//! The whole system as a stateright [`Model`]: two endpoints, their
//! applications, and a network that delivers, loses, duplicates, reorders and
//! ages segments, with discrete time.

use crate::config::{Config, FIRST_ISS};
use crate::endpoint::{Endpoint, Role, TcpState};
use crate::properties::PropertyId;
use crate::rules::{self, CrossEvent, ResetEvent};
use crate::segment::{Segment, Side};
use crate::seq::Seq;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use stateright::{Model, Property};

/// Ghost record: the endpoint at `at` gave up retransmitting in `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeoutEvent {
    pub at: Side,
    pub inc: u8,
    pub state: TcpState,
}

/// State the protocol cannot see, kept so that properties can be stated
/// exactly: what the step into this state did. It is cleared by the next
/// step, so a state that saw an event differs from its twin only until then,
/// and a violation found early does not double the rest of the exploration
/// (as a latch kept to the end would). A field is only recorded when the run
/// observes it (see [`Observe`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Ghost {
    pub cross: Option<CrossEvent>,
    pub reset: Option<ResetEvent>,
    pub timeout: Option<TimeoutEvent>,
    pub fin_reacked_in_time_wait: bool,
    pub old_dup_discarded_in_time_wait: bool,
}

/// Which ghost events a run records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Observe {
    pub cross: bool,
    pub reset: bool,
    pub timeout: bool,
    pub fin_reacked: bool,
    pub old_dup: bool,
    /// Mark the retransmission timer's segments (`Segment::rexmit`). Only the
    /// fin-reacked witness reads the mark; without it a retransmission and an
    /// identical segment sent otherwise are one state (7 % fewer in the
    /// default `always` group). Traces get their marks back on replay
    /// ([`crate::trace::unreduce`]).
    pub rexmit: bool,
}

impl Observe {
    pub const ALL: Observe = Observe {
        cross: true,
        reset: true,
        timeout: true,
        fin_reacked: true,
        old_dup: true,
        rexmit: true,
    };
}

/// A state of the whole system. Its `{:#?}` form is the RFC 9293 view the
/// Explorer shows (see the `Debug` impl); `{:?}` is the plain field dump.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct State {
    pub eps: [Endpoint; 2],
    /// The segments in flight, kept sorted so that equal multisets are equal
    /// states whatever order they were sent in.
    pub net: SmallVec<[Segment; 8]>,
    pub losses_left: u8,
    pub dups_left: u8,
    /// Data segments the applications may still send in this incarnation,
    /// shared by both sides.
    pub data_left: u8,
    /// Ticks the applications may still let pass while nothing else runs.
    pub idle_left: u8,
    pub ghost: Ghost,
}

impl State {
    pub fn ep(&self, side: Side) -> &Endpoint {
        &self.eps[side.index()]
    }

    fn send(&mut self, seg: Segment) {
        let at = self.net.partition_point(|s| s < &seg);
        self.net.insert(at, seg);
    }

    fn remove(&mut self, seg: &Segment) -> bool {
        match self.net.binary_search(seg) {
            Ok(i) => {
                self.net.remove(i);
                true
            }
            Err(_) => false,
        }
    }
}

/// `{:?}` dumps the fields as a derived `Debug` would; `{:#?}`, which
/// stateright's Explorer uses for "Current State", shows the state in RFC
/// 9293's terms instead: each endpoint's state and sequence variables, the
/// segments in flight with their ages, the budgets left and what the step
/// into this state did.
impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !f.alternate() {
            return f
                .debug_struct("State")
                .field("eps", &self.eps)
                .field("net", &self.net)
                .field("losses_left", &self.losses_left)
                .field("dups_left", &self.dups_left)
                .field("data_left", &self.data_left)
                .field("idle_left", &self.idle_left)
                .field("ghost", &self.ghost)
                .finish();
        }
        for side in Side::BOTH {
            let lines = self.ep(side).rfc_view();
            for (i, l) in lines.iter().enumerate() {
                let head = if i == 0 {
                    format!("{side}:")
                } else {
                    String::new()
                };
                writeln!(f, "{head:<3}{l}")?;
            }
        }
        if self.net.is_empty() {
            writeln!(f, "network: nothing in flight")?;
        } else {
            writeln!(
                f,
                "network: {} segment(s) in flight (age in ticks; a segment dies when its age reaches MSL)",
                self.net.len()
            )?;
            for g in &self.net {
                writeln!(f, "   {}", g.describe())?;
            }
        }
        writeln!(
            f,
            "budgets left: {} loss(es), {} duplicate(s), {} data segment(s), {} idle tick(s)",
            self.losses_left, self.dups_left, self.data_left, self.idle_left
        )?;
        let g = &self.ghost;
        let mut seen = Vec::new();
        if let Some(c) = g.cross {
            let what = match c.kind {
                crate::rules::CrossKind::Data => "data",
                crate::rules::CrossKind::Fin => "a FIN",
                crate::rules::CrossKind::Rst => "a RST",
                crate::rules::CrossKind::Syn => "a SYN",
                crate::rules::CrossKind::Ack => "an ACK",
            };
            seen.push(format!(
                "{} (incarnation {}) took {what} sent by incarnation {}",
                c.at, c.to_inc, c.from_inc
            ));
        }
        if let Some(r) = g.reset {
            seen.push(format!(
                "{}'s application saw incarnation {} reset in {}",
                r.at, r.inc, r.state
            ));
        }
        if let Some(t) = g.timeout {
            seen.push(format!(
                "{} gave up retransmitting in {} (incarnation {})",
                t.at, t.state, t.inc
            ));
        }
        if g.fin_reacked_in_time_wait {
            seen.push("a retransmitted FIN was re-ACKed from TIME-WAIT".to_string());
        }
        if g.old_dup_discarded_in_time_wait {
            seen.push("TIME-WAIT discarded an old duplicate".to_string());
        }
        if !seen.is_empty() {
            writeln!(f, "this step: {}", seen.join("; "))?;
        }
        Ok(())
    }
}

/// The events of the model, named after RFC 9293's: user calls, segment
/// arrival, timeouts, plus the network's faults.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The segment arrives at its destination (any one of those in flight).
    Deliver(Segment),
    /// The network duplicates the segment and delivers one copy; the other
    /// stays in flight with the same age.
    DeliverCopy(Segment),
    /// One tick passes: segments age, timers run down. A segment reaching
    /// MSL dies: that is how the network loses segments.
    Tick,
    /// The application SENDs one byte.
    Send(Side),
    /// The application CLOSEs.
    Close(Side),
    /// The application ABORTs (SO_LINGER 0, then close).
    Abort(Side),
    /// The application reopens the 4-tuple with a passive OPEN and this ISS.
    Listen(Side, Seq),
    /// The application reopens the 4-tuple with an active OPEN and this ISS.
    Connect(Side, Seq),
}

impl Action {
    /// A sentence for traces.
    pub fn describe(&self) -> String {
        match self {
            Action::Deliver(s) => format!("deliver {}", s.describe()),
            Action::DeliverCopy(s) => {
                format!("network duplicates, delivers one copy of {}", s.describe())
            }
            Action::Tick => "tick".to_string(),
            Action::Send(side) => format!("{side}: application sends 1 byte"),
            Action::Close(side) => format!("{side}: application closes"),
            Action::Abort(side) => {
                format!("{side}: application aborts (SO_LINGER 0): RST, no TIME-WAIT")
            }
            Action::Listen(side, iss) => {
                format!("{side}: application listens for the next incarnation (ISS {iss})")
            }
            Action::Connect(side, iss) => {
                format!("{side}: application connects for the next incarnation (ISS {iss})")
            }
        }
    }
}

/// The teardown model: configuration, the ghost events to record, and the
/// properties to check.
#[derive(Clone, Debug)]
pub struct TeardownModel {
    pub cfg: Config,
    pub observe: Observe,
    pub properties: Vec<PropertyId>,
    /// Return one representative per mirrored pair of states (see
    /// [`crate::symmetry`]). Paths through representatives are turned back
    /// into plain paths with [`crate::trace::unreduce`].
    pub symmetry: bool,
}

impl TeardownModel {
    /// A model checking `properties`, recording only what they need. `cfg`
    /// must be validated.
    pub fn new(cfg: Config, properties: Vec<PropertyId>) -> Self {
        let mut observe = Observe::default();
        for p in &properties {
            p.observe(&mut observe);
        }
        TeardownModel {
            cfg,
            observe,
            properties,
            symmetry: true,
        }
    }

    /// A model recording every ghost event, for exploring and replaying.
    pub fn observing_all(cfg: Config) -> Self {
        TeardownModel {
            cfg,
            observe: Observe::ALL,
            properties: PropertyId::ALL.to_vec(),
            symmetry: false,
        }
    }

    fn tick_enabled(&self, s: &State) -> bool {
        if !self.time_runs(s) && !self.may_idle(s) {
            return false;
        }
        // An undelivered segment dying at MSL is a loss: a tick that would
        // kill more segments than the loss budget allows is not enabled.
        let dying = s.net.iter().filter(|g| g.age + 1 >= self.cfg.msl).count();
        dying <= usize::from(s.losses_left)
    }

    /// A timer runs or a segment is in flight: time passes by itself.
    fn time_runs(&self, s: &State) -> bool {
        s.eps.iter().any(|e| {
            e.rtx > 0
                || e.state == TcpState::TimeWait
                || (e.state == TcpState::FinWait2 && e.tw > 0)
        }) || !s.net.is_empty()
    }

    /// Nothing runs, but an application that still has something to do may
    /// let time pass first (from its idle budget).
    fn may_idle(&self, s: &State) -> bool {
        if s.idle_left == 0 {
            return false;
        }
        let mut v = Vec::new();
        for side in Side::BOTH {
            self.app_actions(s, side, &mut v);
        }
        !v.is_empty()
    }

    fn app_actions(&self, s: &State, side: Side, out: &mut Vec<Action>) {
        let e = s.ep(side);
        let p = s.ep(side.peer());
        // Each incarnation's applications send and close, except the last
        // one's unless `last_closes` is set (see `closes`).
        let current = e.app_inc == e.inc && !e.app_closed && self.closes(e.app_inc);
        let open = matches!(e.state, TcpState::Established | TcpState::CloseWait);
        if current && open && s.data_left > 0 {
            out.push(Action::Send(side));
        }
        if current && open {
            out.push(Action::Close(side));
            if self.cfg.aborts {
                out.push(Action::Abort(side));
            }
        }
        // The next incarnation: the first side to reopen listens, the other
        // connects to it (an application never connects to a peer that is
        // not listening: that would be "connection refused", not teardown).
        let done = e.app_closed && e.app_inc == e.inc && e.app_inc < self.cfg.incarnations;
        let reuse = self.cfg.behaviour.tw_reuse;
        // Under tcp_tw_reuse a server listens while its old connection is
        // still in LAST-ACK (variant.rs, `tw_reuse`).
        let may_listen = matches!(e.state, TcpState::Closed | TcpState::TimeWait)
            || (reuse && e.state == TcpState::LastAck);
        if done && may_listen && p.app_inc == e.app_inc {
            // Each side tries every ISN listed for its role (config.rs,
            // `DEFAULT_ISNS`: why these defaults, and where every ISN was
            // shown to give the same verdicts).
            for iss in e.isn_choices(&self.cfg, true) {
                out.push(Action::Listen(side, iss));
            }
        } else if done && p.app_inc == e.app_inc + 1 && p.role == Role::Listener {
            if e.state == TcpState::Closed {
                for iss in e.isn_choices(&self.cfg, false) {
                    out.push(Action::Connect(side, iss));
                }
            } else if reuse && e.state == TcpState::TimeWait && e.ts_recent.is_some() {
                // tcp_twsk_unique: only a connection that used timestamps,
                // and always at the old SND.NXT + 65535 + 2.
                out.push(Action::Connect(side, rules::reopen_iss(&self.cfg, e)));
            }
        }
    }

    fn apply_reaction(&self, s: &mut State, r: rules::Reaction) {
        if let Some(reply) = r.reply {
            s.send(reply);
        }
        let ev = r.events;
        let g = &mut s.ghost;
        if self.observe.cross {
            g.cross = ev.cross;
        }
        if self.observe.reset {
            g.reset = ev.reset;
        }
        if self.observe.fin_reacked && ev.fin_reacked_in_time_wait {
            g.fin_reacked_in_time_wait = true;
        }
        if self.observe.old_dup && ev.old_dup_discarded_in_time_wait {
            g.old_dup_discarded_in_time_wait = true;
        }
    }

    fn tick(&self, s: &mut State) {
        if !self.time_runs(s) {
            // Only an application's idling lets this tick pass.
            s.idle_left -= 1;
        }
        let msl = self.cfg.msl;
        let before = s.net.len();
        for seg in s.net.iter_mut() {
            seg.age += 1;
        }
        s.net.retain(|g| g.age < msl);
        // Ageing keeps the order (age is compared last among equal fields).
        s.losses_left -= (before - s.net.len()) as u8;
        for side in Side::BOTH {
            let mut sent = None;
            let e = &mut s.eps[side.index()];
            if e.state == TcpState::TimeWait {
                e.tw -= 1;
                if e.tw == 0 {
                    rules::finish_tcb(e);
                }
            } else if e.state == TcpState::FinWait2 && e.tw > 0 {
                // Linux's orphan FIN-WAIT-2 timeout: the connection goes
                // without a segment; a late FIN from the peer then meets
                // CLOSED and draws a RST.
                e.tw -= 1;
                if e.tw == 0 {
                    rules::finish_tcb(e);
                }
            }
            if e.rtx > 0 {
                e.rtx -= 1;
                if e.rtx == 0 {
                    if e.retries < self.cfg.max_retries {
                        e.retries += 1;
                        e.rtx = self.cfg.rto_after(e.retries);
                        sent = e.head_segment(&self.cfg, side).map(|mut g| {
                            g.rexmit = self.observe.rexmit;
                            g
                        });
                    } else {
                        // Give up: "the connection is aborted" with a timeout.
                        if self.observe.timeout {
                            s.ghost.timeout = Some(TimeoutEvent {
                                at: side,
                                inc: e.inc,
                                state: e.state,
                            });
                        }
                        rules::finish_tcb(e);
                        e.app_closed = true;
                        e.failed = true;
                    }
                }
            }
            if let Some(seg) = sent {
                s.send(seg);
            }
        }
    }

    /// The two first-incarnation endpoints, ESTABLISHED with ISSs `a`, `b`.
    pub fn initial_state(&self, a: Seq, b: Seq) -> State {
        State {
            eps: [
                Endpoint::established(&self.cfg, a, b),
                Endpoint::established(&self.cfg, b, a),
            ],
            net: SmallVec::new(),
            losses_left: self.cfg.loss_budget,
            dups_left: self.cfg.dup_budget,
            data_left: self.cfg.data_sends,
            idle_left: self.cfg.idle_ticks,
            ghost: Ghost::default(),
        }
    }

    /// Whether the applications of incarnation `inc` send and close: every
    /// one does when `cfg.last_closes` is set; otherwise the last of two or
    /// more is only opened, to meet the old segments of the one before it.
    pub fn closes(&self, inc: u8) -> bool {
        self.cfg.last_closes || self.cfg.incarnations == 1 || inc < self.cfg.incarnations
    }

    /// True when no action is enabled: the behaviour has ended.
    pub fn is_quiescent(&self, s: &State) -> bool {
        // A segment in flight can always be delivered: the common case,
        // without listing the actions (two properties ask of every state).
        if !s.net.is_empty() {
            return false;
        }
        let mut v = Vec::new();
        self.actions(s, &mut v);
        v.is_empty()
    }
}

impl Model for TeardownModel {
    type State = State;
    type Action = Action;

    /// The first incarnation is ESTABLISHED (its handshake segments are taken
    /// to have died: the connection lived longer than MSL), both directions
    /// starting at [`FIRST_ISS`] (config.rs says why one value is enough).
    fn init_states(&self) -> Vec<State> {
        vec![self.initial_state(FIRST_ISS, FIRST_ISS)]
    }

    fn actions(&self, s: &State, out: &mut Vec<Action>) {
        let mut last: Option<&Segment> = None;
        for seg in &s.net {
            // Identical copies of a segment lead to identical states.
            if last == Some(seg) {
                continue;
            }
            last = Some(seg);
            out.push(Action::Deliver(*seg));
            if s.dups_left > 0 {
                out.push(Action::DeliverCopy(*seg));
            }
        }
        if self.tick_enabled(s) {
            out.push(Action::Tick);
        }
        for side in Side::BOTH {
            self.app_actions(s, side, out);
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let s = self.step(last, action)?;
        Some(if self.symmetry {
            crate::symmetry::representative(s)
        } else {
            s
        })
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.properties.iter().map(|p| p.property()).collect()
    }

    fn format_action(&self, action: &Action) -> String {
        action.describe()
    }

    /// What the Explorer shows after a step: the step, then the state in
    /// RFC terms (the `{:#?}` form of [`State`]).
    fn format_step(&self, last: &State, action: Action) -> Option<String> {
        let what = action.describe();
        self.next_state(last, action)
            .map(|s| format!("after: {what}\n\n{s:#?}"))
    }

    /// The Explorer's path as a sequence diagram of A, the network and B
    /// (the diagram reports/model.md shows for each counterexample).
    fn as_svg(&self, path: stateright::Path<State, Action>) -> Option<String> {
        let (states, actions): (Vec<State>, Vec<Option<Action>>) =
            path.into_vec().into_iter().unzip();
        let actions: Vec<Action> = actions.into_iter().flatten().collect();
        let d = crate::trace::path_diagram(self, "the path so far", &states, &actions, None);
        Some(d.to_svg())
    }
}

impl TeardownModel {
    /// One step, without symmetry reduction.
    pub fn step(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        s.ghost = Ghost::default();
        match action {
            Action::Deliver(seg) => {
                if !s.remove(&seg) {
                    return None;
                }
                let to = seg.from.peer();
                let r = rules::on_segment(&self.cfg, to, &mut s.eps[to.index()], seg);
                self.apply_reaction(&mut s, r);
            }
            Action::DeliverCopy(seg) => {
                if s.dups_left == 0 || s.net.binary_search(&seg).is_err() {
                    return None;
                }
                s.dups_left -= 1;
                let to = seg.from.peer();
                let r = rules::on_segment(&self.cfg, to, &mut s.eps[to.index()], seg);
                self.apply_reaction(&mut s, r);
            }
            Action::Tick => {
                if !self.tick_enabled(&s) {
                    return None;
                }
                self.tick(&mut s);
            }
            Action::Send(side) => {
                s.data_left -= 1;
                let seg = s.eps[side.index()].app_send(&self.cfg, side, 1);
                s.send(seg);
            }
            Action::Close(side) => {
                let fin = s.eps[side.index()].app_close(&self.cfg, side);
                s.send(fin);
            }
            Action::Abort(side) => {
                if let Some(rst) = s.eps[side.index()].app_abort(side) {
                    s.send(rst);
                }
            }
            Action::Listen(side, iss) => {
                s.eps[side.index()].app_listen(iss);
            }
            Action::Connect(side, iss) => {
                // The next incarnation's data budget starts here, not at the
                // listen: the side that listened first had finished the old
                // incarnation, but the other one may still be sending in it
                // until it connects (a reset at the listen gave it a second
                // budget in the same incarnation).
                s.data_left = self.cfg.data_sends;
                let syn = s.eps[side.index()].app_connect(&self.cfg, side, iss);
                s.send(syn);
            }
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn explorer_model() -> TeardownModel {
        TeardownModel::observing_all(Config::default())
    }

    #[test]
    fn the_explorer_shows_a_state_in_rfc_terms_not_a_field_dump() {
        let m = explorer_model();
        let s0 = m.init_states().remove(0);
        let s1 = m.step(&s0, Action::Close(Side::A)).expect("close");
        let shown = format!("{s1:#?}");
        assert!(
            shown.starts_with("A: FIN-WAIT-1, incarnation 1\n"),
            "{shown}"
        );
        assert!(
            shown.contains("ISS 0  SND.UNA 1  SND.NXT 2  RCV.NXT 1"),
            "{shown}"
        );
        assert!(
            shown.contains("retransmission timer: 2 tick(s) left"),
            "{shown}"
        );
        assert!(shown.contains("B: ESTABLISHED, incarnation 1\n"), "{shown}");
        assert!(
            shown.contains("network: 1 segment(s) in flight")
                && shown.contains("   A>B FIN|ACK seq=1 ack=1 (inc 1, age 0)"),
            "{shown}"
        );
        assert!(!shown.contains("snd_nxt"), "no Rust field names: {shown}");
        // The plain form stays a field dump for debugging.
        assert!(format!("{s1:?}").starts_with("State { eps: ["));
        let step = m.format_step(&s0, Action::Close(Side::A)).expect("enabled");
        assert!(
            step.starts_with("after: A: application closes\n\nA: FIN-WAIT-1"),
            "{step}"
        );
    }

    #[test]
    fn the_explorer_draws_its_path_as_a_sequence_diagram() {
        let m = explorer_model();
        let s0 = m.init_states().remove(0);
        let fin = Segment {
            from: Side::A,
            flags: crate::segment::Flags::FIN | crate::segment::Flags::ACK,
            seq: 1,
            ack: 1,
            len: 0,
            ts: None,
            age: 0,
            inc: 1,
            rexmit: false,
            abort: false,
        };
        let path =
            stateright::Path::from_actions(&m, s0, &[Action::Close(Side::A), Action::Deliver(fin)])
                .expect("a path of the model");
        let svg = m.as_svg(path).expect("an SVG");
        let doc = roxmltree::Document::parse(&svg).expect("the SVG parses");
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for want in [
            "A",
            "network",
            "B",
            "1. application closes",
            "2. FIN|ACK seq=1 ack=1 (inc 1, age 0)",
        ] {
            assert!(texts.contains(&want), "{want:?} not in {texts:?}");
        }
    }
}
