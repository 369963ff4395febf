//! The fused convolution forward of training, computed directly: [`DirectPooled`].

use std::cell::RefCell;

use rayon::prelude::*;

use crate::conv::aligned;
use crate::direct::DirectConv;
use crate::geometry::Conv2dGeometry;

thread_local! {
    /// Per-thread zero-padded frames, one per input size `(c_in, h, w, pad)` seen: only
    /// their insides are written, so their borders stay zero from one image to the next.
    static FRAMES: RefCell<Vec<([usize; 4], Vec<f32>)>> = const { RefCell::new(Vec::new()) };
}

/// Most frames a thread keeps (a network has a few convolutions; past this they are dropped
/// and made again).
const MAX_FRAMES: usize = 8;

/// Columns of the convolution output per vector.
const LANES: usize = 16;
/// Convolution output rows per register tile: two rows of windows.
const ROWS: usize = 4;
/// Output channels per register tile (`ROWS * CHANNELS` accumulators).
const CHANNELS: usize = 6;

/// `pool(relu(conv(x) + bias))` for a batch of channels-first images into channels-first
/// pooled maps and window codes, as
/// [`conv2d_relu_pool_forward`](crate::conv2d_relu_pool_forward) writes them, without a
/// column matrix and with the same bits.
///
/// Vectors run along a row of the convolution output (16 columns), as in
/// [`DirectInputGrad`](crate::DirectInputGrad): a register tile holds 4 output rows (two
/// rows of windows) by 6 output channels. Each input row vector is read once per tap and
/// multiplied by 6 broadcast weights. Because the vectors are already channels first, the
/// bias, the ReLU and the pool are applied to each channel's rows in vectors (the even and
/// the odd columns picked by a permutation) and stored whole: no value is scattered one by
/// one, and the input is copied into its zero-padded frame row by row, not value by value.
///
/// Every conv value is one chain of fused multiply-adds from `+0.0` in ascending
/// `(c_in, k_y, k_x)`, as in the panel kernels, then `+ bias`, the ReLU, and the maximum of
/// the four ReLU outputs of its window with the first of equals as its code (see
/// [`DirectConv`] for why the padding's zeros and the vector maximum change no bit). Lanes
/// past the pooled columns compute from whatever the padded frame holds there and are not
/// stored.
#[derive(Debug, Clone)]
pub(crate) struct DirectPooled {
    c_in: usize,
    c_out: usize,
    k: usize,
    pad: usize,
    h: usize,
    w: usize,
    /// The weight as groups of [`CHANNELS`] output channels (the last one may be smaller):
    /// `[group][c_in][k_y][k_x][channel of the group]`.
    packed: Vec<f32>,
    bias: Vec<f32>,
}

impl DirectPooled {
    /// For the convolution of `g` (stride 1, a square kernel) with its 2x2 pool, when this
    /// CPU has AVX-512 F and the convolution output holds a window; `None` otherwise.
    pub(crate) fn new(weight: &[f32], bias: &[f32], g: &Conv2dGeometry) -> Option<Self> {
        if !DirectConv::supported() || g.stride() != 1 || g.k_h() != g.k_w() {
            return None;
        }
        if g.h_out() < 2 || g.w_out() < 2 || g.c_in() == 0 || g.c_out() == 0 {
            return None;
        }
        let (c_in, c_out, k) = (g.c_in(), g.c_out(), g.k_h());
        let kk = k * k;
        if weight.len() != c_out * c_in * kk || bias.len() != c_out {
            return None;
        }
        let mut packed = Vec::with_capacity(weight.len());
        for co0 in (0..c_out).step_by(CHANNELS) {
            let group = CHANNELS.min(c_out - co0);
            for ci in 0..c_in {
                for tap in 0..kk {
                    for co in co0..co0 + group {
                        packed.push(weight[(co * c_in + ci) * kk + tap]);
                    }
                }
            }
        }
        Some(Self {
            c_in,
            c_out,
            k,
            pad: g.pad(),
            h: g.h_in(),
            w: g.w_in(),
            packed,
            bias: bias.to_vec(),
        })
    }

    /// `(h + 2p, w + 2p)`.
    fn padded_dims(&self) -> (usize, usize) {
        (self.h + 2 * self.pad, self.w + 2 * self.pad)
    }

    /// `(h_out / 2, w_out / 2)`.
    fn pooled_dims(&self) -> (usize, usize) {
        let (hp, wp) = self.padded_dims();
        ((hp + 1 - self.k) / 2, (wp + 1 - self.k) / 2)
    }

