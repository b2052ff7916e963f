//! The scalar values of the spec format that need more than serde's derive:
//! TCP flag letters, durations with units, and sequence numbers that are
//! relative to an incarnation's ISN or absolute. Each parses with an error
//! that says what was found and what was expected; serde-saphyr attaches the
//! line and column of the offending scalar.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// TCP control bits as the letters tcpdump and packetdrill use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    pub const SYN: Flags = Flags(1);
    pub const FIN: Flags = Flags(2);
    pub const RST: Flags = Flags(4);
    pub const PSH: Flags = Flags(8);
    pub const ACK: Flags = Flags(16);

    /// Letters in canonical order (S F R P A), as `SA`, `FA`, `RA` are read.
    const LETTERS: [(char, Flags); 5] = [
        ('S', Flags::SYN),
        ('F', Flags::FIN),
        ('R', Flags::RST),
        ('P', Flags::PSH),
        ('A', Flags::ACK),
    ];

    pub const fn has(self, o: Flags) -> bool {
        self.0 & o.0 == o.0
    }

    pub const fn union(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }

    pub const fn bits(self) -> u8 {
        self.0
    }

    pub const fn from_bits(bits: u8) -> Flags {
        Flags(bits & 0x1f)
    }

    /// These flags without PSH, which never decides a match: the model has
    /// no PSH and stacks set it as they see fit.
    pub const fn without_psh(self) -> Flags {
        Flags(self.0 & !Flags::PSH.0)
    }

    /// Parses flag letters; a near miss (`syn`, `SYN-ACK`, `F|A`, `S.`)
    /// gets its letters suggested.
    pub fn parse(s: &str) -> Result<Flags, String> {
        Flags::parse_letters(s).map_err(|e| match Flags::meant(s) {
            Some(f) => format!("{e}; did you mean `{f}`?"),
            None => e,
        })
    }

    /// The flags a near miss means: lower-case letters, flag names (SYN,
    /// ACK, FIN, RST, PSH, RESET, PUSH) joined by nothing or by `-`, `|`,
    /// `,`, `+`, `/`, `_` or spaces, and tcpdump's `.` for ACK.
    fn meant(s: &str) -> Option<Flags> {
        const NAMES: [(&str, Flags); 7] = [
            ("SYN", Flags::SYN),
            ("ACK", Flags::ACK),
            ("FIN", Flags::FIN),
            ("RST", Flags::RST),
            ("PSH", Flags::PSH),
            ("RESET", Flags::RST),
            ("PUSH", Flags::PSH),
        ];
        let up = s.to_ascii_uppercase();
        let mut rest = up.as_str();
        let mut out = Flags(0);
        loop {
            rest = rest.trim_start_matches([' ', '-', '|', ',', '+', '/', '_']);
            if rest.is_empty() {
                break;
            }
            if let Some(r) = rest.strip_prefix('.') {
                out = out.union(Flags::ACK);
                rest = r;
            } else if let Some((n, f)) = NAMES.iter().find(|(n, _)| rest.starts_with(n)) {
                out = out.union(*f);
                rest = &rest[n.len()..];
            } else {
                let c = rest.chars().next()?;
                let &(_, f) = Flags::LETTERS.iter().find(|(l, _)| *l == c)?;
                out = out.union(f);
                rest = &rest[c.len_utf8()..];
            }
        }
        (out.0 != 0).then_some(out)
    }

    fn parse_letters(s: &str) -> Result<Flags, String> {
        if s.is_empty() {
            return Err(
                "empty flags, expected letters from S, A, F, R, P such as \"SA\" or \"FA\"".into(),
            );
        }
        let mut out = Flags(0);
        for c in s.chars() {
            let Some(&(_, f)) = Flags::LETTERS.iter().find(|(l, _)| *l == c) else {
                return Err(format!(
                    "unknown flag {c:?} in {s:?}, expected letters from S, A, F, R, P"
                ));
            };
            if out.has(f) {
                return Err(format!("flag {c:?} given twice in {s:?}"));
            }
            out = out.union(f);
        }
        Ok(out)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (l, flag) in Flags::LETTERS {
            if self.has(flag) {
                write!(f, "{l}")?;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Flags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Flags::parse(&s).map_err(de::Error::custom)
    }
}

impl JsonSchema for Flags {
    fn schema_name() -> Cow<'static, str> {
        "Flags".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(?!.*(.).*\\1)[SAFRP]+$",
            "description": "TCP flags as letters: S (SYN), A (ACK), F (FIN), R (RST), P (PSH), e.g. \"SA\", \"FA\", \"R\"",
            "examples": ["S", "SA", "A", "FA", "PA", "R", "RA"]
        })
    }
}

