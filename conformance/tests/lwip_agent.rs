//! The lwIP agent as a harness meets it, line by line: every malformed
//! request gets one `fatal` reply naming what was expected, every reply is
//! valid JSON whatever the request held (quotes, control characters,
//! bytes that are not UTF-8), and the agent answers on afterwards.

use serde_json::Value;
use std::time::Duration;
use timewait_conformance::backends::agent::shipped::Agent;
use timewait_conformance::stack::{self, StackKind};

const HELLO: &str = r#"{"op":"hello","version":1,"mode":"virtual","sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#;

mod common;
use common::Driven;

/// The lwIP agent, or `None` (after saying why) where it cannot be built.
fn start() -> Option<Driven> {
    if let Some(why) = StackKind::Lwip.unavailable() {
        assert!(
            !stack::skips_forbidden(),
            "CI=true forbids skipping the lwIP agent's tests: {why}"
        );
        eprintln!("skipped: {why}");
        return None;
    }
    let cmd = Agent::Lwip.command().expect("the lwIP agent builds");
    Some(Driven::spawn(cmd, Duration::from_secs(5)))
}

/// Asks, and checks the reply is `fatal` with a message containing `says`.
fn fatal(a: &mut Driven, request: &[u8], says: &str) -> String {
    let msg = a.fatal_text(request);
    assert!(msg.contains(says), "{msg:?} does not say {says:?}");
    msg
}

fn ok(a: &mut Driven, request: &[u8]) -> Value {
    let r = a.ask(request);
    assert_eq!(r["ok"], Value::Bool(true), "{r}");
    r
}

