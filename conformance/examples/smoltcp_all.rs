//! Replays every committed spec against smoltcp (a development aid).
fn main() {
    let dirs = ["specs/reviewed", "specs/generated"].map(std::path::PathBuf::from);
    for p in timewait_specs::load::collect(&dirs).expect("specs") {
        let spec = timewait_specs::load_file(&p).expect("valid");
        let mut stack = timewait_conformance::backends::smoltcp::SmoltcpStack::new();
        let t = std::time::Instant::now();
        let r = timewait_conformance::engine::replay(&spec, &mut stack).expect("replay");
        match &r.failure {
            None => println!(
                "PASS {} ({:.0} s virtual, {:?} real)",
                spec.name.value,
                r.elapsed.as_secs_f64(),
                t.elapsed()
            ),
            Some(f) => println!("FAIL {}: {f}", spec.name.value),
        }
        if std::env::var("V").is_ok() {
            for l in &r.log {
                println!("    {l}");
            }
        }
    }
}
