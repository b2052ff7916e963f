//! The worked example of an agent (conformance/agents/PROTOCOL.md): smoltcp
//! behind the agent protocol, virtual mode. A new stack's agent has the same
//! shape: read a request line, map it to the stack's calls, answer with the
//! clock, the frames the stack sent and what the application saw. Because
//! the same smoltcp also runs in-process (`--stack smoltcp`), a test can
//! check that the protocol path changes no verdict.

use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::time::Duration;
use timewait_conformance::backends::smoltcp::SmoltcpStack;
use timewait_conformance::stack::Stack;
use timewait_conformance::wire;
use timewait_specs::format::App;

/// The agent's state: the stack and how much of its frame log was reported.
struct Agent {
    stack: SmoltcpStack,
    reported: usize,
}

impl Agent {
    /// An `ok` reply carrying the clock and every frame smoltcp sent since
    /// the last reply (as bare IPv4 packets).
    fn ok(&mut self, mut extra: Value) -> Value {
        // Drop the queue of parsed segments: the frame log says it all.
        while let Ok(Some(_)) = self.stack.recv(self.stack.now()) {}
        let frames: Vec<String> = self.stack.frames[self.reported..]
            .iter()
            .filter(|f| f.data.get(6..12) == Some(&timewait_conformance::wire::SUT_MAC[..]))
            .filter(|f| f.data.get(12..14) == Some(&[0x08, 0x00][..]))
            .map(|f| hex::encode(&f.data[14..]))
            .collect();
        self.reported = self.stack.frames.len();
        extra["ok"] = json!(true);
        extra["now_us"] = json!(self.stack.now().as_micros() as u64);
        extra["frames"] = json!(frames);
        extra
    }

    fn app(&mut self, call: App) -> Value {
        match self.stack.app(call) {
            Ok(Ok(())) => self.ok(json!({})),
            Ok(Err(e)) => json!({"ok": false, "error": e}),
            Err(e) => json!({"ok": false, "fatal": e.to_string()}),
        }
    }

    fn handle(&mut self, req: &Value) -> Value {
        let op = req["op"].as_str().unwrap_or("");
        match op {
            "hello" if req["mode"] != "virtual" => {
                json!({"ok": false, "fatal": "only virtual mode: smoltcp runs in this process"})
            }
            "hello" => self.ok(json!({"version": 1, "stack": concat!("smoltcp ", env!("TIMEWAIT_SMOLTCP_VERSION")), "clock": "virtual"})),
            "listen" => self.app(App::Listen),
            "listen-persistent" => self.app(App::ListenPersistent),
            "accept" => self.app(App::Accept),
            "close-listener" => self.app(App::CloseListener),
            "connect" => self.app(App::Connect),
            "send" => match req["bytes"].as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(n) => self.app(App::Send(n)),
                None => json!({"ok": false, "fatal": "send needs \"bytes\": 0..65535"}),
            },
            "shutdown" => self.app(App::Shutdown),
            "close" => self.app(App::Close),
            "abort" => self.app(App::Abort),
            "frame" => {
                let packet = req["data"].as_str().map(hex::decode);
                let Some(Ok(packet)) = packet else {
                    return json!({"ok": false, "fatal": "frame needs \"data\": hex"});
                };
                let mut frame = Vec::with_capacity(14 + packet.len());
                frame.extend_from_slice(&timewait_conformance::wire::SUT_MAC);
                frame.extend_from_slice(&timewait_conformance::wire::PEER_MAC);
                frame.extend_from_slice(&[0x08, 0x00]);
                frame.extend_from_slice(&packet);
                match wire::parse_frame(&frame) {
                    Some(seg) => match self.stack.inject(&seg) {
                        Ok(()) => self.ok(json!({})),
                        Err(e) => json!({"ok": false, "fatal": e.to_string()}),
                    },
                    None => json!({"ok": false, "error": "not a TCP/IPv4 packet"}),
                }
            }
            "advance" => {
                let Some(until) = req["until_us"].as_u64() else {
                    return json!({"ok": false, "fatal": "advance needs \"until_us\""});
                };
                // The in-process adapter's recv already stops at the first
                // frame smoltcp sends, which is what `advance` asks for.
                match self.stack.recv(Duration::from_micros(until)) {
                    Ok(_) => self.ok(json!({})),
                    Err(e) => json!({"ok": false, "fatal": e.to_string()}),
                }
            }
            "state" => match self.stack.state() {
                Ok(s) => {
                    let conns = s.map(|s| {
                        let remote = if s.state == timewait_specs::format::SockState::Listen {
                            "0.0.0.0:0".to_string()
                        } else {
                            self.stack.addresses().1.to_string()
                        };
                        json!({
                            "local": self.stack.addresses().0.to_string(),
                            "remote": remote,
                            "state": s.state.name(),
                            "remaining_us": s.remaining.map(|d| d.as_micros() as u64),
                        })
                    });
                    self.ok(json!({"conns": conns.into_iter().collect::<Vec<_>>()}))
                }
                Err(e) => json!({"ok": false, "fatal": e.to_string()}),
            },
            "quit" => json!({"ok": true}),
            _ => json!({"ok": false, "fatal": format!("unknown op {op:?}")}),
        }
    }
}

fn main() {
    let mut agent = Agent {
        stack: SmoltcpStack::new(),
        reported: 0,
    };
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let (reply, quit) = match serde_json::from_str::<Value>(&line) {
            Ok(req) => (agent.handle(&req), req["op"] == "quit"),
            Err(e) => (
                json!({"ok": false, "fatal": format!("not JSON ({e}): {line:?}")}),
                false,
            ),
        };
        if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() || quit {
            break;
        }
    }
}