/// The unit of a [`Duration`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    Millis,
    Seconds,
    /// Maximum segment lifetimes, as the spec's `msl` sets it.
    Msl,
    /// TIME-WAIT lengths, as the spec's `time-wait` sets it.
    TimeWait,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::Millis => "ms",
            Unit::Seconds => "s",
            Unit::Msl => "msl",
            Unit::TimeWait => "tw",
        }
    }
}

/// A non-negative duration such as `500ms`, `2s`, `1.5msl` or `0.5tw`,
/// kept in thousandths of its unit so that it compares and prints exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Duration {
    pub milli_units: u64,
    pub unit: Unit,
}

/// Upper bound on any duration: a day. Longer waits are typos, and the bound
/// keeps every later multiplication in range.
pub const MAX_DURATION_MS: u64 = 86_400_000;

impl Duration {
    pub const fn ms(ms: u64) -> Self {
        Duration {
            milli_units: ms * 1000,
            unit: Unit::Millis,
        }
    }

    pub const fn secs(s: u64) -> Self {
        Duration {
            milli_units: s * 1000,
            unit: Unit::Seconds,
        }
    }

    pub const fn msl(milli: u64) -> Self {
        Duration {
            milli_units: milli,
            unit: Unit::Msl,
        }
    }

    /// `milli` thousandths of the spec's TIME-WAIT.
    pub const fn tw(milli: u64) -> Self {
        Duration {
            milli_units: milli,
            unit: Unit::TimeWait,
        }
    }

    pub fn is_zero(self) -> bool {
        self.milli_units == 0
    }

    /// Milliseconds, given what one MSL and one TIME-WAIT last (in ms).
    pub fn to_ms(self, msl_ms: u64, tw_ms: u64) -> u64 {
        let per_unit = match self.unit {
            Unit::Millis => 1,
            Unit::Seconds => 1000,
            Unit::Msl => msl_ms,
            Unit::TimeWait => tw_ms,
        };
        // Both factors are bounded (MAX_DURATION_MS), so u128 cannot overflow.
        (u128::from(self.milli_units) * u128::from(per_unit) / 1000) as u64
    }

