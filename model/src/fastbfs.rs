//! A parallel, level-synchronous breadth-first search over any stateright
//! [`Model`], sized for a machine with a few cores and a few GiB.
//!
//! stateright 0.31's BFS keeps every generated state twice over: in a queue
//! entry that carries the full state and its whole action path, and as a
//! (fingerprint, parent fingerprint) pair in a `DashMap`, about 530 bytes per
//! unique state of the teardown model. This engine keeps
//!
//! - the visited set as 64-bit fingerprints only, in shards of open-addressed
//!   `u64` tables (no allocation per entry, no parent links: shortest traces
//!   come from [`crate::search::shortest_discovery`] once a discovery is
//!   known), and
//! - states only for the level being expanded and the next one, in chunks
//!   that are freed as soon as a worker has expanded them, and there not as
//!   values but in their serde encoding by postcard (variable-length
//!   integers: a teardown state of 376 bytes in memory takes 40 to 70), so
//!   that a level of tens of millions of states fits in a few hundred MB;
//!   past [`Options::frontier_memory`], further chunks of a level go to an
//!   unnamed temporary file (`O_TMPFILE` in `$TMPDIR`, which the kernel
//!   deletes when the process ends, however it ends) and are read back in
//!   turn when their level is expanded.
//!
//! The checking semantics are stateright's (`checker/bfs.rs`), so that both
//! engines give the same verdicts and counts on every run that completes:
//!
//! - initial states outside [`Model::within_boundary`] are dropped; each kept
//!   initial state counts as generated, duplicates included;
//! - every successor inside the boundary counts as generated, whether or not
//!   it was seen before (`state_count`); the unique count is the size of the
//!   visited set (`unique_state_count`);
//! - every property is evaluated on every unique state when it is expanded:
//!   an `always` property is discovered by a state where it is false, a
//!   `sometimes` property by a state where it is true;
//! - a state at which every property is discovered is not expanded;
//! - the run ends when every property is discovered (stateright then stops
//!   after its current block of states; this engine at the end of the level,
//!   so the count of such a run is deterministic, but differs from
//!   stateright's), or the frontier is empty, or a limit is hit;
//! - the maximum depth is that of the deepest expanded state, the initial
//!   states being at depth 1.
//!
//! `eventually` properties are refused: stateright's handling of them in BFS
//! is path-dependent, and the teardown model has none.
//!
//! A state's fingerprint is the 64-bit aHash (with stateright's fixed keys)
//! of its encoding. The encoding is a function of the state and decodes back
//! to it, so two states share an encoding exactly when they are equal, and
//! the visited set sees the states stateright's `Hash`-based one sees; only
//! which pairs of distinct states would collide differs. Hashing one short
//! byte string also costs a fraction of hashing the state field by field.
//! [`collision_bound`] is the birthday bound on a collision happening.

use ahash::RandomState;
use serde::de::DeserializeOwned;
use serde::Serialize;
use stateright::{Expectation, Model, Property};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use thiserror::Error;

/// stateright 0.31's fingerprint keys (`stateright::stable`), so that both
/// engines identify states alike.
const KEYS: (u64, u64, u64, u64) = (123_456_789_987_654_321, 98_765_432_123_456_789, 0, 0);

/// The 64-bit fingerprint of a state's encoding.
pub fn fingerprint(encoded: &[u8]) -> u64 {
    RandomState::with_seeds(KEYS.0, KEYS.1, KEYS.2, KEYS.3).hash_one(encoded)
}

/// The birthday bound on the probability that two of `n` distinct states
/// share a 64-bit fingerprint: n(n-1)/2 pairs, each colliding with
/// probability 2^-64, so at most n^2 / 2^65.
pub fn collision_bound(n: usize) -> f64 {
    let n = n as f64;
    (n * n / 2f64.powi(65)).min(1.0)
}

/// Why the engine cannot check a model.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EngineError {
    #[error("property {0:?} is an `eventually` property, which this engine does not check (use --engine stateright)")]
    Eventually(&'static str),
    #[error("{0} properties in one run: this engine tracks at most 64")]
    TooManyProperties(usize),
    /// The temporary file of a level that outgrew memory failed.
    #[error("the frontier's temporary file in {dir}: {why}")]
    Spill { dir: String, why: String },
    #[error("a bit array of 2^{log2_bits} bits and {hashes} hash(es) per state: expected 2^{MIN_BITSTATE_LOG2} to 2^{MAX_BITSTATE_LOG2} bits and 1 to 8 hashes")]
    Bitstate { log2_bits: u8, hashes: u8 },
    /// A state that postcard cannot encode or decode: a model whose serde
    /// implementations do not round-trip (a bug in the model, not input).
    #[error("a state could not be {what} for the frontier: {why}")]
    Codec { what: &'static str, why: String },
}

/// How the visited set remembers states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Store {
    /// Every fingerprint, exactly: the run is exhaustive up to the
    /// [`collision_bound`].
    #[default]
    Exact,
    /// Holzmann's bitstate hashing ("supertrace"): a state sets `hashes`
    /// bits of an array of 2^`log2_bits` bits and counts as seen when all
    /// of them are set already. Memory is fixed whatever the state count,
    /// and a new state whose bits happen to be set by others is never
    /// explored: the run is not exhaustive. [`Bitstate::coverage`] estimates
    /// how much it covered.
    Bitstate { log2_bits: u8, hashes: u8 },
}

