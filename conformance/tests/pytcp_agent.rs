//! The PyTCP agent as a harness meets it before any TAP device exists (no
//! root needed): a request before `hello`, a virtual-mode `hello` (PyTCP
//! runs on real time only), a malformed `hello`, a line that is not JSON
//! or not UTF-8 each get one `fatal` reply naming what was wrong, every
//! reply is one line of JSON, the agent answers on afterwards, and it
//! exits 0 at the end of its input. Its runs over TAP are `pytcp::NAME`
//! in tests/linux.rs.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;
use timewait_conformance::backends::agent::shipped::Agent;
use timewait_conformance::stack;

/// How long one reply may take: the first carries PyTCP's import.
const REPLY: Duration = Duration::from_secs(30);

struct Driven {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Vec<u8>>,
}

impl Driven {
    /// The agent, or `None` (after saying why) where PyTCP is not installed.
    fn start() -> Option<Driven> {
        if let Some(why) = Agent::Pytcp.unavailable() {
            assert!(
                !stack::skips_forbidden(),
                "CI=true forbids skipping the PyTCP agent's tests: {why}"
            );
            eprintln!("skipped: {why}");
            return None;
        }
        let mut cmd = Agent::Pytcp.command().expect("the PyTCP agent is ready");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the agent starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Some(Driven {
            child,
            stdin,
            lines,
        })
    }

    /// Sends `request` (one line) and parses the one reply.
    fn ask(&mut self, request: &[u8]) -> Value {
        let stdin = self.stdin.as_mut().expect("input open");
        stdin.write_all(request).expect("request written");
        stdin.write_all(b"\n").expect("newline written");
        stdin.flush().expect("flushed");
        let line = self
            .lines
            .recv_timeout(REPLY)
            .unwrap_or_else(|e| panic!("no reply to {:?}: {e}", String::from_utf8_lossy(request)));
        assert_eq!(line.last(), Some(&b'\n'), "a reply is one whole line");
        serde_json::from_slice(&line).unwrap_or_else(|e| {
            panic!(
                "the reply to {:?} is not JSON ({e}): {:?}",
                String::from_utf8_lossy(request),
                String::from_utf8_lossy(&line)
            )
        })
    }

    /// The `fatal` text of a reply that must be one.
    fn fatal(&mut self, request: &[u8]) -> String {
        let reply = self.ask(request);
        assert_eq!(reply["ok"], Value::Bool(false), "{reply}");
        reply["fatal"]
            .as_str()
            .unwrap_or_else(|| panic!("not a fatal reply: {reply}"))
            .to_string()
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn bad_requests_get_a_fatal_reply_and_the_agent_answers_on() {
    let Some(mut a) = Driven::start() else {
        return;
    };
    let f = a.fatal(br#"{"op":"listen"}"#);
    assert!(f.contains("before hello"), "{f}");
    let f = a.fatal(
        br#"{"op":"hello","version":1,"mode":"virtual","sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#,
    );
    assert!(f.contains("tap mode only"), "{f}");
    let f = a.fatal(br#"{"op":"hello","version":2,"mode":"tap"}"#);
    assert!(f.contains("version 1"), "{f}");
    let f = a.fatal(
        br#"{"op":"hello","version":1,"mode":"tap","tap":"tw0","sut":"192.0.2.1","peer":"192.0.2.2:40000","sut_mac":"02:00:00:00:00:01"}"#,
    );
    assert!(f.contains("\"sut\""), "the field is named: {f}");
    let f = a.fatal(br#"{"op":"hello","version":1,"mode":"tap","sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#);
    assert!(f.contains("\"tap\""), "{f}");
    let f = a.fatal(b"not json \"quoted\" \x01");
    assert!(f.starts_with("not a request"), "{f}");
    assert!(f.contains("quoted"), "the line is quoted: {f}");
    let f = a.fatal(b"{\"op\":\"st\xffate\"}");
    assert!(
        f.starts_with("not a request"),
        "bytes that are not UTF-8: {f}"
    );
    let f = a.fatal(b"[1, 2]");
    assert!(f.contains("not a JSON object"), "{f}");
    // Still answering, still before hello.
    let f = a.fatal(br#"{"op":"state"}"#);
    assert!(f.contains("before hello"), "{f}");
}

#[test]
fn the_agent_exits_at_the_end_of_its_input_and_on_quit() {
    let Some(mut a) = Driven::start() else {
        return;
    };
    drop(a.stdin.take());
    let status = a.child.wait().expect("waited for");
    assert!(status.success(), "end of input: {status}");
    let Some(mut b) = Driven::start() else {
        return;
    };
    let reply = b.ask(br#"{"op":"quit"}"#);
    assert_eq!(reply["ok"], Value::Bool(true), "{reply}");
    let status = b.child.wait().expect("waited for");
    assert!(status.success(), "quit: {status}");
}
