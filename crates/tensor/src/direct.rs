//! Direct convolution for inference: [`DirectConv`].

/// Output channels per vector.
const LANES: usize = 16;
/// Widest register tile, in output positions.
const MAX_T: usize = 14;

/// Most output positions a tile of `v` vectors of channels takes: `t * v` accumulators, `v`
/// weight vectors and one broadcast must fit AVX-512's 32 registers (more and the compiler
/// spills accumulators to the stack).
fn max_positions(v: usize) -> usize {
    ((32 - 1 - v) / v).min(MAX_T)
}

/// Where a [`DirectConv`] writes its output value at `(y, x, c)` (after the pool when there
/// is one): `data[offset + y * row + x * col + c * channel]`.
#[derive(Debug)]
pub struct Dest<'a> {
    /// The buffer written into; values outside the output's positions are not touched.
    pub data: &'a mut [f32],
    /// With a pool: where each pooled value's window code goes (at the same index as the
    /// value in `data`), as [`conv2d_relu_pool_forward`](crate::conv2d_relu_pool_forward)
    /// writes them for its backward pass. `None` for inference.
    pub codes: Option<&'a mut [u8]>,
    /// Index of output `(0, 0, 0)`.
    pub offset: usize,
    /// Stride between output rows.
    pub row: usize,
    /// Stride between output columns.
    pub col: usize,
    /// Stride between output channels (1 for channels last).
    pub channel: usize,
}

/// Direct convolution for inference: one image at a time, channels last, no column matrix.
///
/// [`DirectConv`] computes `relu(conv(x) + bias)`, optionally 2x2 max-pooled, for a stride-1
/// convolution whose output channels come in whole vectors of 16. The input is one image,
/// zero-padded and channels last (`[h + 2p][w + 2p][c_in]`, see [`DirectConv::padded_len`]);
/// the output goes wherever a [`Dest`] says (the next convolution's padded input, or the
/// channels-first features a dense layer reads).
///
/// Why it is fast at batch 1: the column matrix of the im2col path (`c_in * k * k` rows by
/// `h * w` columns, 225 KB for the second LeNet-style convolution) is never written. A register
/// tile holds `T` output positions of one row by `V` vectors of 16 output channels (up to 28
/// AVX-512 accumulators); each input value is broadcast from the padded image and multiplied
/// into `V` weight vectors that are read in order from a packed copy. Two output rows at a
/// time go to a small scratch buffer, where bias, ReLU and the pool are applied in vectors.
///
/// Bit-identical to [`conv2d_forward`](crate::conv2d_forward) followed by
/// [`relu_forward`](crate::relu_forward) (and [`maxpool2x2_forward`](crate::maxpool2x2_forward)):
/// every output is one chain of fused multiply-adds from `+0.0` in ascending
/// `(c_in, k_y, k_x)`, as in the panel kernels, then `+ bias`, then the ReLU, then the maximum
/// of the four ReLU outputs of its window. The padding's zeros are multiplied in like any
/// other input, as the column matrix does (an `fma` with a zero product leaves a non-zero
/// sum unchanged and turns `+0.0` into `+0.0`, so this is the same as skipping them). The
/// ReLU outputs are never `-0.0` or NaN, so taking their maximum in vectors compares the same
/// as the pool's first-of-equals scan.
///
/// Only AVX-512 is implemented: [`DirectConv::new`] returns `None` on other CPUs, where the
/// caller keeps the im2col path (which gives the same bits).
#[derive(Debug, Clone)]
pub struct DirectConv {
    c_in: usize,
    c_out: usize,
    k: usize,
    pad: usize,
    h: usize,
    w: usize,
    pool: bool,
    /// Vectors of 16 output channels per register tile (1-4).
    v: usize,
    /// Output positions per register tile.
    t: usize,
    /// The weight as `[group][c_in][k_y][k_x][v * 16]`, groups of `v * 16` output channels.
    packed: Vec<f32>,
    bias: Vec<f32>,
}

