//! What the agents' own tests share: an agent process driven line by line
//! on its standard input and output, as the harness drives it.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

pub struct Driven {
    pub child: Child,
    /// `None` once a test has closed it (the agent's end of input).
    pub stdin: Option<ChildStdin>,
    lines: Receiver<Vec<u8>>,
    /// How long one reply may take.
    reply: Duration,
}

impl Driven {
    /// Starts `cmd` with piped input and output; a thread reads its lines,
    /// so that a missing reply is a timeout, not a hang.
    pub fn spawn(mut cmd: Command, reply: Duration) -> Driven {
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
        Driven {
            child,
            stdin,
            lines,
            reply,
        }
    }

    /// Sends `request` (one line) and parses the one reply, which must be
    /// one whole line of JSON.
    pub fn ask(&mut self, request: &[u8]) -> Value {
        let stdin = self.stdin.as_mut().expect("input open");
        stdin.write_all(request).expect("request written");
        stdin.write_all(b"\n").expect("newline written");
        stdin.flush().expect("flushed");
        let line = self
            .lines
            .recv_timeout(self.reply)
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
    pub fn fatal_text(&mut self, request: &[u8]) -> String {
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
