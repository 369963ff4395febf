//! Convolution fused with ReLU and 2x2 max-pool: `pool(relu(conv(x) + bias))` in one pass.
//!
//! The layer-by-layer chain writes the full convolution output, reads it for the ReLU, writes
//! that again, reads it for the pool, and keeps both for backward; on the way back it builds
//! a pool-sized gradient map of mostly zeros, then a ReLU-masked copy of it, and the
//! convolution copies that once more into its gradient matrix. Fused, each block of images'
//! convolution product stays in a per-thread scratch buffer: bias, ReLU and the pool are
//! applied as it is read, and only the pooled values and one byte per window (which of its
//! four positions won) are stored. Backward scatters the pooled gradient straight into the
//! convolution's gradient matrix.
//!
//! Results are **bit-identical** to the chain [`conv2d_forward`](crate::conv2d_forward) ->
//! [`relu_forward`](crate::relu_forward) -> [`maxpool2x2_forward`](crate::maxpool2x2_forward)
//! and its backward: the same products, the same bias addition, the same comparisons in the
//! same order (the ReLU is applied to each of the four values before they are compared, so
//! even NaN behaves as in the chain), and the same additions onto zero.

use rayon::prelude::*;

use crate::conv::{backward_blocks, packed_weight, with_block_product, Columns, FWD_BLOCK};
use crate::direct::DirectConv;
use crate::direct_pooled::DirectPooled;
use crate::error::{check_len, Error, Result};
use crate::geometry::Conv2dGeometry;
use crate::winograd_train;

/// The window code of a pooled value whose ReLU output was 0: no position gets a gradient.
pub const NO_WINNER: u8 = 4;

/// The pooled size `(h / 2, w / 2)` of the convolution output, or an error when that output
/// is smaller than a 2x2 window.
fn pooled_dims(op: &'static str, g: &Conv2dGeometry) -> Result<(usize, usize)> {
    if g.h_out() < 2 || g.w_out() < 2 {
        return Err(Error::InvalidGeometry {
            op,
            reason: format!(
                "a {}x{} convolution output is smaller than the 2x2 pool window",
                g.h_out(),
                g.w_out()
            ),
        });
    }
    Ok((g.h_out() / 2, g.w_out() / 2))
}

/// Length of one image's pooled output `[c_out, h_out / 2, w_out / 2]`, for sizing `out` and
/// `codes` (multiply by the batch size).
///
/// # Errors
/// [`Error::InvalidGeometry`] when the convolution output is smaller than 2x2.
pub fn conv_pool_image_len(g: &Conv2dGeometry) -> Result<usize> {
    let (ph, pw) = pooled_dims("conv_pool_image_len", g)?;
    Ok(g.c_out() * ph * pw)
}

