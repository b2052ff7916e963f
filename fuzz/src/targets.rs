//! The fuzz targets as plain functions. Each hands one input to the entry
//! point the CLI or the harness uses and checks what must hold of the
//! answer, not only that nothing panicked: an accepted spec validates again
//! and survives being written back; every diagnostic points inside the
//! input; a reply that is accepted is usable; a parsed segment fits in its
//! frame and rebuilds into the same segment. A broken invariant is an
//! [`Broken`] error; a panic inside a reader unwinds to the caller, which
//! libFuzzer and the smoke test both report.

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use std::path::PathBuf;
use timewait_conformance::backends::agent::protocol;
use timewait_conformance::wire::{self, PEER_ADDR, PEER_MAC, SUT_MAC};
use timewait_specs::{emit, load, packetdrill, validate};

/// Ethernet + IPv4 + TCP headers, each at its shortest.
const MIN_TCP_FRAME: usize = 14 + 20 + 20;
/// An ARP reply for IPv4 over Ethernet, with its Ethernet header.
const ARP_REPLY_LEN: usize = 42;

/// One fuzz target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `timewait_specs::load::load_bytes`, what `timewait specs` and the
    /// harness read spec files with.
    SpecLoader,
    /// The agent protocol's reply lines, as the agent process reader and
    /// the virtual-time agent stack take them.
    AgentReply,
    /// `timewait_conformance::wire`'s parsing of frames a stack sends.
    Frame,
    /// `timewait_specs::packetdrill::import_str`, what `timewait specs
    /// import` reads packetdrill scripts with.
    PacketdrillImport,
}

impl Target {
    pub const ALL: [Target; 4] = [
        Target::SpecLoader,
        Target::AgentReply,
        Target::Frame,
        Target::PacketdrillImport,
    ];

    /// The target's name: its libFuzzer binary is `fuzz-NAME`, its
    /// regression inputs are in `fuzz/regressions/NAME/`.
    pub fn name(self) -> &'static str {
        match self {
            Target::SpecLoader => "spec_loader",
            Target::AgentReply => "agent_reply",
            Target::Frame => "frame",
            Target::PacketdrillImport => "packetdrill_import",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Feeds `data` to the target's reader and checks its answer.
    pub fn run(self, data: &[u8]) -> Result<(), Broken> {
        match self {
            Target::SpecLoader => spec_loader(data),
            Target::AgentReply => agent_reply(data),
            Target::Frame => frame(data),
            Target::PacketdrillImport => packetdrill_import(data),
        }
    }
}

/// An invariant a reader broke on one input.
#[derive(Debug, thiserror::Error)]
#[error("{target}: {what}")]
pub struct Broken {
    pub target: &'static str,
    pub what: String,
}

fn broken(target: Target, what: impl Into<String>) -> Broken {
    Broken {
        target: target.name(),
        what: what.into(),
    }
}

/// The file name a spec input is loaded under: its own `name:` when that is
/// a plausible spec name (a spec's name must equal its file's stem, so
/// without this no input could ever be accepted), else `fuzz.yaml`.
fn spec_path(data: &[u8]) -> PathBuf {
    let text = String::from_utf8_lossy(data);
    let name = text
        .lines()
        .find_map(|l| l.strip_prefix("name:"))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 100
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .unwrap_or("fuzz");
    PathBuf::from(format!("{name}.yaml"))
}

/// The input's lines as YAML counts them (CR LF, CR and LF each end one),
/// each as its characters; invalid UTF-8 is counted as replaced.
fn yaml_lines(data: &[u8]) -> Vec<usize> {
    let text = String::from_utf8_lossy(data);
    let mut lines = Vec::new();
    let mut chars = 0;
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\n' => {
                lines.push(chars);
                chars = 0;
            }
            '\r' => {
                if it.peek() == Some(&'\n') {
                    it.next();
                }
                lines.push(chars);
                chars = 0;
            }
            _ => chars += 1,
        }
    }
    lines.push(chars);
    lines
}

