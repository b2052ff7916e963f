//! packetdrill's script syntax, the part a TCP test uses, read with winnow
//! into a small AST: one [`Item`] per line. The grammar follows
//! packetdrill's own (`gtests/net/packetdrill/lexer.l` and `parser.y`):
//! option lines (`--tolerance_usecs=10000`), an init command in backquotes,
//! and events made of a time (`0`, `+.1`, `1.5~2`, `+0~+.2`, `*`) and an
//! action: a TCP segment (`< S 0:0(0) win 65535 <mss 1460>`, `> . 1:1(0)
//! ack 1`), a system call (`close(4) = 0`), a shell command (`` `sysctl
//! ...` ``) or a code block (`%{ ... }%`). Everything is parsed here;
//! whether the importer can translate it is decided there, so that an
//! untranslatable construct gets a message that says why, not a syntax
//! error. Comments are blanked out first (keeping columns), except the
//! `// timewait:` hints the exporter writes.

use winnow::ascii::{digit1, hex_digit1, space0, space1};
use winnow::combinator::{alt, cut_err, delimited, fail, opt, preceded, separated};
use winnow::error::{ContextError, ErrMode, StrContext, StrContextValue};
use winnow::token::{take_till, take_while};
use winnow::Parser;

type PResult<T> = winnow::ModalResult<T>;
type Err = ErrMode<ContextError>;

/// When an event happens, in microseconds of script time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    /// `+t`: after the previous event.
    Rel(u64),
    /// `t`: since the start of the script.
    Abs(u64),
    /// `t1~t2`.
    AbsRange(u64, u64),
    /// `+t1~+t2`.
    RelRange(u64, u64),
    /// `*`: any time.
    Any,
}

/// Direction of a segment: `<` into the stack under test, `>` out of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    In,
    Out,
}

/// One TCP option as written between `<` and `>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opt {
    Nop,
    Eol,
    Mss(u64),
    Wscale(u64),
    SackOk,
    Ts {
        val: u64,
        ecr: u64,
    },
    /// Anything else (`sack 1:2`, `md5 ...`, `FO ...`), kept as text.
    Other(String),
}

/// A TCP segment line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Byte offset of the direction character in its line; the other
    /// offsets below count from it.
    pub base: usize,
    pub dir: Dir,
    /// Something between the direction and the flags (IP or port info,
    /// encapsulation), which the importer cannot translate; with its column.
    pub prefix: Option<(usize, String)>,
    /// The flag characters as written (`S.`, `F.`, `.`, `R`, `-`).
    pub flags: String,
    pub flags_col: usize,
    pub seq: u64,
    pub end: u64,
    pub len: u64,
    pub ack: Option<u64>,
    pub win: Option<u64>,
    pub urg: Option<u64>,
    /// `None` for `<...>` (options not checked), else the list (empty when
    /// the line has none), with the column of the list.
    pub options: Option<Vec<Opt>>,
    pub options_col: usize,
}

/// An expression in a system call's arguments or result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Ellipsis,
    Int(i64),
    Word(String),
    Str(String),
    /// `[1]`
    Array(Vec<Expr>),
    /// `{onoff=1, linger=0}`
    Struct(Vec<(Option<String>, Expr)>),
    /// `O_RDWR|O_NONBLOCK`
    Or(Vec<Expr>),
}

/// A system call line: `name(args) = result [ERRNO (text)]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syscall {
    pub name: String,
    pub args: Vec<Expr>,
    pub result: Expr,
    pub errno: Option<String>,
    /// `...t`: the call blocks until t.
    pub blocks_until: Option<u64>,
}

/// What an event does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Packet(Packet),
    Syscall(Syscall),
    /// A shell command in backquotes.
    Command(String),
    /// A `%{ ... }%` block of Python.
    Code,
}

/// One line of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// `--name=value` or `--name`.
    Option {
        name: String,
        value: Option<String>,
    },
    /// A backquoted command before the first event.
    InitCommand(String),
    Event {
        time: Time,
        action: Action,
    },
    /// `// timewait: YAML`, a step the exporter kept as a comment.
    Hint(String),
    /// `// timewait-spec: {...}`, the spec's header fields the exporter kept.
    Header(String),
}

