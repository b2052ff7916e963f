//! Spec -> packetdrill script, one that a Linux developer runs with
//! packetdrill unchanged: packetdrill's socket calls and segment syntax,
//! its default addresses and ports (the script names none: packetdrill
//! fills in 192.168.0.1 and 192.0.2.1, port 8080), `--tolerance_usecs` set
//! to the spec's tolerance and the profile as one `sysctl` line.
//!
//! Numbers are written as packetdrill reads them (see `import.rs`): the
//! peer's first ISN is 0 on the wire, a SYN's sequence number is absolute,
//! every other number counts from the socket's ISNs. Steps packetdrill
//! cannot express are kept as `// timewait: STEP` comments, which
//! packetdrill skips and `specs import` reads back, and are listed in
//! [`Exported::not_exported`] with the reason. Once a step that changes
//! the connection cannot be expressed, the rest of the script is kept the
//! same way: packetdrill would run on from the wrong state.

use super::parse::{HEADER, HINT};
use crate::emit;
use crate::format::{App, Expect, Inject, Spec, Step, TcpOptions};
use crate::values::Duration;
use crate::values::{Flags, SeqValue, SutIsn};
use std::collections::HashMap;
use std::fmt::Write;

/// The script, and the steps packetdrill will not run.
#[derive(Clone, Debug)]
pub struct Exported {
    pub script: String,
    pub not_exported: Vec<NotExported>,
}

/// A step kept as a comment only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotExported {
    /// 1-based index of the step.
    pub step: usize,
    /// The step's place in the spec file (0 when the spec was not read from one).
    pub line: u64,
    pub column: u64,
    pub kind: &'static str,
    /// A short name for the reason, the same for every step kept for it
    /// (`rest:KEY` for the steps after one that stopped the export).
    pub key: String,
    pub why: String,
}

#[derive(Clone, Copy, Debug)]
struct Space {
    inc: u32,
    peer_isn: Option<u32>,
    sut_known: bool,
}

struct Exporter<'a> {
    spec: &'a Spec,
    out: String,
    not_exported: Vec<NotExported>,
    next_fd: i64,
    listener: Option<i64>,
    /// `listener` stays open after each accept (`listen-persistent`):
    /// packetdrill's fd 3, closed only by `close-listener`.
    persistent: bool,
    /// A listener whose SYN has not arrived yet.
    awaiting_syn: bool,
    /// The first listener, left open at accept because the spec listens
    /// again at this step (for a SYN on the same 4-tuple).
    kept_for: Option<(usize, i64)>,
    conn: Option<i64>,
    had_connection: bool,
    inc: u32,
    /// Each incarnation's peer ISN on packetdrill's wire (incarnation 1's is 0).
    peer_isn: Vec<Option<u32>>,
    space: Option<Space>,
    /// Where each incarnation's SUT ISN lies in the numbers packetdrill
    /// counts the socket under test's from (0 at its first SYN), for the
    /// incarnations that socket carries: a SYN that reopens TIME-WAIT on
    /// packetdrill's old socket keeps its numbers, so the new ISN is
    /// written, and checked, in them.
    sut_at: HashMap<u32, u32>,
    /// One past the highest of those numbers the SUT sent in each
    /// incarnation: its SND.NXT, which `sut-isn: {snd-nxt: N}` counts from.
    snd_nxt: HashMap<u32, u32>,
    /// An outbound segment of the socket under test has its TSval written
    /// (as 0). packetdrill sends an inbound segment's TSecr only as the
    /// live TSval of an outbound one whose script value it names, so an
    /// echo needs one.
    ts_val_written: bool,
    /// Why the export stopped: the reason's key and text.
    poisoned: Option<(String, String)>,
    /// The peer's bytes the connection has received in order (the highest
    /// end of its data, relative to the peer's ISN) and those read.
    received: u32,
    read: u32,
    peer_fin: bool,
    /// Microseconds since the last event line, spent in steps kept as comments.
    pending_us: u64,
    step: usize,
}

