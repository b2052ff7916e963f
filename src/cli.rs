//! The command line: clap definitions and their translation into model
//! configurations.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;
use timewait_model::check::{Engine, Limits, VariantSpec};
use timewait_model::variant::{
    RstInTimeWait, SynInTimeWait, TimeWaitLen, TimeWaitRestart, TimeWaitRules,
};
use timewait_model::{Config, Preset, PropertyId};

#[derive(Parser, Debug)]
#[command(
    name = "timewait",
    version,
    about = "Proves, then tests on real TCP stacks, why TCP keeps a connection in TIME-WAIT",
    long_about = "Proves, then tests on real TCP stacks, why TCP keeps a connection in TIME-WAIT.\n\nWithout a subcommand, runs `check` over every variant with the default parameters."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Model-check variants against the properties and print the verdict table.
    Check(CheckArgs),
    /// Serve stateright's Explorer web UI on 127.0.0.1 to browse the state space.
    Explore(ExploreArgs),
    /// Print a scaling table: states, seconds and states/s by budgets and incarnations.
    Bench(BenchArgs),
    /// How many losses in a row reliable termination survives, by RTO/MSL ratio.
    Losses(LossesArgs),
    /// Whether the ISN sets are a worst case: each variant's verdicts with
    /// them and with every ISN for both sides. Exit 1 when any differs.
    Isns(IsnsArgs),
    /// The scope table: each variant's verdicts as the model's scope grows
    /// or shrinks (incarnations, fault budgets, sequence space, ISNs, a
    /// talking last incarnation), with states, seconds and exhaustiveness.
    Scope(ScopeArgs),
    /// Work with YAML trace specs: lint, check against the model, print the schema.
    #[command(subcommand)]
    Specs(SpecsCommand),
    /// Replay specs against a real TCP stack and compare with the model.
    /// Exit 0 when every result is what the model predicts (or a known
    /// divergence), 1 otherwise, 2 on invalid specs or when the stack's
    /// harness cannot run (Linux needs root).
    Replay(ReplayArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// The stack under test.
    #[arg(long, value_enum, default_value = "linux")]
    pub stack: StackArg,
    #[command(flatten)]
    pub paths: SpecPaths,
    /// Specs run at once, each in its own namespace [default: all].
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Folder for the pcap of every spec's exchange.
    #[arg(long, default_value = "reports/pcap")]
    pub out: PathBuf,
    /// Folder for the reports: conformance-STACK.md, results/STACK.json and,
    /// with `--stack all`, conformance.md.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    /// Skip the summary probes (TIME-WAIT length, RST and SYN reactions).
    /// They run only for the whole suite (no PATHS) anyway.
    #[arg(long)]
    pub no_facts: bool,
    /// Probe the summary facts again even when the cache holds them for
    /// this stack's version ($TIMEWAIT_FACTS_CACHE, else
    /// ~/.cache/timewait/facts).
    #[arg(long, conflicts_with = "no_facts")]
    pub fresh_facts: bool,
    /// One timing tolerance (ms or s, e.g. 5ms) for every spec and step,
    /// in place of their own: a run of a few specs at once can be held
    /// tighter than the whole suite can.
    #[arg(long, value_parser = parse_tolerance)]
    pub tolerance: Option<timewait_specs::values::Duration>,
    /// Known divergences, one file per stack [default: conformance/known
    /// when run in the checkout, else the lists built into the binary].
    #[arg(long)]
    pub known: Option<PathBuf>,
    /// The network's MSL the specs are replayed at (30s, 60s, 120s, ...).
    /// MSL is a property of the network, not of the stack: a spec's `msl`
    /// durations mean this, never the stack's TIME-WAIT, so a stack whose
    /// TIME-WAIT is under 2 MSL fails the specs that wait that long.
    #[arg(long, default_value = "30s", value_parser = parse_msl)]
    pub msl: timewait_specs::values::Duration,
    /// Print every spec's exchange, not only the failures'.
    #[arg(long, short)]
    pub verbose: bool,
    /// Run the suite N times on each stack and report every spec whose
    /// verdict changed between runs (a flake), with each run's counts and
    /// largest harness lateness. Writes no report, record or capture.
    /// It writes no JUnit file or summary either: a flake hunt is not a verdict.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..),
          conflicts_with_all = ["junit", "summary_md"])]
    pub repeat: Option<u32>,
    #[command(flatten)]
    pub ci: CiArgs,
}

