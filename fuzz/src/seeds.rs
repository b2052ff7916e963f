//! The seed corpus, built from what the repository already commits so that
//! nothing is kept twice: every spec under `specs/` (generated, reviewed
//! and the error corpus), every frame of the findings' captures
//! (`reports/findings/pcap/`), and the agent transcript
//! `fuzz/seeds/agent-replies.jsonl` (real replies of the smoltcp agent),
//! whose frames also seed the frame parser, and every spec exported as a
//! packetdrill script with the example scripts beside the importer's tests. Regression inputs (crashes
//! found and fixed) are in `fuzz/regressions/TARGET/`.

use crate::Target;
use pcap_file::pcap::PcapReader;
use std::path::{Path, PathBuf};
use timewait_conformance::backends::agent::protocol;
use timewait_specs::load;

/// One input, named after where it came from.
#[derive(Clone, Debug)]
pub struct Seed {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Why the seed corpus could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a readable capture: {detail}", path.display())]
    Pcap { path: PathBuf, detail: String },
    #[error("{}: no seed found there; the {target} target needs at least one", path.display())]
    Empty { target: &'static str, path: PathBuf },
    #[error("{0}")]
    Specs(#[from] load::LoadError),
}

/// The workspace root, where the committed specs and captures are.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SeedError + '_ {
    move |source| SeedError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The seeds of `target`, from the files under `root`.
pub fn corpus(target: Target, root: &Path) -> Result<Vec<Seed>, SeedError> {
    let seeds = match target {
        Target::SpecLoader => specs(root)?,
        Target::AgentReply => transcript(root)?,
        Target::Frame => {
            let mut s = captures(root)?;
            s.extend(transcript_frames(root)?);
            s
        }
        Target::PacketdrillImport => packetdrill_scripts(root)?,
    };
    if seeds.is_empty() {
        return Err(SeedError::Empty {
            target: target.name(),
            path: root.to_path_buf(),
        });
    }
    Ok(seeds)
}

/// The inputs that once broke `target` (none when its directory is absent).
pub fn regressions(target: Target, root: &Path) -> Result<Vec<Seed>, SeedError> {
    let dir = root.join("fuzz/regressions").join(target.name());
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let p = entry.map_err(io(&dir))?.path();
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if p.is_file() && !hidden {
            paths.push(p);
        }
    }
    paths.sort();
    read_seeds(root, paths)
}

/// Each file as a seed named by its path under `root`; a file that cannot
/// be read is an error naming it.
fn read_seeds(root: &Path, paths: Vec<PathBuf>) -> Result<Vec<Seed>, SeedError> {
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).map_err(io(&p))?;
            Ok(Seed {
                name: rel(root, &p),
                bytes,
            })
        })
        .collect()
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

fn specs(root: &Path) -> Result<Vec<Seed>, SeedError> {
    let dirs: Vec<PathBuf> = ["specs/generated", "specs/reviewed", "specs/testdata"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    read_seeds(root, load::collect(&dirs)?)
}

/// Every committed spec as `timewait specs export --packetdrill` writes
/// it, and the example scripts in `specs/testdata/packetdrill/`.
fn packetdrill_scripts(root: &Path) -> Result<Vec<Seed>, SeedError> {
    let mut seeds = Vec::new();
    for f in load::collect(&[root.join("specs/generated"), root.join("specs/reviewed")])? {
        let spec = load::load_file(&f)?;
        let out = timewait_specs::packetdrill::export(&spec, &rel(root, &f));
        seeds.push(Seed {
            name: format!("{} exported", rel(root, &f)),
            bytes: out.script.into_bytes(),
        });
    }
    let dir = root.join("specs/testdata/packetdrill");
    let mut pkts = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let p = entry.map_err(io(&dir))?.path();
        if p.extension().and_then(|e| e.to_str()) == Some("pkt") {
            pkts.push(p);
        }
    }
    pkts.sort();
    seeds.extend(read_seeds(root, pkts)?);
    Ok(seeds)
}

fn captures(root: &Path) -> Result<Vec<Seed>, SeedError> {
    let dir = root.join("reports/findings/pcap");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let p = entry.map_err(io(&dir))?.path();
        if p.extension().and_then(|e| e.to_str()) == Some("pcap") {
            files.push(p);
        }
    }
    files.sort();
    let mut seeds = Vec::new();
    for p in files {
        let file = std::fs::File::open(&p).map_err(io(&p))?;
        let pcap_error = |e: pcap_file::PcapError| SeedError::Pcap {
            path: p.clone(),
            detail: e.to_string(),
        };
        let mut reader = PcapReader::new(file).map_err(pcap_error)?;
        let mut n = 0;
        while let Some(packet) = reader.next_packet() {
            let packet = packet.map_err(pcap_error)?;
            n += 1;
            seeds.push(Seed {
                name: format!("{}#{n}", rel(root, &p)),
                bytes: packet.data.into_owned(),
            });
        }
        if n == 0 {
            return Err(SeedError::Empty {
                target: Target::Frame.name(),
                path: p,
            });
        }
    }
    Ok(seeds)
}

fn transcript_path(root: &Path) -> PathBuf {
    root.join("fuzz/seeds/agent-replies.jsonl")
}

fn transcript(root: &Path) -> Result<Vec<Seed>, SeedError> {
    let p = transcript_path(root);
    let text = std::fs::read_to_string(&p).map_err(io(&p))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Seed {
            name: format!("{}:{}", rel(root, &p), i + 1),
            bytes: l.as_bytes().to_vec(),
        })
        .collect())
}

/// The frames the agent sent in the transcript, as the harness frames them.
fn transcript_frames(root: &Path) -> Result<Vec<Seed>, SeedError> {
    let mut seeds = Vec::new();
    for line in transcript(root)? {
        let text = protocol::reply_line(&line.bytes);
        let Ok(reply) = protocol::parse_reply(&text) else {
            continue;
        };
        for (i, hex_packet) in reply.frames.iter().enumerate() {
            let frame = protocol::packet_frame(hex_packet).map_err(|e| SeedError::Pcap {
                path: transcript_path(root),
                detail: format!("{}: frame {} is not hex: {e}", line.name, i + 1),
            })?;
            seeds.push(Seed {
                name: format!("{}#{}", line.name, i + 1),
                bytes: frame,
            });
        }
    }
    Ok(seeds)
}
