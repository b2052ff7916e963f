//! specs/schema.json must be what `timewait specs schema` prints now, so
//! editors never check specs against a stale format.

#[test]
fn committed_schema_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; regenerate it with `cargo run -- specs schema -o specs/schema.json`",
            path.display()
        )
    });
    assert!(
        committed == timewait_specs::schema::json(),
        "{} is stale; regenerate it with `cargo run -- specs schema -o specs/schema.json`",
        path.display()
    );
}
