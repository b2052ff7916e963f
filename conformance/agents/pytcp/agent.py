#!/usr/bin/env python3
"""The timewait agent for PyTCP (PyPI `pmd-pytcp`): agent protocol v1
(conformance/agents/PROTOCOL.md) on stdin and stdout, tap mode only.

PyTCP runs here, in this process, on the TAP interface the harness
created, with the SUT's address and MAC from `hello` (static: no DHCP,
no IPv6). PyTCP is pure asyncio: its RX ring, timers and TCP sessions
are callbacks on one event loop, and so is this agent's request loop, so
nothing here needs a lock. The application calls are PyTCP's
Berkeley-sockets API (`pmd_pytcp.socket`); a socket's state is its TCP
session's FSM state. Only stdlib and PyTCP are imported: the harness
runs this file with the virtual environment's interpreter.
"""

import asyncio
import importlib.metadata
import json
import os
import struct
import sys
import traceback

# The protocol's ops and the state names it uses (RFC 9293's).
STATE_NAMES = {
    "CLOSED": "CLOSED",
    "LISTEN": "LISTEN",
    "SYN_SENT": "SYN-SENT",
    "SYN_RCVD": "SYN-RECEIVED",
    "ESTABLISHED": "ESTABLISHED",
    "FIN_WAIT_1": "FIN-WAIT-1",
    "FIN_WAIT_2": "FIN-WAIT-2",
    "CLOSE_WAIT": "CLOSE-WAIT",
    "CLOSING": "CLOSING",
    "LAST_ACK": "LAST-ACK",
    "TIME_WAIT": "TIME-WAIT",
}
# The accept queue a listener keeps (PROTOCOL.md: the backlog is 4).
BACKLOG = 4
# The longest request line read; longer is refused as fatal.
MAX_LINE = 1 << 20
# How long the agent lets PyTCP run before acting on a request and before
# answering it. PyTCP defers what a call or a segment sets off to its FSM
# pump, a timer 1 ms later at millisecond resolution (tcp__session.py,
# '_pump_tail' and '_kick_pump'): data a send queued, the FIN after a
# close, a state change; this lets that tick run, so that a reply or a
# state check does not depend on whether the harness's next request
# happens to come before or after it.
SETTLE_S = 0.003


class Fatal(Exception):
    """The agent cannot go on with this request (a `fatal` reply)."""


class Refused(Exception):
    """The application call failed, as a socket call would (an `error` reply)."""


def endpoint(text, field):
    """`"192.0.2.1:8000"` as (address, port); Fatal when malformed."""
    if not isinstance(text, str) or text.count(":") != 1:
        raise Fatal(f'hello needs "{field}" as "a.b.c.d:port", got {json.dumps(text)}')
    host, port = text.split(":")
    parts = host.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise Fatal(f'hello: "{field}" has no IPv4 address: {json.dumps(text)}')
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise Fatal(f'hello: "{field}" has no port in 1..65535: {json.dumps(text)}')
    return host, int(port)


