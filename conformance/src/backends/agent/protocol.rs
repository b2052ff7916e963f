//! The agent protocol's messages (version 1, JSON lines), as documented in
//! `conformance/agents/PROTOCOL.md`. Requests are what the harness writes;
//! replies are read leniently (unknown fields ignored) so that agents can
//! add fields without breaking older harnesses.

use crate::wire::{PEER_MAC, SUT_MAC};
use serde::{Deserialize, Serialize};
use timewait_specs::format::SockState;

pub const VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Frames and time go through the protocol.
    Virtual,
    /// The agent's stack sits on a TAP interface and runs on real time.
    Tap,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    Hello {
        version: u32,
        mode: Mode,
        sut: String,
        peer: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        tap: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sut_mac: Option<String>,
        /// The peer's MAC (tap mode), for a stack that keeps a permanent
        /// neighbour entry for the peer, as the host Linux adapter does; a
        /// later addition within version 1, see PROTOCOL.md.
        #[serde(skip_serializing_if = "Option::is_none")]
        peer_mac: Option<String>,
        /// The spec's sysctls (full names), for an agent whose stack has
        /// them (a Linux guest); a later addition within version 1, see
        /// PROTOCOL.md.
        #[serde(skip_serializing_if = "Option::is_none")]
        sysctls: Option<std::collections::BTreeMap<String, String>>,
    },
    Listen,
    /// A listener that stays open after each accept (`close-listener`
    /// closes it). An op of its own, not a field of `listen`: an agent that
    /// predates it answers `unknown op` (a harness failure naming the op)
    /// instead of ignoring the field and closing the listener at accept,
    /// which would pass for the stack's own behaviour.
    #[serde(rename = "listen-persistent")]
    ListenPersistent,
    Accept,
    #[serde(rename = "close-listener")]
    CloseListener,
    Connect,
    Send {
        bytes: u16,
    },
    Shutdown,
    Close,
    Abort,
    /// One IPv4 packet from the peer, hex.
    Frame {
        data: String,
    },
    Advance {
        until_us: u64,
    },
    State,
    Quit,
}

impl Request {
    /// The request's `op`, for messages.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "hello",
            Request::Listen => "listen",
            Request::ListenPersistent => "listen-persistent",
            Request::Accept => "accept",
            Request::CloseListener => "close-listener",
            Request::Connect => "connect",
            Request::Send { .. } => "send",
            Request::Shutdown => "shutdown",
            Request::Close => "close",
            Request::Abort => "abort",
            Request::Frame { .. } => "frame",
            Request::Advance { .. } => "advance",
            Request::State => "state",
            Request::Quit => "quit",
        }
    }
}

/// What the application saw.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Event {
    pub kind: String,
    #[serde(default)]
    pub bytes: Option<u64>,
    #[serde(default)]
    pub detail: Option<String>,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.kind)?;
        if let Some(b) = self.bytes {
            write!(f, " {b} bytes")?;
        }
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// One connection or listener on the SUT's port.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Conn {
    pub local: String,
    pub remote: String,
    pub state: SockState,
    #[serde(default)]
    pub remaining_us: Option<u64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub fatal: Option<String>,
    #[serde(default)]
    pub now_us: Option<u64>,
    #[serde(default)]
    pub frames: Vec<String>,
    #[serde(default)]
    pub events: Vec<Event>,
    #[serde(default)]
    pub conns: Vec<Conn>,
    #[serde(default)]
    pub version: Option<u32>,
    #[serde(default)]
    pub stack: Option<String>,
    #[serde(default)]
    pub clock: Option<String>,
    /// How many of `hello`'s sysctls the agent applied.
    #[serde(default)]
    pub sysctls: Option<u64>,
}

/// A request as written on the wire: the request and, for a stack whose
/// wire and protocol channel can overtake each other (a guest kernel
/// behind QEMU), how many frames the harness has sent on the wire so far
/// (`frames_sent`, see PROTOCOL.md). Agents that do not need it ignore it.
#[derive(Serialize)]
pub struct Counted<'a> {
    #[serde(flatten)]
    pub request: &'a Request,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_sent: Option<u64>,
}

impl Reply {
    /// An application call's outcome: `Err` with the agent's reason when
    /// the call failed.
    pub fn app_outcome(&self) -> Result<(), String> {
        match &self.error {
            Some(e) if !self.ok => Err(e.clone()),
            _ => Ok(()),
        }
    }
}