/// Largest bit array: 2^36 bits, 8 GiB.
pub const MAX_BITSTATE_LOG2: u8 = 36;
/// Smallest: 2^10 bits, so that index arithmetic stays meaningful.
pub const MIN_BITSTATE_LOG2: u8 = 10;

/// Limits and parallelism of one run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub threads: usize,
    pub store: Store,
    /// Bytes of encoded states a level may hold in memory before its further
    /// chunks go to a temporary file; `None` for no limit.
    pub frontier_memory: Option<usize>,
    /// Stop once about this many states were generated (checked every chunk,
    /// so a run may overshoot by a few thousand).
    pub max_states: Option<usize>,
    pub timeout: Option<Duration>,
}

/// How far a run got; also what progress reports carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Generated states, duplicates included (stateright's `state_count`).
    pub states: usize,
    /// Distinct fingerprints (stateright's `unique_state_count`).
    pub unique: usize,
    /// Depth of the deepest expanded state; initial states are at depth 1.
    pub max_depth: usize,
}

/// Why a run stopped before the state space was exhausted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every property was discovered: nothing is left to decide.
    AllDiscovered,
    /// The state limit was reached.
    MaxStates,
    /// The timeout passed.
    Timeout,
}

/// What a run found.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The names of the discovered properties, in the model's order.
    pub discovered: Vec<&'static str>,
    pub counts: Counts,
    /// Why it stopped early; `None` when every reachable state was expanded.
    pub stop: Option<Stop>,
    /// The most states held in the frontier at once (current and next
    /// level).
    pub peak_frontier: usize,
    /// The most bytes those encoded states took in memory at once.
    pub peak_frontier_bytes: usize,
    /// Bytes of encoded states written to temporary files, over all levels.
    pub spilled_bytes: u64,
    /// What a bitstate run's bit array ended as; `None` for an exact run.
    pub bitstate: Option<Bitstate>,
    /// Levels whose every state was expanded (and so checked), the initial
    /// states being level 1. A run that a limit stopped inside level L has
    /// L - 1: in an exact run every state within L - 2 steps of an initial
    /// state was checked, which is what a capped run can still claim.
    pub complete_levels: usize,
    pub seconds: f64,
}

/// The bit array of a bitstate run at its end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bitstate {
    pub log2_bits: u8,
    pub hashes: u8,
    /// Bits set at the end.
    pub set: u64,
    /// States stored (explored or queued): those whose bits were not all set.
    pub stored: usize,
}

impl Bitstate {
    pub fn bits(&self) -> u64 {
        1u64 << self.log2_bits
    }

    /// The fraction of the array set at the end.
    pub fn fill(&self) -> f64 {
        self.set as f64 / self.bits() as f64
    }

    /// Bits per stored state: Holzmann's hash factor. Above about 100 with
    /// a few hashes, bitstate search misses almost nothing.
    pub fn hash_factor(&self) -> f64 {
        self.bits() as f64 / (self.stored.max(1)) as f64
    }

    /// The estimated fraction of reachable states the run explored. A new
    /// state is taken for a seen one when all its `hashes` bits are set
    /// already, which at fill F happens with probability F^hashes; the
    /// fill only grows, so the final F bounds it for every lookup, and the
    /// run is estimated to have covered 1 - F^hashes of the states it
    /// reached. States reachable only through a missed one are missed too
    /// and not counted: the figure is an estimate, not a bound.
    pub fn coverage(&self) -> f64 {
        1.0 - self.fill().powi(i32::from(self.hashes))
    }
}

impl Report {
    /// Stopped at a limit: undiscovered properties are not decided.
    pub fn hit_limit(&self) -> bool {
        matches!(self.stop, Some(Stop::MaxStates | Stop::Timeout))
    }

    /// Whether every reachable state was explored: an exact run that no
    /// limit stopped (a run that stopped because everything was discovered
    /// has decided every property, which is what exhaustiveness buys).
    pub fn exhaustive(&self) -> bool {
        self.bitstate.is_none() && !self.hit_limit()
    }

    pub fn collision_bound(&self) -> f64 {
        collision_bound(self.counts.unique)
    }
}

/// States per chunk of the frontier: the unit of work a thread takes, and of
/// memory freed once expanded.
const CHUNK: usize = 4096;
/// Shards of the visited set: enough that two to a few dozen threads rarely
/// wait on the same lock, few enough that each shard's table stays large.
const SHARDS: usize = 1024;

/// Encoded states, each as a little-endian u16 length and its bytes: one
/// chunk of a level.
#[derive(Default)]
struct Packed {
    bytes: Vec<u8>,
    len: usize,
}

impl Packed {
    fn with_capacity(states: usize) -> Self {
        Packed {
            bytes: Vec::with_capacity(states * 64),
            len: 0,
        }
    }

