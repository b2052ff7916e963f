//! The spec format: one scripted run against a stack under test (the SUT),
//! seen from the test peer. These types are the AST that the linter, the
//! model oracle, the generator and the conformance engine share; the YAML
//! maps onto them one to one (see specs/README.md).

use crate::values::{Duration, Flags, SeqValue, SutIsn};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;
use timewait_model::Preset;

/// One spec.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "timewait trace spec")]
pub struct Spec {
    /// Unique name; must equal the file name without `.yaml`.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Why this spec exists, citing the RFC section or stack behaviour it pins down.
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// What the SUT does in the teardown this spec is about.
    #[schemars(with = "Role")]
    pub role: Spanned<Role>,
    /// Per-namespace Linux sysctls (net.ipv4.*) the spec assumes; other stacks ignore them.
    #[serde(default)]
    #[schemars(with = "Option<Profile>")]
    pub profile: Option<Spanned<Profile>>,
    /// The maximum segment lifetime the spec's waits are scaled to (unit `msl`).
    #[schemars(with = "Duration")]
    pub msl: Spanned<Duration>,
    /// The TIME-WAIT length the spec assumes (unit `tw`); default 2 x msl.
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub time_wait: Option<Spanned<Duration>>,
    /// Timing slack for every expectation unless a step says otherwise.
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub tolerance: Option<Spanned<Duration>>,
    /// The peer's ISN in the first incarnation (absolute); default 1000000.
    #[serde(default)]
    pub peer_isn: Option<u32>,
    /// Which model variants must pass the spec and which must fail it.
    #[schemars(with = "ModelVerdicts")]
    pub model: Spanned<ModelVerdicts>,
    /// The script, run in order.
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<Spanned<Step>>,
}

/// The SUT's part in the teardown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The SUT closes first and ends in TIME-WAIT.
    ActiveCloser,
    /// The peer closes first; the SUT goes through CLOSE-WAIT and LAST-ACK.
    PassiveCloser,
    /// Both FINs cross; both sides pass through CLOSING.
    SimultaneousClose,
    /// The SUT listens for a new incarnation on a 4-tuple that is (or was) in TIME-WAIT.
    NewIncarnationListener,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::ActiveCloser => "active-closer",
            Role::PassiveCloser => "passive-closer",
            Role::SimultaneousClose => "simultaneous-close",
            Role::NewIncarnationListener => "new-incarnation-listener",
        }
    }
}

/// Linux sysctls under net.ipv4, set in the harness's own namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// 1: ignore RST in TIME-WAIT (RFC 1337).
    pub tcp_rfc1337: Option<u8>,
    /// 0: no timestamps; 1: timestamps with random offsets; 2: without.
    pub tcp_timestamps: Option<u8>,
    /// 0: no TIME-WAIT sockets at all.
    pub tcp_max_tw_buckets: Option<u32>,
    /// Milliseconds between ACKs to out-of-window segments (default 500).
    pub tcp_invalid_ratelimit: Option<u32>,
    pub tcp_tw_reuse: Option<u8>,
    /// Seconds an orphaned FIN-WAIT-2 socket lives.
    pub tcp_fin_timeout: Option<u32>,
    /// Retransmissions of an orphaned socket's FIN before it gives up.
    pub tcp_orphan_retries: Option<u8>,
}

impl Profile {
    /// `(sysctl name, value)` pairs that are set.
    pub fn sysctls(&self) -> Vec<(&'static str, u64)> {
        let mut v = Vec::new();
        let mut put = |name, val: Option<u64>| {
            if let Some(x) = val {
                v.push((name, x));
            }
        };
        put("tcp_rfc1337", self.tcp_rfc1337.map(u64::from));
        put("tcp_timestamps", self.tcp_timestamps.map(u64::from));
        put("tcp_max_tw_buckets", self.tcp_max_tw_buckets.map(u64::from));
        put(
            "tcp_invalid_ratelimit",
            self.tcp_invalid_ratelimit.map(u64::from),
        );
        put("tcp_tw_reuse", self.tcp_tw_reuse.map(u64::from));
        put("tcp_fin_timeout", self.tcp_fin_timeout.map(u64::from));
        put("tcp_orphan_retries", self.tcp_orphan_retries.map(u64::from));
        v
    }
}

/// The model variants (presets of `timewait check`) that must pass and must
/// fail this spec. Variants listed in neither are run and shown, not asserted.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelVerdicts {
    #[serde(default)]
    #[schemars(with = "Vec<VariantName>")]
    pub pass: Vec<Spanned<VariantName>>,
    #[serde(default)]
    #[schemars(with = "Vec<VariantName>")]
    pub fail: Vec<Spanned<VariantName>>,
}

/// A model variant, by its preset name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariantName(pub Preset);