/// Fused forward: `out = maxpool2x2(relu(conv(input, weight) + bias))` and, per pooled value,
/// `codes` = which position of its 2x2 window won (`dy * 2 + dx`, the first of equal values in
/// row-major order) or [`NO_WINNER`] when the pooled value is 0 (the ReLU blocked every
/// position's gradient).
///
/// Shapes: `out` and `codes` `[n, c_out, h_out / 2, w_out / 2]` (an odd last row or column of
/// the convolution output is dropped), `input [n, c_in, h_in, w_in]`, `weight [c_out, c_in,
/// k_h, k_w]`, `bias [c_out]`. Every value of `out` and `codes` is written.
///
/// # Errors
/// [`Error::InvalidGeometry`] when the convolution output is smaller than 2x2;
/// [`Error::BufferLength`] when a slice does not fit.
///
/// ```
/// use tensor::{conv2d_relu_pool_forward, Conv2dGeometry, NO_WINNER};
/// # fn main() -> tensor::Result<()> {
/// // One 3x3 image, a 2x2 filter picking the top-left tap: the conv output is the top-left
/// // 2x2 of the image, pooled to its largest value after the ReLU.
/// let g = Conv2dGeometry::new([1, 1, 3, 3], 1, [2, 2], 1, 0)?;
/// let image = [-1.0, 4.0, 0.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0];
/// let (mut out, mut codes) = ([0.0], [0u8]);
/// conv2d_relu_pool_forward(&mut out, &mut codes, &image, &[1.0, 0.0, 0.0, 0.0], &[0.0], &g)?;
/// assert_eq!((out, codes), ([4.0], [1]));
/// conv2d_relu_pool_forward(&mut out, &mut codes, &image, &[1.0, 0.0, 0.0, 0.0], &[-9.0], &g)?;
/// assert_eq!((out, codes), ([0.0], [NO_WINNER]));
/// # Ok(())
/// # }
/// ```
pub fn conv2d_relu_pool_forward(
    out: &mut [f32],
    codes: &mut [u8],
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    g: &Conv2dGeometry,
) -> Result<()> {
    let op = "conv2d_relu_pool_forward";
    let (ph, pw) = pooled_dims(op, g)?;
    let (in_len, pooled_len) = (g.input_image_len(), ph * pw);
    let out_len = g.c_out() * pooled_len;
    check_len(op, "out", out.len(), g.n() * out_len)?;
    check_len(op, "codes", codes.len(), g.n() * out_len)?;
    check_len(op, "input", input.len(), g.n() * in_len)?;
    check_len(op, "weight", weight.len(), g.weight_len())?;
    check_len(op, "bias", bias.len(), g.c_out())?;
    if g.n() == 0 {
        return Ok(());
    }
    // With AVX-512, a stride-1 convolution with a square kernel runs directly, image by
    // image (no column matrix), with the same bits.
    if let Some(direct) = DirectPooled::new(weight, bias, g) {
        direct.forward(out, codes, input);
        return Ok(());
    }
    let (hw, w) = (g.col_cols(), g.w_out());
    let packed = packed_weight(weight, g);
    out.par_chunks_mut(FWD_BLOCK * out_len)
        .zip(codes.par_chunks_mut(FWD_BLOCK * out_len))
        .zip(input.par_chunks(FWD_BLOCK * in_len))
        .for_each(|((out_block, code_block), in_block)| {
            with_block_product(in_block, &packed, g, |res, ld| {
                let planes = out_block
                    .chunks_exact_mut(pooled_len)
                    .zip(code_block.chunks_exact_mut(pooled_len));
                // Pooled plane `i * c_out + c` reads image i's columns of product row c.
                for (plane, (o, k)) in planes.enumerate() {
                    let (i, c) = (plane / g.c_out(), plane % g.c_out());
                    let conv = &res[c * ld + i * hw..c * ld + (i + 1) * hw];
                    relu_pool_plane(o, k, conv, bias[c], w, pw);
                }
            });
        });
    Ok(())
}

/// One plane: `conv [h, w]` (before the bias) -> `out`, `codes [h / 2, w / 2]`.
///
/// Written to vectorise: after the ReLU every candidate is a number >= +0.0 (NaN and -0.0
/// become +0.0), so the chain's "first value in row-major order that no later one strictly
/// exceeds" is the maximum, and its position is the first candidate equal to it.
fn relu_pool_plane(
    out: &mut [f32],
    codes: &mut [u8],
    conv: &[f32],
    bias: f32,
    w: usize,
    pw: usize,
) {
    // The same two steps as the chain: `v + b` as the convolution adds its bias, then the
    // ReLU as `relu_forward` writes it.
    let relu = |v: f32| {
        let x = v + bias;
        if x > 0.0 {
            x
        } else {
            0.0
        }
    };
    let max = |a: f32, b: f32| if a > b { a } else { b };
    for ((out, codes), rows) in out
        .chunks_exact_mut(pw)
        .zip(codes.chunks_exact_mut(pw))
        .zip(conv.chunks_exact(2 * w))
    {
        let (top, bottom) = rows.split_at(w);
        let (top, bottom) = (&top[..2 * pw], &bottom[..2 * pw]);
        for (ox, (o, k)) in out.iter_mut().zip(codes.iter_mut()).enumerate() {
            let (t0, t1) = (relu(top[2 * ox]), relu(top[2 * ox + 1]));
            let (b0, b1) = (relu(bottom[2 * ox]), relu(bottom[2 * ox + 1]));
            let best = max(max(t0, t1), max(b0, b1));
            let code = if t0 == best {
                0
            } else if t1 == best {
                1
            } else if b0 == best {
                2
            } else {
                3
            };
            *o = best;
            // The chain's ReLU backward passes the winner's gradient only where its input
            // was positive, that is where the pooled value is.
            *k = if best > 0.0 { code } else { NO_WINNER };
        }
    }
}

