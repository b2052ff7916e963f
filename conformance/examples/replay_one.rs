//! Replays one spec against Linux and prints the exchange (a development aid).
fn main() {
    let path = std::env::args().nth(1).expect("a spec path");
    let spec = timewait_specs::load_file(std::path::Path::new(&path)).expect("valid spec");
    let run = timewait_conformance::backends::linux::run_spec(&spec, &[]).expect("namespace");
    for l in &run.replay.log {
        println!("{l}");
    }
    match &run.replay.failure {
        None => println!("PASS in {:.3}s", run.replay.elapsed.as_secs_f64()),
        Some(f) => println!("FAIL {f}"),
    }
}
