//! Winograd F(2x2, 3x3) convolution with ReLU and 2x2 max-pool, for inference:
//! [`WinogradConv`].

use crate::direct::Dest;

/// Values per vector.
const LANES: usize = 16;
/// Most pool windows (2x2 output tiles) per register block.
const TILES: usize = 14;
/// Positions of a transformed 4x4 tile.
const XI: usize = 16;

/// `relu(conv3x3(x) + bias)` followed by a 2x2 max-pool, computed by Winograd's minimal
/// filtering F(2x2, 3x3), for inference.
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
/// (window codes are not written: this is for inference).
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
    bias: Vec<f32>,
}

/// `G g Gᵀ` for one 3x3 filter `g` (row-major), in `f64` and rounded once.
fn transform_filter(g: &[f32]) -> [f32; XI] {
    let g: Vec<f64> = g.iter().map(|&v| f64::from(v)).collect();
    // G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]].
    const G: [[f64; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];
    let mut out = [0.0f32; XI];
    for (a, ga) in G.iter().enumerate() {
        for (b, gb) in G.iter().enumerate() {
            let mut s = 0.0f64;
            for (r, &gar) in ga.iter().enumerate() {
                for (c, &gbc) in gb.iter().enumerate() {
                    s += gar * g[r * 3 + c] * gbc;
                }
            }
            out[a * 4 + b] = s as f32;
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
        if c_in == 0 || c_out == 0 || !c_in.is_multiple_of(LANES) || !c_out.is_multiple_of(LANES) {
            return None;
        }
        if weight.len() != c_out.checked_mul(c_in)?.checked_mul(9)? {
            return None;
        }
        let (hp, wp) = (h.checked_add(2 * pad)?, w.checked_add(2 * pad)?);
        if hp < 4 || wp < 4 || !(hp - 2).is_multiple_of(2) || !(wp - 2).is_multiple_of(2) {
            return None;
        }
        let vectors = c_out / LANES;
        let v = [2, 1].into_iter().find(|v| vectors.is_multiple_of(*v))?;
        let mut u = vec![0.0f32; XI * c_in * c_out];
        for co in 0..c_out {
            for ci in 0..c_in {
                let at = (co * c_in + ci) * 9;
                let t = transform_filter(&weight[at..at + 9]);
                for (xi, &value) in t.iter().enumerate() {
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
            bias: bias.to_vec(),
        })
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
        let last = dest.offset
            + (oh - 1) * dest.row
            + (ow - 1) * dest.col
            + (self.c_out - 1) * dest.channel;
        assert!(
            last < dest.data.len(),
            "winograd conv: destination too short"
        );
    }

    /// Computes the layer on one padded channels-last image `input` (length
    /// [`WinogradConv::padded_len`]) into `dest` (`dest.codes` is ignored); `scratch` is
    /// resized as needed and reused.
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
                    // Aᵀ m A, the bias, the ReLU and the window's maximum.
                    let mut cols = [[0.0f32; 2]; 4];
                    for (s, col) in cols.iter_mut().enumerate() {
                        *col = output_step([m[s], m[4 + s], m[8 + s], m[12 + s]]);
                    }
                    let top = output_step([cols[0][0], cols[1][0], cols[2][0], cols[3][0]]);
                    let bottom = output_step([cols[0][1], cols[1][1], cols[2][1], cols[3][1]]);
                    let b = self.bias[co];
                    let y = [top[0], top[1], bottom[0], bottom[1]].map(|v| relu(v + b));
                    let value = y[0].max(y[1]).max(y[2].max(y[3]));
                    dest.data[dest.offset + i * dest.row + j * dest.col + co * dest.channel] =
                        value;
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
    use crate::direct::x86::broadcast;

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
        let mut lanes = [0.0f32; LANES];
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
                    let at = dest.offset + i * dest.row + j * dest.col;
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
                        let b = _mm512_loadu_ps(c.bias.as_ptr().add(q));
                        let zero = _mm512_setzero_ps();
                        let mut y = [top[0], top[1], bottom[0], bottom[1]];
                        for y in &mut y {
                            *y = _mm512_max_ps(_mm512_add_ps(*y, b), zero);
                        }
                        let value =
                            _mm512_max_ps(_mm512_max_ps(y[0], y[1]), _mm512_max_ps(y[2], y[3]));
                        if dest.channel == 1 {
                            _mm512_storeu_ps(dest.data.as_mut_ptr().add(at + q), value);
                        } else {
                            _mm512_storeu_ps(lanes.as_mut_ptr(), value);
                            for (l, &v) in lanes.iter().enumerate() {
                                *dest.data.get_unchecked_mut(at + (q + l) * dest.channel) = v;
                            }
                        }
                    }
                }
            }
        }
    }
}
