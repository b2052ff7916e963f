//! One sequence-diagram builder for every exchange timewait shows people:
//! model counterexamples (reports/model.md), the Explorer's path
//! (`Model::as_svg`), and conformance failures and findings. An exchange is
//! lifelines (the endpoints, the network, the SUT and its peer) and rows:
//! messages between two lifelines and notes over one or more of them, each
//! plain, lost, failed (the step where a run departed) or expected (what
//! should have happened instead). It renders two ways: Mermaid
//! `sequenceDiagram` text for Markdown, which GitHub draws, and a standalone
//! SVG written with the `svg` crate (which escapes every text node and
//! attribute), so the same picture opens in a browser or an image viewer.
//!
//! It lives in the model crate because that is the one crate the Explorer
//! (here), the specs, conformance and the binary all reach; it knows nothing
//! of TCP.

use svg::node::element::{Definitions, Element, Group, Line, Marker, Polygon, Rectangle};
use svg::{Document, Node};

/// How a row is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Plain,
    /// A segment the network lost: dashed, ending in a cross.
    Lost,
    /// The step where the run departed (red), or the conclusion of a
    /// counterexample.
    Failed,
    /// What should have happened at the failing step (dashed, grey).
    Expected,
}

/// One row of a diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Row {
    Message {
        from: usize,
        to: usize,
        text: String,
        mark: Mark,
    },
    /// A note over the lifelines `from..=to` (in either order).
    Note {
        from: usize,
        to: usize,
        text: String,
        mark: Mark,
    },
}

/// A sequence diagram being built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagram {
    pub title: String,
    pub lifelines: Vec<String>,
    pub rows: Vec<Row>,
}

// Layout of the SVG, in pixels: a monospace font of 12 px is about 7.2 px a
// character; a generous estimate keeps text inside its box in every font.
const CHAR_W: f64 = 7.4;
const LINE_H: f64 = 15.0;
const PAD: f64 = 8.0;
const MIN_GAP: f64 = 150.0;
const HEAD_H: f64 = 28.0;
const MARGIN: f64 = 16.0;

