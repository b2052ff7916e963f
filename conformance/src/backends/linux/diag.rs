//! The SUT's socket state from NETLINK_SOCK_DIAG (inet_diag), as `ss -tan`
//! reads it: every TCP socket with its state and, for TIME-WAIT (and the
//! orphaned FIN-WAIT-2 that Linux also keeps as a timewait socket), the time
//! left in `idiag_expires` (ms).
//!
//! The request, the netlink framing, NLMSG_ERROR and the inet_diag message
//! are the rust-netlink crates' (`netlink-sys`, `netlink-packet-core`,
//! `netlink-packet-sock-diag`). A kernel error, a message that does not
//! parse and a reply that ends without NLMSG_DONE are each a typed error:
//! a socket missing from the list would read as CLOSED, a wrong verdict.

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::constants::{AF_INET, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponse, SocketId, StateFlags, Timer,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};
use std::net::{IpAddr, SocketAddrV4};
use std::time::Duration;
use thiserror::Error;
use zerocopy::{FromBytes, Immutable, KnownLayout};

/// One TCP socket as inet_diag shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiagSocket {
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// Linux's TCP state number (include/net/tcp_states.h).
    pub state: u8,
    /// Time left on the socket's timer, for timewait sockets.
    pub expires: Option<Duration>,
}

/// Linux's TCP_TIME_WAIT.
pub const TCP_TIME_WAIT: u8 = 6;
/// Linux's TCP_FIN_WAIT2.
pub const TCP_FIN_WAIT2: u8 = 5;

/// How long the kernel may take to answer a dump: it answers at once, so a
/// silent socket means something is broken, and the replay must not hang.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the socket list could not be read.
#[derive(Debug, Error)]
pub enum DiagError {
    #[error("sock_diag: {what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    /// The kernel answered the dump with NLMSG_ERROR.
    #[error("sock_diag: the kernel refused the dump: errno {errno} ({})", std::io::Error::from_raw_os_error(*errno))]
    Kernel { errno: i32 },
    /// A message of the reply that does not parse (short, truncated or
    /// not an inet_diag message).
    #[error("sock_diag: message {index} of the reply ({len} bytes) is malformed: {reason}")]
    Malformed {
        index: usize,
        len: usize,
        reason: String,
    },
    /// A message the dump has no use for (an ACK, an overrun, another
    /// family's answer).
    #[error("sock_diag: message {index} of the reply is unexpected: {what}")]
    Unexpected { index: usize, what: String },
}

/// Every IPv4 TCP socket of the calling thread's namespace.
pub fn tcp_sockets() -> Result<Vec<DiagSocket>, DiagError> {
    let io = |what| move |source| DiagError::Io { what, source };
    let mut socket = Socket::new(NETLINK_SOCK_DIAG).map_err(io("netlink socket"))?;
    socket.bind_auto().map_err(io("bind"))?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(io("connect"))?;
    nix::sys::socket::setsockopt(
        &socket,
        nix::sys::socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(REPLY_TIMEOUT.as_secs() as _, 0),
    )
    .map_err(|e| DiagError::Io {
        what: "receive timeout",
        source: e.into(),
    })?;
    socket.send(&request(), 0).map_err(io("send"))?;
    let mut out = Vec::new();
    let mut index = 0;
    let mut buf = Vec::with_capacity(65536);
    loop {
        buf.clear();
        socket.recv(&mut buf, 0).map_err(io("recv"))?;
        if read_reply(&buf, &mut index, &mut out)? == Reply::Done {
            return Ok(out);
        }
    }
}

/// The dump request: every IPv4 TCP socket in every state.
fn request() -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut packet = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family: AF_INET,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: SocketId::new_v4(),
        })
        .into(),
    );
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    buf
}

/// Whether the dump goes on after a datagram.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    More,
    Done,
}

/// Reads one datagram of the dump's reply into `out`; `index` counts the
/// messages across datagrams, for the errors.
fn read_reply(
    datagram: &[u8],
    index: &mut usize,
    out: &mut Vec<DiagSocket>,
) -> Result<Reply, DiagError> {
    let mut rest = datagram;
    while !rest.is_empty() {
        *index += 1;
        let malformed = |reason: String| DiagError::Malformed {
            index: *index,
            len: rest.len(),
            reason,
        };
        let msg = NetlinkMessage::<SockDiagMessage>::deserialize(rest)
            .map_err(|e| malformed(e.to_string()))?;
        let len = msg.header.length as usize;
        match msg.payload {
            NetlinkPayload::Done(_) => return Ok(Reply::Done),
            NetlinkPayload::Error(e) => match e.code {
                Some(code) => return Err(DiagError::Kernel { errno: -code.get() }),
                None => {
                    return Err(DiagError::Unexpected {
                        index: *index,
                        what: "an ACK inside a dump".into(),
                    })
                }
            },
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                out.push(socket_of(&r, &rest[NETLINK_HEADER_LEN..len]).map_err(malformed)?);
            }
            other => {
                return Err(DiagError::Unexpected {
                    index: *index,
                    what: format!("{other:?}"),
                })
            }
        }
        // Messages are 4-byte aligned (NLMSG_ALIGN); the last may end
        // without padding.
        rest = &rest[((len + 3) & !3).min(rest.len())..];
    }
    Ok(Reply::More)
}

const NETLINK_HEADER_LEN: usize = 16;

/// The start of `struct inet_diag_msg` (include/uapi/linux/inet_diag.h), up
/// to `idiag_expires`. netlink-packet-sock-diag 0.5 reads the field for
/// every timer but the timewait one (its `Timer::TimeWait` carries no
/// time), and the time left in TIME-WAIT is what the specs check.
#[derive(FromBytes, KnownLayout, Immutable)]
#[repr(C)]
struct DiagMsgPrefix {
    family_state_timer_retrans: [u8; 4],
    id: [u8; 48],
    expires: [u8; 4],
}

