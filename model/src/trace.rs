//! Counterexamples and witnesses as numbered steps a person can read: the
//! action, then both endpoints and the network after it.

use crate::endpoint::TcpState;
use crate::properties::PropertyId;
use crate::rules::CrossKind;
use crate::search::Found;
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
        Trace {
            kind,
            initial_a: first.eps[0].describe(),
            initial_b: first.eps[1].describe(),
            cycle_from: cycle_len.map(|c| steps.len() - c + 1),
            steps,
            conclusion,
            actions: found.actions,
            states: found.states,
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

/// Turns a path through symmetry representatives into the plain path that
/// the same behaviour takes, so that A stays A from the first step to the
/// last. Each representative is either the plain state or its mirror; in the
/// second case the action is mirrored too.
pub fn unreduce(model: &TeardownModel, found: Found<TeardownModel>) -> Found<TeardownModel> {
    if !model.symmetry {
        return found;
    }
    let mut states = vec![found.states[0].clone()];
    let mut actions = Vec::with_capacity(found.actions.len());
    for (rep, a) in found.states.iter().zip(&found.actions) {
        let plain = states.last().expect("a path has a state");
        let a = if plain == rep {
            a.clone()
        } else {
            debug_assert_eq!(plain, &crate::symmetry::mirrored(rep));
            crate::symmetry::mirrored_action(a)
        };
        let next = model
            .step(plain, a.clone())
            .expect("the mirror of an enabled action is enabled in the mirrored state");
        actions.push(a);
        states.push(next);
    }
    Found { states, actions }
}
