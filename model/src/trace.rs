//! Counterexamples and witnesses as numbered steps a person can read: the
//! action, then both endpoints and the network after it.

use crate::diagram::{Diagram, Mark};
use crate::endpoint::TcpState;
use crate::properties::PropertyId;
use crate::rules::CrossKind;
use crate::search::Found;
use crate::segment::{Segment, Side};
use crate::system::{Action, State, TeardownModel};
use serde::Serialize;
use std::fmt::Write as _;

/// What a trace demonstrates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceKind {
    /// A path to a state violating an `always` property.
    Counterexample,
    /// A path to a state witnessing a `sometimes` property.
    Witness,
    /// A path ending in a cycle: a behaviour that never ends.
    Lasso,
}

/// One step of a trace.
#[derive(Clone, Debug, Serialize)]
pub struct TraceStep {
    pub n: usize,
    pub action: String,
    pub a: String,
    pub b: String,
    pub network: Vec<String>,
}

/// A trace, shortest for its kind.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub kind: TraceKind,
    pub initial_a: String,
    pub initial_b: String,
    pub steps: Vec<TraceStep>,
    /// For a lasso, the step number at which the cycle starts.
    pub cycle_from: Option<usize>,
    /// What the last state shows, in one sentence.
    pub conclusion: String,
    /// The raw path, for tools that turn traces into specs.
    #[serde(skip)]
    pub actions: Vec<Action>,
    #[serde(skip)]
    pub states: Vec<State>,
    /// The same path as a sequence diagram of A, the network and B.
    #[serde(skip)]
    pub diagram: Diagram,
}

/// The action, and for a tick what the tick did: segments that died at MSL
/// (the network's losses), retransmissions, give-ups, TIME-WAIT ending.
fn describe_step(model: &TeardownModel, before: &State, action: &Action, after: &State) -> String {
    let mut s = action.describe();
    if *action != Action::Tick {
        return s;
    }
    let mut notes = Vec::new();
    for g in before.net.iter().filter(|g| g.age + 1 >= model.cfg.msl) {
        notes.push(format!("{} dies at MSL (lost)", g.describe()));
    }
    if after.idle_left < before.idle_left {
        notes.push("nothing runs; the applications let time pass".to_string());
    }
    for ((b, a), side) in before.eps.iter().zip(&after.eps).zip(["A", "B"]) {
        if b.state == TcpState::TimeWait && a.state != TcpState::TimeWait {
            notes.push(format!("{side}: TIME-WAIT ends"));
        }
        if b.state == TcpState::FinWait2 && b.tw == 1 {
            notes.push(format!(
                "{side}: FIN-WAIT-2 times out (tcp_fin_timeout): the connection is deleted without a segment"
            ));
        }
        if b.rtx == 1 {
            if a.retries > b.retries {
                notes.push(format!("{side}: retransmission timer fires, retransmits"));
            } else if a.state == TcpState::Closed && b.state != TcpState::Closed {
                notes.push(format!("{side}: gives up retransmitting"));
            }
        }
    }
    if !notes.is_empty() {
        s.push_str(": ");
        s.push_str(&notes.join("; "));
    }
    s
}

fn network(s: &State) -> Vec<String> {
    s.net.iter().map(|g| g.describe()).collect()
}

