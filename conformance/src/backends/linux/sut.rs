//! The SUT's application: real socket calls on Linux, made non-blocking so
//! that the engine's thread never waits on the stack it is testing. An
//! `accept` or `connect` that would block is reported, not waited for.

use nix::errno::Errno;
use nix::sys::socket::{
    accept4, bind, connect, listen, recv, send, setsockopt, shutdown, socket, sockopt,
    AddressFamily, Backlog, MsgFlags, Shutdown, SockFlag, SockType, SockaddrIn,
};
use std::net::SocketAddrV4;
use std::os::fd::{AsRawFd, OwnedFd};

/// The application's sockets on the spec's 4-tuple.
pub struct SutApp {
    sut: SocketAddrV4,
    peer: SocketAddrV4,
    listener: Option<OwnedFd>,
    /// The listener stays open after each accept (`listen-persistent`),
    /// as a server's does, until `close-listener` or the spec's end.
    persistent: bool,
    conn: Option<OwnedFd>,
    /// Connections a persistent listener's later accept replaced without
    /// the spec closing them: kept open, as the application would.
    kept: Vec<OwnedFd>,
}

/// How long a bind that meets a socket on its way into TIME-WAIT is retried.
const BIND_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

fn flags() -> SockFlag {
    SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC
}

impl SutApp {
    pub fn new(sut: SocketAddrV4, peer: SocketAddrV4) -> Self {
        SutApp {
            sut,
            peer,
            listener: None,
            persistent: false,
            conn: None,
            kept: Vec::new(),
        }
    }

    fn bound_socket(&self) -> Result<OwnedFd, String> {
        let fd = socket(AddressFamily::Inet, SockType::Stream, flags(), None)
            .map_err(|e| format!("socket: {e}"))?;
        // The 4-tuple is reused across incarnations while TIME-WAIT may hold it.
        setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(|e| format!("SO_REUSEADDR: {e}"))?;
        // The kernel sends the ACK that enters TIME-WAIT before it swaps the
        // socket for its timewait form, so a bind right after that ACK can
        // still meet the full socket. Retry briefly, as the state check does.
        let give_up = std::time::Instant::now() + BIND_RETRY;
        loop {
            match bind(fd.as_raw_fd(), &SockaddrIn::from(self.sut)) {
                Ok(()) => return Ok(fd),
                Err(Errno::EADDRINUSE) if std::time::Instant::now() < give_up => {
                    // The kernel announces no event when the full socket
                    // makes way for its timewait form, so the condition
                    // itself (the bind) is retried, paced, to its deadline.
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(e) => return Err(format!("bind {}: {e}", self.sut)),
            }
        }
    }

    /// A listener: one-shot (closed by the accept that takes its
    /// connection) or, with `persistent`, open until `close_listener`.
    pub fn listen(&mut self, persistent: bool) -> Result<(), String> {
        if self.persistent {
            return Err("listen: the persistent listener is open".into());
        }
        let fd = self.bound_socket()?;
        listen(&fd, Backlog::new(4).map_err(|e| e.to_string())?)
            .map_err(|e| format!("listen: {e}"))?;
        self.listener = Some(fd);
        self.persistent = persistent;
        Ok(())
    }

    /// Takes the next established connection; a one-shot listener is
    /// closed (one connection per `listen`, as the spec format says), a
    /// persistent one stays open for the next incarnation.
    pub fn accept(&mut self) -> Result<(), String> {
        let l = self.listener.take().ok_or("accept without a listener")?;
        match accept4(&l, flags()) {
            Ok(fd) if self.persistent => {
                self.kept.extend(self.conn.replace(fd));
                self.listener = Some(l);
                Ok(())
            }
            Ok(fd) => {
                self.conn = Some(fd);
                let _closing = crate::spawn::closing();
                drop(l);
                Ok(())
            }
            Err(Errno::EAGAIN) => {
                self.listener = Some(l);
                Err("accept would block: no connection is established".into())
            }
            Err(e) => Err(format!("accept: {e}")),
        }
    }

    pub fn connect(&mut self) -> Result<(), String> {
        let fd = self.bound_socket()?;
        match connect(fd.as_raw_fd(), &SockaddrIn::from(self.peer)) {
            Ok(()) | Err(Errno::EINPROGRESS) => {
                self.conn = Some(fd);
                Ok(())
            }
            Err(e) => Err(format!("connect to {}: {e}", self.peer)),
        }
    }

    fn conn(&self) -> Result<&OwnedFd, String> {
        self.conn
            .as_ref()
            .ok_or_else(|| "no connection".to_string())
    }

    pub fn send(&mut self, n: usize) -> Result<(), String> {
        let data = vec![b'x'; n];
        let sent = send(self.conn()?.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL)
            .map_err(|e| format!("send: {e}"))?;
        if sent != n {
            return Err(format!("send wrote {sent} of {n} bytes"));
        }
        Ok(())
    }

    pub fn shutdown(&mut self) -> Result<(), String> {
        shutdown(self.conn()?.as_raw_fd(), Shutdown::Write).map_err(|e| format!("shutdown: {e}"))
    }

    /// Reads whatever arrived, so that closing does not turn into a RST for
    /// unread data (Linux follows RFC 2525 there).
    pub fn drain(&mut self) {
        if let Some(c) = &self.conn {
            let mut buf = [0u8; 4096];
            while let Ok(n) = recv(c.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                if n == 0 {
                    break;
                }
            }
        }
    }

    pub fn close(&mut self) -> Result<(), String> {
        self.drain();
        // Closed for real only with no child holding a copy (spawn.rs).
        let _closing = crate::spawn::closing();
        // A one-shot listener that never accepted goes with `close`; the
        // persistent one only with `close-listener`.
        if self.conn.take().is_none() && !self.persistent {
            self.listener = None;
        }
        Ok(())
    }

    /// Closes the persistent listener; the connection stays.
    pub fn close_listener(&mut self) -> Result<(), String> {
        if !self.persistent {
            return Err("close-listener without a persistent listener".into());
        }
        let l = self.listener.take();
        self.persistent = false;
        // As every close: no child may hold a copy of the descriptor.
        let _closing = crate::spawn::closing();
        drop(l);
        Ok(())
    }

    /// close() with SO_LINGER {on, 0}: the kernel sends a RST.
    pub fn abort(&mut self) -> Result<(), String> {
        let c = self.conn.take().ok_or("abort without a connection")?;
        setsockopt(
            &c,
            sockopt::Linger,
            &nix::libc::linger {
                l_onoff: 1,
                l_linger: 0,
            },
        )
        .map_err(|e| format!("SO_LINGER: {e}"))?;
        let _closing = crate::spawn::closing();
        drop(c);
        Ok(())
    }

    pub fn has_listener(&self) -> bool {
        self.listener.is_some()
    }
}
