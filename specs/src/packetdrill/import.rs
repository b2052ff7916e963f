//! packetdrill script -> spec. Walks the parsed lines in order, keeping
//! what packetdrill keeps (the file descriptors, which socket is under
//! test, the ISNs each socket's numbers count from, the script clock) and
//! turns each line into steps. Every line it cannot translate becomes a
//! diagnostic saying why, and the walk goes on, so one run reports them all.
//!
//! Numbering follows packetdrill (`run_packet.c`, `socket.h`): a SYN's
//! sequence number is absolute, every other inbound one counts from the
//! socket's first inbound SYN; the SUT's numbers count from the ISN of the
//! socket's first SYN; an outbound SYN's ACK is absolute. A SYN that
//! reaches a connection still on the 4-tuple (TIME-WAIT) starts a new
//! incarnation whose segments packetdrill keeps writing in the old
//! socket's numbers, which the spec says with `incarnation: N`.

use super::parse::{self, Action, Dir, Expr, Item, ItemKind, Opt, Packet, Syscall, Time};
use crate::diag::Diagnostic;
use crate::format::{
    App, Expect, Incarnation, Inject, ModelVerdicts, Profile, Role, Spec, Step, TcpOptions,
    Timestamps, VariantName,
};
use crate::values::{Duration, Flags, SeqValue, SutIsn, Unit};
use crate::{oracle, validate};
use serde_saphyr::{Location, Spanned};
use std::collections::HashMap;
use std::path::Path;

/// A translated script: the spec, and what it does not say although the
/// script does (located notes, printed as warnings).
#[derive(Clone, Debug)]
pub struct Imported {
    pub spec: Spec,
    pub warnings: Vec<Diagnostic>,
}

/// The MSL an imported spec assumes (Linux's TIME-WAIT of 60 s is 2 MSL).
const MSL_MS: u64 = 30_000;

fn sp<T>(v: T) -> Spanned<T> {
    Spanned::new(v, Location::UNKNOWN, Location::UNKNOWN)
}

/// The header fields a `// timewait-spec:` comment keeps.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Header {
    name: Option<String>,
    role: Option<Role>,
    msl: Option<Duration>,
    time_wait: Option<Duration>,
    peer_isn: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fd {
    /// `socket()` done, nothing else.
    New {
        linger0: bool,
    },
    Listener {
        accepted: bool,
    },
    Conn {
        linger0: bool,
    },
    Closed,
}

/// One segment line of the script: where it is, and its header fields as
/// packetdrill reads them (numbers in the script's own count).
#[derive(Clone, Copy, Debug)]
struct Wire {
    line: usize,
    col: usize,
    flags: Flags,
    seq: u32,
    ack: Option<u32>,
    len: u16,
    win: Option<u16>,
}

/// The numbers of the socket under test: which incarnation its SUT ISN
/// belongs to (once its first SYN is seen) and the wire ISN its peer
/// numbers count from.
#[derive(Clone, Copy, Debug)]
struct Space {
    inc: u32,
    sut_known: bool,
    /// The sequence number the script wrote on the SUT's first SYN, which
    /// packetdrill maps the real ISN to (for SYN segments only).
    sut_script_isn: u32,
    peer_isn: Option<u32>,
    /// Where the SUT ISN of incarnation `inc` lies in the socket's numbers
    /// (0 for its first): a SYN that reopens TIME-WAIT reaches
    /// packetdrill's old socket, which goes on counting from the first.
    sut_at: u32,
    /// One past the highest of those numbers the SUT sent in `inc`: its
    /// SND.NXT, which the next incarnation's stated ISN counts from.
    snd_nxt: Option<u32>,
}

struct Importer<'a> {
    file: &'a Path,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    steps: Vec<Step>,
    profile: Profile,
    profile_set: bool,
    tolerance: Option<Duration>,
    header: Header,
    fds: HashMap<i64, Fd>,
    /// The socket under test is a listener waiting for its SYN.
    listening: Option<i64>,
    /// The connection under test.
    space: Option<Space>,
    /// A connection has existed (later ones are new incarnations).
    had_connection: bool,
    /// Current spec incarnation (1-based) and each one's peer ISN on the wire.
    inc: u32,
    peer_isn: Vec<Option<u32>>,
    /// An `incarnation` hint opened the current incarnation and nothing has
    /// used it yet.
    hinted_marker: bool,
    /// A `listen` hint: the spec listens again, which packetdrill's open
    /// first listener stands for.
    relisten: bool,
    /// The peer's SYN of the current incarnation has been seen (a second
    /// one with the same number is its retransmission).
    syn_seen: bool,
    /// Index of an `incarnation` step whose peer ISN comes with the SYN-ACK.
    pending_marker: Option<usize>,
    /// Script time of the previous event, and the time taken by hinted
    /// steps since (microseconds).
    prev_us: u64,
    hinted_us: u64,
    seen_event: bool,
    /// Each listener fd's `listen` step, and the step count right after
    /// its last accept: a listener still open later (it accepts again, a
    /// SYN meets it, or it is closed after other steps) is a persistent one.
    listen_at: HashMap<i64, (usize, usize)>,
}

/// Translates `text` (read from `file`) into a spec named `name`. Errors
/// are every construct that could not be translated, each located.
pub fn import_str(file: &Path, text: &str, name: &str) -> Result<Imported, Vec<Diagnostic>> {
    let (items, syntax) = parse::script(text);
    let mut im = Importer {
        file,
        errors: syntax
            .into_iter()
            .map(|e| {
                Diagnostic::new(
                    file,
                    e.line as u64,
                    e.column as u64,
                    format!("cannot read this line: {}", e.message),
                )
            })
            .collect(),
        warnings: Vec::new(),
        steps: Vec::new(),
        profile: Profile::default(),
        profile_set: false,
        tolerance: None,
        header: Header::default(),
        fds: HashMap::new(),
        listening: None,
        space: None,
        had_connection: false,
        inc: 1,
        // packetdrill's first peer ISN is 0 on the wire: a first SYN at 100
        // is at ISN + 100, and `. 1:1(0)` after it is 101.
        peer_isn: vec![Some(0)],
        hinted_marker: false,
        relisten: false,
        syn_seen: false,
        pending_marker: None,
        prev_us: 0,
        hinted_us: 0,
        seen_event: false,
        listen_at: HashMap::new(),
    };
    for item in &items {
        im.item(item);
    }
    if im.steps.is_empty() && im.errors.is_empty() {
        im.errors.push(Diagnostic::new(
            file,
            1,
            1,
            "cannot translate an empty script: no socket call or segment",
        ));
    }
    im.errors.sort_by_key(|d| (d.line, d.column));
    if !im.errors.is_empty() {
        return Err(im.errors);
    }
    let spec = im.spec(name);
    Ok(Imported {
        spec,
        warnings: im.warnings,
    })
}