/// An item with the 1-based line and column it starts at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub line: usize,
    pub column: usize,
    pub kind: ItemKind,
}

/// A line that does not parse: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The prefix of the comments the exporter writes for steps packetdrill
/// cannot run.
pub const HINT: &str = "// timewait:";
/// The prefix of the comment that keeps the spec's header.
pub const HEADER: &str = "// timewait-spec:";

/// Parses a whole script: every line that parses becomes an item, every
/// one that does not an error, so all of them are reported in one run.
pub fn script(text: &str) -> (Vec<Item>, Vec<SyntaxError>) {
    let (clean, mut hints) = blank_comments(text);
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let lines: Vec<&str> = clean.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let lineno = i + 1;
        i += 1;
        if let Some((col, kind)) = hints.remove(&lineno) {
            items.push(Item {
                line: lineno,
                column: col,
                kind,
            });
        }
        let trimmed = raw.trim_start();
        if trimmed.trim().is_empty() {
            continue;
        }
        let column = raw.chars().count() - trimmed.chars().count() + 1;
        // A `%{ ... }%` block may span lines; it is one item.
        if let Some(start) = raw.find("%{") {
            let mut closed = raw[start..].contains("}%");
            while !closed && i < lines.len() {
                closed = lines[i].contains("}%");
                i += 1;
            }
            if !closed {
                errors.push(SyntaxError {
                    line: lineno,
                    column: char_col(raw, start),
                    message: "`%{` code block without its closing `}%`".into(),
                });
                continue;
            }
            match time_prefix(raw) {
                Ok(time) => items.push(Item {
                    line: lineno,
                    column,
                    kind: ItemKind::Event {
                        time,
                        action: Action::Code,
                    },
                }),
                Err(e) => errors.push(e.at(lineno, raw)),
            }
            continue;
        }
        match line(raw) {
            Ok(mut kind) => {
                if let ItemKind::Event {
                    action: Action::Packet(p),
                    ..
                } = &mut kind
                {
                    // The time holds no `<` or `>`: the first is the direction.
                    p.base = raw.find(['<', '>']).unwrap_or(0);
                }
                items.push(Item {
                    line: lineno,
                    column,
                    kind,
                })
            }
            Err(e) => errors.push(e.at(lineno, raw)),
        }
    }
    (items, errors)
}

/// The 1-based column of byte offset `at` in `s`.
fn char_col(s: &str, at: usize) -> usize {
    s.get(..at).map_or(1, |p| p.chars().count() + 1)
}

/// An error inside one line: byte offset and message.
struct LineError {
    offset: usize,
    message: String,
}

impl LineError {
    fn at(self, line: usize, raw: &str) -> SyntaxError {
        SyntaxError {
            line,
            column: char_col(raw, self.offset.min(raw.len())),
            message: self.message,
        }
    }
}

/// Comments replaced by spaces (newlines kept, so lines and columns stay),
/// and the `// timewait:` hints by line, with their column.
fn blank_comments(text: &str) -> (String, std::collections::HashMap<usize, (usize, ItemKind)>) {
    let mut out = String::with_capacity(text.len());
    let mut hints = std::collections::HashMap::new();
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut line, mut col) = (0, 1, 1);
    let mut in_backquote = false;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if !in_backquote && !in_string && c == '/' && next == Some('/') {
            let rest: String = chars[i..].iter().take_while(|&&c| c != '\n').collect();
            if let Some(yaml) = rest.strip_prefix(HINT) {
                hints.insert(line, (col, ItemKind::Hint(yaml.trim().to_string())));
            } else if let Some(yaml) = rest.strip_prefix(HEADER) {
                hints.insert(line, (col, ItemKind::Header(yaml.trim().to_string())));
            }
            for _ in rest.chars() {
                out.push(' ');
            }
            i += rest.chars().count();
            col += rest.chars().count();
            continue;
        }
        if !in_backquote && !in_string && c == '/' && next == Some('*') {
            out.push_str("  ");
            i += 2;
            col += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                if chars[i] == '\n' {
                    out.push('\n');
                    line += 1;
                    col = 1;
                } else {
                    out.push(' ');
                    col += 1;
                }
                i += 1;
            }
            if i < chars.len() {
                out.push_str("  ");
                i += 2;
                col += 2;
            }
            continue;
        }
        match c {
            '`' if !in_string => in_backquote = !in_backquote,
            '"' if !in_backquote => in_string = !in_string,
            '\n' => {
                // Neither a command nor a string spans lines in a TCP test.
                in_backquote = false;
                in_string = false;
            }
            _ => {}
        }
        out.push(c);
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
        i += 1;
    }
    (out, hints)
}