    pub fn parse(s: &str) -> Result<Duration, String> {
        let t = s.trim();
        let expected = "expected a duration such as 500ms, 2s, 1msl or 0.5tw";
        if t.starts_with('-') {
            return Err(format!(
                "negative duration {s:?}: durations cannot be negative"
            ));
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("duration {s:?} has no unit, {expected}"))?;
        let (num, unit) = t.split_at(split);
        let unit = match unit.trim() {
            "ms" => Unit::Millis,
            "s" => Unit::Seconds,
            "msl" => Unit::Msl,
            "tw" => Unit::TimeWait,
            other => {
                // Units as people spell them elsewhere, to suggest ours.
                const SPELLINGS: [(&str, &str); 8] = [
                    ("sec", "s"),
                    ("secs", "s"),
                    ("second", "s"),
                    ("seconds", "s"),
                    ("msec", "ms"),
                    ("msecs", "ms"),
                    ("millis", "ms"),
                    ("milliseconds", "ms"),
                ];
                let lower = other.to_ascii_lowercase();
                let meant = SPELLINGS
                    .iter()
                    .find(|(w, _)| *w == lower)
                    .map(|(_, u)| *u)
                    // `1MSL`: ours in the wrong case. Units are too short
                    // for edit distances (`h` is one edit from `s`).
                    .or_else(|| ["ms", "s", "msl", "tw"].into_iter().find(|u| *u == lower));
                return Err(match meant {
                    Some(u) => format!(
                        "unknown unit {other:?} in {s:?}, {expected}; did you mean `{}{u}`?",
                        num.trim()
                    ),
                    None => format!("unknown unit {other:?} in {s:?}, {expected}"),
                });
            }
        };
        let (whole, frac) = match num.split_once('.') {
            Some((w, f)) => (w, f),
            None => (num, ""),
        };
        if whole.is_empty() || frac.len() > 3 || frac.contains('.') {
            return Err(format!(
                "bad number in {s:?}, {expected} (at most 3 decimals)"
            ));
        }
        let whole: u64 = whole
            .parse()
            .map_err(|_| format!("bad number in {s:?}, {expected}"))?;
        let mut frac_milli = 0u64;
        for (i, c) in frac.chars().enumerate() {
            frac_milli += u64::from(c.to_digit(10).unwrap_or(0)) * [100, 10, 1][i];
        }
        let milli_units = whole
            .checked_mul(1000)
            .and_then(|w| w.checked_add(frac_milli))
            .ok_or_else(|| format!("duration {s:?} is too long"))?;
        let d = Duration { milli_units, unit };
        // Bound the value in its own unit; MSL and TIME-WAIT are bounded too.
        if d.to_ms(MAX_DURATION_MS, MAX_DURATION_MS) > MAX_DURATION_MS * 1000 {
            return Err(format!("duration {s:?} is too long (more than a day)"));
        }
        Ok(d)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.milli_units / 1000;
        let frac = self.milli_units % 1000;
        if frac == 0 {
            write!(f, "{whole}{}", self.unit.suffix())
        } else {
            let digits = format!("{frac:03}");
            write!(
                f,
                "{whole}.{}{}",
                digits.trim_end_matches('0'),
                self.unit.suffix()
            )
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 500ms, 2s, 1msl or 0.5tw")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit, expected a duration such as {v}s or {v}ms"
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit and durations cannot be negative, expected a duration such as 2s"
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit, expected a duration such as {v}s"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]{1,3})?(ms|s|msl|tw)$",
            "description": "A duration with a unit: ms, s, msl (the spec's MSL) or tw (the spec's TIME-WAIT), e.g. 500ms, 2s, 1msl, 0.5tw",
            "examples": ["200ms", "1s", "1msl", "1tw"]
        })
    }
}

/// A sequence or acknowledgment number: an integer relative to the ISN of
/// the side that owns the sequence space (packetdrill's default), or
/// `{abs: N}` for a raw 32-bit value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeqValue {
    Rel(i64),
    Abs(u32),
}

/// Relative numbers stay well inside half the sequence space, so that their
/// order is unambiguous (RFC 9293 section 3.4).
pub const MAX_RELATIVE: i64 = 1 << 30;

impl SeqValue {
    /// `v` as the spec writes it: relative to `base` when the origin is
    /// known (the SUT's ISN is not, before its SYN), else absolute.
    pub fn relative(v: u32, base: Option<u32>) -> SeqValue {
        match base {
            Some(b) => SeqValue::Rel(i64::from(v.wrapping_sub(b) as i32)),
            None => SeqValue::Abs(v),
        }
    }

    /// `v` for a log line: relative to `base` when a spec could write it
    /// so (within [`MAX_RELATIVE`]), else absolute. A segment from another
    /// connection or a forged one is then `{abs: 3818015709}`, not a
    /// relative `-476951587` that means nothing to the reader.
    pub fn readable(v: u32, base: Option<u32>) -> SeqValue {
        match SeqValue::relative(v, base) {
            SeqValue::Rel(r) if r.abs() > MAX_RELATIVE => SeqValue::Abs(v),
            other => other,
        }
    }

    /// The 32-bit number, a relative one counting from `base`.
    pub fn resolve(self, base: u32) -> u32 {
        match self {
            SeqValue::Rel(r) => base.wrapping_add(r as i32 as u32),
            SeqValue::Abs(a) => a,
        }
    }
}

impl fmt::Display for SeqValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqValue::Rel(v) => write!(f, "{v}"),
            SeqValue::Abs(v) => write!(f, "{{abs: {v}}}"),
        }
    }
}