/// Why a reply line cannot be taken as a reply.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("not a protocol reply ({0})")]
    NotAReply(#[from] serde_json::Error),
    /// The agent cannot go on.
    #[error("fatal error: {0}")]
    Fatal(String),
    #[error("`ok: false` without `error`")]
    FailedWithoutError,
}

/// One line of an agent's stdout as text: invalid UTF-8 is replaced
/// rather than refused, so that the error can quote what the agent wrote.
pub fn reply_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end().to_string()
}

/// Reads one reply line. A reply with `ok: false` and `error` is a reply
/// (the spec decides); `fatal`, or `ok: false` alone, is not.
pub fn parse_reply(line: &str) -> Result<Reply, ReplyError> {
    let reply: Reply = serde_json::from_str(line)?;
    if let Some(f) = &reply.fatal {
        return Err(ReplyError::Fatal(f.clone()));
    }
    if !reply.ok && reply.error.is_none() {
        return Err(ReplyError::FailedWithoutError);
    }
    Ok(reply)
}

/// Ethernet header length: agents exchange bare IPv4 packets, captures
/// and the wire parser use Ethernet frames.
pub const ETH: usize = 14;

/// The Ethernet frame (SUT to peer) around one reply frame, an IPv4 packet
/// in hex.
pub fn packet_frame(hex_packet: &str) -> Result<Vec<u8>, hex::FromHexError> {
    let packet = hex::decode(hex_packet)?;
    let mut frame = Vec::with_capacity(ETH + packet.len());
    frame.extend_from_slice(&PEER_MAC);
    frame.extend_from_slice(&SUT_MAC);
    frame.extend_from_slice(&[0x08, 0x00]);
    frame.extend_from_slice(&packet);
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_flat_object_with_op() {
        let j = |r: &Request| serde_json::to_string(r).unwrap_or_default();
        assert_eq!(j(&Request::Listen), r#"{"op":"listen"}"#);
        assert_eq!(
            j(&Request::ListenPersistent),
            r#"{"op":"listen-persistent"}"#
        );
        assert_eq!(j(&Request::CloseListener), r#"{"op":"close-listener"}"#);
        assert_eq!(
            j(&Request::Send { bytes: 10 }),
            r#"{"op":"send","bytes":10}"#
        );
        assert_eq!(
            j(&Request::Advance { until_us: 5 }),
            r#"{"op":"advance","until_us":5}"#
        );
        let hello = Request::Hello {
            version: VERSION,
            mode: Mode::Virtual,
            sut: "192.0.2.1:8000".into(),
            peer: "192.0.2.2:40000".into(),
            tap: None,
            sut_mac: None,
            peer_mac: None,
            sysctls: None,
        };
        assert_eq!(
            j(&hello),
            r#"{"op":"hello","version":1,"mode":"virtual","sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#
        );
    }

    #[test]
    fn a_counted_request_is_the_request_with_frames_sent_beside_op() {
        let j = |r: &Counted| serde_json::to_string(r).unwrap_or_default();
        let listen = Counted {
            request: &Request::Listen,
            frames_sent: Some(3),
        };
        assert_eq!(j(&listen), r#"{"op":"listen","frames_sent":3}"#);
        let send = Counted {
            request: &Request::Send { bytes: 10 },
            frames_sent: None,
        };
        assert_eq!(j(&send), r#"{"op":"send","bytes":10}"#);
        let sysctls = [("net.ipv4.tcp_rfc1337".to_string(), "1".to_string())];
        let hello = Request::Hello {
            version: VERSION,
            mode: Mode::Tap,
            sut: "192.0.2.1:8000".into(),
            peer: "192.0.2.2:40000".into(),
            tap: None,
            sut_mac: None,
            peer_mac: None,
            sysctls: Some(sysctls.into_iter().collect()),
        };
        assert!(
            serde_json::to_string(&hello)
                .unwrap_or_default()
                .ends_with(r#","sysctls":{"net.ipv4.tcp_rfc1337":"1"}}"#),
            "{hello:?}"
        );
    }

    #[test]
    fn replies_ignore_unknown_fields_and_read_state_names() {
        let r: Reply = serde_json::from_str(
            r#"{"ok":true,"later":1,"conns":[{"local":"a","remote":"b","state":"TIME-WAIT","remaining_us":null}]}"#,
        )
        .expect("a reply with an unknown field still parses");
        assert!(r.ok);
        assert_eq!(r.conns.len(), 1);
        assert_eq!(r.conns[0].state, SockState::TimeWait);
    }
}