impl Importer<'_> {
    fn err(&mut self, line: usize, column: usize, what: &str, why: impl AsRef<str>) {
        self.errors.push(Diagnostic::new(
            self.file,
            line as u64,
            column as u64,
            format!("cannot translate {what}: {}", why.as_ref()),
        ));
    }

    fn msl_ms(&self) -> u64 {
        self.header
            .msl
            .map_or(MSL_MS, |d| d.to_ms(MSL_MS, 2 * MSL_MS).max(1))
    }

    fn tw_ms(&self) -> u64 {
        let msl = self.msl_ms();
        self.header
            .time_wait
            .map_or(2 * msl, |d| d.to_ms(msl, 2 * msl))
    }

    fn item(&mut self, item: &Item) {
        let (line, col) = (item.line, item.column);
        match &item.kind {
            ItemKind::Option { name, value } => self.option(line, col, name, value.as_deref()),
            ItemKind::InitCommand(c) => self.command(line, col, c),
            ItemKind::Header(yaml) => match serde_saphyr::from_str::<Header>(yaml) {
                Ok(h) => self.header = h,
                Err(e) => self.err(line, col, "the timewait-spec comment", e.to_string()),
            },
            ItemKind::Hint(yaml) => match serde_saphyr::from_str::<Step>(yaml) {
                Ok(step) => self.hint(step),
                Err(e) => self.err(line, col, "the timewait comment", e.to_string()),
            },
            ItemKind::Event { time, action } => self.event(line, col, *time, action),
        }
    }

    fn option(&mut self, line: usize, col: usize, name: &str, value: Option<&str>) {
        if self.seen_event {
            self.err(
                line,
                col,
                "an option after the first event",
                "packetdrill reads options only at the top",
            );
            return;
        }
        match (name, value) {
            ("tolerance_usecs", Some(v)) => match v.parse::<u64>() {
                Ok(us) if us > 0 => self.tolerance = Some(micros(us)),
                _ => self.err(line, col, "--tolerance_usecs", format!("{v:?} is not a positive number of microseconds")),
            },
            ("ip_version", Some("ipv4")) => {}
            _ => self.err(
                line,
                col,
                &format!("option --{name}"),
                "only --tolerance_usecs (the spec's tolerance) and --ip_version=ipv4 have a spec equivalent",
            ),
        }
    }

    /// A shell command: the profile's sysctls, before the first step.
    fn command(&mut self, line: usize, col: usize, cmd: &str) {
        if !self.steps.is_empty() {
            self.err(
                line,
                col,
                "a shell command after the first step",
                "a spec's profile holds for the whole run, so sysctls must come before any call or segment",
            );
            return;
        }
        for part in cmd.split([';', '\n']).flat_map(|p| p.split("&&")) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let words: Vec<&str> = part.split_whitespace().collect();
            if words.first() == Some(&"sysctl") {
                let mut any = false;
                for w in words.iter().skip(1).filter(|w| !w.starts_with('-')) {
                    any = true;
                    match w.split_once('=') {
                        Some((k, v)) => self.sysctl(line, col, k, v),
                        None => self.err(
                            line,
                            col,
                            &format!("`sysctl {w}`"),
                            "it reads a sysctl; only settings translate",
                        ),
                    }
                }
                if !any {
                    self.err(
                        line,
                        col,
                        "`sysctl` without a setting",
                        "expected net.ipv4.NAME=VALUE",
                    );
                }
            } else if let (Some(&"echo"), Some(&">")) = (words.first(), words.get(2)) {
                match (
                    words.get(1),
                    words.get(3).and_then(|p| p.strip_prefix("/proc/sys/")),
                ) {
                    (Some(v), Some(path)) if words.len() == 4 => {
                        let key = path.replace('/', ".");
                        self.sysctl(line, col, &key, v)
                    }
                    _ => self.err(
                        line,
                        col,
                        &format!("shell command `{part}`"),
                        "expected `echo VALUE > /proc/sys/net/ipv4/NAME`",
                    ),
                }
            } else if words.len() == 1 && words[0].ends_with("common/defaults.sh") {
                // packetdrill's gtests/net/common/defaults.sh: of its
                // settings only tcp_timestamps=1 is one of the profile's.
                self.set_profile("tcp_timestamps", 1);
                self.warnings.push(Diagnostic::new(
                    self.file,
                    line as u64,
                    col as u64,
                    "packetdrill's defaults.sh: only net.ipv4.tcp_timestamps=1 is one of the profile's sysctls; \
                     its buffer sizes, congestion control, ECN and SACK settings are not part of the spec",
                ));
            } else {
                self.err(
                    line,
                    col,
                    &format!("shell command `{part}`"),
                    "only `sysctl net.ipv4.NAME=VALUE` (or `echo VALUE > /proc/sys/net/ipv4/NAME`) for one of the profile's sysctls has a spec equivalent",
                );
            }
        }
    }

    fn sysctl(&mut self, line: usize, col: usize, key: &str, value: &str) {
        let value = value.trim_matches(['"', '\'']);
        let Some(name) = key.strip_prefix("net.ipv4.") else {
            self.err(
                line,
                col,
                &format!("sysctl {key}"),
                "the profile holds only net.ipv4.* sysctls",
            );
            return;
        };
        let Ok(v) = value.parse::<u64>() else {
            self.err(
                line,
                col,
                &format!("sysctl {key}={value}"),
                "the profile's sysctls are numbers",
            );
            return;
        };
        if !self.set_profile(name, v) {
            self.err(
                line,
                col,
                &format!("sysctl {key}"),
                "not one of the profile's sysctls (tcp_rfc1337, tcp_timestamps, tcp_max_tw_buckets, \
                 tcp_invalid_ratelimit, tcp_tw_reuse, tcp_fin_timeout, tcp_orphan_retries), or its value is out of range",
            );
        }
    }

    fn set_profile(&mut self, name: &str, v: u64) -> bool {
        let p = &mut self.profile;
        let ok = match name {
            "tcp_rfc1337" => u8::try_from(v).map(|v| p.tcp_rfc1337 = Some(v)).is_ok(),
            "tcp_timestamps" => u8::try_from(v).map(|v| p.tcp_timestamps = Some(v)).is_ok(),
            "tcp_max_tw_buckets" => u32::try_from(v)
                .map(|v| p.tcp_max_tw_buckets = Some(v))
                .is_ok(),
            "tcp_invalid_ratelimit" => u32::try_from(v)
                .map(|v| p.tcp_invalid_ratelimit = Some(v))
                .is_ok(),
            "tcp_tw_reuse" => u8::try_from(v).map(|v| p.tcp_tw_reuse = Some(v)).is_ok(),
            "tcp_fin_timeout" => u32::try_from(v)
                .map(|v| p.tcp_fin_timeout = Some(v))
                .is_ok(),
            "tcp_orphan_retries" => u8::try_from(v)
                .map(|v| p.tcp_orphan_retries = Some(v))
                .is_ok(),
            _ => false,
        };
        self.profile_set |= ok;
        ok
    }

    /// The listener `fd` stays open across accepts: its `listen` step is
    /// `listen-persistent`.
    fn make_persistent(&mut self, fd: i64) {
        if let Some(&(at, _)) = self.listen_at.get(&fd) {
            if let Some(step) = self.steps.get_mut(at) {
                *step = Step::App(App::ListenPersistent);
            }
        }
    }

    /// A step the exporter kept as a comment: taken as it is; its time
    /// passed on packetdrill's clock before the next event.
    fn hint(&mut self, step: Step) {
        let (msl, tw) = (self.msl_ms(), self.tw_ms());
        match &step {
            Step::Wait(d) => {
                self.hinted_us = self
                    .hinted_us
                    .saturating_add(d.to_ms(msl, tw).saturating_mul(1000))
            }
            Step::ExpectNone(e) => {
                self.hinted_us = self
                    .hinted_us
                    .saturating_add(e.duration.to_ms(msl, tw).saturating_mul(1000))
            }
            Step::App(App::Listen) => self.relisten = true,
            Step::Incarnation(m) => {
                let prev = self.peer_isn.last().copied().flatten();
                self.peer_isn.push(match (m.peer_isn, prev) {
                    (SeqValue::Abs(_), _) | (_, None) => None,
                    (v, Some(p)) => Some(v.resolve(p)),
                });
                self.inc += 1;
                self.hinted_marker = true;
                self.syn_seen = false;
            }
            _ => {}
        }
        self.steps.push(step);
    }

    /// Opens a new incarnation for a new connection on the 4-tuple, unless
    /// a hint already did.
    fn new_incarnation(&mut self, peer_isn: Option<u32>) -> Option<usize> {
        if self.hinted_marker {
            self.hinted_marker = false;
            return None;
        }
        let prev = self.peer_isn.last().copied().flatten().unwrap_or(0);
        let rel = peer_isn.map_or(0, |p| i64::from(p.wrapping_sub(prev) as i32));
        self.steps.push(Step::Incarnation(Incarnation {
            peer_isn: SeqValue::Rel(rel),
            sut_isn: None,
        }));
        self.peer_isn.push(peer_isn);
        self.inc += 1;
        self.syn_seen = false;
        Some(self.steps.len() - 1)
    }

    fn event(&mut self, line: usize, col: usize, time: Time, action: &Action) {
        self.seen_event = true;
        let outbound = matches!(action, Action::Packet(p) if p.dir == Dir::Out);
        let (start, end) = match time {
            Time::Rel(d) => (self.prev_us.saturating_add(d), None),
            Time::Abs(t) => (t, None),
            Time::RelRange(a, b) => (
                self.prev_us.saturating_add(a),
                Some(self.prev_us.saturating_add(b)),
            ),
            Time::AbsRange(a, b) => (a, Some(b)),
            Time::Any => {
                self.err(
                    line,
                    col,
                    "the time `*`",
                    "a spec gives every step a time (use `+0~+T` for a window)",
                );
                return;
            }
        };
        if end.is_some() && !outbound {
            self.err(
                line,
                col,
                "a time range",
                "packetdrill allows ranges only on outbound segments",
            );
            return;
        }
        if start < self.prev_us {
            self.err(
                line,
                col,
                "a time before the previous event's",
                "events must be in time order",
            );
            return;
        }
        // A day bounds every duration of the format.
        let limit = crate::values::MAX_DURATION_MS * 1000;
        if start > limit || end.is_some_and(|e| e > limit) {
            self.err(
                line,
                col,
                "the time",
                "it is more than a day into the script",
            );
            return;
        }
        let base = self.prev_us.saturating_add(self.hinted_us);
        if start < base {
            self.err(line, col, "the time", "the steps kept as timewait comments before this line take longer than the time to it");
            return;
        }
        let gap = start - base;
        let within = end.map(|e| e.saturating_sub(base));
        self.prev_us = start;
        self.hinted_us = 0;
        if !outbound && gap > 0 {
            self.steps.push(Step::Wait(micros(gap)));
        }
        match action {
            Action::Packet(p) => self.packet(line, p, gap, within),
            Action::Syscall(s) => self.syscall(line, col, s),
            Action::Command(c) => self.command(line, col, c),
            Action::Code => self.err(
                line,
                col,
                "a %{ }% code block",
                "a spec has no Python; it checks segments, calls and states",
            ),
        }
    }

    fn fd_arg(&mut self, line: usize, col: usize, s: &Syscall) -> Option<i64> {
        match s.args.first() {
            Some(Expr::Int(fd)) if self.fds.contains_key(fd) => Some(*fd),
            Some(Expr::Int(fd)) => {
                self.err(
                    line,
                    col,
                    &format!("{}({fd}, ...)", s.name),
                    format!("fd {fd} was not opened by socket() or accept()"),
                );
                None
            }
            _ => {
                self.err(
                    line,
                    col,
                    &s.name,
                    "its first argument must be a file descriptor number",
                );
                None
            }
        }
    }

    fn syscall(&mut self, line: usize, col: usize, s: &Syscall) {
        if s.blocks_until.is_some() {
            self.err(
                line,
                col,
                "a blocking call (`...T`)",
                "the SUT's calls do not block in a spec; use a non-blocking socket",
            );
            return;
        }
        let ok = s.result == Expr::Int(0) && s.errno.is_none();
        let failed = s.result == Expr::Int(-1) && s.errno.is_some();
        let word = |e: &Expr, w: &str| matches!(e, Expr::Word(x) if x == w);
        match s.name.as_str() {
            "socket" => {
                if !s.args.iter().any(|a| word(a, "SOCK_STREAM")) {
                    self.err(line, col, "socket()", "only TCP sockets (SOCK_STREAM) have a spec equivalent");
                    return;
                }
                match s.result {
                    Expr::Int(fd) if fd >= 0 => {
                        self.fds.insert(fd, Fd::New { linger0: false });
                    }
                    _ => self.err(line, col, "socket()", "expected it to return a file descriptor"),
                }
            }
            "setsockopt" => {
                let Some(fd) = self.fd_arg(line, col, s) else { return };
                let opt = s.args.get(2);
                if opt.is_some_and(|o| word(o, "SO_REUSEADDR")) && ok {
                    // The harness's SUT always sets SO_REUSEADDR.
                } else if opt.is_some_and(|o| word(o, "SO_LINGER")) && ok {
                    let zero = matches!(s.args.get(3), Some(Expr::Struct(f))
                        if f.iter().any(|(k, v)| k.as_deref() == Some("onoff") && *v == Expr::Int(1))
                        && f.iter().any(|(k, v)| k.as_deref() == Some("linger") && *v == Expr::Int(0)));
                    if !zero {
                        self.err(line, col, "SO_LINGER", "only {onoff=1, linger=0} (close sends RST: the spec's `abort`) translates");
                        return;
                    }
                    match self.fds.get_mut(&fd) {
                        Some(Fd::New { linger0 } | Fd::Conn { linger0 }) => *linger0 = true,
                        _ => self.err(line, col, "SO_LINGER", "set on a socket that is neither new nor connected"),
                    }
                } else {
                    self.err(line, col, "setsockopt", "only SO_REUSEADDR and SO_LINGER {onoff=1, linger=0} returning 0 have a spec equivalent");
                }
            }
            "fcntl" => {
                // O_NONBLOCK: the spec's calls never block anyway.
                let nonblock = s.args.iter().any(|a| match a {
                    Expr::Or(v) => v.iter().any(|x| word(x, "O_NONBLOCK")),
                    x => word(x, "O_NONBLOCK"),
                });
                if self.fd_arg(line, col, s).is_some() && !(nonblock && ok) {
                    self.err(line, col, "fcntl", "only setting O_NONBLOCK has a spec equivalent");
                }
            }
            "bind" => {
                if self.fd_arg(line, col, s).is_some() && !ok {
                    self.err(line, col, "a failing bind", "the harness's SUT binds its port and expects success");
                }
            }
            "listen" => {
                let Some(fd) = self.fd_arg(line, col, s) else { return };
                if !ok {
                    self.err(line, col, "a failing listen", "a spec's listen succeeds");
                } else if self.had_connection && !self.hinted_marker {
                    self.err(
                        line,
                        col,
                        "a second listener",
                        "packetdrill gives a SYN to a new listener a new remote port, so its connection would not be a \
                         new incarnation of the same 4-tuple, which is all a spec holds",
                    );
                } else {
                    self.fds.insert(fd, Fd::Listener { accepted: false });
                    self.listening = Some(fd);
                    self.listen_at.insert(fd, (self.steps.len(), 0));
                    self.steps.push(Step::App(App::Listen));
                }
            }
            "accept" => {
                let Some(fd) = self.fd_arg(line, col, s) else { return };
                match (self.fds.get(&fd), &s.result) {
                    // The spec listened again (a `timewait:` hint of an
                    // exported one-shot listen), which packetdrill's first
                    // listener stands for: not a persistent listener.
                    (Some(Fd::Listener { accepted: true }), Expr::Int(new))
                        if self.relisten && *new >= 0 =>
                    {
                        self.relisten = false;
                        self.fds.insert(*new, Fd::Conn { linger0: false });
                        self.steps.push(Step::App(App::Accept));
                        // Closed right after, it is the one-shot listener's close.
                        if let Some(at) = self.listen_at.get_mut(&fd) {
                            at.1 = self.steps.len();
                        }
                    }
                    (Some(Fd::Listener { accepted }), Expr::Int(new)) if *new >= 0 => {
                        // A second accept on one listener: it stays open.
                        if *accepted {
                            self.make_persistent(fd);
                        }
                        self.fds.insert(fd, Fd::Listener { accepted: true });
                        self.fds.insert(*new, Fd::Conn { linger0: false });
                        self.steps.push(Step::App(App::Accept));
                        if let Some(at) = self.listen_at.get_mut(&fd) {
                            at.1 = self.steps.len();
                        }
                    }
                    _ => self.err(line, col, "accept", "expected a listening socket and a new file descriptor"),
                }
            }
            "connect" => {
                let Some(fd) = self.fd_arg(line, col, s) else { return };
                let started = ok || (s.result == Expr::Int(-1) && s.errno.as_deref() == Some("EINPROGRESS"));
                if !matches!(self.fds.get(&fd), Some(Fd::New { .. })) {
                    self.err(line, col, "connect", "only on a new socket");
                } else if started {
                    if self.had_connection {
                        self.pending_marker = self.new_incarnation(None);
                    }
                    self.hinted_marker = false;
                    let linger0 = matches!(self.fds.get(&fd), Some(Fd::New { linger0: true }));
                    self.fds.insert(fd, Fd::Conn { linger0 });
                    self.space = Some(Space { inc: self.inc, sut_known: false, sut_script_isn: 0, peer_isn: None, sut_at: 0, snd_nxt: None });
                    self.listening = None;
                    self.had_connection = true;
                    self.steps.push(Step::App(App::Connect));
                } else if failed {
                    self.steps.push(Step::AppRefused(App::Connect));
                } else {
                    self.err(line, col, "connect", "expected `= 0`, `= -1 EINPROGRESS` or a refusal `= -1 ERRNO`");
                }
            }
            "write" | "send" => {
                let Some(fd) = self.fd_arg(line, col, s) else { return };
                let n = match s.args.get(2) {
                    Some(Expr::Int(n)) => u16::try_from(*n).ok().filter(|n| *n > 0),
                    _ => None,
                };
                let Some(n) = n else {
                    self.err(line, col, &s.name, "the length must be a number from 1 to 65535");
                    return;
                };
                if !matches!(self.fds.get(&fd), Some(Fd::Conn { .. })) {
                    self.err(line, col, &s.name, "only on a connected socket");
                } else if s.result == Expr::Int(i64::from(n)) && s.errno.is_none() {
                    self.steps.push(Step::App(App::Send(n)));
                } else if failed {
                    self.steps.push(Step::AppRefused(App::Send(n)));
                } else {
                    self.err(line, col, &s.name, "a spec's send sends all its bytes or is refused; partial writes do not translate");
                }
            }
            "shutdown" => {
                let Some(fd) = self.fd_arg(line, col, s) else { return };
                if !s.args.get(1).is_some_and(|a| word(a, "SHUT_WR")) || !ok {
                    self.err(line, col, "shutdown", "only shutdown(fd, SHUT_WR) = 0 has a spec equivalent");
                } else if !matches!(self.fds.get(&fd), Some(Fd::Conn { .. })) {
                    self.err(line, col, "shutdown", "only on a connected socket");
                } else {
                    self.steps.push(Step::App(App::Shutdown));
                }
            }
            "close" => {
                let Some(fd) = self.fd_arg(line, col, s) else { return };
                if !ok {
                    self.err(line, col, "a failing close", "a spec's close succeeds");
                    return;
                }
                match self.fds.get(&fd).copied() {
                    // Closed right after its accept: the spec's one-shot
                    // listener, which that accept closed. Closed later:
                    // the persistent listener's `close-listener`.
                    Some(Fd::Listener { accepted: true }) => {
                        let persistent = self.listen_at.get(&fd).is_some_and(|&(at, after)| {
                            after != self.steps.len()
                                || self.steps.get(at) == Some(&Step::App(App::ListenPersistent))
                        });
                        if persistent {
                            self.make_persistent(fd);
                            self.steps.push(Step::App(App::CloseListener));
                        }
                    }
                    Some(Fd::Listener { accepted: false }) => self.err(
                        line,
                        col,
                        "closing a listener that accepted nothing",
                        "a spec closes its listener only when it accepts",
                    ),
                    Some(Fd::Conn { linger0 }) => {
                        self.steps.push(Step::App(if linger0 { App::Abort } else { App::Close }));
                    }
                    Some(Fd::New { .. }) => {}
                    _ => self.err(line, col, "close", "the descriptor is already closed"),
                }
                self.fds.insert(fd, Fd::Closed);
            }
            // The harness's application reads whatever arrives (before it
            // closes); a spec has no receive step.
            "read" | "recv" if matches!(s.result, Expr::Int(n) if n >= 0) && s.errno.is_none() => {
                let _ = self.fd_arg(line, col, s);
            }
            "read" | "recv" | "recvfrom" | "recvmsg" | "readv" => self.err(
                line,
                col,
                &format!("{}()", s.name),
                "a spec's application reads whatever arrives and makes no other receive calls",
            ),
            other => self.err(
                line,
                col,
                &format!("{other}()"),
                "only socket, setsockopt, fcntl, bind, listen, accept, connect, write, send, read, shutdown and close have spec equivalents",
            ),
        }
    }

    fn flags(&mut self, line: usize, col: usize, p: &Packet) -> Option<Flags> {
        let mut f = Flags::default();
        for c in p.flags.chars() {
            f = f.union(match c {
                'S' => Flags::SYN,
                'F' => Flags::FIN,
                'R' => Flags::RST,
                'P' => Flags::PSH,
                '.' => Flags::ACK,
                '-' => continue,
                other => {
                    self.err(line, col, &format!("flag {other:?}"), "the spec's flags are S, F, R, P and ACK (`.`); ECN, urgent and AccECN bits have no equivalent");
                    return None;
                }
            });
        }
        if f == Flags::default() {
            self.err(
                line,
                col,
                "a segment without flags",
                "a spec's segment carries at least one of S, F, R, P, ACK",
            );
            return None;
        }
        Some(f)
    }

    fn options(&mut self, line: usize, col: usize, list: &[Opt]) -> Option<TcpOptions> {
        let mut o = TcpOptions::default();
        for opt in list {
            match opt {
                Opt::Nop | Opt::Eol => {}
                Opt::Mss(v) => o.mss = Some(self.small(line, col, "mss", *v)?),
                Opt::Wscale(v) => o.wscale = Some(self.small(line, col, "wscale", *v)?),
                Opt::SackOk => o.sack_ok = true,
                Opt::Ts { val, ecr } => {
                    let (Ok(val), Ok(ecr)) = (u32::try_from(*val), u32::try_from(*ecr)) else {
                        self.err(line, col, "TS", "val and ecr are 32-bit numbers");
                        return None;
                    };
                    o.ts = Some(Timestamps { val, ecr });
                }
                Opt::Other(t) => {
                    self.err(line, col, &format!("option `{t}`"), "the spec's options are mss, wscale, sackOK and TS (nop and eol are dropped)");
                    return None;
                }
            }
        }
        Some(o)
    }

    fn small<T: TryFrom<u64>>(&mut self, line: usize, col: usize, what: &str, v: u64) -> Option<T> {
        let r = T::try_from(v).ok();
        if r.is_none() {
            self.err(line, col, what, format!("{v} is out of range"));
        }
        r
    }

    fn packet(&mut self, line: usize, p: &Packet, gap: u64, within: Option<u64>) {
        let col = |off: usize| p.base + off + 1;
        if let Some((off, text)) = &p.prefix {
            self.err(line, col(*off), &format!("`{text}`"), "the spec's segments have no IP, port or encapsulation information: the harness owns the 4-tuple");
            return;
        }
        if p.urg.is_some() {
            self.err(line, col(0), "`urg`", "the spec has no urgent data");
            return;
        }
        let Some(flags) = self.flags(line, col(p.flags_col), p) else {
            return;
        };
        let Some(len) = self.small::<u16>(line, col(p.flags_col), "the payload length", p.len)
        else {
            return;
        };
        let (Ok(seq), Ok(ack)) = (u32::try_from(p.seq), p.ack.map(u32::try_from).transpose())
        else {
            self.err(
                line,
                col(p.flags_col),
                "the sequence numbers",
                "they are 32-bit numbers",
            );
            return;
        };
        if flags.has(Flags::ACK) != ack.is_some() {
            self.err(
                line,
                col(p.flags_col),
                "the ack number",
                "a segment has one exactly when it carries ACK (`.`)",
            );
            return;
        }
        let win = match p.win {
            Some(w) => match self.small::<u16>(line, col(p.flags_col), "win", w) {
                Some(w) => Some(w),
                None => return,
            },
            None => None,
        };
        match p.dir {
            Dir::In => {
                let Some(list) = &p.options else {
                    self.err(
                        line,
                        col(p.options_col),
                        "`<...>`",
                        "packetdrill allows it only on outbound segments",
                    );
                    return;
                };
                let Some(options) = self.options(line, col(p.options_col), list) else {
                    return;
                };
                let at = Wire {
                    line,
                    col: col(0),
                    flags,
                    seq,
                    ack,
                    len,
                    win,
                };
                self.inbound(at, options);
            }
            Dir::Out => {
                // packetdrill checks an outbound segment's options exactly
                // (kinds, lengths and values; TSval only with
                // --tcp_ts_tick_usecs), none written meaning none sent;
                // `<...>` leaves them unchecked.
                let options = match &p.options {
                    None => None,
                    Some(list) => match self.options(line, col(p.options_col), list) {
                        Some(o) => Some(named_options(&o)),
                        None => return,
                    },
                };
                let after = (gap > 0).then(|| micros(gap));
                let within = match within {
                    Some(w) => Some(micros(w)),
                    None => after,
                };
                let at = Wire {
                    line,
                    col: col(0),
                    flags,
                    seq,
                    ack,
                    len,
                    win,
                };
                self.outbound(at, options, after, within);
            }
        }
    }

    fn rel(v: u32, base: u32) -> SeqValue {
        SeqValue::relative(v, Some(base))
    }

    fn inbound(&mut self, at: Wire, options: TcpOptions) {
        let Wire {
            line,
            col,
            flags,
            seq,
            ack,
            len,
            win,
        } = at;
        let syn = flags.has(Flags::SYN);
        let mut incarnation = None;
        let seq_v;
        if syn && !flags.has(Flags::ACK) {
            if self.listening.take().is_some() {
                // A child of the listener: its numbers start here.
                if self.peer_isn[self.inc as usize - 1].is_none() {
                    self.peer_isn[self.inc as usize - 1] = Some(seq);
                }
                let base = self.peer_isn[self.inc as usize - 1].unwrap_or(seq);
                self.space = Some(Space {
                    inc: self.inc,
                    sut_known: false,
                    sut_script_isn: 0,
                    peer_isn: Some(seq),
                    sut_at: 0,
                    snd_nxt: None,
                });
                self.had_connection = true;
                self.hinted_marker = false;
                self.syn_seen = true;
                seq_v = Self::rel(seq, base);
            } else if self.space.is_some() {
                let open: Vec<i64> = self
                    .fds
                    .iter()
                    .filter(|(_, f)| **f == Fd::Listener { accepted: true })
                    .map(|(fd, _)| *fd)
                    .collect();
                if !self.relisten {
                    // The accepted listener still open: a persistent one,
                    // which may take this SYN (Linux's TCP_TW_SYN).
                    for fd in open {
                        self.make_persistent(fd);
                    }
                }
                // A SYN on the 4-tuple of a connection: a new incarnation,
                // written in the old socket's numbers as packetdrill does,
                // unless it repeats the current incarnation's SYN.
                let repeat = self.syn_seen && self.peer_isn[self.inc as usize - 1] == Some(seq);
                if !repeat {
                    self.new_incarnation(Some(seq));
                    if self.peer_isn[self.inc as usize - 1].is_none() {
                        self.peer_isn[self.inc as usize - 1] = Some(seq);
                    }
                    self.syn_seen = true;
                }
                let base = self.peer_isn[self.inc as usize - 1].unwrap_or(seq);
                seq_v = Self::rel(seq, base);
            } else {
                self.err(
                    line,
                    col,
                    "a SYN with no socket to receive it",
                    "call listen (or connect) first",
                );
                return;
            }
        } else {
            let Some(space) = self.space else {
                self.err(
                    line,
                    col,
                    "a segment before any connection",
                    "a spec's first segment opens a connection (listen, then a SYN)",
                );
                return;
            };
            let mut space = space;
            if syn {
                // The SYN-ACK to the SUT's connect: the peer's ISN.
                space.peer_isn = Some(seq);
                let i = space.inc as usize - 1;
                if self.peer_isn[i].is_none() {
                    self.peer_isn[i] = Some(seq);
                    if let Some(k) = self.pending_marker.take() {
                        let prev = self
                            .peer_isn
                            .get(i.wrapping_sub(1))
                            .copied()
                            .flatten()
                            .unwrap_or(0);
                        if let Some(Step::Incarnation(m)) = self.steps.get_mut(k) {
                            m.peer_isn = Self::rel(seq, prev);
                        }
                    }
                }
                self.space = Some(space);
                let base = self.peer_isn[i].unwrap_or(seq);
                seq_v = Self::rel(seq, base);
            } else {
                let Some(peer) = space.peer_isn else {
                    self.err(
                        line,
                        col,
                        "a segment before the peer's SYN",
                        "packetdrill counts the peer's numbers from its SYN",
                    );
                    return;
                };
                let base = self.peer_isn[space.inc as usize - 1].unwrap_or(peer);
                seq_v = Self::rel(seq.wrapping_add(peer), base);
            }
            if space.inc != self.inc {
                incarnation = Some(space.inc);
            }
            if ack.is_some() && !space.sut_known {
                self.err(
                    line,
                    col,
                    "an ack before the SUT's SYN",
                    "packetdrill counts the SUT's numbers from its SYN",
                );
                return;
            }
        }
        // An inbound SYN's ACK counts from the number the script gave the
        // SUT's SYN; every other ACK from the SUT's real ISN.
        let sut_base = match self.space {
            Some(sp) if syn => sp.sut_script_isn,
            Some(sp) => sp.sut_at,
            None => 0,
        };
        let ack_v = ack.map(|a| Self::rel(a, sut_base));
        self.steps.push(Step::Inject(Inject {
            flags,
            seq: seq_v,
            ack: ack_v,
            len,
            win,
            options,
            incarnation,
        }));
    }

    fn outbound(
        &mut self,
        at: Wire,
        options: Option<crate::options::ExpectOptions>,
        after: Option<Duration>,
        within: Option<Duration>,
    ) {
        let Wire {
            line,
            col,
            flags,
            seq,
            ack,
            len,
            win,
        } = at;
        let Some(mut space) = self.space else {
            self.err(
                line,
                col,
                "an outbound segment before any connection",
                "only a RST can come from a closed port, and the harness owns no socket yet",
            );
            return;
        };
        let syn = flags.has(Flags::SYN);
        // The number in the socket's own count: packetdrill maps a SYN's
        // from the number the script gave the first SYN, others from 0.
        let at = if syn {
            seq.wrapping_sub(space.sut_script_isn)
        } else {
            seq
        };
        let seq_v = if syn && !space.sut_known {
            // packetdrill learns the SUT's ISN from its first SYN, whatever
            // number the script gives it.
            space.sut_known = true;
            space.sut_script_isn = seq;
            SeqValue::Rel(0)
        } else if !space.sut_known {
            self.err(
                line,
                col,
                "a segment before the SUT's SYN",
                "packetdrill counts the SUT's numbers from its SYN",
            );
            return;
        } else if syn && space.inc != self.inc {
            // A SYN reopened TIME-WAIT on packetdrill's old socket, and
            // this SYN-ACK's number, checked in the old count, is the new
            // incarnation's ISN: stated on the incarnation step, from the
            // old SND.NXT where the script shows it (Linux: 65537 past).
            if !self.state_sut_isn(line, col, at, &space) {
                return;
            }
            space.inc = self.inc;
            space.sut_at = at;
            space.snd_nxt = None;
            SeqValue::Rel(0)
        } else {
            Self::rel(at, space.sut_at)
        };
        if !flags.has(Flags::RST) {
            let next = at
                .wrapping_add(u32::from(len))
                .wrapping_add(u32::from(syn))
                .wrapping_add(u32::from(flags.has(Flags::FIN)));
            if space
                .snd_nxt
                .is_none_or(|n| (next.wrapping_sub(n) as i32) > 0)
            {
                space.snd_nxt = Some(next);
            }
        }
        self.space = Some(space);
        let peer_base = self.peer_isn[space.inc as usize - 1].or(space.peer_isn);
        let ack_v = match (ack, space.peer_isn, peer_base) {
            (None, ..) => None,
            // An outbound SYN's ACK is absolute.
            (Some(a), _, Some(b)) if syn => Some(Self::rel(a, b)),
            (Some(a), Some(p), Some(b)) => Some(Self::rel(a.wrapping_add(p), b)),
            _ => {
                self.err(
                    line,
                    col,
                    "an ack before the peer's SYN",
                    "packetdrill counts the peer's numbers from its SYN",
                );
                return;
            }
        };
        let incarnation = (space.inc != self.inc).then_some(space.inc);
        self.steps.push(Step::Expect(Expect {
            flags,
            seq: Some(seq_v),
            ack: ack_v,
            len: Some(len),
            win,
            options,
            incarnation,
            after,
            within,
            tolerance: None,
        }));
    }

    /// States the new ISN, at `at` in the old socket's count, on the
    /// current incarnation's step; a `timewait:` hint that states it
    /// already keeps its own form if it means the same number, and one
    /// that means another is an error (false).
    fn state_sut_isn(&mut self, line: usize, col: usize, at: u32, space: &Space) -> bool {
        let stated = match space.snd_nxt {
            Some(n) => SutIsn::SndNxt(i64::from(at.wrapping_sub(n) as i32)),
            None => SutIsn::Seq(Self::rel(at, space.sut_at)),
        };
        let means = |s: SutIsn| match s {
            SutIsn::SndNxt(d) => space.snd_nxt.map(|n| n.wrapping_add(d as i32 as u32)),
            SutIsn::Seq(SeqValue::Rel(r)) => Some(space.sut_at.wrapping_add(r as i32 as u32)),
            SutIsn::Seq(SeqValue::Abs(_)) => None,
        };
        let marker = self.steps.iter_mut().rev().find_map(|s| match s {
            Step::Incarnation(m) => Some(m),
            _ => None,
        });
        match marker {
            Some(m) if m.sut_isn.is_none() => {
                m.sut_isn = Some(stated);
                true
            }
            Some(m) if m.sut_isn.and_then(means) == Some(at) => true,
            Some(m) => {
                let hinted = m.sut_isn.map_or(String::new(), |h| h.to_string());
                self.err(
                    line,
                    col,
                    "the SYN-ACK's sequence number",
                    format!("it makes the new ISN sut-isn {stated}, but the `timewait:` hint before says {hinted}"),
                );
                false
            }
            None => true,
        }
    }

    fn spec(&self, name: &str) -> Spec {
        let mut spec = Spec {
            name: sp(self.header.name.clone().unwrap_or_else(|| name.to_string())),
            description: String::new(),
            tags: vec!["packetdrill".into()],
            role: sp(self.header.role.unwrap_or(Role::ActiveCloser)),
            profile: self.profile_set.then(|| sp(self.profile.clone())),
            msl: sp(self.header.msl.unwrap_or(Duration::secs(MSL_MS / 1000))),
            time_wait: self.header.time_wait.map(sp),
            tolerance: self.tolerance.map(sp),
            peer_isn: self.header.peer_isn,
            model: sp(ModelVerdicts {
                pass: Vec::new(),
                fail: Vec::new(),
            }),
            steps: self.steps.iter().cloned().map(sp).collect(),
        };
        // Checked as the file the spec will be written to, named after it.
        let as_file = std::path::PathBuf::from(format!("{}.yaml", spec.name.value));
        if self.header.role.is_none() {
            // The first role the linter accepts for these steps.
            for role in [
                Role::ActiveCloser,
                Role::PassiveCloser,
                Role::SimultaneousClose,
                Role::NewIncarnationListener,
            ] {
                spec.role = sp(role);
                let fits = !validate::check(&as_file, &spec)
                    .iter()
                    .any(|d| d.message.starts_with("role "));
                if fits {
                    break;
                }
            }
        }
        let mut d = format!(
            "Imported from the packetdrill script {} by `timewait specs import`. The model lists are what \
             the oracle computes for these steps; say here why the spec exists and which RFC section it pins.",
            self.file.display()
        );
        if self.tolerance.is_none() {
            d.push_str(
                " The script set no --tolerance_usecs (packetdrill's default is 4 ms); the spec keeps the default tolerance.",
            );
        }
        spec.description = d;
        // The oracle plays only specs the linter accepts (a hint may carry
        // a step that is not); the CLI then reports the linter's problems.
        let blocking = validate::check(&as_file, &spec)
            .into_iter()
            .any(|d| !d.message.starts_with("model lists") && !d.message.starts_with("role "));
        if blocking {
            return spec;
        }
        let runs = oracle::run_all(&spec);
        let (pass, fail): (Vec<_>, Vec<_>) = runs.iter().partition(|r| r.outcome.passed());
        spec.model = sp(ModelVerdicts {
            pass: pass.iter().map(|r| sp(VariantName(r.preset))).collect(),
            fail: fail.iter().map(|r| sp(VariantName(r.preset))).collect(),
        });
        spec
    }
}