fn spec_loader(data: &[u8]) -> Result<(), Broken> {
    let t = Target::SpecLoader;
    let path = spec_path(data);
    match load::load_bytes(&path, data) {
        Ok(spec) => {
            let again = validate::check(&path, &spec);
            if !again.is_empty() {
                return Err(broken(
                    t,
                    format!("an accepted spec fails validation: {again:?}"),
                ));
            }
            let yaml = emit::to_yaml(&spec);
            match load::load_str(&path, &yaml) {
                Ok(back) if back == spec => Ok(()),
                Ok(_) => Err(broken(
                    t,
                    format!("an accepted spec, written back, reads differently:\n{yaml}"),
                )),
                Err(e) => Err(broken(
                    t,
                    format!("an accepted spec, written back, is refused: {e}\n{yaml}"),
                )),
            }
        }
        Err(e) => {
            let diagnostics = e.diagnostics();
            if diagnostics.is_empty() {
                return Err(broken(t, "a refused spec has no diagnostic"));
            }
            let lines = yaml_lines(data);
            for d in &diagnostics {
                if d.file != path {
                    return Err(broken(t, format!("diagnostic names another file: {d}")));
                }
                if d.line < 1 || d.column < 1 {
                    return Err(broken(t, format!("diagnostic without a location: {d}")));
                }
                // One past the last line is the end of input (an unclosed
                // flow sequence is reported there), at its column 1.
                let inside = match lines.get(d.line as usize - 1) {
                    Some(&chars) => d.column as usize <= chars + 1,
                    None => d.line as usize == lines.len() + 1 && d.column == 1,
                };
                if !inside {
                    return Err(broken(
                        t,
                        format!(
                            "diagnostic points outside the input ({} lines, of {:?} characters): {d}",
                            lines.len(),
                            lines.get(d.line as usize - 1)
                        ),
                    ));
                }
                if d.message.trim().is_empty() {
                    return Err(broken(t, format!("diagnostic without a message: {d}")));
                }
            }
            Ok(())
        }
    }
}

/// A script that imports exports and imports again to the same steps; a
/// refused one has diagnostics, each naming the file, with a line and
/// column inside the input (lines end at LF; columns are characters).
fn packetdrill_import(data: &[u8]) -> Result<(), Broken> {
    let t = Target::PacketdrillImport;
    // `timewait specs import` refuses a file that is not UTF-8 before this.
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let path = PathBuf::from("fuzz.pkt");
    match packetdrill::import_str(&path, text, "fuzz") {
        Ok(imported) => {
            let spec = &imported.spec;
            let out = packetdrill::export(spec, "fuzz.yaml");
            let back = packetdrill::import_str(&path, &out.script, "fuzz").map_err(|e| {
                broken(
                    t,
                    format!(
                        "an imported spec, exported again, does not import: {e:?}\n{}",
                        out.script
                    ),
                )
            })?;
            if let Some(i) = packetdrill::export::first_difference(spec, &back.spec) {
                return Err(broken(
                    t,
                    format!(
                        "an imported spec, exported and imported again, differs at step {}:\n{}",
                        i + 1,
                        out.script
                    ),
                ));
            }
            Ok(())
        }
        Err(errors) => {
            if errors.is_empty() {
                return Err(broken(t, "a refused script has no diagnostic"));
            }
            let lines: Vec<usize> = text.split('\n').map(|l| l.chars().count()).collect();
            for d in &errors {
                let inside = d.line >= 1
                    && d.column >= 1
                    && lines
                        .get(d.line as usize - 1)
                        .is_some_and(|&chars| d.column as usize <= chars + 1);
                if d.file != path || !inside || d.message.trim().is_empty() {
                    return Err(broken(
                        t,
                        format!(
                            "a diagnostic without a place inside the input ({} lines): {d}",
                            lines.len()
                        ),
                    ));
                }
            }
            Ok(())
        }
    }
}

