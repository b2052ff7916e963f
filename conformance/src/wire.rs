//! TCP segments on the wire: Ethernet + IPv4 + TCP frames built and parsed
//! with etherparse. The engine speaks in [`WireSegment`]s; adapters that
//! move frames (a packet socket, a TAP, an in-process device) use
//! [`build_frame`] and [`parse_frame`].

use etherparse::{
    NetSlice, PacketBuilder, SlicedPacket, TcpOptionElement, TcpOptionReadError, TransportSlice,
};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use timewait_specs::format::{TcpOptions, Timestamps};
use timewait_specs::values::Flags;

/// The SUT's end of the 4-tuple, in the documentation range (RFC 5737).
pub const SUT_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 8000);
/// The peer's end: the harness, which has no IP stack of its own.
pub const PEER_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40000);
/// Locally administered MACs for the two ends of the wire.
pub const SUT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// A frame seen on the peer's wire, for the capture.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Stack time since the spec started.
    pub at: std::time::Duration,
    pub data: Vec<u8>,
}

/// A MAC as `02:00:00:00:00:01`.
pub fn mac_string(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// One TCP segment, with its real 32-bit numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireSegment {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub flags: Flags,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
}

impl WireSegment {
    /// A segment from the peer to the SUT with no options or data and the
    /// peer's usual window: what the harness's own probes and checks send.
    pub fn from_peer(flags: Flags, seq: u32, ack: u32) -> WireSegment {
        WireSegment {
            src: PEER_ADDR,
            dst: SUT_ADDR,
            flags,
            seq,
            ack,
            window: 65535,
            options: TcpOptions::default(),
            payload: Vec::new(),
        }
    }
}

impl fmt::Display for WireSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} {} seq={}",
            self.src, self.dst, self.flags, self.seq
        )?;
        if self.flags.has(Flags::ACK) {
            write!(f, " ack={}", self.ack)?;
        }
        write!(f, " win={}", self.window)?;
        if !self.payload.is_empty() {
            write!(f, " len={}", self.payload.len())?;
        }
        if let Some(ts) = self.options.ts {
            write!(f, " ts={}/{}", ts.val, ts.ecr)?;
        }
        Ok(())
    }
}

/// Why a frame could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("TCP options do not fit: {0}")]
    Options(String),
    #[error("cannot write the frame: {0}")]
    Write(String),
}

/// An Ethernet frame carrying `seg`, with valid IPv4 and TCP checksums.
pub fn build_frame(
    seg: &WireSegment,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
) -> Result<Vec<u8>, BuildError> {
    let mut b = PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(seg.src.ip().octets(), seg.dst.ip().octets(), 64)
        .tcp(seg.src.port(), seg.dst.port(), seg.seq, seg.window);
    let f = seg.flags;
    if f.has(Flags::SYN) {
        b = b.syn();
    }
    if f.has(Flags::FIN) {
        b = b.fin();
    }
    if f.has(Flags::RST) {
        b = b.rst();
    }
    if f.has(Flags::PSH) {
        b = b.psh();
    }
    if f.has(Flags::ACK) {
        b = b.ack(seg.ack);
    }
    let mut opts = Vec::new();
    if let Some(mss) = seg.options.mss {
        opts.push(TcpOptionElement::MaximumSegmentSize(mss));
    }
    if seg.options.sack_ok {
        opts.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
    }
    if let Some(ts) = seg.options.ts {
        opts.push(TcpOptionElement::Timestamp(ts.val, ts.ecr));
    }
    if let Some(ws) = seg.options.wscale {
        opts.push(TcpOptionElement::Noop);
        opts.push(TcpOptionElement::WindowScale(ws));
    }
    if !opts.is_empty() {
        b = b
            .options(&opts)
            .map_err(|e| BuildError::Options(e.to_string()))?;
    }
    let mut out = Vec::with_capacity(b.size(seg.payload.len()));
    b.write(&mut out, &seg.payload)
        .map_err(|e| BuildError::Write(e.to_string()))?;
    if !f.has(Flags::ACK) && seg.ack != 0 {
        // The builder writes an acknowledgment number only with the ACK
        // bit. A probe sends a SYN whose ACK field is set without the bit,
        // to see whether a stack takes a RST's sequence number from it
        // (RFC 9293 3.10.7.1 uses SEG.ACK only when the bit is on).
        let ack_at = 14 + 20 + 8;
        out[ack_at..ack_at + 4].copy_from_slice(&seg.ack.to_be_bytes());
        complete_checksum(&mut out);
    }
    Ok(out)
}

/// The TCP segment in an Ethernet frame, or `None` for anything else (ARP,
/// IPv6, UDP, a fragment, a malformed frame).
pub fn parse_frame(frame: &[u8]) -> Option<WireSegment> {
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        return None;
    };
    let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
        return None;
    };
    let h = ip.header();
    let src = SocketAddrV4::new(Ipv4Addr::from(h.source()), tcp.source_port());
    let dst = SocketAddrV4::new(Ipv4Addr::from(h.destination()), tcp.destination_port());
    let mut flags = Flags::default();
    for (on, f) in [
        (tcp.syn(), Flags::SYN),
        (tcp.fin(), Flags::FIN),
        (tcp.rst(), Flags::RST),
        (tcp.psh(), Flags::PSH),
        (tcp.ack(), Flags::ACK),
    ] {
        if on {
            flags = flags.union(f);
        }
    }
    let mut options = TcpOptions::default();
    // Every other kind is kept by number, so an `expect` with `exact`
    // options sees it; a malformed option ends the list (the reader stops).
    for o in tcp.options_iterator() {
        match o {
            Ok(TcpOptionElement::MaximumSegmentSize(m)) => options.mss = Some(m),
            Ok(TcpOptionElement::WindowScale(w)) => options.wscale = Some(w),
            Ok(TcpOptionElement::SelectiveAcknowledgementPermitted) => options.sack_ok = true,
            Ok(TcpOptionElement::Timestamp(val, ecr)) => options.ts = Some(Timestamps { val, ecr }),
            Ok(TcpOptionElement::Noop) => {}
            Ok(TcpOptionElement::SelectiveAcknowledgement(..)) => options.other.push(5),
            Err(TcpOptionReadError::UnknownId(kind))
            | Err(TcpOptionReadError::UnexpectedSize {
                option_id: kind, ..
            })
            | Err(TcpOptionReadError::UnexpectedEndOfSlice {
                option_id: kind, ..
            }) => options.other.push(kind),
        }
    }
    Some(WireSegment {
        src,
        dst,
        flags,
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        window: tcp.window_size(),
        options,
        payload: tcp.payload().to_vec(),
    })
}

