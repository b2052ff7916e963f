//! A raw packet socket (AF_PACKET, SOCK_RAW, ETH_P_ALL) bound to one
//! interface. It sends whole Ethernet frames and receives, with a
//! deadline, either every frame that reaches the interface (the peer's
//! wire on a TAP device another program holds) or every frame this host
//! sends out of it (the Linux SUT's own transmissions, which the kernel
//! queues to the socket inside the transmit path, stamped then). libc is used
//! directly for opening and sending because nix has no constructor for
//! `sockaddr_ll`; each unsafe block is one system call on memory this module
//! owns. Receiving goes through nix's `recvmsg` for the kernel's receive
//! timestamp (SO_TIMESTAMPNS): when the harness is slow to read, a frame's
//! time is still when it crossed the wire, not when it was read, so a late
//! reader never makes the stack look late.

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, LinkAddr, MsgFlags};
use nix::sys::time::TimeSpec;
use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
    /// Which frames `recv` returns.
    direction: Direction,
    /// A frame read after the deadline it was asked for, which arrived
    /// after that deadline too: it belongs to the next call.
    pending: RefCell<Option<Arrival>>,
}

/// Which of an interface's frames a socket reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Frames that reach the interface from its wire.
    Incoming,
    /// Frames this host sends out of the interface.
    Outgoing,
}

/// A frame and when it crossed the interface.
pub struct Arrival {
    pub at: Instant,
    pub data: Vec<u8>,
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

impl PacketSocket {
    /// Opens a packet socket on `ifname` in the calling thread's namespace
    /// that reads the frames reaching the interface.
    pub fn open(ifname: &str) -> io::Result<PacketSocket> {
        PacketSocket::open_reading(ifname, Direction::Incoming)
    }

    /// Opens a packet socket on `ifname` in the calling thread's namespace
    /// that reads the frames of `direction`.
    pub fn open_reading(ifname: &str, direction: Direction) -> io::Result<PacketSocket> {
        let name = std::ffi::CString::new(ifname)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name"))?;
        // SAFETY: `name` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(last_error());
        }
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                i32::from(proto),
            )
        };
        if raw < 0 {
            return Err(last_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: zeroed sockaddr_ll is a valid value of the type.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` lives across the call and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(last_error());
        }
        setsockopt(&fd, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)?;
        // Frames go straight to the driver, past the device's queueing
        // discipline: when `send` returns, a frame sent on a TAP device is
        // on the TAP port, so a request that follows cannot overtake it.
        let on: libc::c_int = 1;
        // SAFETY: `on` lives across the call and its size is passed.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                &on as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        if rc < 0 {
            return Err(last_error());
        }
        Ok(PacketSocket {
            fd,
            ifindex: ifindex as i32,
            direction,
            pending: RefCell::new(None),
        })
    }

    /// Sends one Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: zeroed sockaddr_ll is a valid value of the type.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6.min(frame.len())]);
        // SAFETY: `frame` and `sll` are valid for the lengths passed.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            return Err(last_error());
        }
        Ok(())
    }

    /// The next frame of the socket's direction by `deadline`, with its arrival time, or `None`. A
    /// frame that arrived after `deadline` is kept for the next call even
    /// when this one reads it (the caller woke late), so what a deadline
    /// sees does not depend on how busy the harness's machine is.
    pub fn recv(&self, deadline: Instant) -> io::Result<Option<Arrival>> {
        let mut pending = self.pending.borrow_mut();
        if let Some(a) = pending.take() {
            if a.at <= deadline {
                return Ok(Some(a));
            }
            // It arrived after `deadline`, which has therefore passed.
            *pending = Some(a);
            return Ok(None);
        }
        let mut buf = vec![0u8; 65536];
        loop {
            match self.read_one(&mut buf)? {
                Some((at, n)) => {
                    let a = Arrival {
                        at,
                        data: buf[..n].to_vec(),
                    };
                    if at > deadline {
                        *pending = Some(a);
                        return Ok(None);
                    }
                    return Ok(Some(a));
                }
                None => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                    self.poll(deadline)?;
                }
            }
        }
    }

    /// The next frame's time and length, skipping frames of the other
    /// direction; `None` when nothing is queued.
    fn read_one(&self, buf: &mut [u8]) -> io::Result<Option<(Instant, usize)>> {
        loop {
            let mut cmsg = nix::cmsg_space!(TimeSpec);
            let mut iov = [std::io::IoSliceMut::new(buf)];
            let msg = match recvmsg::<LinkAddr>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            ) {
                Ok(m) => m,
                Err(Errno::EAGAIN) => return Ok(None),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let outgoing = msg
                .address
                .is_some_and(|a| a.pkttype() == libc::PACKET_OUTGOING);
            if outgoing != (self.direction == Direction::Outgoing) {
                continue;
            }
            let stamp = msg.cmsgs().map_err(io::Error::from)?.find_map(|c| match c {
                ControlMessageOwned::ScmTimestampns(ts) => Some(ts),
                _ => None,
            });
            let n = msg.bytes;
            let read_at = Instant::now();
            // The stamp is CLOCK_REALTIME; how long ago it was is what
            // carries over to the monotonic clock. Without a stamp (which
            // the option asked for) the read time is the best there is.
            // The kernel turns stamping on a moment after the first socket
            // asks for it and stamps frames that came earlier when they are
            // read; `LinuxStack::new` waits for real stamps.
            let at = match stamp {
                Some(ts) => {
                    let stamped = std::time::UNIX_EPOCH
                        + Duration::new(ts.tv_sec().max(0) as u64, ts.tv_nsec().max(0) as u32);
                    let ago = std::time::SystemTime::now()
                        .duration_since(stamped)
                        .unwrap_or(Duration::ZERO);
                    read_at.checked_sub(ago).unwrap_or(read_at)
                }
                None => read_at,
            };
            return Ok(Some((at, n)));
        }
    }

    /// Waits until a frame is queued or `deadline` passes.
    fn poll(&self, deadline: Instant) -> io::Result<()> {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(1));
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Round up: a poll that returns before the deadline only loops.
        let ms = wait.as_micros().div_ceil(1000).max(1) as i32;
        // SAFETY: one pollfd, valid for the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = last_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }
}
