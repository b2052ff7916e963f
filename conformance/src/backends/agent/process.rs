//! An agent as a child process: one request line out, one reply line in,
//! each under a deadline. A reader thread turns stdout into a channel so
//! that a hung agent costs the deadline, not the harness; stderr's last
//! lines are kept for error messages (an error waits for the stderr reader
//! to reach end of file, so a dying agent's last words are in it). The
//! child dies with the harness (`PR_SET_PDEATHSIG`, set by util-linux's
//! `setpriv --pdeathsig KILL`, which then execs the agent) and is killed
//! when dropped, so nothing is left behind after a crash, a hang, a panic or
//! Ctrl-C.
//!
//! Why `setpriv` and not a `pre_exec` hook calling `prctl`: a `pre_exec`
//! hook makes std fork this whole process (every thread's stack, the page
//! tables of every mapping) where it would otherwise use `posix_spawn`,
//! which shares the memory until the exec. A spawn holds the spawn lock
//! that Linux SUT closes wait for ([`crate::spawn`]), and a fork of the
//! conformance suite's process, with about a hundred specs running, took
//! long enough that Linux specs' `accept` and `close` ran 100 to 575 ms
//! late beside the lwip-tap specs' agent starts (timing invalid, rerun).

use super::protocol::{self, Reply, ReplyError, Request};
use crate::stack::StackError;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// How long an agent may take to answer one request.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
/// The longest reply line read; longer is a protocol error.
const MAX_LINE: usize = 1 << 20;
const STDERR_LINES: usize = 20;
/// How long an error waits for the agent's stderr to reach end of file. The
/// agent is dead by then, so this bounds only a grandchild that inherited
/// stderr and lives on.
const STDERR_EOF_WAIT: Duration = Duration::from_millis(500);
/// How long a dead agent's exit status may take to arrive, and how long an
/// agent has to exit at the end of its input before SIGKILL.
const EXIT_WAIT: Duration = Duration::from_millis(500);
const DROP_EXIT_WAIT: Duration = Duration::from_millis(100);

pub struct AgentProcess {
    /// The stack's name, for messages.
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Disconnects when the stderr reader has read the last line.
    stderr_eof: Receiver<()>,
    pub deadline: Duration,
}

/// `agent` run through `setpriv --pdeathsig KILL --`: the same program,
/// arguments, environment and folder, with SIGKILL as its parent-death
/// signal, and no `pre_exec` hook (see the module's comment).
fn with_pdeathsig(agent: &Command) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--pdeathsig", "KILL", "--"])
        .arg(agent.get_program())
        .args(agent.get_args());
    for (k, v) in agent.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    if let Some(dir) = agent.get_current_dir() {
        cmd.current_dir(dir);
    }
    cmd
}