/// Completes the TCP checksum of a captured IPv4 frame in place. A sender
/// with checksum offload hands the wire a partial checksum (the NIC would
/// finish it); a virtual device never does, so captures are finished here to be
/// wire-accurate for tcpdump and Wireshark.
pub fn complete_checksum(frame: &mut [u8]) {
    let Ok(p) = SlicedPacket::from_ethernet(frame) else {
        return;
    };
    let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(tcp))) = (&p.net, &p.transport) else {
        return;
    };
    let h = ip.header();
    let Ok(sum) = tcp.calc_checksum_ipv4(h.source(), h.destination()) else {
        return;
    };
    // The checksum is 16 bytes into the TCP header, wherever the parser
    // found that header: VLAN tags or MACsec before the IPv4 header move it.
    let tcp_at = (tcp.slice().as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
    let at = tcp_at + 16;
    drop(p);
    if let Some(slot) = frame.get_mut(at..at + 2) {
        slot.copy_from_slice(&sum.to_be_bytes());
    }
}

/// The peer's answer to an ARP request for its address (the harness plays
/// the peer, which has no stack of its own to answer).
pub fn arp_reply(frame: &[u8], peer: SocketAddrV4, peer_mac: [u8; 6]) -> Option<Vec<u8>> {
    // Ethernet (14) + ARP for IPv4 over Ethernet (28).
    if frame.len() < 42 || frame[12..14] != [0x08, 0x06] || frame[20..22] != [0, 1] {
        return None;
    }
    if frame[38..42] != peer.ip().octets() {
        return None;
    }
    let mut r = Vec::with_capacity(42);
    r.extend_from_slice(&frame[6..12]);
    r.extend_from_slice(&peer_mac);
    r.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    r.extend_from_slice(&peer_mac);
    r.extend_from_slice(&peer.ip().octets());
    r.extend_from_slice(&frame[22..28]);
    r.extend_from_slice(&frame[28..32]);
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(flags: &str) -> WireSegment {
        WireSegment {
            src: "198.51.100.2:40000".parse().expect("addr"),
            dst: "192.0.2.1:8000".parse().expect("addr"),
            flags: Flags::parse(flags).expect("flags"),
            seq: 0xffff_fff0,
            ack: 7,
            window: 65535,
            options: TcpOptions {
                mss: Some(1460),
                wscale: Some(7),
                sack_ok: true,
                ts: Some(Timestamps { val: 100, ecr: 0 }),
                other: Vec::new(),
            },
            payload: vec![1, 2, 3],
        }
    }

    #[test]
    fn options_the_spec_cannot_name_are_kept_by_kind_for_exact_checks() {
        let mut tcp = etherparse::TcpHeader::new(8000, 40000, 1, 65535);
        tcp.syn = true;
        // MSS 1460, NOP, NOP, SACK block (kind 5), then an unassigned kind 30.
        tcp.set_options_raw(&[
            2, 4, 5, 180, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 30, 4, 0, 0,
        ])
        .expect("options fit");
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .tcp_header(tcp)
            .write_to_vec(&mut frame, &[])
            .expect("frame");
        let seg = parse_frame(&frame).expect("a TCP segment");
        assert_eq!(seg.options.mss, Some(1460));
        assert_eq!(seg.options.other, vec![5, 30]);
    }

    #[test]
    fn a_built_frame_parses_back_to_the_same_segment_with_valid_checksums() {
        for f in ["S", "SA", "FA", "RA", "PA"] {
            // The acknowledgment field travels as given, ACK bit or not.
            let s = seg(f);
            let frame = build_frame(&s, [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]).expect("frame");
            assert_eq!(parse_frame(&frame), Some(s));
            let mut again = frame.clone();
            again[14 + 20 + 16] ^= 0xff;
            complete_checksum(&mut again);
            assert_eq!(again, frame, "the checksum is recomputed exactly");
        }
    }

    #[test]
    fn a_vlan_tagged_frame_gets_its_checksum_completed_in_the_tcp_header() {
        // Found by fuzzing: the checksum was written 4 bytes early, into
        // the data offset and flags, when an 802.1Q tag preceded IPv4.
        let s = seg("SA");
        let plain = build_frame(&s, [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]).expect("frame");
        let mut tagged = plain[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x01]);
        tagged.extend_from_slice(&plain[12..]);
        let mut again = tagged.clone();
        let checksum_at = 14 + 4 + 20 + 16;
        again[checksum_at] ^= 0xff;
        complete_checksum(&mut again);
        assert_eq!(again, tagged, "only the checksum is rewritten, exactly");
        assert_eq!(parse_frame(&again), Some(s));
    }

    #[test]
    fn non_tcp_frames_are_not_segments() {
        assert_eq!(parse_frame(&[0u8; 60]), None);
        assert_eq!(parse_frame(&[]), None);
    }
}