impl Trace {
    pub fn new(
        model: &TeardownModel,
        property: PropertyId,
        kind: TraceKind,
        found: Found<TeardownModel>,
        cycle_len: Option<usize>,
    ) -> Trace {
        let first = &found.states[0];
        let steps = found
            .actions
            .iter()
            .zip(found.states.windows(2))
            .enumerate()
            .map(|(i, (a, pair))| TraceStep {
                n: i + 1,
                action: describe_step(model, &pair[0], a, &pair[1]),
                a: pair[1].eps[0].describe(),
                b: pair[1].eps[1].describe(),
                network: network(&pair[1]),
            })
            .collect::<Vec<_>>();
        let last = found.states.last().expect("a path has a state");
        let conclusion = conclude(model, property, kind, last);
        let cycle_from = cycle_len.map(|c| steps.len() - c + 1);
        let title = match kind {
            TraceKind::Counterexample => format!("{}: shortest counterexample", property.name()),
            TraceKind::Witness => format!("{}: shortest witness", property.name()),
            TraceKind::Lasso => format!("{}: a behaviour that never ends", property.name()),
        };
        let mark = match kind {
            TraceKind::Witness => Mark::Plain,
            TraceKind::Counterexample | TraceKind::Lasso => Mark::Failed,
        };
        let mut diagram = path_diagram(model, title, &found.states, &found.actions, cycle_from);
        diagram.note_all(format!("=> {conclusion}"), mark);
        Trace {
            kind,
            initial_a: first.eps[0].describe(),
            initial_b: first.eps[1].describe(),
            cycle_from,
            steps,
            conclusion,
            actions: found.actions,
            states: found.states,
            diagram,
        }
    }

    /// The numbered list, as printed on the terminal and in reports.
    pub fn render(&self, indent: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{indent}0. initial: A {} | B {}",
            self.initial_a, self.initial_b
        );
        for st in &self.steps {
            let mark = match self.cycle_from {
                Some(c) if st.n == c => " <- cycle starts here",
                _ => "",
            };
            let _ = writeln!(out, "{indent}{}. {}{mark}", st.n, st.action);
            let _ = writeln!(out, "{indent}     A {}", st.a);
            let _ = writeln!(out, "{indent}     B {}", st.b);
            if !st.network.is_empty() {
                let _ = writeln!(out, "{indent}     in flight: {}", st.network.join("; "));
            }
        }
        let _ = writeln!(out, "{indent}=> {}", self.conclusion);
        out
    }
}

/// Every abbreviation the traces use (text form and diagrams), with what it
/// means: the legend of reports/model.md. A test checks the report uses
/// none that is missing here.
pub const LEGEND: &[(&str, &str)] = &[
    ("A, B", "the two endpoints; A is the side whose application is first offered the close"),
    ("network", "the segments in flight: in the diagrams a segment is sent into the network and delivered (or lost) from it later, so reordering, duplication and loss are visible"),
    ("`A>B`", "a segment from A to B"),
    ("SYN, FIN, RST, ACK", "the control bits set in a segment (`FIN|ACK`: both); `-` none"),
    ("`seq=`", "SEG.SEQ, the segment's sequence number (RFC 9293 3.4)"),
    ("`ack=`", "SEG.ACK, shown only when ACK is set"),
    ("`len=`", "payload bytes (SYN and FIN occupy one sequence number each on top)"),
    ("`inc`", "incarnation: the connection on the same 4-tuple that sent a segment (`inc 2`) or that a TCB belongs to (`inc2`); a ghost field the protocol cannot see"),
    ("`age`", "ticks the segment has spent in the network; it dies (is lost) when its age reaches MSL"),
    ("retransmission", "sent by the retransmission timer, not by the network duplicating"),
    ("abort", "the RST of an application's ABORT (SO_LINGER 0)"),
    ("`iss=`", "ISS, the initial send sequence number of this incarnation"),
    ("`una=`", "SND.UNA, the oldest unacknowledged sequence number"),
    ("`nxt=`", "SND.NXT, the next sequence number to send"),
    ("`rcv=`", "RCV.NXT, the next sequence number expected"),
    ("`rtx=`", "ticks left on the retransmission timer; `(retry N)`: N retransmissions of the head segment so far"),
    ("`tw=`", "ticks left on the TIME-WAIT timer"),
    ("`fin-timeout=`", "ticks left on the FIN-WAIT-2 orphan timeout (Linux `tcp_fin_timeout`)"),
    ("`held=`", "in-window segments held ahead of RCV.NXT until the gap fills"),
    ("`[app closed]`", "the application has closed this incarnation"),
    ("`[app saw an error]`", "the application's incarnation ended in a reset or a timeout, not a close it asked for"),
    ("`[listen for incN iss=X]`", "the application listens for incarnation N with ISS X, waiting for TIME-WAIT to end"),
    ("tick, `t=`", "the model's discrete time; `t=3 (1.5 MSL)` is the time after the third tick, in ticks and in MSLs"),
    ("MSL", "maximum segment lifetime (RFC 9293 3.4.2); TIME-WAIT lasts 2 MSL"),
    ("RTO", "retransmission timeout, doubled at each retry"),
    ("in flight", "the segments in the network after the step (text form)"),
    ("`=>`", "what the last state shows: the violation, or what a witness reaches"),
    ("`<- cycle starts here`", "a lasso: the steps from here on repeat forever"),
];

