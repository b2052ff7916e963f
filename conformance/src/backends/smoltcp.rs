//! The smoltcp adapter: smoltcp's TCP in this process, on a virtual clock.
//! Its `phy::Device` is two queues wired straight to the engine, and the
//! engine's deadlines are the clock: a spec's "wait 60 s" costs no wall
//! time. The harness answers smoltcp's ARP requests for the peer.

use crate::stack::{Received, Stack, StackError, SutState};
use crate::wire::{self, WireSegment};
use crate::wire::{Frame, PEER_ADDR, PEER_MAC, SUT_ADDR, SUT_MAC};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};
use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::Duration;
use timewait_specs::format::{App, SockState};

/// Frames to and from smoltcp.
#[derive(Default)]
struct Wire {
    to_sut: VecDeque<Vec<u8>>,
    from_sut: VecDeque<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl Device for Wire {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let frame = self.to_sut.pop_front()?;
        Some((Rx(frame), Tx(&mut self.from_sut)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.from_sut))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = 1514;
        c
    }
}

pub struct SmoltcpStack {
    now: Duration,
    wire: Wire,
    iface: Interface,
    sockets: SocketSet<'static>,
    /// The application's current socket.
    socket: Option<SocketHandle>,
    /// The persistent listener (`listen-persistent`), if open. smoltcp has
    /// no listener apart from its connections: a listening socket becomes
    /// the connection it accepts. So the listener that stays open is what a
    /// smoltcp server does: each `accept` takes the socket that has
    /// connected and puts a fresh socket into listen on the port. Beside a
    /// connection in TIME-WAIT on the same port, which of the two gets a
    /// SYN is smoltcp's dispatch: `Interface` offers a segment to its
    /// sockets in slot order and the first whose `accepts` says yes takes
    /// it. Both do for a plain SYN (the TIME-WAIT one by its 4-tuple, the
    /// listener by its port), and the connection, having listened first,
    /// sits in the earlier slot, so TIME-WAIT gets the SYN and handles it
    /// by its own rules (it drops a segment without ACK in a synchronized
    /// state: no reply) and the listener never sees it, where Linux hands
    /// it to the listener. The spec
    /// `persistent-listener-takes-a-newer-syn-in-time-wait` pins that
    /// (conformance/known/smoltcp.txt).
    listener: Option<SocketHandle>,
    /// Every socket the application opened, oldest first: an old one may
    /// still hold the 4-tuple in TIME-WAIT beside a new listener, and smoltcp
    /// offers a segment to older sockets first.
    opened: Vec<SocketHandle>,
    pending: VecDeque<Received>,
    pub frames: Vec<Frame>,
}

fn ts(d: Duration) -> Instant {
    Instant::from_micros(d.as_micros() as i64)
}

fn v4(a: SocketAddrV4) -> Ipv4Address {
    let o = a.ip().octets();
    Ipv4Address::new(o[0], o[1], o[2], o[3])
}

impl Default for SmoltcpStack {
    fn default() -> Self {
        Self::new()
    }
}

