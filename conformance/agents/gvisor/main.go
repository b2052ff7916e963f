// timewait's gVisor agent: one instance of gVisor's netstack (Debian's
// 2022-12-19 snapshot, built in GOPATH mode) behind the agent protocol v1
// (conformance/agents/PROTOCOL.md), on a virtual clock. Packets go in and
// out through a link/channel endpoint (bare IPv4, no link header).
//
// The stack answers from worker goroutines (its TCP processors), so before
// the agent reads the stack's output or moves the clock it waits for a
// quiescent point: every timer goroutine done and every processor idle
// (Stack.Pause waits until each processor's queue is empty).

package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"strconv"
	"time"

	"gvisor.dev/gvisor/pkg/bufferv2"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

const nic = 1

type request struct {
	Op      string  `json:"op"`
	Version int     `json:"version"`
	Mode    string  `json:"mode"`
	Sut     string  `json:"sut"`
	Peer    string  `json:"peer"`
	Bytes   *int    `json:"bytes"`
	Data    *string `json:"data"`
	UntilUs *uint64 `json:"until_us"`
}

type event struct {
	Kind  string `json:"kind"`
	Bytes *int   `json:"bytes,omitempty"`
}

type connState struct {
	Local       string  `json:"local"`
	Remote      string  `json:"remote"`
	State       string  `json:"state"`
	RemainingUs *uint64 `json:"remaining_us"`
}

// One endpoint the application opened. Endpoints are kept after the
// application closes them: the stack still holds them in TIME-WAIT.
type sock struct {
	ep       tcpip.Endpoint
	wq       *waiter.Queue
	listener bool
	closed   bool // by the application
	eof      bool
	last     tcp.EndpointState
}

type agent struct {
	clk    *vclock
	s      *stack.Stack
	link   *channel.Endpoint
	sut    tcpip.FullAddress
	peer   tcpip.FullAddress
	listen *sock
	// The listener stays open after each accept (listen-persistent).
	persistent bool
	cur        *sock
	all        []*sock
	events     []event
	frames     []string
}

func parseAddr(s string) (tcpip.FullAddress, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return tcpip.FullAddress{}, err
	}
	ip := net.ParseIP(host).To4()
	p, err := strconv.Atoi(port)
	if ip == nil || err != nil || p <= 0 || p > 65535 {
		return tcpip.FullAddress{}, fmt.Errorf("%q is not an IPv4 address:port", s)
	}
	return tcpip.FullAddress{NIC: nic, Addr: tcpip.Address(ip), Port: uint16(p)}, nil
}

func (a *agent) hello(r *request) (map[string]any, error) {
	if r.Mode != "virtual" {
		return nil, fmt.Errorf("only virtual mode: this agent links gVisor's netstack to a channel endpoint, not a TAP device")
	}
	sut, err := parseAddr(r.Sut)
	if err != nil {
		return nil, err
	}
	peer, err := parseAddr(r.Peer)
	if err != nil {
		return nil, err
	}
	a.sut, a.peer = sut, peer
	a.clk = newClock()
	a.s = stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
		Clock:              a.clk,
		// Fixed seeds keep runs reproducible (ISNs, ephemeral choices).
		RandSource: rand.NewSource(1),
		SecureRNG:  rand.New(rand.NewSource(2)),
	})
	a.link = channel.New(1024, 1500, "")
	if err := a.s.CreateNIC(nic, a.link); err != nil {
		return nil, fmt.Errorf("CreateNIC: %s", err)
	}
	addr := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: sut.Addr, PrefixLen: 24},
	}
	if err := a.s.AddProtocolAddress(nic, addr, stack.AddressProperties{}); err != nil {
		return nil, fmt.Errorf("AddProtocolAddress: %s", err)
	}
	a.s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: nic}})
	return map[string]any{"version": 1, "stack": "gVisor netstack", "clock": "virtual"}, nil
}