/// Lifelines of a model diagram: A, the network, B.
pub const LIFELINES: [&str; 3] = ["A", "network", "B"];
const NET: usize = 1;

fn lifeline(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 2,
    }
}

/// A segment as a diagram label: what `describe` says, without the
/// direction the arrow already shows.
fn label(g: &Segment) -> String {
    let d = g.describe();
    match d.split_once(' ') {
        Some((_, rest)) => rest.to_string(),
        None => d,
    }
}

/// `after`'s segments that `before` does not hold (a multiset difference,
/// since the network keeps identical copies).
fn new_segments(before: &State, after: &State) -> Vec<Segment> {
    let mut old: Vec<Segment> = before.net.to_vec();
    let mut out = Vec::new();
    for g in &after.net {
        match old.iter().position(|o| o == g) {
            Some(i) => {
                old.swap_remove(i);
            }
            None => out.push(*g),
        }
    }
    out
}

/// The time after `ticks` ticks, in ticks and in MSLs (one tick is MSL /
/// `msl`, MSL/2 with the default 2-tick MSL).
pub fn time_label(ticks: u32, msl: u8) -> String {
    let msl = u32::from(msl.max(1));
    let whole = ticks / msl;
    let part = ticks % msl;
    let in_msl = match (whole, part) {
        (0, 0) => return "t=0".to_string(),
        (w, 0) => format!("{w} MSL"),
        (0, p) => format!("{p}/{msl} MSL"),
        (w, p) => format!("{w} {p}/{msl} MSL"),
    };
    let in_msl = if msl == 2 {
        in_msl
            .replace(" 1/2 MSL", ".5 MSL")
            .replace("1/2 MSL", "0.5 MSL")
    } else {
        in_msl
    };
    format!("t={ticks} ({in_msl})")
}