impl SmoltcpStack {
    pub fn new() -> SmoltcpStack {
        let mut wire = Wire::default();
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(SUT_MAC)));
        // A fixed seed keeps runs reproducible (ISNs, ephemeral choices).
        cfg.random_seed = 0x7469_6d65_7761_6974;
        let mut iface = Interface::new(cfg, &mut wire, ts(Duration::ZERO));
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(v4(SUT_ADDR)), 24));
        });
        SmoltcpStack {
            now: Duration::ZERO,
            wire,
            iface,
            sockets: SocketSet::new(Vec::new()),
            socket: None,
            listener: None,
            opened: Vec::new(),
            pending: VecDeque::new(),
            frames: Vec::new(),
        }
    }

    fn new_socket(&mut self) -> SocketHandle {
        let h = self.add_socket();
        self.socket = Some(h);
        h
    }

    /// A new socket, not (yet) the application's current one.
    fn add_socket(&mut self) -> SocketHandle {
        // Sockets that are done are dropped; one in TIME-WAIT stays.
        let sockets = &mut self.sockets;
        self.opened.retain(|&h| {
            let closed = sockets.get::<tcp::Socket>(h).state() == tcp::State::Closed;
            if closed {
                sockets.remove(h);
            }
            !closed
        });
        // The application's socket may have been one of them (a connection
        // that ended before a `listen-persistent`): it holds none now, and
        // its handle must not reach a socket added in its slot.
        if self.socket.is_some_and(|h| !self.opened.contains(&h)) {
            self.socket = None;
        }
        let rx = tcp::SocketBuffer::new(vec![0; 65535]);
        let tx = tcp::SocketBuffer::new(vec![0; 65535]);
        let h = self.sockets.add(tcp::Socket::new(rx, tx));
        self.opened.push(h);
        h
    }

    /// A fresh socket listening on the SUT's port, for the persistent
    /// listener.
    fn listening_socket(&mut self) -> Result<SocketHandle, String> {
        let h = self.add_socket();
        self.sockets
            .get_mut::<tcp::Socket>(h)
            .listen(SUT_ADDR.port())
            .map_err(|e| format!("listen: {e}"))?;
        Ok(h)
    }

    fn tcp(&mut self) -> Option<&mut tcp::Socket<'static>> {
        let h = self.socket?;
        Some(self.sockets.get_mut::<tcp::Socket>(h))
    }

    /// Runs smoltcp at the current time and collects what it sends.
    fn poll(&mut self) {
        for _ in 0..16 {
            self.iface
                .poll(ts(self.now), &mut self.wire, &mut self.sockets);
            // The application reads what arrives, as a real one would.
            if let Some(s) = self.tcp() {
                let mut buf = [0u8; 4096];
                while s.can_recv() {
                    if s.recv_slice(&mut buf).unwrap_or(0) == 0 {
                        break;
                    }
                }
            }
            let mut answered = false;
            while let Some(frame) = self.wire.from_sut.pop_front() {
                self.frames.push(Frame {
                    at: self.now,
                    data: frame.clone(),
                });
                if let Some(reply) = wire::arp_reply(&frame, PEER_ADDR, PEER_MAC) {
                    self.wire.to_sut.push_back(reply);
                    answered = true;
                } else if let Some(segment) = wire::parse_frame(&frame) {
                    if segment.src == SUT_ADDR && segment.dst == PEER_ADDR {
                        self.pending.push_back(Received {
                            at: self.now,
                            segment,
                        });
                    }
                }
            }
            if !answered && self.wire.to_sut.is_empty() {
                break;
            }
        }
    }
}

fn state(s: tcp::State) -> SockState {
    match s {
        tcp::State::Closed => SockState::Closed,
        tcp::State::Listen => SockState::Listen,
        tcp::State::SynSent => SockState::SynSent,
        tcp::State::SynReceived => SockState::SynReceived,
        tcp::State::Established => SockState::Established,
        tcp::State::FinWait1 => SockState::FinWait1,
        tcp::State::FinWait2 => SockState::FinWait2,
        tcp::State::CloseWait => SockState::CloseWait,
        tcp::State::Closing => SockState::Closing,
        tcp::State::LastAck => SockState::LastAck,
        tcp::State::TimeWait => SockState::TimeWait,
    }
}

impl Stack for SmoltcpStack {
    fn time_wait(&self) -> Duration {
        crate::stack::StackKind::Smoltcp.time_wait()
    }

    fn addresses(&self) -> (SocketAddrV4, SocketAddrV4) {
        (SUT_ADDR, PEER_ADDR)
    }

    fn now(&self) -> Duration {
        self.now
    }