impl<'de> Deserialize<'de> for SeqValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SeqValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer relative to the ISN, or {abs: N} for an absolute number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SeqValue, E> {
                if v.abs() > MAX_RELATIVE {
                    return Err(E::custom(format!(
                        "relative number {v} is too far from the ISN (at most {MAX_RELATIVE} either way); use {{abs: N}} for an absolute number"
                    )));
                }
                Ok(SeqValue::Rel(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SeqValue, E> {
                let v = i64::try_from(v).unwrap_or(i64::MAX);
                self.visit_i64(v)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SeqValue, A::Error> {
                let mut abs = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "abs" {
                        return Err(de::Error::custom(format!(
                            "unknown key {key:?}, expected `abs` as in {{abs: 305419896}}"
                        )));
                    }
                    if abs.is_some() {
                        return Err(de::Error::custom("duplicate key `abs`"));
                    }
                    abs = Some(map.next_value::<u32>()?);
                }
                abs.map(SeqValue::Abs)
                    .ok_or_else(|| de::Error::custom("expected {abs: N} with N a 32-bit number"))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for SeqValue {
    fn schema_name() -> Cow<'static, str> {
        "SeqValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A sequence number relative to the owning side's ISN in this incarnation, or {abs: N} for an absolute 32-bit number",
            "oneOf": [
                {"type": "integer", "minimum": -MAX_RELATIVE, "maximum": MAX_RELATIVE},
                {
                    "type": "object",
                    "properties": {"abs": {"type": "integer", "minimum": 0, "maximum": u32::MAX}},
                    "required": ["abs"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// The SUT's ISN in a new incarnation, in the numbers of the one before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SutIsn {
    /// The old incarnation's SND.NXT (one past the last sequence number the
    /// SUT sent in it) plus this much: RFC 1122 4.2.2.13 has a SYN reopen
    /// TIME-WAIT only above every old number, and Linux takes old SND.NXT
    /// + 65535 + 2 (`tcp_timewait_state_process()`), written 65537.
    SndNxt(i64),
    /// Relative to the old incarnation's SUT ISN, or absolute.
    Seq(SeqValue),
}

/// Why a [`SutIsn`] has no value in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SutIsnUnknown {
    #[error("the SUT sent nothing in the previous incarnation, so its SND.NXT is unknown")]
    NoSndNxt,
    #[error("the SUT sent no SYN in the previous incarnation, so its ISN is unknown")]
    NoIsn,
}

impl SutIsn {
    /// The ISN, given the previous incarnation's SUT ISN and SND.NXT.
    pub fn resolve(self, isn: Option<u32>, snd_nxt: Option<u32>) -> Result<u32, SutIsnUnknown> {
        match self {
            SutIsn::SndNxt(d) => snd_nxt
                .map(|n| n.wrapping_add(d as i32 as u32))
                .ok_or(SutIsnUnknown::NoSndNxt),
            SutIsn::Seq(v @ SeqValue::Abs(_)) => Ok(v.resolve(0)),
            SutIsn::Seq(v) => isn.map(|b| v.resolve(b)).ok_or(SutIsnUnknown::NoIsn),
        }
    }
}

impl fmt::Display for SutIsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SutIsn::SndNxt(d) => write!(f, "{{snd-nxt: {d}}}"),
            SutIsn::Seq(v) => v.fmt(f),
        }
    }
}

impl<'de> Deserialize<'de> for SutIsn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SutIsn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "{snd-nxt: N} (the old SND.NXT plus N), an integer relative to the old SUT ISN, or {abs: N}",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SutIsn, E> {
                SeqValue::deserialize(de::value::I64Deserializer::<E>::new(v)).map(SutIsn::Seq)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SutIsn, E> {
                SeqValue::deserialize(de::value::U64Deserializer::<E>::new(v)).map(SutIsn::Seq)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SutIsn, A::Error> {
                let mut got = None;
                while let Some(key) = map.next_key::<String>()? {
                    if got.is_some() {
                        return Err(de::Error::custom(
                            "give one of `snd-nxt` and `abs`, not both or one twice",
                        ));
                    }
                    got = Some(match key.as_str() {
                        "snd-nxt" => {
                            let v = map.next_value::<i64>()?;
                            if v.abs() > MAX_RELATIVE {
                                return Err(de::Error::custom(format!(
                                    "snd-nxt offset {v} is too far (at most {MAX_RELATIVE} either way)"
                                )));
                            }
                            SutIsn::SndNxt(v)
                        }
                        "abs" => SutIsn::Seq(SeqValue::Abs(map.next_value::<u32>()?)),
                        // serde's own error, which the YAML reader places
                        // at the key, as the shape pass does.
                        other => return Err(de::Error::unknown_field(other, &["snd-nxt", "abs"])),
                    });
                }
                got.ok_or_else(|| de::Error::custom("expected {snd-nxt: N} or {abs: N}"))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for SutIsn {
    fn schema_name() -> Cow<'static, str> {
        "SutIsn".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The SUT's ISN in a new incarnation: {snd-nxt: N} for the old incarnation's SND.NXT plus N (Linux: 65537), an integer relative to the old SUT ISN, or {abs: N}",
            "oneOf": [
                {"type": "integer", "minimum": -MAX_RELATIVE, "maximum": MAX_RELATIVE},
                {
                    "type": "object",
                    "properties": {"snd-nxt": {"type": "integer", "minimum": -MAX_RELATIVE, "maximum": MAX_RELATIVE}},
                    "required": ["snd-nxt"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "properties": {"abs": {"type": "integer", "minimum": 0, "maximum": u32::MAX}},
                    "required": ["abs"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_in_any_order_and_print_canonically() {
        assert_eq!(Flags::parse("AS").map(|f| f.to_string()), Ok("SA".into()));
        assert_eq!(Flags::parse("FA").map(|f| f.to_string()), Ok("FA".into()));
        assert!(Flags::parse("FNI")
            .unwrap_err()
            .contains("unknown flag 'N'"));
        assert!(Flags::parse("AA").unwrap_err().contains("twice"));
        assert!(Flags::parse("").is_err());
    }

    #[test]
    fn flag_names_lower_case_and_tcpdump_dots_get_their_letters_suggested() {
        for (written, meant) in [
            ("SYN", "S"),
            ("syn-ack", "SA"),
            ("FIN|ACK", "FA"),
            ("S.", "SA"),
            ("sa", "SA"),
            ("RESET", "R"),
            ("AA", "A"),
        ] {
            let e = Flags::parse(written).expect_err(written);
            assert!(
                e.ends_with(&format!("; did you mean `{meant}`?")),
                "{written}: {e}"
            );
        }
        // Nothing is suggested where no reading makes sense.
        let e = Flags::parse("FNI").expect_err("N is no flag");
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn a_number_far_from_its_isn_reads_as_absolute_in_logs() {
        let isn = 1_000_000u32;
        assert_eq!(SeqValue::readable(isn + 2, Some(isn)).to_string(), "2");
        assert_eq!(SeqValue::readable(isn - 5, Some(isn)).to_string(), "-5");
        let far = isn.wrapping_sub(476_951_587) ^ 0x8000_0000;
        assert_eq!(
            SeqValue::readable(far, Some(isn)).to_string(),
            format!("{{abs: {far}}}")
        );
        assert_eq!(SeqValue::readable(7, None).to_string(), "{abs: 7}");
    }

    #[test]
    fn durations_parse_every_unit_and_print_back() {
        for s in ["500ms", "2s", "1.5msl", "0.25tw", "60s", "0.001s"] {
            assert_eq!(Duration::parse(s).map(|d| d.to_string()), Ok(s.to_string()));
        }
        assert_eq!(
            Duration::parse("1.5msl").map(|d| d.to_ms(30_000, 60_000)),
            Ok(45_000)
        );
        assert_eq!(
            Duration::parse("0.5tw").map(|d| d.to_ms(30_000, 60_000)),
            Ok(30_000)
        );
        assert!(Duration::parse("-1s").unwrap_err().contains("negative"));
        assert!(Duration::parse("5").unwrap_err().contains("no unit"));
        assert!(Duration::parse("5h").unwrap_err().contains("unknown unit"));
        assert!(
            Duration::parse("5h").unwrap_err().ends_with("0.5tw"),
            "no suggestion for h"
        );
        assert!(Duration::parse("5sec")
            .unwrap_err()
            .ends_with("did you mean `5s`?"));
        assert!(Duration::parse("200 millis")
            .unwrap_err()
            .ends_with("did you mean `200ms`?"));
        assert!(Duration::parse("1MSL")
            .unwrap_err()
            .ends_with("did you mean `1msl`?"));
        assert!(Duration::parse("1.2345s").is_err());
        assert!(Duration::parse("100000000s")
            .unwrap_err()
            .contains("too long"));
    }
}
