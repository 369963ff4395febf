//! Training-time augmentation of real images: small random shifts, rotations, scalings and
//! an optional elastic distortion, all drawn from a seeded stream.
//!
//! Speed: augmentation runs once per training sample, so it must cost a small fraction of a
//! training step (a seed-network step is about 8 µs of CPU per image). Nothing is allocated
//! per image: the work buffers live in a per-thread scratch; the image is read as it lies
//! (bytes or floats) into a zero-padded plane, so that the bilinear sampler needs no bounds
//! tests; the elastic field is blurred with a cached kernel in loops over whole rows that
//! vectorise; and the hot loops are compiled for AVX-512, AVX2 and plain x86-64 (chosen at
//! run time). Every path computes the same operations in the same order as the plain
//! per-pixel formulation (kept in the tests as the reference), so results are bit-identical
//! for any instruction set and thread count.

use std::cell::RefCell;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How strongly to perturb each training image. The defaults suit 28x28 digits and
/// clothing: shift up to 2 px, rotation up to 10 degrees, scale 0.9..1.1, no elastic field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    /// Largest shift along each axis, in pixels.
    pub max_shift: f32,
    /// Largest rotation either way, in degrees.
    pub max_rotation_deg: f32,
    /// Largest relative change of scale (0.1 = 0.9..1.1).
    pub max_scale: f32,
    /// Strength of the elastic displacement field in pixels (0 = off).
    pub elastic_alpha: f32,
    /// Smoothness of the elastic field (Gaussian sigma, pixels).
    pub elastic_sigma: f32,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            max_shift: 2.0,
            max_rotation_deg: 10.0,
            max_scale: 0.1,
            elastic_alpha: 0.0,
            elastic_sigma: 4.0,
        }
    }
}

impl Augment {
    /// The defaults plus an elastic field (Simard et al., 2003) of moderate strength.
    pub fn with_elastic() -> Self {
        Self {
            elastic_alpha: 1.5,
            ..Self::default()
        }
    }

    /// Writes a perturbed copy of `image` (`rows x cols`, values in [0, 1]) into `out`. The
    /// perturbation is drawn from a ChaCha8 stream keyed by `(seed, key)`; callers use e.g.
    /// the epoch and the sample index as `key`, so every epoch sees new variants and a run is
    /// reproducible from its seed, whatever the thread count.
    ///
    /// Panics when a buffer does not hold `rows * cols` values (callers size them).
    pub fn apply(
        &self,
        out: &mut [f32],
        image: &[f32],
        rows: usize,
        cols: usize,
        seed: u64,
        key: u64,
    ) {
        assert!(
            image.len() == rows * cols && out.len() == rows * cols,
            "augment buffer sizes"
        );
        self.apply_with(out, rows, cols, seed, key, |dst, y| {
            dst.copy_from_slice(&image[y * cols..(y + 1) * cols]);
        });
    }

    /// [`apply`](Self::apply) on a byte image (pixel `p` read as `p / 255`, as
    /// [`to_unit`](crate::to_unit) maps it): the same result as `apply` on the converted
    /// image, without converting it first. For training loops over `u8` datasets.
    ///
    /// Panics when `image` or `out` does not hold `rows * cols` values.
    pub fn apply_bytes(
        &self,
        out: &mut [f32],
        image: &[u8],
        rows: usize,
        cols: usize,
        seed: u64,
        key: u64,
    ) {
        assert!(
            image.len() == rows * cols && out.len() == rows * cols,
            "augment buffer sizes"
        );
        self.apply_with(out, rows, cols, seed, key, |dst, y| {
            for (d, &p) in dst.iter_mut().zip(&image[y * cols..(y + 1) * cols]) {
                *d = crate::to_unit(p);
            }
        });
    }