/// One socket from its parsed message and the message's payload (for the
/// timewait timer's expiry).
fn socket_of(r: &InetResponse, payload: &[u8]) -> Result<DiagSocket, String> {
    let h = &r.header;
    let v4 = |ip: IpAddr, port| match ip {
        IpAddr::V4(a) => Ok(SocketAddrV4::new(a, port)),
        IpAddr::V6(a) => Err(format!("an IPv6 address ({a}) in an IPv4 dump")),
    };
    let expires = match &h.timer {
        Some(Timer::TimeWait) => {
            let (raw, _) = DiagMsgPrefix::ref_from_prefix(payload)
                .map_err(|_| format!("{} bytes, short of idiag_expires", payload.len()))?;
            Some(Duration::from_millis(u64::from(u32::from_ne_bytes(
                raw.expires,
            ))))
        }
        Some(Timer::Retransmit(d, _) | Timer::KeepAlive(d) | Timer::Probe(d)) => Some(*d),
        None => None,
    };
    Ok(DiagSocket {
        local: v4(h.socket_id.source_address, h.socket_id.source_port)?,
        remote: v4(
            h.socket_id.destination_address,
            h.socket_id.destination_port,
        )?,
        state: h.state,
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{DoneMessage, ErrorMessage};
    use netlink_packet_sock_diag::inet::InetResponseHeader;
    use std::net::Ipv4Addr;

    fn emit(payload: NetlinkPayload<SockDiagMessage>) -> Vec<u8> {
        let mut m = NetlinkMessage::new(NetlinkHeader::default(), payload);
        m.finalize();
        let mut buf = vec![0; m.buffer_len()];
        m.serialize(&mut buf);
        buf
    }

    /// A TIME-WAIT socket 192.0.2.2:80 -> 192.0.2.1:40000 with 59 s left.
    fn time_wait() -> Vec<u8> {
        let mut id = SocketId::new_v4();
        id.source_address = Ipv4Addr::new(192, 0, 2, 2).into();
        id.source_port = 80;
        id.destination_address = Ipv4Addr::new(192, 0, 2, 1).into();
        id.destination_port = 40000;
        let r = InetResponse {
            header: InetResponseHeader {
                family: AF_INET,
                state: TCP_TIME_WAIT,
                timer: Some(Timer::TimeWait),
                socket_id: id,
                recv_queue: 0,
                send_queue: 0,
                uid: 0,
                inode: 0,
            },
            nlas: Default::default(),
        };
        let mut buf = emit(SockDiagMessage::InetResponse(Box::new(r)).into());
        // The crate writes no expiry for a timewait timer; the kernel does.
        let at = NETLINK_HEADER_LEN + 52;
        buf[at..at + 4].copy_from_slice(&59_000u32.to_ne_bytes());
        buf
    }

    fn read(datagram: &[u8]) -> Result<(Reply, Vec<DiagSocket>), DiagError> {
        let mut out = Vec::new();
        let reply = read_reply(datagram, &mut 0, &mut out)?;
        Ok((reply, out))
    }

    #[test]
    fn a_time_wait_socket_reads_with_the_time_it_has_left() {
        let mut d = time_wait();
        d.extend(emit(NetlinkPayload::Done(DoneMessage::default())));
        let (reply, socks) = read(&d).expect("a well-formed dump");
        assert_eq!(reply, Reply::Done);
        assert_eq!(
            socks,
            [DiagSocket {
                local: "192.0.2.2:80".parse().expect("address"),
                remote: "192.0.2.1:40000".parse().expect("address"),
                state: TCP_TIME_WAIT,
                expires: Some(Duration::from_secs(59)),
            }]
        );
    }

    #[test]
    fn a_datagram_without_done_asks_for_more() {
        assert_eq!(read(&time_wait()).expect("ok").0, Reply::More);
    }

    #[test]
    fn an_nlmsg_error_reply_is_an_error_naming_the_errno() {
        let mut e = ErrorMessage::default();
        e.code = std::num::NonZeroI32::new(-nix::libc::EPERM);
        let err = read(&emit(NetlinkPayload::Error(e))).expect_err("a refused dump");
        assert!(
            matches!(err, DiagError::Kernel { errno } if errno == nix::libc::EPERM),
            "{err}"
        );
        assert!(err.to_string().contains("errno 1"), "{err}");
    }

    #[test]
    fn a_short_message_is_an_error_not_a_missing_socket() {
        let whole = time_wait();
        // Cut inside the inet_diag message: the netlink length says more.
        let err = read(&whole[..40]).expect_err("truncated");
        assert!(
            matches!(
                err,
                DiagError::Malformed {
                    index: 1,
                    len: 40,
                    ..
                }
            ),
            "{err}"
        );
        // A netlink length that covers only part of inet_diag_msg.
        let mut short = whole[..40].to_vec();
        short[..4].copy_from_slice(&40u32.to_ne_bytes());
        let err = read(&short).expect_err("short inet_diag_msg");
        assert!(matches!(err, DiagError::Malformed { .. }), "{err}");
        // Fewer bytes than a netlink header.
        let err = read(&whole[..10]).expect_err("short header");
        assert!(matches!(err, DiagError::Malformed { .. }), "{err}");
    }

    #[test]
    fn an_ack_inside_a_dump_is_unexpected() {
        let err = read(&emit(NetlinkPayload::Error(ErrorMessage::default()))).expect_err("ack");
        assert!(matches!(err, DiagError::Unexpected { .. }), "{err}");
    }
}
