//! The shape pass: the located YAML tree ([`crate::tree`]) checked against
//! the spec format's JSON Schema ([`crate::schema`], derived from the types
//! of [`crate::format`]) before the typed parse, so that every unknown
//! field, unknown step kind and mistyped value of a file is reported in one
//! run, each at its line and column. The typed parse stops at its first
//! error; this pass goes on past each one.
//!
//! The schema is the one source of truth for which fields, step kinds and
//! value types exist: this file knows no field names. Values with their own
//! syntax (flags, durations, sequence numbers) are checked by their own
//! `Deserialize` impls from [`crate::values`], so both passes say the same.
//! A schema construct this pass does not understand is let through: the
//! typed parse still reports it, one error at a time.

use crate::diag::Diagnostic;
use crate::format::Spec;
use crate::options::{Bare, EchoedTs, Want};
use crate::suggest;
use crate::tree::{Node, Value};
use crate::values::{Duration, Flags, SeqValue, SutIsn};
use serde::de::{self, Deserialize, Deserializer, Unexpected, Visitor};
use serde_json::{Map, Value as Json};
use serde_saphyr::Location;
use std::path::Path;
use std::sync::OnceLock;

/// The schema as JSON, built once per process.
fn schema() -> &'static Json {
    static SCHEMA: OnceLock<Json> = OnceLock::new();
    SCHEMA.get_or_init(|| schemars::schema_for!(Spec).to_value())
}

/// What the CLI calls the values of these schema definitions, in messages
/// ("unknown step kind", "unknown model variant"). A test checks that each
/// name is a definition of the schema.
const NOUNS: [(&str, &str); 5] = [
    ("Step", "step kind"),
    ("App", "app call"),
    ("VariantName", "model variant"),
    ("SockState", "state"),
    ("Role", "role"),
];

/// Items of lists of these definitions are named "step 3" rather than
/// "item 3 of `steps`", as the replay and check reports number them.
const ITEM_NAMES: [(&str, &str); 1] = [("Step", "step")];

/// A value with its own syntax, checked by its type's `Deserialize`.
type LeafCheck = fn(&Value) -> Result<(), String>;

/// The definitions whose schema is a pattern or an alternative the typed
/// parse reads with hand-written code; the tree's scalar goes through that
/// same code.
const LEAVES: [(&str, LeafCheck); 8] = [
    ("Flags", leaf::<Flags>),
    ("Duration", leaf::<Duration>),
    ("SeqValue", leaf::<SeqValue>),
    ("SutIsn", leaf::<SutIsn>),
    ("Want_uint16", leaf::<Want<u16>>),
    ("Want_uint8", leaf::<Want<u8>>),
    ("Want_Bare", leaf::<Want<Bare>>),
    ("Want_EchoedTs", leaf::<Want<EchoedTs>>),
];

/// Every unknown field, unknown step kind and mistyped value in `root`, read
/// from `file`, in file order.
pub fn check(file: &Path, root: &Node) -> Vec<Diagnostic> {
    let schema = schema();
    let empty = Map::new();
    let defs = schema
        .get("$defs")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    let mut w = Walker {
        file,
        defs,
        out: Vec::new(),
    };
    w.node(schema, None, root, ROOT, root.at);
    w.out.sort_by_key(|d| (d.line, d.column));
    w.out
}

const ROOT: &str = "the spec";

struct Walker<'a> {
    file: &'a Path,
    defs: &'a Map<String, Json>,
    out: Vec<Diagnostic>,
}