    fn push(&mut self, encoded: &[u8]) -> Result<(), EngineError> {
        let n = u16::try_from(encoded.len()).map_err(|_| EngineError::Codec {
            what: "stored",
            why: format!("{} bytes, more than a u16 length holds", encoded.len()),
        })?;
        self.bytes.extend_from_slice(&n.to_le_bytes());
        self.bytes.extend_from_slice(encoded);
        self.len += 1;
        Ok(())
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = &self.bytes[..];
        std::iter::from_fn(move || {
            let (head, tail) = rest.split_first_chunk::<2>()?;
            let n = usize::from(u16::from_le_bytes(*head));
            let (one, after) = tail.split_at(n);
            rest = after;
            Some(one)
        })
    }
}

/// Encodes `state` into `scratch`. Through a fixed buffer first: postcard's
/// slice flavour writes without a capacity check per byte, which the `Vec`
/// flavour makes, and the encoding is a good part of each step's cost.
pub(crate) fn encode<S: Serialize>(state: &S, scratch: &mut Vec<u8>) -> Result<(), EngineError> {
    let mut buf = [0u8; 512];
    scratch.clear();
    match postcard::to_slice(state, &mut buf) {
        Ok(used) => scratch.extend_from_slice(used),
        Err(postcard::Error::SerializeBufferFull) => {
            let v = std::mem::take(scratch);
            *scratch = postcard::to_extend(state, v).map_err(|e| EngineError::Codec {
                what: "encoded",
                why: e.to_string(),
            })?;
        }
        Err(e) => {
            return Err(EngineError::Codec {
                what: "encoded",
                why: e.to_string(),
            })
        }
    }
    Ok(())
}

fn decode<S: DeserializeOwned>(bytes: &[u8]) -> Result<S, EngineError> {
    postcard::from_bytes(bytes).map_err(|e| EngineError::Codec {
        what: "decoded",
        why: e.to_string(),
    })
}

fn spill_error(e: std::io::Error) -> EngineError {
    EngineError::Spill {
        dir: std::env::temp_dir().display().to_string(),
        why: e.to_string(),
    }
}

/// One level of the frontier: chunks in memory, and those past the memory
/// limit in a temporary file, each as its state count, its byte length and
/// its bytes.
#[derive(Default)]
struct Level {
    mem: Vec<Packed>,
    file: Option<File>,
    /// Chunks in the file not yet read back.
    on_disk: usize,
}

impl Level {
    fn is_empty(&self) -> bool {
        self.on_disk == 0 && self.mem.iter().all(|c| c.len == 0)
    }

    fn spill(&mut self, chunk: &Packed) -> Result<(), EngineError> {
        if self.file.is_none() {
            self.file = Some(tempfile::tempfile().map_err(spill_error)?);
        }
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| spill_error(std::io::ErrorKind::NotFound.into()))?;
        f.write_all(&(chunk.len as u64).to_le_bytes())
            .and_then(|()| f.write_all(&(chunk.bytes.len() as u64).to_le_bytes()))
            .and_then(|()| f.write_all(&chunk.bytes))
            .map_err(spill_error)?;
        self.on_disk += 1;
        Ok(())
    }

    /// Turns a level that was written into one to read.
    fn rewind(&mut self) -> Result<(), EngineError> {
        if let Some(f) = self.file.as_mut() {
            f.seek(SeekFrom::Start(0)).map_err(spill_error)?;
        }
        Ok(())
    }

    /// The next chunk to expand: from memory first, then from the file.
    fn take(&mut self) -> Result<Option<Packed>, EngineError> {
        if let Some(c) = self.mem.pop() {
            return Ok(Some(c));
        }
        if self.on_disk == 0 {
            return Ok(None);
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(None);
        };
        let mut head = [0u8; 16];
        f.read_exact(&mut head).map_err(spill_error)?;
        let (count, len) = head.split_at(8);
        let count = u64::from_le_bytes(count.try_into().unwrap_or_default());
        let len = u64::from_le_bytes(len.try_into().unwrap_or_default());
        let mut bytes = vec![0u8; len as usize];
        f.read_exact(&mut bytes).map_err(spill_error)?;
        self.on_disk -= 1;
        Ok(Some(Packed {
            bytes,
            len: count as usize,
        }))
    }
}

/// Fingerprints are already uniform hashes: the tables use them as they are.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 fingerprints are hashed")
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type Table = std::collections::HashSet<u64, BuildHasherDefault<PassThrough>>;

/// The set of fingerprints seen, in shards chosen by middle bits of the
/// fingerprint: hashbrown indexes buckets by the low bits and tags them with
/// the top seven, so a shard choice from either would skew every table.
struct Visited {
    shards: Vec<Mutex<Table>>,
    len: AtomicUsize,
}

impl Visited {
    fn new() -> Self {
        Visited {
            shards: (0..SHARDS).map(|_| Mutex::new(Table::default())).collect(),
            len: AtomicUsize::new(0),
        }
    }

    /// Inserts `fp`; true when it was new.
    fn insert(&self, fp: u64) -> bool {
        let shard = (fp >> 40) as usize % SHARDS;
        // A poisoned lock means a worker panicked inside `insert`, which
        // cannot leave a `HashSet<u64>` inconsistent: go on with it.
        let mut t = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        let new = t.insert(fp);
        if new {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        new
    }
}

/// Holzmann's bit array, shared by the workers without locks (and used by
/// each run of [`crate::swarm`]).
pub(crate) struct Bits {
    words: Vec<AtomicU64>,
    mask: u64,
    hashes: u8,
    set: AtomicU64,
    stored: AtomicUsize,
}

impl Bits {
    pub(crate) fn stored(&self) -> usize {
        self.stored.load(Ordering::Relaxed)
    }