fn expected(what: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(what))
}

/// Runs `p` over the whole line; an error carries the offset where it
/// stopped and what was expected there.
fn whole<'s, O>(raw: &'s str, mut p: impl Parser<&'s str, O, Err>) -> Result<O, LineError> {
    let mut input = raw;
    let out = p.parse_next(&mut input);
    let offset = raw.len() - input.len();
    match out {
        Ok(o) => {
            let rest = input.trim();
            if rest.is_empty() {
                Ok(o)
            } else {
                Err(LineError {
                    offset: offset + (input.len() - input.trim_start().len()),
                    message: format!("unexpected `{}` at the end of the line", rest),
                })
            }
        }
        Err(e) => Err(LineError {
            offset,
            message: describe(&e.into_inner().unwrap_or_default(), input),
        }),
    }
}

fn describe(e: &ContextError, rest: &str) -> String {
    let found = rest
        .split_whitespace()
        .next()
        .unwrap_or("the end of the line");
    // The innermost expectation is the precise one.
    let wanted: Vec<String> = e
        .context()
        .filter_map(|c| match c {
            StrContext::Expected(v) => Some(v.to_string()),
            _ => None,
        })
        .take(1)
        .collect();
    let label = e.context().find_map(|c| match c {
        StrContext::Label(l) => Some(*l),
        _ => None,
    });
    let mut m = match label {
        Some(l) => format!("bad {l}"),
        None => "syntax error".to_string(),
    };
    if !wanted.is_empty() {
        m.push_str(&format!(": expected {}", wanted.join(" or ")));
    }
    m.push_str(&format!(", found `{found}`"));
    m
}

fn time_prefix(raw: &str) -> Result<Time, LineError> {
    let mut input = raw;
    let _ = space0::<_, Err>.parse_next(&mut input);
    let out = time.parse_next(&mut input);
    out.map_err(|e| LineError {
        offset: raw.len() - input.len(),
        message: describe(&e.into_inner().unwrap_or_default(), input),
    })
}

fn line(raw: &str) -> Result<ItemKind, LineError> {
    let t = raw.trim_start();
    if t.starts_with("--") {
        return whole(raw, preceded(space0, option));
    }
    if t.starts_with('`') {
        return whole(raw, preceded(space0, backquoted).map(ItemKind::InitCommand));
    }
    whole(
        raw,
        (preceded(space0, time), preceded(space1, action))
            .map(|(time, action)| ItemKind::Event { time, action }),
    )
}

fn option(i: &mut &str) -> PResult<ItemKind> {
    let name = preceded(
        "--",
        take_while(1.., |c: char| c.is_ascii_alphanumeric() || c == '_'),
    )
    .context(StrContext::Label("option"))
    .parse_next(i)?;
    let value = opt(preceded('=', take_till(0.., |c: char| c.is_whitespace()))).parse_next(i)?;
    Ok(ItemKind::Option {
        name: name.to_string(),
        value: value.map(str::to_string),
    })
}

fn backquoted(i: &mut &str) -> PResult<String> {
    delimited(
        '`',
        take_till(0.., '`'),
        cut_err('`').context(expected("closing `")),
    )
    .map(str::to_string)
    .parse_next(i)
}

