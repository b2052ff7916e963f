//! The summary facts kept between runs, so that a whole-suite replay need
//! not probe a stack again (about a minute on Linux, which waits out a
//! TIME-WAIT) when nothing that decides the facts has changed. A cached
//! measurement is keyed by everything that could make it wrong: the
//! stack's version as read from the stack ([`crate::versions`]), the
//! probes' code as built, the sysctls the probes run Linux with and the
//! TIME-WAIT the harness takes the stack to have. Any change is a miss, and
//! the facts are probed again.
//!
//! Entries live in `$TIMEWAIT_FACTS_CACHE`, else `timewait/facts` in the
//! user's cache folder (`$XDG_CACHE_HOME`, else `~/.cache`), one file per
//! stack and key, written whole (a temporary file renamed into place), so
//! two runs at once never read half a file.

use crate::probe::{self, Facts};
use crate::stack::StackKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Overrides where cached facts are kept.
pub const CACHE_ENV: &str = "TIMEWAIT_FACTS_CACHE";

#[derive(Debug, Error)]
pub enum CacheError {
    #[error("no folder to keep probed facts in: set {CACHE_ENV}, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Everything a stack's measured facts depend on besides the stack's code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub stack: String,
    /// The version read from the stack (`Linux 6.18.44`, ...).
    pub version: String,
    /// The first 16 hex digits of a hash of the probes' code as built.
    pub probe_code: String,
    /// The sysctls the probes set, in order (Linux only).
    pub sysctls: Vec<(String, String)>,
    /// The stack's TIME-WAIT as the harness takes it, in ms.
    pub time_wait_ms: u64,
}

impl Key {
    /// The key of `kind`'s facts, `version` being what
    /// [`crate::versions::version`] read from it.
    pub fn of(kind: StackKind, version: &str) -> Key {
        let sysctls = match kind {
            StackKind::Linux | StackKind::LinuxRfc1337 | StackKind::LinuxVm => {
                crate::backends::linux::sysctls(&probe::profile(kind))
            }
            _ => Vec::new(),
        };
        Key {
            stack: kind.name().to_string(),
            version: version.to_string(),
            probe_code: short_hash(&[probe::SOURCE.as_bytes()]),
            sysctls,
            time_wait_ms: kind.time_wait().as_millis() as u64,
        }
    }

    /// The key as 16 hex digits, for the entry's file name.
    pub fn digest(&self) -> String {
        let mut parts: Vec<&[u8]> = vec![
            self.stack.as_bytes(),
            self.version.as_bytes(),
            self.probe_code.as_bytes(),
        ];
        for (k, v) in &self.sysctls {
            parts.push(k.as_bytes());
            parts.push(v.as_bytes());
        }
        let tw = self.time_wait_ms.to_le_bytes();
        parts.push(&tw);
        short_hash(&parts)
    }
}

/// The first 16 hex digits of a hash of `parts`, each hashed with its
/// length so that no two different lists hash the same bytes.
fn short_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One cached measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub key: Key,
    /// When the probes ended, in seconds since the Unix epoch.
    pub probed_at: u64,
    /// How long the probes took.
    pub seconds: f64,
    pub facts: Facts,
}

impl Entry {
    /// A measurement that ended now.
    pub fn new(key: Key, took: Duration, facts: Facts) -> Entry {
        Entry {
            key,
            probed_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            seconds: took.as_secs_f64(),
            facts,
        }
    }

    /// How long ago the probes ended, for people: `3 min`, `2 h`, `4 days`.
    pub fn age(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let s = now.saturating_sub(self.probed_at);
        match s {
            0..120 => format!("{s} s"),
            120..7200 => format!("{} min", s / 60),
            7200..172_800 => format!("{} h", s / 3600),
            _ => format!("{} days", s / 86_400),
        }
    }
}

/// What the cache holds for a key.
#[derive(Debug)]
pub enum Lookup {
    Hit(Box<Entry>),
    Miss,
    /// A file is there but cannot be read as an entry for the key (a
    /// killed writer cannot leave one, an edit or an older format can):
    /// a miss, with the reason.
    Unreadable(String),
}

/// The folder that holds cached facts: `$TIMEWAIT_FACTS_CACHE`, else
/// `timewait/facts` in the user's cache folder.
pub fn root() -> Result<PathBuf, CacheError> {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::cache_dir()
        .map(|d| d.join("timewait").join("facts"))
        .ok_or(CacheError::NoCacheDir)
}

/// Where the entry for `key` lives under `root`.
pub fn path(root: &Path, key: &Key) -> PathBuf {
    root.join(format!("{}-{}.json", key.stack, key.digest()))
}