/// How the pass reads one schema node.
#[derive(Debug)]
enum Shape<'s> {
    /// `$ref` to a definition with its own syntax.
    Leaf(LeafCheck),
    /// `anyOf [X, {type: null}]`.
    Nullable(&'s Json),
    /// `type: [T, "null"]` for a scalar type T.
    NullableScalar,
    Object(&'s Json),
    Array(&'s Json),
    Integer {
        min: i128,
        max: i128,
    },
    Boolean,
    Text,
    /// Strings from a fixed set (`enum`, or a `oneOf` of `const`s).
    Words(Vec<&'s str>),
    /// A serde enum written as `kind: value` or as a bare `kind`: the data
    /// variants' schemas by name, and the names of the unit variants.
    Tagged {
        data: Vec<(&'s str, &'s Json)>,
        unit: Vec<&'s str>,
    },
    /// Anything else: left to the typed parse.
    Unknown,
}

impl<'a> Walker<'a> {
    /// The definition a schema node refers to, with its name.
    fn deref<'s>(&self, s: &'s Json) -> (Option<&'s str>, &'s Json)
    where
        'a: 's,
    {
        match s.get("$ref").and_then(Json::as_str) {
            Some(r) => {
                let name = r.strip_prefix("#/$defs/").unwrap_or(r);
                match self.defs.get(name) {
                    Some(d) => (Some(name), d),
                    None => (None, &Json::Null),
                }
            }
            None => (None, s),
        }
    }

    fn shape<'s>(&self, s: &'s Json, def: Option<&str>) -> Shape<'s>
    where
        'a: 's,
    {
        if let Some(&(_, check)) = LEAVES.iter().find(|(n, _)| Some(*n) == def) {
            return Shape::Leaf(check);
        }
        if let Some(alts) = s.get("anyOf").and_then(Json::as_array) {
            if let [x, n] = alts.as_slice() {
                if n.get("type").and_then(Json::as_str) == Some("null") {
                    return Shape::Nullable(x);
                }
            }
            return Shape::Unknown;
        }
        if let Some(alts) = s.get("oneOf").and_then(Json::as_array) {
            return tagged(alts);
        }
        if let Some(words) = s.get("enum").and_then(Json::as_array) {
            return words
                .iter()
                .map(Json::as_str)
                .collect::<Option<Vec<_>>>()
                .map_or(Shape::Unknown, Shape::Words);
        }
        match s.get("type") {
            Some(Json::String(t)) if t == "object" => Shape::Object(s),
            Some(Json::String(t)) if t == "array" => Shape::Array(s),
            Some(Json::Array(ts)) if ts.len() == 2 && ts[1] == "null" => match scalar_shape(s) {
                Shape::Unknown => Shape::Unknown,
                _ => Shape::NullableScalar,
            },
            _ => scalar_shape(s),
        }
    }

    fn err(&mut self, at: Location, msg: impl Into<String>) {
        // A node the parser could not place (none known) is shown at the
        // start of the file rather than nowhere.
        let (line, column) = match (at.line(), at.column()) {
            (0, _) | (_, 0) => (1, 1),
            lc => lc,
        };
        self.out.push(Diagnostic::new(self.file, line, column, msg));
    }

    /// Checks `node`, described as `what` in messages and named at `named`
    /// (the key that holds it, or the node itself), against schema `s`.
    fn node(&mut self, s: &Json, def: Option<&str>, node: &Node, what: &str, named: Location) {
        let (d, s) = self.deref(s);
        let def = d.or(def);
        match self.shape(s, def) {
            Shape::Nullable(inner) => {
                if node.value != Value::Null {
                    self.node(inner, def, node, what, named);
                }
            }
            Shape::NullableScalar => {
                if node.value != Value::Null {
                    self.typed(s, node, what);
                }
            }
            Shape::Unknown => {}
            _ if node.value == Value::Null => {
                self.err(node.at, format!("{what} has no value"));
            }
            Shape::Leaf(check) => match (&node.value, object_alternative(s, &node.value)) {
                // `{abs: N}`: a mapping is checked field by field.
                (Value::Map(_), Some(obj)) => self.node(obj, None, node, what, named),
                (v @ Value::Map(entries), None) if !object_keys(s).is_empty() => {
                    let keys = object_keys(s);
                    let mut unknown = false;
                    for (k, _) in entries
                        .iter()
                        .filter(|(k, _)| !keys.contains(&k.name.as_str()))
                    {
                        unknown = true;
                        let tail = suggest::hint(&k.name, &keys);
                        self.err(k.at, format!("unknown field `{}` in {what}{tail}", k.name));
                    }
                    // No alternative's key at all (`{}`): the type says
                    // what it takes.
                    if !unknown {
                        if let Err(e) = check(v) {
                            self.err(node.at, e);
                        }
                    }
                }
                (v, _) => {
                    if let Err(e) = check(v) {
                        self.err(node.at, e);
                    }
                }
            },
            Shape::Object(s) => self.object(s, node, what, named),
            Shape::Array(s) => {
                let Value::Seq(items) = &node.value else {
                    return self.mistyped(node, what, "a list");
                };
                let item = s.get("items").unwrap_or(&Json::Null);
                let (item_def, _) = self.deref(item);
                let label = ITEM_NAMES
                    .iter()
                    .find(|(d, _)| Some(*d) == item_def)
                    .map(|(_, l)| *l);
                for (i, n) in items.iter().enumerate() {
                    let name = match label {
                        Some(l) => format!("{l} {}", i + 1),
                        None => format!("item {} of {what}", i + 1),
                    };
                    self.node(item, None, n, &name, n.at);
                }
            }
            Shape::Words(words) => self.word(node, def, &words),
            Shape::Tagged { data, unit } => self.tagged(node, def, what, &data, &unit),
            Shape::Integer { .. } | Shape::Boolean | Shape::Text => self.typed(s, node, what),
        }
    }

    /// Scalars: integers in range, booleans, text.
    fn typed(&mut self, s: &Json, node: &Node, what: &str) {
        match scalar_shape(s) {
            Shape::Integer { min, max } => {
                // The typed parse reads a quoted "5" as an integer too.
                let n = match &node.value {
                    Value::Int(i) => Some(*i),
                    Value::Str(t) => t.trim().parse::<i128>().ok(),
                    _ => None,
                };
                if !n.is_some_and(|n| (min..=max).contains(&n)) {
                    let range = format!("an integer from {min} to {max}");
                    self.mistyped(node, what, &range);
                }
            }
            Shape::Boolean => {
                let ok = matches!(&node.value, Value::Bool(_))
                    || matches!(&node.value, Value::Str(t) if t == "true" || t == "false");
                if !ok {
                    self.mistyped(node, what, "true or false");
                }
            }
            Shape::Text => {
                if matches!(node.value, Value::Seq(_) | Value::Map(_)) {
                    self.mistyped(node, what, "text");
                }
            }
            _ => {}
        }
    }

    fn mistyped(&mut self, node: &Node, what: &str, expected: &str) {
        let found = node.value.found();
        self.err(node.at, format!("{what} must be {expected}, found {found}"));
    }

    fn object(&mut self, s: &Json, node: &Node, what: &str, named: Location) {
        let Value::Map(entries) = &node.value else {
            return self.mistyped(node, what, "a mapping (key: value pairs)");
        };
        let empty = Map::new();
        let props = s
            .get("properties")
            .and_then(Json::as_object)
            .unwrap_or(&empty);
        let closed = s.get("additionalProperties") == Some(&Json::Bool(false));
        let names: Vec<&str> = props.keys().map(String::as_str).collect();
        // A misspelt required field is reported once, as a near miss, not
        // also as missing.
        let mut suggested = Vec::new();
        for (k, v) in entries {
            match props.get(&k.name) {
                Some(p) => {
                    let child = field(what, &k.name);
                    self.node(p, None, v, &child, k.at);
                }
                None if closed => {
                    suggested.extend(suggest::closest(&k.name, names.iter().copied()));
                    let tail = suggest::hint(&k.name, &names);
                    self.err(k.at, format!("unknown field `{}` in {what}{tail}", k.name));
                }
                None => {}
            }
        }
        let required = s.get("required").and_then(Json::as_array);
        for r in required.into_iter().flatten().filter_map(Json::as_str) {
            if !entries.iter().any(|(k, _)| k.name == r) && !suggested.contains(&r) {
                self.err(named, format!("missing field `{r}` in {what}"));
            }
        }
    }

    fn word(&mut self, node: &Node, def: Option<&str>, words: &[&str]) {
        let noun = noun(def);
        match &node.value {
            Value::Str(w) if words.contains(&w.as_str()) => {}
            Value::Seq(_) | Value::Map(_) => {
                let expected = format!("a {noun}, one of {}", words.join(", "));
                self.mistyped(node, noun, &expected);
            }
            v => {
                let w = v.text().unwrap_or_default();
                let tail = suggest::hint(&w, words);
                self.err(node.at, format!("unknown {noun} `{w}`{tail}"));
            }
        }
    }

    /// A serde enum: `- inject: {...}` (data) or `- app: close` (unit).
    fn tagged(
        &mut self,
        node: &Node,
        def: Option<&str>,
        what: &str,
        data: &[(&str, &Json)],
        unit: &[&str],
    ) {
        let noun = noun(def);
        let all: Vec<&str> = unit
            .iter()
            .chain(data.iter().map(|(n, _)| n))
            .copied()
            .collect();
        let unknown = |w: &str| {
            let tail = match (
                suggest::closest(w, all.iter().copied()),
                self.nested(w, data),
            ) {
                (None, Some(n)) => format!("; did you mean `{n}`?"),
                _ => suggest::hint(w, &all),
            };
            format!("unknown {noun} `{w}` in {what}{tail}")
        };
        match &node.value {
            Value::Str(w) if unit.contains(&w.as_str()) => {}
            Value::Str(w) if data.iter().any(|(n, _)| n == w) => {
                self.err(
                    node.at,
                    format!("{noun} `{w}` in {what} needs a value: `{w}: ...`"),
                );
            }
            Value::Str(w) => {
                let m = unknown(w);
                self.err(node.at, m);
            }
            Value::Map(entries) if entries.len() == 1 => {
                let (k, v) = &entries[0];
                if let Some((_, s)) = data.iter().find(|(n, _)| *n == k.name) {
                    let child = field(what, &k.name);
                    self.node(s, None, v, &child, k.at);
                } else if unit.contains(&k.name.as_str()) {
                    self.err(
                        k.at,
                        format!(
                            "{noun} `{}` in {what} takes no value; write `{}` alone",
                            k.name, k.name
                        ),
                    );
                } else {
                    let m = unknown(&k.name);
                    self.err(k.at, m);
                }
            }
            Value::Map(entries) => {
                let keys: Vec<String> = entries
                    .iter()
                    .map(|(k, _)| format!("`{}`", k.name))
                    .collect();
                self.err(
                    node.at,
                    format!(
                        "{what} has {} keys ({}) where one {noun} is expected, as in `{}: ...`; are its fields indented under it?",
                        entries.len(),
                        keys.join(", "),
                        data.first().map_or("kind", |(n, _)| *n),
                    ),
                );
            }
            _ => {
                let expected = format!(
                    "a {noun} such as `{}: ...`",
                    data.first().map_or("kind", |(n, _)| *n)
                );
                self.mistyped(node, what, &expected);
            }
        }
    }
}

impl Walker<'_> {
    /// A word that names a kind one level down, written where its parent
    /// kind belongs: `- close` or `- sendd: 10` for `app: close` and
    /// `app: {send: ...}`.
    fn nested(&self, w: &str, data: &[(&str, &Json)]) -> Option<String> {
        for (parent, s) in data {
            let (def, s) = self.deref(s);
            let (unit, inner): (Vec<&str>, Vec<&str>) = match self.shape(s, def) {
                Shape::Tagged { data, unit } => (unit, data.iter().map(|(n, _)| *n).collect()),
                _ => continue,
            };
            if let Some(u) = suggest::closest(w, unit.iter().copied()) {
                return Some(format!("{parent}: {u}"));
            }
            if let Some(d) = suggest::closest(w, inner.iter().copied()) {
                return Some(format!("{parent}: {{{d}: ...}}"));
            }
        }
        None
    }
}