/// A path of the model as a sequence diagram: A and B as lifelines with the
/// network between them, so that a segment's send and its (later, reordered,
/// duplicated or never) delivery are separate arrows. Applications' calls
/// and state changes are notes; each tick is a note across all three with
/// the time in ticks and MSLs. Rows carry the step numbers of the text form.
pub fn path_diagram(
    model: &TeardownModel,
    title: impl Into<String>,
    states: &[State],
    actions: &[Action],
    cycle_from: Option<usize>,
) -> Diagram {
    let msl = model.cfg.msl;
    let mut d = Diagram::new(title, &LIFELINES);
    if let Some(first) = states.first() {
        d.note_all(
            format!(
                "0. {}\nA {}\nB {}",
                time_label(0, msl),
                first.eps[0].describe(),
                first.eps[1].describe()
            ),
            Mark::Plain,
        );
    }
    let mut ticks = 0u32;
    for (i, (action, pair)) in actions.iter().zip(states.windows(2)).enumerate() {
        let n = i + 1;
        let (before, after) = (&pair[0], &pair[1]);
        if cycle_from == Some(n) {
            d.note_all("the cycle starts here", Mark::Plain);
        }
        let mut fresh = new_segments(before, after);
        match action {
            Action::Tick => {
                ticks += 1;
                let mut text = format!("{n}. tick: {}", time_label(ticks, msl));
                if after.idle_left < before.idle_left {
                    text.push_str("\nnothing runs: the applications let time pass");
                }
                d.note_all(text, Mark::Plain);
                for g in before.net.iter().filter(|g| g.age + 1 >= msl) {
                    d.message(
                        NET,
                        lifeline(g.from.peer()),
                        format!("{} dies at MSL (lost)", label(g)),
                        Mark::Lost,
                    );
                }
                // Everything in flight aged; only what is sent at this tick
                // (a retransmission) is new.
                fresh.retain(|g| g.age == 0);
            }
            Action::Deliver(g) | Action::DeliverCopy(g) => {
                let text = if matches!(action, Action::DeliverCopy(_)) {
                    format!(
                        "{n}. {}\n(the network delivers a copy; one stays in flight)",
                        label(g)
                    )
                } else {
                    format!("{n}. {}", label(g))
                };
                d.message(NET, lifeline(g.from.peer()), text, Mark::Plain);
            }
            Action::Send(side)
            | Action::Close(side)
            | Action::Abort(side)
            | Action::Listen(side, _)
            | Action::Connect(side, _) => {
                let what = action.describe();
                let what = what
                    .strip_prefix(&format!("{side}: "))
                    .unwrap_or(&what)
                    .to_string();
                d.note(
                    lifeline(*side),
                    lifeline(*side),
                    format!("{n}. {what}"),
                    Mark::Plain,
                );
            }
        }
        for g in &fresh {
            d.message(lifeline(g.from), NET, label(g), Mark::Plain);
        }
        for side in Side::BOTH {
            let (b, a) = (before.ep(side), after.ep(side));
            // A tick runs the timers down: only a change of state is news.
            let changed = if *action == Action::Tick {
                b.state != a.state
            } else {
                b.describe() != a.describe()
            };
            if changed {
                d.note(lifeline(side), lifeline(side), a.describe(), Mark::Plain);
            }
        }
    }
    d
}

fn conclude(model: &TeardownModel, property: PropertyId, kind: TraceKind, s: &State) -> String {
    if kind == TraceKind::Lasso {
        return "the last step returns to the marked state: this behaviour can go on forever"
            .to_string();
    }
    match property {
        PropertyId::NoCrossIncarnationDelivery => match s.ghost.cross {
            Some(c) => {
                let what = match c.kind {
                    CrossKind::Data => "delivered data sent by",
                    CrossKind::Fin => "accepted a FIN sent by",
                    CrossKind::Rst => "was reset by a RST sent by",
                    CrossKind::Syn => "took a SYN sent by",
                    CrossKind::Ack => "took an ACK sent by",
                };
                format!(
                    "{} (incarnation {}) {what} incarnation {}",
                    c.at, c.to_inc, c.from_inc
                )
            }
            None => "no cross-incarnation event".to_string(),
        },
        PropertyId::ReliableTerminationReset => match s.ghost.reset {
            Some(r) => format!(
                "{}'s application sees a reset of incarnation {} in {}",
                r.at, r.inc, r.state
            ),
            None => "no reset".to_string(),
        },
        PropertyId::ReliableTerminationTimeout => match s.ghost.timeout {
            Some(t) => format!(
                "{} gives up retransmitting in {} (incarnation {}): timeout error",
                t.at, t.state, t.inc
            ),
            None => "no timeout".to_string(),
        },
        PropertyId::BothClosed => {
            if model.is_quiescent(s) {
                let ends: Vec<String> = s
                    .eps
                    .iter()
                    .zip(["A", "B"])
                    .map(|(e, side)| format!("{side} {}", end_of(e)))
                    .collect();
                format!(
                    "nothing more can happen, yet the connection did not end with both applications closing the last incarnation: {}",
                    ends.join(", ")
                )
            } else {
                "both endpoints closed".to_string()
            }
        }
        PropertyId::NoHalfOpen => format!(
            "nothing more can happen, and the ends disagree on whether a connection exists: A {}, B {}",
            s.eps[0].describe(),
            s.eps[1].describe()
        ),
        PropertyId::EndsAgree => {
            let [a, b] = &s.eps;
            format!(
                "the ends of incarnation {} are desynchronised: A una={} nxt={} rcv={}, B una={} nxt={} rcv={}",
                a.inc, a.snd_una, a.snd_nxt, a.rcv_nxt, b.snd_una, b.snd_nxt, b.rcv_nxt
            )
        }
        p => format!("witness: {}", p.meaning()),
    }
}