/// The cached facts for `key` under `root`.
pub fn load(root: &Path, key: &Key) -> Lookup {
    let path = path(root, key);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
        Err(e) => return Lookup::Unreadable(format!("{}: {e}", path.display())),
    };
    match serde_json::from_str::<Entry>(&text) {
        Ok(e) if e.key == *key => Lookup::Hit(Box::new(e)),
        Ok(_) => Lookup::Unreadable(format!("{}: made for another key", path.display())),
        Err(e) => Lookup::Unreadable(format!("{}: {e}", path.display())),
    }
}

/// Writes `entry` under `root` whole (a temporary file renamed into
/// place); the path written.
pub fn store(root: &Path, entry: &Entry) -> Result<PathBuf, CacheError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| CacheError::Io {
            action,
            path,
            source,
        }
    };
    std::fs::create_dir_all(root).map_err(io("create", root))?;
    let path = path(root, &entry.key);
    let json = serde_json::to_string_pretty(entry).map_err(|source| CacheError::Json {
        path: path.clone(),
        source,
    })? + "\n";
    let mut tmp = tempfile::NamedTempFile::new_in(root).map_err(io("write into", root))?;
    std::io::Write::write_all(&mut tmp, json.as_bytes()).map_err(io("write", tmp.path()))?;
    tmp.persist(&path).map_err(|e| CacheError::Io {
        action: "write",
        path: path.clone(),
        source: e.error,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reaction;

    fn facts() -> Facts {
        let r = Reaction {
            replies: vec!["A seq=2 ack=2".into()],
            state_after: "TIME-WAIT".into(),
        };
        Facts {
            time_wait_ms: Some(60_000),
            fin_copies: 5,
            fin_acks: 5,
            rst_exact: r.clone(),
            rst_in_window: r.clone(),
            rst_out_of_window: r.clone(),
            syn_higher_listener: r.clone(),
            syn_higher_no_listener: r.clone(),
            syn_lower_listener: r.clone(),
            syn_lower_no_listener: r.clone(),
            reopen_isn_minus_old_snd_nxt: Some(65_537),
            syn_higher_listener_at_once: None,
            reopen_at_once_isn_minus_old_snd_nxt: None,
            syn_in_window_nonzero_ack: None,
            isns: vec![1, 2],
            lost_last_ack: r,
        }
    }

    #[test]
    fn a_stored_measurement_is_a_hit_for_its_key_only() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let key = Key::of(StackKind::Linux, "Linux 6.1.0");
        assert!(matches!(load(dir.path(), &key), Lookup::Miss));
        let entry = Entry::new(key.clone(), Duration::from_secs(61), facts());
        let written = store(&dir.path().join("new"), &entry).expect("stored");
        assert!(written.starts_with(dir.path().join("new")));
        match load(&dir.path().join("new"), &key) {
            Lookup::Hit(e) => assert_eq!(*e, entry),
            other => panic!("expected a hit, got {other:?}"),
        }
        // Another kernel is another stack: a miss.
        let other = Key::of(StackKind::Linux, "Linux 6.2.0");
        assert!(matches!(
            load(&dir.path().join("new"), &other),
            Lookup::Miss
        ));
    }

    #[test]
    fn the_key_changes_with_the_version_the_profile_and_the_probes_code() {
        let linux = Key::of(StackKind::Linux, "Linux 6.1.0");
        let newer = Key::of(StackKind::Linux, "Linux 6.1.1");
        let rfc1337 = Key::of(StackKind::LinuxRfc1337, "Linux 6.1.0");
        assert_ne!(linux.digest(), newer.digest());
        assert_ne!(linux.digest(), rfc1337.digest());
        assert!(rfc1337
            .sysctls
            .contains(&("net.ipv4.tcp_rfc1337".into(), "1".into())));
        let mut edited = linux.clone();
        edited.probe_code = short_hash(&[b"another probe.rs"]);
        assert_ne!(linux.digest(), edited.digest());
        assert_eq!(
            linux.digest(),
            Key::of(StackKind::Linux, "Linux 6.1.0").digest()
        );
    }

    #[test]
    fn a_garbled_entry_is_a_miss_that_says_why() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let key = Key::of(StackKind::Smoltcp, "smoltcp 0.14.0");
        std::fs::write(path(dir.path(), &key), "{ not json").expect("written");
        match load(dir.path(), &key) {
            Lookup::Unreadable(why) => assert!(why.contains("smoltcp-"), "{why}"),
            other => panic!("expected unreadable, got {other:?}"),
        }
    }
}
