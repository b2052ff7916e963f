//! Semantic checks: a spec that parses can still ask for the impossible (an
//! ack before any SYN, a segment from a socket never opened, a wait of zero).
//! Every check reports the step's line and column; all problems of a file are
//! reported together.

use crate::diag::Diagnostic;
use crate::format::{App, Role, SockState, Spec, Step};
use crate::values::{Flags, SeqValue, SutIsn, Unit};
use serde_saphyr::Location;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Opened {
    No,
    /// By a one-shot `listen` in this incarnation.
    Listen,
    /// By a persistent listener (`listen-persistent` here or earlier).
    Persistent,
    Connect,
}

/// The persistent listener across incarnations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listener {
    /// None was ever opened.
    Never,
    Open,
    /// Closed by `close-listener`.
    Closed,
}

/// What the script has established so far about one incarnation.
#[derive(Clone, Copy)]
struct Inc {
    opened: Opened,
    accepted: bool,
    /// The SUT's SYN or SYN-ACK has been expected, so relative numbers in its
    /// sequence space have an origin.
    sut_isn_known: bool,
    /// A segment from the SUT has been expected, so its SND.NXT is known
    /// (the origin of the next incarnation's `sut-isn: {snd-nxt: N}`).
    sut_sent: bool,
    closed: bool,
    shut: bool,
}

impl Inc {
    const NEW: Inc = Inc {
        opened: Opened::No,
        accepted: false,
        sut_isn_known: false,
        sut_sent: false,
        closed: false,
        shut: false,
    };
}

struct Checker<'a> {
    file: &'a Path,
    out: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn err(&mut self, loc: Location, msg: impl Into<String>) {
        self.out.push(Diagnostic::at(self.file, loc, msg));
    }
}

/// All semantic problems of `spec`, read from `file`.
pub fn check(file: &Path, spec: &Spec) -> Vec<Diagnostic> {
    let mut c = Checker {
        file,
        out: Vec::new(),
    };
    header(&mut c, spec);
    steps(&mut c, spec);
    c.out.sort_by_key(|d| (d.line, d.column));
    c.out
}

fn header(c: &mut Checker, spec: &Spec) {
    let name = &spec.name;
    if name.value.is_empty()
        || !name
            .value
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
    {
        c.err(
            name.referenced,
            format!(
                "name {:?} must be lower-case letters, digits and dashes (it names the test)",
                name.value
            ),
        );
    }
    if let Some(stem) = c.file.file_stem().and_then(|s| s.to_str()) {
        if stem != name.value && !name.value.is_empty() {
            c.err(
                name.referenced,
                format!(
                    "name {:?} differs from the file name {stem:?}; they must match",
                    name.value
                ),
            );
        }
    }
    if spec.description.trim().is_empty() {
        c.err(
            name.referenced,
            "description is empty; say why this spec exists and cite the RFC section",
        );
    }
    let msl = &spec.msl;
    if !matches!(msl.value.unit, Unit::Millis | Unit::Seconds) || msl.value.is_zero() {
        c.err(
            msl.referenced,
            format!("msl {} must be a positive time in ms or s", msl.value),
        );
    }
    if let Some(tw) = &spec.time_wait {
        if tw.value.unit == Unit::TimeWait || tw.value.is_zero() {
            c.err(
                tw.referenced,
                format!(
                    "time-wait {} must be a positive time in ms, s or msl",
                    tw.value
                ),
            );
        }
    }
    if let Some(t) = &spec.tolerance {
        if !matches!(t.value.unit, Unit::Millis | Unit::Seconds) {
            c.err(
                t.referenced,
                format!("tolerance {} must be in ms or s", t.value),
            );
        }
    }
    if let Some(p) = &spec.profile {
        for (name, v, max) in [
            ("tcp_rfc1337", p.value.tcp_rfc1337, 1),
            ("tcp_timestamps", p.value.tcp_timestamps, 2),
            ("tcp_tw_reuse", p.value.tcp_tw_reuse, 2),
        ] {
            if let Some(v) = v {
                if v > max {
                    c.err(
                        p.referenced,
                        format!("profile {name} is {v}, expected 0 to {max}"),
                    );
                }
            }
        }
    }
    let m = &spec.model;
    if m.value.pass.is_empty() && m.value.fail.is_empty() {
        c.err(
            m.referenced,
            "model lists no variants; name at least one that must pass or fail",
        );
    }
    let mut seen = Vec::new();
    for v in m.value.pass.iter().chain(&m.value.fail) {
        if seen.contains(&v.value) {
            c.err(
                v.referenced,
                format!(
                    "model variant {} is listed twice (a variant either passes or fails)",
                    v.value.0.name()
                ),
            );
        }
        seen.push(v.value);
    }
    if spec.steps.is_empty() {
        c.err(name.referenced, "steps is empty; a spec needs steps");
    }
}