/// How an endpoint's part ended, for the both-closed conclusion.
fn end_of(e: &crate::endpoint::Endpoint) -> String {
    if e.failed {
        format!("saw incarnation {} end in an error", e.app_inc)
    } else if e.state != TcpState::Closed {
        format!("is still {} (incarnation {})", e.state, e.inc)
    } else if !e.app_closed {
        format!("never closed incarnation {}", e.app_inc)
    } else {
        format!("closed incarnation {}", e.app_inc)
    }
}

/// Turns a path of the search into the plain path that the same behaviour
/// takes, so that A stays A from the first step to the last and every
/// retransmission is marked as one. Each searched state is either the plain
/// state or its mirror (symmetry), in the second case the action is mirrored
/// too; and a search that does not mark retransmissions (see
/// [`crate::system::Observe::rexmit`]) saw the plain state without its marks.
/// The replay marks them, and a delivery takes the marked segment in flight.
pub fn unreduce(model: &TeardownModel, found: Found<TeardownModel>) -> Found<TeardownModel> {
    let mut replay = model.clone();
    replay.observe.rexmit = true;
    replay.symmetry = false;
    let as_searched = |s: &State| {
        let mut s = s.clone();
        if !model.observe.rexmit {
            for g in s.net.iter_mut() {
                g.rexmit = false;
            }
            // Clearing the marks can only break ties of equal segments; the
            // search keeps `net` sorted.
            s.net.sort();
        }
        s
    };
    let mut states = vec![found.states[0].clone()];
    let mut actions = Vec::with_capacity(found.actions.len());
    for (searched, a) in found.states.iter().zip(&found.actions) {
        let plain = states.last().expect("a path has a state");
        let seen = as_searched(plain);
        let a = if !model.symmetry || &seen == searched {
            a.clone()
        } else {
            debug_assert_eq!(seen, crate::symmetry::mirrored(searched));
            crate::symmetry::mirrored_action(a)
        };
        let a = marked(plain, a);
        let next = replay
            .step(plain, a.clone())
            .expect("the searched action (mirrored, marked) is enabled in the plain state");
        actions.push(a);
        states.push(next);
    }
    Found { states, actions }
}