// quiesce returns once no timer goroutine runs and every TCP processor is idle.
func (a *agent) quiesce() {
	a.clk.running.Wait()
	a.s.Pause()
	a.s.Resume()
}

// collect takes what the stack sent and what the application saw.
func (a *agent) collect() {
	a.quiesce()
	for {
		pkt := a.link.Read()
		if pkt.IsNil() {
			break
		}
		v := pkt.ToView()
		a.frames = append(a.frames, hex.EncodeToString(v.AsSlice()))
		v.Release()
		pkt.DecRef()
	}
	for _, s := range a.all {
		if s.listener {
			continue
		}
		if !s.closed {
			// The application reads everything at once, as the protocol says.
			for {
				var b bytes.Buffer
				res, err := s.ep.Read(&b, tcpip.ReadOptions{})
				if err == nil && res.Count > 0 {
					n := res.Count
					a.events = append(a.events, event{Kind: "received", Bytes: &n})
					continue
				}
				if _, ok := err.(*tcpip.ErrClosedForReceive); ok && !s.eof {
					s.eof = true
					a.events = append(a.events, event{Kind: "eof"})
				}
				break
			}
		}
		st := tcp.EndpointState(s.ep.State())
		if st != s.last {
			switch {
			case st == tcp.StateEstablished && (s.last == tcp.StateSynSent || s.last == tcp.StateConnecting):
				a.events = append(a.events, event{Kind: "connected"})
			case st == tcp.StateError:
				kind := "reset"
				if _, ok := s.ep.LastError().(*tcpip.ErrTimeout); ok {
					kind = "timeout"
				}
				a.events = append(a.events, event{Kind: kind})
			case st == tcp.StateClose:
				a.events = append(a.events, event{Kind: "closed"})
			}
			s.last = st
		}
	}
}

func (a *agent) newSock() (*sock, error) {
	var wq waiter.Queue
	ep, err := a.s.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if err != nil {
		return nil, fmt.Errorf("socket: %s", err)
	}
	// The 4-tuple is reused while an older incarnation is in TIME-WAIT.
	ep.SocketOptions().SetReuseAddress(true)
	bind := a.sut
	bind.NIC = 0
	if err := ep.Bind(bind); err != nil {
		ep.Close()
		return nil, fmt.Errorf("bind: %s", err)
	}
	s := &sock{ep: ep, wq: &wq, last: tcp.EndpointState(ep.State())}
	return s, nil
}