/// The messages' name for a field `name` of the node named `what`:
/// "`msl`", "`inject` (step 2)", "`seq` of `inject` (step 2)".
fn field(what: &str, name: &str) -> String {
    if what == ROOT {
        format!("`{name}`")
    } else if what.starts_with('`') {
        format!("`{name}` of {what}")
    } else {
        format!("`{name}` ({what})")
    }
}

fn noun(def: Option<&str>) -> &'static str {
    NOUNS
        .iter()
        .find(|(d, _)| Some(*d) == def)
        .map_or("value", |(_, n)| n)
}

/// Integers, booleans and text, by `type` (the first of `[T, "null"]`).
fn scalar_shape(s: &Json) -> Shape<'static> {
    let ty = match s.get("type") {
        Some(Json::String(t)) => t.as_str(),
        Some(Json::Array(ts)) => ts.first().and_then(Json::as_str).unwrap_or(""),
        _ => "",
    };
    match ty {
        "boolean" => Shape::Boolean,
        "string" => Shape::Text,
        "integer" => {
            let (fmin, fmax) = format_range(s.get("format").and_then(Json::as_str));
            let bound = |k: &str| s.get(k).and_then(Json::as_i64).map(i128::from);
            Shape::Integer {
                min: bound("minimum").unwrap_or(fmin).max(fmin),
                max: bound("maximum").unwrap_or(fmax).min(fmax),
            }
        }
        _ => Shape::Unknown,
    }
}

