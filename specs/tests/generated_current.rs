//! specs/generated must be exactly what `timewait specs gen` writes: the same
//! files, byte for byte, and no others. Generation is deterministic (the
//! searches are breadth-first in a fixed action order), so any difference is
//! a change in the model, the oracle or the generator that must be committed
//! together with its regenerated specs.

use std::path::Path;
use timewait_specs::gen::{self, GenOptions};
use timewait_specs::load;

#[test]
fn committed_generated_specs_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reviewed: Vec<_> = load::collect(&[root.join("reviewed")])
        .expect("reviewed specs")
        .into_iter()
        .map(|p| {
            let spec = load::load_file(&p).expect("valid reviewed spec");
            (p, spec)
        })
        .collect();
    let files = gen::files(&GenOptions::default(), &reviewed, &mut |_| {});
    let dir = root.join("generated");
    let mut differ = Vec::new();
    for (name, text) in &files.files {
        if std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(text.as_str()) {
            differ.push(name.clone());
        }
    }
    let wanted: Vec<&str> = files.files.iter().map(|(n, _)| n.as_str()).collect();
    for entry in std::fs::read_dir(&dir).expect("specs/generated") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !wanted.contains(&name.as_str()) {
            differ.push(format!("{name} (not generated any more)"));
        }
    }
    assert!(
        differ.is_empty(),
        "specs/generated is stale; run `cargo run --release -- specs gen` and commit. Differs: {differ:?}"
    );
    // Every goal but the documented unreachable one gives a spec.
    assert!(files.files.len() > 40, "{}", files.summary);
}
