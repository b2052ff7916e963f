//! The peer's end of the Linux SUT's wire: a TAP device whose file
//! descriptor the harness holds. A frame written to it enters the SUT's
//! stack through `netif_receive_skb` inside the `write` call itself
//! (tun.c's `tun_rx_batched`, with batching off as it is by default), so
//! by the time the write returns the SUT has processed the segment and
//! sent whatever it answers at once. Over a veth pair the same segment
//! waits in a per-CPU backlog for the NET_RX softirq, which a loaded
//! machine defers to `ksoftirqd` for tens of milliseconds: the SUT then
//! answered late through no fault of its own. The device is not
//! persistent: it disappears when the descriptor closes, including when
//! the process dies. libc is used for the open and the ioctl because nix
//! has no wrapper for TUNSETIFF; each unsafe block is one system call on
//! memory this module owns.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A TAP device held open by this process.
pub struct Tap {
    fd: OwnedFd,
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

impl Tap {
    /// Creates the TAP device `ifname` (Ethernet frames, no packet
    /// information header) in the calling thread's network namespace.
    pub fn create(ifname: &str) -> io::Result<Tap> {
        let bytes = ifname.as_bytes();
        if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad interface name {ifname:?}"),
            ));
        }
        // SAFETY: a constant NUL-terminated path; the result is checked.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            let e = last_error();
            return Err(io::Error::new(e.kind(), format!("/dev/net/tun: {e}")));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: a zeroed ifreq is a valid value of the type.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: `ifr` lives across the call, which reads and writes it.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) };
        if rc < 0 {
            let e = last_error();
            return Err(io::Error::new(e.kind(), format!("TUNSETIFF {ifname}: {e}")));
        }
        Ok(Tap { fd })
    }

    /// Hands one Ethernet frame to the SUT's stack; it has been processed
    /// when this returns.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: `frame` is valid for its length.
            let n = unsafe {
                libc::write(
                    self.fd.as_raw_fd(),
                    frame.as_ptr() as *const libc::c_void,
                    frame.len(),
                )
            };
            if n >= 0 {
                return if n as usize == frame.len() {
                    Ok(())
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("TAP took {n} of {} bytes", frame.len()),
                    ))
                };
            }
            let e = last_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Discards the frames the SUT sent that wait on this descriptor (the
    /// harness reads them, with their transmit times, from a packet
    /// socket instead); a full queue would make the device drop them.
    pub fn drain(&self) -> io::Result<usize> {
        let mut buf = [0u8; 65536];
        let mut n = 0;
        loop {
            // SAFETY: `buf` is valid for its length.
            let rc = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                )
            };
            if rc > 0 {
                n += 1;
                continue;
            }
            if rc == 0 {
                return Ok(n);
            }
            let e = last_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return Ok(n),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
    }
}