    pub(crate) fn new(log2_bits: u8, hashes: u8) -> Self {
        let words = 1usize << (log2_bits - 6);
        Bits {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            mask: (1u64 << log2_bits) - 1,
            hashes,
            set: AtomicU64::new(0),
            stored: AtomicUsize::new(0),
        }
    }

    /// Sets the state's bits; true when one of them was clear (a new
    /// state, or one whose earlier bits another state had not all set).
    /// The bits are set one at a time, so two threads inserting the same new
    /// state at the same moment may both see a clear bit and both store it:
    /// it is then expanded twice, which costs time and nothing else, and
    /// the counts of a parallel bitstate run may exceed the exact ones by a
    /// few.
    /// The indices are double hashing over the fingerprint's two halves
    /// (Kirsch and Mitzenmacher): h1 + i * h2, h2 odd.
    pub(crate) fn insert(&self, fp: u64) -> bool {
        let h1 = fp;
        let h2 = fp.rotate_left(32).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut new = false;
        for i in 0..u64::from(self.hashes) {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) & self.mask;
            let (word, m) = ((bit >> 6) as usize, 1u64 << (bit & 63));
            if self.words[word].fetch_or(m, Ordering::Relaxed) & m == 0 {
                self.set.fetch_add(1, Ordering::Relaxed);
                new = true;
            }
        }
        if new {
            self.stored.fetch_add(1, Ordering::Relaxed);
        }
        new
    }
}

/// The visited set of a run: exact fingerprints or a bit array.
enum Seen {
    Exact(Visited),
    Bits(Bits),
}

impl Seen {
    fn insert(&self, fp: u64) -> bool {
        match self {
            Seen::Exact(v) => v.insert(fp),
            Seen::Bits(b) => b.insert(fp),
        }
    }

    fn len(&self) -> usize {
        match self {
            Seen::Exact(v) => v.len.load(Ordering::Relaxed),
            Seen::Bits(b) => b.stored.load(Ordering::Relaxed),
        }
    }

    fn bitstate(&self) -> Option<Bitstate> {
        match self {
            Seen::Exact(_) => None,
            Seen::Bits(b) => Some(Bitstate {
                log2_bits: b.mask.count_ones() as u8,
                hashes: b.hashes,
                set: b.set.load(Ordering::Relaxed),
                stored: b.stored.load(Ordering::Relaxed),
            }),
        }
    }
}

/// The bit set with one bit per property, after refusing what the engines
/// do not check (shared with [`crate::swarm`]).
pub(crate) fn property_bits<M: Model>(properties: &[Property<M>]) -> Result<u64, EngineError> {
    if let Some(p) = properties
        .iter()
        .find(|p| p.expectation == Expectation::Eventually)
    {
        return Err(EngineError::Eventually(p.name));
    }
    Ok(match properties.len() {
        64 => u64::MAX,
        n if n > 64 => return Err(EngineError::TooManyProperties(n)),
        n => (1u64 << n) - 1,
    })
}

/// The properties `state` discovers, as a bit set: an `always` property
/// where it is false, a `sometimes` one where it is true.
pub(crate) fn discoveries<M: Model>(
    model: &M,
    properties: &[Property<M>],
    state: &M::State,
) -> u64 {
    let mut bits = 0;
    for (i, p) in properties.iter().enumerate() {
        let holds = (p.condition)(model, state);
        let found = match p.expectation {
            Expectation::Always => !holds,
            // Refused by `property_bits`; a `sometimes` otherwise.
            _ => holds,
        };
        if found {
            bits |= 1 << i;
        }
    }
    bits
}

/// The state shared by the workers of one level.
struct Shared<'a, M: Model> {
    model: &'a M,
    properties: &'a [Property<M>],
    /// Bit i set: property i was discovered.
    all_bits: u64,
    discovered: AtomicU64,
    visited: Seen,
    states: AtomicUsize,
    /// Chunks of the level being expanded, taken one at a time.
    current: Mutex<Level>,
    /// Chunks of the next level.
    next: Mutex<Level>,
    frontier_memory: Option<usize>,
    spilled_bytes: AtomicU64,
    /// States in `current` and `next` together.
    frontier: AtomicUsize,
    peak_frontier: AtomicUsize,
    /// Bytes of encoded states in `current` and `next` together.
    frontier_bytes: AtomicUsize,
    peak_frontier_bytes: AtomicUsize,
    stop: Mutex<Option<Stop>>,
    /// The first codec error; it stops the run.
    error: Mutex<Option<EngineError>>,
    stopping: AtomicBool,
    max_states: Option<usize>,
    deadline: Option<Instant>,
}