/// One plane of the pool's backward: window `(oy, ox)` (gradient `grads[oy * pw + ox]`,
/// code `winners[oy * pw + ox]`) covers columns `2 ox` and `2 ox + 1` of rows `2 oy` and
/// `2 oy + 1` of `dst` (rows `w` apart) and writes `0.0 + grad` at its winner (code
/// `2 dy + dx`; as the chain's pool backward adds onto its zeroed map, which turns -0.0
/// into 0.0), `0.0` at the other three. Nothing else of `dst` is written. `winners` may run
/// past the plane. With `vectors` (AVX-512 F, checked by the caller), eight windows at a
/// time, with the same values.
pub(crate) fn scatter_windows(
    vectors: bool,
    grads: &[f32],
    winners: &[u8],
    dst: &mut [f32],
    [pw, w]: [usize; 2],
) {
    let ph = grads.len() / pw;
    assert!(winners.len() >= grads.len() && 2 * pw <= w && dst.len() >= 2 * ph * w);
    #[cfg(target_arch = "x86_64")]
    if vectors {
        // SAFETY: the caller checked AVX-512 F; the lengths were asserted above.
        unsafe { x86::scatter_windows(grads, winners, dst, [pw, w]) };
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = vectors;
    // A row of windows at a time, without a branch per window (after the ReLU whether a
    // window has a winner at all is data, and a mispredicted branch per window cost more
    // than the four stores).
    let windows = grads.chunks_exact(pw).zip(winners.chunks_exact(pw));
    for (oy, (grads, winners)) in windows.enumerate() {
        let (top, bottom) = dst[2 * oy * w..(2 * oy + 2) * w].split_at_mut(w);
        let pairs = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
        for ((&grad, &code), (t, b)) in grads.iter().zip(winners).zip(pairs) {
            let grad = 0.0 + grad;
            let pick = |at: u8| if code == at { grad } else { 0.0 };
            t[0] = pick(0);
            t[1] = pick(1);
            b[0] = pick(2);
            b[1] = pick(3);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// [`super::scatter_windows`] eight windows at a time: each gradient and code is
    /// repeated into two lanes, and a lane keeps the gradient where the code names its
    /// column of the top (codes 0, 1) or the bottom row (2, 3).
    ///
    /// # Safety
    /// AVX-512 F and the lengths `super::scatter_windows` asserts.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn scatter_windows(
        grads: &[f32],
        winners: &[u8],
        dst: &mut [f32],
        [pw, w]: [usize; 2],
    ) {
        let twice = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
        let top_codes = _mm512_set_epi32(1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0);
        let bottom_codes = _mm512_set_epi32(3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2);
        for oy in 0..grads.len() / pw {
            let row = oy * pw;
            let top = dst.as_mut_ptr().add(2 * oy * w);
            let bottom = top.add(w);
            for ox in (0..pw).step_by(8) {
                let n = 8.min(pw - ox);
                let load = ((1u32 << n) - 1) as __mmask16;
                let store = ((1u32 << (2 * n)) - 1) as __mmask16;
                // `0.0 + grad`, as the scalar version.
                let g = _mm512_add_ps(
                    _mm512_setzero_ps(),
                    _mm512_maskz_loadu_ps(load, grads.as_ptr().add(row + ox)),
                );
                // Eight codes as one word where eight are there, else byte by byte.
                let at = row + ox;
                let word = if at + 8 <= winners.len() {
                    winners.as_ptr().add(at).cast::<u64>().read_unaligned()
                } else {
                    let mut bytes = [0u8; 8];
                    for (b, &c) in bytes.iter_mut().zip(&winners[at..]) {
                        *b = c;
                    }
                    u64::from_le_bytes(bytes)
                };
                let codes = _mm512_cvtepu8_epi32(_mm_cvtsi64_si128(word as i64));
                let (g, codes) = (
                    _mm512_permutexvar_ps(twice, g),
                    _mm512_permutexvar_epi32(twice, codes),
                );
                let keep_top = _mm512_cmpeq_epi32_mask(codes, top_codes);
                let keep_bottom = _mm512_cmpeq_epi32_mask(codes, bottom_codes);
                _mm512_mask_storeu_ps(top.add(2 * ox), store, _mm512_maskz_mov_ps(keep_top, g));
                _mm512_mask_storeu_ps(
                    bottom.add(2 * ox),
                    store,
                    _mm512_maskz_mov_ps(keep_bottom, g),
                );
            }
        }
    }
}

/// Fused backward, the reverse of [`conv2d_relu_pool_forward`]:
/// - `grad_input [n, c_in, h_in, w_in]` is **overwritten** with dL/d input when given (`None`
///   for a first layer);
/// - `grad_weight [c_out, c_in, k_h, k_w]` and `grad_bias [c_out]` **accumulate** (`+=`);
/// - `grad_pooled [n, c_out, h_out / 2, w_out / 2]` is dL/d `out`, and `codes` are the
///   forward's; `input` and `weight` are the forward's.
///
/// # Errors
/// [`Error::InvalidGeometry`] when the convolution output is smaller than 2x2 or a code is
/// above [`NO_WINNER`]; [`Error::BufferLength`] when a slice does not fit.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_relu_pool_backward(
    grad_input: Option<&mut [f32]>,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
    grad_pooled: &[f32],
    codes: &[u8],
    input: &[f32],
    weight: &[f32],
    g: &Conv2dGeometry,
) -> Result<()> {
    let op = "conv2d_relu_pool_backward";
    let args = (grad_input, grad_weight, grad_bias);
    relu_pool_backward(op, args, grad_pooled, codes, input, weight, g, false)
}

/// [`conv2d_relu_pool_backward`] for a forward run by
/// [`WinogradConv::forward_batch`](crate::WinogradConv::forward_batch), the same arguments
/// and results within rounding. For a layer that forward takes (stride 1, 3x3, channels
/// multiples of 16, even sides), computed another way:
/// - the weight and bias gradients sum over the pool's winners alone: each window's gradient
///   times the 3x3 input patch under its winner (a quarter of the column-matrix product's
///   multiply-adds or fewer, and no column matrix), each value one chain of fused
///   multiply-adds per block of 8 images, the blocks added in order;
/// - the input gradient by Winograd's F(2x2, 3x3)
///   ([`WinogradConv::input_grad`](crate::WinogradConv::input_grad)).
///
/// The order is fixed: the same bits for any thread count and instruction set (the AVX-512
/// kernels and the scalar code agree). Any other layer gets [`conv2d_relu_pool_backward`].
///
/// # Errors
/// As [`conv2d_relu_pool_backward`].
#[allow(clippy::too_many_arguments)]
pub fn conv2d_relu_pool_backward_winograd(
    grad_input: Option<&mut [f32]>,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
    grad_pooled: &[f32],
    codes: &[u8],
    input: &[f32],
    weight: &[f32],
    g: &Conv2dGeometry,
) -> Result<()> {
    let op = "conv2d_relu_pool_backward_winograd";
    let args = (grad_input, grad_weight, grad_bias);
    relu_pool_backward(op, args, grad_pooled, codes, input, weight, g, true)
}

#[allow(clippy::too_many_arguments)]
fn relu_pool_backward(
    op: &'static str,
    (grad_input, grad_weight, grad_bias): (Option<&mut [f32]>, &mut [f32], &mut [f32]),
    grad_pooled: &[f32],
    codes: &[u8],
    input: &[f32],
    weight: &[f32],
    g: &Conv2dGeometry,
    winograd: bool,
) -> Result<()> {
    let (ph, pw) = pooled_dims(op, g)?;
    let pooled_len = ph * pw;
    let out_len = g.c_out() * pooled_len;
    let in_len = g.input_image_len();
    check_len(op, "grad_weight", grad_weight.len(), g.weight_len())?;
    check_len(op, "grad_bias", grad_bias.len(), g.c_out())?;
    check_len(op, "grad_pooled", grad_pooled.len(), g.n() * out_len)?;
    check_len(op, "codes", codes.len(), g.n() * out_len)?;
    check_len(op, "input", input.len(), g.n() * in_len)?;
    check_len(op, "weight", weight.len(), g.weight_len())?;
    if let Some(gi) = grad_input.as_deref() {
        check_len(op, "grad_input", gi.len(), g.n() * in_len)?;
    }
    // The largest code first (a reduction that vectorises; this runs every step), then,
    // only when it is bad, which one.
    if codes.iter().fold(0u8, |m, &k| m.max(k)) > NO_WINNER {
        let bad = codes
            .iter()
            .find(|&&k| k > NO_WINNER)
            .copied()
            .unwrap_or_default();
        return Err(Error::InvalidGeometry {
            op,
            reason: format!("window code {bad} is not a position of a 2x2 window"),
        });
    }
    // (A layer the Winograd forward does not take ran the layers' forward: the layers'
    // backward follows.)
    if let Some(layer) = winograd
        .then(|| winograd_train::input_grad_layer(weight, g))
        .flatten()
    {
        let args = (grad_input, grad_weight, grad_bias);
        winograd_train::pooled_backward(&layer, args, grad_pooled, codes, input, g);
        return Ok(());
    }
    let (hw, w) = (g.col_cols(), g.w_out());
    let vectors = DirectConv::supported();
    // The windows cover every value of a map but an odd last row or column.
    let uncovered = 2 * ph != g.h_out() || 2 * pw != w;
    backward_blocks(
        (grad_input, grad_weight, grad_bias),
        input,
        weight,
        g,
        Columns::WhereNeeded,
        |go, ld, j, i| {
            let image_codes = &codes[i * out_len..(i + 1) * out_len];
            let planes = grad_pooled[i * out_len..(i + 1) * out_len].chunks_exact(pooled_len);
            for (c, (row, gp)) in go.chunks_exact_mut(ld).zip(planes).enumerate() {
                let dst = &mut row[j * hw..(j + 1) * hw];
                if uncovered {
                    dst.fill(0.0);
                }
                // The image's codes from this plane's on (read, never used, past the plane
                // by the vector version).
                let winners = &image_codes[c * pooled_len..];
                scatter_windows(vectors, gp, winners, dst, [pw, w]);
            }
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vector_scatter_writes_what_the_scalar_one_writes() {
        if !DirectConv::supported() {
            return;
        }
        let mut state = 7u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state >> 8
        };
        // Planes of 1 to 3 rows of 1 to 40 windows (tails of every length), odd widths (a
        // column no window covers), codes of every kind, -0.0 among the gradients, winners
        // ending with the plane (the byte-by-byte read) or running past it.
        for ph in 1..=3 {
            for pw in 1..=40 {
                for (odd, past) in [(0, 0), (1, 3), (0, 8)] {
                    let w = 2 * pw + odd;
                    let grads: Vec<f32> = (0..ph * pw)
                        .map(|i| match i % 5 {
                            0 => -0.0,
                            _ => (next() % 2001) as f32 / 1000.0 - 1.0,
                        })
                        .collect();
                    let winners: Vec<u8> =
                        (0..ph * pw + past).map(|_| (next() % 5) as u8).collect();
                    let mut scalar = vec![f32::NAN; (2 * ph + odd) * w];
                    let mut vector = scalar.clone();
                    scatter_windows(false, &grads, &winners, &mut scalar, [pw, w]);
                    scatter_windows(true, &grads, &winners, &mut vector, [pw, w]);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&vector), bits(&scalar), "{ph} x {pw} windows, w {w}");
                    // What no window covers is not written.
                    let covered = |i: usize| i / w < 2 * ph && i % w < 2 * pw;
                    assert!(vector
                        .iter()
                        .enumerate()
                        .all(|(i, v)| covered(i) != v.is_nan()));
                }
            }
        }
    }
}
