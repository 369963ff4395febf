//! The backward pass of a convolution + ReLU + 2x2 pool whose forward ran as Winograd's
//! ([`WinogradConv::forward_batch`]): see
//! [`conv2d_relu_pool_backward_winograd`](crate::conv2d_relu_pool_backward_winograd).
//!
//! After the pool, a window's gradient reaches one position of the convolution output, its
//! winner, or none. So the weight gradient is a sum over winners alone: for output channel
//! `co`, `dW[co] += g * patch(winner)`, where the patch is the 3x3 block of input values
//! under the winner, all input channels: in a zero-padded channels-last frame, three runs of
//! `3 c_in` values in a row. A quarter of the products of the column-matrix product, or
//! fewer (windows the ReLU blocked have no winner), and no column matrix nor gradient map.

use crate::conv::{per_grad_block, GRAD_BLOCK};
use crate::conv_pool::{scatter_windows, NO_WINNER};
use crate::direct::{Dest, DirectConv};
use crate::geometry::Conv2dGeometry;
use crate::winograd::{with_frame, WinogradConv};

/// Values per vector.
const LANES: usize = 16;
/// Most vectors of a weight-gradient row held in registers at once.
const CHUNK: usize = 18;

/// One window's winner: its gradient and where its patch starts in the padded frame.
type Winner = (f32, usize);

/// The input gradient's layer of the convolution of `g` when the Winograd forward takes it
/// (stride 1, 3x3, the channels and sides [`WinogradConv::input_grad`] takes); `None` else.
pub(crate) fn input_grad_layer(weight: &[f32], g: &Conv2dGeometry) -> Option<WinogradConv> {
    if g.stride() != 1 || g.k_h() != 3 || g.k_w() != 3 || g.n() == 0 {
        return None;
    }
    WinogradConv::input_grad(weight, g.c_out(), [g.c_in(), g.h_in(), g.w_in()], g.pad())
}

/// The backward pass for a forward run by [`WinogradConv::forward_batch`], into
/// `grad_input` (overwritten), `grad_weight` and `grad_bias` (accumulated), from
/// `grad_pooled` and the forward's `codes`, with `input_grad` from [`input_grad_layer`].
/// Sizes and codes were checked by the caller.
///
/// Weight and bias gradients: for each block of [`GRAD_BLOCK`] images, each value is one
/// chain of fused multiply-adds (additions for the bias) from `+0.0` over the block's images
/// in order, each image's winners in order of channel plane and window; the blocks' sums are
/// then added in order. Input gradient: Winograd's (see [`WinogradConv::input_grad`]) from
/// the scattered gradient map. The same bits on any CPU and for any thread count.
pub(crate) fn pooled_backward(
    input_grad: &WinogradConv,
    (grad_input, grad_weight, grad_bias): (Option<&mut [f32]>, &mut [f32], &mut [f32]),
    grad_pooled: &[f32],
    codes: &[u8],
    input: &[f32],
    g: &Conv2dGeometry,
) {
    let (c_in, c_out, h, w, pad) = (g.c_in(), g.c_out(), g.h_in(), g.w_in(), g.pad());
    let (ho, wo) = (g.h_out(), g.w_out());
    let (ph, pw) = (ho / 2, wo / 2);
    let (in_len, out_len, row) = (c_in * h * w, c_out * ph * pw, 9 * c_in);
    let vectors = DirectConv::supported();
    let block_task = |mut gi_block: Option<&mut [f32]>, block: usize| {
        let first = block * GRAD_BLOCK;
        let last = (first + GRAD_BLOCK).min(g.n());
        let mut gw = vec![0.0f32; c_out * row];
        let mut gb = vec![0.0f32; c_out];
        let mut winners: Vec<Winner> = vec![(0.0, 0); ph * pw];
        let mut go = match gi_block {
            Some(_) => vec![0.0f32; c_out * ho * wo],
            None => Vec::new(),
        };
        for i in first..last {
            let image = &input[i * in_len..(i + 1) * in_len];
            let grads = &grad_pooled[i * out_len..(i + 1) * out_len];
            let image_codes = &codes[i * out_len..(i + 1) * out_len];
            with_frame(image, h * w, [c_in, h, w], pad, |frame, _| {
                let wp = w + 2 * pad;
                for co in 0..c_out {
                    let plane = co * ph * pw..(co + 1) * ph * pw;
                    let live = gather(
                        &grads[plane.clone()],
                        &image_codes[plane],
                        [pw, wp, c_in],
                        &mut winners,
                    );
                    let live = &winners[..live];
                    for &(value, _) in live {
                        gb[co] += value;
                    }
                    let dst = &mut gw[co * row..(co + 1) * row];
                    #[cfg(target_arch = "x86_64")]
                    if vectors {
                        // SAFETY: AVX-512 F is present; every winner's patch lies inside the
                        // frame (`gather` placed it at a window position of the padded
                        // frame), and `dst` is one row of `9 c_in` values, a multiple of 16.
                        unsafe { x86::winner_row(frame, live, [wp, c_in], dst) };
                        continue;
                    }
                    winner_row(frame, live, [wp, c_in], dst);
                }
            });
            if let Some(gi) = gi_block.as_deref_mut() {
                let j = i - first;
                for (c, dst) in go.chunks_exact_mut(ho * wo).enumerate() {
                    let plane = c * ph * pw..(c + 1) * ph * pw;
                    scatter_windows(
                        vectors,
                        &grads[plane.clone()],
                        &image_codes[plane.start..],
                        dst,
                        [pw, wo],
                    );
                }
                let dest = Dest {
                    data: &mut gi[j * in_len..(j + 1) * in_len],
                    codes: None,
                    offset: 0,
                    row: w,
                    col: 1,
                    channel: h * w,
                };
                input_grad.run_planes(&go, ho * wo, dest);
            }
        }
        (gw, gb)
    };
    // Fixed-order reduction of the blocks' sums; the rows are `[ky][kx][ci]`, the weight
    // `[ci][ky][kx]`.
    for (gw, gb) in &per_grad_block(grad_input, in_len, g.n(), block_task) {
        for co in 0..c_out {
            for ci in 0..c_in {
                for tap in 0..9 {
                    grad_weight[(co * c_in + ci) * 9 + tap] += gw[co * row + tap * c_in + ci];
                }
            }
        }
        grad_bias.iter_mut().zip(gb).for_each(|(d, s)| *d += s);
    }
}

