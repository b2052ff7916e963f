//! The shape pass and the typed parse must agree: the shape pass derives
//! the fields, step kinds and value types it knows from the schema, and
//! these tests pin that the schema and the format types say the same. Every
//! committed spec passes both; every invalid spec's first typed error is
//! among the shape pass's; and thousands of single mistakes made in the
//! reviewed specs and in a spec that uses every field are rejected by both
//! passes or by neither.

use serde_json::{Map, Number, Value as Json};
use std::path::{Path, PathBuf};
use timewait_specs::load;
use timewait_specs::shape;
use timewait_specs::tree::{Key, Node, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &str) -> Vec<PathBuf> {
    load::collect(&[root().join(dir)]).expect("spec folder")
}

fn located(e: &load::LoadError) -> Vec<(u64, u64, String)> {
    e.diagnostics()
        .into_iter()
        .map(|d| (d.line, d.column, d.message))
        .collect()
}

#[test]
fn every_committed_spec_passes_the_shape_pass_and_the_typed_parse() {
    let specs: Vec<PathBuf> = files("reviewed")
        .into_iter()
        .chain(files("generated"))
        .collect();
    assert!(specs.len() >= 80, "only {} committed specs", specs.len());
    for f in specs {
        let text = std::fs::read_to_string(&f).expect("read spec");
        let tree = load::read_tree(&f, &text).expect("YAML");
        let problems = shape::check(&f, &tree);
        assert!(problems.is_empty(), "{}: {problems:?}", f.display());
        load::typed_parse(&f, &text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

#[test]
fn the_first_typed_error_of_every_invalid_spec_is_one_the_shape_pass_reports() {
    let mut shape_found = 0;
    for f in files("testdata/invalid") {
        let text = String::from_utf8_lossy(&std::fs::read(&f).expect("read")).into_owned();
        let Ok(tree) = load::read_tree(&f, &text) else {
            continue; // a YAML error: one diagnostic, from the parser
        };
        let problems = shape::check(&f, &tree);
        let typed = load::typed_parse(&f, &text);
        if problems.is_empty() {
            // Only semantic checks are left, and the typed parse reads it.
            assert!(typed.is_ok(), "{}: {:?}", f.display(), typed.err());
            continue;
        }
        shape_found += 1;
        let Err(e) = typed else {
            panic!(
                "{}: the typed parse accepts what the shape pass rejects: {problems:?}",
                f.display()
            );
        };
        let (line, column, message) = located(&e).remove(0);
        // serde reports a missing field where the mapping ends; the shape
        // pass where it is named.
        if !message.starts_with("missing field") {
            assert!(
                problems.iter().any(|d| (d.line, d.column) == (line, column)),
                "{}: the typed parse's first error {line}:{column} ({message}) is not among {problems:?}",
                f.display()
            );
        }
    }
    assert!(
        shape_found >= 8,
        "only {shape_found} invalid specs reach the shape pass"
    );
}

/// The tree as JSON, which is YAML too: a mutated tree is written out and
/// read back by both passes.
fn to_json(n: &Node) -> Json {
    match &n.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => match (u64::try_from(*i), i64::try_from(*i)) {
            (Ok(u), _) => Json::Number(u.into()),
            (_, Ok(s)) => Json::Number(s.into()),
            _ => Json::String(i.to_string()),
        },
        Value::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// One mistake an author makes.
#[derive(Clone, Copy, Debug)]
enum Mistake {
    Word,
    BigNumber,
    NegativeNumber,
    Mapping,
    List,
    Null,
    True,
    RenamedKey,
    DroppedKey,
}

const MISTAKES: [Mistake; 9] = [
    Mistake::Word,
    Mistake::BigNumber,
    Mistake::NegativeNumber,
    Mistake::Mapping,
    Mistake::List,
    Mistake::Null,
    Mistake::True,
    Mistake::RenamedKey,
    Mistake::DroppedKey,
];

fn leaf(v: Value) -> Node {
    Node {
        at: serde_saphyr::Location::UNKNOWN,
        value: v,
    }
}

/// Makes `m` at the `target`-th node (pre-order); returns whether it could.
fn mistake(n: &mut Node, target: &mut usize, m: Mistake) -> bool {
    if *target == 0 {
        let new = match m {
            Mistake::Word => Value::Str("five".into()),
            Mistake::BigNumber => Value::Int(5_000_000_000),
            Mistake::NegativeNumber => Value::Int(-1),
            Mistake::Mapping => Value::Map(vec![(
                Key {
                    at: serde_saphyr::Location::UNKNOWN,
                    name: "x".into(),
                },
                leaf(Value::Int(1)),
            )]),
            Mistake::List => Value::Seq(vec![leaf(Value::Int(1))]),
            Mistake::Null => Value::Null,
            Mistake::True => Value::Bool(true),
            Mistake::RenamedKey | Mistake::DroppedKey => {
                let Value::Map(entries) = &mut n.value else {
                    return false;
                };
                let Some((k, _)) = entries.first_mut() else {
                    return false;
                };
                if matches!(m, Mistake::RenamedKey) {
                    k.name.push('x');
                } else {
                    entries.remove(0);
                }
                return true;
            }
        };
        n.value = new;
        return true;
    }
    *target -= 1;
    match &mut n.value {
        Value::Seq(items) => items.iter_mut().any(|c| mistake(c, target, m)),
        Value::Map(entries) => entries.iter_mut().any(|(_, c)| mistake(c, target, m)),
        _ => false,
    }
}

fn count(n: &Node) -> usize {
    1 + match &n.value {
        Value::Seq(items) => items.iter().map(count).sum(),
        Value::Map(entries) => entries.iter().map(|(_, c)| count(c)).sum(),
        _ => 0,
    }
}

/// A spec that uses every field and step kind of the format, so that the
/// mistakes below are made in each (the reviewed specs use no `sack-ok`,
/// for one). It need not make sense as a script, only parse.
const EVERY_FIELD: &str = "
name: every-field
description: every field of the format once
tags: [a]
role: active-closer
profile: {tcp_rfc1337: 1, tcp_timestamps: 1, tcp_max_tw_buckets: 5, tcp_invalid_ratelimit: 500,
  tcp_tw_reuse: 1, tcp_fin_timeout: 60, tcp_orphan_retries: 3}
msl: 1s
time-wait: 2msl
tolerance: 100ms
peer-isn: 5
model: {pass: [rfc9293], fail: [linux]}
steps:
  - app: listen
  - app: listen-persistent
  - app: {send: 3}
  - app-refused: connect
  - app: close-listener
  - inject: {flags: S, seq: 0, ack: 1, len: 0, win: 100, incarnation: 1,
      options: {mss: 1460, wscale: 7, sack-ok: true, ts: {val: 1, ecr: 2}}}
  - expect: {flags: SA, seq: {abs: 7}, ack: 1, len: 0, win: 100, incarnation: 1,
      options: {mss: 1, wscale: present, sack-ok: absent, ts: {ecr: 3}, exact: true},
      after: 1s, within: 2s, tolerance: 10ms}
  - expect-none: {for: 1s, flags: R}
  - wait: 1tw
  - expect-state: {state: TIME-WAIT, remaining: {min: 1s, max: 2s}, tolerance: 1s}
  - incarnation: {peer-isn: 100, sut-isn: {snd-nxt: 65537}}
  - note: text
";

#[test]
fn the_every_field_seed_names_every_field_and_step_kind_of_the_schema() {
    let schema: Json = serde_json::from_str(&timewait_specs::schema::json()).expect("schema");
    fn names(j: &Json, out: &mut Vec<String>) {
        match j {
            Json::Object(m) => {
                if let Some(Json::Object(p)) = m.get("properties") {
                    out.extend(p.keys().cloned());
                }
                m.values().for_each(|v| names(v, out));
            }
            Json::Array(a) => a.iter().for_each(|v| names(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    names(&schema, &mut all);
    let missing: Vec<&String> = all
        .iter()
        .filter(|n| !EVERY_FIELD.contains(&format!("{n}:")))
        .collect();
    assert!(
        missing.is_empty(),
        "add {missing:?} to EVERY_FIELD, so that mistakes are made in them too"
    );
    let p = Path::new("every-field.yaml");
    let tree = load::read_tree(p, EVERY_FIELD).expect("YAML");
    assert!(shape::check(p, &tree).is_empty());
    load::typed_parse(p, EVERY_FIELD).expect("the typed parse reads it");
}

#[test]
fn single_mistakes_in_the_reviewed_specs_are_rejected_by_both_passes_or_neither() {
    let mut tried = 0;
    let mut disagreements = Vec::new();
    let path = Path::new("mutant.yaml");
    let mut seeds: Vec<(PathBuf, String)> = files("reviewed")
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).expect("read spec");
            (f, text)
        })
        .collect();
    seeds.push((PathBuf::from("every-field.yaml"), EVERY_FIELD.to_string()));
    for (f, text) in &seeds {
        let tree = load::read_tree(f, text).expect("YAML");
        for at in 0..count(&tree) {
            for m in MISTAKES {
                let mut t = tree.clone();
                if !mistake(&mut t, &mut at.clone(), m) {
                    continue;
                }
                let Ok(json) = serde_json::to_string_pretty(&to_json(&t)) else {
                    continue;
                };
                tried += 1;
                let shape = match load::read_tree(path, &json) {
                    Ok(t) => shape::check(path, &t),
                    Err(e) => panic!("the mutant is no YAML: {e}\n{json}"),
                };
                let typed = load::typed_parse(path, &json);
                if shape.is_empty() != typed.is_ok() {
                    disagreements.push(format!(
                        "{} node {at} {m:?}: shape pass {:?}, typed parse {:?}",
                        f.display(),
                        shape.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                        typed.as_ref().err().map(|e| e.to_string()),
                    ));
                }
            }
        }
    }
    assert!(tried > 5000, "only {tried} mutants");
    assert!(
        disagreements.is_empty(),
        "{} of {tried} mutants judged differently, e.g.:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