fn steps(c: &mut Checker, spec: &Spec) {
    let mut incs = vec![Inc::NEW];
    let mut sut_closed_first: Option<bool> = None;
    let mut peer_fin = false;
    let mut sut_fin = false;
    let mut listen_after_marker = false;
    let mut listener = Listener::Never;
    for step in &spec.steps {
        let loc = step.referenced;
        let n = incs.len() as u32;
        let cur = incs.len() - 1;
        let step_tolerance = match &step.value {
            Step::Expect(e) => e.tolerance,
            Step::ExpectState(e) => e.tolerance,
            _ => None,
        };
        if let Some(t) = step_tolerance {
            if !matches!(t.unit, Unit::Millis | Unit::Seconds) {
                c.err(loc, format!("tolerance {t} must be in ms or s"));
            }
        }
        match &step.value {
            Step::App(app) => {
                let inc = &mut incs[cur];
                let persistent_accept = *app == App::Accept && listener == Listener::Open;
                app_call(c, loc, *app, inc, &mut listener);
                if matches!(app, App::Close | App::Shutdown | App::Abort) && cur == 0 {
                    sut_closed_first.get_or_insert(!peer_fin);
                    sut_fin = true;
                }
                // A new incarnation taken by a listener: one opened after
                // the marker, or the persistent one that stayed open.
                if cur > 0
                    && (matches!(app, App::Listen | App::ListenPersistent) || persistent_accept)
                {
                    listen_after_marker = true;
                }
            }
            Step::Inject(s) => {
                let Some(target) = incarnation(c, loc, s.incarnation, n) else {
                    continue;
                };
                if s.flags.has(Flags::ACK) != s.ack.is_some() {
                    c.err(loc, ack_mismatch(s.flags, s.ack.is_some()));
                }
                let isn_known = incs[target as usize - 1].sut_isn_known;
                if matches!(s.ack, Some(SeqValue::Rel(_))) && !isn_known {
                    c.err(
                        loc,
                        "ack before any SYN from the SUT: a relative ack counts from the SUT's ISN, which is learnt from its SYN or SYN-ACK; expect that segment first or write {abs: N}",
                    );
                }
                if s.flags.has(Flags::FIN) && cur == 0 {
                    sut_closed_first.get_or_insert(false);
                    peer_fin = true;
                }
            }
            Step::Expect(e) => {
                let Some(target) = incarnation(c, loc, e.incarnation, n) else {
                    continue;
                };
                let opened = incs.iter().any(|i| i.opened != Opened::No);
                if !opened && !e.flags.has(Flags::RST) {
                    c.err(
                        loc,
                        format!(
                            "expects {} {} segment from a socket that was never opened; the SUT must `listen` or `connect` first (only a RST can come from a closed port)",
                            article(e.flags),
                            e.flags
                        ),
                    );
                }
                if e.ack.is_some() && !e.flags.has(Flags::ACK) {
                    c.err(loc, ack_mismatch(e.flags, true));
                }
                if e.flags.has(Flags::SYN) {
                    // A SYN gives its own incarnation an ISN, also when it
                    // is written in an older one's numbers (a reused
                    // TIME-WAIT 4-tuple; `Origins::learn`).
                    incs[cur].sut_isn_known = true;
                }
                let inc = &mut incs[target as usize - 1];
                inc.sut_sent |= !e.flags.has(Flags::RST);
                if e.flags.has(Flags::SYN) {
                    inc.sut_isn_known = true;
                } else if matches!(e.seq, Some(SeqValue::Rel(_))) && !inc.sut_isn_known {
                    c.err(
                        loc,
                        "seq before any SYN from the SUT: a relative seq counts from the SUT's ISN, which is learnt from its SYN or SYN-ACK; expect that segment first, leave seq out, or write {abs: N}",
                    );
                }
                if let (Some(a), Some(w)) = (e.after, e.within) {
                    if spec.ms(a) > spec.ms(w) {
                        c.err(
                            loc,
                            format!("after {a} is later than within {w}; the window is empty"),
                        );
                    }
                }
            }
            Step::ExpectNone(e) => {
                if e.duration.is_zero() {
                    c.err(
                        loc,
                        "expect-none for 0s checks nothing; give a positive time",
                    );
                }
            }
            Step::Wait(d) => {
                if d.is_zero() {
                    c.err(loc, "wait must be positive, got 0");
                }
            }
            Step::ExpectState(e) => {
                if let Some(r) = e.remaining {
                    if e.state != SockState::TimeWait && e.state != SockState::FinWait2 {
                        c.err(
                            loc,
                            format!(
                                "remaining is only shown for TIME-WAIT (and orphaned FIN-WAIT-2) sockets, not {}",
                                e.state.name()
                            ),
                        );
                    }
                    if spec.ms(r.min) > spec.ms(r.max) {
                        c.err(
                            loc,
                            format!("remaining min {} is more than max {}", r.min, r.max),
                        );
                    }
                }
            }
            Step::Incarnation(m) => {
                // A persistent listener stands ready for every incarnation.
                if incs[cur].opened == Opened::No && listener != Listener::Open {
                    c.err(
                        loc,
                        format!(
                            "incarnation {} starts before incarnation {n} was opened (listen or connect)",
                            n + 1
                        ),
                    );
                }
                let prev = incs[cur];
                match m.sut_isn {
                    Some(SutIsn::SndNxt(_)) if !prev.sut_sent => c.err(
                        loc,
                        format!("sut-isn counts from the SUT's SND.NXT in incarnation {n}, but no segment from the SUT is expected there"),
                    ),
                    Some(SutIsn::Seq(SeqValue::Rel(_))) if !prev.sut_isn_known => c.err(
                        loc,
                        format!("a relative sut-isn counts from the SUT's ISN in incarnation {n}, which no expected SYN gives; write {{snd-nxt: N}} or {{abs: N}}"),
                    ),
                    _ => {}
                }
                incs.push(Inc {
                    sut_isn_known: m.sut_isn.is_some(),
                    ..Inc::NEW
                });
            }
            // A refused call opens and closes nothing.
            Step::Note(_) | Step::AppRefused(_) => {}
        }
    }
    let role = &spec.role;
    let problem = match role.value {
        Role::ActiveCloser if sut_closed_first != Some(true) => {
            Some("the SUT must close (close, shutdown or abort) before the peer's first FIN")
        }
        Role::PassiveCloser if sut_closed_first != Some(false) => {
            Some("the peer must send its FIN before the SUT closes")
        }
        Role::SimultaneousClose if !(peer_fin && sut_fin) => {
            Some("both the SUT and the peer must close")
        }
        Role::NewIncarnationListener if !listen_after_marker => {
            Some("the SUT must `listen` after an `incarnation` marker (or `accept` from a persistent listener)")
        }
        _ => None,
    };
    if let Some(p) = problem {
        c.err(
            role.referenced,
            format!("role {} does not fit the steps: {p}", role.value.name()),
        );
    }
}

