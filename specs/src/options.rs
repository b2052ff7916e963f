//! What an `expect` checks of the SUT's TCP options. Each option given is
//! required, with that value or (`present`) any value, or forbidden
//! (`absent`); with `exact: true` the segment carries no option besides
//! the ones required, as packetdrill checks an outbound segment's option
//! list. Options left out are not checked. The SUT's TSval is its own
//! clock, so only the echoed value (`ecr`) of timestamps can be expected.

use crate::format::TcpOptions;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// One option's requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want<T> {
    /// The option must not be on the segment.
    Absent,
    /// The option must be there, with any value.
    Present,
    /// The option must be there with this value.
    Is(T),
}

/// The timestamps value an `expect` can pin: the echo of the peer's TSval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EchoedTs {
    pub ecr: u32,
}

/// The value of an option that has none (SACK-permitted): YAML's `true`
/// means present and `false` absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bare;

impl JsonSchema for Bare {
    fn schema_name() -> Cow<'static, str> {
        "Bare".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "boolean"})
    }
}

/// The SUT's options an `expect` checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExpectOptions {
    #[serde(default)]
    pub mss: Option<Want<u16>>,
    #[serde(default)]
    pub wscale: Option<Want<u8>>,
    /// `present` (or `true`) or `absent` (or `false`).
    #[serde(default)]
    pub sack_ok: Option<Want<Bare>>,
    /// `{ecr: N}`, `present` or `absent`.
    #[serde(default)]
    pub ts: Option<Want<EchoedTs>>,
    /// No option but the ones required here may be on the segment.
    #[serde(default)]
    pub exact: bool,
}

/// A value a [`Want`] can hold, read from YAML.
pub trait WantValue: Sized {
    /// What the value looks like, for error messages.
    const EXPECTED: &'static str;
    fn from_u64(_: u64) -> Option<Self> {
        None
    }
    fn from_bool(_: bool) -> Option<Want<Self>> {
        None
    }
    fn from_map<'de, M: MapAccess<'de>>(map: M) -> Result<Self, M::Error> {
        let _ = map;
        Err(de::Error::custom(format!(
            "expected {}, `present` or `absent`",
            Self::EXPECTED
        )))
    }
}

impl WantValue for u16 {
    const EXPECTED: &'static str = "a number from 0 to 65535";
    fn from_u64(v: u64) -> Option<Self> {
        u16::try_from(v).ok()
    }
}

impl WantValue for u8 {
    const EXPECTED: &'static str = "a number from 0 to 255";
    fn from_u64(v: u64) -> Option<Self> {
        u8::try_from(v).ok()
    }
}

impl WantValue for Bare {
    const EXPECTED: &'static str = "`true` or `false`";
    fn from_bool(b: bool) -> Option<Want<Self>> {
        Some(if b { Want::Present } else { Want::Absent })
    }
}

