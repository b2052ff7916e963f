//! "Did you mean": the known word closest to a near miss, for unknown
//! fields, step kinds, states, roles and model variants. Distances are
//! strsim's optimal string alignment (a swapped pair of letters counts
//! once, as in `expcet`), compared without regard to case so that
//! `time-wait` finds `TIME-WAIT`.

/// The candidate closest to `word`, if it is close enough to be what the
/// author meant: at most one edit per three characters (at least one), as
/// rustc's suggestions allow.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_lowercase();
    let limit = (w.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::osa_distance(&w, &c.to_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `; did you mean `x`?` when a candidate is close, else `, expected one of
/// a, b, c`: the tail of an "unknown ..." message.
pub fn hint(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates.iter().copied()) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => format!(", expected one of {}", candidates.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [&str; 9] = [
        "app",
        "app-refused",
        "inject",
        "expect",
        "expect-none",
        "wait",
        "expect-state",
        "incarnation",
        "note",
    ];

    #[test]
    fn a_swapped_pair_of_letters_is_one_edit() {
        assert_eq!(closest("expcet", KINDS), Some("expect"));
        assert_eq!(closest("injcet", KINDS), Some("inject"));
    }

    #[test]
    fn case_and_separator_slips_find_the_word() {
        assert_eq!(
            closest("TIMEWAIT", ["CLOSED", "TIME-WAIT"]),
            Some("TIME-WAIT")
        );
        assert_eq!(
            closest("time-wait", ["CLOSED", "TIME-WAIT"]),
            Some("TIME-WAIT")
        );
        assert_eq!(closest("expect_none", KINDS), Some("expect-none"));
        assert_eq!(closest("peer_isn", ["peer-isn", "msl"]), Some("peer-isn"));
    }

    #[test]
    fn words_too_far_from_every_candidate_get_no_suggestion() {
        assert_eq!(closest("sendd", KINDS), None);
        assert_eq!(closest("x", ["seq", "ack"]), None);
        assert_eq!(closest("retransmit", KINDS), None);
    }

    #[test]
    fn the_closest_of_several_near_candidates_wins() {
        // `expect-stat` is one edit from `expect-state`, two from `expect-none`... and more.
        assert_eq!(closest("expect-stat", KINDS), Some("expect-state"));
        assert_eq!(closest("sq", ["ack", "seq", "len"]), Some("seq"));
    }

    #[test]
    fn the_hint_lists_the_candidates_when_none_is_close() {
        assert_eq!(hint("sq", &["seq", "ack"]), "; did you mean `seq`?");
        assert_eq!(hint("zzz", &["seq", "ack"]), ", expected one of seq, ack");
    }
}