/// Writes `spec` as a packetdrill script; `source` names the spec file in
/// the script's first comment.
pub fn export(spec: &Spec, source: &str) -> Exported {
    let mut x = Exporter {
        spec,
        out: String::new(),
        not_exported: Vec::new(),
        next_fd: 3,
        listener: None,
        persistent: false,
        awaiting_syn: false,
        kept_for: None,
        conn: None,
        had_connection: false,
        inc: 1,
        peer_isn: vec![Some(0)],
        space: None,
        sut_at: HashMap::new(),
        snd_nxt: HashMap::new(),
        ts_val_written: false,
        poisoned: None,
        received: 0,
        read: 0,
        peer_fin: false,
        pending_us: 0,
        step: 0,
    };
    x.header(source);
    for (i, s) in spec.steps.iter().enumerate() {
        x.step = i;
        x.one(&s.value);
    }
    Exported {
        script: x.out,
        not_exported: x.not_exported,
    }
}

/// `text`'s words in lines of at most `width` characters (a longer word
/// gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.lines() {
        let mut cur = String::new();
        for w in para.split_whitespace() {
            if !cur.is_empty() && cur.len() + 1 + w.len() > width {
                lines.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(w);
        }
        lines.push(cur);
    }
    lines
}

/// `+0.25`-style relative time.
fn time(us: u64) -> String {
    let (s, frac) = (us / 1_000_000, us % 1_000_000);
    if frac == 0 {
        format!("+{s}")
    } else {
        let f = format!("{frac:06}");
        format!("+{s}.{}", f.trim_end_matches('0'))
    }
}

