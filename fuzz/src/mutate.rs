//! Deterministic mutations for the smoke test: the same few thousand
//! variants of the seeds on every run, so that a failure reproduces. Each
//! variant applies one to four edits of the kinds libFuzzer's own mutator
//! starts with (bit flips, interesting bytes, inserted, erased, copied and
//! spliced ranges, and tokens of the input's language).

/// Tokens worth inserting: YAML and JSON syntax, and the names specs and
/// replies use.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r",
    b"\t",
    b": ",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"&a ",
    b"*a",
    b"!!str ",
    b"|\n",
    b">\n",
    b"'",
    b"\"",
    b"#",
    b"---\n",
    b"...\n",
    b"\\u0000",
    b"null",
    b"true",
    b"-1",
    b"4294967296",
    b"1e309",
    b"steps:",
    b"inject:",
    b"expect:",
    b"flags: ",
    b"seq: ",
    b"ack: ",
    b"msl: ",
    b"within: ",
    b"\"ok\":",
    b"\"frames\":[\"",
    b"\"events\":",
    b"\"conns\":",
    b"\"now_us\":",
    b"\"fatal\":",
    b"\"error\":",
    b"\"state\":\"TIME-WAIT\"",
    b"45",
    b"0800",
    b"8100",
];

/// A small, fixed PRNG (xorshift64*): the smoke test must not vary between
/// runs, and needs no statistical quality.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// One variant of `input`; `other` is spliced from.
pub fn mutate(input: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        edit(&mut out, other, rng);
    }
    out
}

fn edit(out: &mut Vec<u8>, other: &[u8], rng: &mut Rng) {
    let at = rng.below(out.len() + 1);
    match rng.below(7) {
        0 if !out.is_empty() => {
            let i = at.min(out.len() - 1);
            out[i] ^= 1 << rng.below(8);
        }
        1 if !out.is_empty() => {
            let i = at.min(out.len() - 1);
            out[i] = [0, 0xff, 0x7f, 0x80, b'0', b' '][rng.below(6)];
        }
        2 => {
            let end = (at + 1 + rng.below(16)).min(out.len());
            out.drain(at..end);
        }
        3 if !out.is_empty() => {
            let from = rng.below(out.len());
            let len = (1 + rng.below(32)).min(out.len() - from);
            let chunk = out[from..from + len].to_vec();
            out.splice(at..at, chunk);
        }
        4 if !other.is_empty() => {
            let from = rng.below(other.len());
            let len = (1 + rng.below(64)).min(other.len() - from);
            out.splice(at..at, other[from..from + len].iter().copied());
        }
        5 => {
            let token = TOKENS[rng.below(TOKENS.len())];
            out.splice(at..at, token.iter().copied());
        }
        _ => {
            // Cut the tail: truncated input is what a dying writer leaves.
            out.truncate(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let run = || {
            let mut rng = Rng::new(7);
            (0..50)
                .map(|_| mutate(b"name: x\nmsl: 1s\n", b"{\"ok\":true}", &mut rng))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(|m| m != b"name: x\nmsl: 1s\n"), "it mutates");
    }
}