/// The range of an integer `format` schemars writes (`uint16`, `int64`, ...).
fn format_range(format: Option<&str>) -> (i128, i128) {
    match format {
        Some("uint8") => (0, u8::MAX.into()),
        Some("uint16") => (0, u16::MAX.into()),
        Some("uint32") => (0, u32::MAX.into()),
        Some("uint64") | Some("uint") => (0, u64::MAX.into()),
        Some("int8") => (i8::MIN.into(), i8::MAX.into()),
        Some("int16") => (i16::MIN.into(), i16::MAX.into()),
        Some("int32") => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    }
}

/// A `oneOf` read as a serde enum when every alternative is a bare word
/// (`const`) or a one-field object that requires that field; else unknown.
fn tagged(alts: &[Json]) -> Shape<'_> {
    let mut data = Vec::new();
    let mut unit = Vec::new();
    for a in alts {
        if let Some(c) = a.get("const").and_then(Json::as_str) {
            unit.push(c);
            continue;
        }
        let props = a.get("properties").and_then(Json::as_object);
        let required = a.get("required").and_then(Json::as_array);
        match (props, required) {
            (Some(p), Some(r)) if p.len() == 1 && r.len() == 1 => {
                let Some((name, s)) = p.iter().next() else {
                    return Shape::Unknown;
                };
                if r[0].as_str() != Some(name.as_str()) {
                    return Shape::Unknown;
                }
                data.push((name.as_str(), s));
            }
            _ => return Shape::Unknown,
        }
    }
    if data.is_empty() {
        Shape::Words(unit)
    } else {
        Shape::Tagged { data, unit }
    }
}