impl<M> Shared<'_, M>
where
    M: Model,
    M::State: Serialize + DeserializeOwned,
{
    fn halt(&self, why: Stop) {
        let mut s = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        s.get_or_insert(why);
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Counts a chunk into the frontier: its states always, its bytes when
    /// it is kept in memory.
    fn grow_frontier(&self, chunk: &Packed, in_memory: bool) {
        let n = chunk.len;
        let now = self.frontier.fetch_add(n, Ordering::Relaxed) + n;
        self.peak_frontier.fetch_max(now, Ordering::Relaxed);
        if in_memory {
            let b = chunk.bytes.capacity();
            let now = self.frontier_bytes.fetch_add(b, Ordering::Relaxed) + b;
            self.peak_frontier_bytes.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// Counts an expanded chunk out; `from_memory` as it was counted in.
    fn shrink_frontier(&self, chunk: &Packed, from_memory: bool) {
        self.frontier.fetch_sub(chunk.len, Ordering::Relaxed);
        if from_memory {
            self.frontier_bytes
                .fetch_sub(chunk.bytes.capacity(), Ordering::Relaxed);
        }
    }

    fn fail(&self, e: EngineError) {
        self.error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(e);
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn discoveries(&self, state: &M::State) -> u64 {
        discoveries(self.model, self.properties, state)
    }

    /// Expands chunks of the current level until none is left.
    fn work(&self) {
        if let Err(e) = self.expand() {
            self.fail(e);
        }
    }

    fn expand(&self) -> Result<(), EngineError> {
        let mut actions = Vec::new();
        let mut scratch = Vec::with_capacity(256);
        let mut out = Packed::with_capacity(CHUNK);
        loop {
            if self.stopping.load(Ordering::Relaxed) {
                break;
            }
            let (chunk, from_memory) = {
                let mut c = self.current.lock().unwrap_or_else(|e| e.into_inner());
                let in_memory = !c.mem.is_empty();
                (c.take()?, in_memory)
            };
            let Some(chunk) = chunk else { break };
            let mut generated = 0;
            for bytes in chunk.iter() {
                let state: M::State = decode(bytes)?;
                let found = self.discoveries(&state);
                if found != 0 {
                    self.discovered.fetch_or(found, Ordering::Relaxed);
                }
                // stateright does not expand a state that discovers every
                // property: nothing is left to look for.
                if found == self.all_bits {
                    continue;
                }
                self.model.actions(&state, &mut actions);
                for a in actions.drain(..) {
                    let Some(next) = self.model.next_state(&state, a) else {
                        continue;
                    };
                    if !self.model.within_boundary(&next) {
                        continue;
                    }
                    generated += 1;
                    encode(&next, &mut scratch)?;
                    if self.visited.insert(fingerprint(&scratch)) {
                        out.push(&scratch)?;
                        if out.len == CHUNK {
                            self.push_next(&mut out)?;
                        }
                    }
                }
            }
            self.shrink_frontier(&chunk, from_memory);
            let total = self.states.fetch_add(generated, Ordering::Relaxed) + generated;
            if self.max_states.is_some_and(|m| total >= m) {
                self.halt(Stop::MaxStates);
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.halt(Stop::Timeout);
            }
        }
        if out.len > 0 {
            self.push_next(&mut out)?;
        }
        Ok(())
    }

    /// Hands a full chunk to the next level: kept in memory while the
    /// frontier's bytes stay within the limit, written to the level's
    /// temporary file past it.
    fn push_next(&self, out: &mut Packed) -> Result<(), EngineError> {
        let mut full = std::mem::replace(out, Packed::with_capacity(CHUNK));
        // The chunk was sized for states of 64 bytes; give back the rest.
        full.bytes.shrink_to_fit();
        let fits = self.frontier_memory.is_none_or(|limit| {
            self.frontier_bytes.load(Ordering::Relaxed) + full.bytes.capacity() <= limit
        });
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        if fits {
            self.grow_frontier(&full, true);
            next.mem.push(full);
        } else {
            next.spill(&full)?;
            self.spilled_bytes
                .fetch_add(full.bytes.len() as u64, Ordering::Relaxed);
            self.grow_frontier(&full, false);
        }
        Ok(())
    }

    fn counts(&self, max_depth: usize) -> Counts {
        Counts {
            states: self.states.load(Ordering::Relaxed),
            unique: self.visited.len(),
            max_depth,
        }
    }
}

/// Explores `model` breadth-first, level by level, on `opts.threads`
/// threads, calling `progress` about every `every` while it runs.
pub fn explore<M>(
    model: &M,
    opts: &Options,
    every: Duration,
    progress: &mut dyn FnMut(&Counts),
) -> Result<Report, EngineError>
where
    M: Model + Sync,
    M::State: Serialize + DeserializeOwned + Send + Sync,
{
    let start = Instant::now();
    let properties = model.properties();
    let all_bits = property_bits(&properties)?;
    let visited = match opts.store {
        Store::Exact => Seen::Exact(Visited::new()),
        Store::Bitstate { log2_bits, hashes } => {
            if !(MIN_BITSTATE_LOG2..=MAX_BITSTATE_LOG2).contains(&log2_bits)
                || !(1..=8).contains(&hashes)
            {
                return Err(EngineError::Bitstate { log2_bits, hashes });
            }
            Seen::Bits(Bits::new(log2_bits, hashes))
        }
    };
    let shared = Shared {
        model,
        properties: &properties,
        all_bits,
        discovered: AtomicU64::new(0),
        visited,
        states: AtomicUsize::new(0),
        current: Mutex::new(Level::default()),
        next: Mutex::new(Level::default()),
        frontier_memory: opts.frontier_memory,
        spilled_bytes: AtomicU64::new(0),
        frontier: AtomicUsize::new(0),
        peak_frontier: AtomicUsize::new(0),
        frontier_bytes: AtomicUsize::new(0),
        peak_frontier_bytes: AtomicUsize::new(0),
        stop: Mutex::new(None),
        error: Mutex::new(None),
        stopping: AtomicBool::new(false),
        max_states: opts.max_states,
        deadline: opts.timeout.map(|t| start + t),
    };
    let inits: Vec<M::State> = model
        .init_states()
        .into_iter()
        .filter(|s| model.within_boundary(s))
        .collect();
    shared.states.store(inits.len(), Ordering::Relaxed);
    // Every initial state is expanded, a repeated one once per occurrence,
    // as stateright queues them all: its generated count includes their
    // successors each time.
    let mut level = Packed::with_capacity(inits.len());
    let mut scratch = Vec::new();
    for s in &inits {
        encode(s, &mut scratch)?;
        shared.visited.insert(fingerprint(&scratch));
        level.push(&scratch)?;
    }
    shared.grow_frontier(&level, true);
    let mut chunks = Level {
        mem: vec![level],
        ..Level::default()
    };
    let mut depth = 0;
    let mut complete_levels = 0;
    let threads = opts.threads.max(1);
    let mut last_report = Instant::now();
    // With nothing to check, stateright stops at once (every one of no
    // properties is discovered); so does this.
    let all_discovered = |s: &Shared<M>| s.discovered.load(Ordering::Relaxed) == s.all_bits;
    while !chunks.is_empty() && !all_discovered(&shared) {
        if shared.stopping.load(Ordering::Relaxed) {
            break;
        }
        depth += 1;
        *shared.current.lock().unwrap_or_else(|e| e.into_inner()) = chunks;
        let done = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            // Workers wake this thread when they finish, so that a small
            // level costs no polling delay; it wakes by itself to report.
            let main = std::thread::current();
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let main = main.clone();
                    let (shared, done) = (&shared, &done);
                    scope.spawn(move || {
                        // Count and wake even if the model panics in `work`.
                        struct Wake<'d>(std::thread::Thread, &'d AtomicUsize);
                        impl Drop for Wake<'_> {
                            fn drop(&mut self) {
                                self.1.fetch_add(1, Ordering::Release);
                                self.0.unpark();
                            }
                        }
                        let _wake = Wake(main, done);
                        shared.work()
                    })
                })
                .collect();
            while done.load(Ordering::Acquire) < threads {
                std::thread::park_timeout(Duration::from_millis(200));
                if last_report.elapsed() >= every {
                    last_report = Instant::now();
                    progress(&shared.counts(depth));
                }
            }
            for h in handles {
                if let Err(panic) = h.join() {
                    // The model panicked: stateright propagates it too.
                    std::panic::resume_unwind(panic);
                }
            }
        });
        chunks = std::mem::take(&mut *shared.next.lock().unwrap_or_else(|e| e.into_inner()));
        if let Err(e) = chunks.rewind() {
            shared.fail(e);
        }
        // A level is complete when no chunk of it is left: a worker that
        // takes a chunk expands all of it, even after a limit is reached.
        // Then drop what a stopped level left unexpanded.
        let mut current = shared.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.is_empty() {
            complete_levels = depth;
        }
        *current = Level::default();
    }
    if let Some(e) = shared
        .error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        return Err(e);
    }
    let complete = chunks.is_empty();
    let stop = shared.stop.lock().unwrap_or_else(|e| e.into_inner()).take();
    let stop = match stop {
        Some(s) => Some(s),
        None if all_discovered(&shared) && !complete => Some(Stop::AllDiscovered),
        None => None,
    };
    let discovered_bits = shared.discovered.load(Ordering::Relaxed);
    Ok(Report {
        discovered: properties
            .iter()
            .enumerate()
            .filter(|(i, _)| discovered_bits & (1 << i) != 0)
            .map(|(_, p)| p.name)
            .collect(),
        counts: shared.counts(depth),
        stop,
        peak_frontier: shared.peak_frontier.load(Ordering::Relaxed),
        peak_frontier_bytes: shared.peak_frontier_bytes.load(Ordering::Relaxed),
        spilled_bytes: shared.spilled_bytes.load(Ordering::Relaxed),
        bitstate: shared.visited.bitstate(),
        complete_levels,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::Checker;

    /// Walks on a cube of side `side`, from the origin, one axis at a time:
    /// many paths to each state, so the visited set does real work.
    struct Cube {
        side: u8,
        props: Vec<Property<Cube>>,
        boundary: u8,
    }

    impl Model for Cube {
        type State = (u8, u8, u8);
        type Action = u8;
        fn init_states(&self) -> Vec<Self::State> {
            vec![(0, 0, 0), (0, 0, 0)]
        }
        fn actions(&self, s: &Self::State, out: &mut Vec<u8>) {
            for (axis, v) in [s.0, s.1, s.2].into_iter().enumerate() {
                if v < self.side {
                    out.push(axis as u8);
                }
            }
        }
        fn next_state(&self, s: &Self::State, a: u8) -> Option<Self::State> {
            Some(match a {
                0 => (s.0 + 1, s.1, s.2),
                1 => (s.0, s.1 + 1, s.2),
                _ => (s.0, s.1, s.2 + 1),
            })
        }
        fn properties(&self) -> Vec<Property<Self>> {
            self.props.clone()
        }
        fn within_boundary(&self, s: &Self::State) -> bool {
            s.0 <= self.boundary
        }
    }

    fn holds() -> Property<Cube> {
        Property::always("in the cube", |m: &Cube, s: &(u8, u8, u8)| {
            s.0 <= m.side && s.1 <= m.side && s.2 <= m.side
        })
    }

    fn corner() -> Property<Cube> {
        Property::sometimes("far corner", |m: &Cube, s: &(u8, u8, u8)| {
            *s == (m.side, m.side, m.side)
        })
    }

    const FREE: Options = Options {
        threads: 2,
        store: Store::Exact,
        frontier_memory: None,
        max_states: None,
        timeout: None,
    };

    fn run(m: &Cube, opts: &Options) -> Report {
        explore(m, opts, Duration::from_secs(3600), &mut |_| {}).expect("always and sometimes only")
    }

    #[test]
    fn an_exhaustive_run_counts_what_stateright_counts() {
        let m = Cube {
            side: 12,
            props: vec![holds(), corner()],
            boundary: 9,
        };
        let ours = run(&m, &FREE);
        let theirs = Cube {
            side: 12,
            props: vec![holds(), corner()],
            boundary: 9,
        }
        .checker()
        .spawn_bfs()
        .join();
        assert_eq!(ours.stop, None);
        assert_eq!(ours.counts.unique, 10 * 13 * 13, "x is bounded by 9");
        assert_eq!(ours.counts.unique, theirs.unique_state_count());
        assert_eq!(ours.counts.states, theirs.state_count());
        assert_eq!(ours.counts.max_depth, theirs.max_depth());
        // The corner has x = 12, outside the boundary: never discovered.
        assert!(ours.discovered.is_empty(), "{:?}", ours.discovered);
        assert!(theirs.discovery("far corner").is_none());
    }

    #[test]
    fn one_thread_and_many_agree() {
        let m = Cube {
            side: 15,
            props: vec![holds()],
            boundary: 15,
        };
        let one = run(&m, &Options { threads: 1, ..FREE });
        let four = run(&m, &Options { threads: 4, ..FREE });
        assert_eq!(one.counts, four.counts);
        assert_eq!(one.counts.unique, 16 * 16 * 16);
        assert_eq!(one.counts.max_depth, 46, "from 0+0+0 to 15+15+15");
    }

    #[test]
    fn a_run_stops_at_the_end_of_the_level_that_discovers_everything() {
        let m = Cube {
            side: 6,
            props: vec![corner()],
            boundary: 6,
        };
        let r = run(&m, &FREE);
        assert_eq!(r.discovered, vec!["far corner"]);
        // The corner is alone at depth 19; it is not expanded (it discovers
        // every property) and has no successors anyway: the space is done.
        assert_eq!(r.counts.max_depth, 19);
        assert_eq!(r.counts.unique, 7 * 7 * 7);
        let m = Cube {
            side: 6,
            props: vec![Property::sometimes(
                "x is 2",
                |_: &Cube, s: &(u8, u8, u8)| s.0 == 2,
            )],
            boundary: 6,
        };
        let r = run(&m, &FREE);
        assert_eq!(r.stop, Some(Stop::AllDiscovered));
        assert_eq!(r.counts.max_depth, 3, "(2,0,0) is at depth 3");
        // Every state of coordinate sum up to 3 was generated, but (3,0,0):
        // its only predecessor (2,0,0) discovers every property, so it is
        // not expanded.
        assert_eq!(r.counts.unique, 1 + 3 + 6 + 10 - 1);
    }

    #[test]
    fn a_state_limit_makes_the_run_incomplete() {
        let m = Cube {
            side: 40,
            props: vec![holds()],
            boundary: 40,
        };
        let r = run(
            &m,
            &Options {
                max_states: Some(10_000),
                ..FREE
            },
        );
        assert_eq!(r.stop, Some(Stop::MaxStates));
        assert!(r.hit_limit());
        assert!(r.counts.states >= 10_000 && r.counts.unique < 41 * 41 * 41);
    }

    #[test]
    fn a_run_stopped_inside_a_level_names_the_levels_it_finished_and_they_were_all_checked() {
        let capped = Options {
            threads: 1,
            max_states: Some(10_000),
            ..FREE
        };
        let m = Cube {
            side: 40,
            props: vec![holds()],
            boundary: 40,
        };
        let r = run(&m, &capped);
        assert_eq!(r.stop, Some(Stop::MaxStates));
        // Level d holds the states whose coordinates sum to d - 1.
        let level = |d: usize| (d + 1) * d / 2;
        let finished = r.complete_levels;
        assert!(
            finished >= 10,
            "10,000 states reach past level 10: {finished}"
        );
        // Only the level the limit stopped in may be unfinished.
        assert!(
            finished + 1 >= r.counts.max_depth,
            "{finished} of {}",
            r.counts.max_depth
        );
        // Every state of the finished levels was expanded, so all of their
        // successors (the next level) were generated.
        let through_next: usize = (1..=finished + 1).map(level).sum();
        assert!(r.counts.unique >= through_next);
        // And checked: a violation at the last finished level is found under
        // the same limit. (The boundary carries the level into the property;
        // bounding x only makes the levels smaller, so no fewer finish.)
        let m = Cube {
            side: 40,
            props: vec![Property::always(
                "coordinates sum below the boundary",
                |m: &Cube, s: &(u8, u8, u8)| s.0 + s.1 + s.2 < m.boundary,
            )],
            boundary: (finished - 1) as u8,
        };
        let r = run(&m, &capped);
        assert_eq!(r.discovered.len(), 1, "{:?}", r.stop);
    }

    #[test]
    fn an_exhaustive_run_finishes_every_level() {
        let m = Cube {
            side: 5,
            props: vec![holds()],
            boundary: 5,
        };
        let r = run(&m, &FREE);
        assert_eq!(r.stop, None);
        assert_eq!(r.complete_levels, r.counts.max_depth);
    }

    #[test]
    fn eventually_properties_are_refused() {
        let m = Cube {
            side: 2,
            props: vec![Property::eventually(
                "somewhere",
                |_: &Cube, _: &(u8, u8, u8)| true,
            )],
            boundary: 2,
        };
        assert_eq!(
            explore(&m, &FREE, Duration::from_secs(1), &mut |_| {}),
            Err(EngineError::Eventually("somewhere"))
        );
    }

    #[test]
    fn a_frontier_past_its_memory_limit_goes_to_disk_and_counts_the_same() {
        let m = Cube {
            side: 30,
            props: vec![holds()],
            boundary: 30,
        };
        let mem = run(&m, &FREE);
        // 1 KiB: the middle levels (hundreds of states of 5 bytes each)
        // go to disk.
        let disk = run(
            &m,
            &Options {
                frontier_memory: Some(1 << 10),
                ..FREE
            },
        );
        assert_eq!(disk.counts, mem.counts);
        assert_eq!(disk.counts.unique, 31 * 31 * 31);
        assert_eq!(mem.spilled_bytes, 0);
        assert!(disk.spilled_bytes > 0);
        assert!(disk.peak_frontier_bytes <= 1 << 10);
        assert!(mem.peak_frontier_bytes > 1 << 10);
    }

    #[test]
    fn a_roomy_bit_array_stores_every_state_and_says_so() {
        let m = Cube {
            side: 15,
            props: vec![holds()],
            boundary: 15,
        };
        // One thread: with two, a state that both insert at the same moment
        // may be stored twice (see `Bits::insert`).
        let one = Options { threads: 1, ..FREE };
        let exact = run(&m, &one);
        let bits = run(
            &m,
            &Options {
                store: Store::Bitstate {
                    log2_bits: 24,
                    hashes: 3,
                },
                ..one
            },
        );
        let b = bits.bitstate.expect("a bitstate run reports its array");
        assert_eq!(bits.counts, exact.counts);
        assert_eq!(b.stored, 16 * 16 * 16);
        assert!(b.coverage() > 0.999_999, "{}", b.coverage());
        assert!(b.hash_factor() > 4000.0);
        assert!(exact.exhaustive() && !bits.exhaustive());
    }

    #[test]
    fn a_crowded_bit_array_misses_states_and_its_coverage_estimate_drops() {
        let m = Cube {
            side: 20,
            props: vec![holds(), corner()],
            boundary: 20,
        };
        let r = run(
            &m,
            &Options {
                store: Store::Bitstate {
                    log2_bits: 12,
                    hashes: 1,
                },
                ..FREE
            },
        );
        let b = r.bitstate.expect("a bitstate run reports its array");
        // 21^3 = 9261 states against 4096 bits: most are taken for seen.
        assert!(b.stored < 4096 && r.counts.unique == b.stored);
        assert!(b.coverage() < 0.5, "{}", b.coverage());
        assert!(!r.exhaustive());
        // What it did discover is real: nothing violates `in the cube`.
        assert!(!r.discovered.contains(&"in the cube"));
    }

    #[test]
    fn a_bit_array_outside_the_limits_is_refused() {
        let m = Cube {
            side: 2,
            props: vec![holds()],
            boundary: 2,
        };
        for (log2_bits, hashes) in [(9, 3), (37, 3), (20, 0), (20, 9)] {
            let opts = Options {
                store: Store::Bitstate { log2_bits, hashes },
                ..FREE
            };
            assert_eq!(
                explore(&m, &opts, Duration::from_secs(1), &mut |_| {}),
                Err(EngineError::Bitstate { log2_bits, hashes })
            );
        }
    }

    #[test]
    fn the_collision_bound_is_the_birthday_bound() {
        assert_eq!(collision_bound(0), 0.0);
        // 2^32 states: 2^64 / 2^65.
        assert_eq!(collision_bound(1 << 32), 0.5);
        assert_eq!(collision_bound(usize::MAX), 1.0);
        assert!(collision_bound(100_000_000) < 3e-4);
    }
}