/// Seconds as packetdrill writes them (`1`, `.25`, `0.100`), in microseconds.
fn seconds(i: &mut &str) -> PResult<u64> {
    let whole_part = opt(digit1).parse_next(i)?;
    let frac = opt(preceded('.', digit1)).parse_next(i)?;
    if whole_part.is_none() && frac.is_none() {
        return fail.context(expected("a time in seconds")).parse_next(i);
    }
    let w: u64 = whole_part
        .unwrap_or("0")
        .parse()
        .unwrap_or(u64::MAX / 2_000_000);
    let f = frac.unwrap_or("");
    let mut us = 0u64;
    for (k, c) in f.chars().take(6).enumerate() {
        us += u64::from(c.to_digit(10).unwrap_or(0)) * 10u64.pow(5 - k as u32);
    }
    Ok(w.saturating_mul(1_000_000).saturating_add(us))
}

fn time(i: &mut &str) -> PResult<Time> {
    alt((
        '*'.value(Time::Any),
        (preceded('+', seconds), opt(preceded(("~", "+"), seconds))).map(|(a, b)| match b {
            Some(b) => Time::RelRange(a, b),
            None => Time::Rel(a),
        }),
        (seconds, opt(preceded('~', seconds))).map(|(a, b)| match b {
            Some(b) => Time::AbsRange(a, b),
            None => Time::Abs(a),
        }),
    ))
    .context(StrContext::Label("time"))
    .context(expected("a time such as 0, +.1, +1~+2 or *"))
    .parse_next(i)
}

fn action(i: &mut &str) -> PResult<Action> {
    alt((
        packet.map(Action::Packet),
        backquoted.map(Action::Command),
        syscall.map(Action::Syscall),
    ))
    .context(expected(
        "a segment (`<` or `>`), a system call or a `command`",
    ))
    .parse_next(i)
}

fn uint(i: &mut &str) -> PResult<u64> {
    digit1
        .try_map(|d: &str| d.parse::<u64>())
        .context(expected("a number"))
        .parse_next(i)
}

fn packet(i: &mut &str) -> PResult<Packet> {
    let start = *i;
    let dir = alt(('<'.value(Dir::In), '>'.value(Dir::Out))).parse_next(i)?;
    let _ = space1.parse_next(i)?;
    // Whatever precedes the flags (IP info, ports, encapsulation) is kept
    // as text for a clear refusal: the flags are the first word followed
    // by a sequence number `N:N(N)`.
    let before = *i;
    let starts_segment = |at: &str| {
        let mut probe = at;
        (flag_word, space1::<_, Err>, seq_range)
            .parse_next(&mut probe)
            .is_ok()
    };
    let mut prefix = None;
    if !starts_segment(before) {
        let mut scan = before;
        loop {
            let token = take_till::<_, _, Err>(0.., |c: char| c.is_whitespace())
                .parse_next(&mut scan)
                .unwrap_or("");
            let _ = space0::<_, Err>.parse_next(&mut scan);
            if token.is_empty() || scan.is_empty() {
                break;
            }
            if starts_segment(scan) {
                let text = before[..before.len() - scan.len()].trim().to_string();
                prefix = Some((start.len() - before.len(), text));
                *i = scan;
                break;
            }
        }
    }
    let flags_at = start.len() - i.len();
    let flags = flag_word
        .context(StrContext::Label("flags"))
        .context(expected("TCP flags such as S, S., ., F., P. or R"))
        .parse_next(i)?;
    let _ = space1.parse_next(i)?;
    let (seq, end, len) = cut_err(at_start(seq_range))
        .context(StrContext::Label("sequence numbers"))
        .context(expected("START:END(LENGTH) such as 1:1(0)"))
        .parse_next(i)?;
    let ack = opt(preceded((space1, "ack", space1), cut_err(uint))).parse_next(i)?;
    let win = opt(preceded((space1, "win", space1), cut_err(uint))).parse_next(i)?;
    let urg = opt(preceded((space1, "urg", space1), cut_err(uint))).parse_next(i)?;
    let _ = space0.parse_next(i)?;
    let options_col = start.len() - i.len();
    let options = if i.starts_with('<') {
        cut_err(options)
            .context(StrContext::Label("TCP options"))
            .parse_next(i)?
    } else {
        Some(Vec::new())
    };
    Ok(Packet {
        base: 0,
        dir,
        prefix,
        flags: flags.to_string(),
        flags_col: flags_at,
        seq,
        end,
        len,
        ack,
        win,
        urg,
        options,
        options_col,
    })
}

