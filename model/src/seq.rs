//! Modular sequence-number arithmetic (RFC 9293 section 3.4) on a small
//! configurable sequence space.
//!
//! Every comparison of sequence numbers in the model goes through this module
//! so that wrap-around is handled in exactly one place. The space is kept tiny
//! (16 by default) so that two incarnations' sequence ranges can overlap, which
//! is the precondition of TIME-WAIT's second hazard.

use serde::Serialize;

/// A sequence space of `modulus` numbers, `0..modulus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SeqSpace {
    modulus: u8,
}

impl SeqSpace {
    /// Largest modulus the model accepts: sequence numbers are stored in a `u8`
    /// and differences must fit in one.
    pub const MAX_MODULUS: u8 = 128;

    /// A space of `modulus` numbers. `modulus` must be even and within
    /// `4..=MAX_MODULUS`; [`crate::Config::validate`] checks this for user input.
    pub const fn new(modulus: u8) -> Self {
        SeqSpace { modulus }
    }

    pub const fn modulus(self) -> u8 {
        self.modulus
    }

    /// `a + n` in the space.
    pub fn add(self, a: u8, n: u8) -> u8 {
        ((a as u16 + n as u16) % self.modulus as u16) as u8
    }

    /// The distance from `b` forward to `a`, i.e. `(a - b) mod modulus`.
    pub fn diff(self, a: u8, b: u8) -> u8 {
        ((a as u16 + self.modulus as u16 - (b as u16 % self.modulus as u16)) % self.modulus as u16)
            as u8
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
    pub fn lt(self, a: u8, b: u8) -> bool {
        let d = self.diff(b, a);
        d != 0 && d < self.modulus / 2
    }

    /// `a <= b`.
    pub fn le(self, a: u8, b: u8) -> bool {
        a % self.modulus == b % self.modulus || self.lt(a, b)
    }

    /// `a > b`; the kernel's `after(a, b)`.
    pub fn gt(self, a: u8, b: u8) -> bool {
        self.lt(b, a)
    }

    /// `start <= x < start + len`, the window test of RFC 9293 section 3.4.
    pub fn in_window(self, x: u8, start: u8, len: u8) -> bool {
        self.diff(x, start) < len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn space() -> impl Strategy<Value = SeqSpace> {
        (2u8..=64).prop_map(|h| SeqSpace::new(h * 2))
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
    fn half_space_apart_is_neither_before_nor_after() {
        let s = SeqSpace::new(16);
        assert!(!s.lt(0, 8));
        assert!(!s.lt(8, 0));
    }

    proptest! {
        #[test]
        fn add_then_diff_round_trips(s in space(), a in 0u8..128, n in 0u8..128) {
            let a = a % s.modulus();
            let n = n % s.modulus();
            prop_assert_eq!(s.diff(s.add(a, n), a), n);
        }

        #[test]
        fn lt_is_irreflexive_and_asymmetric(s in space(), a in 0u8..128, b in 0u8..128) {
            let (a, b) = (a % s.modulus(), b % s.modulus());
            prop_assert!(!s.lt(a, a));
            prop_assert!(!(s.lt(a, b) && s.lt(b, a)));
            prop_assert_eq!(s.gt(a, b), s.lt(b, a));
            prop_assert_eq!(s.le(a, b), a == b || s.lt(a, b));
        }

        #[test]
        fn lt_agrees_with_integers_within_half_a_space(
            s in space(), base in 0u8..128, x in 0u8..64, y in 0u8..64,
        ) {
            // Two numbers less than half a space apart, taken from any base, order
            // as their unwrapped offsets do.
            let half = s.modulus() / 2;
            let (x, y) = (x % half, y % half);
            let a = s.add(base % s.modulus(), x);
            let b = s.add(base % s.modulus(), y);
            prop_assert_eq!(s.lt(a, b), x < y);
        }

        #[test]
        fn in_window_matches_enumeration(s in space(), x in 0u8..128, start in 0u8..128, len in 0u8..128) {
            let (x, start) = (x % s.modulus(), start % s.modulus());
            let len = len % (s.modulus() + 1);
            let members: Vec<u8> = (0..len).map(|i| s.add(start, i)).collect();
            prop_assert_eq!(s.in_window(x, start, len), members.contains(&x));
        }
    }
}