/// The winners of one channel plane's windows (`grads` and `codes`, `pw` windows a row) into
/// the front of `out`, in window order: each window's gradient and the frame index of the
/// top-left of its patch (`wp` padded columns of `c_in` values). Returns how many.
fn gather(grads: &[f32], codes: &[u8], [pw, wp, c_in]: [usize; 3], out: &mut [Winner]) -> usize {
    let mut n = 0;
    for (at, (&value, &code)) in grads.iter().zip(codes).enumerate() {
        let (py, px) = (at / pw, at % pw);
        // The position is computed for every window (a blocked one's is never counted).
        let k = usize::from(code & 3);
        let (y, x) = (2 * py + k / 2, 2 * px + k % 2);
        out[n] = (value, (y * wp + x) * c_in);
        n += usize::from(code != NO_WINNER);
    }
    n
}

/// `dst[e] = chain of fma(g, frame[patch + offset(e)], ·)` over `live`, from `dst[e]`, where
/// element `e = (ky * 3 + kx) * c_in + ci` of the row reads `ky` padded rows down.
fn winner_row(frame: &[f32], live: &[Winner], [wp, c_in]: [usize; 2], dst: &mut [f32]) {
    let run = 3 * c_in;
    for (e, d) in dst.iter_mut().enumerate() {
        let offset = e / run * wp * c_in + e % run;
        let mut acc = *d;
        for &(value, at) in live {
            acc = value.mul_add(frame[at + offset], acc);
        }
        *d = acc;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Winner, CHUNK, LANES};

    /// [`super::winner_row`] in register blocks of up to [`CHUNK`] vectors.
    ///
    /// # Safety
    /// AVX-512 F; `3 c_in` a multiple of 16; `dst` one row of `9 c_in` values; every
    /// winner's patch (3 padded rows of `3 c_in` values from its index) inside `frame`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn winner_row(
        frame: &[f32],
        live: &[Winner],
        [wp, c_in]: [usize; 2],
        dst: &mut [f32],
    ) {
        let run = 3 * c_in;
        debug_assert!(run.is_multiple_of(LANES) && dst.len() == 3 * run);
        let vectors = dst.len() / LANES;
        let mut first = 0;
        while first < vectors {
            let n = CHUNK.min(vectors - first);
            // A vector never straddles two runs (each run is whole vectors).
            let offsets: [usize; CHUNK] = std::array::from_fn(|v| {
                let e = (first + v.min(n - 1)) * LANES;
                e / run * wp * c_in + e % run
            });
            let out = dst.as_mut_ptr().add(first * LANES);
            match n {
                CHUNK => chunk::<CHUNK>(frame.as_ptr(), live, &offsets, out),
                9 => chunk::<9>(frame.as_ptr(), live, &offsets, out),
                _ => {
                    for v in 0..n {
                        chunk::<1>(frame.as_ptr(), live, &offsets[v..], out.add(v * LANES));
                    }
                }
            }
            first += n;
        }
    }

    /// `V` vectors of a row: accumulators loaded from `out`, one fused multiply-add per
    /// winner and vector, stored back.
    ///
    /// # Safety
    /// As [`winner_row`], for `V` vectors at `out` and `offsets[..V]`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn chunk<const V: usize>(
        frame: *const f32,
        live: &[Winner],
        offsets: &[usize],
        out: *mut f32,
    ) {
        let offsets: [usize; V] = std::array::from_fn(|v| offsets[v]);
        let mut acc: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(out.add(v * LANES)));
        for &(value, at) in live {
            let g = _mm512_set1_ps(value);
            let patch = frame.add(at);
            for (acc, &offset) in acc.iter_mut().zip(&offsets) {
                *acc = _mm512_fmadd_ps(g, _mm512_loadu_ps(patch.add(offset)), *acc);
            }
        }
        for (v, &acc) in acc.iter().enumerate() {
            _mm512_storeu_ps(out.add(v * LANES), acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vector_winner_rows_give_the_scalar_bits() {
        if !DirectConv::supported() {
            return;
        }
        let mut state = 11u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state >> 8
        };
        // 16 to 64 channels: rows of 9, 18, 27 and 36 vectors (whole and partial register
        // blocks), frames 6 padded columns wide, 0 to 40 winners at random window positions.
        for c_in in [16, 32, 48, 64] {
            for winners in [0, 1, 7, 40] {
                let (hp, wp) = (6, 6);
                let frame: Vec<f32> = (0..hp * wp * c_in)
                    .map(|i| match i % 97 {
                        0 => -0.0,
                        _ => (next() % 2001) as f32 / 1000.0 - 1.0,
                    })
                    .collect();
                let live: Vec<Winner> = (0..winners)
                    .map(|_| {
                        let (y, x) = ((next() % 4) as usize, (next() % 4) as usize);
                        ((next() % 2001) as f32 / 500.0 - 2.0, (y * wp + x) * c_in)
                    })
                    .collect();
                let start: Vec<f32> = (0..9 * c_in).map(|i| i as f32 * 0.01 - 1.0).collect();
                let mut scalar = start.clone();
                let mut vector = start.clone();
                winner_row(&frame, &live, [wp, c_in], &mut scalar);
                // SAFETY: AVX-512 F checked above; rows of 9 c_in values, patches inside
                // the 6x6 frame (corners at most (3, 3)).
                unsafe { x86::winner_row(&frame, &live, [wp, c_in], &mut vector) };
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&vector),
                    bits(&scalar),
                    "{c_in} channels, {winners} winners"
                );
                if winners > 0 {
                    assert_ne!(
                        bits(&scalar),
                        bits(&start),
                        "{c_in} channels: nothing added"
                    );
                }
            }
        }
    }

    #[test]
    fn winners_are_gathered_in_window_order_without_the_blocked_windows() {
        // Two rows of two windows, 8 padded columns of 16 channels.
        let grads = [1.0, 2.0, 3.0, 4.0];
        let codes = [0, NO_WINNER, 3, 1];
        let mut out = vec![(0.0, 0); 4];
        let n = gather(&grads, &codes, [2, 8, 16], &mut out);
        assert_eq!(n, 3);
        // Window (1, 0) code 3: position (3, 1); window (1, 1) code 1: position (2, 3).
        assert_eq!(
            &out[..3],
            &[(1.0, 0), (3.0, (3 * 8 + 1) * 16), (4.0, (2 * 8 + 3) * 16)]
        );
    }
}