// app runs an application call; a non-nil error is the call's failure.
func (a *agent) app(r *request) error {
	switch r.Op {
	case "listen", "listen-persistent":
		if a.listen != nil && a.persistent {
			return fmt.Errorf("listen: the persistent listener is open")
		}
		s, err := a.newSock()
		if err != nil {
			return err
		}
		if err := s.ep.Listen(4); err != nil {
			s.ep.Close()
			return fmt.Errorf("listen: %s", err)
		}
		s.listener = true
		a.listen = s
		a.persistent = r.Op == "listen-persistent"
		a.all = append(a.all, s)
	case "accept":
		if a.listen == nil {
			return fmt.Errorf("accept without a listener")
		}
		a.quiesce()
		ep, wq, err := a.listen.ep.Accept(nil)
		if err != nil {
			if _, ok := err.(*tcpip.ErrWouldBlock); ok {
				return fmt.Errorf("accept would block: no connection is established")
			}
			return fmt.Errorf("accept: %s", err)
		}
		s := &sock{ep: ep, wq: wq, last: tcp.EndpointState(ep.State())}
		a.all = append(a.all, s)
		a.cur = s
		// A one-shot listener closes here; the persistent one stays.
		if !a.persistent {
			a.closeListener()
		}
	case "close-listener":
		if a.listen == nil || !a.persistent {
			return fmt.Errorf("close-listener without a persistent listener")
		}
		a.closeListener()
	case "connect":
		s, err := a.newSock()
		if err != nil {
			return err
		}
		a.all = append(a.all, s)
		a.cur = s
		if err := s.ep.Connect(a.peer); err != nil {
			if _, ok := err.(*tcpip.ErrConnectStarted); !ok {
				return fmt.Errorf("connect to %s: %s", a.peer.Addr, err)
			}
		}
	case "send":
		if r.Bytes == nil || *r.Bytes < 0 || *r.Bytes > 65535 {
			return fatal("send needs \"bytes\": 0..65535")
		}
		if a.cur == nil {
			return fmt.Errorf("no connection")
		}
		n, err := a.cur.ep.Write(bytes.NewReader(bytes.Repeat([]byte("x"), *r.Bytes)), tcpip.WriteOptions{})
		if err != nil {
			return fmt.Errorf("send: %s", err)
		}
		if int(n) != *r.Bytes {
			return fmt.Errorf("send wrote %d of %d bytes", n, *r.Bytes)
		}
	case "shutdown":
		if a.cur == nil {
			return fmt.Errorf("no connection")
		}
		if err := a.cur.ep.Shutdown(tcpip.ShutdownWrite); err != nil {
			return fmt.Errorf("shutdown: %s", err)
		}
	case "close":
		switch {
		case a.cur != nil:
			a.collect() // read what arrived, so closing is not a RST for unread data
			a.cur.ep.Close()
			a.cur.closed = true
			a.cur = nil
		// Without a connection, close closes a one-shot listener; the
		// persistent one goes only with close-listener.
		case a.listen != nil && !a.persistent:
			a.closeListener()
		}
	case "abort":
		if a.cur == nil {
			return fmt.Errorf("abort without a connection")
		}
		// SO_LINGER {on, 0}: Close sends a RST.
		a.cur.ep.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true, Timeout: 0})
		a.cur.ep.Close()
		a.cur.closed = true
		a.cur = nil
	}
	return nil
}

func (a *agent) closeListener() {
	a.listen.ep.Close()
	a.listen.closed = true
	a.listen = nil
	a.persistent = false
}

type fatalError string

func (f fatalError) Error() string { return string(f) }

func fatal(s string) error { return fatalError(s) }

func (a *agent) inject(r *request) error {
	if r.Data == nil {
		return fatal("frame needs \"data\": hex")
	}
	b, err := hex.DecodeString(*r.Data)
	if err != nil {
		return fatal(fmt.Sprintf("frame data is not hex: %v", err))
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: bufferv2.MakeWithData(b)})
	a.link.InjectInbound(ipv4.ProtocolNumber, pkt)
	pkt.DecRef()
	return nil
}

// advance moves the clock from one due timer to the next and stops at the
// first instant the stack sends a frame, or at `until`.
func (a *agent) advance(r *request) error {
	if r.UntilUs == nil {
		return fatal("advance needs \"until_us\"")
	}
	until := time.Duration(*r.UntilUs) * time.Microsecond
	for {
		a.collect()
		if len(a.frames) > 0 || a.nowD() >= until {
			return nil
		}
		next, ok := a.clk.next()
		if !ok || next > until {
			a.clk.fireDue(until)
			a.collect()
			return nil
		}
		a.clk.fireDue(next)
	}
}

func (a *agent) nowD() time.Duration {
	return a.clk.Now().Sub(epoch)
}

var stateNames = map[tcp.EndpointState]string{
	tcp.StateEstablished: "ESTABLISHED",
	tcp.StateSynSent:     "SYN-SENT",
	tcp.StateConnecting:  "SYN-SENT",
	tcp.StateSynRecv:     "SYN-RECEIVED",
	tcp.StateFinWait1:    "FIN-WAIT-1",
	tcp.StateFinWait2:    "FIN-WAIT-2",
	tcp.StateTimeWait:    "TIME-WAIT",
	tcp.StateCloseWait:   "CLOSE-WAIT",
	tcp.StateLastAck:     "LAST-ACK",
	tcp.StateClosing:     "CLOSING",
	tcp.StateListen:      "LISTEN",
}