impl DirectConv {
    /// Packs `weight [c_out, c_in, k, k]` and `bias [c_out]` for images `[c_in, h, w]` with
    /// `pad` zeros on each side, stride 1, and a 2x2 max-pool after the ReLU when `pool`.
    ///
    /// `None` when this CPU has no AVX-512, `c_out` is not a multiple of 16, the sizes do not
    /// fit each other, or the output (or the pooled output) would be empty.
    pub fn new(
        weight: &[f32],
        bias: &[f32],
        [c_in, h, w]: [usize; 3],
        k: usize,
        pad: usize,
        pool: bool,
    ) -> Option<Self> {
        if !Self::supported() {
            return None;
        }
        let c_out = bias.len();
        if c_in == 0 || k == 0 || c_out == 0 || !c_out.is_multiple_of(LANES) {
            return None;
        }
        if weight.len() != c_out.checked_mul(c_in)?.checked_mul(k * k)? {
            return None;
        }
        let (hp, wp) = (h + 2 * pad, w + 2 * pad);
        if hp < k || wp < k {
            return None;
        }
        let (ho, wo) = (hp - k + 1, wp - k + 1);
        if pool && (ho < 2 || wo < 2) {
            return None;
        }
        // The register tile: v vectors of channels (dividing the channels evenly) by t
        // positions, computing the fewest positions per row (the last tile of a row overlaps
        // the one before it), then the most accumulators.
        let vectors = c_out / LANES;
        let (v, t) = (1..=4)
            .filter(|v| vectors.is_multiple_of(*v))
            .map(|v| (v, max_positions(v).min(wo)))
            .min_by_key(|&(v, t)| (wo.div_ceil(t) * t, usize::MAX - v * t))?;
        let group = v * LANES;
        let kk = k * k;
        let mut packed = Vec::with_capacity(weight.len());
        for g in 0..c_out / group {
            for ci in 0..c_in {
                for tap in 0..kk {
                    for j in 0..group {
                        packed.push(weight[((g * group + j) * c_in + ci) * kk + tap]);
                    }
                }
            }
        }
        Some(Self {
            c_in,
            c_out,
            k,
            pad,
            h,
            w,
            pool,
            v,
            t,
            packed,
            bias: bias.to_vec(),
        })
    }

    /// Whether this CPU runs [`DirectConv`] (AVX-512 F).
    pub fn supported() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
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

    /// `(height, width)` of the output: the convolution's, halved (rounding down) with the pool.
    pub fn output_dims(&self) -> (usize, usize) {
        let (hp, wp) = self.padded_dims();
        let (ho, wo) = (hp - self.k + 1, wp - self.k + 1);
        if self.pool {
            (ho / 2, wo / 2)
        } else {
            (ho, wo)
        }
    }

    /// Scratch values [`DirectConv::run`] needs (two convolution rows).
    fn scratch_len(&self) -> usize {
        let (_, wp) = self.padded_dims();
        2 * (wp - self.k + 1) * self.c_out
    }

