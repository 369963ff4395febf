//! Hand-written AVX-512 kernels for the steps that the portable kernels of
//! [`super::kernels`] cannot express cheaply. Each one gives the same bits as the kernel it
//! replaces (the reasoning is spelled out per kernel; the tests compare every instruction
//! set with the portable build bit for bit).

use std::arch::x86_64::*;

use super::kernels::{LANES, NONE};
use super::layout::{Chunk, Dims};

/// Conv backward of [`super::kernels::conv_backward`] for a 3x3 kernel, routing each pooled
/// gradient to the pixels of its winning window position only.
///
/// The portable kernel multiplies every window position's pixels by that position's routed
/// gradient, which is 0 for the three (or four) positions that did not win. Here each lane
/// first picks, per tap, the pixel under its own winner (one `vpermt2ps` from the 4x4 pixel
/// window shared by the four positions) and does one multiply-add per tap instead of four.
///
/// Same bits: per tap, the portable kernel adds, in the same order over samples and
/// positions, the winner's product and three products `pixel * +0`, which are `±0` for a
/// finite pixel. Adding `±0` leaves an accumulator unchanged unless it is `-0`, and these
/// accumulators start at `+0` and can never become `-0` (a rounded sum is `-0` only when both
/// addends are). The bias sum `(g0 + g1) + (g2 + g3)` is likewise the winner's gradient, up
/// to the sign of a zero, which adding to the never-`-0` accumulator cannot show. Callers must
/// therefore only pass chunks whose images are all finite (an infinite or NaN pixel times 0
/// is NaN in the portable kernel).
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
pub(crate) fn conv_backward_3x3(ch: &mut Chunk, d: &Dims, n: usize) {
    assert_eq!(d.k, 3, "conv_backward_3x3 is for 3x3 kernels");
    let (w, positions, features, image_len) = (d.w, d.positions(), d.features(), d.image_len());
    let group_len = positions * LANES;
    let two = _mm256_set1_epi32(2);
    let none = _mm256_set1_ps(NONE);
    // Index of tap (ki, kj) in the 4x4 window when the top-left position (q = 0) wins; the
    // other positions add their own offset (see `winner_offset` below).
    let taps: [__m256i; 9] = std::array::from_fn(|t| _mm256_set1_epi32((t / 3 * 4 + t % 3) as i32));
    for g in 0..d.groups {
        let mut acc = [_mm256_setzero_ps(); 9];
        let mut bacc = _mm256_setzero_ps();
        for s in 0..n {
            let x = &ch.x[s * image_len..(s + 1) * image_len];
            let at = s * features + g * group_len;
            let grads = &ch.act[at..at + group_len];
            let codes = &ch.codes[at..at + group_len];
            for py in 0..d.hp {
                // The four image rows under this row of pool windows.
                let rows = &x[2 * py * w..2 * py * w + 3 * w + 2 * d.wp + 2];
                for px in 0..d.wp {
                    let at = (py * d.wp + px) * LANES;
                    let dp = load8(&grads[at..at + LANES]);
                    let code = load8(&codes[at..at + LANES]);
                    // The routed gradient: 0 where the ReLU cut the value.
                    let live = _mm256_cmp_ps_mask::<_CMP_LT_OQ>(code, none);
                    let dp = _mm256_maskz_mov_ps(live, dp);
                    bacc = _mm256_add_ps(bacc, dp);
                    // Winner q = 2 * dy + dx sits at offset 4 * dy + dx = q + (q & 2) in the
                    // window (a cut lane's offset, 4, is in range and multiplies a zero).
                    let q = _mm256_cvttps_epi32(code);
                    let winner_offset = _mm256_add_epi32(q, _mm256_and_si256(q, two));
                    // The 4x4 window: rows 0-1 in `lo` (indices 0..8), rows 2-3 in `hi`.
                    let c = 2 * px;
                    let lo = load4x2(&rows[c..c + 4], &rows[w + c..w + c + 4]);
                    let hi = load4x2(
                        &rows[2 * w + c..2 * w + c + 4],
                        &rows[3 * w + c..3 * w + c + 4],
                    );
                    for (a, tap) in acc.iter_mut().zip(&taps) {
                        let idx = _mm256_add_epi32(winner_offset, *tap);
                        let pixels = _mm256_permutex2var_ps(lo, idx, hi);
                        *a = _mm256_fmadd_ps(pixels, dp, *a);
                    }
                }
            }
        }
        let wbase = g * 9 * LANES;
        for (t, a) in acc.iter().enumerate() {
            store8(
                &mut ch.grad_conv_w[wbase + t * LANES..wbase + (t + 1) * LANES],
                *a,
            );
        }
        store8(&mut ch.grad_conv_b[g * LANES..(g + 1) * LANES], bacc);
    }
}

/// Loads 8 values.
#[inline]
#[target_feature(enable = "avx")]
fn load8(s: &[f32]) -> __m256 {
    assert_eq!(s.len(), 8);
    // SAFETY: `s` holds 8 values (asserted); the load has no alignment requirement.
    unsafe { _mm256_loadu_ps(s.as_ptr()) }
}

/// Stores 8 values.
#[inline]
#[target_feature(enable = "avx")]
fn store8(s: &mut [f32], v: __m256) {
    assert_eq!(s.len(), 8);
    // SAFETY: `s` holds 8 values (asserted); the store has no alignment requirement.
    unsafe { _mm256_storeu_ps(s.as_mut_ptr(), v) }
}

/// `[a[0..4], b[0..4]]`.
#[inline]
#[target_feature(enable = "avx")]
fn load4x2(a: &[f32], b: &[f32]) -> __m256 {
    assert!(a.len() == 4 && b.len() == 4);
    // SAFETY: `a` and `b` hold 4 values each (asserted); no alignment requirement.
    unsafe { _mm256_loadu2_m128(b.as_ptr(), a.as_ptr()) }
}