func (a *agent) state() []connState {
	out := []connState{}
	local := net.JoinHostPort(net.IP(a.sut.Addr).String(), strconv.Itoa(int(a.sut.Port)))
	remote := net.JoinHostPort(net.IP(a.peer.Addr).String(), strconv.Itoa(int(a.peer.Port)))
	for _, s := range a.all {
		name, ok := stateNames[tcp.EndpointState(s.ep.State())]
		if !ok {
			name = "CLOSED"
		}
		c := connState{Local: local, Remote: remote, State: name}
		if s.listener {
			c.Remote = "0.0.0.0:0"
		}
		out = append(out, c)
	}
	// Connections the application has not seen yet (a SYN-RECEIVED one
	// under the listener, a new incarnation reopened from TIME-WAIT) are
	// newer than all of its own.
	mine := map[tcpip.Endpoint]bool{}
	for _, s := range a.all {
		mine[s.ep] = true
	}
	for _, te := range a.s.RegisteredEndpoints() {
		ep, ok := te.(tcpip.Endpoint)
		if !ok || mine[ep] {
			continue
		}
		addr, err := ep.GetLocalAddress()
		name, known := stateNames[tcp.EndpointState(ep.State())]
		if err != nil || addr.Port != a.sut.Port || !known || name == "LISTEN" {
			continue
		}
		out = append(out, connState{Local: local, Remote: remote, State: name})
	}
	return out
}

func (a *agent) handle(line []byte) map[string]any {
	var r request
	if err := json.Unmarshal(line, &r); err != nil || r.Op == "" {
		q := string(line)
		if len(q) > 200 {
			q = q[:200]
		}
		return map[string]any{"ok": false, "fatal": fmt.Sprintf("not a request (a JSON object with \"op\"): %q", q)}
	}
	if r.Op == "hello" {
		if a.s != nil {
			return map[string]any{"ok": false, "fatal": "hello twice"}
		}
		extra, err := a.hello(&r)
		if err != nil {
			return map[string]any{"ok": false, "fatal": err.Error()}
		}
		return a.ok(extra)
	}
	if r.Op == "quit" {
		return map[string]any{"ok": true}
	}
	if a.s == nil {
		return map[string]any{"ok": false, "fatal": "the first request must be hello"}
	}
	var err error
	var extra map[string]any
	switch r.Op {
	case "listen", "listen-persistent", "accept", "close-listener", "connect", "send", "shutdown", "close", "abort":
		err = a.app(&r)
	case "frame":
		err = a.inject(&r)
	case "advance":
		err = a.advance(&r)
	case "state":
		a.collect()
		extra = map[string]any{"conns": a.state()}
	default:
		err = fatal(fmt.Sprintf("unknown op %q", r.Op))
	}
	if f, ok := err.(fatalError); ok {
		return map[string]any{"ok": false, "fatal": string(f)}
	}
	if err != nil {
		a.collect()
		return map[string]any{"ok": false, "error": err.Error()}
	}
	return a.ok(extra)
}

func (a *agent) ok(extra map[string]any) map[string]any {
	a.collect()
	m := map[string]any{"ok": true, "now_us": uint64(a.nowD() / time.Microsecond), "frames": a.frames, "events": a.events}
	for k, v := range extra {
		m[k] = v
	}
	a.frames = []string{}
	a.events = []event{}
	return m
}

func main() {
	a := &agent{frames: []string{}, events: []event{}}
	in := bufio.NewReaderSize(os.Stdin, 1<<16)
	out := bufio.NewWriter(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			reply := a.handle(bytes.TrimSpace(line))
			b, _ := json.Marshal(reply)
			out.Write(b)
			out.WriteByte('\n')
			out.Flush()
			var r request
			if json.Unmarshal(line, &r) == nil && r.Op == "quit" {
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gvisor agent: reading stdin:", err)
			os.Exit(1)
		}
	}
}