/// A flags word: letters, digits and `.`, or `-` for none.
fn flag_word<'s>(i: &mut &'s str) -> PResult<&'s str> {
    alt((
        "-",
        take_while(1.., |c: char| c.is_ascii_alphanumeric() || c == '.'),
    ))
    .parse_next(i)
}

/// `p`, with the input put back where `p` started when it fails, so the
/// error points at the start of what could not be read.
fn at_start<'s, O>(mut p: impl Parser<&'s str, O, Err>) -> impl Parser<&'s str, O, Err> {
    move |i: &mut &'s str| {
        let start = *i;
        p.parse_next(i).inspect_err(|_| *i = start)
    }
}

fn seq_range(i: &mut &str) -> PResult<(u64, u64, u64)> {
    (uint, ':', uint, '(', uint, ')')
        .map(|(a, _, b, _, l, _)| (a, b, l))
        .parse_next(i)
}

fn options(i: &mut &str) -> PResult<Option<Vec<Opt>>> {
    alt((
        "<...>".value(None),
        delimited(
            ('<', space0),
            separated(0.., tcp_option, (space0, ',', space0)),
            (space0, cut_err('>').context(expected("`,` or `>`"))),
        )
        .map(Some),
    ))
    .parse_next(i)
}

fn tcp_option(i: &mut &str) -> PResult<Opt> {
    alt((
        "nop".value(Opt::Nop),
        "eol".value(Opt::Eol),
        "sackOK".value(Opt::SackOk),
        preceded(("mss", space1), uint).map(Opt::Mss),
        preceded(("wscale", space1), uint).map(Opt::Wscale),
        (
            preceded(("TS", space1, "val", space1), uint),
            preceded((space1, "ecr", space1), uint),
        )
            .map(|(val, ecr)| Opt::Ts { val, ecr }),
        take_till(1.., |c: char| c == ',' || c == '>')
            .map(|s: &str| Opt::Other(s.trim().to_string())),
    ))
    .context(expected(
        "a TCP option such as mss 1460, wscale 7, sackOK, TS val 1 ecr 0 or nop",
    ))
    .parse_next(i)
}

fn word<'s>(i: &mut &'s str) -> PResult<&'s str> {
    take_while(1.., |c: char| c.is_ascii_alphanumeric() || c == '_').parse_next(i)
}

fn syscall(i: &mut &str) -> PResult<Syscall> {
    let blocks_until = opt(preceded("...", seconds)).parse_next(i)?;
    if blocks_until.is_some() {
        let _ = space1.parse_next(i)?;
    }
    let name = word.parse_next(i)?;
    let _ = space0.parse_next(i)?;
    let args = delimited(
        ('(', space0),
        separated(0.., expr, (space0, ',', space0)),
        (space0, cut_err(')').context(expected("`,` or `)`"))),
    )
    .context(StrContext::Label("system call"))
    .parse_next(i)?;
    let _ = (space0, cut_err('=').context(expected("`= RESULT`")), space0).parse_next(i)?;
    let result = cut_err(expr).context(expected("a result")).parse_next(i)?;
    let errno = opt(preceded(space1, word)).parse_next(i)?;
    // `(Operation now in progress)`: the errno's text, not checked.
    let _ = opt((space0, '(', take_till(0.., ')'), ')')).parse_next(i)?;
    Ok(Syscall {
        name: name.to_string(),
        args,
        result,
        errno: errno.map(str::to_string),
        blocks_until,
    })
}

fn expr(i: &mut &str) -> PResult<Expr> {
    let first = atom.parse_next(i)?;
    let mut rest: Vec<Expr> = Vec::new();
    while let Some(e) = opt(preceded((space0, '|', space0), atom)).parse_next(i)? {
        rest.push(e);
    }
    if rest.is_empty() {
        Ok(first)
    } else {
        rest.insert(0, first);
        Ok(Expr::Or(rest))
    }
}