impl<'de> Deserialize<'de> for VariantName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Preset::from_name(&s).map(VariantName).ok_or_else(|| {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
            serde::de::Error::custom(format!(
                "unknown model variant {s:?}, expected one of {}",
                names.join(", ")
            ))
        })
    }
}

impl JsonSchema for VariantName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VariantName".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
        schemars::json_schema!({
            "type": "string",
            "enum": names,
            "description": "A model variant, as `timewait check --variant` names it"
        })
    }
}

/// One step of the script. Written as a one-key map: `- inject: {...}`.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// An application call on the SUT.
    App(App),
    /// An application call the SUT must refuse (e.g. a connect on a 4-tuple
    /// still in TIME-WAIT: EADDRNOTAVAIL); the run goes on if it does.
    AppRefused(App),
    /// A segment the peer sends to the SUT.
    Inject(Inject),
    /// A segment the SUT must send next.
    Expect(Expect),
    /// The SUT must send nothing (or nothing with these flags) for a while.
    ExpectNone(ExpectNone),
    /// Let time pass.
    Wait(Duration),
    /// The state of the SUT's socket on the 4-tuple.
    ExpectState(ExpectState),
    /// Starts the next incarnation on the same 4-tuple.
    Incarnation(Incarnation),
    /// A remark shown in reports; no effect.
    Note(String),
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::App(_) => "app",
            Step::AppRefused(_) => "app-refused",
            Step::Inject(_) => "inject",
            Step::Expect(_) => "expect",
            Step::ExpectNone(_) => "expect-none",
            Step::Wait(_) => "wait",
            Step::ExpectState(_) => "expect-state",
            Step::Incarnation(_) => "incarnation",
            Step::Note(_) => "note",
        }
    }
}

/// Socket calls, as the SUT's application makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum App {
    /// socket, bind, listen (with SO_REUSEADDR): a one-shot listener,
    /// closed by the `accept` that takes its connection.
    Listen,
    /// socket, bind, listen (with SO_REUSEADDR): a listener that stays open
    /// after each `accept`, as a server's does, until `close-listener` or
    /// the spec's end. A later incarnation's `accept` takes from it with no
    /// new `listen`.
    ListenPersistent,
    /// accept the next established connection from whichever listener is
    /// open (a one-shot listener closes here).
    Accept,
    /// close the persistent listener; the connection stays.
    CloseListener,
    /// socket, bind, connect to the peer.
    Connect,
    /// send N bytes.
    Send(u16),
    /// shutdown(SHUT_WR): send FIN, keep reading.
    Shutdown,
    /// close.
    Close,
    /// close with SO_LINGER {on, 0}: RFC 9293's ABORT, a RST instead of a FIN.
    Abort,
}

impl std::fmt::Display for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            App::Listen => f.write_str("listen"),
            App::ListenPersistent => f.write_str("listen-persistent"),
            App::Accept => f.write_str("accept"),
            App::CloseListener => f.write_str("close-listener"),
            App::Connect => f.write_str("connect"),
            App::Send(n) => write!(f, "send {n}"),
            App::Shutdown => f.write_str("shutdown"),
            App::Close => f.write_str("close"),
            App::Abort => f.write_str("abort"),
        }
    }
}

/// A segment the peer injects. `seq` is relative to the peer's ISN and `ack`
/// to the SUT's ISN, both in `incarnation` (default: the current one).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Inject {
    pub flags: Flags,
    pub seq: SeqValue,
    /// Required with the A flag, forbidden without it.
    #[serde(default)]
    pub ack: Option<SeqValue>,
    /// Payload bytes.
    #[serde(default)]
    pub len: u16,
    /// Advertised window; default 65535.
    #[serde(default)]
    pub win: Option<u16>,
    #[serde(default)]
    pub options: TcpOptions,
    /// Incarnation (1-based) whose ISNs `seq` and `ack` are relative to: an
    /// old duplicate names the incarnation it belongs to.
    #[serde(default)]
    pub incarnation: Option<u32>,
}

/// TCP options of a segment. In an `expect`, only the options given are checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    #[serde(default)]
    pub sack_ok: bool,
    /// RFC 7323 timestamps.
    pub ts: Option<Timestamps>,
    /// Kinds of the other options on a segment the SUT sent (not NOP or
    /// end of list), for `exact` in an `expect`; never written in a spec.
    #[serde(skip)]
    #[schemars(skip)]
    pub other: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timestamps {
    pub val: u32,
    pub ecr: u32,
}

