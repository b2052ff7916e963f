//! The installed binary stands alone: copied into a fresh folder, as
//! `cargo install` would put it, and run from an unrelated folder with an
//! empty cache and a home of its own, it replays a spec on lwIP and on
//! gVisor, building each agent from the sources it carries (not from this
//! checkout).

use std::path::{Path, PathBuf};
use std::process::Command;
use timewait_conformance::backends::agent::shipped::Agent;
use timewait_conformance::stack::{self, StackKind};

/// A spec lwIP and gVisor pass (reports/conformance-lwip.md, -gvisor.md):
/// it ends with the SUT in TIME-WAIT, so the run goes through the agent's
/// whole protocol.
const SPEC: &str = "specs/generated/close-active-sut-connects.yaml";
const SPEC_NAME: &str = "close-active-sut-connects";

fn files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path().join(name))
        .filter(|p| p.is_file())
        .collect()
}

#[test]
fn an_installed_binary_replays_a_spec_on_lwip_and_gvisor_from_anywhere() {
    let stacks: Vec<(StackKind, Agent)> = [
        (StackKind::Lwip, Agent::Lwip),
        (StackKind::Gvisor, Agent::Gvisor),
    ]
    .into_iter()
    .filter(|(kind, _)| match kind.unavailable() {
        None => true,
        Some(why) => {
            assert!(
                !stack::skips_forbidden(),
                "CI=true forbids skipping the installed binary's {} test: {why}",
                kind.name()
            );
            eprintln!("{} skipped: {why}", kind.name());
            false
        }
    })
    .collect();
    if stacks.is_empty() {
        return;
    }
    let tmp = tempfile::tempdir().expect("a temporary folder");
    // The binary this test run built, moved out of the checkout's target
    // folder: what `cargo install --locked --path .` puts in ~/.cargo/bin.
    // (A real `cargo install` here would compile the workspace once more in
    // another profile, minutes of CI for the same binary.)
    let root = tmp.path().join("installed");
    std::fs::create_dir_all(root.join("bin")).expect("bin folder");
    let bin = root.join("bin").join("timewait");
    std::fs::copy(env!("CARGO_BIN_EXE_timewait"), &bin).expect("the binary copies");

    // Somewhere that is not the checkout, with only the spec in it.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("a working folder");
    // A spec's file is named after the spec.
    let file = format!("{SPEC_NAME}.yaml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEC),
        elsewhere.join(&file),
    )
    .expect("the spec");
    let (home, cache) = (tmp.path().join("home"), tmp.path().join("cache"));
    for (kind, agent) in stacks {
        let name = kind.name();
        let run = Command::new(&bin)
            .args(["replay", "--stack", name])
            .arg(&file)
            .current_dir(&elsewhere)
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", &cache)
            .env_remove("TIMEWAIT_AGENT_CACHE")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_MANIFEST_DIR")
            .output()
            .expect("the installed binary runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr),
        );
        // Exit 0: every verdict is what the model predicts.
        assert_eq!(
            run.status.code(),
            Some(0),
            "{name}: stdout:\n{stdout}\nstderr:\n{stderr}"
        );
        // No checkout here: the reviewed known lists come from the binary.
        assert!(
            stderr.contains("known departures: the lists built into this binary"),
            "{stderr}"
        );
        let verdict = stdout
            .lines()
            .find(|l| l.starts_with(name) && l.contains(SPEC_NAME))
            .unwrap_or_else(|| panic!("no {name} verdict line for {SPEC_NAME}:\n{stdout}"));
        assert_eq!(
            verdict.split_whitespace().collect::<Vec<_>>(),
            [name, SPEC_NAME, "pass"],
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("{name}: 1 specs in"))
                && stdout.contains(": 1 pass, 0 fail as predicted"),
            "{stdout}"
        );
        // The agent was built in the cache this run was given, from the
        // embedded sources, and the capture was written where it ran.
        let agents = cache.join("timewait").join("agents");
        let built = files_named(&agents, &format!("{name}-agent"));
        assert_eq!(built.len(), 1, "one {name} agent in {}", agents.display());
        let sources = built[0].with_file_name("src");
        for (source, _) in agent.sources() {
            assert!(
                sources.join(source).is_file(),
                "{source} in {}",
                sources.display()
            );
        }
        let capture = elsewhere.join(format!("reports/pcap/{name}/{SPEC_NAME}.pcap"));
        assert!(capture.is_file(), "no capture at {}", capture.display());
    }
}
