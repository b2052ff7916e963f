//! The SUT's socket state from NETLINK_SOCK_DIAG (inet_diag), as `ss -tan`
//! reads it: every TCP socket with its state and, for TIME-WAIT (and the
//! orphaned FIN-WAIT-2 that Linux also keeps as a timewait socket), the time
//! left in `idiag_expires` (ms).

use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::Duration;

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

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
/// Linux's TCP_TIME_WAIT.
pub const TCP_TIME_WAIT: u8 = 6;
/// Linux's TCP_FIN_WAIT2.
pub const TCP_FIN_WAIT2: u8 = 5;

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(x)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

/// Every IPv4 TCP socket of the calling thread's namespace.
pub fn tcp_sockets() -> Result<Vec<DiagSocket>, String> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )
    .map_err(|e| format!("netlink socket: {e}"))?;
    // nlmsghdr (16) + inet_diag_req_v2 (56).
    let mut req = Vec::with_capacity(72);
    req.extend_from_slice(&72u32.to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.push(nix::libc::AF_INET as u8);
    req.push(nix::libc::IPPROTO_TCP as u8);
    req.push(0); // no extensions
    req.push(0);
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    req.extend_from_slice(&[0u8; 48]); // any socket id
    send(fd.as_raw_fd(), &req, MsgFlags::empty()).map_err(|e| format!("sock_diag send: {e}"))?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty())
            .map_err(|e| format!("sock_diag recv: {e}"))?;
        let mut at = 0;
        while at + 16 <= n {
            let len = u32_at(&buf, at) as usize;
            let kind = u16_at(&buf, at + 4);
            if len < 16 || at + len > n {
                return Err("sock_diag: truncated message".into());
            }
            match kind {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => return Err("sock_diag: the kernel answered with an error".into()),
                SOCK_DIAG_BY_FAMILY => {
                    let m = &buf[at + 16..at + len];
                    if m.len() >= 72 {
                        out.push(parse_msg(m));
                    }
                }
                _ => {}
            }
            // Messages are 4-byte aligned.
            at += (len + 3) & !3;
        }
    }
}

/// inet_diag_msg: family, state, timer, retrans, sockid (48), expires, ...
fn parse_msg(m: &[u8]) -> DiagSocket {
    let state = m[1];
    let timer = m[2];
    let id = &m[4..52];
    let sport = u16::from_be_bytes([id[0], id[1]]);
    let dport = u16::from_be_bytes([id[2], id[3]]);
    let src = Ipv4Addr::new(id[4], id[5], id[6], id[7]);
    let dst = Ipv4Addr::new(id[20], id[21], id[22], id[23]);
    let expires = u32_at(m, 52);
    DiagSocket {
        local: SocketAddrV4::new(src, sport),
        remote: SocketAddrV4::new(dst, dport),
        state,
        expires: (timer != 0 || state == TCP_TIME_WAIT)
            .then(|| Duration::from_millis(u64::from(expires))),
    }
}
