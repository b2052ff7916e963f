//! The fuzz targets' smoke run under `cargo test`: every seed (from the
//! committed specs, captures and agent transcript), every regression input,
//! and a few thousand deterministic mutations of them go through each
//! target. A broken invariant or a panic fails the test and names the
//! input; a seed that cannot be read fails it too. The real fuzzing, with
//! coverage feedback and a million inputs per target, is `scripts/fuzz`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use timewait_fuzz::mutate::{mutate, Rng};
use timewait_fuzz::seeds::{self, Seed};
use timewait_fuzz::Target;

/// Mutations per target, spread over its seeds.
const MUTATIONS: usize = 4096;

fn check(t: Target, name: &str, bytes: &[u8]) {
    let outcome = catch_unwind(AssertUnwindSafe(|| t.run(bytes)));
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned();
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(broken)) => panic!("{name}: {broken}\ninput ({} bytes): {shown:?}", bytes.len()),
        Err(_) => panic!(
            "{name}: the reader panicked\ninput ({} bytes): {shown:?}",
            bytes.len()
        ),
    }
}

/// Runs `t` over its seeds, regressions and their mutations; returns how
/// many inputs ran.
fn smoke(t: Target) -> usize {
    let root = seeds::workspace_root();
    let corpus = match seeds::corpus(t, &root) {
        Ok(c) => c,
        Err(e) => panic!("the {} seed corpus cannot be read: {e}", t.name()),
    };
    let regressions = match seeds::regressions(t, &root) {
        Ok(r) => r,
        Err(e) => panic!("the {} regression inputs cannot be read: {e}", t.name()),
    };
    let all: Vec<Seed> = corpus.into_iter().chain(regressions).collect();
    for s in &all {
        check(t, &s.name, &s.bytes);
    }
    let mut rng = Rng::new(0x7173_6565_6473);
    for i in 0..MUTATIONS {
        let s = &all[i % all.len()];
        let other = &all[rng.below(all.len())];
        let m = mutate(&s.bytes, &other.bytes, &mut rng);
        check(t, &format!("mutation {i} of {}", s.name), &m);
    }
    all.len() + MUTATIONS
}

#[test]
fn the_spec_loader_holds_its_invariants_on_every_spec_and_mutations_of_them() {
    let n = smoke(Target::SpecLoader);
    assert!(
        n > MUTATIONS + 100,
        "only {n} inputs: the committed specs are missing"
    );
}

#[test]
fn the_agent_reply_reader_holds_its_invariants_on_a_real_transcript_and_mutations() {
    let n = smoke(Target::AgentReply);
    assert!(
        n > MUTATIONS + 10,
        "only {n} inputs: the transcript is missing"
    );
}

#[test]
fn the_frame_parser_holds_its_invariants_on_every_captured_frame_and_mutations() {
    let n = smoke(Target::Frame);
    assert!(
        n > MUTATIONS + 50,
        "only {n} inputs: the captures are missing"
    );
}

#[test]
fn the_packetdrill_importer_holds_its_invariants_on_every_exported_spec_and_mutations() {
    let n = smoke(Target::PacketdrillImport);
    assert!(
        n > MUTATIONS + 80,
        "only {n} inputs: the committed specs or example scripts are missing"
    );
}
