//! A spec file as a located YAML tree: every node and every mapping key with
//! its line and column, before any typing. The shape pass ([`crate::shape`])
//! walks it to report every unknown key and mistyped value in one run, which
//! the typed parse cannot: serde stops at its first error.
//!
//! The tree is read by the same parser, with the same options and budgets,
//! as the typed parse ([`crate::load`]), so both see the same document
//! (scalar resolution, strict booleans, duplicate keys, alias limits).

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};
use std::fmt;

/// One YAML node and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub at: Location,
    pub value: Value,
}

/// A mapping key and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub at: Location,
    pub name: String,
}

/// A node's content as the parser resolved it (YAML 1.2 core schema).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Integers that fit in 64 bits, signed or not.
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order.
    Map(Vec<(Key, Node)>),
}

impl Value {
    /// The scalar as a YAML author would write it, for messages and for
    /// value types that read text (flags, durations); `None` for
    /// collections.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Null => Some("~".into()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            // `5.0`, not `5`: the author wrote a fraction.
            Value::Float(f) => Some(format!("{f:?}")),
            Value::Str(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// What was found, in a message: "`five`", "a mapping", "a list".
    pub fn found(&self) -> String {
        match self {
            Value::Null => "nothing (null)".into(),
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
            v => format!("`{}`", v.text().unwrap_or_default()),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            at: s.referenced,
            value: s.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Node>()? {
            // A key that is itself a list or mapping (`? [a, b]`) has no
            // place in a spec; it is named by what it is.
            let name = k.value.text().unwrap_or_else(|| k.value.found());
            let v = map.next_value::<Node>()?;
            entries.push((Key { at: k.at, name }, v));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Node {
        serde_saphyr::from_str::<Node>(text).expect("valid YAML")
    }

    #[test]
    fn keys_and_values_carry_their_lines_and_columns() {
        let n = read("name: x\nsteps:\n  - inject: {flags: S, seq: 0}\n");
        let Value::Map(top) = &n.value else {
            panic!("a mapping: {n:?}")
        };
        assert_eq!(top[1].0.name, "steps");
        assert_eq!((top[1].0.at.line(), top[1].0.at.column()), (2, 1));
        let Value::Seq(steps) = &top[1].1.value else {
            panic!("a list")
        };
        let Value::Map(step) = &steps[0].value else {
            panic!("a mapping")
        };
        assert_eq!((step[0].0.at.line(), step[0].0.at.column()), (3, 5));
        let Value::Map(inject) = &step[0].1.value else {
            panic!("a mapping")
        };
        assert_eq!(inject[1].0.name, "seq");
        assert_eq!(inject[1].1.value, Value::Int(0));
        assert_eq!((inject[1].1.at.line(), inject[1].1.at.column()), (3, 29));
    }

    #[test]
    fn scalars_resolve_as_the_typed_parse_resolves_them() {
        let n = read("a: 5\nb: -3\nc: \"5\"\nd: true\ne: ~\nf: 1.5\ng: 5s\n");
        let Value::Map(m) = n.value else {
            panic!("a mapping")
        };
        let values: Vec<Value> = m.into_iter().map(|(_, v)| v.value).collect();
        assert_eq!(
            values,
            vec![
                Value::Int(5),
                Value::Int(-3),
                Value::Str("5".into()),
                Value::Bool(true),
                Value::Null,
                Value::Float(1.5),
                Value::Str("5s".into()),
            ]
        );
    }
}
