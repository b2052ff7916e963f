//! Writing specs back as YAML, in the same compact style people write them:
//! one line per step, flow mappings for segments. The generator writes its
//! specs with this, and the round-trip tests parse what it writes.

use crate::format::{App, Expect, Inject, Spec, Step, TcpOptions};
use std::fmt::Write;

/// The spec as YAML, starting with the schema modeline for editors.
pub fn to_yaml(spec: &Spec) -> String {
    let mut o = String::new();
    o.push_str("# yaml-language-server: $schema=../schema.json\n");
    let _ = writeln!(o, "name: {}", quote(&spec.name.value));
    o.push_str("description: ");
    text(&mut o, &spec.description);
    if !spec.tags.is_empty() {
        let tags: Vec<String> = spec.tags.iter().map(|t| quote(t)).collect();
        let _ = writeln!(o, "tags: [{}]", tags.join(", "));
    }
    let _ = writeln!(o, "role: {}", spec.role.value.name());
    let sysctls = spec.profile().sysctls();
    if spec.profile.is_some() {
        let parts: Vec<String> = sysctls.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(o, "profile: {{{}}}", parts.join(", "));
    }
    let _ = writeln!(o, "msl: {}", spec.msl.value);
    if let Some(tw) = &spec.time_wait {
        let _ = writeln!(o, "time-wait: {}", tw.value);
    }
    if let Some(t) = &spec.tolerance {
        let _ = writeln!(o, "tolerance: {}", t.value);
    }
    if let Some(isn) = spec.peer_isn {
        let _ = writeln!(o, "peer-isn: {isn}");
    }
    let m = &spec.model.value;
    o.push_str(if m.pass.is_empty() && m.fail.is_empty() {
        "model: {}\n"
    } else {
        "model:\n"
    });
    for (key, list) in [
        ("pass", &spec.model.value.pass),
        ("fail", &spec.model.value.fail),
    ] {
        if !list.is_empty() {
            let names: Vec<&str> = list.iter().map(|v| v.value.0.name()).collect();
            let _ = writeln!(o, "  {key}: [{}]", names.join(", "));
        }
    }
    o.push_str(if spec.steps.is_empty() {
        "steps: []\n"
    } else {
        "steps:\n"
    });
    for s in &spec.steps {
        let _ = writeln!(o, "  - {}", step(&s.value));
    }
    o
}

/// One step as a single line, e.g. `inject: {flags: FA, seq: 1, ack: 2}`.
pub fn step(s: &Step) -> String {
    match s {
        Step::App(a) => format!("app: {}", app(*a)),
        Step::AppRefused(a) => format!("app-refused: {}", app(*a)),
        Step::Inject(i) => format!("inject: {}", inject(i)),
        Step::Expect(e) => format!("expect: {}", expect(e)),
        Step::ExpectNone(e) => match e.flags {
            Some(f) => format!("expect-none: {{for: {}, flags: {f}}}", e.duration),
            None => format!("expect-none: {{for: {}}}", e.duration),
        },
        Step::Wait(d) => format!("wait: {d}"),
        Step::ExpectState(e) => {
            let mut f = vec![format!("state: {}", e.state.name())];
            if let Some(r) = e.remaining {
                f.push(format!("remaining: {{min: {}, max: {}}}", r.min, r.max));
            }
            if let Some(t) = e.tolerance {
                f.push(format!("tolerance: {t}"));
            }
            format!("expect-state: {{{}}}", f.join(", "))
        }
        Step::Incarnation(m) => match m.sut_isn {
            None => format!("incarnation: {{peer-isn: {}}}", m.peer_isn),
            Some(s) => format!("incarnation: {{peer-isn: {}, sut-isn: {s}}}", m.peer_isn),
        },
        Step::Note(t) => format!("note: {}", quote(t)),
    }
}

fn app(a: App) -> String {
    match a {
        App::Listen => "listen".into(),
        App::ListenPersistent => "listen-persistent".into(),
        App::Accept => "accept".into(),
        App::CloseListener => "close-listener".into(),
        App::Connect => "connect".into(),
        App::Send(n) => format!("{{send: {n}}}"),
        App::Shutdown => "shutdown".into(),
        App::Close => "close".into(),
        App::Abort => "abort".into(),
    }
}