/// A duration of `us` microseconds, in whole seconds when it is, else in
/// (fractional) milliseconds.
pub fn micros(us: u64) -> Duration {
    if us.is_multiple_of(1_000_000) {
        Duration::secs(us / 1_000_000)
    } else {
        Duration {
            milli_units: us,
            unit: Unit::Millis,
        }
    }
}

/// An outbound option list as an `expect` checks it, exactly as
/// packetdrill does: each option written with its value (the TSecr, since
/// the TSval is the SUT's clock), and no other.
fn named_options(o: &TcpOptions) -> crate::options::ExpectOptions {
    use crate::options::{Bare, EchoedTs, ExpectOptions, Want};
    ExpectOptions {
        mss: o.mss.map(Want::Is),
        wscale: o.wscale.map(Want::Is),
        sack_ok: o.sack_ok.then_some(Want::<Bare>::Present),
        ts: o.ts.map(|t| Want::Is(EchoedTs { ecr: t.ecr })),
        exact: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN_AND_CLOSE: &str = "\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535
+0 > S. 0:0(0) ack 1 <...>
+0 < . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
";

    const TEARDOWN: &str = "\
+0 close(4) = 0
+0 > F. 1:1(0) ack 1 <...>
+0 < F. 1:1(0) ack 2 win 65535
+0 > . 2:2(0) ack 2 <...>
";

    fn steps(script: &str) -> Result<Vec<String>, Vec<String>> {
        import_str(Path::new("t.pkt"), script, "t")
            .map(|i| {
                i.spec
                    .steps
                    .iter()
                    .map(|s| crate::emit::step(&s.value))
                    .collect()
            })
            .map_err(|e| e.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn a_syn_reaching_time_wait_starts_an_incarnation_written_in_the_old_numbers() {
        let script = format!(
            "{OPEN_AND_CLOSE}+0 close(3) = 0\n{TEARDOWN}+1 < S 100000:100000(0) win 65535\n+0 > . 2:2(0) ack 2 <...>\n"
        );
        let s = steps(&script).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            &s[s.len() - 4..],
            [
                "wait: 1s",
                "incarnation: {peer-isn: 100000}",
                "inject: {flags: S, seq: 0, win: 65535}",
                "expect: {flags: A, seq: 2, ack: 2, len: 0, incarnation: 1}",
            ]
        );
    }

    #[test]
    fn an_outbound_option_list_is_checked_exactly_and_none_written_means_none() {
        let script = format!(
            "{}+0 close(4) = 0\n+0 > F. 1:1(0) ack 1\n+0 < . 1:1(0) ack 2 win 65535\n",
            OPEN_AND_CLOSE.replace(
                "> S. 0:0(0) ack 1 <...>",
                "> S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 7>"
            )
        );
        let s = steps(&script).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            s[2],
            "expect: {flags: SA, seq: 0, ack: 1, len: 0, options: {mss: 1460, wscale: 7, sack-ok: present, exact: true}}"
        );
        assert_eq!(
            s[6],
            "expect: {flags: FA, seq: 1, ack: 1, len: 0, options: {exact: true}}"
        );
    }

    #[test]
    fn a_first_syn_above_zero_counts_from_packetdrills_wire_isn_of_zero() {
        // Found by fuzzing: the export writes the peer's first ISN as 0 on
        // the wire, so a spec whose first SYN is at ISN + 5 came back at 0.
        let script = OPEN_AND_CLOSE
            .replace("< S 0:0(0)", "< S 5:5(0)")
            .replace("ack 1 <...>", "ack 6 <...>");
        let s = steps(&script).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(s[1], "inject: {flags: S, seq: 5, win: 65535}");
        assert_eq!(s[2], "expect: {flags: SA, seq: 0, ack: 6, len: 0}");
        assert_eq!(s[3], "inject: {flags: A, seq: 6, ack: 1, win: 65535}");
    }

    #[test]
    fn a_syn_while_the_accepted_listener_is_still_open_makes_it_persistent() {
        // packetdrill's fd 3 left open after accept: the listener a server
        // keeps, which takes the SYN (Linux's TCP_TW_SYN).
        let script = format!(
            "{OPEN_AND_CLOSE}{TEARDOWN}+1 < S 100000:100000(0) win 65535\n\
             +0 > S. 65539:65539(0) ack 100001 <...>\n+0 < . 100001:100001(0) ack 65540 win 65535\n\
             +0 accept(3, ..., ...) = 5\n"
        );
        let s = steps(&script).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(s[0], "app: listen-persistent");
        assert_eq!(s.iter().filter(|l| *l == "app: accept").count(), 2, "{s:?}");
        assert_eq!(s.last().map(String::as_str), Some("app: accept"));
        assert!(
            // The SYN-ACK on packetdrill's old socket, 65537 past the old
            // SND.NXT of 2, states the new ISN (Linux's choice).
            s.contains(&"incarnation: {peer-isn: 100000, sut-isn: {snd-nxt: 65537}}".to_string()),
            "{s:?}"
        );
    }

    #[test]
    fn a_listener_closed_right_after_accept_is_one_shot_and_later_is_close_listener() {
        let now = steps(&format!("{OPEN_AND_CLOSE}+0 close(3) = 0\n{TEARDOWN}"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(now[0], "app: listen");
        assert!(!now.iter().any(|l| l == "app: close-listener"), "{now:?}");
        let later = steps(&format!("{OPEN_AND_CLOSE}{TEARDOWN}+0 close(3) = 0\n"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(later[0], "app: listen-persistent");
        assert_eq!(
            later.last().map(String::as_str),
            Some("app: close-listener")
        );
    }

    #[test]
    fn a_sysctl_after_the_first_step_and_one_outside_the_profile_are_refused() {
        let script = format!("`sysctl -q net.ipv4.tcp_rmem=4096`\n{OPEN_AND_CLOSE}+0 `sysctl -q net.ipv4.tcp_rfc1337=1`\n");
        let e = steps(&script).err().unwrap_or_default();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("t.pkt:1:1: cannot translate sysctl net.ipv4.tcp_rmem: not one of the profile's sysctls"), "{e:?}");
        assert!(
            e[1].contains("t.pkt:10:1: cannot translate a shell command after the first step"),
            "{e:?}"
        );
    }
}