class Agent:
    def __init__(self):
        self.stack = None  # pmd_pytcp.stack, once hello has started it
        self.sock_mod = None  # pmd_pytcp.socket
        self.rx_ring = None
        self.sut = None
        self.peer = None
        self.listener = None
        self.persistent = False
        self.conn = None
        self.reader = None
        self.connecting = None
        # What the application saw since the last reply.
        self.events = []

    # ---- start-up ----

    async def hello(self, req):
        if self.stack is not None:
            raise Fatal("hello twice")
        if req.get("version") != 1:
            raise Fatal(f"this agent speaks protocol version 1, asked for {json.dumps(req.get('version'))}")
        if req.get("mode") != "tap":
            # PyTCP runs its own timers on the event loop's clock; it
            # cannot be driven on a virtual one.
            raise Fatal(f"PyTCP runs in tap mode only (real time), asked for {json.dumps(req.get('mode'))}")
        self.sut = endpoint(req.get("sut"), "sut")
        self.peer = endpoint(req.get("peer"), "peer")
        tap, mac = req.get("tap"), req.get("sut_mac")
        if not isinstance(tap, str) or not tap or len(tap) > 15 or not isinstance(mac, str):
            raise Fatal('tap mode needs "tap" (an interface name) and "sut_mac" (xx:xx:xx:xx:xx:xx)')
        # Imported here so that a broken installation is a fatal reply
        # naming the error, not a traceback before hello.
        try:
            from pmd_net_addr import Ip4IfAddr, MacAddress
            from pmd_pytcp import socket as sock_mod
            from pmd_pytcp import stack
        except ImportError as e:
            raise Fatal(f"cannot import PyTCP: {e}") from e
        try:
            mac_address = MacAddress(mac)
        except Exception as e:  # PyTCP's own format error
            raise Fatal(f'hello: "sut_mac" is not a MAC address: {json.dumps(mac)} ({e})') from e
        # The interface helper dispatches on a `tap` name prefix; the
        # harness's device has its own name, so it is opened directly.
        try:
            iface = stack.initialize_interface__tap(tap, mac_address=mac_address)
        except OSError as e:
            raise Fatal(f"attaching to TAP interface {tap}: {e}") from e
        stack.init()
        ifindex = stack.add_interface(
            **iface,
            ip4_dhcp=False,
            ip6_support=False,
            ip6_gua_autoconfig=False,
            ip6_lla_autoconfig=False,
        )
        # Installed directly, as `ip addr add` does, before the start: a
        # host address given to `add_interface` is claimed at start with
        # RFC 5227's probes and announcements (up to 9 s of ARP).
        stack.address.interface(ifindex).add(ifaddr=Ip4IfAddr(f"{self.sut[0]}/24"))
        await stack.start()
        self.stack, self.sock_mod = stack, sock_mod
        self.rx_ring = stack.interfaces[ifindex]._rx_ring
        # A listener opened and closed before the spec starts (nothing goes
        # on the wire): PyTCP imports parts of its TCP code on first use,
        # which made a spec's first call several times slower than the
        # rest, and on a busy machine later than the spec allows.
        warm = self.new_socket()
        warm.bind(self.sut)
        warm.listen(backlog=BACKLOG)
        warm.close()
        version = importlib.metadata.version("pmd-pytcp")
        return {"version": 1, "stack": f"PyTCP {version} (pmd-pytcp)", "clock": "real"}

    def take_queued_frames(self):
        """Feeds PyTCP every frame already queued on the TAP port.

        PROTOCOL.md, "Real time over TAP": a request must not overtake a
        segment the harness sent before it. The RX ring's readiness
        callback reads until the port is empty; calling it here runs it
        before the request instead of at the loop's next turn.
        """
        if self.rx_ring is not None:
            self.rx_ring._on_readable()

    # ---- the application ----

    def new_socket(self):
        s = self.sock_mod.socket(self.sock_mod.AddressFamily.INET4, self.sock_mod.SocketType.STREAM)
        s.setsockopt(self.sock_mod.SOL_SOCKET, self.sock_mod.SO_REUSEADDR, 1)
        return s

    def listen(self, persistent):
        if self.listener is not None and self.persistent:
            raise Refused("listen: the persistent listener is open")
        if self.listener is not None:
            raise Refused("listen: a listener is open already")
        s = self.new_socket()
        try:
            s.bind(self.sut)
            s.listen(backlog=BACKLOG)
        except OSError as e:
            s.close()
            raise Refused(f"listen: {e}") from e
        # accept never waits: with nothing queued it fails at once.
        s.setblocking(False)
        self.listener, self.persistent = s, persistent

    async def accept(self):
        if self.listener is None:
            raise Refused("accept without a listener")
        if self.conn is not None:
            raise Refused("accept: a connection is open already")
        try:
            conn, _ = await self.listener.accept()
        except BlockingIOError as e:
            raise Refused("accept would block: no connection is established") from e
        except OSError as e:
            raise Refused(f"accept: {e}") from e
        conn.setblocking(True)
        self.adopt(conn)
        self.events.append({"kind": "accepted"})
        if not self.persistent:
            self.listener.close()
            self.listener = None

    def close_listener(self):
        if self.listener is None or not self.persistent:
            raise Refused("close-listener without a persistent listener")
        self.listener.close()
        self.listener, self.persistent = None, False

    def connect(self):
        if self.conn is not None or self.connecting is not None:
            raise Refused("connect: a connection is open already")
        s = self.new_socket()
        try:
            s.bind(self.sut)
        except OSError as e:
            s.close()
            raise Refused(f"connect: {e}") from e
        # PyTCP's connect is a coroutine that returns once the handshake
        # is over; its SYN goes out inside the first step, which the
        # task runs before this request is answered (see `serve`).
        task = asyncio.get_running_loop().create_task(s.connect(self.peer))
        self.connecting = (s, task)
        task.add_done_callback(self.connected)

    def connected(self, task):
        s, _ = self.connecting
        self.connecting = None
        if task.cancelled():
            return
        e = task.exception()
        if e is None:
            self.events.append({"kind": "connected"})
            self.adopt(s)
        elif isinstance(e, ConnectionRefusedError):
            self.events.append({"kind": "reset"})
        elif isinstance(e, TimeoutError):
            self.events.append({"kind": "timeout"})
        else:
            self.events.append({"kind": "error", "detail": f"connect: {e}"})

    def adopt(self, conn):
        """Makes `conn` the current connection and reads everything it gets."""
        self.conn = conn
        self.reader = asyncio.get_running_loop().create_task(self.read_all(conn))

    async def read_all(self, conn):
        """The application reads whatever arrives (PROTOCOL.md), so that
        windows open and closing never meets unread data."""
        while True:
            try:
                data = await conn.recv(65536)
            except ConnectionResetError:
                self.events.append({"kind": "reset"})
                return
            except TimeoutError:
                self.events.append({"kind": "timeout"})
                return
            except OSError as e:
                self.events.append({"kind": "error", "detail": f"recv: {e}"})
                return
            if not data:
                self.events.append({"kind": "eof"})
                return
            self.events.append({"kind": "received", "bytes": len(data)})

    def current(self, op):
        if self.conn is not None:
            return self.conn
        if self.connecting is not None:
            return self.connecting[0]
        raise Refused(f"{op} without a connection")

    async def send(self, n):
        s = self.current("send")
        try:
            await s.send(b"x" * n)
        except OSError as e:
            raise Refused(f"send: {e}") from e

    def shutdown(self):
        s = self.current("shutdown")
        try:
            s.shutdown(self.sock_mod.SHUT_WR)
        except OSError as e:
            raise Refused(f"shutdown: {e}") from e

    def forget_connection(self):
        """The application lets go of the connection: it reads no more
        (the stack keeps the session for TIME-WAIT and the like)."""
        if self.reader is not None:
            self.reader.cancel()
        if self.connecting is not None:
            # A closed socket's connect ends with an error nobody awaits;
            # it is taken here so that asyncio does not log it.
            task = self.connecting[1]
            task.remove_done_callback(self.connected)
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self.connecting = None
        self.conn, self.reader = None, None

    def close(self):
        if self.conn is None and self.connecting is None:
            if self.listener is not None and not self.persistent:
                self.listener.close()
                self.listener = None
                return
            raise Refused("close without a connection")
        s = self.current("close")
        self.forget_connection()
        try:
            s.close()
        except OSError as e:
            raise Refused(f"close: {e}") from e

    def abort(self):
        s = self.current("abort")
        self.forget_connection()
        try:
            # SO_LINGER {on, 0 s}: close sends a RST (PROTOCOL.md).
            s.setsockopt(self.sock_mod.SOL_SOCKET, self.sock_mod.SO_LINGER, struct.pack("@ii", 1, 0))
            s.close()
        except OSError as e:
            raise Refused(f"abort: {e}") from e

    def state(self):
        """Every connection and listener on the SUT's port, oldest first
        (the socket table keeps registration order)."""
        from pmd_pytcp.socket.tcp__socket import TcpSocket

        conns = []
        for s in list(self.stack.sockets.values()):
            if not isinstance(s, TcpSocket) or s.local_port != self.sut[1]:
                continue
            session = s.tcp_session
            if session is None:
                continue
            name = session.state.name
            remaining = None
            if name == "TIME_WAIT":
                deadline = session._timers.deadline("time_wait")
                if deadline is not None:
                    remaining = max(0, deadline - self.stack.timer.now_ms) * 1000
            listening = name == "LISTEN"
            conns.append(
                {
                    "local": f"{self.sut[0] if listening else s.local_ip_address}:{s.local_port}",
                    "remote": "0.0.0.0:0" if listening else f"{s.remote_ip_address}:{s.remote_port}",
                    "state": STATE_NAMES.get(name, name),
                    "remaining_us": remaining,
                }
            )
        return {"conns": conns}

    # ---- the protocol ----

    async def handle(self, req):
        op = req.get("op")
        if op == "hello":
            return await self.hello(req)
        if op == "quit":
            return {}
        if self.stack is None:
            raise Fatal(f"{json.dumps(op)} before hello")
        self.take_queued_frames()
        await asyncio.sleep(SETTLE_S)
        if op == "listen":
            self.listen(False)
        elif op == "listen-persistent":
            self.listen(True)
        elif op == "accept":
            await self.accept()
        elif op == "close-listener":
            self.close_listener()
        elif op == "connect":
            self.connect()
        elif op == "send":
            n = req.get("bytes")
            if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 65535:
                raise Fatal(f'send needs "bytes" (0..65535), got {json.dumps(n)}')
            await self.send(n)
        elif op == "shutdown":
            self.shutdown()
        elif op == "close":
            self.close()
        elif op == "abort":
            self.abort()
        elif op == "state":
            return self.state()
        elif op in ("frame", "advance"):
            raise Fatal(f"{json.dumps(op)} is a virtual-mode request; this agent runs in tap mode")
        else:
            raise Fatal(f"unknown op {json.dumps(op)}")
        return {}

    async def serve(self, lines):
        while True:
            try:
                line = await lines.readline()
            except ValueError:
                reply({"ok": False, "fatal": f"a request line longer than {MAX_LINE} bytes"})
                return
            if not line:
                return
            try:
                req = json.loads(line)
                if not isinstance(req, dict):
                    raise ValueError("not a JSON object")
            except ValueError as e:
                text = line.decode("utf-8", "replace").strip()[:200]
                reply({"ok": False, "fatal": f"not a request ({e}): {json.dumps(text)}"})
                continue
            try:
                out = await self.handle(req)
                # Let the stack finish what the call started (a connect's
                # SYN, a send's segment: see SETTLE_S) before answering.
                if self.stack is not None:
                    await asyncio.sleep(SETTLE_S)
                out = {"ok": True, **out}
            except Refused as e:
                out = {"ok": False, "error": str(e)}
            except Fatal as e:
                out = {"ok": False, "fatal": str(e)}
            if self.events:
                out["events"], self.events = self.events, []
            reply(out)
            if req.get("op") == "quit":
                return


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main():
    loop = asyncio.get_running_loop()
    lines = asyncio.StreamReader(limit=MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lines), sys.stdin)
    await Agent().serve(lines)


if __name__ == "__main__":
    code = 0
    try:
        asyncio.run(main())
    except BaseException:  # the harness quotes stderr's last lines
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # The end of input or `quit` ends the run: exit at once, without
    # PyTCP's teardown, which would send RSTs for open connections onto
    # a wire whose spec is over.
    os._exit(code)