/// The delivery of the segment in flight in `plain` that `a` names, with its
/// retransmission mark (an exact match first).
fn marked(plain: &State, a: Action) -> Action {
    let find = |seg: &Segment| {
        let bare = |g: &Segment| Segment {
            rexmit: false,
            ..*g
        };
        plain
            .net
            .iter()
            .find(|g| *g == seg)
            .or_else(|| plain.net.iter().find(|g| bare(g) == bare(seg)))
            .copied()
            .unwrap_or(*seg)
    };
    match a {
        Action::Deliver(seg) => Action::Deliver(find(&seg)),
        Action::DeliverCopy(seg) => Action::DeliverCopy(find(&seg)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{check_property, Limits, VariantSpec};
    use crate::diagram::Row;
    use crate::{Config, Preset, Verdict};

    fn no_time_wait_reset() -> Trace {
        let base = Config {
            data_sends: 0,
            ..Config::default()
        };
        let v = VariantSpec::preset(Preset::NoTimeWait, &base, base.msl).expect("valid");
        let r = check_property(
            &v,
            PropertyId::ReliableTerminationReset,
            None,
            &Limits::default(),
            &mut |_| {},
        );
        assert_eq!(r.verdict, Verdict::Violated);
        r.trace.expect("a counterexample")
    }

    #[test]
    fn a_retransmission_is_marked_in_a_trace_though_the_search_did_not_mark_it() {
        // Two losses outlast rfc1337's TIME-WAIT: the last ACK dies, then the
        // FIN that B's timer sends again. reliable-termination/reset does not
        // read the marks, so its search leaves them off.
        let base = Config {
            incarnations: 1,
            loss_budget: 2,
            dup_budget: 0,
            ..Config::default()
        };
        let p = PropertyId::ReliableTerminationReset;
        assert!(!TeardownModel::new(base.clone(), vec![p]).observe.rexmit);
        let v = VariantSpec::preset(Preset::Rfc1337, &base, base.msl).expect("valid");
        let r = check_property(&v, p, None, &Limits::default(), &mut |_| {});
        let t = r.trace.expect("a counterexample");
        assert!(
            t.steps
                .iter()
                .any(|s| s.action.contains("B>A FIN|ACK") && s.action.contains("retransmission")),
            "{}",
            t.render("  ")
        );
    }

    #[test]
    fn a_counterexample_diagram_has_a_row_for_every_step_and_marks_the_conclusion() {
        let t = no_time_wait_reset();
        let d = &t.diagram;
        assert_eq!(d.lifelines, ["A", "network", "B"]);
        let texts: Vec<&str> = d
            .rows
            .iter()
            .map(|r| match r {
                Row::Message { text, .. } | Row::Note { text, .. } => text.as_str(),
            })
            .collect();
        // Every numbered step of the text form is a row of the diagram.
        for st in &t.steps {
            let prefix = format!("{}. ", st.n);
            assert!(
                texts.iter().any(|x| x.starts_with(&prefix)),
                "step {} missing from {texts:#?}",
                st.n
            );
        }
        match d.rows.last() {
            Some(Row::Note { text, mark, .. }) => {
                assert_eq!(*mark, Mark::Failed);
                assert_eq!(text, &format!("=> {}", t.conclusion));
            }
            other => panic!("the conclusion must end the diagram, got {other:?}"),
        }
        // The RST that no TIME-WAIT would have prevented crosses the network.
        assert!(
            d.rows.iter().any(|r| matches!(r, Row::Message { from: 0, to: 1, text, .. } if text.starts_with("RST"))),
            "{texts:#?}"
        );
        roxmltree::Document::parse(&d.to_svg()).expect("the SVG parses");
    }

    #[test]
    fn a_segment_that_dies_at_msl_is_drawn_lost_at_its_destination() {
        let cfg = Config::default();
        let model = TeardownModel::observing_all(cfg.clone());
        let s0 = model.initial_state(0, 0);
        let s1 = model.step(&s0, Action::Close(Side::A)).expect("close");
        let s2 = model.step(&s1, Action::Tick).expect("tick");
        let s3 = model.step(&s2, Action::Tick).expect("tick");
        let d = path_diagram(
            &model,
            "t",
            &[s0, s1, s2, s3],
            &[Action::Close(Side::A), Action::Tick, Action::Tick],
            None,
        );
        let lost: Vec<&Row> = d
            .rows
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    Row::Message {
                        mark: Mark::Lost,
                        ..
                    }
                )
            })
            .collect();
        assert_eq!(lost.len(), 1, "{:#?}", d.rows);
        assert!(
            matches!(lost[0], Row::Message { from: 1, to: 2, text, .. } if text.contains("FIN|ACK") && text.ends_with("dies at MSL (lost)"))
        );
        assert!(d.to_mermaid().contains("3. tick: t=2 (1 MSL)"));
        assert_eq!(time_label(3, 2), "t=3 (1.5 MSL)");
        assert_eq!(time_label(1, 2), "t=1 (0.5 MSL)");
        assert_eq!(time_label(4, 3), "t=4 (1 1/3 MSL)");
    }
}