fn atom(i: &mut &str) -> PResult<Expr> {
    alt((
        "...".value(Expr::Ellipsis),
        preceded("0x", hex_digit1)
            .try_map(|h: &str| i64::from_str_radix(h, 16))
            .map(Expr::Int),
        (opt('-'), digit1)
            .take()
            .try_map(|d: &str| d.parse::<i64>())
            .map(Expr::Int),
        word.map(|w: &str| Expr::Word(w.to_string())),
        delimited('"', take_till(0.., '"'), '"').map(|s: &str| Expr::Str(s.to_string())),
        delimited(
            ('[', space0),
            separated(0.., expr, (space0, ',', space0)),
            (space0, ']'),
        )
        .map(Expr::Array),
        delimited(
            ('{', space0),
            separated(0.., field, (space0, ',', space0)),
            (space0, '}'),
        )
        .map(Expr::Struct),
    ))
    .parse_next(i)
}

fn field(i: &mut &str) -> PResult<(Option<String>, Expr)> {
    alt((
        (word, space0, '=', space0, expr).map(|(k, _, _, _, v)| (Some(k.to_string()), v)),
        expr.map(|v| (None, v)),
    ))
    .parse_next(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> ItemKind {
        let (items, errors) = script(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(items.len(), 1, "{items:?}");
        items[0].kind.clone()
    }

    #[test]
    fn segments_read_as_packetdrill_writes_them() {
        let ItemKind::Event {
            time,
            action: Action::Packet(p),
        } = one("+.1 < S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 5 ecr 0>")
        else {
            panic!("not a packet")
        };
        assert_eq!(time, Time::Rel(100_000));
        assert_eq!(p.dir, Dir::In);
        assert_eq!(p.flags, "S");
        assert_eq!((p.seq, p.end, p.len, p.win), (0, 0, 0, Some(65535)));
        assert_eq!(
            p.options,
            Some(vec![
                Opt::Mss(1460),
                Opt::Nop,
                Opt::Wscale(7),
                Opt::SackOk,
                Opt::Ts { val: 5, ecr: 0 }
            ])
        );
        let ItemKind::Event {
            time,
            action: Action::Packet(p),
        } = one("1~2.5 > P. 1:1001(1000) ack 1 <...>")
        else {
            panic!("not a packet")
        };
        assert_eq!(time, Time::AbsRange(1_000_000, 2_500_000));
        assert_eq!(
            (p.flags.as_str(), p.len, p.ack, p.options),
            ("P.", 1000, Some(1), None)
        );
    }

    #[test]
    fn system_calls_keep_their_arguments_result_and_errno() {
        let ItemKind::Event {
            action: Action::Syscall(s),
            ..
        } = one("+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0")
        else {
            panic!("not a call")
        };
        assert_eq!(s.name, "setsockopt");
        assert_eq!(s.args.len(), 5);
        assert_eq!(
            s.args[3],
            Expr::Struct(vec![
                (Some("onoff".into()), Expr::Int(1)),
                (Some("linger".into()), Expr::Int(0))
            ])
        );
        let ItemKind::Event {
            action: Action::Syscall(s),
            ..
        } = one("0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)")
        else {
            panic!("not a call")
        };
        assert_eq!(
            (s.result, s.errno),
            (Expr::Int(-1), Some("EINPROGRESS".into()))
        );
    }

    #[test]
    fn comments_are_blanked_but_hints_are_kept_with_their_place() {
        let (items, errors) =
            script("/* a\n b */ 0 close(4) = 0 // done\n  // timewait: wait: 1s\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].line, items[0].column), (2, 7));
        assert_eq!(items[1].kind, ItemKind::Hint("wait: 1s".into()));
        assert_eq!((items[1].line, items[1].column), (3, 3));
    }

    #[test]
    fn every_bad_line_is_reported_with_its_column() {
        let (_, errors) = script("+0 < S 0:0 win 1\n+x close(3) = 0\n+0 > . 1:1(0) ack\n");
        let at: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(at, vec![(1, 8), (2, 1), (3, 15)], "{errors:?}");
    }
}