fn agent_reply(data: &[u8]) -> Result<(), Broken> {
    let t = Target::AgentReply;
    // The process reader splits stdout at newlines; each piece is a reply.
    for piece in data.split(|&b| b == b'\n') {
        let line = protocol::reply_line(piece);
        let reply = match protocol::parse_reply(&line) {
            Ok(r) => r,
            Err(e) => {
                if e.to_string().trim().is_empty() {
                    return Err(broken(t, "a refused reply has an empty error"));
                }
                continue;
            }
        };
        if reply.fatal.is_some() {
            return Err(broken(t, "a reply with `fatal` was accepted"));
        }
        if reply.app_outcome().is_err() == reply.ok {
            return Err(broken(
                t,
                format!(
                    "`ok: {}` but the application outcome is {:?}",
                    reply.ok,
                    reply.app_outcome()
                ),
            ));
        }
        for e in &reply.events {
            if !e.to_string().starts_with(&e.kind) {
                return Err(broken(t, format!("event {e:?} is shown without its kind")));
            }
        }
        for hex_packet in &reply.frames {
            let Ok(f) = protocol::packet_frame(hex_packet) else {
                continue;
            };
            if f.len() != protocol::ETH + hex_packet.len() / 2 {
                return Err(broken(
                    t,
                    format!(
                        "{} hex digits became a {}-byte frame",
                        hex_packet.len(),
                        f.len()
                    ),
                ));
            }
            frame(&f).map_err(|b| broken(t, format!("a frame in the reply: {}", b.what)))?;
        }
    }
    Ok(())
}

fn frame(data: &[u8]) -> Result<(), Broken> {
    let t = Target::Frame;
    if let Some(seg) = wire::parse_frame(data) {
        if MIN_TCP_FRAME + seg.payload.len() > data.len() {
            return Err(broken(
                t,
                format!(
                    "a {}-byte payload parsed out of a {}-byte frame",
                    seg.payload.len(),
                    data.len()
                ),
            ));
        }
        let rebuilt = wire::build_frame(&seg, SUT_MAC, PEER_MAC)
            .map_err(|e| broken(t, format!("a parsed segment cannot be rebuilt: {e}")))?;
        let back = wire::parse_frame(&rebuilt);
        // Options the spec cannot name are kept by kind only (for `exact`
        // checks), so a rebuilt frame carries none of them.
        let mut named = seg.clone();
        named.options.other.clear();
        if back.as_ref() != Some(&named) {
            return Err(broken(
                t,
                format!("segment {seg:?} rebuilt parses as {back:?}"),
            ));
        }
    }
    checksum_completion(data)?;
    if let Some(r) = wire::arp_reply(data, PEER_ADDR, PEER_MAC) {
        let asked_by = data.get(6..12);
        if r.len() != ARP_REPLY_LEN || r.get(0..6) != asked_by || r.get(6..12) != Some(&PEER_MAC) {
            return Err(broken(
                t,
                format!("an ARP reply that does not answer its asker: {r:02x?}"),
            ));
        }
    }
    Ok(())
}

/// `complete_checksum` changes nothing but the TCP checksum, and leaves a
/// checksum that verifies.
fn checksum_completion(data: &[u8]) -> Result<(), Broken> {
    let t = Target::Frame;
    let mut fixed = data.to_vec();
    wire::complete_checksum(&mut fixed);
    if fixed.len() != data.len() {
        return Err(broken(t, "complete_checksum changed the frame's length"));
    }
    let changed: Vec<usize> = (0..data.len()).filter(|&i| data[i] != fixed[i]).collect();
    if changed.len() > 2 || changed.windows(2).any(|w| w[1] != w[0] + 1) {
        return Err(broken(
            t,
            format!("complete_checksum changed bytes {changed:?}, more than one checksum"),
        ));
    }
    let Ok(p) = SlicedPacket::from_ethernet(&fixed) else {
        return Ok(());
    };
    let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(tcp))) = (&p.net, &p.transport) else {
        return Ok(());
    };
    let h = ip.header();
    if let Ok(sum) = tcp.calc_checksum_ipv4(h.source(), h.destination()) {
        if tcp.checksum() != sum {
            return Err(broken(
                t,
                format!(
                    "after complete_checksum the TCP checksum is {:#06x}, not {sum:#06x}",
                    tcp.checksum()
                ),
            ));
        }
    }
    Ok(())
}