/// A segment the SUT must send. `flags` must match exactly; every other
/// field left out is not checked. `seq` is relative to the SUT's ISN and
/// `ack` to the peer's ISN.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Expect {
    pub flags: Flags,
    #[serde(default)]
    pub seq: Option<SeqValue>,
    #[serde(default)]
    pub ack: Option<SeqValue>,
    #[serde(default)]
    pub len: Option<u16>,
    #[serde(default)]
    pub win: Option<u16>,
    /// Options checked: each given one with its value, `present` or
    /// `absent`; with `exact: true`, no others.
    #[serde(default)]
    pub options: Option<crate::options::ExpectOptions>,
    #[serde(default)]
    pub incarnation: Option<u32>,
    /// Not before this long after the previous step (e.g. a retransmission timeout).
    #[serde(default)]
    pub after: Option<Duration>,
    /// At the latest this long after the previous step; default: the spec's tolerance.
    #[serde(default)]
    pub within: Option<Duration>,
    /// Timing slack for this step instead of the spec's.
    #[serde(default)]
    pub tolerance: Option<Duration>,
}

impl Expect {
    /// The SUT's ISN that a segment with sequence number `seq`, matching this
    /// expectation, reveals: the SUT's SYN or SYN-ACK fixes the ISN of its
    /// incarnation.
    pub fn isn_from(&self, seq: u32) -> Option<u32> {
        let rel = match self.seq {
            Some(SeqValue::Rel(v)) => v as i32 as u32,
            _ => 0,
        };
        self.flags.has(Flags::SYN).then(|| seq.wrapping_sub(rel))
    }

    /// Whether `seq` is the expected sequence number, given the SUT's ISN.
    pub fn seq_matches(&self, seq: u32, isn: Option<u32>) -> bool {
        match (self.seq, isn) {
            (None, _) => true,
            (Some(SeqValue::Abs(v)), _) => v == seq,
            (Some(v), Some(base)) => v.resolve(base) == seq,
            (Some(SeqValue::Rel(_)), None) => false,
        }
    }

    /// The checked fields in one line: `FA seq=1 ack=2`.
    pub fn summary(&self) -> String {
        let mut s = format!("{}", self.flags);
        if let Some(v) = self.seq {
            s.push_str(&format!(" seq={v}"));
        }
        if let Some(v) = self.ack {
            s.push_str(&format!(" ack={v}"));
        }
        if let Some(v) = self.len {
            s.push_str(&format!(" len={v}"));
        }
        if let Some(o) = &self.options {
            s.push_str(&format!(" options[{}]", o.summary()));
        }
        s
    }
}

/// Nothing (or nothing carrying all of `flags`, e.g. `R` for "no RST") for `for`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExpectNone {
    #[serde(rename = "for")]
    pub duration: Duration,
    #[serde(default)]
    pub flags: Option<Flags>,
}

/// The state of the SUT's connection on the spec's 4-tuple.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExpectState {
    pub state: SockState,
    /// TIME-WAIT time left, checked within the tolerance.
    #[serde(default)]
    pub remaining: Option<Range>,
    /// Timing slack for this step instead of the spec's.
    #[serde(default)]
    pub tolerance: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: Duration,
    pub max: Duration,
}

/// RFC 9293 state names; CLOSED means no socket on the 4-tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
pub enum SockState {
    #[serde(rename = "CLOSED")]
    Closed,
    #[serde(rename = "LISTEN")]
    Listen,
    #[serde(rename = "SYN-SENT")]
    SynSent,
    #[serde(rename = "SYN-RECEIVED")]
    SynReceived,
    #[serde(rename = "ESTABLISHED")]
    Established,
    #[serde(rename = "FIN-WAIT-1")]
    FinWait1,
    #[serde(rename = "FIN-WAIT-2")]
    FinWait2,
    #[serde(rename = "CLOSE-WAIT")]
    CloseWait,
    #[serde(rename = "CLOSING")]
    Closing,
    #[serde(rename = "LAST-ACK")]
    LastAck,
    #[serde(rename = "TIME-WAIT")]
    TimeWait,
}

impl SockState {
    pub const ALL: [SockState; 11] = [
        SockState::Closed,
        SockState::Listen,
        SockState::SynSent,
        SockState::SynReceived,
        SockState::Established,
        SockState::FinWait1,
        SockState::FinWait2,
        SockState::CloseWait,
        SockState::Closing,
        SockState::LastAck,
        SockState::TimeWait,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SockState::Closed => "CLOSED",
            SockState::Listen => "LISTEN",
            SockState::SynSent => "SYN-SENT",
            SockState::SynReceived => "SYN-RECEIVED",
            SockState::Established => "ESTABLISHED",
            SockState::FinWait1 => "FIN-WAIT-1",
            SockState::FinWait2 => "FIN-WAIT-2",
            SockState::CloseWait => "CLOSE-WAIT",
            SockState::Closing => "CLOSING",
            SockState::LastAck => "LAST-ACK",
            SockState::TimeWait => "TIME-WAIT",
        }
    }
}

