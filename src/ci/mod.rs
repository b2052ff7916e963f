//! CI outputs shared by `check`, `specs check` and `replay`: a run is a
//! list of suites of cases, written as JUnit XML (`--junit`, through
//! quick-junit, the writer nextest uses: [`junit`]) and as a short Markdown
//! summary for a CI job summary (`--summary-md`, and appended to
//! `$GITHUB_STEP_SUMMARY` when that is set: [`summary`]). Each command
//! builds its cases ([`cases`]) from the wording its console and reports
//! already use; this module only lays them out and writes them.

pub mod cases;
pub mod junit;
pub mod summary;

use crate::cli::CiArgs;
use anyhow::{Context, Result};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How one case went, in JUnit's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    /// A verdict that contradicts what was expected: `<failure>`.
    Failure,
    /// No verdict at all (a harness error, a run too late to judge, a
    /// check that hit its limit, an invalid spec): `<error>`.
    Error,
    /// Not run (a spec that does not apply, a stack that cannot run here).
    Skipped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Failure => "failure",
            Status::Error => "error",
            Status::Skipped => "skipped",
        }
    }
}

/// One testcase: a verdict row of `check`, a spec x variant assertion of
/// `specs check`, a spec's run on a stack in `replay`.
#[derive(Clone, Debug)]
pub struct Case {
    /// JUnit's classname: the variant, the spec, the stack.
    pub class: String,
    pub name: String,
    /// The real duration of the check, the play or the run.
    pub time: Duration,
    pub status: Status,
    /// One line: why it did not pass, why it was skipped, or (for a pass)
    /// what is worth saying about it, such as a failure as predicted.
    pub message: String,
    /// Where it went wrong (`step 12 (line 31)`), when there is a place.
    pub at: String,
    pub expected: String,
    pub actual: String,
    /// The whole story: a counterexample's steps, an exchange.
    pub detail: String,
}

impl Case {
    pub fn new(class: impl Into<String>, name: impl Into<String>, time: Duration) -> Case {
        Case {
            class: class.into(),
            name: name.into(),
            time,
            status: Status::Pass,
            message: String::new(),
            at: String::new(),
            expected: String::new(),
            actual: String::new(),
            detail: String::new(),
        }
    }

    /// The status and its one-line message.
    pub fn with(mut self, status: Status, message: impl Into<String>) -> Case {
        self.status = status;
        self.message = message.into();
        self
    }

    /// Where it departed, what was expected there and what happened.
    pub fn departed(
        mut self,
        at: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Case {
        self.at = at.into();
        self.expected = expected.into();
        self.actual = actual.into();
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Case {
        self.detail = detail.into();
        self
    }
}

/// A group of cases: `check`, `specs check`, or one stack's replay.
#[derive(Clone, Debug)]
pub struct Suite {
    pub name: String,
    /// The command's own counts line for this group, as its console says it.
    pub counts: String,
    pub cases: Vec<Case>,
    /// The wall time of the whole group. Not the sum of its cases' times:
    /// in `check` the properties explored together share one exploration's
    /// time, and a replay runs its specs at once.
    pub wall: Duration,
}

impl Suite {
    pub fn count(&self, s: Status) -> usize {
        self.cases.iter().filter(|c| c.status == s).count()
    }
}

/// A command's run, for CI.
#[derive(Clone, Debug)]
pub struct Run {
    /// The command as typed, for the summary's heading.
    pub title: String,
    pub suites: Vec<Suite>,
    /// The reports, diagrams and captures the run wrote, one a line.
    pub files: Vec<String>,
}

impl Run {
    pub fn new(title: impl Into<String>) -> Run {
        Run {
            title: title.into(),
            suites: Vec::new(),
            files: Vec::new(),
        }
    }

    pub fn count(&self, s: Status) -> usize {
        self.suites.iter().map(|x| x.count(s)).sum()
    }

    pub fn cases(&self) -> usize {
        self.suites.iter().map(|s| s.cases.len()).sum()
    }

    /// Writes what `args` asks for, and appends the summary to
    /// `$GITHUB_STEP_SUMMARY` when it is set; returns the files written.
    pub fn write(&self, args: &CiArgs) -> Result<Vec<PathBuf>> {
        let mut wrote = Vec::new();
        if let Some(path) = &args.junit {
            let xml = junit::report(self)
                .to_string()
                .context("cannot serialize the JUnit report")?;
            write_new(path, &xml)?;
            wrote.push(path.clone());
        }
        let step_summary = std::env::var_os("GITHUB_STEP_SUMMARY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if args.summary_md.is_none() && step_summary.is_none() {
            return Ok(wrote);
        }
        let md = summary::markdown(self);
        if let Some(path) = &args.summary_md {
            write_new(path, &md)?;
            wrote.push(path.clone());
        }
        // The job summary gathers every step's: append, never replace.
        if let Some(path) = step_summary {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot open $GITHUB_STEP_SUMMARY {}", path.display()))?;
            f.write_all(md.as_bytes())
                .with_context(|| format!("cannot append to {}", path.display()))?;
        }
        Ok(wrote)
    }
}

/// Writes `text` to `path`, creating its folder first.
fn write_new(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The command as typed, `timewait ...`, quoting arguments with spaces
/// and leaving out the CI outputs' flags: the heading of a summary and the
/// origin line of a report say what ran, not where its CI files went.
pub fn command_line() -> String {
    let mut args = Vec::new();
    let mut given = std::env::args().skip(1);
    while let Some(a) = given.next() {
        if a == "--junit" || a == "--summary-md" {
            given.next();
        } else if !(a.starts_with("--junit=") || a.starts_with("--summary-md=")) {
            args.push(a);
        }
    }
    shown(args)
}

fn shown(args: Vec<String>) -> String {
    let args: Vec<String> = args
        .into_iter()
        .map(|s| if s.contains(' ') { format!("'{s}'") } else { s })
        .collect();
    if args.is_empty() {
        "timewait".to_string()
    } else {
        format!("timewait {}", args.join(" "))
    }
}

/// Writes a command's CI outputs and says where, on stderr (stdout is the
/// command's table, which a CI step may capture).
pub fn finish(run: &Run, args: &CiArgs) -> Result<()> {
    for path in run.write(args)? {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