/// The incarnation a segment's numbers refer to, if it exists (`n` is the
/// current one).
fn incarnation(c: &mut Checker, loc: Location, given: Option<u32>, n: u32) -> Option<u32> {
    let target = given.unwrap_or(n);
    if target == 0 || target > n {
        c.err(
            loc,
            format!("incarnation {target} does not exist yet (this is incarnation {n})"),
        );
        return None;
    }
    Some(target)
}

/// "a" or "an" before flag letters, as they are spoken: "an FA segment"
/// (eff-ay), "an S segment", "a PA segment" (pee-ay).
fn article(flags: Flags) -> &'static str {
    if flags.to_string().starts_with('P') {
        "a"
    } else {
        "an"
    }
}

fn ack_mismatch(flags: Flags, has_ack: bool) -> String {
    if has_ack {
        format!("ack given but flags {flags} lack A; add A or drop ack")
    } else {
        format!("flags {flags} include A but no ack is given; add ack (relative to the SUT's ISN) or drop A")
    }
}

fn app_call(c: &mut Checker, loc: Location, app: App, inc: &mut Inc, listener: &mut Listener) {
    match app {
        App::Listen | App::ListenPersistent | App::Connect => {
            if *listener == Listener::Open && app != App::Connect {
                // bind() meets the listening socket: EADDRINUSE even with
                // SO_REUSEADDR.
                c.err(
                    loc,
                    format!("{app} while the persistent listener is open on the port; `accept` takes from it, or `close-listener` first"),
                );
            } else if inc.opened != Opened::No {
                c.err(
                    loc,
                    "this incarnation is already open; start a new one with an `incarnation` step",
                );
            }
            inc.opened = match app {
                App::Listen => Opened::Listen,
                App::ListenPersistent => {
                    *listener = Listener::Open;
                    Opened::Persistent
                }
                _ => Opened::Connect,
            };
        }
        App::Accept => {
            let from_persistent =
                *listener == Listener::Open && matches!(inc.opened, Opened::No | Opened::Persistent);
            if inc.accepted {
                c.err(
                    loc,
                    "accept called twice; the SUT takes one connection per incarnation",
                );
            } else if inc.opened == Opened::Listen || from_persistent {
                // The one-shot listener closes here; the persistent one stays.
                if from_persistent {
                    inc.opened = Opened::Persistent;
                }
            } else if *listener == Listener::Closed && inc.opened != Opened::Connect {
                c.err(
                    loc,
                    "accept without an open listener: `close-listener` closed the persistent one",
                );
            } else {
                c.err(loc, "accept without listen in this incarnation");
            }
            inc.accepted = true;
        }
        App::CloseListener => match *listener {
            Listener::Open => *listener = Listener::Closed,
            Listener::Never => c.err(
                loc,
                "close-listener without a persistent listener; `listen-persistent` opens one (a one-shot `listen` closes at its `accept`)",
            ),
            Listener::Closed => c.err(loc, "close-listener twice; the persistent listener is already closed"),
        },
        App::Send(_) | App::Shutdown | App::Close | App::Abort => {
            let what = match app {
                App::Send(_) => "send",
                App::Shutdown => "shutdown",
                App::Close => "close",
                _ => "abort",
            };
            if inc.opened == Opened::No {
                c.err(
                    loc,
                    format!("{what} on a socket that was never opened; listen (and accept) or connect first"),
                );
            } else if matches!(inc.opened, Opened::Listen | Opened::Persistent) && !inc.accepted {
                c.err(
                    loc,
                    format!("{what} before accept; the connection is not the application's yet"),
                );
            } else if inc.closed {
                c.err(loc, format!("{what} after the socket was closed"));
            } else if inc.shut && matches!(app, App::Send(_) | App::Shutdown) {
                c.err(
                    loc,
                    format!("{what} after shutdown; the write side is closed"),
                );
            }
            match app {
                App::Shutdown => inc.shut = true,
                App::Close | App::Abort => inc.closed = true,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Problems of a spec with these steps after a handshake the SUT
    /// accepts through `listen`, closing first into TIME-WAIT.
    fn problems(listen: &str, tail: &str) -> Vec<String> {
        let text = format!(
            "name: t\ndescription: d\nrole: new-incarnation-listener\nmsl: 30s\nmodel: {{pass: [linux]}}\nsteps:\n\
             - app: {listen}\n- inject: {{flags: S, seq: 0}}\n- expect: {{flags: SA, seq: 0, ack: 1}}\n\
             - inject: {{flags: A, seq: 1, ack: 1}}\n- app: accept\n- app: close\n\
             - expect: {{flags: FA, seq: 1, ack: 1}}\n- inject: {{flags: FA, seq: 1, ack: 2}}\n\
             - expect: {{flags: A, seq: 2, ack: 2}}\n{tail}"
        );
        match crate::load::load_str(Path::new("t.yaml"), &text) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
        }
    }

    const NEXT: &str = "- incarnation: {peer-isn: 100000}\n- inject: {flags: S, seq: 0}\n\
                        - expect: {flags: SA, seq: 0, ack: 1}\n- inject: {flags: A, seq: 1, ack: 1}\n";

    #[test]
    fn a_later_incarnation_accepts_from_the_persistent_listener_without_a_new_listen() {
        let tail = format!("{NEXT}- app: accept\n- app: close\n- app: close-listener\n");
        assert_eq!(problems("listen-persistent", &tail), Vec::<String>::new());
    }

    #[test]
    fn a_later_incarnation_needs_a_new_listen_after_a_one_shot_listener() {
        let tail = format!("{NEXT}- app: accept\n");
        assert_eq!(
            problems("listen", &tail),
            ["t.yaml:3:7: role new-incarnation-listener does not fit the steps: the SUT must `listen` after an `incarnation` marker (or `accept` from a persistent listener)",
             "t.yaml:20:3: accept without listen in this incarnation"]
        );
    }

    #[test]
    fn a_second_accept_in_one_incarnation_is_refused_with_a_persistent_listener_too() {
        let got = problems("listen-persistent", "- app: accept\n");
        assert_eq!(
            got.last().map(String::as_str),
            Some("t.yaml:16:3: accept called twice; the SUT takes one connection per incarnation")
        );
    }

    #[test]
    fn flag_letters_take_the_article_of_their_spoken_names() {
        let f = |s| article(Flags::parse(s).expect("flags"));
        assert_eq!(f("A"), "an");
        assert_eq!(f("FA"), "an");
        assert_eq!(f("SA"), "an");
        assert_eq!(f("R"), "an");
        assert_eq!(f("PA"), "a");
    }
}