/// The object alternatives of a `oneOf` (`{abs: N}` of a sequence number).
fn objects(s: &Json) -> impl Iterator<Item = &Json> {
    s.get("oneOf")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter(|a| a.get("type").and_then(Json::as_str) == Some("object"))
}

/// The field names of every object alternative.
fn object_keys(s: &Json) -> Vec<&str> {
    objects(s)
        .filter_map(|a| a.get("properties").and_then(Json::as_object))
        .flat_map(|p| p.keys().map(String::as_str))
        .collect()
}

/// The object alternative a mapping is written in: the only one, or the
/// one that has one of its keys.
fn object_alternative<'s>(s: &'s Json, v: &Value) -> Option<&'s Json> {
    let all: Vec<&Json> = objects(s).collect();
    let Value::Map(entries) = v else {
        return None;
    };
    let has = |a: &Json, k: &str| a.get("properties").and_then(|p| p.get(k)).is_some();
    match all.as_slice() {
        [one] => Some(one),
        _ => all
            .iter()
            .find(|a| entries.iter().any(|(k, _)| has(a, &k.name)))
            .copied(),
    }
}

/// Runs `T`'s own `Deserialize` on a scalar of the tree.
fn leaf<T: for<'de> Deserialize<'de>>(v: &Value) -> Result<(), String> {
    T::deserialize(Scalar(v))
        .map(|_| ())
        .map_err(|e: de::value::Error| e.to_string())
}

