//! Captures as pcap files (pcap-file), readable by tcpdump and Wireshark:
//! every frame the peer's wire saw, in both directions, with its time.

use crate::wire::Frame;
use pcap_file::pcap::{PcapPacket, PcapWriter};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Writes `frames` to `path`; frame times are offsets from `start`.
pub fn write(path: &Path, frames: &[Frame], start: SystemTime) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = PcapWriter::new(std::io::BufWriter::new(file))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let base = start.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    for f in frames {
        let len = u32::try_from(f.data.len()).unwrap_or(u32::MAX);
        w.write_packet(&PcapPacket::new(base + f.at, len, &f.data))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
