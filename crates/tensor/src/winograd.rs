//! Winograd F(2x2, 3x3) convolution with ReLU and 2x2 max-pool, for inference and training:
//! [`WinogradConv`].

use std::cell::RefCell;

use rayon::prelude::*;

use crate::conv_pool::NO_WINNER;
use crate::direct::Dest;
use crate::error::{check_len, Result};
use crate::geometry::Conv2dGeometry;

/// A frame's shape `(c, h, w, pad)`, the frame, and the scratch of a run on it.
type Frame = ([usize; 4], Vec<f32>, Vec<f32>);

thread_local! {
    /// Per-thread zero-padded channels-last frames and scratch, one per shape seen: only a
    /// frame's inside is written, so its border stays zero from one image to the next.
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Most frames a thread keeps (a network has a few convolutions; past this they are dropped
/// and made again).
const MAX_FRAMES: usize = 8;

/// Calls `f` with this thread's zero-padded channels-last frame `[h + 2 pad][w + 2 pad][c]`
/// holding one channels-first image (`c` planes of `h x w`, plane `ci` from `planes[ci *
/// ld]`), and the thread's scratch for that shape.
///
/// # Panics
/// When `planes` is too short for `c` planes `ld` apart (a caller's bug), or when `f` calls
/// this again.
pub(crate) fn with_frame<R>(
    planes: &[f32],
    ld: usize,
    [c, h, w]: [usize; 3],
    pad: usize,
    f: impl FnOnce(&[f32], &mut Vec<f32>) -> R,
) -> R {
    assert!(
        c > 0 && ld >= h * w && planes.len() >= (c - 1) * ld + h * w,
        "winograd conv: planes"
    );
    let key = [c, h, w, pad];
    let (hp, wp) = (h + 2 * pad, w + 2 * pad);
    FRAMES.with(|cell| {
        let frames = &mut *cell.borrow_mut();
        let at = match frames.iter().position(|(k, ..)| *k == key) {
            Some(at) => at,
            None => {
                if frames.len() == MAX_FRAMES {
                    frames.clear();
                }
                frames.push((key, vec![0.0; hp * wp * c], Vec::new()));
                frames.len() - 1
            }
        };
        let (_, frame, scratch) = &mut frames[at];
        // Channels last: each padded position's `c` values together. Only the inside is
        // written; the border stays zero.
        #[cfg(target_arch = "x86_64")]
        if c.is_multiple_of(LANES)
            && ld <= i32::MAX as usize / LANES
            && crate::DirectConv::supported()
        {
            // SAFETY: AVX-512 F is present; the frame holds `hp * wp * c` values and
            // `planes` `c` planes of `h * w` values `ld` apart (asserted above).
            unsafe { x86::fill_frame(planes, ld, [c, h, w], pad, frame) };
            return f(frame, scratch);
        }
        for y in 0..h {
            for x in 0..w {
                let to = ((y + pad) * wp + x + pad) * c;
                for (ci, v) in frame[to..to + c].iter_mut().enumerate() {
                    *v = planes[ci * ld + y * w + x];
                }
            }
        }
        f(frame, scratch)
    })
}

/// Values per vector.
const LANES: usize = 16;
/// Most pool windows (2x2 output tiles) per register block.
const TILES: usize = 14;
/// Positions of a transformed 4x4 tile.
const XI: usize = 16;

/// `relu(conv3x3(x) + bias)` followed by a 2x2 max-pool, computed by Winograd's minimal
/// filtering F(2x2, 3x3): for inference, for training's forward
/// ([`WinogradConv::forward_batch`], with window codes), and without bias, ReLU or pool for
/// training's input gradient ([`WinogradConv::input_grad`]).
///
/// Each 2x2 block of convolution outputs, which is one pool window, comes from a 4x4 block of
/// the padded input: the block is transformed (`Bᵀ d B`, additions only), multiplied position
/// by position with the transformed weights (`G g Gᵀ`, computed once in `new`) and summed
/// over the input channels, then transformed back (`Aᵀ m A`). That takes 16 multiply-adds per
/// input channel, output channel and window where the direct convolution takes 36: 2.25
/// times fewer. The 16 products over the input channels are 16 small matrix products (windows
/// by output channels), run in register blocks of up to 14 windows by 2 vectors of 16 output
/// channels (28 accumulators). The windows go in blocks of at most 14, as even as can be (49
/// windows: 12, 12, 12, 13): a block's transformed inputs and its products for 32 channels
/// take 28 KB each (32 input channels), and the transformed weights are read once per block.
///
/// **Not the im2col chain's bits**: the sums are associated differently, so an output differs
/// from [`DirectConv`](crate::DirectConv)'s by rounding (the tests bound it by `1e-5` of the
/// sum of the absolute products). Its own order is fixed: every input transform, the chain
/// of fused multiply-adds from `+0.0` over the input channels in ascending order at each of
/// the 16 positions, and the back transform are written out operation by operation, the
/// same in the AVX-512 kernel and in [`WinogradConv::run_reference`] (plain scalar code, the
/// same bits). Each image is computed alone, so thread counts and batch sizes change nothing.
///
/// The input is as [`DirectConv`](crate::DirectConv) takes it: one image, zero-padded and
/// channels last (`[h + 2p][w + 2p][c_in]`); the pooled output goes where a [`Dest`] says
/// (and the window codes, when it names where; [`WinogradConv::forward_batch`] runs a
/// training batch of channels-first images).
///
/// `new` returns `None` unless the kernel is 3x3, both input and output channels are whole
/// vectors of 16, and the convolution output's sides are even (every pool window whole).
#[derive(Debug, Clone)]
pub struct WinogradConv {
    c_in: usize,
    c_out: usize,
    pad: usize,
    h: usize,
    w: usize,
    /// Vectors of 16 output channels per register block (1 or 2).
    v: usize,
    /// The transformed weight `G g Gᵀ` as `[16 positions][c_in][c_out]`.
    u: Vec<f32>,
    /// Bias, ReLU and the 2x2 max-pool after the convolution (else none of them).
    pool: bool,
    /// The bias (empty without the pool).
    bias: Vec<f32>,
}

/// `G g Gᵀ` for one 3x3 filter `g` (row-major), in `f64` and rounded once: `G g` first
/// (each column of `g`), then each of its rows times `Gᵀ`. `G` holds only 0, 1 and ±1/2, so
/// each step adds at most three values and halves.
fn transform_filter(g: [f32; 9]) -> [f32; XI] {
    let g = g.map(f64::from);
    // G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]], on three values.
    let side = |[a, b, c]: [f64; 3]| [a, 0.5 * ((a + b) + c), 0.5 * ((a - b) + c), c];
    // The columns of `G g`: side of each column of `g`.
    let cols: [[f64; 4]; 3] = std::array::from_fn(|c| side([g[c], g[3 + c], g[6 + c]]));
    let mut out = [0.0f32; XI];
    for r in 0..4 {
        let row = side([cols[0][r], cols[1][r], cols[2][r]]);
        for (s, &v) in row.iter().enumerate() {
            out[r * 4 + s] = v as f32;
        }
    }
    out
}

impl WinogradConv {
    /// Transforms `weight [c_out, c_in, 3, 3]` and keeps `bias [c_out]`, for images
    /// `[c_in, h, w]` with `pad` zeros on each side, stride 1, ReLU and a 2x2 max-pool.
    ///
    /// `None` when the layer is not one this takes (see the type). Any CPU: [`WinogradConv::run`]
    /// uses AVX-512 where the CPU has it and the scalar reference (the same bits) elsewhere.
    pub fn new(weight: &[f32], bias: &[f32], [c_in, h, w]: [usize; 3], pad: usize) -> Option<Self> {
        let c_out = bias.len();
        if weight.len() != c_out.checked_mul(c_in)?.checked_mul(9)? {
            return None;
        }
        let filter = |co: usize, ci: usize| {
            let at = (co * c_in + ci) * 9;
            std::array::from_fn(|tap| weight[at + tap])
        };
        Self::build(filter, [c_in, c_out], [h, w], pad, Some(bias))
    }

    /// The input gradient of the stride-1 3x3 convolution `weight [c_out, c_in, 3, 3]` on
    /// images `[c_in, h, w]` with `pad` zeros on each side (`pad` at most 2), as a convolution
    /// of its output gradient: `c_out` channels of `(h + 2 pad - 2) x (w + 2 pad - 2)`, padded
    /// by `2 - pad`, with each filter turned by 180 degrees and the channels swapped. Its
    /// [`WinogradConv::run`] writes all of `[c_in, h, w]`: no bias, ReLU or pool. `None` when
    /// the channels are not whole vectors of 16 or `h` or `w` is odd.
    pub fn input_grad(
        weight: &[f32],
        c_out: usize,
        [c_in, h, w]: [usize; 3],
        pad: usize,
    ) -> Option<Self> {
        if pad > 2 || h + 2 * pad < 3 || w + 2 * pad < 3 {
            return None;
        }
        if weight.len() != c_out.checked_mul(c_in)?.checked_mul(9)? {
            return None;
        }
        // Output channel `ci` of the gradient reads input channel `co`, turned.
        let filter = |ci: usize, co: usize| {
            let at = (co * c_in + ci) * 9;
            std::array::from_fn(|tap| weight[at + 8 - tap])
        };
        let grad = [h + 2 * pad - 2, w + 2 * pad - 2];
        Self::build(filter, [c_out, c_in], grad, 2 - pad, None)
    }

    /// The layer from `filter(output channel, input channel)` (3x3, row-major), pooled with
    /// `bias` when there is one, plain without.
    fn build(
        filter: impl Fn(usize, usize) -> [f32; 9],
        [c_in, c_out]: [usize; 2],
        [h, w]: [usize; 2],
        pad: usize,
        bias: Option<&[f32]>,
    ) -> Option<Self> {
        if c_in == 0 || c_out == 0 || !c_in.is_multiple_of(LANES) || !c_out.is_multiple_of(LANES) {
            return None;
        }
        // An empty image (all padding) is declined: a batch is counted in images.
        if h == 0 || w == 0 {
            return None;
        }
        let (hp, wp) = (h.checked_add(2 * pad)?, w.checked_add(2 * pad)?);
        if hp < 4 || wp < 4 || !(hp - 2).is_multiple_of(2) || !(wp - 2).is_multiple_of(2) {
            return None;
        }
        let vectors = c_out / LANES;
        let v = [2, 1].into_iter().find(|v| vectors.is_multiple_of(*v))?;
        let mut u = vec![0.0f32; XI * c_in * c_out];
        for ci in 0..c_in {
            for co in 0..c_out {
                for (xi, &value) in transform_filter(filter(co, ci)).iter().enumerate() {
                    u[(xi * c_in + ci) * c_out + co] = value;
                }
            }
        }
        Some(Self {
            c_in,
            c_out,
            pad,
            h,
            w,
            v,
            u,
            pool: bias.is_some(),
            bias: bias.map_or_else(Vec::new, <[f32]>::to_vec),
        })
    }

    /// [`WinogradConv::new`] for the convolution of `g` (stride 1, a 3x3 kernel) and its 2x2
    /// pool; `None` for any other layer, or one `new` declines.
    pub fn for_geometry(weight: &[f32], bias: &[f32], g: &Conv2dGeometry) -> Option<Self> {
        if g.stride() != 1 || g.k_h() != 3 || g.k_w() != 3 || bias.len() != g.c_out() {
            return None;
        }
        Self::new(weight, bias, [g.c_in(), g.h_in(), g.w_in()], g.pad())
    }

    /// Training's forward for a batch of channels-first images `input [n, c_in, h, w]`:
    /// pooled maps `out` and window codes `codes` `[n, c_out, h_out / 2, w_out / 2]`, laid
    /// out and coded as [`conv2d_relu_pool_forward`](crate::conv2d_relu_pool_forward) writes
    /// them (so its backward takes them), with this type's bits. In parallel, one image per
    /// task: each image is copied into a per-thread zero-padded channels-last frame and run
    /// as [`WinogradConv::run`] runs it, so the results are the same for any thread count and
    /// batch size.
    ///
    /// # Errors
    /// [`crate::Error::BufferLength`] when a slice does not fit.
    pub fn forward_batch(&self, out: &mut [f32], codes: &mut [u8], input: &[f32]) -> Result<()> {
        let op = "winograd_forward_batch";
        if !self.pool {
            return Err(crate::Error::InvalidGeometry {
                op,
                reason: "an input-gradient layer has no pooled forward".into(),
            });
        }
        let (c_in, h, w) = (self.c_in, self.h, self.w);
        let (oh, ow) = self.output_dims();
        let (in_len, out_len) = (c_in * h * w, self.c_out * oh * ow);
        let n = input.len() / in_len;
        check_len(op, "input", input.len(), n * in_len)?;
        check_len(op, "out", out.len(), n * out_len)?;
        check_len(op, "codes", codes.len(), n * out_len)?;
        out.par_chunks_mut(out_len)
            .zip(codes.par_chunks_mut(out_len))
            .zip(input.par_chunks(in_len))
            .for_each(|((out, codes), image)| {
                let dest = Dest {
                    data: out,
                    codes: Some(codes),
                    offset: 0,
                    row: ow,
                    col: 1,
                    channel: oh * ow,
                };
                self.run_planes(image, h * w, dest);
            });
        Ok(())
    }

    /// [`WinogradConv::run`] on one channels-first image: `c_in` planes of `h x w`, plane
    /// `c` from `planes[c * ld]`, copied first into this thread's zero-padded channels-last
    /// frame (kept from call to call, with its scratch).
    pub(crate) fn run_planes(&self, planes: &[f32], ld: usize, dest: Dest<'_>) {
        with_frame(
            planes,
            ld,
            [self.c_in, self.h, self.w],
            self.pad,
            |frame, scratch| {
                self.run(frame, scratch, dest);
            },
        );
    }

    /// Length of the padded channels-last input `[h + 2p][w + 2p][c_in]`.
    pub fn padded_len(&self) -> usize {
        let (hp, wp) = self.padded_dims();
        hp * wp * self.c_in
    }

    /// `(h + 2p, w + 2p)`.
    pub fn padded_dims(&self) -> (usize, usize) {
        (self.h + 2 * self.pad, self.w + 2 * self.pad)
    }

    /// Input channels.
    pub fn c_in(&self) -> usize {
        self.c_in
    }

    /// Output channels.
    pub fn c_out(&self) -> usize {
        self.c_out
    }

    /// Zero padding on each side.
    pub fn pad(&self) -> usize {
        self.pad
    }

    /// `(height, width)` of the pooled output: the pool windows.
    pub fn output_dims(&self) -> (usize, usize) {
        let (hp, wp) = self.padded_dims();
        ((hp - 2) / 2, (wp - 2) / 2)
    }

    /// Scratch values a run needs: one block's transformed inputs, and its products for one
    /// register block's channels.
    fn scratch_len(&self) -> usize {
        XI * TILES * (self.c_in + self.v * LANES)
    }

    /// The blocks of windows: `(first, count)`, as even as can be, at most [`TILES`] each.
    fn blocks(&self) -> impl Iterator<Item = (usize, usize)> {
        let (oh, ow) = self.output_dims();
        let windows = oh * ow;
        let count = windows.div_ceil(TILES);
        (0..count).map(move |b| {
            let first = b * windows / count;
            (first, (b + 1) * windows / count - first)
        })
    }

    fn check(&self, input: &[f32], dest: &Dest<'_>) {
        assert_eq!(
            input.len(),
            self.padded_len(),
            "winograd conv: input length"
        );
        let (oh, ow) = self.output_dims();
        // Without the pool, every position of the 2x2 blocks is an output.
        let (oh, ow) = if self.pool {
            (oh, ow)
        } else {
            (2 * oh, 2 * ow)
        };
        let last = dest.offset
            + (oh - 1) * dest.row
            + (ow - 1) * dest.col
            + (self.c_out - 1) * dest.channel;
        assert!(
            last < dest.data.len(),
            "winograd conv: destination too short"
        );
        if let Some(codes) = dest.codes.as_deref() {
            assert!(self.pool, "winograd conv: window codes without a pool");
            assert!(last < codes.len(), "winograd conv: codes too short");
        }
    }

    /// Computes the layer on one padded channels-last image `input` (length
    /// [`WinogradConv::padded_len`]) into `dest` (window codes too where `dest.codes` is
    /// `Some`); `scratch` is resized as needed and reused.
    ///
    /// # Panics
    /// When `input` has the wrong length or some output position falls outside `dest.data`
    /// (a caller's bug: the sizes are fixed by the layer).
    pub fn run(&self, input: &[f32], scratch: &mut Vec<f32>, mut dest: Dest<'_>) {
        self.check(input, &dest);
        if scratch.len() < self.scratch_len() {
            scratch.resize(self.scratch_len(), 0.0);
        }
        #[cfg(target_arch = "x86_64")]
        if crate::DirectConv::supported() {
            // SAFETY: AVX-512 F is present (checked just above); the input length and every
            // destination index were checked by `check`, and the scratch holds one block.
            unsafe { x86::run(self, input, scratch, &mut dest) };
            return;
        }
        self.reference(input, &mut dest);
    }

    /// [`WinogradConv::run`] in plain scalar code, operation by operation the same: the same
    /// bits on any CPU (the AVX-512 kernel is tested against it).
    ///
    /// # Panics
    /// As [`WinogradConv::run`].
    pub fn run_reference(&self, input: &[f32], mut dest: Dest<'_>) {
        self.check(input, &dest);
        self.reference(input, &mut dest);
    }

    fn reference(&self, input: &[f32], dest: &mut Dest<'_>) {
        let (c_in, c_out) = (self.c_in, self.c_out);
        let (_, wp) = self.padded_dims();
        let (oh, ow) = self.output_dims();
        // Bᵀ d B of the window's 4x4 input block, channel by channel: `x[xi * c_in + ci]`.
        let mut x = vec![0.0f32; XI * c_in];
        for i in 0..oh {
            for j in 0..ow {
                for ci in 0..c_in {
                    let d = |r: usize, s: usize| input[((2 * i + r) * wp + 2 * j + s) * c_in + ci];
                    let mut rows = [[0.0f32; 4]; 4];
                    for s in 0..4 {
                        let t4 = input_step([d(0, s), d(1, s), d(2, s), d(3, s)]);
                        for (r, row) in rows.iter_mut().enumerate() {
                            row[s] = t4[r];
                        }
                    }
                    for (r, row) in rows.iter().enumerate() {
                        for (s, &v) in input_step(*row).iter().enumerate() {
                            x[(r * 4 + s) * c_in + ci] = v;
                        }
                    }
                }
                for co in 0..c_out {
                    // The 16 products, each summed over the input channels.
                    let mut m = [0.0f32; XI];
                    for (xi, m) in m.iter_mut().enumerate() {
                        let mut acc = 0.0f32;
                        for ci in 0..c_in {
                            acc = x[xi * c_in + ci]
                                .mul_add(self.u[(xi * c_in + ci) * c_out + co], acc);
                        }
                        *m = acc;
                    }
                    // Aᵀ m A, then the bias, the ReLU and the window's maximum (with the pool).
                    let mut cols = [[0.0f32; 2]; 4];
                    for (s, col) in cols.iter_mut().enumerate() {
                        *col = output_step([m[s], m[4 + s], m[8 + s], m[12 + s]]);
                    }
                    let top = output_step([cols[0][0], cols[1][0], cols[2][0], cols[3][0]]);
                    let bottom = output_step([cols[0][1], cols[1][1], cols[2][1], cols[3][1]]);
                    if !self.pool {
                        for (p, v) in [top[0], top[1], bottom[0], bottom[1]]
                            .into_iter()
                            .enumerate()
                        {
                            let (y, x) = (2 * i + p / 2, 2 * j + p % 2);
                            dest.data
                                [dest.offset + y * dest.row + x * dest.col + co * dest.channel] = v;
                        }
                        continue;
                    }
                    let b = self.bias[co];
                    let y = [top[0], top[1], bottom[0], bottom[1]].map(|v| relu(v + b));
                    let value = y[0].max(y[1]).max(y[2].max(y[3]));
                    let at = dest.offset + i * dest.row + j * dest.col + co * dest.channel;
                    dest.data[at] = value;
                    if let Some(codes) = dest.codes.as_deref_mut() {
                        codes[at] = window_code(y, value);
                    }
                }
            }
        }
    }
}

/// One side of `Bᵀ d B`: `[d0 - d2, d1 + d2, d2 - d1, d1 - d3]`.
#[inline(always)]
fn input_step([d0, d1, d2, d3]: [f32; 4]) -> [f32; 4] {
    [d0 - d2, d1 + d2, d2 - d1, d1 - d3]
}

/// One side of `Aᵀ m A`: `[(m0 + m1) + m2, (m1 - m2) - m3]`.
#[inline(always)]
fn output_step([m0, m1, m2, m3]: [f32; 4]) -> [f32; 2] {
    [(m0 + m1) + m2, (m1 - m2) - m3]
}

/// The first of the window's four ReLU outputs `y` (row-major) equal to their maximum
/// `value`, or [`NO_WINNER`] where `value` is 0, as `conv2d_relu_pool_forward` codes it.
fn window_code(y: [f32; 4], value: f32) -> u8 {
    if value > 0.0 {
        // `value` is one of the four, so a position matches.
        y.iter()
            .position(|&v| v == value)
            .map_or(NO_WINNER, |p| p as u8)
    } else {
        NO_WINNER
    }
}

/// `v` when it is above zero, else `+0.0` (NaN too), as `_mm512_max_ps(v, 0)` gives.
#[inline(always)]
fn relu(v: f32) -> f32 {
    if v > 0.0 {
        v
    } else {
        0.0
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Dest, WinogradConv, LANES, TILES, XI};
    use crate::direct::x86::{broadcast, put, put_codes};

    /// The inside of a zero-padded channels-last frame from `c` channels-first planes, 16
    /// channels of a position at a time, gathered from their planes.
    ///
    /// # Safety
    /// AVX-512 F; `c` a multiple of 16; `planes` holds `c` planes of `h * w` values `ld`
    /// apart (`(c - 1) * ld + h * w` at least, `ld * 15` within `i32`), `frame`
    /// `(h + 2 pad) * (w + 2 pad) * c` values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn fill_frame(
        planes: &[f32],
        ld: usize,
        [c, h, w]: [usize; 3],
        pad: usize,
        frame: &mut [f32],
    ) {
        let wp = w + 2 * pad;
        let step = ld as i32;
        let index = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32(step),
        );
        let (src, dst) = (planes.as_ptr(), frame.as_mut_ptr());
        for y in 0..h {
            for x in 0..w {
                let to = dst.add(((y + pad) * wp + x + pad) * c);
                for cg in (0..c).step_by(LANES) {
                    let from = src.add(cg * ld + y * w + x);
                    let v = _mm512_i32gather_ps::<4>(index, from.cast());
                    _mm512_storeu_ps(to.add(cg), v);
                }
            }
        }
    }

    /// `[d0 - d2, d1 + d2, d2 - d1, d1 - d3]` in vectors.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn input_step([d0, d1, d2, d3]: [__m512; 4]) -> [__m512; 4] {
        [
            _mm512_sub_ps(d0, d2),
            _mm512_add_ps(d1, d2),
            _mm512_sub_ps(d2, d1),
            _mm512_sub_ps(d1, d3),
        ]
    }

    /// `[(m0 + m1) + m2, (m1 - m2) - m3]` in vectors.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn output_step([m0, m1, m2, m3]: [__m512; 4]) -> [__m512; 2] {
        [
            _mm512_add_ps(_mm512_add_ps(m0, m1), m2),
            _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3),
        ]
    }

    /// The products of one position `xi` for `T` windows by `V` vectors of output
    /// channels: `m[t][co] = fma chain over ci of x[t][ci] * u[ci][co]` from `+0.0`.
    ///
    /// # Safety
    /// AVX-512 F; `x` holds `T` rows of stride `16 * c_in`, `u` `c_in` rows of stride `c_out`
    /// with `V * 16` values from its start, `m` `T` rows of stride `m_stride` likewise.
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const V: usize, const T: usize>(
        x: *const f32,
        u: *const f32,
        c_in: usize,
        c_out: usize,
        m: *mut f32,
        m_stride: usize,
    ) {
        let mut acc = [[_mm512_setzero_ps(); V]; T];
        for ci in 0..c_in {
            let mut uv = [_mm512_setzero_ps(); V];
            for (q, uv) in uv.iter_mut().enumerate() {
                *uv = _mm512_loadu_ps(u.add(ci * c_out + q * LANES));
            }
            for (t, acc) in acc.iter_mut().enumerate() {
                let b = broadcast(x.add(t * XI * c_in + ci));
                for (acc, &uv) in acc.iter_mut().zip(&uv) {
                    *acc = _mm512_fmadd_ps(b, uv, *acc);
                }
            }
        }
        for (t, acc) in acc.iter().enumerate() {
            for (q, &acc) in acc.iter().enumerate() {
                _mm512_storeu_ps(m.add(t * m_stride + q * LANES), acc);
            }
        }
    }

    type BlockFn = unsafe fn(*const f32, *const f32, usize, usize, *mut f32, usize);

    macro_rules! blocks {
        ($v:literal) => {
            [
                block::<$v, 1> as BlockFn,
                block::<$v, 2>,
                block::<$v, 3>,
                block::<$v, 4>,
                block::<$v, 5>,
                block::<$v, 6>,
                block::<$v, 7>,
                block::<$v, 8>,
                block::<$v, 9>,
                block::<$v, 10>,
                block::<$v, 11>,
                block::<$v, 12>,
                block::<$v, 13>,
                block::<$v, 14>,
            ]
        };
    }

    /// `BLOCKS[v - 1][t - 1]`.
    static BLOCKS: [[BlockFn; TILES]; 2] = [blocks!(1), blocks!(2)];

    /// # Safety
    /// AVX-512 F; `input` has the layer's padded length, every index `dest` is written at
    /// was checked, `scratch` holds [`WinogradConv::scratch_len`] values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run(
        c: &WinogradConv,
        input: &[f32],
        scratch: &mut [f32],
        dest: &mut Dest<'_>,
    ) {
        let (c_in, c_out) = (c.c_in, c.c_out);
        let (_, wp) = c.padded_dims();
        let (_, ow) = c.output_dims();
        let (vbuf, mbuf) = scratch.split_at_mut(XI * TILES * c_in);
        let (vbuf, mbuf) = (vbuf.as_mut_ptr(), mbuf.as_mut_ptr());
        let inp = input.as_ptr();
        let group = c.v * LANES;
        let blocks = &BLOCKS[c.v - 1];
        for (start, n) in c.blocks() {
            for t in 0..n {
                let (i, j) = ((start + t) / ow, (start + t) % ow);
                let corner = inp.add((2 * i * wp + 2 * j) * c_in);
                for cv in (0..c_in).step_by(LANES) {
                    let mut rows = [[_mm512_setzero_ps(); 4]; 4];
                    for s in 0..4 {
                        let mut col = [_mm512_setzero_ps(); 4];
                        for (r, d) in col.iter_mut().enumerate() {
                            *d = _mm512_loadu_ps(corner.add((r * wp + s) * c_in + cv));
                        }
                        for (row, t) in rows.iter_mut().zip(input_step(col)) {
                            row[s] = t;
                        }
                    }
                    for (r, row) in rows.iter().enumerate() {
                        let v4 = input_step(*row);
                        for (s, &v) in v4.iter().enumerate() {
                            _mm512_storeu_ps(vbuf.add((t * XI + r * 4 + s) * c_in + cv), v);
                        }
                    }
                }
            }
            let block = blocks[n - 1];
            for g in (0..c_out).step_by(group) {
                for xi in 0..XI {
                    block(
                        vbuf.add(xi * c_in),
                        c.u.as_ptr().add(xi * c_in * c_out + g),
                        c_in,
                        c_out,
                        mbuf.add(xi * group),
                        XI * group,
                    );
                }
                for t in 0..n {
                    let (i, j) = ((start + t) / ow, (start + t) % ow);
                    for q in (g..g + group).step_by(LANES) {
                        let mut m = [_mm512_setzero_ps(); XI];
                        for (xi, m) in m.iter_mut().enumerate() {
                            *m = _mm512_loadu_ps(mbuf.add((t * XI + xi) * group + q - g));
                        }
                        let mut cols = [[_mm512_setzero_ps(); 2]; 4];
                        for (s, col) in cols.iter_mut().enumerate() {
                            *col = output_step([m[s], m[4 + s], m[8 + s], m[12 + s]]);
                        }
                        let top = output_step([cols[0][0], cols[1][0], cols[2][0], cols[3][0]]);
                        let bottom = output_step([cols[0][1], cols[1][1], cols[2][1], cols[3][1]]);
                        if !c.pool {
                            for (p, v) in [top[0], top[1], bottom[0], bottom[1]]
                                .into_iter()
                                .enumerate()
                            {
                                let (y, x) = (2 * i + p / 2, 2 * j + p % 2);
                                put(dest, y, x, q, v);
                            }
                            continue;
                        }
                        let b = _mm512_loadu_ps(c.bias.as_ptr().add(q));
                        let zero = _mm512_setzero_ps();
                        let mut y = [top[0], top[1], bottom[0], bottom[1]];
                        for y in &mut y {
                            *y = _mm512_max_ps(_mm512_add_ps(*y, b), zero);
                        }
                        let value =
                            _mm512_max_ps(_mm512_max_ps(y[0], y[1]), _mm512_max_ps(y[2], y[3]));
                        if dest.codes.is_some() {
                            put_codes(dest, i, j, q, y, value);
                        }
                        put(dest, i, j, q, value);
                    }
                }
            }
        }
    }
}