    /// Computes the layer on one padded channels-last image `input` (length
    /// [`DirectConv::padded_len`]) into `dest`; `scratch` is resized as needed and reused.
    ///
    /// # Panics
    /// When `input` has the wrong length or some output position falls outside `dest.data`
    /// (a caller's bug: the sizes are fixed by the layer).
    pub fn run(&self, input: &[f32], scratch: &mut Vec<f32>, dest: Dest<'_>) {
        assert_eq!(input.len(), self.padded_len(), "direct conv: input length");
        let (oh, ow) = self.output_dims();
        let last = dest.offset
            + (oh - 1) * dest.row
            + (ow - 1) * dest.col
            + (self.c_out - 1) * dest.channel;
        assert!(last < dest.data.len(), "direct conv: destination too short");
        if let Some(codes) = dest.codes.as_deref() {
            assert!(self.pool, "direct conv: window codes without a pool");
            assert!(last < codes.len(), "direct conv: codes too short");
        }
        if scratch.len() < self.scratch_len() {
            scratch.resize(self.scratch_len(), 0.0);
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `new` returned `Some` only where `DirectConv::supported()` (AVX-512 F) holds; the input
        // length and every destination index were checked above, and the scratch holds two
        // convolution rows.
        unsafe {
            x86::run(self, input, scratch, dest);
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("DirectConv::new returns None without AVX-512");
    }
}

/// The input gradient of a stride-1 convolution, computed directly: what the im2col
/// backward computes as `grad_col = weightᵀ · grad_out` followed by `col2im`, without either
/// matrix, with the same bits.
///
/// Each input value `(ci, y, x)` gets, for each tap `(ky, kx)` in ascending order, the chain of
/// fused multiply-adds over the output channels in ascending order from `+0.0` (one value of
/// `grad_col`, as the panel product computes it), added onto the input gradient, which starts
/// at `+0.0` (as `col2im` adds onto its zeroed image). Lanes whose tap falls outside the
/// output load `0.0` (masked loads, no padded copy): their chain is exactly `+0.0` and adding
/// it changes no sum, so this is the same as `col2im` skipping them.
///
/// Vectors run along a row of the input (16 positions; a 14-wide row is one masked vector):
/// a register tile holds 3 rows by 8 input channels, each gradient row vector is loaded once
/// per tap and output channel and multiplied by 8 broadcast weights.
///
/// `None` without AVX-512, or when the padding is `k` or more (then some outputs see only
/// padding and the scheme does not apply).
#[derive(Debug, Clone)]
pub struct DirectInputGrad {
    c_in: usize,
    c_out: usize,
    k: usize,
    pad: usize,
    h: usize,
    w: usize,
    /// The weight as `[k_y][k_x][c_out][c_in]`.
    packed: Vec<f32>,
}

/// Input channels per register tile of [`DirectInputGrad`].
const GRAD_CHANNELS: usize = 8;
/// Input rows per register tile of [`DirectInputGrad`].
const GRAD_ROWS: usize = 3;

impl DirectInputGrad {
    /// Packs `weight [c_out, c_in, k, k]` for the input gradient of images `[c_in, h, w]`
    /// with `pad` zeros on each side and stride 1.
    pub fn new(
        weight: &[f32],
        c_out: usize,
        [c_in, h, w]: [usize; 3],
        k: usize,
        pad: usize,
    ) -> Option<Self> {
        if !DirectConv::supported() || c_in == 0 || c_out == 0 || k == 0 || h == 0 || w == 0 {
            return None;
        }
        if pad >= k || h + 2 * pad < k || w + 2 * pad < k {
            return None;
        }
        if weight.len() != c_out.checked_mul(c_in)?.checked_mul(k * k)? {
            return None;
        }
        let kk = k * k;
        let mut packed = Vec::with_capacity(weight.len());
        for tap in 0..kk {
            for co in 0..c_out {
                for ci in 0..c_in {
                    packed.push(weight[(co * c_in + ci) * kk + tap]);
                }
            }
        }
        Some(Self {
            c_in,
            c_out,
            k,
            pad,
            h,
            w,
            packed,
        })
    }

    /// `(rows, cols)` of the output gradient (the convolution's output).
    pub fn grad_dims(&self) -> (usize, usize) {
        (
            self.h + 2 * self.pad + 1 - self.k,
            self.w + 2 * self.pad + 1 - self.k,
        )
    }

    /// Overwrites `grad_input [c_in, h, w]` (channels first) with dL/d input of one image,
    /// from `grad` = dL/d output, channels first, each channel's plane of
    /// [`DirectInputGrad::grad_dims`] values starting `plane` values after the previous one
    /// (`plane` is the plane's size for one image alone, larger for images side by side).
    ///
    /// # Panics
    /// When a length does not fit (a caller's bug: the sizes are fixed by the layer).
    pub fn run(&self, grad: &[f32], plane: usize, grad_input: &mut [f32]) {
        let (ho, wo) = self.grad_dims();
        assert!(plane >= ho * wo, "direct input gradient: planes overlap");
        assert!(
            grad.len() >= (self.c_out - 1) * plane + ho * wo,
            "direct input gradient: grad length"
        );
        assert_eq!(
            grad_input.len(),
            self.c_in * self.h * self.w,
            "direct input gradient: length"
        );
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `new` returned `Some` only where AVX-512 F is supported; the lengths were
        // checked above (every lane the kernel reads is inside some plane of `grad`). Every
        // value of `grad_input` is written (its first tap onto `+0.0`).
        unsafe {
            x86::input_grad(self, grad, plane, grad_input);
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("DirectInputGrad::new returns None without AVX-512");
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    use super::{Dest, DirectConv, DirectInputGrad, GRAD_CHANNELS, GRAD_ROWS, LANES, MAX_T};
    use crate::conv_pool::NO_WINNER;

    /// A register tile: `T` output positions of one row by `V` vectors of channels.
    type TileFn = unsafe fn(*const f32, usize, usize, usize, *const f32, *mut f32, usize);

    /// `out[t * out_stride + v * 16 + lane]` = the chain of `fma`s in ascending
    /// `(ci, ky, kx)` for output position `t` of the row whose top-left input is `inp`
    /// (padded, channels last, row stride `row_stride`), channels of this group.
    ///
    /// # Safety
    /// AVX-512 F; `inp` reaches `k` rows of `T + k - 1` positions of `c_in` values, `w`
    /// holds `c_in * k * k * V * 16` values, `out` `T` positions of stride `out_stride`.
    #[target_feature(enable = "avx512f")]
    unsafe fn tile<const V: usize, const T: usize>(
        inp: *const f32,
        row_stride: usize,
        c_in: usize,
        k: usize,
        w: *const f32,
        out: *mut f32,
        out_stride: usize,
    ) {
        let mut acc = [[_mm512_setzero_ps(); V]; T];
        let mut wp = w;
        for ci in 0..c_in {
            for ky in 0..k {
                let row = inp.add(ky * row_stride + ci);
                for kx in 0..k {
                    let mut wv = [_mm512_setzero_ps(); V];
                    for (v, wv) in wv.iter_mut().enumerate() {
                        *wv = _mm512_loadu_ps(wp.add(v * LANES));
                    }
                    wp = wp.add(V * LANES);
                    for (t, acc) in acc.iter_mut().enumerate() {
                        let b = broadcast(row.add((t + kx) * c_in));
                        for (acc, &wv) in acc.iter_mut().zip(&wv) {
                            *acc = _mm512_fmadd_ps(wv, b, *acc);
                        }
                    }
                }
            }
        }
        for (t, acc) in acc.iter().enumerate() {
            for (v, &acc) in acc.iter().enumerate() {
                _mm512_storeu_ps(out.add(t * out_stride + v * LANES), acc);
            }
        }
    }

    /// `*p` in all 16 lanes, as one instruction the compiler keeps where it is: left to
    /// itself, it notices that position `t` at tap `kx + 1` reads what position `t + 1` read
    /// at tap `kx`, carries the broadcasts from one tap to the next and, out of registers,
    /// shuffles and spills the accumulators (measured 1.5x slower).
    ///
    /// # Safety
    /// AVX-512 F; `p` is readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn broadcast(p: *const f32) -> __m512 {
        let v: __m512;
        std::arch::asm!(
            "vbroadcastss {v}, dword ptr [{p}]",
            v = out(zmm_reg) v,
            p = in(reg) p,
            options(nostack, readonly, preserves_flags),
        );
        v
    }

    macro_rules! tiles {
        ($v:literal; $($t:literal)*) => { [$(tile::<$v, $t> as TileFn),*] };
    }

    /// `TILES[v - 1][t - 1]`; tiles wider than `max_positions(v)` are never picked and
    /// repeat the widest one that fits.
    static TILES: [[TileFn; MAX_T]; 4] = [
        tiles!(1; 1 2 3 4 5 6 7 8 9 10 11 12 13 14),
        tiles!(2; 1 2 3 4 5 6 7 8 9 10 11 12 13 14),
        tiles!(3; 1 2 3 4 5 6 7 8 9 9 9 9 9 9),
        tiles!(4; 1 2 3 4 5 6 6 6 6 6 6 6 6 6),
    ];

    /// One convolution row `y` (all groups) into `out` (`[w_out][c_out]`).
    ///
    /// # Safety
    /// AVX-512 F; `input` is the layer's padded input and `out` holds `w_out * c_out` values.
    #[target_feature(enable = "avx512f")]
    unsafe fn conv_row(c: &DirectConv, input: &[f32], y: usize, out: &mut [f32]) {
        let (_, wp) = c.padded_dims();
        let wo = wp - c.k + 1;
        let group = c.v * LANES;
        let tile = TILES[c.v - 1][c.t - 1];
        let row_stride = wp * c.c_in;
        let group_len = c.c_in * c.k * c.k * group;
        let mut x0 = 0;
        while x0 < wo {
            // The last tile overlaps the one before rather than running short: it recomputes
            // a few outputs, with the same bits.
            let x = x0.min(wo - c.t);
            for g in 0..c.c_out / group {
                tile(
                    input.as_ptr().add(y * row_stride + x * c.c_in),
                    row_stride,
                    c.c_in,
                    c.k,
                    c.packed.as_ptr().add(g * group_len),
                    out.as_mut_ptr().add(x * c.c_out + g * group),
                    c.c_out,
                );
            }
            x0 += c.t;
        }
    }

    /// `relu(*p + b)` as 16 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn relu_at(p: *const f32, b: __m512) -> __m512 {
        _mm512_max_ps(_mm512_add_ps(_mm512_loadu_ps(p), b), _mm512_setzero_ps())
    }

    /// Writes 16 channels `j..j + 16` of output `(y, x)`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn put(dest: &mut Dest<'_>, y: usize, x: usize, j: usize, v: __m512) {
        let at = dest.offset + y * dest.row + x * dest.col + j * dest.channel;
        if dest.channel == 1 {
            _mm512_storeu_ps(dest.data.as_mut_ptr().add(at), v);
        } else {
            let mut lanes = [0.0f32; LANES];
            _mm512_storeu_ps(lanes.as_mut_ptr(), v);
            for (l, &value) in lanes.iter().enumerate() {
                *dest.data.get_unchecked_mut(at + l * dest.channel) = value;
            }
        }
    }

    /// Writes the window codes of channels `j..j + 16` of pooled output `(y, x)`: the first of
    /// the four ReLU outputs `window` (row-major) equal to their maximum `m`, or
    /// [`NO_WINNER`] where `m` is 0 (as `conv2d_relu_pool_forward` writes them).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn put_codes(
        dest: &mut Dest<'_>,
        y: usize,
        x: usize,
        j: usize,
        window: [__m512; 4],
        m: __m512,
    ) {
        let at = dest.offset + y * dest.row + x * dest.col + j * dest.channel;
        let mut bytes = [0u8; LANES];
        _mm_storeu_si128(
            bytes.as_mut_ptr().cast(),
            _mm512_cvtepi32_epi8(window_codes(window, m)),
        );
        if let Some(codes) = dest.codes.as_deref_mut() {
            for (l, &b) in bytes.iter().enumerate() {
                *codes.get_unchecked_mut(at + l * dest.channel) = b;
            }
        }
    }

