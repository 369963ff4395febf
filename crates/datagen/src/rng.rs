//! The per-sample random stream and the few transcendental functions the generator needs.
//!
//! Every draw goes through [`SampleRng`], which turns raw ChaCha8 words into floats itself, so
//! an upgrade of `rand` can never change an image. `sin`, `cos` and `exp` are written out here
//! from `+ - * /` because the platform's `libm` may round differently from one system to the
//! next; with these, a (style, seed, index) triple gives the same bits everywhere.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random stream of one sample: a pure function of `(seed, index)`.
pub(crate) struct SampleRng(ChaCha8Rng);

impl SampleRng {
    /// The stream of sample `index` of seed `seed`: the seed picks the ChaCha key and the index
    /// the ChaCha stream (nonce), so samples never share a stream.
    pub(crate) fn new(seed: u64, index: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index);
        Self(rng)
    }

    /// Uniform in [0, 1), 24 random bits.
    #[inline]
    pub(crate) fn unit(&mut self) -> f32 {
        (self.0.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform in [lo, hi).
    #[inline]
    pub(crate) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in [-a, a).
    #[inline]
    pub(crate) fn sym(&mut self, a: f32) -> f32 {
        a * (2.0 * self.unit() - 1.0)
    }

    /// Roughly normal with standard deviation `sd`: the sum of four uniforms (an Irwin-Hall
    /// bell), which is bounded by `3.46 sd` and needs no logarithm.
    #[inline]
    pub(crate) fn bell(&mut self, sd: f32) -> f32 {
        let s = self.unit() + self.unit() + self.unit() + self.unit();
        // Four U(0,1) have mean 2 and variance 1/3.
        (s - 2.0) * (sd * 1.732_050_8)
    }

    /// `true` with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    /// An index drawn with the given relative weights (which must not all be zero).
    pub(crate) fn pick(&mut self, weights: &[f32]) -> usize {
        let total: f32 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// `(sin x, cos x)`, accurate to about 1e-7 for |x| < 100.
pub(crate) fn sin_cos(x: f32) -> (f32, f32) {
    use std::f32::consts::FRAC_PI_2;
    // Reduce to r in [-pi/4, pi/4] and a quadrant.
    let q = (x * (1.0 / FRAC_PI_2)).round();
    // Two-part pi/2 (the f32 constant plus what it misses) keeps the reduction accurate.
    let r = (x - q * FRAC_PI_2) - q * (-4.371_139e-8);
    let r2 = r * r;
    let s = r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0))));
    let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0))));
    match (q as i64).rem_euclid(4) {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// `e^x` for `x <= 0`, accurate to about 3e-7 relative; 0 below -80.
///
/// Written without branches, library calls or float-to-integer conversions, so that the
/// compiler can compute it for several values at once (the elastic field calls it 14 times
/// a path point). Every result is bit for bit what [`exp_neg_reference`] (the plain
/// definition, in the tests) gives: checked for a spread of inputs and around every rounding
/// tie, and for every single `f32` in [-81, 0] by an ignored test
/// (`cargo test -p datagen --release --lib -- --ignored exp_neg`).
#[inline]
pub(crate) fn exp_neg(x: f32) -> f32 {
    // e^x = 2^k e^r with |r| <= ln2 / 2.
    let k = round_small(x * std::f32::consts::LOG2_E);
    // ln 2 in two parts (Cody-Waite): k * LN2_HI is exact, so r keeps its low bits.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r / 720.0)))));
    // 2^k by building the exponent bits; k >= -116 here, so scale in two steps to stay normal.
    // k is a whole number of at most 2^22 in size here, so `k + ROUNDER` is exact and its
    // bits are ROUNDER's plus k. (Below -80, where the result is 0, k may be anything: the
    // integer steps wrap instead of overflowing.)
    let k = ((k + ROUNDER).to_bits() as i32).wrapping_sub(ROUNDER.to_bits() as i32);
    let half = k / 2;
    let pow = |e: i32| f32::from_bits((e.wrapping_add(127) as u32) << 23);
    let e = p * pow(half) * pow(k.wrapping_sub(half));
    if x < -80.0 {
        0.0
    } else {
        e
    }
}

/// 1.5 * 2^23: adding it to an `f32` of size below 2^22 rounds that to a whole number (to
/// nearest, ties to even), since the sum's last bit is worth 1.
pub(crate) const ROUNDER: f32 = 12_582_912.0;

/// `v.round()` (half away from zero) for `v` in [-2^22, 0], up to the sign of a zero result,
/// in plain arithmetic (`f32::round` is a library call on the baseline x86-64 target): round
/// to nearest even, then move the ties that went up back down. `n - v` is exact there.
#[inline]
fn round_small(v: f32) -> f32 {
    let n = (v + ROUNDER) - ROUNDER;
    if n - v == 0.5 {
        n - 1.0
    } else {
        n
    }
}

/// `e^x` for any `x` (|x| below about 80), through [`exp_neg`].
pub(crate) fn exp(x: f32) -> f32 {
    if x <= 0.0 {
        exp_neg(x)
    } else {
        1.0 / exp_neg(-x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_cos_match_std_closely() {
        let mut x = -20.0f32;
        while x < 20.0 {
            let (s, c) = sin_cos(x);
            assert!((s - x.sin()).abs() < 2e-6, "sin {x}");
            assert!((c - x.cos()).abs() < 2e-6, "cos {x}");
            x += 0.0137;
        }
    }

    /// `exp_neg` as it was first written (with a branch and `f32::round`): the definition
    /// the fast one keeps bit for bit.
    fn exp_neg_reference(x: f32) -> f32 {
        if x < -80.0 {
            return 0.0;
        }
        let k = (x * std::f32::consts::LOG2_E).round();
        const LN2_HI: f32 = 0.693_145_75;
        const LN2_LO: f32 = 1.428_606_8e-6;
        let r = (x - k * LN2_HI) - k * LN2_LO;
        let p = 1.0
            + r * (1.0
                + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r / 720.0)))));
        let k = k as i32;
        let half = k / 2;
        let pow = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
        p * pow(half) * pow(k - half)
    }

    /// Every `stride`-th `f32` bit pattern from -0.0 down to -80 and a little past it, and
    /// the special values; the number of inputs checked.
    fn check_exp_neg_against_reference(stride: u32) -> u64 {
        let mut checked = 0;
        let last = (-81.0f32).to_bits();
        let mut bits = (-0.0f32).to_bits();
        while bits <= last {
            let x = f32::from_bits(bits);
            assert_eq!(
                exp_neg(x).to_bits(),
                exp_neg_reference(x).to_bits(),
                "exp_neg({x:e})"
            );
            checked += 1;
            bits += stride;
        }
        for x in [
            0.0,
            -0.0,
            -80.0,
            -80.000_01,
            -1e30,
            f32::NEG_INFINITY,
            -0.5,
            -1.5,
        ] {
            assert_eq!(exp_neg(x).to_bits(), exp_neg_reference(x).to_bits(), "{x}");
        }
        checked
    }

    #[test]
    fn exp_neg_is_the_reference_bit_for_bit() {
        assert!(check_exp_neg_against_reference(997) > 1_000_000);
        // Every x whose k (the rounded x log2 e) is a tie or next to one.
        for k in 0..=116 {
            for half in [-0.5f32, 0.5] {
                let x = (half - k as f32) / std::f32::consts::LOG2_E;
                let b = x.to_bits().saturating_sub(64);
                for x in (b..b + 128).map(f32::from_bits) {
                    if x <= 0.0 {
                        assert_eq!(exp_neg(x).to_bits(), exp_neg_reference(x).to_bits(), "{x}");
                    }
                }
            }
        }
    }

    /// Every f32 in [-81, 0]: about 1.1 billion inputs, half a minute in release.
    #[test]
    #[ignore = "exhaustive; run with --release -- --ignored exp_neg"]
    fn exp_neg_is_the_reference_bit_for_bit_everywhere() {
        assert!(check_exp_neg_against_reference(1) > 1_000_000_000);
    }

    #[test]
    fn exp_neg_matches_std_closely() {
        let mut x = 0.0f32;
        while x >= -80.0 {
            let e = exp_neg(x);
            assert!(
                (e - x.exp()).abs() <= 3e-7 * x.exp() + 1e-37,
                "exp {x}: {e}"
            );
            x -= 0.0173;
        }
    }

    #[test]
    fn exp_matches_std_on_both_sides_of_zero() {
        let mut x = -3.0f32;
        while x < 3.0 {
            assert!((exp(x) - x.exp()).abs() <= 1e-6 * x.exp(), "exp {x}");
            x += 0.0131;
        }
    }

    #[test]
    fn unit_stays_in_range_and_streams_differ() {
        let mut a = SampleRng::new(7, 0);
        let mut b = SampleRng::new(7, 1);
        let (xa, xb): (Vec<f32>, Vec<f32>) = (0..100).map(|_| (a.unit(), b.unit())).unzip();
        assert!(xa.iter().all(|x| (0.0..1.0).contains(x)));
        assert_ne!(xa, xb);
    }
}