impl WantValue for EchoedTs {
    const EXPECTED: &'static str = "`{ecr: N}`";
    fn from_map<'de, M: MapAccess<'de>>(map: M) -> Result<Self, M::Error> {
        EchoedTs::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

impl<'de, T: WantValue> Deserialize<'de> for Want<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: WantValue> Visitor<'de> for V<T> {
            type Value = Want<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{}, `present` or `absent`", T::EXPECTED)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Want<T>, E> {
                match s {
                    "absent" => Ok(Want::Absent),
                    "present" => Ok(Want::Present),
                    _ => Err(E::custom(format!(
                        "expected {}, `present` or `absent`, found `{s}`",
                        T::EXPECTED
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Want<T>, E> {
                T::from_u64(v).map(Want::Is).ok_or_else(|| {
                    E::custom(format!(
                        "expected {}, `present` or `absent`, found {v}",
                        T::EXPECTED
                    ))
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Want<T>, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom(format!(
                        "expected {}, `present` or `absent`, found {v}",
                        T::EXPECTED
                    ))),
                }
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Want<T>, E> {
                T::from_bool(b).ok_or_else(|| {
                    E::custom(format!(
                        "expected {}, `present` or `absent`, found {b}",
                        T::EXPECTED
                    ))
                })
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Want<T>, M::Error> {
                T::from_map(map).map(Want::Is)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for Want<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Want_{}", T::schema_name()).into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let value = g.subschema_for::<T>();
        json_schema!({
            "description": "the option with this value, `present` (any value) or `absent`",
            "oneOf": [
                {"type": "string", "enum": ["present", "absent"]},
                value
            ]
        })
    }
}

/// Whether `w` asks for the option to be there.
fn required<T>(w: &Option<Want<T>>) -> bool {
    matches!(w, Some(Want::Present | Want::Is(_)))
}

/// `got` against `want`: one line per departure, empty when it matches.
fn check<T: PartialEq + Copy>(
    name: &str,
    want: Option<Want<T>>,
    got: Option<T>,
    show: impl Fn(T) -> String,
    out: &mut Vec<String>,
) {
    match (want, got) {
        (None, _) | (Some(Want::Present), Some(_)) | (Some(Want::Absent), None) => {}
        (Some(Want::Is(w)), Some(g)) if w == g => {}
        (Some(Want::Absent), Some(g)) => out.push(format!("{name} {} (expected none)", show(g))),
        (Some(Want::Present | Want::Is(_)), None) => out.push(format!("no {name} (expected it)")),
        (Some(Want::Is(w)), Some(g)) => {
            out.push(format!("{name} {} (expected {})", show(g), show(w)))
        }
    }
}

impl ExpectOptions {
    /// How the SUT's options `got` depart from this expectation: one
    /// phrase per departure, empty when they match.
    pub fn departures(&self, got: &TcpOptions) -> Vec<String> {
        let mut d = Vec::new();
        check("mss", self.mss, got.mss, |v| v.to_string(), &mut d);
        check("wscale", self.wscale, got.wscale, |v| v.to_string(), &mut d);
        let sack = got.sack_ok.then_some(Bare);
        check("sack-ok", self.sack_ok, sack, |_| String::new(), &mut d);
        let ts = got.ts.map(|t| EchoedTs { ecr: t.ecr });
        check("ts", self.ts, ts, |t| format!("ecr {}", t.ecr), &mut d);
        if self.exact {
            let mut unlisted = |required: bool, on: bool, name: &str| {
                if !required && on {
                    d.push(format!("{name} (not in the exact list)"));
                }
            };
            unlisted(required(&self.mss), got.mss.is_some(), "mss");
            unlisted(required(&self.wscale), got.wscale.is_some(), "wscale");
            unlisted(required(&self.sack_ok), got.sack_ok, "sack-ok");
            unlisted(required(&self.ts), got.ts.is_some(), "ts");
            for kind in &got.other {
                d.push(format!("option kind {kind} (not in the exact list)"));
            }
        }
        d
    }

    /// The checks in the spec's own words, for logs: `mss=1460 ts=absent exact`.
    pub fn summary(&self) -> String {
        fn one<T>(name: &str, w: Option<Want<T>>, show: impl Fn(T) -> String) -> Option<String> {
            w.map(|w| match w {
                Want::Absent => format!("{name}=absent"),
                Want::Present => format!("{name}=present"),
                Want::Is(v) => format!("{name}={}", show(v)),
            })
        }
        let mut parts: Vec<String> = [
            one("mss", self.mss, |v| v.to_string()),
            one("wscale", self.wscale, |v| v.to_string()),
            one("sack-ok", self.sack_ok, |_| "present".into()),
            one("ts", self.ts, |t| format!("ecr:{}", t.ecr)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if self.exact {
            parts.push("exact".into());
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Timestamps;

    fn parse(yaml: &str) -> Result<ExpectOptions, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    fn syn_ack_options() -> TcpOptions {
        TcpOptions {
            mss: Some(1460),
            wscale: Some(7),
            sack_ok: true,
            ts: Some(Timestamps { val: 99, ecr: 5 }),
            other: Vec::new(),
        }
    }

    #[test]
    fn a_value_present_and_absent_each_read_from_yaml() {
        let o = parse("{mss: 1460, wscale: present, sack-ok: absent, ts: {ecr: 5}}").expect("ok");
        assert_eq!(o.mss, Some(Want::Is(1460)));
        assert_eq!(o.wscale, Some(Want::Present));
        assert_eq!(o.sack_ok, Some(Want::Absent));
        assert_eq!(o.ts, Some(Want::Is(EchoedTs { ecr: 5 })));
        assert!(!o.exact);
        assert_eq!(
            parse("{sack-ok: true}").expect("ok").sack_ok,
            Some(Want::Present)
        );
    }

    #[test]
    fn a_word_other_than_present_or_absent_is_an_error_saying_what_fits() {
        let e = parse("{mss: gone}").expect_err("bad");
        assert!(e.contains("`present` or `absent`, found `gone`"), "{e}");
        let e = parse("{wscale: 300}").expect_err("bad");
        assert!(e.contains("0 to 255"), "{e}");
        let e = parse("{ts: {val: 1, ecr: 2}}").expect_err("bad");
        assert!(e.contains("val"), "{e}");
    }

    #[test]
    fn an_absent_option_that_is_there_is_a_departure() {
        let o = parse("{ts: absent}").expect("ok");
        assert_eq!(
            o.departures(&syn_ack_options()),
            vec!["ts ecr 5 (expected none)"]
        );
        let none = TcpOptions::default();
        assert!(o.departures(&none).is_empty());
    }

    #[test]
    fn exact_options_reject_one_not_listed_and_any_unknown_kind() {
        let o = parse("{mss: 1460, sack-ok: present, ts: present, exact: true}").expect("ok");
        assert_eq!(
            o.departures(&syn_ack_options()),
            vec!["wscale (not in the exact list)"]
        );
        let mut got = syn_ack_options();
        got.wscale = None;
        assert!(o.departures(&got).is_empty());
        got.other = vec![30];
        assert_eq!(
            o.departures(&got),
            vec!["option kind 30 (not in the exact list)"]
        );
    }

    #[test]
    fn a_wrong_value_and_a_missing_option_each_say_what_was_expected() {
        let o = parse("{mss: 536, wscale: present}").expect("ok");
        let d = o.departures(&TcpOptions {
            mss: Some(1460),
            ..TcpOptions::default()
        });
        assert_eq!(
            d,
            vec!["mss 1460 (expected 536)", "no wscale (expected it)"]
        );
    }
}