    fn app(&mut self, call: App) -> Result<Result<(), String>, StackError> {
        let r = match call {
            App::Listen => {
                let h = self.new_socket();
                self.sockets
                    .get_mut::<tcp::Socket>(h)
                    .listen(SUT_ADDR.port())
                    .map_err(|e| format!("listen: {e}"))
            }
            App::ListenPersistent if self.listener.is_some() => {
                Err("listen: a listener is already open".into())
            }
            App::ListenPersistent => self.listening_socket().map(|h| {
                self.listener = Some(h);
            }),
            App::CloseListener => match self.listener.take() {
                Some(h) => {
                    // A listening socket, or one mid-handshake that no
                    // accept took: either way the application drops it.
                    self.sockets.get_mut::<tcp::Socket>(h).abort();
                    Ok(())
                }
                None => Err("close-listener without a persistent listener".into()),
            },
            App::Accept => {
                // From the persistent listener if one is open, else the
                // one-shot listening socket, which is the connection.
                let from = self.listener.or(self.socket);
                let st = from.map(|h| self.sockets.get::<tcp::Socket>(h).state());
                match st {
                    None
                    | Some(tcp::State::Listen | tcp::State::SynReceived | tcp::State::Closed) => {
                        Err("accept would block: no connection is established".into())
                    }
                    Some(_) if self.listener.is_some() => {
                        // The connected socket is the application's now; a
                        // fresh one listens in its place.
                        self.socket = from;
                        self.listening_socket().map(|h| {
                            self.listener = Some(h);
                        })
                    }
                    Some(_) => Ok(()),
                }
            }
            App::Connect => {
                let h = self.new_socket();
                let cx = self.iface.context();
                self.sockets
                    .get_mut::<tcp::Socket>(h)
                    .connect(
                        cx,
                        (IpAddress::Ipv4(v4(PEER_ADDR)), PEER_ADDR.port()),
                        SUT_ADDR.port(),
                    )
                    .map_err(|e| format!("connect: {e}"))
            }
            App::Send(n) => match self.tcp() {
                Some(s) => match s.send_slice(&vec![b'x'; usize::from(n)]) {
                    Ok(sent) if sent == usize::from(n) => Ok(()),
                    Ok(sent) => Err(format!("send wrote {sent} of {n} bytes")),
                    Err(e) => Err(format!("send: {e}")),
                },
                None => Err("no connection".into()),
            },
            // smoltcp's close() sends FIN and keeps receiving: both calls.
            App::Shutdown | App::Close => match self.tcp() {
                Some(s) => {
                    s.close();
                    Ok(())
                }
                None => Err("no connection".into()),
            },
            App::Abort => match self.tcp() {
                Some(s) => {
                    s.abort();
                    Ok(())
                }
                None => Err("abort without a connection".into()),
            },
        };
        self.poll();
        Ok(r)
    }

    fn inject(&mut self, seg: &WireSegment) -> Result<(), StackError> {
        let frame = wire::build_frame(seg, PEER_MAC, SUT_MAC)
            .map_err(|e| StackError::Harness(e.to_string()))?;
        self.frames.push(Frame {
            at: self.now,
            data: frame.clone(),
        });
        self.wire.to_sut.push_back(frame);
        self.poll();
        Ok(())
    }

    fn recv(&mut self, deadline: Duration) -> Result<Option<Received>, StackError> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Ok(Some(r));
            }
            if self.now >= deadline {
                return Ok(None);
            }
            // Jump to smoltcp's next timer, or to the deadline.
            let next = self
                .iface
                .poll_at(ts(self.now), &self.sockets)
                .map(|i| Duration::from_micros(i.total_micros().max(0) as u64));
            let step = match next {
                Some(t) if t > self.now => t,
                // Due now, and polling sent nothing: move on a little.
                Some(_) => self.now + Duration::from_millis(1),
                None => deadline,
            };
            self.now = step.min(deadline);
            self.poll();
        }
    }

    fn state(&mut self) -> Result<Option<SutState>, StackError> {
        // The newest connection on the 4-tuple, else a listener, else none.
        let states: Vec<tcp::State> = self
            .opened
            .iter()
            .map(|&h| self.sockets.get::<tcp::Socket>(h).state())
            .collect();
        let conn = states
            .iter()
            .rev()
            .find(|s| !matches!(s, tcp::State::Closed | tcp::State::Listen));
        let st = match conn {
            Some(&s) => state(s),
            None if states.contains(&tcp::State::Listen) => SockState::Listen,
            None => SockState::Closed,
        };
        // smoltcp does not show TIME-WAIT's time left.
        Ok(Some(SutState {
            state: st,
            remaining: None,
        }))
    }
}