#[test]
fn malformed_requests_before_hello_get_a_fatal_reply_naming_what_was_expected() {
    let Some(mut a) = start() else { return };
    fatal(
        &mut a,
        b"not json",
        "not a request (a JSON object with \"op\" a string)",
    );
    fatal(&mut a, b"[1,2]", "not a request");
    fatal(&mut a, br#"{"op":5}"#, "not a request");
    fatal(&mut a, br#"{"OP":"hello"}"#, "not a request");
    fatal(&mut a, br#"{"op":"hello"} trailing"#, "not a request");
    fatal(&mut a, b"{\"op\":\"hello\"}\0", "not a request");
    fatal(
        &mut a,
        br#"{"op":"listen"}"#,
        "the first request must be hello",
    );
    let no_version =
        br#"{"op":"hello","mode":"virtual","sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#;
    fatal(&mut a, no_version, "\"version\": 1");
    fatal(
        &mut a,
        br#"{"op":"hello","version":2,"mode":"virtual","sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#,
        "\"version\": 1",
    );
    fatal(
        &mut a,
        br#"{"op":"hello","version":1,"mode":7,"sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#,
        "\"mode\", \"sut\" and \"peer\" as strings",
    );
    fatal(
        &mut a,
        br#"{"op":"hello","version":1,"mode":"virtual","sut":"192.0.2.1","peer":"192.0.2.2:40000"}"#,
        "IPv4 address:port",
    );
    fatal(
        &mut a,
        br#"{"op":"hello","version":1,"mode":"tap","tap":"tw0","sut_mac":"02:00:00:00:00:1","sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#,
        "\"sut_mac\" (xx:xx:xx:xx:xx:xx)",
    );
    fatal(
        &mut a,
        br#"{"op":"hello","version":1,"mode":"carrier-pigeon","sut":"192.0.2.1:8000","peer":"192.0.2.2:40000"}"#,
        "mode must be virtual or tap",
    );
    // None of those started the stack: a proper hello still does.
    let hello = ok(&mut a, HELLO.as_bytes());
    assert_eq!(hello["version"], 1, "{hello}");
    assert_eq!(hello["clock"], "virtual", "{hello}");
    let name = hello["stack"].as_str().expect("the stack's name");
    assert!(name.starts_with("lwIP 2."), "{name}");
    fatal(&mut a, HELLO.as_bytes(), "hello twice");
}

#[test]
fn every_fields_type_and_range_is_checked() {
    let Some(mut a) = start() else { return };
    ok(&mut a, HELLO.as_bytes());
    for bad in [
        r#"{"op":"send"}"#,
        r#"{"op":"send","bytes":"10"}"#,
        r#"{"op":"send","bytes":1.5}"#,
        r#"{"op":"send","bytes":-1}"#,
        r#"{"op":"send","bytes":65536}"#,
    ] {
        fatal(
            &mut a,
            bad.as_bytes(),
            "send needs \"bytes\": a whole number 0..65535",
        );
    }
    for bad in [
        r#"{"op":"advance"}"#,
        r#"{"op":"advance","until_us":"5"}"#,
        r#"{"op":"advance","until_us":-5}"#,
        r#"{"op":"advance","until_us":0.5}"#,
        r#"{"op":"advance","until_us":1e300}"#,
    ] {
        fatal(&mut a, bad.as_bytes(), "advance needs \"until_us\"");
    }
    fatal(
        &mut a,
        br#"{"op":"frame"}"#,
        "frame needs \"data\": a hex string",
    );
    fatal(
        &mut a,
        br#"{"op":"frame","data":45}"#,
        "frame needs \"data\"",
    );
    let too_long = format!(r#"{{"op":"frame","data":"{}"}}"#, "00".repeat(4097));
    fatal(&mut a, too_long.as_bytes(), "at most 4096 bytes");
    fatal(
        &mut a,
        br#"{"op":"frame","data":"450"}"#,
        "odd number of hex digits",
    );
    fatal(&mut a, br#"{"op":"frame","data":"zz"}"#, "not hex");
    // Unknown fields are ignored, as the protocol says.
    let r = ok(
        &mut a,
        br#"{"op":"advance","until_us":1000000,"later":[1,{"x":null}]}"#,
    );
    assert_eq!(r["now_us"], 1_000_000, "{r}");
    assert_eq!(r["frames"], Value::Array(Vec::new()), "{r}");
}

#[test]
fn replies_quoting_the_request_are_valid_json_whatever_it_held() {
    let Some(mut a) = start() else { return };
    ok(&mut a, HELLO.as_bytes());
    let msg = fatal(&mut a, br#"{"op":"fr\"ob\\\u0001"}"#, "unknown op: ");
    assert_eq!(msg, "unknown op: fr\"ob\\\u{1}");
    // Bytes that are not UTF-8 come back as '?', so the reply stays UTF-8.
    let msg = fatal(&mut a, b"{\"op\":\"\xff\xfe\"}", "unknown op: ");
    assert_eq!(msg, "unknown op: ??");
    let msg = fatal(&mut a, b"\xc3garbage \"quoted\"\t", "not a request");
    assert!(msg.ends_with("?garbage \"quoted\"\t"), "{msg:?}");
    // Over 64 KiB: one reply, and the agent reads on from the next line.
    let long = vec![b'x'; 70 * 1024];
    fatal(&mut a, &long, "request line longer than 64 KiB");
    // Still the same stack, still answering.
    ok(&mut a, br#"{"op":"listen"}"#);
    let state = ok(&mut a, br#"{"op":"state"}"#);
    assert_eq!(state["conns"][0]["state"], "LISTEN", "{state}");
    assert_eq!(state["conns"][0]["remaining_us"], Value::Null, "{state}");
    let quit = ok(&mut a, br#"{"op":"quit"}"#);
    assert_eq!(quit, serde_json::json!({"ok": true}));
    let status = a.child.wait().expect("the agent exits");
    assert!(status.success(), "{status}");
}

#[test]
fn the_persistent_listener_ops_answer_the_documented_errors() {
    let Some(mut a) = start() else { return };
    ok(&mut a, HELLO.as_bytes());
    let error = |r: Value| r["error"].as_str().map(str::to_string);
    // Nothing to close yet.
    let r = a.ask(br#"{"op":"close-listener"}"#);
    assert_eq!(
        error(r).as_deref(),
        Some("close-listener without a persistent listener")
    );
    ok(&mut a, br#"{"op":"listen-persistent"}"#);
    for again in [&br#"{"op":"listen"}"#[..], br#"{"op":"listen-persistent"}"#] {
        let r = a.ask(again);
        assert_eq!(
            error(r).as_deref(),
            Some("listen: the persistent listener is open")
        );
    }
    let r = a.ask(br#"{"op":"accept"}"#);
    assert_eq!(
        error(r).as_deref(),
        Some("accept would block: no connection is established")
    );
    // `close` without a connection leaves the persistent listener open.
    ok(&mut a, br#"{"op":"close"}"#);
    let state = ok(&mut a, br#"{"op":"state"}"#);
    assert_eq!(state["conns"][0]["state"], "LISTEN", "{state}");
    ok(&mut a, br#"{"op":"close-listener"}"#);
    let state = ok(&mut a, br#"{"op":"state"}"#);
    assert_eq!(state["conns"], Value::Array(Vec::new()), "{state}");
}