/// Starts the next incarnation on the same 4-tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Incarnation {
    /// The peer's new ISN: relative to its previous ISN (e.g. 100000 for a
    /// "newer" SYN, -100000 for an "older" one), or {abs: N}.
    pub peer_isn: SeqValue,
    /// The SUT's ISN in the new incarnation, stated in the old one's
    /// numbers and checked on its SYN or SYN-ACK: `{snd-nxt: 65537}` (the
    /// old SND.NXT plus 65537, Linux's choice on a SYN that reopens
    /// TIME-WAIT), an integer relative to the old SUT ISN, or {abs: N}.
    /// Left out, the SUT's SYN tells its ISN and nothing checks it.
    #[serde(default)]
    pub sut_isn: Option<SutIsn>,
}

/// Defaults that steps fall back on.
pub mod defaults {
    use super::Duration;
    pub const TOLERANCE: Duration = Duration::ms(100);
    pub const PEER_ISN: u32 = 1_000_000;
    pub const WINDOW: u16 = 65535;
}

impl Spec {
    /// The profile (all defaults when the spec has none).
    pub fn profile(&self) -> Profile {
        self.profile
            .as_ref()
            .map(|p| p.value.clone())
            .unwrap_or_default()
    }

    pub fn tolerance(&self) -> Duration {
        self.tolerance
            .as_ref()
            .map_or(defaults::TOLERANCE, |t| t.value)
    }

    /// The spec replayed in a network whose MSL is `msl` (ms or s): the
    /// `msl` durations of its steps, and the model's TIME-WAIT of 2 MSL,
    /// then mean that MSL. The header's own MSL is what the spec's `model`
    /// lists were checked at; a replay sets the network's.
    pub fn at_network_msl(&self, msl: Duration) -> Spec {
        let mut s = self.clone();
        s.msl.value = msl;
        s
    }

    /// The spec with `tolerance` (ms or s) in force everywhere: as its own
    /// and in place of every step's (`replay --tolerance`), so that a run
    /// of few specs at once can hold the stack, and the harness, tighter.
    pub fn with_tolerance(&self, tolerance: Duration) -> Spec {
        let mut s = self.clone();
        let at = s.tolerance.as_ref().map_or(
            (
                serde_saphyr::Location::UNKNOWN,
                serde_saphyr::Location::UNKNOWN,
            ),
            |t| (t.referenced, t.defined),
        );
        s.tolerance = Some(Spanned::new(tolerance, at.0, at.1));
        for step in &mut s.steps {
            match &mut step.value {
                Step::Expect(e) => e.tolerance = None,
                Step::ExpectState(e) => e.tolerance = None,
                _ => {}
            }
        }
        s
    }

    /// MSL in milliseconds (validation makes sure `msl` is in ms or s).
    pub fn msl_ms(&self) -> u64 {
        self.msl.value.to_ms(0, 0)
    }

    /// TIME-WAIT in milliseconds (default 2 x MSL).
    pub fn time_wait_ms(&self) -> u64 {
        let msl = self.msl_ms();
        match &self.time_wait {
            Some(d) => d.value.to_ms(msl, 2 * msl),
            None => 2 * msl,
        }
    }

    /// The peer's ISN in the first incarnation.
    pub fn first_peer_isn(&self) -> u32 {
        self.peer_isn.unwrap_or(defaults::PEER_ISN)
    }

    /// A duration of this spec in milliseconds.
    pub fn ms(&self, d: Duration) -> u64 {
        d.to_ms(self.msl_ms(), self.time_wait_ms())
    }
}

/// Two specs are equal when their values are, wherever in a file they were.
impl PartialEq for Spec {
    fn eq(&self, o: &Spec) -> bool {
        let v = |x: &Option<serde_saphyr::Spanned<Duration>>| x.as_ref().map(|s| s.value);
        let names = |l: &Vec<Spanned<VariantName>>| l.iter().map(|s| s.value).collect::<Vec<_>>();
        self.name.value == o.name.value
            && self.description == o.description
            && self.tags == o.tags
            && self.role.value == o.role.value
            && self.profile.as_ref().map(|p| &p.value) == o.profile.as_ref().map(|p| &p.value)
            && self.msl.value == o.msl.value
            && v(&self.time_wait) == v(&o.time_wait)
            && v(&self.tolerance) == v(&o.tolerance)
            && self.peer_isn == o.peer_isn
            && names(&self.model.value.pass) == names(&o.model.value.pass)
            && names(&self.model.value.fail) == names(&o.model.value.fail)
            && self.steps.len() == o.steps.len()
            && self
                .steps
                .iter()
                .zip(&o.steps)
                .all(|(a, b)| a.value == b.value)
    }
}