    /// Length of the padded frame: `c_in` planes of `(h + 2p) x (w + 2p)`, and one vector
    /// more, so that the last tile's lanes past the output (not stored) stay inside it.
    fn padded_len(&self) -> usize {
        let (hp, wp) = self.padded_dims();
        self.c_in * hp * wp + LANES
    }

    /// The layer on `input [n, c_in, h, w]` into `out` and `codes` `[n, c_out, h_out / 2,
    /// w_out / 2]`: in parallel, one image per task (each image's values depend on it alone).
    ///
    /// # Panics
    /// When the lengths do not fit (the caller checked them).
    pub(crate) fn forward(&self, out: &mut [f32], codes: &mut [u8], input: &[f32]) {
        let (ph, pw) = self.pooled_dims();
        let (in_len, out_len) = (self.c_in * self.h * self.w, self.c_out * ph * pw);
        assert_eq!(input.len() % in_len, 0, "direct pooled: input length");
        let n = input.len() / in_len;
        assert!(
            out.len() == n * out_len && codes.len() == n * out_len,
            "direct pooled: output length"
        );
        let key = [self.c_in, self.h, self.w, self.pad];
        out.par_chunks_mut(out_len)
            .zip(codes.par_chunks_mut(out_len))
            .zip(input.par_chunks(in_len))
            .for_each(|((out, codes), image)| {
                FRAMES.with(|cell| {
                    let frames = &mut *cell.borrow_mut();
                    let at = match frames.iter().position(|(k, _)| *k == key) {
                        Some(at) => at,
                        None => {
                            if frames.len() == MAX_FRAMES {
                                frames.clear();
                            }
                            frames.push((key, Vec::new()));
                            frames.len() - 1
                        }
                    };
                    // On a 64-byte boundary: a tile's first tap reads whole cache lines.
                    let padded = aligned(&mut frames[at].1, self.padded_len());
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `new` returned `Some` only where AVX-512 F is supported; the
                    // frame has `padded_len` values, `image` one input image, and `out` and
                    // `codes` one image's pooled maps (checked above).
                    unsafe {
                        x86::image(self, image, padded, out, codes);
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    unreachable!("DirectPooled::new returns None without AVX-512");
                })
            });
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{DirectPooled, CHANNELS, LANES, ROWS};
    use crate::direct::x86::{broadcast, window_codes};

    /// Where one tile goes: pooled row `py0` (and `py0 + 1` when `R` is 4), pooled columns
    /// from `px0`, `store` of them, channels from `co0`.
    #[derive(Clone, Copy)]
    struct At {
        py0: usize,
        px0: usize,
        store: __mmask16,
        co0: usize,
    }

    /// `R` rows of the convolution output from padded row `y0` (`inp` points at padded
    /// `(0, y0, x0)`) by `T` output channels (`w` at their packed group), 16 columns from
    /// `x0`: the chains, then bias, ReLU and pool into the pooled maps.
    ///
    /// # Safety
    /// AVX-512 F; `inp` reaches `c_in` planes of the padded frame, `k + R - 1` rows and
    /// `16 + k - 1` columns from it; `w` holds the group's `c_in * k * k * T` values; `at`
    /// names pooled values and channels inside `out` and `codes`.
    #[target_feature(enable = "avx512f")]
    unsafe fn tile<const R: usize, const T: usize>(
        c: &DirectPooled,
        inp: *const f32,
        w: *const f32,
        out: *mut f32,
        codes: *mut u8,
        at: At,
    ) {
        let (hp, wp) = c.padded_dims();
        let plane = hp * wp;
        let k = c.k;
        let mut acc = [[_mm512_setzero_ps(); T]; R];
        let mut wt = w;
        for ci in 0..c.c_in {
            let frame = inp.add(ci * plane);
            for ky in 0..k {
                let row = frame.add(ky * wp);
                for kx in 0..k {
                    let mut x = [_mm512_setzero_ps(); R];
                    for (r, x) in x.iter_mut().enumerate() {
                        *x = _mm512_loadu_ps(row.add(r * wp + kx));
                    }
                    for t in 0..T {
                        let b = broadcast(wt.add(t));
                        for (acc, &x) in acc.iter_mut().zip(&x) {
                            acc[t] = _mm512_fmadd_ps(b, x, acc[t]);
                        }
                    }
                    wt = wt.add(T);
                }
            }
        }
        let (ph, pw) = c.pooled_dims();
        let even = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 14, 12, 10, 8, 6, 4, 2, 0);
        let odd = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 15, 13, 11, 9, 7, 5, 3, 1);
        let zero = _mm512_setzero_ps();
        for (t, co) in (at.co0..at.co0 + T).enumerate() {
            let b = _mm512_set1_ps(*c.bias.get_unchecked(co));
            // `v + bias` as the convolution adds its bias, then the ReLU (`max` with +0.0
            // gives +0.0 for NaN and -0.0, as `relu_forward` does).
            let relu = |v: __m512| _mm512_max_ps(_mm512_add_ps(v, b), zero);
            for pr in 0..R / 2 {
                let (top, bottom) = (relu(acc[2 * pr][t]), relu(acc[2 * pr + 1][t]));
                let window = [
                    _mm512_permutexvar_ps(even, top),
                    _mm512_permutexvar_ps(odd, top),
                    _mm512_permutexvar_ps(even, bottom),
                    _mm512_permutexvar_ps(odd, bottom),
                ];
                let m = _mm512_max_ps(
                    _mm512_max_ps(window[0], window[1]),
                    _mm512_max_ps(window[2], window[3]),
                );
                let index = (co * ph + at.py0 + pr) * pw + at.px0;
                _mm512_mask_storeu_ps(out.add(index), at.store, m);
                _mm512_mask_cvtepi32_storeu_epi8(
                    codes.add(index).cast(),
                    at.store,
                    window_codes(window, m),
                );
            }
        }
    }