    /// The code of each lane's window: the first of its four ReLU outputs `window`
    /// (row-major) equal to their maximum `m`, or [`NO_WINNER`] where `m` is 0.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn window_codes(window: [__m512; 4], m: __m512) -> __m512i {
        let code = |c: u8| _mm512_set1_epi32(i32::from(c));
        let eq = |v: __m512| _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, m);
        let mut k = _mm512_mask_blend_epi32(eq(window[2]), code(3), code(2));
        k = _mm512_mask_blend_epi32(eq(window[1]), k, code(1));
        k = _mm512_mask_blend_epi32(eq(window[0]), k, code(0));
        let positive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(m, _mm512_setzero_ps());
        _mm512_mask_blend_epi32(positive, code(NO_WINNER), k)
    }

    /// # Safety
    /// As [`DirectConv::run`] checked: AVX-512 F, sizes and destination indices.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run(
        c: &DirectConv,
        input: &[f32],
        scratch: &mut [f32],
        mut dest: Dest<'_>,
    ) {
        let (hp, wp) = c.padded_dims();
        let (ho, wo) = (hp - c.k + 1, wp - c.k + 1);
        let co = c.c_out;
        let (rows, rest) = scratch.split_at_mut(wo * co);
        if c.pool {
            let below = &mut rest[..wo * co];
            for py in 0..ho / 2 {
                conv_row(c, input, 2 * py, rows);
                conv_row(c, input, 2 * py + 1, below);
                let (top, bottom) = (rows.as_ptr(), below.as_ptr());
                for px in 0..wo / 2 {
                    for j in (0..co).step_by(LANES) {
                        let b = _mm512_loadu_ps(c.bias.as_ptr().add(j));
                        let (a0, a1) = ((2 * px) * co + j, (2 * px + 1) * co + j);
                        let (t0, t1) = (relu_at(top.add(a0), b), relu_at(top.add(a1), b));
                        let (b0, b1) = (relu_at(bottom.add(a0), b), relu_at(bottom.add(a1), b));
                        let m = _mm512_max_ps(_mm512_max_ps(t0, t1), _mm512_max_ps(b0, b1));
                        put(&mut dest, py, px, j, m);
                        if dest.codes.is_some() {
                            put_codes(&mut dest, py, px, j, [t0, t1, b0, b1], m);
                        }
                    }
                }
            }
        } else {
            for y in 0..ho {
                conv_row(c, input, y, rows);
                for x in 0..wo {
                    for j in (0..co).step_by(LANES) {
                        let b = _mm512_loadu_ps(c.bias.as_ptr().add(j));
                        put(
                            &mut dest,
                            y,
                            x,
                            j,
                            relu_at(rows.as_ptr().add(x * co + j), b),
                        );
                    }
                }
            }
        }
    }

    /// `R` input rows from `y0` by `T` input channels of the input gradient, one vector of
    /// 16 columns from `x0` (`store` says which lanes are inside the image): for each tap,
    /// the chain over the output channels, added onto `out`.
    ///
    /// `g` points at the output gradient's channel 0 (`[c_out][h_out][w_out]`, channel stride
    /// `plane`), unpadded: a lane whose tap falls outside the output loads 0 (masked), which
    /// is what a zero-padded copy would give; `w` points at the packed weight's input channel
    /// `ci0`; `out` at input gradient `(ci0, y0, x0)`.
    ///
    /// # Safety
    /// AVX-512 F; `g` holds `c_out` planes of `h_out * w_out` values `plane` apart, `w` and
    /// `out` the packed weight and the input gradient from their tile's first value.
    #[target_feature(enable = "avx512f")]
    unsafe fn grad_tile<const R: usize, const T: usize>(
        c: &DirectInputGrad,
        g: *const f32,
        plane: usize,
        w: *const f32,
        out: *mut f32,
        [y0, x0]: [usize; 2],
        store: __mmask16,
    ) {
        let k = c.k;
        let (ho, wo) = (c.h + 2 * c.pad + 1 - k, c.w + 2 * c.pad + 1 - k);
        let out_plane = c.h * c.w;
        for ky in 0..k {
            for kx in 0..k {
                let tap = ky * k + kx;
                // Input column x0 + l reads output column x0 + l + pad - kx.
                let ox0 = (x0 + c.pad) as isize - kx as isize;
                let lo = (-ox0).clamp(0, LANES as isize) as u32;
                let hi = (wo as isize - ox0).clamp(0, LANES as isize) as u32;
                let cols: __mmask16 = if hi > lo {
                    ((1u32 << hi) - (1u32 << lo)) as u16
                } else {
                    0
                };
                let mut rows = [std::ptr::null::<f32>(); R];
                let mut masks = [0 as __mmask16; R];
                for r in 0..R {
                    let oy = (y0 + r + c.pad) as isize - ky as isize;
                    if (0..ho as isize).contains(&oy) {
                        masks[r] = cols;
                        // Lanes before the row's start are masked off; the address is only
                        // formed (wrapping), never read there.
                        rows[r] = g.wrapping_offset(oy * wo as isize + ox0);
                    } else {
                        rows[r] = g;
                    }
                }
                let wt = w.add(tap * c.c_out * c.c_in);
                let mut acc = [[_mm512_setzero_ps(); T]; R];
                for co in 0..c.c_out {
                    let mut gv = [_mm512_setzero_ps(); R];
                    for (r, gv) in gv.iter_mut().enumerate() {
                        *gv = _mm512_maskz_loadu_ps(masks[r], rows[r].wrapping_add(co * plane));
                    }
                    let wc = wt.add(co * c.c_in);
                    for t in 0..T {
                        let b = broadcast(wc.add(t));
                        for (acc, &gv) in acc.iter_mut().zip(&gv) {
                            acc[t] = _mm512_fmadd_ps(b, gv, acc[t]);
                        }
                    }
                }
                // The first tap adds onto `+0.0` (what a zeroed gradient would hold: the
                // tiles cover every input value, so nothing needs zeroing first), the others
                // onto the sum so far.
                let first = tap == 0;
                for (r, acc) in acc.iter().enumerate() {
                    for (t, &acc) in acc.iter().enumerate() {
                        let p = out.add(t * out_plane + r * c.w);
                        let sum = if first {
                            _mm512_setzero_ps()
                        } else {
                            _mm512_maskz_loadu_ps(store, p)
                        };
                        _mm512_mask_storeu_ps(p, store, _mm512_add_ps(sum, acc));
                    }
                }
            }
        }
    }

    type GradTileFn =
        unsafe fn(&DirectInputGrad, *const f32, usize, *const f32, *mut f32, [usize; 2], __mmask16);

    macro_rules! grad_tiles {
        ($r:literal) => {
            [
                grad_tile::<$r, 1> as GradTileFn,
                grad_tile::<$r, 2>,
                grad_tile::<$r, 3>,
                grad_tile::<$r, 4>,
                grad_tile::<$r, 5>,
                grad_tile::<$r, 6>,
                grad_tile::<$r, 7>,
                grad_tile::<$r, 8>,
            ]
        };
    }

    /// `GRAD_TILES[rows - 1][channels - 1]`.
    static GRAD_TILES: [[GradTileFn; GRAD_CHANNELS]; GRAD_ROWS] =
        [grad_tiles!(1), grad_tiles!(2), grad_tiles!(3)];

    /// # Safety
    /// As [`DirectInputGrad::run`] checked: AVX-512 F and the lengths.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn input_grad(
        c: &DirectInputGrad,
        grad: &[f32],
        plane: usize,
        grad_input: &mut [f32],
    ) {
        for x in (0..c.w).step_by(LANES) {
            let lanes = LANES.min(c.w - x);
            let store: __mmask16 = if lanes == LANES {
                0xffff
            } else {
                (1u16 << lanes) - 1
            };
            for y in (0..c.h).step_by(GRAD_ROWS) {
                let r = GRAD_ROWS.min(c.h - y);
                for ci in (0..c.c_in).step_by(GRAD_CHANNELS) {
                    let t = GRAD_CHANNELS.min(c.c_in - ci);
                    GRAD_TILES[r - 1][t - 1](
                        c,
                        grad.as_ptr(),
                        plane,
                        c.packed.as_ptr().add(ci),
                        grad_input.as_mut_ptr().add((ci * c.h + y) * c.w + x),
                        [y, x],
                        store,
                    );
                }
            }
        }
    }
}