    /// The body of [`apply`](Self::apply): `fill(dst, y)` writes row `y` of the image.
    fn apply_with(
        &self,
        out: &mut [f32],
        rows: usize,
        cols: usize,
        seed: u64,
        key: u64,
        fill: impl Fn(&mut [f32], usize),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(key);
        let uniform = |rng: &mut ChaCha8Rng, lo: f32, hi: f32| {
            lo + (hi - lo) * ((rng.next_u32() >> 8) as f32 / 16_777_216.0)
        };
        let angle = uniform(&mut rng, -self.max_rotation_deg, self.max_rotation_deg).to_radians();
        let scale = 1.0 + uniform(&mut rng, -self.max_scale, self.max_scale);
        let (dx, dy) = (
            uniform(&mut rng, -self.max_shift, self.max_shift),
            uniform(&mut rng, -self.max_shift, self.max_shift),
        );
        let len = rows * cols;
        with_scratch(|s| {
            let elastic = self.elastic_alpha > 0.0;
            if elastic {
                // The next 2 len words of the stream, in order (as 2 len calls of `uniform`
                // would take them), then `uniform(-1, 1)` of each in a loop that vectorises.
                s.raw.resize(2 * len, 0);
                rng.fill(&mut s.raw[..]);
                s.field.resize(2 * len, 0.0);
                for (f, &word) in s.field.iter_mut().zip(&s.raw) {
                    // `(word >> 8) as f32`, through i32 (exact: below 2^24), which vectorises.
                    *f = -1.0f32 + (1.0f32 - -1.0) * (((word >> 8) as i32) as f32 / 16_777_216.0);
                }
                s.set_kernel(self.elastic_sigma);
                let Scratch {
                    field,
                    tmp,
                    row,
                    kernel,
                    ..
                } = s;
                let (fx, fy) = field.split_at_mut(len);
                smooth(fx, tmp, row, kernel, rows, cols);
                smooth(fy, tmp, row, kernel, rows, cols);
                normalise(field, self.elastic_alpha);
            }
            // The image inside a border of PAD zeros.
            let wp = cols + 2 * PAD;
            // The border is never written: it stays zero while the shape stays the same.
            if s.plane_shape != Some((rows, cols)) {
                s.plane.clear();
                s.plane.resize((rows + 2 * PAD) * wp, 0.0);
                s.plane_shape = Some((rows, cols));
            }
            for y in 0..rows {
                let at = (y + PAD) * wp + PAD;
                fill(&mut s.plane[at..at + cols], y);
            }
            // Inverse mapping: each output pixel reads the input where the transform sends it
            // from, rotating and scaling about the image centre, then shifting.
            let (sin, cos) = angle.sin_cos();
            let map = Map {
                rows,
                cols,
                cx: (cols as f32 - 1.0) / 2.0,
                cy: (rows as f32 - 1.0) / 2.0,
                dx,
                dy,
                sin,
                cos,
                scale,
            };
            let field = elastic.then(|| &s.field[..2 * len]);
            sample(out, &s.plane, field, &map);
        });
    }
}

/// Zero pixels on each side of the sampled plane. Sample coordinates are clamped to
/// `[-PAD, len + PAD - 2]`: both neighbours of a clamped coordinate lie inside the padded
/// plane, and a coordinate the clamp moves reads only zeros (outside the image) before and
/// after, so the result is the same as with bounds tests.
const PAD: usize = 2;

/// Per-thread work buffers, reused from image to image.
#[derive(Debug, Default)]
struct Scratch {
    /// The image with a border of [`PAD`] zeros, `(rows + 2 PAD) x (cols + 2 PAD)`.
    plane: Vec<f32>,
    /// The `(rows, cols)` `plane` was laid out for (its border is zero).
    plane_shape: Option<(usize, usize)>,
    /// The random words of the elastic field.
    raw: Vec<u32>,
    /// The elastic field, x displacements then y displacements.
    field: Vec<f32>,
    /// The horizontally blurred half of the field.
    tmp: Vec<f32>,
    /// One zero-padded row of the field.
    row: Vec<f32>,
    /// The Gaussian blur kernel of `sigma`.
    kernel: Vec<f32>,
    /// The bits of the sigma `kernel` was made for.
    sigma: Option<u32>,
}