    type TileFn = unsafe fn(&DirectPooled, *const f32, *const f32, *mut f32, *mut u8, At);

    macro_rules! tiles {
        ($r:literal) => {
            [
                tile::<$r, 1> as TileFn,
                tile::<$r, 2>,
                tile::<$r, 3>,
                tile::<$r, 4>,
                tile::<$r, 5>,
                tile::<$r, 6>,
            ]
        };
    }

    /// `TILES[rows / 2 - 1][channels - 1]`.
    static TILES: [[TileFn; CHANNELS]; ROWS / 2] = [tiles!(2), tiles!(4)];

    /// One image `[c_in, h, w]`: copied into the inside of `padded`, a frame of
    /// `DirectPooled::padded_len` values whose border is zero, then into `out` and `codes`,
    /// its pooled maps.
    ///
    /// # Safety
    /// AVX-512 F and those lengths.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn image(
        c: &DirectPooled,
        image: &[f32],
        padded: &mut [f32],
        out: &mut [f32],
        codes: &mut [u8],
    ) {
        let (hp, wp) = c.padded_dims();
        let (h, w, p) = (c.h, c.w, c.pad);
        // Row by row in masked vectors (`copy_from_slice` calls `memcpy` for each short row).
        let src = image.as_ptr();
        for ci in 0..c.c_in {
            for y in 0..h {
                let (from, to) = (src.add((ci * h + y) * w), padded.as_mut_ptr());
                let to = to.add((ci * hp + y + p) * wp + p);
                for x in (0..w).step_by(LANES) {
                    let m = ((1u32 << LANES.min(w - x)) - 1) as __mmask16;
                    _mm512_mask_storeu_ps(to.add(x), m, _mm512_maskz_loadu_ps(m, from.add(x)));
                }
            }
        }
        let (ph, pw) = c.pooled_dims();
        let group_len = c.c_in * c.k * c.k;
        // Conv columns 0..2 * pw in vectors of 16: 8 pooled columns each.
        for px0 in (0..pw).step_by(LANES / 2) {
            let lanes = (LANES / 2).min(pw - px0);
            let store = ((1u32 << lanes) - 1) as __mmask16;
            for py0 in (0..ph).step_by(ROWS / 2) {
                let rows = ROWS.min(2 * (ph - py0));
                let inp = padded.as_ptr().add(2 * py0 * wp + 2 * px0);
                for co0 in (0..c.c_out).step_by(CHANNELS) {
                    let t = CHANNELS.min(c.c_out - co0);
                    let at = At {
                        py0,
                        px0,
                        store,
                        co0,
                    };
                    TILES[rows / 2 - 1][t - 1](
                        c,
                        inp,
                        c.packed.as_ptr().add(co0 * group_len),
                        out.as_mut_ptr(),
                        codes.as_mut_ptr(),
                        at,
                    );
                }
            }
        }
    }
}