fn flags(f: Flags) -> String {
    let mut s = String::new();
    for (c, bit) in [
        ('S', Flags::SYN),
        ('F', Flags::FIN),
        ('R', Flags::RST),
        ('P', Flags::PSH),
    ] {
        if f.has(bit) {
            s.push(c);
        }
    }
    if f.has(Flags::ACK) {
        s.push('.');
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

/// Options in the order Linux sends them, padded with NOPs to 32-bit words.
fn options(o: &TcpOptions) -> String {
    let mut v: Vec<String> = Vec::new();
    if let Some(m) = o.mss {
        v.push(format!("mss {m}"));
    }
    match (o.sack_ok, o.ts) {
        (true, Some(t)) => v.push(format!("sackOK,TS val {} ecr {}", t.val, t.ecr)),
        (false, Some(t)) => v.push(format!("nop,nop,TS val {} ecr {}", t.val, t.ecr)),
        (true, None) => v.push("nop,nop,sackOK".into()),
        (false, None) => {}
    }
    if let Some(w) = o.wscale {
        v.push(format!("nop,wscale {w}"));
    }
    if v.is_empty() {
        String::new()
    } else {
        format!(" <{}>", v.join(","))
    }
}

/// An `expect`'s options as packetdrill's list: the named values (TSval
/// 0, since a spec never pins the SUT's clock), or `<...>` when the spec
/// asks for an option with any value, which packetdrill cannot say. Also
/// whether the list writes a TSval.
fn expect_options(o: &crate::options::ExpectOptions) -> (String, bool) {
    use crate::options::Want;
    fn value<T>(w: Option<Want<T>>) -> Result<Option<T>, ()> {
        match w {
            Some(Want::Is(v)) => Ok(Some(v)),
            None | Some(Want::Absent) => Ok(None),
            Some(Want::Present) => Err(()),
        }
    }
    let (Ok(mss), Ok(wscale), Ok(ts)) = (value(o.mss), value(o.wscale), value(o.ts)) else {
        return (" <...>".into(), false);
    };
    let list = options(&TcpOptions {
        mss,
        wscale,
        sack_ok: matches!(o.sack_ok, Some(Want::Present | Want::Is(_))),
        ts: ts.map(|t: crate::options::EchoedTs| crate::format::Timestamps { val: 0, ecr: t.ecr }),
        other: Vec::new(),
    });
    (list, ts.is_some())
}

impl Exporter<'_> {
    fn header(&mut self, source: &str) {
        let s = self.spec;
        let _ = writeln!(
            self.out,
            "// {}: exported by `timewait specs export --packetdrill` from {source}.",
            s.name.value
        );
        for line in wrap(&s.description, 76) {
            let _ = writeln!(self.out, "// {line}");
        }
        self.out.push_str(
            "//\n// Run as root, in a network namespace of its own: packetdrill FILE.pkt\n\
             // Steps packetdrill cannot run are kept as `// timewait:` comments;\n\
             // `timewait specs import` reads them back.\n",
        );
        let mut h = vec![
            format!("name: {}", s.name.value),
            format!("role: {}", s.role.value.name()),
            format!("msl: {}", s.msl.value),
        ];
        if let Some(tw) = &s.time_wait {
            h.push(format!("time-wait: {}", tw.value));
        }
        if let Some(p) = s.peer_isn {
            h.push(format!("peer-isn: {p}"));
        }
        let _ = writeln!(self.out, "{HEADER} {{{}}}", h.join(", "));
        let tol_us = s.ms(s.tolerance()) * 1000;
        let _ = writeln!(self.out, "--tolerance_usecs={}", tol_us.max(1));
        let sysctls = s.profile().sysctls();
        if !sysctls.is_empty() {
            let parts: Vec<String> = sysctls
                .iter()
                .map(|(k, v)| format!("net.ipv4.{k}={v}"))
                .collect();
            let _ = writeln!(self.out, "\n`sysctl -q {}`", parts.join(" "));
        }
        self.out.push('\n');
    }

    fn ms_us(&self, d: crate::values::Duration) -> u64 {
        self.spec.ms(d).saturating_mul(1000)
    }

    /// An event line after the time spent since the previous one.
    fn event(&mut self, what: &str) {
        let t = time(self.pending_us);
        self.pending_us = 0;
        let _ = writeln!(self.out, "{t:>6} {what}");
    }

    fn hint(&mut self, s: &Step) {
        let _ = writeln!(self.out, "{HINT} {}", emit::step(s));
    }

    /// Keeps `s` as a comment and records why packetdrill will not run it.
    fn keep(&mut self, s: &Step, key: &str, why: impl Into<String>) {
        self.hint(s);
        let at = &self.spec.steps[self.step].referenced;
        self.not_exported.push(NotExported {
            step: self.step + 1,
            line: at.line(),
            column: at.column(),
            kind: s.kind(),
            key: key.to_string(),
            why: why.into(),
        });
        match s {
            Step::Wait(d) => self.pending_us = self.pending_us.saturating_add(self.ms_us(*d)),
            Step::ExpectNone(e) => self.pending_us += self.ms_us(e.duration),
            _ => {}
        }
    }

    /// Keeps `s` and every later step as comments.
    fn poison(&mut self, s: &Step, key: &str, why: impl Into<String>) {
        let why = why.into();
        self.keep(s, key, why.clone());
        self.poisoned = Some((
            format!("rest:{key}"),
            format!(
                "follows step {}, which packetdrill cannot run: {why}",
                self.step + 1
            ),
        ));
    }

    /// A new socket under test: packetdrill counts its numbers afresh.
    fn new_space(&mut self) {
        self.sut_at.clear();
        self.snd_nxt.clear();
        self.ts_val_written = false;
    }

    fn new_fd(&mut self) -> i64 {
        let fd = self.next_fd;
        self.next_fd += 1;
        fd
    }

    fn one(&mut self, s: &Step) {
        if let Some((key, why)) = self.poisoned.clone() {
            self.keep(s, &key, why);
            return;
        }
        match s {
            Step::Wait(d) => {
                // Exported as the next event's time; the comment tells the
                // importer it was a wait.
                self.hint(s);
                self.pending_us += self.ms_us(*d);
            }
            Step::Note(_) => self.hint(s),
            Step::ExpectNone(_) => self.keep(
                s,
                "silence",
                "packetdrill checks only the segments a script names; it cannot require silence",
            ),
            Step::ExpectState(_) => self.keep(
                s,
                "state",
                "packetdrill cannot read a connection's TCP state (a socket in TIME-WAIT has no file descriptor)",
            ),
            Step::Incarnation(m) => {
                self.hint(s);
                let prev = self.peer_isn.last().copied().flatten();
                let next = match (m.peer_isn, prev) {
                    (SeqValue::Rel(_), Some(p)) => Some(m.peer_isn.resolve(p)),
                    _ => None,
                };
                self.peer_isn.push(next);
                // A stated SUT ISN on the same socket: where it lies in
                // that socket's numbers.
                let prev = self.inc;
                let at = match m.sut_isn {
                    Some(SutIsn::SndNxt(d)) => self.snd_nxt.get(&prev).map(|n| n.wrapping_add(d as i32 as u32)),
                    Some(SutIsn::Seq(SeqValue::Rel(r))) => {
                        self.sut_at.get(&prev).map(|a| a.wrapping_add(r as i32 as u32))
                    }
                    Some(SutIsn::Seq(SeqValue::Abs(_))) | None => None,
                };
                self.inc += 1;
                if let Some(at) = at {
                    self.sut_at.insert(self.inc, at);
                }
            }
            Step::App(a) => self.app(s, *a, false),
            Step::AppRefused(a) => self.app(s, *a, true),
            Step::Inject(i) => self.inject(s, i),
            Step::Expect(e) => self.expect(s, e),
        }
    }

    fn app(&mut self, s: &Step, a: App, refused: bool) {
        match (a, refused) {
            (App::Listen | App::ListenPersistent, false) => {
                if let Some((_, fd)) = self
                    .kept_for
                    .filter(|(k, _)| a == App::Listen && *k == self.step)
                {
                    // packetdrill's first listener is still open: the SYN
                    // reaches the old connection's socket, on its 4-tuple.
                    self.kept_for = None;
                    // The spec's next accept takes from it.
                    self.listener = Some(fd);
                    return self.hint(s);
                }
                if self.had_connection {
                    return self.poison(
                        s,
                        "later-listener",
                        "not supported yet: a listener for a later incarnation; packetdrill gives a SYN to a new listener \
                         a new remote port (another 4-tuple), and a spec cannot keep its first listener open across \
                         accepts yet",
                    );
                }
                let fd = self.new_fd();
                self.event(&format!("socket(..., SOCK_STREAM, IPPROTO_TCP) = {fd}"));
                self.event(&format!(
                    "setsockopt({fd}, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0"
                ));
                self.event(&format!("bind({fd}, ..., ...) = 0"));
                self.event(&format!("listen({fd}, 1) = 0"));
                self.listener = Some(fd);
                self.persistent = a == App::ListenPersistent;
                self.awaiting_syn = true;
            }
            (App::Accept, false) => {
                let l = if self.persistent {
                    self.listener
                } else {
                    self.listener.take()
                };
                let Some(l) = l else {
                    return self.poison(s, "no-listener", "accept without a listener");
                };
                let fd = self.new_fd();
                self.event(&format!("accept({l}, ..., ...) = {fd}"));
                self.conn = Some(fd);
                self.received = 0;
                self.read = 0;
                self.peer_fin = false;
                if self.persistent {
                    // The listener stays open: packetdrill's fd 3 is not
                    // closed after accept (the importer reads that back as
                    // `listen-persistent`).
                    return;
                }
                match self.relisten() {
                    // A spec cannot keep its listener open across accepts
                    // yet; packetdrill can. Where the spec listens again
                    // for the next incarnation and no SYN comes before,
                    // the open listener is the same as the spec's second.
                    Some(k) => self.kept_for = Some((k, l)),
                    // The spec's accept closes the listener.
                    None => self.event(&format!("close({l}) = 0")),
                }
            }
            (App::CloseListener, false) => match self.listener {
                Some(l) if self.persistent => {
                    self.event(&format!("close({l}) = 0"));
                    self.listener = None;
                    self.persistent = false;
                }
                _ => self.poison(
                    s,
                    "no-listener",
                    "close-listener without a persistent listener",
                ),
            },
            (App::Connect, _) => {
                let fd = self.new_fd();
                self.event(&format!("socket(..., SOCK_STREAM, IPPROTO_TCP) = {fd}"));
                self.event(&format!(
                    "setsockopt({fd}, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0"
                ));
                self.event(&format!("bind({fd}, ..., ...) = 0"));
                self.event(&format!("fcntl({fd}, F_SETFL, O_RDWR|O_NONBLOCK) = 0"));
                if refused {
                    // What Linux returns for a non-blocking connect on a
                    // 4-tuple it holds in TIME-WAIT (measured with packetdrill).
                    self.event(&format!(
                        "connect({fd}, ..., ...) = -1 EAGAIN (Resource temporarily unavailable)"
                    ));
                } else {
                    self.event(&format!(
                        "connect({fd}, ..., ...) = -1 EINPROGRESS (Operation now in progress)"
                    ));
                    self.conn = Some(fd);
                    self.had_connection = true;
                    self.received = 0;
                    self.read = 0;
                    self.peer_fin = false;
                    self.new_space();
                    self.space = Some(Space {
                        inc: self.inc,
                        peer_isn: None,
                        sut_known: false,
                    });
                }
            }
            (App::Send(n), _) => {
                let Some(c) = self.conn else {
                    return self.poison(s, "no-connection", "send without a connection");
                };
                if refused {
                    self.event(&format!("write({c}, ..., {n}) = -1 EPIPE (Broken pipe)"));
                } else {
                    self.event(&format!("write({c}, ..., {n}) = {n}"));
                }
            }
            (App::Shutdown | App::Close | App::Abort, false) => {
                let Some(c) = self.conn else {
                    return self.poison(s, "no-connection", "close without a connection");
                };
                match a {
                    App::Shutdown => self.event(&format!("shutdown({c}, SHUT_WR) = 0")),
                    App::Close => {
                        // The harness reads what arrived before it closes,
                        // so that Linux does not answer unread data with a
                        // RST (RFC 2525); packetdrill's application must too.
                        let unread = self.received.saturating_sub(self.read);
                        if unread > 0 {
                            self.event(&format!("read({c}, ..., {unread}) = {unread}"));
                            self.read = self.received;
                        }
                        self.event(&format!("close({c}) = 0"))
                    }
                    _ => {
                        self.event(&format!(
                            "setsockopt({c}, SOL_SOCKET, SO_LINGER, {{onoff=1, linger=0}}, 8) = 0"
                        ));
                        self.event(&format!("close({c}) = 0"));
                    }
                }
            }
            _ => self.poison(
                s,
                "refused-call",
                "a refused call other than connect or send has no packetdrill form here",
            ),
        }
    }

    /// The step at which the spec listens again after an incarnation
    /// marker, if no SYN, connect or accept comes before it.
    fn relisten(&self) -> Option<usize> {
        let mut marker = false;
        for (k, st) in self.spec.steps.iter().enumerate().skip(self.step + 1) {
            match &st.value {
                Step::Incarnation(_) => marker = true,
                Step::App(App::Listen) if marker => return Some(k),
                Step::App(App::Listen | App::Connect | App::Accept)
                | Step::AppRefused(App::Connect) => return None,
                Step::Inject(i) if i.flags.has(Flags::SYN) => return None,
                _ => {}
            }
        }
        None
    }

    fn peer_abs(&self, inc: u32, v: SeqValue) -> Option<u32> {
        match v {
            // Incarnations count from 1; an unvalidated 0 has no ISN.
            SeqValue::Rel(_) => (inc as usize)
                .checked_sub(1)
                .and_then(|i| self.peer_isn.get(i))
                .copied()
                .flatten()
                .map(|b| v.resolve(b)),
            SeqValue::Abs(_) => None,
        }
    }

    fn inject(&mut self, s: &Step, i: &Inject) {
        let j = i.incarnation.unwrap_or(self.inc);
        let Some(abs) = self.peer_abs(j, i.seq) else {
            return self.poison(s, "absolute-number", "an absolute number or an absolute ISN: packetdrill writes the peer's numbers from its ISN");
        };
        let syn = i.flags.has(Flags::SYN);
        let ack_flag = i.flags.has(Flags::ACK);
        let seq = if syn && !ack_flag {
            if self.awaiting_syn {
                self.awaiting_syn = false;
                self.had_connection = true;
                self.new_space();
                self.space = Some(Space {
                    inc: self.inc,
                    peer_isn: Some(abs),
                    sut_known: false,
                });
            } else if self.space.is_none() {
                return self.poison(s, "no-connection", "a SYN with no socket to receive it");
            }
            abs
        } else {
            let Some(mut space) = self.space else {
                return self.poison(s, "no-connection", "a segment before any connection");
            };
            if syn {
                space.peer_isn = Some(abs);
                self.space = Some(space);
                abs
            } else {
                let Some(p) = space.peer_isn else {
                    return self.poison(s, "no-connection", "a segment before the peer's SYN");
                };
                abs.wrapping_sub(p)
            }
        };
        let ack = match (i.ack, self.space) {
            (None, _) => String::new(),
            (Some(SeqValue::Rel(a)), Some(_)) if self.sut_at.contains_key(&j) => {
                let at = self.sut_at.get(&j).copied().unwrap_or(0);
                format!(" ack {}", at.wrapping_add(a as i32 as u32))
            }
            _ => {
                return self.poison(
                    s,
                    "ack-other-incarnation",
                    "an ack in numbers packetdrill does not know: it counts the SUT's numbers from this socket's ISN only",
                )
            }
        };
        // Data after the peer's FIN is never delivered to the application.
        if i.len > 0 && !self.peer_fin && self.space.is_some_and(|sp| sp.inc == j) {
            if let SeqValue::Rel(r) = i.seq {
                let end = (r.max(1) as u32).saturating_add(u32::from(i.len)) - 1;
                self.received = self.received.max(end);
            }
        }
        if i.flags.has(Flags::FIN) && self.space.is_some_and(|sp| sp.inc == j) {
            self.peer_fin = true;
        }
        // packetdrill writes an inbound TSecr as the live TSval of the
        // outbound segment whose script TSval it names; the export names
        // every outbound TSval 0, so the echo is of the SUT's latest.
        let mut opts = i.options.clone();
        if let (Some(ts), true) = (&mut opts.ts, ack_flag) {
            if !self.ts_val_written {
                return self.poison(
                    s,
                    "ts-echo",
                    "a TSecr on a segment with ACK before any outbound segment whose TSval the spec names: \
                     packetdrill sends an echo only of a TSval the script wrote (state the SUT's options with \
                     `ts: {ecr: N}` and `exact: true` to write one)",
                );
            }
            ts.ecr = 0;
        }
        let win = i.win.unwrap_or(crate::format::defaults::WINDOW);
        let end = seq.wrapping_add(u32::from(i.len));
        let line = format!(
            "< {} {seq}:{end}({}){ack} win {win}{}",
            flags(i.flags),
            i.len,
            options(&opts)
        );
        self.event(&line);
    }

    fn expect(&mut self, s: &Step, e: &Expect) {
        if e.tolerance.is_some() {
            return self.keep(
                s,
                "step-tolerance",
                "a step's own tolerance: packetdrill has one per script",
            );
        }
        let j = e.incarnation.unwrap_or(self.inc);
        let Some(mut space) = self.space else {
            return self.poison(s, "no-connection", "a segment before any connection");
        };
        let syn = e.flags.has(Flags::SYN);
        let Some(SeqValue::Rel(r)) = e.seq else {
            return self.keep(
                s,
                "unchecked-seq",
                "packetdrill checks every segment's sequence number, relative to the ISN",
            );
        };
        let seq = if syn && !space.sut_known {
            if j != space.inc || r != 0 {
                return self.poison(
                    s,
                    "isn-other-incarnation",
                    "not supported yet: the SUT's ISN written relative to another incarnation (Linux reuses a 4-tuple \
                     with old SND.NXT + 65537); packetdrill learns a new socket's ISN from its SYN and cannot check it",
                );
            }
            space.sut_known = true;
            self.space = Some(space);
            self.sut_at.insert(j, 0);
            0
        } else if let Some(at) = self.sut_at.get(&j) {
            at.wrapping_add(r as i32 as u32)
        } else {
            return self.poison(
                s,
                "reopened-isn",
                "the SUT's numbers in a new incarnation that reopened TIME-WAIT on packetdrill's old socket, which \
                 checks them in the old connection's numbers: the spec must state the new ISN (`sut-isn`, Linux: \
                 {snd-nxt: 65537})",
            );
        };
        let ack = match e.ack {
            None if e.flags.has(Flags::ACK) => {
                return self.keep(
                    s,
                    "unchecked-ack",
                    "packetdrill checks the ack number of every segment with ACK",
                );
            }
            None => String::new(),
            Some(SeqValue::Abs(_)) => {
                return self.poison(
                    s,
                    "absolute-number",
                    "an absolute number: packetdrill writes numbers from the ISNs",
                )
            }
            Some(v) => {
                let Some(abs) = self.peer_abs(j, v) else {
                    return self.poison(
                        s,
                        "absolute-number",
                        "an ack in an incarnation whose peer ISN is absolute",
                    );
                };
                if syn {
                    format!(" ack {abs}")
                } else {
                    let Some(p) = space.peer_isn else {
                        return self.poison(s, "no-connection", "an ack before the peer's SYN");
                    };
                    format!(" ack {}", abs.wrapping_sub(p))
                }
            }
        };
        let len = e.len.unwrap_or(0);
        let end = seq.wrapping_add(u32::from(len));
        if !e.flags.has(Flags::RST) {
            let next = end
                .wrapping_add(u32::from(syn))
                .wrapping_add(u32::from(e.flags.has(Flags::FIN)));
            let n = self.snd_nxt.entry(j).or_insert(next);
            if (next.wrapping_sub(*n) as i32) > 0 {
                *n = next;
            }
        }
        let win = e.win.map_or(String::new(), |w| format!(" win {w}"));
        let opts = match &e.options {
            None => " <...>".to_string(),
            Some(o) => {
                let (list, ts) = expect_options(o);
                self.ts_val_written |= ts;
                list
            }
        };
        let after = e.after.map_or(0, |d| self.ms_us(d));
        let p = self.pending_us;
        let when = match e.within.map(|d| self.ms_us(d)) {
            Some(w) if w != after => format!("{}~{}", time(p + after), time(p + w)),
            _ => time(p + after),
        };
        self.pending_us = 0;
        // Linux pushes the last segment of every write; the format never
        // decides a match on PSH, packetdrill always does.
        let f = if len > 0 {
            e.flags.union(Flags::PSH)
        } else {
            e.flags
        };
        let _ = writeln!(
            self.out,
            "{when:>6} > {} {seq}:{end}({len}){ack}{win}{opts}",
            flags(f)
        );
    }
}

/// A step with what packetdrill cannot keep apart made equal: durations in
/// milliseconds (packetdrill has no `msl` or `tw` unit), an inject's window
/// given (packetdrill needs one; the format's default is 65535), an
/// expect's payload length given (packetdrill always checks it; unchecked
/// is written as 0), and an expect's PSH dropped (the format never decides
/// a match on it; the export sets it on data, as Linux does).
pub fn normalised(spec: &Spec, s: &Step) -> Step {
    let ms = |d: Duration| Duration::ms(spec.ms(d));
    match s {
        Step::Wait(d) => Step::Wait(ms(*d)),
        Step::ExpectNone(e) => {
            let mut e = e.clone();
            e.duration = ms(e.duration);
            Step::ExpectNone(e)
        }
        Step::ExpectState(e) => {
            let mut e = e.clone();
            if let Some(r) = &mut e.remaining {
                r.min = ms(r.min);
                r.max = ms(r.max);
            }
            e.tolerance = e.tolerance.map(ms);
            Step::ExpectState(e)
        }
        Step::Inject(i) => Step::Inject(Inject {
            win: Some(i.win.unwrap_or(crate::format::defaults::WINDOW)),
            ..i.clone()
        }),
        Step::Expect(e) => Step::Expect(Expect {
            flags: e.flags.without_psh(),
            len: Some(e.len.unwrap_or(0)),
            after: e.after.map(ms),
            within: e.within.map(ms),
            tolerance: e.tolerance.map(ms),
            ..e.clone()
        }),
        other => other.clone(),
    }
}

/// The index of the first step where `a` and `b` differ beyond what
/// [`normalised`] makes equal (the shorter one's length when one is a
/// prefix of the other), or `None` when they are the same.
pub fn first_difference(a: &Spec, b: &Spec) -> Option<usize> {
    let x: Vec<Step> = a.steps.iter().map(|s| normalised(a, &s.value)).collect();
    let y: Vec<Step> = b.steps.iter().map(|s| normalised(b, &s.value)).collect();
    if x == y {
        return None;
    }
    Some(
        x.iter()
            .zip(&y)
            .position(|(p, q)| p != q)
            .unwrap_or(x.len().min(y.len())),
    )
}
