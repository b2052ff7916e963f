//! Prints a stack's summary facts as measured by the probes:
//! `cargo run -p timewait-conformance --example facts -- smoltcp`.

use timewait_conformance::probe;
use timewait_conformance::stack::StackKind;

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "smoltcp".into());
    let Some(kind) = StackKind::from_name(&name) else {
        eprintln!("unknown stack {name:?}");
        std::process::exit(2);
    };
    let t = std::time::Instant::now();
    match probe::facts(kind) {
        Ok(f) => println!("{f:#?}\n({:.2} s)", t.elapsed().as_secs_f64()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
