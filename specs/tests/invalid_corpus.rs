//! The invalid-spec corpus: every file under testdata/invalid must be
//! rejected with exactly the diagnostics in the `.err` file beside it, so a
//! changed or lost error message shows up as a test failure.

use std::path::{Path, PathBuf};
use timewait_specs::load;

#[test]
fn every_invalid_spec_gives_its_exact_errors() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("testdata/invalid");
    let files = load::collect(std::slice::from_ref(&dir)).expect("corpus folder");
    assert!(
        files.len() >= 20,
        "the corpus has {} specs, expected at least 20",
        files.len()
    );
    let mut wrong = Vec::new();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).expect("file name");
        let shown = Path::new("testdata/invalid").join(name);
        let bytes = std::fs::read(f).expect("read spec");
        let got = match load::load_bytes(&shown, &bytes) {
            Ok(_) => "(loaded without error)\n".to_string(),
            Err(e) => {
                let d = e.diagnostics();
                assert!(
                    d.iter().all(|d| d.line >= 1 && d.column >= 1),
                    "{name}: every diagnostic needs a location: {d:?}"
                );
                d.iter().map(|d| format!("{d}\n")).collect()
            }
        };
        let want = std::fs::read_to_string(f.with_extension("err"))
            .unwrap_or_else(|_| format!("(no {name}.err file)\n"));
        if got != want {
            wrong.push(format!("{name}:\n  expected: {want}  got:      {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