impl Diagram {
    pub fn new(title: impl Into<String>, lifelines: &[&str]) -> Diagram {
        Diagram {
            title: title.into(),
            lifelines: lifelines.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// A message from one lifeline to another; a message to itself is drawn
    /// as a note over it.
    pub fn message(&mut self, from: usize, to: usize, text: impl Into<String>, mark: Mark) {
        let text = text.into();
        self.rows.push(if from == to {
            Row::Note {
                from,
                to,
                text,
                mark,
            }
        } else {
            Row::Message {
                from,
                to,
                text,
                mark,
            }
        });
    }

    /// A note over the lifelines `from..=to`.
    pub fn note(&mut self, from: usize, to: usize, text: impl Into<String>, mark: Mark) {
        self.rows.push(Row::Note {
            from,
            to,
            text: text.into(),
            mark,
        });
    }

    /// A note over every lifeline.
    pub fn note_all(&mut self, text: impl Into<String>, mark: Mark) {
        let last = self.lifelines.len().saturating_sub(1);
        self.note(0, last, text, mark);
    }

    /// Mermaid `sequenceDiagram` text (without the Markdown fence). Text
    /// that Mermaid would read as syntax (`;`, `#`, `<`, `>`) is written as
    /// Mermaid's entity codes, and line breaks as `<br/>`.
    pub fn to_mermaid(&self) -> String {
        let mut o = String::from("sequenceDiagram\n");
        for (i, l) in self.lifelines.iter().enumerate() {
            o.push_str(&format!("    participant L{i} as {}\n", mermaid_text(l)));
        }
        for row in &self.rows {
            let highlight = matches!(
                row,
                Row::Message {
                    mark: Mark::Failed,
                    ..
                }
            ) || matches!(
                row,
                Row::Note {
                    mark: Mark::Failed,
                    ..
                }
            );
            if highlight {
                o.push_str("    rect rgb(255, 222, 222)\n");
            }
            let ind = if highlight { "    " } else { "" };
            match row {
                Row::Message {
                    from,
                    to,
                    text,
                    mark,
                } => {
                    let arrow = match mark {
                        Mark::Plain => "->>",
                        Mark::Lost => "--x",
                        Mark::Failed => "-x",
                        Mark::Expected => "-->>",
                    };
                    o.push_str(&format!(
                        "    {ind}L{from}{arrow}L{to}: {}\n",
                        mermaid_text(text)
                    ));
                }
                Row::Note { from, to, text, .. } => {
                    let (a, b) = ((*from).min(*to), (*from).max(*to));
                    let over = if a == b {
                        format!("L{a}")
                    } else {
                        format!("L{a},L{b}")
                    };
                    o.push_str(&format!(
                        "    {ind}Note over {over}: {}\n",
                        mermaid_text(text)
                    ));
                }
            }
            if highlight {
                o.push_str("    end\n");
            }
        }
        o
    }

    /// A standalone SVG document (no XML prolog, so it can also be put
    /// inline in HTML, as the Explorer does).
    pub fn to_svg(&self) -> String {
        let n = self.lifelines.len().max(1);
        let width_of = |t: &str| {
            t.lines().map(|l| l.chars().count()).max().unwrap_or(0) as f64 * CHAR_W + 2.0 * PAD
        };
        // The gap between neighbouring lifelines fits every message and
        // note laid across it; a note over one lifeline needs half its
        // width on each side.
        let mut gaps = vec![MIN_GAP; n.saturating_sub(1)];
        let mut left = self.lifelines.first().map_or(0.0, |l| width_of(l) / 2.0);
        let mut right = self.lifelines.last().map_or(0.0, |l| width_of(l) / 2.0);
        for row in &self.rows {
            let (from, to, text) = match row {
                Row::Message { from, to, text, .. } | Row::Note { from, to, text, .. } => {
                    (*from, *to, text)
                }
            };
            let (a, b) = (from.min(to).min(n - 1), from.max(to).min(n - 1));
            let w = width_of(text);
            if a == b {
                let half = w / 2.0 + PAD;
                if a > 0 {
                    gaps[a - 1] = gaps[a - 1].max(half);
                } else {
                    left = left.max(half);
                }
                if a + 1 < n {
                    gaps[a] = gaps[a].max(half);
                } else {
                    right = right.max(half);
                }
            } else {
                let share = w / (b - a) as f64;
                for g in &mut gaps[a..b] {
                    *g = g.max(share + PAD);
                }
            }
        }
        let mut xs = vec![MARGIN + left];
        for g in &gaps {
            let last = *xs.last().unwrap_or(&0.0);
            xs.push(last + g);
        }
        let width = xs.last().copied().unwrap_or(0.0) + right + MARGIN;
        let title_h = if self.title.is_empty() { 0.0 } else { 24.0 };
        let top = MARGIN + title_h + HEAD_H + 10.0;
        let heights: Vec<f64> = self
            .rows
            .iter()
            .map(|r| match r {
                Row::Message { text, .. } => text.lines().count().max(1) as f64 * LINE_H + 14.0,
                Row::Note { text, .. } => text.lines().count().max(1) as f64 * LINE_H + 16.0,
            })
            .collect();
        let bottom = top + heights.iter().sum::<f64>() + 10.0;
        let height = bottom + HEAD_H + MARGIN;

        let mut doc = Document::new()
            .set("width", fmt(width))
            .set("height", fmt(height))
            .set("viewBox", format!("0 0 {} {}", fmt(width), fmt(height)))
            .set(
                "font-family",
                "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
            )
            .set("font-size", 12)
            .add(text_node("title", &self.title, &[]))
            .add(
                Definitions::new()
                    .add(arrow_marker("tw-arrow", "#222"))
                    .add(arrow_marker("tw-arrow-failed", "#c00"))
                    .add(arrow_marker("tw-arrow-expected", "#888")),
            )
            .add(
                Rectangle::new()
                    .set("width", "100%")
                    .set("height", "100%")
                    .set("fill", "#fff"),
            );
        if !self.title.is_empty() {
            doc = doc.add(text_node(
                "text",
                &self.title,
                &[
                    ("x", fmt(MARGIN)),
                    ("y", fmt(MARGIN + 12.0)),
                    ("font-weight", "bold".into()),
                    ("font-size", "14".into()),
                ],
            ));
        }
        for (i, name) in self.lifelines.iter().enumerate() {
            let x = xs[i];
            doc = doc.add(
                Line::new()
                    .set("x1", fmt(x))
                    .set("x2", fmt(x))
                    .set("y1", fmt(top - 10.0))
                    .set("y2", fmt(bottom))
                    .set("stroke", "#999")
                    .set("stroke-dasharray", "4 3"),
            );
            for y in [MARGIN + title_h, bottom] {
                doc = doc.add(head(x, y, name, width_of(name)));
            }
        }
        let mut y = top;
        for (row, h) in self.rows.iter().zip(&heights) {
            doc = doc.add(self.row_svg(row, &xs, y, *h));
            y += h;
        }
        doc.to_string() + "\n"
    }

    fn row_svg(&self, row: &Row, xs: &[f64], y: f64, h: f64) -> Group {
        let n = xs.len();
        match row {
            Row::Message {
                from,
                to,
                text,
                mark,
            } => {
                let (x1, x2) = (xs[(*from).min(n - 1)], xs[(*to).min(n - 1)]);
                let (colour, marker) = match mark {
                    Mark::Plain => ("#222", Some("tw-arrow")),
                    Mark::Lost => ("#666", None),
                    Mark::Failed => ("#c00", Some("tw-arrow-failed")),
                    Mark::Expected => ("#888", Some("tw-arrow-expected")),
                };
                let ay = y + h - 6.0;
                let mut line = Line::new()
                    .set("x1", fmt(x1))
                    .set("x2", fmt(x2))
                    .set("y1", fmt(ay))
                    .set("y2", fmt(ay))
                    .set("stroke", colour)
                    .set("stroke-width", if *mark == Mark::Failed { 2 } else { 1 });
                if matches!(mark, Mark::Lost | Mark::Expected) {
                    line = line.set("stroke-dasharray", "6 4");
                }
                if let Some(m) = marker {
                    line = line.set("marker-end", format!("url(#{m})"));
                }
                let mut g = Group::new().add(line);
                if *mark == Mark::Lost {
                    // A cross where the segment would have arrived.
                    for (dx, dy) in [(-5.0, -5.0), (-5.0, 5.0)] {
                        g = g.add(
                            Line::new()
                                .set("x1", fmt(x2 + dx))
                                .set("y1", fmt(ay + dy))
                                .set("x2", fmt(x2 - dx))
                                .set("y2", fmt(ay - dy))
                                .set("stroke", colour)
                                .set("stroke-width", 2),
                        );
                    }
                }
                let lines = text.lines().count().max(1) as f64;
                let cx = (x1 + x2) / 2.0;
                g.add(text_block(
                    text,
                    cx,
                    ay - 4.0 - (lines - 1.0) * LINE_H,
                    colour,
                    *mark == Mark::Failed,
                ))
            }
            Row::Note {
                from,
                to,
                text,
                mark,
            } => {
                let (a, b) = ((*from).min(*to).min(n - 1), (*from).max(*to).min(n - 1));
                let tw = text.lines().map(|l| l.chars().count()).max().unwrap_or(0) as f64 * CHAR_W
                    + 2.0 * PAD;
                let (mut x1, mut x2) = (xs[a], xs[b]);
                if x2 - x1 < tw {
                    let c = (x1 + x2) / 2.0;
                    x1 = c - tw / 2.0;
                    x2 = c + tw / 2.0;
                } else {
                    x1 -= PAD;
                    x2 += PAD;
                }
                let (fill, stroke) = match mark {
                    Mark::Plain => ("#fff8c5", "#d4c26a"),
                    Mark::Lost => ("#eeeeee", "#999"),
                    Mark::Failed => ("#ffdede", "#c00"),
                    Mark::Expected => ("#f4f4f4", "#888"),
                };
                let mut rect = Rectangle::new()
                    .set("x", fmt(x1))
                    .set("y", fmt(y + 4.0))
                    .set("width", fmt(x2 - x1))
                    .set("height", fmt(h - 8.0))
                    .set("rx", 3)
                    .set("fill", fill)
                    .set("stroke", stroke);
                if *mark == Mark::Expected {
                    rect = rect.set("stroke-dasharray", "6 4");
                }
                Group::new().add(rect).add(text_block(
                    text,
                    (x1 + x2) / 2.0,
                    y + 4.0 + PAD + 9.0,
                    if *mark == Mark::Failed {
                        "#900"
                    } else {
                        "#222"
                    },
                    *mark == Mark::Failed,
                ))
            }
        }
    }
}

fn fmt(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn arrow_marker(id: &str, colour: &str) -> Marker {
    Marker::new()
        .set("id", id)
        .set("markerWidth", 10)
        .set("markerHeight", 8)
        .set("refX", 10)
        .set("refY", 4)
        .set("orient", "auto")
        .add(
            Polygon::new()
                .set("points", "0 0, 10 4, 0 8")
                .set("fill", colour),
        )
}

/// A lifeline's name in a box.
fn head(x: f64, y: f64, name: &str, w: f64) -> Group {
    Group::new()
        .add(
            Rectangle::new()
                .set("x", fmt(x - w / 2.0))
                .set("y", fmt(y))
                .set("width", fmt(w))
                .set("height", fmt(HEAD_H - 6.0))
                .set("rx", 3)
                .set("fill", "#eaeefa")
                .set("stroke", "#6677aa"),
        )
        .add(text_node(
            "text",
            name,
            &[
                ("x", fmt(x)),
                ("y", fmt(y + 15.0)),
                ("text-anchor", "middle".into()),
                ("font-weight", "bold".into()),
            ],
        ))
}

/// An element holding `content` as its one text node. svg 0.18's own
/// `Text`, `TSpan` and `Title` put line breaks around their content, which
/// a renderer draws as spaces; a plain element with a text node does not.
/// The text node escapes `&`, `<` and `>`, and attributes are escaped too.
fn text_node(tag: &str, content: &str, attrs: &[(&str, String)]) -> Element {
    let mut e = Element::new(tag);
    for (k, v) in attrs {
        e.assign(*k, v.clone());
    }
    e.append(svg::node::Text::new(content));
    e
}

/// Centred lines of text, the first baseline at `y`.
fn text_block(text: &str, x: f64, y: f64, colour: &str, bold: bool) -> Element {
    let mut t = Element::new("text");
    t.assign("x", fmt(x));
    t.assign("y", fmt(y));
    t.assign("text-anchor", "middle");
    t.assign("fill", colour);
    if bold {
        t.assign("font-weight", "bold");
    }
    for (i, line) in text.lines().enumerate() {
        let mut attrs = vec![("x", fmt(x))];
        if i > 0 {
            attrs.push(("dy", fmt(LINE_H)));
        }
        t.append(text_node("tspan", line, &attrs));
    }
    t
}

/// `s` as Mermaid message or note text: its syntax characters and what
/// Mermaid would take for HTML as entity codes (`#59;` for `;`, `#lt;` for
/// `<`), line breaks as `<br/>`.
pub fn mermaid_text(s: &str) -> String {
    let mut o = String::new();
    for (i, line) in s.lines().enumerate() {
        if i > 0 {
            o.push_str("<br/>");
        }
        for c in line.chars() {
            match c {
                ';' => o.push_str("#59;"),
                '#' => o.push_str("#35;"),
                '<' => o.push_str("#lt;"),
                '>' => o.push_str("#gt;"),
                '&' => o.push_str("#amp;"),
                '\r' => {}
                c => o.push(c),
            }
        }
    }
    let o = o.trim().to_string();
    // An empty message text is a syntax error.
    if o.is_empty() {
        "-".to_string()
    } else {
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagram {
        let mut d = Diagram::new("a <title> & more", &["peer", "SUT"]);
        d.message(0, 1, "S seq=0", Mark::Plain);
        d.message(1, 0, "SA seq=0 ack=1", Mark::Plain);
        d.note(1, 1, "state TIME-WAIT", Mark::Plain);
        d.message(0, 1, "lost one", Mark::Lost);
        d.message(1, 0, "expected: A seq=2 ack=2", Mark::Expected);
        d.message(
            1,
            0,
            "got: R seq=2; \"quoted\" <b>&amp;</b> # x",
            Mark::Failed,
        );
        d.note_all("step 13 (expect) failed\nsecond line", Mark::Failed);
        d
    }

    #[test]
    fn svg_text_is_escaped_and_the_document_parses() {
        let svg = sample().to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        // The markup in the labels came through as text, not as elements.
        assert!(!doc.descendants().any(|n| n.tag_name().name() == "b"));
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(
            texts.contains(&"got: R seq=2; \"quoted\" <b>&amp;</b> # x"),
            "{texts:?}"
        );
        assert!(texts.contains(&"a <title> & more"));
        assert!(texts.contains(&"second line"));
    }

    #[test]
    fn mermaid_escapes_its_syntax_and_marks_the_failed_row() {
        let m = sample().to_mermaid();
        assert!(m.starts_with(
            "sequenceDiagram\n    participant L0 as peer\n    participant L1 as SUT\n"
        ));
        assert!(m.contains("    L0->>L1: S seq=0\n"));
        assert!(m.contains("    L0--xL1: lost one\n"));
        assert!(m.contains("    L1-->>L0: expected: A seq=2 ack=2\n"));
        assert!(m.contains(
            "    rect rgb(255, 222, 222)\n        L1-xL0: got: R seq=2#59; \"quoted\" #lt;b#gt;#amp;amp#59;#lt;/b#gt; #35; x\n    end\n"
        ), "{m}");
        assert!(m.contains("Note over L0,L1: step 13 (expect) failed<br/>second line"));
        // No line of the diagram carries a raw `;` or `#` outside an entity.
        for line in m.lines() {
            let stripped = line
                .replace("#59;", "")
                .replace("#35;", "")
                .replace("#lt;", "")
                .replace("#gt;", "")
                .replace("#amp;", "");
            assert!(!stripped.contains(';') && !stripped.contains('#'), "{line}");
        }
    }

    #[test]
    fn a_wide_label_widens_the_gap_between_its_lifelines() {
        let mut narrow = Diagram::new("", &["a", "b"]);
        narrow.message(0, 1, "x", Mark::Plain);
        let mut wide = narrow.clone();
        wide.message(0, 1, "y".repeat(100), Mark::Plain);
        let width = |d: &Diagram| {
            let svg = d.to_svg();
            let doc = roxmltree::Document::parse(&svg).expect("parses");
            doc.root_element()
                .attribute("width")
                .and_then(|w| w.parse::<f64>().ok())
                .expect("a width")
        };
        assert!(width(&wide) > width(&narrow) + 100.0 * CHAR_W - MIN_GAP);
    }
}