fn inject(i: &Inject) -> String {
    let mut f = vec![format!("flags: {}", i.flags), format!("seq: {}", i.seq)];
    if let Some(a) = i.ack {
        f.push(format!("ack: {a}"));
    }
    if i.len > 0 {
        f.push(format!("len: {}", i.len));
    }
    if let Some(w) = i.win {
        f.push(format!("win: {w}"));
    }
    if i.options != TcpOptions::default() {
        f.push(format!("options: {}", options(&i.options)));
    }
    if let Some(n) = i.incarnation {
        f.push(format!("incarnation: {n}"));
    }
    format!("{{{}}}", f.join(", "))
}

fn expect(e: &Expect) -> String {
    let mut f = vec![format!("flags: {}", e.flags)];
    if let Some(v) = e.seq {
        f.push(format!("seq: {v}"));
    }
    if let Some(v) = e.ack {
        f.push(format!("ack: {v}"));
    }
    if let Some(v) = e.len {
        f.push(format!("len: {v}"));
    }
    if let Some(v) = e.win {
        f.push(format!("win: {v}"));
    }
    if let Some(o) = &e.options {
        f.push(format!("options: {}", expect_options(o)));
    }
    if let Some(n) = e.incarnation {
        f.push(format!("incarnation: {n}"));
    }
    if let Some(d) = e.after {
        f.push(format!("after: {d}"));
    }
    if let Some(d) = e.within {
        f.push(format!("within: {d}"));
    }
    if let Some(d) = e.tolerance {
        f.push(format!("tolerance: {d}"));
    }
    format!("{{{}}}", f.join(", "))
}

/// An `expect`'s options as YAML flow: `{mss: 1460, ts: absent, exact: true}`.
fn expect_options(o: &crate::options::ExpectOptions) -> String {
    use crate::options::Want;
    fn one<T>(f: &mut Vec<String>, name: &str, w: Option<Want<T>>, show: impl Fn(T) -> String) {
        match w {
            None => {}
            Some(Want::Absent) => f.push(format!("{name}: absent")),
            Some(Want::Present) => f.push(format!("{name}: present")),
            Some(Want::Is(v)) => f.push(format!("{name}: {}", show(v))),
        }
    }
    let mut f = Vec::new();
    one(&mut f, "mss", o.mss, |v| v.to_string());
    one(&mut f, "wscale", o.wscale, |v| v.to_string());
    one(&mut f, "sack-ok", o.sack_ok, |_| "present".into());
    one(&mut f, "ts", o.ts, |t| format!("{{ecr: {}}}", t.ecr));
    if o.exact {
        f.push("exact: true".into());
    }
    format!("{{{}}}", f.join(", "))
}

fn options(o: &TcpOptions) -> String {
    let mut f = Vec::new();
    if let Some(v) = o.mss {
        f.push(format!("mss: {v}"));
    }
    if let Some(v) = o.wscale {
        f.push(format!("wscale: {v}"));
    }
    if o.sack_ok {
        f.push("sack-ok: true".to_string());
    }
    if let Some(t) = o.ts {
        f.push(format!("ts: {{val: {}, ecr: {}}}", t.val, t.ecr));
    }
    format!("{{{}}}", f.join(", "))
}

/// A string as a YAML scalar: plain when that reads back unchanged, else
/// double-quoted (YAML's double-quoted style accepts JSON's escapes).
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

/// Long text as a `|-` literal block when it reads back unchanged, else quoted.
fn text(o: &mut String, s: &str) {
    let block_safe = !s.is_empty()
        && !s.starts_with([' ', '\n'])
        && !s.ends_with('\n')
        && s.lines().all(|l| l == l.trim_end() && !l.starts_with(' '))
        && s.chars().all(|c| c == '\n' || !c.is_control());
    if block_safe {
        o.push_str("|-\n");
        for line in s.split('\n') {
            if line.is_empty() {
                o.push('\n');
            } else {
                let _ = writeln!(o, "  {line}");
            }
        }
    } else {
        let _ = writeln!(o, "{}", quote(s));
    }
}