impl Scratch {
    /// Makes `kernel` the blur kernel of `sigma` (cached: recomputed only when sigma changes).
    fn set_kernel(&mut self, sigma: f32) {
        if self.sigma == Some(sigma.to_bits()) {
            return;
        }
        let radius = (3.0 * sigma).ceil() as isize;
        self.kernel.clear();
        self.kernel
            .extend((-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()));
        self.sigma = Some(sigma.to_bits());
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` on this thread's scratch (a fresh one if it is already in use).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// The inverse transform of one draw.
#[derive(Debug, Clone, Copy)]
struct Map {
    rows: usize,
    cols: usize,
    cx: f32,
    cy: f32,
    dx: f32,
    dy: f32,
    sin: f32,
    cos: f32,
    scale: f32,
}

/// Samples every output pixel from the padded `plane` (see [`PAD`]), displaced by `field`
/// (x then y displacements) when given. Compiled for the best instruction set of the CPU;
/// every build does the same operations in the same order.
fn sample(out: &mut [f32], plane: &[f32], field: Option<&[f32]>, map: &Map) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512 F (checked on the line above).
            return unsafe { sample_avx512(out, plane, field, map) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked on the line above).
            return unsafe { sample_avx2(out, plane, field, map) };
        }
    }
    sample_body(out, plane, field, map);
}

/// [`sample_body`] in AVX-512 intrinsics: 16 pixels of a row at a time, the four neighbours
/// read by gathers. The same operations in the same order as [`sample_rows`] (no fused
/// multiply-adds; `max`/`min` and the final clamp with the same NaN and signed-zero cases).
///
/// # Safety
/// The CPU must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn sample_avx512(out: &mut [f32], plane: &[f32], field: Option<&[f32]>, m: &Map) {
    use std::arch::x86_64::*;
    let (rows, cols) = (m.rows, m.cols);
    let len = rows * cols;
    let wp = cols + 2 * PAD;
    assert!(plane.len() == (rows + 2 * PAD) * wp && out.len() == len);
    assert!(field.is_none_or(|f| f.len() == 2 * len));
    assert!(plane.len() < i32::MAX as usize, "augment: image too large");
    let set = _mm512_set1_ps;
    let iota = _mm512_setr_ps(
        0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
    );
    let (cx, cy, dx) = (set(m.cx), set(m.cy), set(m.dx));
    let (sin, nsin, cos, scale) = (set(m.sin), set(-m.sin), set(m.cos), set(m.scale));
    let (lo, x_hi, y_hi) = (
        set(-(PAD as f32)),
        set((cols + PAD - 2) as f32),
        set((rows + PAD - 2) as f32),
    );
    let (zero, one) = (_mm512_setzero_ps(), set(1.0));
    let (pad, wp_v, one_i) = (
        _mm512_set1_epi32(PAD as i32),
        _mm512_set1_epi32(wp as i32),
        _mm512_set1_epi32(1),
    );
    // Floor of a clamped coordinate (exact: |v| < 2^31), as in `floor_i32`.
    let floor = |v: __m512| {
        let t = _mm512_cvttps_epi32(v);
        let above = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_cvtepi32_ps(t), v);
        _mm512_mask_sub_epi32(t, above, t, one_i)
    };
    let base = plane.as_ptr();
    for y in 0..rows {
        let yf = set(y as f32 - m.cy - m.dy);
        for x_start in (0..cols).step_by(16) {
            let n = 16.min(cols - x_start);
            let mask: __mmask16 = if n == 16 { 0xffff } else { (1u16 << n) - 1 };
            let row0 = y * cols + x_start;
            // x as f32 - cx - dx (x_start + lane is exact in f32).
            let xs = _mm512_add_ps(set(x_start as f32), iota);
            let mut ux = _mm512_sub_ps(_mm512_sub_ps(xs, cx), dx);
            let mut uy = yf;
            if let Some(f) = field {
                // SAFETY: lanes below n read f[row0 + j] and f[len + row0 + j], j < n, inside
                // the field of 2 len values (asserted); the other lanes are masked off.
                unsafe {
                    ux = _mm512_sub_ps(ux, _mm512_maskz_loadu_ps(mask, f.as_ptr().add(row0)));
                    uy = _mm512_sub_ps(uy, _mm512_maskz_loadu_ps(mask, f.as_ptr().add(len + row0)));
                }
            }
            let sx = _mm512_add_ps(
                _mm512_div_ps(
                    _mm512_add_ps(_mm512_mul_ps(cos, ux), _mm512_mul_ps(sin, uy)),
                    scale,
                ),
                cx,
            );
            let sy = _mm512_add_ps(
                _mm512_div_ps(
                    _mm512_add_ps(_mm512_mul_ps(nsin, ux), _mm512_mul_ps(cos, uy)),
                    scale,
                ),
                cy,
            );
            // `v.max(lo).min(hi)`: max_ps returns its second operand when the first is NaN.
            let sx = _mm512_min_ps(_mm512_max_ps(sx, lo), x_hi);
            let sy = _mm512_min_ps(_mm512_max_ps(sy, lo), y_hi);
            let (x0, y0) = (floor(sx), floor(sy));
            let fx = _mm512_sub_ps(sx, _mm512_cvtepi32_ps(x0));
            let fy = _mm512_sub_ps(sy, _mm512_cvtepi32_ps(y0));
            let at = _mm512_add_epi32(
                _mm512_mullo_epi32(_mm512_add_epi32(y0, pad), wp_v),
                _mm512_add_epi32(x0, pad),
            );
            // SAFETY: every coordinate was clamped to [-PAD, len + PAD - 2], so at + wp + 1
            // lies inside the padded plane (see `sample_rows`); the gathers read only there.
            let (p00, p01, p10, p11) = unsafe {
                let g = |off: i32| {
                    _mm512_mask_i32gather_ps::<4>(
                        zero,
                        mask,
                        _mm512_add_epi32(at, _mm512_set1_epi32(off)),
                        base,
                    )
                };
                (g(0), g(1), g(wp as i32), g(wp as i32 + 1))
            };
            let one_fx = _mm512_sub_ps(one, fx);
            let top = _mm512_add_ps(_mm512_mul_ps(p00, one_fx), _mm512_mul_ps(p01, fx));
            let bottom = _mm512_add_ps(_mm512_mul_ps(p10, one_fx), _mm512_mul_ps(p11, fx));
            let v = _mm512_add_ps(
                _mm512_mul_ps(top, _mm512_sub_ps(one, fy)),
                _mm512_mul_ps(bottom, fy),
            );
            // `v.clamp(0, 1)`: below 0 becomes 0, above 1 becomes 1, NaN stays.
            let v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, zero), zero);
            let v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, one), one);
            // SAFETY: lanes below n write out[row0 + j], j < n, inside `out` (len values).
            unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr().add(row0), mask, v) };
        }
    }
}

/// [`sample_body`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sample_avx2(out: &mut [f32], plane: &[f32], field: Option<&[f32]>, map: &Map) {
    sample_body(out, plane, field, map);
}

#[inline(always)]
fn sample_body(out: &mut [f32], plane: &[f32], field: Option<&[f32]>, map: &Map) {
    match field {
        Some(f) => sample_rows::<true>(out, plane, f, map),
        None => sample_rows::<false>(out, plane, &[], map),
    }
}

/// The sampler, with the elastic displacement compiled in or out. Per output row, a first
/// loop maps every pixel to its source position (top-left neighbour and fractions; pure
/// arithmetic, which vectorises), a second reads the four neighbours and interpolates.
#[inline(always)]
fn sample_rows<const ELASTIC: bool>(out: &mut [f32], plane: &[f32], field: &[f32], m: &Map) {
    let (rows, cols) = (m.rows, m.cols);
    let len = rows * cols;
    let wp = cols + 2 * PAD;
    assert!(plane.len() == (rows + 2 * PAD) * wp && out.len() == len);
    assert!(!ELASTIC || field.len() == 2 * len);
    assert!(plane.len() < i32::MAX as usize, "augment: image too large");
    let lo = -(PAD as f32);
    let (x_hi, y_hi) = ((cols + PAD - 2) as f32, (rows + PAD - 2) as f32);
    let (pad, wp_i) = (PAD as i32, wp as i32);
    // Positions of one row, in blocks of ROW_BLOCK pixels (on the stack).
    const ROW_BLOCK: usize = 64;
    let mut at = [0i32; ROW_BLOCK];
    let mut fxs = [0.0f32; ROW_BLOCK];
    let mut fys = [0.0f32; ROW_BLOCK];
    for y in 0..rows {
        let yf = y as f32 - m.cy - m.dy;
        for x_start in (0..cols).step_by(ROW_BLOCK) {
            let n = ROW_BLOCK.min(cols - x_start);
            let row0 = y * cols + x_start;
            for (j, ((at, fx), fy)) in at[..n]
                .iter_mut()
                .zip(&mut fxs[..n])
                .zip(&mut fys[..n])
                .enumerate()
            {
                let x = (x_start + j) as i32;
                let (mut ux, mut uy) = (x as f32 - m.cx - m.dx, yf);
                if ELASTIC {
                    ux -= field[row0 + j];
                    uy -= field[len + row0 + j];
                }
                let sx = (m.cos * ux + m.sin * uy) / m.scale + m.cx;
                let sy = (-m.sin * ux + m.cos * uy) / m.scale + m.cy;
                // `max` first: a NaN coordinate becomes `lo`, so the index stays in the plane.
                let (sx, sy) = (sx.max(lo).min(x_hi), sy.max(lo).min(y_hi));
                let (x0, y0) = (floor_i32(sx), floor_i32(sy));
                (*fx, *fy) = (sx - x0 as f32, sy - y0 as f32);
                // x0 + PAD in 0..=cols and y0 + PAD in 0..=rows: the four neighbours lie
                // inside the plane.
                *at = (y0 + pad) * wp_i + x0 + pad;
            }
            let out_row = &mut out[row0..row0 + n];
            for (o, ((&at, &fx), &fy)) in out_row
                .iter_mut()
                .zip(at[..n].iter().zip(&fxs[..n]).zip(&fys[..n]))
            {
                let q = &plane[at as usize..at as usize + wp + 2];
                let top = q[0] * (1.0 - fx) + q[1] * fx;
                let bottom = q[wp] * (1.0 - fx) + q[wp + 1] * fx;
                *o = (top * (1.0 - fy) + bottom * fy).clamp(0.0, 1.0);
            }
        }
    }
}

/// `v.floor()` as an integer for a `v` already clamped to `[-PAD, len + PAD - 2]` (no call to
/// `floorf`, which plain x86-64 needs, and a conversion that vectorises).
#[inline(always)]
fn floor_i32(v: f32) -> i32 {
    assert!(v.abs() < 1e9, "augment: unclamped coordinate");
    // SAFETY: `v` is finite and far inside the range of `i32` (asserted above; the callers'
    // clamp makes the assert always pass, so it compiles to nothing).
    let t: i32 = unsafe { v.to_int_unchecked() };
    t - i32::from(t as f32 > v)
}

/// Separable Gaussian blur of a `rows x cols` field in place (zero outside), with `kernel`
/// from [`Scratch::set_kernel`]: along rows into `tmp`, then along columns back. Each value
/// adds its kernel taps in ascending order from 0; taps that fall outside the field add
/// nothing (along rows they add an exact `+0.0`, which leaves a sum that is never `-0.0`
/// unchanged), so the order is that of the plain per-pixel loops.
fn smooth(
    field: &mut [f32],
    tmp: &mut Vec<f32>,
    row: &mut Vec<f32>,
    kernel: &[f32],
    rows: usize,
    cols: usize,
) {
    if kernel.is_empty() {
        field.fill(0.0);
        return;
    }
    let radius = kernel.len() / 2;
    let width = blur_width(cols);
    // `tmp` is overwritten; `row` must be zero outside the copied field row.
    tmp.resize(rows * width, 0.0);
    row.clear();
    row.resize(width + 2 * radius, 0.0);
    blur(field, tmp, row, kernel, rows, cols);
}

/// The row width the blur computes in: 16 or 32 lanes for narrow fields (fixed-size loops
/// that compile to whole vectors; the lanes past `cols` read zeros and are dropped), else
/// `cols`.
fn blur_width(cols: usize) -> usize {
    match cols {
        0..=16 => 16,
        17..=32 => 32,
        _ => cols,
    }
}

/// The two passes of [`smooth`], compiled for the best instruction set of the CPU.
fn blur(
    field: &mut [f32],
    tmp: &mut [f32],
    row: &mut [f32],
    kernel: &[f32],
    rows: usize,
    cols: usize,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512 F (checked on the line above).
            return unsafe { blur_avx512(field, tmp, row, kernel, rows, cols) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked on the line above).
            return unsafe { blur_avx2(field, tmp, row, kernel, rows, cols) };
        }
    }
    blur_body(field, tmp, row, kernel, rows, cols);
}

/// [`blur_body`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn blur_avx512(
    field: &mut [f32],
    tmp: &mut [f32],
    row: &mut [f32],
    kernel: &[f32],
    rows: usize,
    cols: usize,
) {
    blur_body(field, tmp, row, kernel, rows, cols);
}

/// [`blur_body`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn blur_avx2(
    field: &mut [f32],
    tmp: &mut [f32],
    row: &mut [f32],
    kernel: &[f32],
    rows: usize,
    cols: usize,
) {
    blur_body(field, tmp, row, kernel, rows, cols);
}

/// `tmp` = `field` blurred along rows (through the zero-padded `row`), then `field` = `tmp`
/// blurred along columns, in rows of [`blur_width`] lanes.
#[inline(always)]
fn blur_body(
    field: &mut [f32],
    tmp: &mut [f32],
    row: &mut [f32],
    kernel: &[f32],
    rows: usize,
    cols: usize,
) {
    match blur_width(cols) {
        16 => blur_rows::<16>(field, tmp, row, kernel, rows, cols),
        32 => blur_rows::<32>(field, tmp, row, kernel, rows, cols),
        _ => blur_rows::<0>(field, tmp, row, kernel, rows, cols),
    }
}

/// [`blur_body`] with rows of `W` lanes (`W = 0`: of `cols`). `row` holds `width + 2 radius`
/// values, zero outside the copied field row; `tmp` `rows * width`.
#[inline(always)]
fn blur_rows<const W: usize>(
    field: &mut [f32],
    tmp: &mut [f32],
    row: &mut [f32],
    kernel: &[f32],
    rows: usize,
    cols: usize,
) {
    let radius = kernel.len() / 2;
    let width = if W == 0 { cols } else { W };
    // acc[i] += w * src[i] over `width` lanes (a fixed count when W > 0).
    let madd = |acc: &mut [f32], src: &[f32], w: f32| {
        let (acc, src) = (&mut acc[..width], &src[..width]);
        for (a, &v) in acc.iter_mut().zip(src) {
            *a += w * v;
        }
    };
    let mut acc_buf = [0.0f32; 32];
    let mut acc_vec = Vec::new();
    let acc: &mut [f32] = if W == 0 {
        acc_vec.resize(width, 0.0);
        &mut acc_vec
    } else {
        &mut acc_buf[..width]
    };
    for (src, dst) in field.chunks_exact(cols).zip(tmp.chunks_exact_mut(width)) {
        row[radius..radius + cols].copy_from_slice(src);
        acc.fill(0.0);
        for (k, &w) in kernel.iter().enumerate() {
            madd(acc, &row[k..k + width], w);
        }
        dst.copy_from_slice(acc);
    }
    for (y, dst) in field.chunks_exact_mut(cols).enumerate() {
        acc.fill(0.0);
        // Taps k read row y + k - radius; only those inside the field.
        let (k_lo, k_hi) = (
            radius.saturating_sub(y),
            (rows + radius - y).min(kernel.len()),
        );
        for (k, &w) in kernel.iter().enumerate().take(k_hi).skip(k_lo) {
            let yy = y + k - radius;
            madd(acc, &tmp[yy * width..(yy + 1) * width], w);
        }
        dst.copy_from_slice(&acc[..cols]);
    }
}

/// Scales a displacement field so its largest magnitude is `alpha` pixels.
fn normalise(field: &mut [f32], alpha: f32) {
    // The largest magnitude in 16 independent lanes (`max` is exact and ignores NaN, so the
    // order of the comparisons does not change the result).
    let mut lanes = [0.0f32; 16];
    for chunk in field.chunks(16) {
        for (m, v) in lanes.iter_mut().zip(chunk) {
            *m = m.max(v.abs());
        }
    }
    let max = lanes.iter().fold(0.0f32, |m, &v| m.max(v));
    if max > 0.0 {
        field.iter_mut().for_each(|v| *v *= alpha / max);
    }
}

/// The plain per-pixel formulation the fast code must match bit for bit (the code as it was
/// before it was made fast).
#[cfg(test)]
mod reference {
    use super::Augment;
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    pub(super) fn reference_apply(
        aug: &Augment,
        out: &mut [f32],
        image: &[f32],
        rows: usize,
        cols: usize,
        seed: u64,
        key: u64,
    ) {
        assert!(
            image.len() == rows * cols && out.len() == rows * cols,
            "augment buffer sizes"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(key);
        let mut uniform =
            |lo: f32, hi: f32| lo + (hi - lo) * ((rng.next_u32() >> 8) as f32 / 16_777_216.0);
        let angle = uniform(-aug.max_rotation_deg, aug.max_rotation_deg).to_radians();
        let scale = 1.0 + uniform(-aug.max_scale, aug.max_scale);
        let (dx, dy) = (
            uniform(-aug.max_shift, aug.max_shift),
            uniform(-aug.max_shift, aug.max_shift),
        );
        let field = (aug.elastic_alpha > 0.0).then(|| {
            let mut raw: Vec<f32> = (0..2 * rows * cols).map(|_| uniform(-1.0, 1.0)).collect();
            smooth(&mut raw[..rows * cols], rows, cols, aug.elastic_sigma);
            smooth(&mut raw[rows * cols..], rows, cols, aug.elastic_sigma);
            normalise(&mut raw, aug.elastic_alpha);
            raw
        });
        // Inverse mapping: each output pixel reads the input where the transform sends it
        // from, rotating and scaling about the image centre, then shifting.
        let (cy, cx) = ((rows as f32 - 1.0) / 2.0, (cols as f32 - 1.0) / 2.0);
        let (sin, cos) = angle.sin_cos();
        for y in 0..rows {
            for x in 0..cols {
                let (mut ux, mut uy) = (x as f32 - cx - dx, y as f32 - cy - dy);
                if let Some(f) = &field {
                    ux -= f[y * cols + x];
                    uy -= f[rows * cols + y * cols + x];
                }
                let sx = (cos * ux + sin * uy) / scale + cx;
                let sy = (-sin * ux + cos * uy) / scale + cy;
                out[y * cols + x] = bilinear(image, rows, cols, sy, sx);
            }
        }
    }

    /// Bilinear sample of `image` at `(y, x)`, 0 outside.
    fn bilinear(image: &[f32], rows: usize, cols: usize, y: f32, x: f32) -> f32 {
        let (y0, x0) = (y.floor(), x.floor());
        let (fy, fx) = (y - y0, x - x0);
        let at = |yy: f32, xx: f32| {
            if yy < 0.0 || xx < 0.0 || yy >= rows as f32 || xx >= cols as f32 {
                0.0
            } else {
                image[yy as usize * cols + xx as usize]
            }
        };
        let top = at(y0, x0) * (1.0 - fx) + at(y0, x0 + 1.0) * fx;
        let bottom = at(y0 + 1.0, x0) * (1.0 - fx) + at(y0 + 1.0, x0 + 1.0) * fx;
        (top * (1.0 - fy) + bottom * fy).clamp(0.0, 1.0)
    }

    /// Separable Gaussian blur of a `rows x cols` field in place (zero outside).
    fn smooth(field: &mut [f32], rows: usize, cols: usize, sigma: f32) {
        let radius = (3.0 * sigma).ceil() as isize;
        let kernel: Vec<f32> = (-radius..=radius)
            .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
            .collect();
        let mut tmp = vec![0.0; field.len()];
        for y in 0..rows {
            for x in 0..cols {
                let mut s = 0.0;
                for (k, w) in kernel.iter().enumerate() {
                    let xx = x as isize + k as isize - radius;
                    if (0..cols as isize).contains(&xx) {
                        s += w * field[y * cols + xx as usize];
                    }
                }
                tmp[y * cols + x] = s;
            }
        }
        for y in 0..rows {
            for x in 0..cols {
                let mut s = 0.0;
                for (k, w) in kernel.iter().enumerate() {
                    let yy = y as isize + k as isize - radius;
                    if (0..rows as isize).contains(&yy) {
                        s += w * tmp[yy as usize * cols + x];
                    }
                }
                field[y * cols + x] = s;
            }
        }
    }

    /// Scales a displacement field so its largest magnitude is `alpha` pixels.
    fn normalise(field: &mut [f32], alpha: f32) {
        let max = field.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if max > 0.0 {
            field.iter_mut().for_each(|v| *v *= alpha / max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn square() -> Vec<f32> {
        let mut img = vec![0.0; 28 * 28];
        for y in 10..18 {
            for x in 10..18 {
                img[y * 28 + x] = 1.0;
            }
        }
        img
    }

    #[test]
    fn zero_strength_is_the_identity() {
        let none = Augment {
            max_shift: 0.0,
            max_rotation_deg: 0.0,
            max_scale: 0.0,
            elastic_alpha: 0.0,
            elastic_sigma: 4.0,
        };
        let img = square();
        let mut out = vec![f32::NAN; img.len()];
        none.apply(&mut out, &img, 28, 28, 1, 2);
        assert_eq!(out, img);
    }

    #[test]
    fn augmentation_is_seeded_and_keeps_the_ink_near_its_mass() {
        let img = square();
        let (mut a, mut b) = (vec![0.0; 784], vec![0.0; 784]);
        for aug in [Augment::default(), Augment::with_elastic()] {
            aug.apply(&mut a, &img, 28, 28, 7, 3);
            aug.apply(&mut b, &img, 28, 28, 7, 3);
            assert_eq!(a, b);
            aug.apply(&mut b, &img, 28, 28, 7, 4);
            assert_ne!(a, b);
            let (mass, orig): (f32, f32) = (a.iter().sum(), img.iter().sum());
            // Scale 0.9..1.1 changes the area by at most about 21%.
            assert!((mass / orig - 1.0).abs() < 0.3, "{mass} vs {orig}");
            assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The fast sampler and blur give the plain formulation's bits, on bytes and on
        /// floats, for any size, strength and key (including strengths that push every
        /// sample outside the image).
        #[test]
        fn fast_augmentation_matches_the_reference_bit_for_bit(
            rows in 1usize..36,
            cols in 1usize..36,
            shift in 0.0f32..12.0,
            rot in 0.0f32..60.0,
            scale in 0.0f32..0.6,
            alpha in prop_oneof![Just(0.0f32), 0.1f32..6.0],
            sigma in 0.3f32..6.0,
            seed in any::<u64>(),
            key in any::<u64>(),
            pixels in proptest::collection::vec(any::<u8>(), 36 * 36),
        ) {
            let aug = Augment {
                max_shift: shift,
                max_rotation_deg: rot,
                max_scale: scale,
                elastic_alpha: alpha,
                elastic_sigma: sigma,
            };
            let bytes = &pixels[..rows * cols];
            let unit: Vec<f32> = bytes.iter().map(|&p| crate::to_unit(p)).collect();
            let mut want = vec![f32::NAN; rows * cols];
            reference::reference_apply(&aug, &mut want, &unit, rows, cols, seed, key);
            let mut got = vec![f32::NAN; rows * cols];
            aug.apply(&mut got, &unit, rows, cols, seed, key);
            prop_assert_eq!(bits(&got), bits(&want));
            got.fill(f32::NAN);
            aug.apply_bytes(&mut got, bytes, rows, cols, seed, key);
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }

    #[test]
    fn every_instruction_set_samples_and_blurs_the_same_bits() {
        let (rows, cols) = (28, 28);
        let img = square();
        let mut plane = vec![0.0; (rows + 2 * PAD) * (cols + 2 * PAD)];
        for y in 0..rows {
            let at = (y + PAD) * (cols + 2 * PAD) + PAD;
            plane[at..at + cols].copy_from_slice(&img[y * cols..(y + 1) * cols]);
        }
        let field: Vec<f32> = (0..2 * rows * cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 9.0)
            .collect();
        let map = Map {
            rows,
            cols,
            cx: 13.5,
            cy: 13.5,
            dx: 1.3,
            dy: -0.7,
            sin: 0.2,
            cos: 0.98,
            scale: 1.07,
        };
        let mut scratch = Scratch::default();
        scratch.set_kernel(4.0);
        let mut want = vec![0.0; rows * cols];
        sample_body(&mut want, &plane, Some(&field), &map);
        let mut want_blur = field[..rows * cols].to_vec();
        let (mut tmp, mut row) = (vec![0.0; rows * 32], vec![0.0; 32 + 24]);
        blur_body(
            &mut want_blur,
            &mut tmp,
            &mut row,
            &scratch.kernel,
            rows,
            cols,
        );
        // The dispatching entry points run the best set of this CPU; each set is checked
        // where the CPU has it.
        let mut got = vec![0.0; rows * cols];
        sample(&mut got, &plane, Some(&field), &map);
        assert_eq!(bits(&got), bits(&want));
        let mut got_blur = field[..rows * cols].to_vec();
        blur(
            &mut got_blur,
            &mut tmp,
            &mut row,
            &scratch.kernel,
            rows,
            cols,
        );
        assert_eq!(bits(&got_blur), bits(&want_blur));
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut got = vec![0.0; rows * cols];
                // SAFETY: AVX2 checked above.
                unsafe { sample_avx2(&mut got, &plane, Some(&field), &map) };
                assert_eq!(bits(&got), bits(&want));
                let mut got_blur = field[..rows * cols].to_vec();
                // SAFETY: AVX2 checked above.
                unsafe {
                    blur_avx2(
                        &mut got_blur,
                        &mut tmp,
                        &mut row,
                        &scratch.kernel,
                        rows,
                        cols,
                    )
                };
                assert_eq!(bits(&got_blur), bits(&want_blur));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut got = vec![0.0; rows * cols];
                // SAFETY: AVX-512 F checked above.
                unsafe { sample_avx512(&mut got, &plane, Some(&field), &map) };
                assert_eq!(bits(&got), bits(&want));
                let mut got_blur = field[..rows * cols].to_vec();
                // SAFETY: AVX-512 F checked above.
                unsafe {
                    blur_avx512(
                        &mut got_blur,
                        &mut tmp,
                        &mut row,
                        &scratch.kernel,
                        rows,
                        cols,
                    )
                };
                assert_eq!(bits(&got_blur), bits(&want_blur));
            }
        }
    }
}