/// The CI outputs of `check`, `specs check` and `replay` (README, "Running
/// timewait in CI").
#[derive(Args, Debug, Clone, Default)]
pub struct CiArgs {
    /// Write the verdicts as JUnit XML, one testcase per verdict (its
    /// folder is created).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a short Markdown summary for a CI job summary (its folder is
    /// created); it is also appended to $GITHUB_STEP_SUMMARY when that is set.
    #[arg(long, value_name = "FILE")]
    pub summary_md: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchTarget {
    Model,
    Replay,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackArg {
    /// Linux's TCP, each spec with its own sysctl profile (root).
    Linux,
    /// Linux with net.ipv4.tcp_rfc1337=1 on every spec (root).
    LinuxRfc1337,
    /// smoltcp in this process, virtual clock.
    Smoltcp,
    /// lwIP through its agent, virtual clock (liblwip-dev, gcc).
    Lwip,
    /// gVisor's netstack through its agent, virtual clock (golang-go, golang-gvisor-gvisor-dev).
    Gvisor,
    /// lwIP's agent on a TAP interface, real time (root, liblwip-dev).
    LwipTap,
    /// Debian 12's Linux 6.1 in QEMU, each spec with its own profile, one
    /// guest per spec, real time (root, qemu-system-x86; the kernel and
    /// busybox are fetched into the cache). Not part of `all` yet.
    #[value(name = "linux-6.1-vm")]
    LinuxVm,
    /// PyTCP (pure Python) on a TAP interface, real time (root; scripts/test installs it).
    Pytcp,
    /// Every stack above, then the matrix report (reports/conformance.md).
    All,
}

#[derive(Subcommand, Debug)]
pub enum SpecsCommand {
    /// Validate spec files and folders; print every problem with file:line:column.
    /// Exit 0 when all are valid, 2 otherwise.
    Lint(SpecPaths),
    /// Play each spec against every model variant and compare with the spec's
    /// `model` section. Exit 0 when all agree, 1 on a disagreement, 2 on invalid specs.
    Check(SpecCheckArgs),
    /// Print the JSON Schema of the spec format (committed as specs/schema.json).
    Schema(SchemaArgs),
    /// Generate specs from the model's witnesses, counterexamples and coverage
    /// paths into a folder, with a coverage table. Exit 0 written (or, with
    /// --check, up to date), 1 with --check when the folder differs.
    Gen(GenArgs),
    /// Translate a packetdrill script (its TCP subset) into a spec. Every
    /// construct that does not translate is reported as file:line:column;
    /// exit 2 when there is any.
    Import(ImportArgs),
    /// Write a spec as a script packetdrill runs unchanged; steps it cannot
    /// run are kept as comments and listed on stderr.
    Export(ExportArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The packetdrill script (.pkt).
    pub script: PathBuf,
    /// Write the spec here (its name is the file's stem) instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// Write a packetdrill script (the only export format).
    #[arg(long, required = true)]
    pub packetdrill: bool,
    /// The spec to export.
    pub spec: PathBuf,
    /// Write the script here instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct GenArgs {
    /// Folder to write into; its other .yaml files are removed.
    #[arg(long, default_value = "specs/generated")]
    pub out: PathBuf,
    /// Real MSL one model MSL stands for (e.g. 30s, Linux's assumption).
    #[arg(long, default_value = "30s")]
    pub msl: String,
    /// Reviewed specs to include in the coverage table.
    #[arg(long, default_value = "specs/reviewed")]
    pub reviewed: PathBuf,
    /// Write nothing; exit 1 if the folder is not what generation gives.
    #[arg(long)]
    pub check: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SpecPaths {
    /// Spec files or folders (searched for *.yaml) [default: specs/reviewed
    /// and specs/generated].
    pub paths: Vec<PathBuf>,
}

impl SpecPaths {
    pub fn or_default(&self) -> Vec<PathBuf> {
        if self.paths.is_empty() {
            ["specs/reviewed", "specs/generated"]
                .iter()
                .map(PathBuf::from)
                .filter(|p| p.is_dir())
                .collect()
        } else {
            self.paths.clone()
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct SpecCheckArgs {
    #[command(flatten)]
    pub paths: SpecPaths,
    /// Print the model's exchange for every variant, not only for disagreements.
    #[arg(long, short)]
    pub verbose: bool,
    #[command(flatten)]
    pub ci: CiArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SchemaArgs {
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Maximum segment lifetime, in ticks.
    #[arg(long, default_value_t = Config::default().msl)]
    pub msl: u8,
    /// Size of the sequence space (even).
    #[arg(long, default_value_t = Config::default().seq_space)]
    pub seq_space: u64,
    /// Receive window (RCV.WND).
    #[arg(long, default_value_t = Config::default().window)]
    pub window: u32,
    /// ISNs the connector of a new incarnation may choose from,
    /// comma-separated, or `all` (every number of the sequence space). The
    /// first incarnation starts at 0 in both directions.
    #[arg(long, default_value_t = IsnList::Listed(timewait_model::DEFAULT_ISNS.to_vec()))]
    pub isns: IsnList,
    /// ISNs the listener of a new incarnation may choose from,
    /// comma-separated, or `all`.
    #[arg(long, default_value_t = IsnList::Listed(timewait_model::DEFAULT_LISTENER_ISNS.to_vec()))]
    pub listener_isns: IsnList,
    /// Incarnations on the same 4-tuple.
    #[arg(long, default_value_t = Config::default().incarnations)]
    pub incarnations: u8,
    /// Segments the network may lose (including segments that die at MSL).
    #[arg(long = "loss", default_value_t = Config::default().loss_budget)]
    pub loss_budget: u8,
    /// Segments the network may duplicate.
    #[arg(long = "dup", default_value_t = Config::default().dup_budget)]
    pub dup_budget: u8,
    /// Initial retransmission timeout in ticks (doubles per retry).
    #[arg(long, default_value_t = Config::default().rto)]
    pub rto: u8,
    /// Retransmissions before a sender gives up with a timeout.
    #[arg(long, default_value_t = Config::default().max_retries)]
    pub retries: u8,
    /// Data segments (1 byte each) the applications send per incarnation, in total.
    #[arg(long, default_value_t = Config::default().data_sends)]
    pub data_sends: u8,
    /// The last incarnation sends its data and closes too (without it, it
    /// only opens). Much larger state spaces: see README, "Known limits".
    #[arg(long)]
    pub last_closes: bool,
    /// Applications may ABORT (SO_LINGER 0) instead of closing: a RST and no TIME-WAIT.
    #[arg(long)]
    pub aborts: bool,
    /// Ticks the applications may let pass, in all, while nothing else runs (a slow application).
    #[arg(long, default_value_t = 0)]
    pub idle_ticks: u8,
    /// TIME-WAIT length of the short-time-wait variant, in ticks [default: MSL].
    #[arg(long)]
    pub short_time_wait: Option<u8>,
    /// Override: TIME-WAIT length: `2msl`, `none`, a number of ticks, or
    /// `linux:SECONDS` (Linux's 60 s against an assumed MSL of SECONDS).
    #[arg(long, value_parser = parse_time_wait)]
    pub time_wait: Option<TimeWaitLen>,
    /// Override: what a RST does in TIME-WAIT.
    #[arg(long, value_enum)]
    pub rst_in_time_wait: Option<RstArg>,
    /// Override: what a SYN does in TIME-WAIT.
    #[arg(long, value_enum)]
    pub syn_in_time_wait: Option<SynArg>,
    /// Override: the rule book for other segments in TIME-WAIT.
    #[arg(long, value_enum)]
    pub time_wait_rules: Option<RulesArg>,
    /// Override: which segments restart TIME-WAIT under the RFC rule book.
    #[arg(long, value_enum)]
    pub time_wait_restart: Option<RestartArg>,
    /// Override: RFC 7323 timestamps (PAWS, and RFC 6191's reopen on a newer timestamp).
    #[arg(long, value_enum)]
    pub timestamps: Option<OnOff>,
    /// Override: ticks an orphaned connection may stay in FIN-WAIT-2 before it
    /// is deleted silently (Linux's tcp_fin_timeout); 0 for never.
    #[arg(long)]
    pub fin_wait_2_timeout: Option<u8>,
    /// Override: bind ISNs to a clock (RFC 6528): a new incarnation's ISS lies
    /// at or after the host's old SND.NXT.
    #[arg(long, value_enum)]
    pub isn_clock: Option<OnOff>,
    /// Override: RFC 5961 section 5.2 as Linux has it (on in the Linux
    /// presets): an ACK below SND.UNA - min(window, bytes acked) gets a
    /// challenge ACK and the segment is dropped.
    #[arg(long, value_enum)]
    pub old_ack_check: Option<OnOff>,
}

/// The presets named with `--variant`, or every preset when none is.
pub fn presets_or_all(named: &[Preset]) -> Vec<Preset> {
    if named.is_empty() {
        Preset::ALL.to_vec()
    } else {
        named.to_vec()
    }
}

/// A list of ISNs, or every number of the sequence space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IsnList {
    All,
    Listed(Vec<u32>),
}

impl IsnList {
    /// The numbers, `all` expanded for a space of `seq_space` (an `all`
    /// larger than the model allows is left for config validation to name).
    pub fn values(&self, seq_space: u64) -> Vec<u32> {
        match self {
            IsnList::All => (0..seq_space.min(1 << 16)).map(|v| v as u32).collect(),
            IsnList::Listed(v) => v.clone(),
        }
    }
}

impl std::fmt::Display for IsnList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IsnList::All => f.write_str("all"),
            IsnList::Listed(v) => {
                let parts: Vec<String> = v.iter().map(u32::to_string).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

impl std::str::FromStr for IsnList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "all" {
            return Ok(IsnList::All);
        }
        s.split(',')
            .map(|v| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("expected `all` or comma-separated ISNs, got {v:?}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(IsnList::Listed)
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum RestartArg {
    EveryAcked,
    FinOnly,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum RstArg {
    Ignore,
    KillIfExact,
    KillAny,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SynArg {
    ChallengeAck,
    ReopenIfNewer,
    ReopenUnchecked,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum RulesArg {
    Rfc,
    Linux,
}

fn parse_time_wait(s: &str) -> Result<TimeWaitLen, String> {
    match s {
        "2msl" => Ok(TimeWaitLen::TwoMsl),
        "none" => Ok(TimeWaitLen::None),
        _ => {
            if let Some(secs) = s.strip_prefix("linux:") {
                return secs
                    .parse::<u16>()
                    .map(|msl_seconds| TimeWaitLen::Linux { msl_seconds })
                    .map_err(|_| format!("expected linux:SECONDS, got {s:?}"));
            }
            s.parse::<u8>().map(TimeWaitLen::Ticks).map_err(|_| {
                format!("expected 2msl, none, a number of ticks or linux:SECONDS, got {s:?}")
            })
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Checker threads [default: number of cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Stop a check after about this many generated states (the result is
    /// then incomplete); 0 for no limit [default: 150000000, about 90 s of fastbfs on 2 cores].
    #[arg(long)]
    pub max_states: Option<usize>,
    /// Stop a check after this many seconds (the result is then incomplete).
    #[arg(long)]
    pub timeout: Option<f64>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The search engine and its options, shared by `check`, `isns` and `scope`.
#[derive(Args, Debug, Clone, Default)]
pub struct EngineArgs {
    /// The search: fastbfs (a parallel level-by-level BFS keeping 64-bit
    /// fingerprints), stateright (stateright's own BFS, which keeps every
    /// state), bitstate (fastbfs with Holzmann's bit array: fixed memory,
    /// NOT exhaustive; its coverage estimate is printed) or swarm (many
    /// randomised depth-first runs, NOT exhaustive) [default: fastbfs].
    #[arg(long, value_parser = parse_engine)]
    pub engine: Option<Engine>,
    /// The bit array of `--engine bitstate`, in MiB (a power of two, 1 to
    /// 8192) [default: 1024].
    #[arg(long)]
    pub bitstate_mib: Option<u64>,
    /// Bits set per state under `--engine bitstate` (1 to 8) [default: 3].
    #[arg(long)]
    pub bitstate_hashes: Option<u8>,
    /// MiB of encoded states the fastbfs and bitstate engines keep in memory
    /// for the levels being expanded and built; further states go to an
    /// unnamed temporary file in $TMPDIR, deleted when the run ends. 0 for
    /// no limit [default: 1024].
    #[arg(long)]
    pub frontier_mib: Option<usize>,
    /// `--engine swarm`: the number of randomised depth-first runs
    /// [default: 32].
    #[arg(long)]
    pub swarm_runs: Option<usize>,
    /// `--engine swarm`: generated states after which a run stops
    /// [default: 2000000].
    #[arg(long)]
    pub swarm_states: Option<usize>,
    /// `--engine swarm`: the first run's seed; run i uses seed + i, so a
    /// run is reproduced from the seed its report gives [default: 1].
    #[arg(long)]
    pub swarm_seed: Option<u64>,
}

fn parse_engine(s: &str) -> Result<Engine, String> {
    Engine::from_name(s).ok_or_else(|| {
        let names: Vec<_> = Engine::ALL.iter().map(|e| e.name()).collect();
        format!("unknown engine {s:?}; expected one of {}", names.join(", "))
    })
}

impl LimitArgs {
    pub fn limits(&self) -> Result<Limits> {
        let mut l = Limits::default();
        if let Some(t) = self.threads {
            if t == 0 {
                bail!("--threads must be at least 1");
            }
            l.threads = t;
        }
        if let Some(m) = self.max_states {
            l.max_states = (m > 0).then_some(m);
        }
        if let Some(t) = self.timeout {
            if !(t.is_finite() && t > 0.0) {
                bail!("--timeout must be a positive number of seconds, got {t}");
            }
            l.timeout = Some(Duration::from_secs_f64(t));
        }
        self.engine.apply(&mut l)?;
        Ok(l)
    }
}

impl EngineArgs {
    /// Sets the engine and its options in `l`, refusing options of another
    /// engine than the one chosen.
    pub fn apply(&self, l: &mut Limits) -> Result<()> {
        if let Some(e) = self.engine {
            l.engine = e;
        }
        if (self.bitstate_mib.is_some() || self.bitstate_hashes.is_some())
            && l.engine != Engine::Bitstate
        {
            bail!("--bitstate-mib and --bitstate-hashes apply to --engine bitstate only");
        }
        if let Some(mib) = self.bitstate_mib {
            if !mib.is_power_of_two() || mib > 8192 {
                bail!("--bitstate-mib must be a power of two from 1 to 8192, got {mib}");
            }
            // 2^23 bits per MiB.
            l.bitstate_log2 = mib.trailing_zeros() as u8 + 23;
        }
        if (self.swarm_runs.is_some() || self.swarm_states.is_some() || self.swarm_seed.is_some())
            && l.engine != Engine::Swarm
        {
            bail!("--swarm-runs, --swarm-states and --swarm-seed apply to --engine swarm only");
        }
        if let Some(n) = self.swarm_runs {
            if n == 0 {
                bail!("--swarm-runs must be at least 1");
            }
            l.swarm_runs = n;
        }
        if let Some(n) = self.swarm_states {
            if n == 0 {
                bail!("--swarm-states must be at least 1");
            }
            l.swarm_states = n;
        }
        if let Some(s) = self.swarm_seed {
            l.swarm_seed = s;
        }
        if let Some(m) = self.frontier_mib {
            l.frontier_memory = (m > 0).then(|| m.saturating_mul(1 << 20));
        }
        if let Some(k) = self.bitstate_hashes {
            if !(1..=8).contains(&k) {
                bail!("--bitstate-hashes must be 1 to 8, got {k}");
            }
            l.bitstate_hashes = k;
        }
        Ok(())
    }
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// Variant to check (repeatable): one of the presets [default: all].
    #[arg(long = "variant", value_parser = parse_preset)]
    pub variants: Vec<Preset>,
    /// Check every preset (the default when no --variant is given).
    #[arg(long, conflicts_with = "variants")]
    pub all_variants: bool,
    /// Property to check (repeatable) [default: all].
    #[arg(long = "property", value_parser = parse_property)]
    pub properties: Vec<PropertyId>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Write the results to stdout as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write a Markdown report (verdict table and counterexamples).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub ci: CiArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ExploreArgs {
    /// Variant to explore.
    #[arg(long = "variant", value_parser = parse_preset, default_value = "rfc1337")]
    pub variant: Preset,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
}

#[derive(Args, Debug, Clone)]
pub struct IsnsArgs {
    /// Variant to compare (repeatable): one of the presets [default: all].
    #[arg(long = "variant", value_parser = parse_preset)]
    pub variants: Vec<Preset>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Write the comparisons to stdout as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ScopeArgs {
    /// Variant to check (repeatable): one of the presets [default: all].
    #[arg(long = "variant", value_parser = parse_preset)]
    pub variants: Vec<Preset>,
    /// Scope to run (repeatable), by its name in the table [default: all].
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Stop each run after about this many generated states (its verdicts
    /// are then `incomplete`, marked not exhaustive); 0 for no limit.
    #[arg(long, default_value_t = 20_000_000)]
    pub max_states: usize,
    /// Stop each run after this many seconds.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Checker threads [default: number of cores].
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Write the table into this Markdown file, between the scope-table
    /// markers (appended if they are missing); `check --report` keeps the
    /// block when it rewrites the file.
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
    /// With --report: keep the rows of the variants this run does not cover
    /// from the table already in the report, so that a change to some
    /// presets re-runs only those. The run must cover every scope, and the
    /// table must have been written with the same --max-states, --timeout
    /// and engine.
    #[arg(long, requires = "report")]
    pub merge: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct LossesArgs {
    /// MSLs to try, in ticks, comma-separated; RTO stays fixed, so each is
    /// one RTO/MSL ratio (8 needs more than 50 million states at 4 losses).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1u8, 2, 4])]
    pub msl: Vec<u8>,
    /// Initial RTO in ticks.
    #[arg(long, default_value_t = 1)]
    pub rto: u8,
    /// Retransmissions before a sender gives up (lowered where the tick
    /// horizon requires).
    #[arg(long, default_value_t = 6)]
    pub retries: u8,
    /// The variant to sweep.
    #[arg(long, default_value = "rfc1337", value_parser = parse_preset)]
    pub variant: Preset,
    /// Stop a run after about this many generated states; 0 for no limit.
    #[arg(long, default_value_t = 50_000_000)]
    pub max_states: usize,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// What to measure: the model checker, or the replay engine on Linux.
    #[arg(value_enum, default_value = "model")]
    pub target: BenchTarget,
    /// Round trips measured by `bench replay`.
    #[arg(long, default_value_t = 2000)]
    pub round_trips: usize,
    /// Only budgets 0..1 and incarnations 1..2 (a quick look).
    #[arg(long)]
    pub quick: bool,
    /// Variant to measure.
    #[arg(long = "variant", value_parser = parse_preset, default_value = "rfc1337")]
    pub variant: Preset,
    #[command(flatten)]
    pub limits: LimitArgs,
}

fn parse_preset(s: &str) -> Result<Preset, String> {
    Preset::from_name(s).ok_or_else(|| {
        let names: Vec<_> = Preset::ALL.iter().map(|p| p.name()).collect();
        // The linter's wording and "did you mean" for the same names.
        let hint = timewait_specs::suggest::hint(s, &names);
        format!("unknown model variant `{s}`{hint}")
    })
}

fn parse_property(s: &str) -> Result<PropertyId, String> {
    PropertyId::from_name(s).ok_or_else(|| {
        let names: Vec<_> = PropertyId::ALL.iter().map(|p| p.name()).collect();
        format!(
            "unknown property {s:?}, expected one of: {}",
            names.join(", ")
        )
    })
}

impl ModelArgs {
    /// The parameters shared by every variant of a run.
    pub fn base_config(&self) -> Config {
        Config {
            msl: self.msl,
            seq_space: self.seq_space,
            window: self.window,
            isns: self.isns.values(self.seq_space),
            listener_isns: self.listener_isns.values(self.seq_space),
            incarnations: self.incarnations,
            loss_budget: self.loss_budget,
            dup_budget: self.dup_budget,
            rto: self.rto,
            max_retries: self.retries,
            data_sends: self.data_sends,
            last_closes: self.last_closes,
            aborts: self.aborts,
            idle_ticks: self.idle_ticks,
            ..Config::default()
        }
    }

    pub fn has_overrides(&self) -> bool {
        self.time_wait.is_some()
            || self.rst_in_time_wait.is_some()
            || self.syn_in_time_wait.is_some()
            || self.time_wait_rules.is_some()
            || self.time_wait_restart.is_some()
            || self.timestamps.is_some()
            || self.fin_wait_2_timeout.is_some()
            || self.isn_clock.is_some()
            || self.old_ack_check.is_some()
    }

    /// The variant `p` with the parameters and switch overrides applied.
    pub fn variant(&self, p: Preset) -> Result<VariantSpec> {
        let base = self.base_config();
        let short = self.short_time_wait.unwrap_or(self.msl);
        let mut v = VariantSpec::preset(p, &base, short)
            .with_context(|| format!("invalid parameters for variant {p}"))?;
        if self.has_overrides() {
            let b = &mut v.cfg.behaviour;
            if let Some(t) = self.time_wait {
                b.time_wait = t;
            }
            if let Some(r) = self.rst_in_time_wait {
                b.rst_in_time_wait = match r {
                    RstArg::Ignore => RstInTimeWait::Ignore,
                    RstArg::KillIfExact => RstInTimeWait::KillIfExact,
                    RstArg::KillAny => RstInTimeWait::KillAny,
                };
            }
            if let Some(s) = self.syn_in_time_wait {
                b.syn_in_time_wait = match s {
                    SynArg::ChallengeAck => SynInTimeWait::ChallengeAck,
                    SynArg::ReopenIfNewer => SynInTimeWait::ReopenIfNewer,
                    SynArg::ReopenUnchecked => SynInTimeWait::ReopenUnchecked,
                };
            }
            if let Some(r) = self.time_wait_rules {
                b.time_wait_rules = match r {
                    RulesArg::Rfc => TimeWaitRules::Rfc,
                    RulesArg::Linux => TimeWaitRules::Linux,
                };
            }
            if let Some(r) = self.time_wait_restart {
                b.time_wait_restart = match r {
                    RestartArg::EveryAcked => TimeWaitRestart::EveryAcked,
                    RestartArg::FinOnly => TimeWaitRestart::FinOnly,
                };
            }
            if let Some(t) = self.timestamps {
                b.timestamps = t == OnOff::On;
            }
            if let Some(t) = self.fin_wait_2_timeout {
                b.fin_wait_2_timeout = (t > 0).then_some(t);
            }
            if let Some(c) = self.isn_clock {
                b.isn_clock = c == OnOff::On;
            }
            if let Some(c) = self.old_ack_check {
                b.old_ack_check = c == OnOff::On;
            }
            v.cfg
                .validate()
                .with_context(|| format!("invalid switches for variant {p}"))?;
            v.name = format!("{}+custom", p.name());
            v.preset = None;
        }
        Ok(v)
    }

    /// Whether every parameter is at its default, so that the presets'
    /// expected verdicts apply.
    pub fn is_default(&self) -> bool {
        !self.has_overrides()
            && self.short_time_wait.is_none_or(|t| t == self.msl)
            && self.base_config() == Config::default()
    }
}

/// A tolerance for `replay --tolerance`: a duration in ms or s, above 0.
fn parse_tolerance(s: &str) -> Result<timewait_specs::values::Duration, String> {
    use timewait_specs::values::{Duration, Unit};
    let d = Duration::parse(s)?;
    if !matches!(d.unit, Unit::Millis | Unit::Seconds) {
        return Err(format!(
            "{s:?}: a tolerance is a time (such as 5ms or 0.1s), not in msl or tw"
        ));
    }
    if d.to_ms(0, 0) == 0 {
        return Err(format!("{s:?}: a tolerance of 0 ms no real clock can meet"));
    }
    Ok(d)
}

/// An MSL for `replay --msl`: a duration in ms or s, at least 1 s.
fn parse_msl(s: &str) -> Result<timewait_specs::values::Duration, String> {
    use timewait_specs::values::{Duration, Unit};
    let d = Duration::parse(s)?;
    if !matches!(d.unit, Unit::Millis | Unit::Seconds) {
        return Err(format!(
            "{s:?}: the network's MSL is a time (such as 30s or 120s), not in msl or tw"
        ));
    }
    if d.to_ms(0, 0) < 1000 {
        return Err(format!("{s:?}: an MSL under 1 s is not a network's"));
    }
    Ok(d)
}
