//! Modular sequence-number arithmetic (RFC 9293 section 3.4) on a
//! configurable sequence space.
//!
//! Every comparison of sequence numbers in the model goes through this module
//! so that wrap-around is handled in exactly one place. The checker keeps the
//! space tiny (16 by default) so that two incarnations' sequence ranges can
//! overlap, which is the precondition of TIME-WAIT's second hazard; the spec
//! oracle uses the full 32-bit space of real TCP, so numbers are 32 bits wide.

use serde::Serialize;

/// A sequence number (or a length in sequence space).
pub type Seq = u32;

/// A sequence space of `modulus` numbers, `0..modulus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SeqSpace {
    modulus: u64,
}

impl SeqSpace {
    /// Largest modulus: real TCP's 2^32.
    pub const MAX_MODULUS: u64 = 1 << 32;

    /// A space of `modulus` numbers. `modulus` must be even and within
    /// `4..=MAX_MODULUS`; [`crate::Config::validate`] checks this for user input.
    pub const fn new(modulus: u64) -> Self {
        SeqSpace { modulus }
    }

    /// The 32-bit space of RFC 9293.
    pub const fn full() -> Self {
        SeqSpace {
            modulus: Self::MAX_MODULUS,
        }
    }

    pub const fn modulus(self) -> u64 {
        self.modulus
    }

    /// `a + n` in the space.
    pub fn add(self, a: Seq, n: Seq) -> Seq {
        ((u64::from(a) + u64::from(n)) % self.modulus) as Seq
    }

    /// `a - n` in the space.
    pub fn sub(self, a: Seq, n: Seq) -> Seq {
        self.add(a, (self.modulus - u64::from(n) % self.modulus) as Seq)
    }

    /// The distance from `b` forward to `a`, i.e. `(a - b) mod modulus`.
    pub fn diff(self, a: Seq, b: Seq) -> Seq {
        ((u64::from(a) + self.modulus - (u64::from(b) % self.modulus)) % self.modulus) as Seq
    }

    /// `a < b` in the RFC 1982 sense: `b` lies strictly within the half of the
    /// space that follows `a`. Like the kernel's `before()`, the comparison is
    /// only meaningful for numbers less than half the space apart.
    ///
    /// ```
    /// use timewait_model::seq::SeqSpace;
    /// let s = SeqSpace::new(16);
    /// assert!(s.lt(14, 1)); // across the wrap
    /// assert!(!s.lt(1, 14));
    /// ```
    pub fn lt(self, a: Seq, b: Seq) -> bool {
        let d = u64::from(self.diff(b, a));
        d != 0 && d < self.modulus / 2
    }

    /// `a <= b`.
    pub fn le(self, a: Seq, b: Seq) -> bool {
        u64::from(a) % self.modulus == u64::from(b) % self.modulus || self.lt(a, b)
    }

    /// `a > b`; the kernel's `after(a, b)`.
    pub fn gt(self, a: Seq, b: Seq) -> bool {
        self.lt(b, a)
    }

    /// `start <= x < start + len`, the window test of RFC 9293 section 3.4.
    pub fn in_window(self, x: Seq, start: Seq, len: Seq) -> bool {
        self.diff(x, start) < len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn space() -> impl Strategy<Value = SeqSpace> {
        (2u64..=64).prop_map(|h| SeqSpace::new(h * 2))
    }

    #[test]
    fn wraps_around_the_end_of_the_space() {
        let s = SeqSpace::new(16);
        assert_eq!(s.add(15, 1), 0);
        assert_eq!(s.add(14, 5), 3);
        assert!(s.lt(15, 2), "15 < 2 across the wrap");
        assert!(!s.lt(2, 15));
        assert!(s.in_window(1, 14, 4), "14,15,0,1 is the window");
        assert!(!s.in_window(2, 14, 4));
    }

    #[test]
    fn full_space_wraps_like_the_kernel() {
        let s = SeqSpace::full();
        assert_eq!(s.add(u32::MAX, 2), 1);
        assert_eq!(s.sub(1, 2), u32::MAX);
        assert!(s.lt(u32::MAX - 10, 5));
        assert!(s.gt(0x8000_0000 - 1, 0));
        assert!(!s.lt(0, 0x8000_0000), "half a space apart");
    }

    #[test]
    fn half_space_apart_is_neither_before_nor_after() {
        let s = SeqSpace::new(16);
        assert!(!s.lt(0, 8));
        assert!(!s.lt(8, 0));
    }

    proptest! {
        #[test]
        fn add_then_diff_round_trips(s in space(), a in 0u32..128, n in 0u32..128) {
            let a = a % s.modulus() as u32;
            let n = n % s.modulus() as u32;
            prop_assert_eq!(s.diff(s.add(a, n), a), n);
        }

        #[test]
        fn lt_is_irreflexive_and_asymmetric(s in space(), a in 0u32..128, b in 0u32..128) {
            let (a, b) = (a % s.modulus() as u32, b % s.modulus() as u32);
            prop_assert!(!s.lt(a, a));
            prop_assert!(!(s.lt(a, b) && s.lt(b, a)));
            prop_assert_eq!(s.gt(a, b), s.lt(b, a));
            prop_assert_eq!(s.le(a, b), a == b || s.lt(a, b));
        }

        #[test]
        fn lt_agrees_with_integers_within_half_a_space(
            s in space(), base in 0u32..128, x in 0u32..64, y in 0u32..64,
        ) {
            // Two numbers less than half a space apart, taken from any base, order
            // as their unwrapped offsets do.
            let half = (s.modulus() / 2) as u32;
            let (x, y) = (x % half, y % half);
            let a = s.add(base % s.modulus() as u32, x);
            let b = s.add(base % s.modulus() as u32, y);
            prop_assert_eq!(s.lt(a, b), x < y);
        }

        #[test]
        fn in_window_matches_enumeration(s in space(), x in 0u32..128, start in 0u32..128, len in 0u32..128) {
            let (x, start) = (x % s.modulus() as u32, start % s.modulus() as u32);
            let len = len % (s.modulus() as u32 + 1);
            let members: Vec<u32> = (0..len).map(|i| s.add(start, i)).collect();
            prop_assert_eq!(s.in_window(x, start, len), members.contains(&x));
        }
    }
}