impl<'de> de::IntoDeserializer<'de, de::value::Error> for Scalar<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// A tree scalar offered to a `Deserialize` impl as serde-saphyr offers it:
/// typed to `deserialize_any`, as its text to a string reader.
struct Scalar<'v>(&'v Value);

impl<'de> Deserializer<'de> for Scalar<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(i) => match u64::try_from(*i) {
                Ok(u) => v.visit_u64(u),
                Err(_) => v.visit_i64(i64::try_from(*i).unwrap_or(i64::MIN)),
            },
            Value::Float(f) => v.visit_f64(*f),
            Value::Str(s) => v.visit_str(s),
            Value::Seq(_) => Err(de::Error::invalid_type(Unexpected::Seq, &v)),
            // A value type written as a small mapping (`ts: {ecr: N}`):
            // its fields are offered as they are, keys as strings.
            Value::Map(m) => v.visit_map(de::value::MapDeserializer::new(
                m.iter().map(|(k, n)| (k.name.clone(), Scalar(&n.value))),
            )),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null | Value::Seq(_) | Value::Map(_) => self.deserialize_any(v),
            other => v.visit_str(&other.text().unwrap_or_default()),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.deserialize_str(v)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct
        enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let tree: Node =
            serde_saphyr::from_str_with_options(text, crate::load::options()).expect("valid YAML");
        check(Path::new("t.yaml"), &tree)
            .into_iter()
            .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
            .collect()
    }

    const HEAD: &str =
        "name: t\ndescription: d\nrole: active-closer\nmsl: 1s\nmodel: {pass: [rfc9293]}\nsteps:\n";

    fn steps(s: &str) -> Vec<String> {
        problems(&format!("{HEAD}{s}"))
    }

    #[test]
    fn a_well_formed_spec_has_no_shape_problems() {
        let p = steps("  - app: listen\n  - inject: {flags: S, seq: 0, options: {mss: 1460, sack-ok: true}}\n  - expect: {flags: SA, ack: 1, after: 1s}\n  - wait: 1msl\n  - expect-state: {state: TIME-WAIT, remaining: {min: 1s, max: 2s}}\n  - incarnation: {peer-isn: {abs: 5}}\n  - app: {send: 10}\n  - note: ok\n");
        assert_eq!(p, Vec::<String>::new());
    }

    #[test]
    fn an_unknown_step_kind_is_named_with_its_step_and_a_suggestion() {
        assert_eq!(
            steps("  - app: listen\n  - expcet: {flags: SA}\n"),
            ["8:5: unknown step kind `expcet` in step 2; did you mean `expect`?"]
        );
        let far = steps("  - retransmit: 10\n");
        assert!(
            far[0].starts_with("7:5: unknown step kind `retransmit` in step 1, expected one of"),
            "{far:?}"
        );
    }

    #[test]
    fn an_app_call_written_as_a_step_kind_is_pointed_to_app() {
        assert_eq!(
            steps("  - close\n  - sendd: 10\n"),
            [
                "7:5: unknown step kind `close` in step 1; did you mean `app: close`?",
                "8:5: unknown step kind `sendd` in step 2; did you mean `app: {send: ...}`?",
            ]
        );
    }

    #[test]
    fn unknown_fields_are_reported_at_every_level() {
        let p = problems(
            "name: t\ndescription: d\nrole: active-closer\nmsl: 1s\ntolerence: 1s\nmodel: {pass: [rfc9293], fial: []}\nsteps:\n  - inject: {flags: S, sq: 0, options: {msss: 1}}\n  - inject: {flags: S}\n  - expect-state: {state: CLOSED, remaining: {min: 1s, mx: 2s}}\n",
        );
        assert_eq!(
            p,
            [
                "5:1: unknown field `tolerence` in the spec; did you mean `tolerance`?",
                "6:26: unknown field `fial` in `model`; did you mean `fail`?",
                "8:24: unknown field `sq` in `inject` (step 1); did you mean `seq`?",
                "8:41: unknown field `msss` in `options` of `inject` (step 1); did you mean `mss`?",
                "9:5: missing field `seq` in `inject` (step 2)",
                "10:56: unknown field `mx` in `remaining` of `expect-state` (step 3); did you mean `max`?",
            ]
        );
    }

    #[test]
    fn a_word_where_a_number_is_wanted_is_a_type_error() {
        assert_eq!(
            steps("  - inject: {flags: S, seq: 0, len: five, win: -1}\n"),
            [
                "7:37: `len` of `inject` (step 1) must be an integer from 0 to 65535, found `five`",
                "7:48: `win` of `inject` (step 1) must be an integer from 0 to 65535, found `-1`",
            ]
        );
    }

    #[test]
    fn a_mapping_is_read_in_the_object_alternative_that_has_its_key() {
        let s = serde_json::json!({"oneOf": [
            {"type": "integer"},
            {"type": "object", "properties": {"abs": {"type": "integer"}}},
            {"type": "object", "properties": {"snd-nxt": {"type": "integer"}}},
        ]});
        let map = |k: &str| {
            let tree: Node = serde_saphyr::from_str(&format!("{{{k}: 1}}")).expect("YAML");
            tree.value
        };
        let props = |a: Option<&Json>| a.and_then(|a| a.get("properties")).cloned();
        assert_eq!(
            props(object_alternative(&s, &map("snd-nxt"))),
            Some(serde_json::json!({"snd-nxt": {"type": "integer"}}))
        );
        assert_eq!(props(object_alternative(&s, &map("abz"))), None);
        assert_eq!(object_keys(&s), ["abs", "snd-nxt"]);
    }

    #[test]
    fn a_fraction_where_an_integer_is_wanted_is_shown_as_written() {
        assert_eq!(
            steps("  - inject: {flags: S, seq: 0, len: 5.0}\n"),
            ["7:37: `len` of `inject` (step 1) must be an integer from 0 to 65535, found `5.0`"]
        );
    }

    #[test]
    fn a_mapping_where_a_scalar_is_wanted_is_a_type_error() {
        assert_eq!(
            steps("  - expect: {flags: A, len: {n: 1}}\n  - note: [a, b]\n"),
            [
                "7:29: `len` of `expect` (step 1) must be an integer from 0 to 65535, found a mapping",
                "8:11: `note` (step 2) must be text, found a list",
            ]
        );
    }

    #[test]
    fn bad_flags_durations_and_numbers_get_their_types_own_messages() {
        let p = steps("  - inject: {flags: SS, seq: 2000000000}\n  - wait: 5\n  - expect-none: {for: 5hours}\n");
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].starts_with("7:21: flag 'S' given twice"), "{p:?}");
        assert!(
            p[1].starts_with("7:30: relative number 2000000000 is too far"),
            "{p:?}"
        );
        assert!(p[2].starts_with("8:11: duration 5 has no unit"), "{p:?}");
        assert!(p[3].starts_with("9:24: unknown unit \"hours\""), "{p:?}");
    }

    #[test]
    fn bad_states_booleans_and_variants_are_type_errors_with_suggestions() {
        let p = problems("name: t\ndescription: d\nrole: active-closr\nmsl: 1s\nmodel: {pass: [rfc9239]}\nsteps:\n  - expect-state: {state: TIMEWAIT}\n  - inject: {flags: S, seq: 0, options: {sack-ok: yes}}\n");
        assert_eq!(
            p,
            [
                "3:7: unknown role `active-closr`; did you mean `active-closer`?",
                "5:16: unknown model variant `rfc9239`; did you mean `rfc9293`?",
                "7:27: unknown state `TIMEWAIT`; did you mean `TIME-WAIT`?",
                "8:51: `sack-ok` of `options` of `inject` (step 2) must be true or false, found `yes`",
            ]
        );
    }

    #[test]
    fn a_sequence_number_mapping_is_checked_field_by_field() {
        assert_eq!(
            steps("  - incarnation: {peer-isn: {ab: 5}}\n  - incarnation: {peer-isn: {abs: -1}}\n"),
            [
                "7:30: unknown field `ab` in `peer-isn` of `incarnation` (step 1); did you mean `abs`?",
                "8:35: `abs` of `peer-isn` of `incarnation` (step 2) must be an integer from 0 to 4294967295, found `-1`",
            ]
        );
    }

    #[test]
    fn step_shapes_that_are_not_one_kind_and_value_are_explained() {
        let p = steps("  - wait\n  - app: {close: 1}\n  - inject:\n    flags: S\n  - 5\n");
        assert_eq!(
            p,
            [
                "7:5: step kind `wait` in step 1 needs a value: `wait: ...`",
                "8:11: app call `close` in `app` (step 2) takes no value; write `close` alone",
                "9:5: step 3 has 2 keys (`inject`, `flags`) where one step kind is expected, as in `app: ...`; are its fields indented under it?",
                "11:5: step 4 must be a step kind such as `app: ...`, found `5`",
            ]
        );
    }

    #[test]
    fn a_null_where_a_value_is_required_says_so_and_optional_nulls_pass() {
        assert_eq!(
            steps("  - inject: {flags: S, seq: ~, win: ~}\n"),
            ["7:29: `seq` of `inject` (step 1) has no value"]
        );
    }

    #[test]
    fn documents_that_are_no_mapping_are_located_inside_the_input() {
        assert_eq!(problems("---\n"), ["1:4: the spec has no value"]);
        assert_eq!(
            problems("[]\n"),
            ["1:1: the spec must be a mapping (key: value pairs), found a list"]
        );
        assert_eq!(
            problems("5\n"),
            ["1:1: the spec must be a mapping (key: value pairs), found `5`"]
        );
    }

    #[test]
    fn every_definition_in_the_schema_is_understood_by_the_shape_pass() {
        let w = Walker {
            file: Path::new("x"),
            defs: schema()["$defs"].as_object().expect("$defs"),
            out: Vec::new(),
        };
        for (name, s) in w.defs {
            assert!(
                !matches!(w.shape(s, Some(name)), Shape::Unknown),
                "the shape pass cannot read definition {name}; add it to LEAVES or teach `shape`"
            );
        }
        for (name, _) in NOUNS.iter().chain(ITEM_NAMES.iter()) {
            assert!(
                w.defs.contains_key(*name),
                "NOUNS names {name}, which the schema lacks"
            );
        }
        for (name, _) in LEAVES {
            assert!(
                w.defs.contains_key(name),
                "LEAVES names {name}, which the schema lacks"
            );
        }
    }
}