/// Whether the agent's program exists: as given when it names a path, on
/// PATH when it is a bare name.
fn findable(agent: &Command) -> std::io::Result<()> {
    let program = std::path::Path::new(agent.get_program());
    let missing = || std::io::Error::from(std::io::ErrorKind::NotFound);
    if program.components().count() > 1 {
        let base = agent.get_current_dir().map(std::path::Path::to_path_buf);
        let full = match base {
            Some(dir) if program.is_relative() => dir.join(program),
            _ => program.to_path_buf(),
        };
        return if full.is_file() {
            Ok(())
        } else {
            Err(missing())
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|d| d.join(program).is_file()) {
        Ok(())
    } else {
        Err(missing())
    }
}

impl AgentProcess {
    pub fn spawn(name: &str, agent: Command) -> Result<AgentProcess, StackError> {
        let program = format!("{:?}", agent.get_program());
        // setpriv would start and then fail to exec a missing agent; say so
        // here, as a direct spawn would.
        if let Err(e) = findable(&agent) {
            return Err(StackError::Agent {
                stack: name.into(),
                detail: format!("cannot start {program}: {e}"),
            });
        }
        let mut cmd = with_pdeathsig(&agent);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = crate::spawn::spawn(&mut cmd).map_err(|e| StackError::Agent {
            stack: name.into(),
            detail: format!("cannot start {program}: {e}"),
        })?;
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take();
        let stderr_pipe = child.stderr.take();
        if let Some(out) = stdout {
            std::thread::spawn(move || {
                let mut r = BufReader::new(out);
                loop {
                    let mut buf = Vec::new();
                    let n = (&mut r).take(MAX_LINE as u64).read_until(b'\n', &mut buf);
                    match n {
                        Ok(0) => break,
                        Ok(_) => {
                            if tx.send(Ok(protocol::reply_line(&buf))).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            break;
                        }
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (eof_tx, stderr_eof) = mpsc::channel::<()>();
        if let Some(err) = stderr_pipe {
            let tail = Arc::clone(&stderr);
            std::thread::spawn(move || {
                // Dropped at end of file (or a read error): the signal.
                let _eof = eof_tx;
                // Lossy, so a line that is not UTF-8 is kept, not the end.
                let mut r = BufReader::new(err);
                let mut buf = Vec::new();
                while matches!(r.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    buf.clear();
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == STDERR_LINES {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                }
            });
        }
        Ok(AgentProcess {
            name: name.into(),
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            stderr_eof,
            deadline: DEFAULT_DEADLINE,
        })
    }

    fn error(&self, detail: String) -> StackError {
        StackError::Agent {
            stack: self.name.clone(),
            detail,
        }
    }

    /// The agent's last stderr lines, for an error message; called once the
    /// agent has ended, so the reader is waited for until end of file.
    fn stderr_tail(&self) -> String {
        let eof = match self.stderr_eof.recv_timeout(STDERR_EOF_WAIT) {
            Err(RecvTimeoutError::Disconnected) => "",
            // Nothing is ever sent: only the timeout can get here.
            Ok(()) | Err(RecvTimeoutError::Timeout) => " (stderr still open)",
        };
        let t = self.stderr.lock().map(|t| t.clone()).unwrap_or_default();
        if t.is_empty() {
            String::new()
        } else {
            format!("; its stderr ends{eof}: {}", Vec::from(t).join(" | "))
        }
    }

    /// Sends one request and reads its reply. A reply with `ok: false` and
    /// `error` is returned (the spec decides); `fatal`, silence, an exit or
    /// a line that is not a reply is an error.
    pub fn call(&mut self, req: &Request) -> Result<Reply, StackError> {
        self.call_counted(req, None)
    }

    /// [`AgentProcess::call`], with the count of frames the harness has
    /// sent on the wire ([`protocol::Counted`]).
    pub fn call_counted(
        &mut self,
        req: &Request,
        frames_sent: Option<u64>,
    ) -> Result<Reply, StackError> {
        let op = req.op();
        let line = serde_json::to_string(&protocol::Counted {
            request: req,
            frames_sent,
        })
        .map_err(|e| self.error(e.to_string()))?;
        let written = match self.stdin.as_mut() {
            Some(w) => writeln!(w, "{line}").and_then(|_| w.flush()),
            None => Err(std::io::Error::other("stdin closed")),
        };
        if let Err(e) = written {
            let status = self.reap();
            return Err(self.error(format!(
                "could not send `{op}` ({e}); the agent {status}{}",
                self.stderr_tail()
            )));
        }
        let started = Instant::now();
        let reply = match self.lines.recv_timeout(self.deadline) {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => return Err(self.error(format!("reading the reply to `{op}`: {e}"))),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(self.error(format!(
                    "no reply to `{op}` within {:.1} s; killed{}",
                    started.elapsed().as_secs_f64(),
                    self.stderr_tail()
                )));
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.reap();
                return Err(self.error(format!(
                    "{status} while handling `{op}`{}",
                    self.stderr_tail()
                )));
            }
        };
        protocol::parse_reply(&reply).map_err(|e| match e {
            ReplyError::NotAReply(e) => self.error(format!(
                "protocol error: the reply to `{op}` is not a protocol reply ({e}): {}",
                quote(&reply)
            )),
            ReplyError::Fatal(f) => self.error(format!("fatal error on `{op}`: {f}")),
            ReplyError::FailedWithoutError => self.error(format!(
                "protocol error: `ok: false` without `error` in reply to `{op}`: {}",
                quote(&reply)
            )),
        })
    }

    /// How the child ended, waiting briefly for it.
    fn reap(&mut self) -> String {
        match self.child.wait_timeout(EXIT_WAIT) {
            Ok(Some(s)) => return format!("exited ({s})"),
            Ok(None) => {}
            Err(e) => return format!("could not be waited for ({e})"),
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        "closed its output but did not exit; killed".into()
    }

    /// The child's process id, for tests.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

/// A reply line as quoted in errors: whole when short, else its start.
fn quote(line: &str) -> String {
    const SHOWN: usize = 200;
    if line.chars().count() <= SHOWN {
        format!("{line:?}")
    } else {
        let head: String = line.chars().take(SHOWN).collect();
        format!("{head:?}... ({} bytes)", line.len())
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        // End of input asks the agent to exit; it gets a moment, then SIGKILL.
        drop(self.stdin.take());
        if let Ok(Some(_)) = self.child.wait_timeout(DROP_EXIT_WAIT) {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
