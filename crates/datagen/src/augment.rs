//! Training-time augmentation of real images: small random shifts, rotations, scalings and
//! an optional elastic distortion, all drawn from a seeded stream.
//!
//! Speed: augmentation runs once per training sample, so it must cost a small fraction of a
//! training step (a seed-network step is about 7 µs of CPU per image). Nothing is
//! allocated per image: the work buffers live in a per-thread scratch.
//!
//! - The few random numbers of an image come from a counter-based hash of `(seed, key, n)`
//!   (SplitMix64's output function), not from a cipher stream set up per image.
//! - A byte image is read into a zero-padded plane whose every position holds its 2x2
//!   neighbourhood packed into one 32-bit word, so the bilinear sampler reads each output
//!   pixel's four neighbours with one gather lane and needs no bounds tests.
//! - The elastic field is the one of Simard et al. (2003), white noise blurred by a Gaussian
//!   of sigma 4 px, made on a coarse grid: a blurred white noise has next to no content
//!   above 1/(2 sigma) cycles per pixel, so it is drawn as random weights on a grid of
//!   control points `sigma` apart, each spread by the same Gaussian (the sum is the same
//!   random field to within about 1e-4 of its covariance; see [`controls`]). For 28x28 and
//!   sigma 4 that is 2x7x7 random numbers and two small separable matrix products instead
//!   of 2x784 numbers and four 25-tap blurs.
//! - The hot loops are compiled for AVX-512, AVX2 and plain x86-64 (chosen at run time).
//!
//! Every path computes the same operations in the same order as the plain per-pixel
//! formulation (kept in the tests as the reference), so results are bit-identical for any
//! instruction set and thread count.

use std::cell::RefCell;

use crate::rng::{exp_neg, sin_cos};

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
    /// Strength of the elastic displacement field, in pixels (0 = off): the field is
    /// scaled to a largest component of 0.95 `alpha`, which gives it the mean displacement
    /// of Simard et al.'s blurred white noise scaled to a largest component of `alpha`
    /// (0.72 px at the 1.5 of [`with_elastic`](Self::with_elastic)).
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
    /// perturbation is a pure function of `(seed, key)`; callers use e.g. the epoch and the
    /// sample index as `key`, so every epoch sees new variants and a run is reproducible
    /// from its seed, whatever the thread count.
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
        let (map, words) = Draw::new(self, seed, key).map(rows, cols);
        with_scratch(|s| {
            let field = self.elastic_field(s, &words, rows, cols);
            let wp = cols + 2 * PAD;
            // The border is never written: it stays zero while the shape stays the same.
            if s.plane_shape != Some((rows, cols)) {
                s.plane.clear();
                s.plane.resize((rows + 2 * PAD) * wp, 0.0);
                s.plane_shape = Some((rows, cols));
            }
            for (y, src) in image.chunks_exact(cols.max(1)).enumerate() {
                let at = (y + PAD) * wp + PAD;
                s.plane[at..at + cols].copy_from_slice(src);
            }
            let field = field.map(|(stride, scale)| Field {
                values: &s.field,
                stride,
                scale,
            });
            sample(out, Floats(&s.plane), field, &map);
        });
    }

    /// [`apply`](Self::apply) on a byte image: the same perturbation, interpolating the
    /// bytes themselves and dividing by 255 at the end (so a pixel that is not moved reads
    /// exactly [`to_unit`](crate::to_unit) of its byte; elsewhere the result is within
    /// 1e-6 of `apply` on the converted image). For training loops over `u8` datasets.
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
        let (map, words) = Draw::new(self, seed, key).map(rows, cols);
        with_scratch(|s| {
            let field = self.elastic_field(s, &words, rows, cols);
            let wp = cols + 2 * PAD;
            let hp = rows + 2 * PAD;
            // The border (and one byte after the plane) is never written: it stays zero
            // while the shape stays the same.
            if s.bytes_shape != Some((rows, cols)) {
                s.bytes.clear();
                s.bytes.resize(hp * wp + 1, 0);
                s.quads.clear();
                s.quads.resize((hp - 1) * wp, 0);
                pixel_grid(&mut s.grid, rows, cols);
                s.bytes_shape = Some((rows, cols));
            }
            for (y, src) in image.chunks_exact(cols.max(1)).enumerate() {
                let at = (y + PAD) * wp + PAD;
                copy_row(&mut s.bytes[at..at + cols], src);
            }
            let field = field.map(|(stride, scale)| Field {
                values: &s.field,
                stride,
                scale,
            });
            sample_bytes(out, &mut s.quads, &s.bytes, &s.grid, field, &map);
        });
    }

    /// Makes this image's elastic field in `s.field` (see [`Field`]); its row stride and
    /// scale, or `None` when the field is off.
    fn elastic_field(
        &self,
        s: &mut Scratch,
        words: &Words,
        rows: usize,
        cols: usize,
    ) -> Option<(usize, f32)> {
        if self.elastic_alpha.is_nan() || self.elastic_alpha <= 0.0 || rows * cols == 0 {
            return None;
        }
        s.set_kernels(rows, cols, self.elastic_sigma);
        let Scratch {
            noise,
            coarse,
            field,
            kernels,
            ..
        } = s;
        let k = kernels.as_ref().expect("kernels were just set");
        noise.resize(2 * k.nx * k.ny, 0.0);
        words.fill_unit_range(NOISE_FROM, -1.0, 1.0, noise);
        coarse.resize(k.ny * k.width, 0.0);
        field.resize(field_len(k, rows), 0.0);
        let max = spread(field, coarse, noise, k, rows);
        // Scaled to a largest component of FIELD_GAIN alpha (a zero field stays zero).
        let scale = if max > 0.0 {
            FIELD_GAIN * self.elastic_alpha / max
        } else {
            1.0
        };
        Some((cols, scale))
    }
}

/// `dst` = `src` (a row of a few dozen bytes) in 8-byte words: short fixed-size copies
/// that compile to moves, where a `copy_from_slice` of a run-time length calls `memcpy`.
#[inline(always)]
fn copy_row(dst: &mut [u8], src: &[u8]) {
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        d.copy_from_slice(s);
    }
    for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = *s;
    }
}

/// An elastic displacement field as the sampler reads it: `rows` rows of `stride` values
/// of x displacements, then as many of y displacements, each to be multiplied by `scale`.
#[derive(Debug, Clone, Copy)]
struct Field<'a> {
    values: &'a [f32],
    stride: usize,
    scale: f32,
}

/// Zero pixels on each side of the sampled plane. Sample coordinates are clamped to
/// `[-PAD, len + PAD - 2]`: both neighbours of a clamped coordinate lie inside the padded
/// plane, and a coordinate the clamp moves reads only zeros (outside the image) before and
/// after, so the result is the same as with bounds tests.
const PAD: usize = 2;

/// The largest component of the elastic field, as a share of `elastic_alpha`. The sum over
/// a few dozen control points is a little less peaked than blurred per-pixel noise (its
/// largest value is nearer its typical one), so scaling it to the same largest component
/// would make it about 5% stronger on average; measured over 2 x 1,500 draws at sigma 4
/// (the test `the_elastic_field_matches_blurred_white_noise_in_strength_and_smoothness`
/// keeps it so).
const FIELD_GAIN: f32 = 0.95;

/// The number of the first random value of the elastic noise (0-3 are the affine draw).
const NOISE_FROM: u64 = 4;

/// The random values of one image: value `n` is 24 bits of SplitMix64's output function
/// applied to the `n / 2`-th step of a Weyl sequence that starts at a hash of `(seed,
/// key)`, so each value is a pure function of `(seed, key, n)` and costs a few operations.
#[derive(Debug, Clone, Copy)]
struct Words {
    base: u64,
}

impl Words {
    const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

    /// SplitMix64's output function (a bijection of `u64` that mixes well).
    #[inline(always)]
    fn mix(z: u64) -> u64 {
        let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The values of `(seed, key)` (for a fixed seed a different key gives a different
    /// start, and for a fixed key a different seed does).
    fn new(seed: u64, key: u64) -> Self {
        Self {
            base: Self::mix(Self::mix(seed ^ 0x6a09_e667_f3bc_c908) ^ key),
        }
    }

    /// Word `i`: two values, `2 i` in the high 24 bits and `2 i + 1` in bits 8-31.
    #[inline(always)]
    fn word(&self, i: u64) -> u64 {
        Self::mix(
            self.base
                .wrapping_add(i.wrapping_add(1).wrapping_mul(Self::GOLDEN)),
        )
    }

    /// Value `n`, uniform in [0, 1) with 24 random bits.
    #[inline(always)]
    fn unit(&self, n: u64) -> f32 {
        let w = self.word(n / 2);
        let bits = if n.is_multiple_of(2) {
            w >> 40
        } else {
            (w >> 8) & 0xff_ffff
        };
        bits as f32 * (1.0 / 16_777_216.0)
    }

    /// Value `n` mapped to [lo, hi).
    #[inline(always)]
    fn range(&self, n: u64, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit(n)
    }

    /// `out[i]` = `range(from + i, lo, hi)` (`from` even), a word per pair of values.
    /// Compiled for AVX-512 where the CPU has it (eight words at a time; the same integer
    /// and float operations).
    fn fill_unit_range(&self, from: u64, lo: f32, hi: f32, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the CPU has AVX-512 F and DQ (checked on the lines above).
            return unsafe { self.fill_unit_range_avx512(from, lo, hi, out) };
        }
        self.fill_unit_range_body(from, lo, hi, out);
    }

    /// [`fill_unit_range`](Self::fill_unit_range) compiled for AVX-512.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F and DQ.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2")]
    unsafe fn fill_unit_range_avx512(&self, from: u64, lo: f32, hi: f32, out: &mut [f32]) {
        self.fill_unit_range_body(from, lo, hi, out);
    }

    #[inline(always)]
    fn fill_unit_range_body(&self, from: u64, lo: f32, hi: f32, out: &mut [f32]) {
        debug_assert!(from.is_multiple_of(2));
        let scale = 1.0 / 16_777_216.0;
        let n = out.len() / 2;
        let mut pairs = out.chunks_exact_mut(2);
        for (i, pair) in (&mut pairs).enumerate() {
            let w = self.word(from / 2 + i as u64);
            pair[0] = lo + (hi - lo) * ((w >> 40) as u32 as f32 * scale);
            pair[1] = lo + (hi - lo) * (((w >> 8) & 0xff_ffff) as u32 as f32 * scale);
        }
        if let [last] = pairs.into_remainder() {
            let w = self.word(from / 2 + n as u64);
            *last = lo + (hi - lo) * ((w >> 40) as u32 as f32 * scale);
        }
    }
}

/// The affine part of one image's perturbation.
#[derive(Debug, Clone, Copy)]
struct Draw {
    /// Rotation in radians.
    angle: f32,
    /// Scale factor.
    scale: f32,
    /// Shift along x and y, pixels.
    dx: f32,
    dy: f32,
    words: Words,
}

impl Draw {
    /// Values 0-3 of `(seed, key)`: rotation, scale, x and y shift.
    fn new(aug: &Augment, seed: u64, key: u64) -> Self {
        let words = Words::new(seed, key);
        let angle = words
            .range(0, -aug.max_rotation_deg, aug.max_rotation_deg)
            .to_radians();
        let scale = 1.0 + words.range(1, -aug.max_scale, aug.max_scale);
        let dx = words.range(2, -aug.max_shift, aug.max_shift);
        let dy = words.range(3, -aug.max_shift, aug.max_shift);
        Self {
            angle,
            scale,
            dx,
            dy,
            words,
        }
    }

    /// The inverse map of this draw for a `rows x cols` image, and the random values.
    fn map(&self, rows: usize, cols: usize) -> (Map, Words) {
        let (sin, cos) = sin_cos(self.angle);
        let (cx, cy) = ((cols as f32 - 1.0) / 2.0, (rows as f32 - 1.0) / 2.0);
        let map = Map {
            rows,
            cols,
            cx,
            cy,
            ox: cx + self.dx,
            oy: cy + self.dy,
            a: cos / self.scale,
            b: sin / self.scale,
        };
        (map, self.words)
    }
}

/// The inverse transform of one draw: output pixel `(x, y)`, displaced by the elastic field
/// `(ex, ey)`, reads the input at `sx = (a ux + b uy) + cx`, `sy = (a uy - b ux) + cy`, with
/// `ux = x - ox - ex`, `uy = y - oy - ey` (rotation by the angle and scaling about the
/// image centre, after the shift).
#[derive(Debug, Clone, Copy)]
struct Map {
    rows: usize,
    cols: usize,
    cx: f32,
    cy: f32,
    ox: f32,
    oy: f32,
    a: f32,
    b: f32,
}

/// The number of control points of the elastic field along an axis of `len` pixels: one per
/// `sigma` pixels (at most one per pixel; one per pixel when `sigma` is not positive).
///
/// Why `sigma` apart is enough: the field is `sum_c w_c g(p - c)`, i.i.d. weights `w_c` on
/// the control points `c` spread by the Gaussian `g` of `sigma`. Its covariance between
/// `p` and `q` is `sum_c g(p - c) g(q - c)`, a Riemann sum with step `h` of the integral
/// that gives the stationary covariance of blurred white noise; the summand is a Gaussian
/// of width `sigma / sqrt 2` in `c`, so (Poisson summation) the sum misses the integral by
/// a relative `2 exp(-pi^2 sigma^2 / h^2)`, 1e-4 at `h = sigma`. The control points tile
/// the image as the pixels do (midpoints of `len / n` cells), so the field fades towards
/// the borders as the blurred noise (zero outside the image) did.
fn controls(len: usize, sigma: f32) -> usize {
    if sigma > 0.0 {
        ((len as f32 / sigma).ceil() as usize).clamp(1, len.max(1))
    } else {
        len.max(1)
    }
}

/// Position of control point `k` of `n` along an axis of `len` pixels.
#[inline]
fn centre(k: usize, n: usize, len: usize) -> f32 {
    (k as f32 + 0.5) * (len as f32 / n as f32) - 0.5
}

/// Weight of a control point at distance `d` (pixels): the Gaussian of `sigma`, or 1 at
/// distance 0 and 0 elsewhere when `sigma` is not positive.
#[inline]
fn weight(d: f32, sigma: f32) -> f32 {
    let d2 = d * d;
    if d2 == 0.0 {
        1.0
    } else if sigma > 0.0 {
        exp_neg(-d2 / (2.0 * sigma * sigma))
    } else {
        0.0
    }
}

/// The control-point weights of one image shape and sigma.
#[derive(Debug)]
struct Kernels {
    /// `(rows, cols, sigma bits)` these were made for.
    key: (usize, usize, u32),
    /// Control points along x and y.
    nx: usize,
    ny: usize,
    /// Lanes of a row (see [`row_width`]).
    width: usize,
    /// `x_kernel[j * width + x]`: weight of x control point `j` at column `x` (0 past
    /// `cols`).
    x_kernel: Vec<f32>,
    /// `y_kernel[y * ny + i]`: weight of y control point `i` at row `y`.
    y_kernel: Vec<f32>,
}

/// Per-thread work buffers, reused from image to image.
#[derive(Debug, Default)]
struct Scratch {
    /// A float image with a border of [`PAD`] zeros, `(rows + 2 PAD) x (cols + 2 PAD)`.
    plane: Vec<f32>,
    /// The `(rows, cols)` `plane` was laid out for (its border is zero).
    plane_shape: Option<(usize, usize)>,
    /// A byte image with a border of [`PAD`] zeros and one more zero byte.
    bytes: Vec<u8>,
    /// The 2x2 neighbourhoods of `bytes` (see [`pack_quads`]).
    quads: Vec<u32>,
    /// [`pixel_grid`] of the shape of `bytes`.
    grid: Vec<f32>,
    /// The `(rows, cols)` `bytes`, `quads` and `grid` were laid out for.
    bytes_shape: Option<(usize, usize)>,
    /// The control-point weights of the elastic field, x field then y field.
    noise: Vec<f32>,
    /// The weights spread along x: one row of `width` lanes per y control point.
    coarse: Vec<f32>,
    /// The elastic field before its scale (see [`Field`]).
    field: Vec<f32>,
    /// The kernels of the last shape and sigma.
    kernels: Option<Kernels>,
}

impl Scratch {
    /// Makes `kernels` those of `(rows, cols, sigma)` (cached: recomputed only on a change).
    fn set_kernels(&mut self, rows: usize, cols: usize, sigma: f32) {
        let key = (rows, cols, sigma.to_bits());
        if self.kernels.as_ref().is_some_and(|k| k.key == key) {
            return;
        }
        let (nx, ny) = (controls(cols, sigma), controls(rows, sigma));
        let width = row_width(cols);
        let mut x_kernel = vec![0.0; nx * width];
        for (j, lane) in x_kernel.chunks_exact_mut(width).enumerate() {
            let c = centre(j, nx, cols);
            for (x, w) in lane[..cols].iter_mut().enumerate() {
                *w = weight(x as f32 - c, sigma);
            }
        }
        let mut y_kernel = vec![0.0; rows * ny];
        for (y, lane) in y_kernel.chunks_exact_mut(ny).enumerate() {
            for (i, w) in lane.iter_mut().enumerate() {
                *w = weight(y as f32 - centre(i, ny, rows), sigma);
            }
        }
        self.kernels = Some(Kernels {
            key,
            nx,
            ny,
            width,
            x_kernel,
            y_kernel,
        });
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

/// The length of the field buffer of `k` for `rows` rows: two halves of `rows x cols`
/// values and the lanes the last row of the second writes past it (see [`spread_rows`]).
fn field_len(k: &Kernels, rows: usize) -> usize {
    2 * rows * k.key.1 + k.width - k.key.1
}

/// The row width the field is computed in: 16 or 32 lanes for narrow images (fixed-size
/// loops that compile to whole vectors; the lanes past `cols` are zero and dropped), else
/// `cols`.
fn row_width(cols: usize) -> usize {
    match cols {
        0..=16 => 16,
        17..=32 => 32,
        _ => cols,
    }
}

/// The elastic field: for each half (x then y, `rows` rows of `cols` values each),
/// `field[y][x] = sum_i y_kernel[y][i] * (sum_j noise[i][j] *
/// x_kernel[j][x])`, each sum in ascending order from 0. Returns the largest magnitude of
/// the field. Compiled for the best instruction set of the CPU.
fn spread(field: &mut [f32], coarse: &mut [f32], noise: &[f32], k: &Kernels, rows: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512 F (checked on the line above).
            return unsafe { spread_avx512(field, coarse, noise, k, rows) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked on the line above).
            return unsafe { spread_avx2(field, coarse, noise, k, rows) };
        }
    }
    spread_body(field, coarse, noise, k, rows)
}

/// [`spread_body`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn spread_avx512(
    field: &mut [f32],
    coarse: &mut [f32],
    noise: &[f32],
    k: &Kernels,
    rows: usize,
) -> f32 {
    use std::arch::x86_64::*;
    spread_halves(field, coarse, noise, k, rows);
    // The largest magnitude as in `max_abs`: `max_ps(a, m)` is `if a > m { a } else { m }`.
    let field = &field[..2 * rows * k.key.1];
    // Four independent running maxima (the order does not matter), then one.
    let mut m = [_mm512_setzero_ps(); 4];
    let mut chunks = field.chunks_exact(64);
    for chunk in &mut chunks {
        for (j, m) in m.iter_mut().enumerate() {
            // SAFETY: a chunk holds 64 values: 16 from 16 j.
            let v = unsafe { _mm512_loadu_ps(chunk.as_ptr().add(16 * j)) };
            *m = _mm512_max_ps(_mm512_abs_ps(v), *m);
        }
    }
    let m = _mm512_max_ps(_mm512_max_ps(m[0], m[1]), _mm512_max_ps(m[2], m[3]));
    let mut lanes = [0.0f32; 16];
    // SAFETY: `lanes` holds 16 values.
    unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), m) };
    max_abs(lanes.iter().chain(chunks.remainder()))
}

/// [`spread_body`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn spread_avx2(
    field: &mut [f32],
    coarse: &mut [f32],
    noise: &[f32],
    k: &Kernels,
    rows: usize,
) -> f32 {
    spread_body(field, coarse, noise, k, rows)
}

#[inline(always)]
fn spread_body(
    field: &mut [f32],
    coarse: &mut [f32],
    noise: &[f32],
    k: &Kernels,
    rows: usize,
) -> f32 {
    spread_halves(field, coarse, noise, k, rows);
    max_abs(&field[..2 * rows * k.key.1])
}

/// The two halves of [`spread_body`]'s field.
#[inline(always)]
fn spread_halves(field: &mut [f32], coarse: &mut [f32], noise: &[f32], k: &Kernels, rows: usize) {
    let half = rows * k.key.1;
    let grid = k.nx * k.ny;
    assert!(field.len() == field_len(k, rows) && noise.len() == 2 * grid);
    for (h, n) in noise.chunks_exact(grid).enumerate() {
        // The half and the lanes its last row writes past it (see `spread_rows`).
        let f = &mut field[h * half..(h + 1) * half + k.width - k.key.1];
        match k.width {
            16 => spread_rows::<16>(f, coarse, n, k, rows),
            32 => spread_rows::<32>(f, coarse, n, k, rows),
            _ => spread_rows::<0>(f, coarse, n, k, rows),
        }
    }
}

/// The largest magnitude of `values` (0 when empty), in 16 independent lanes: `max` is
/// exact and ignores NaN, so the order of the comparisons does not change the result.
/// `if a > m` is `m.max(a)` for an `m` that is never NaN.
#[inline(always)]
fn max_abs<'a>(values: impl IntoIterator<Item = &'a f32>) -> f32 {
    let mut lanes = [0.0f32; 16];
    for (i, v) in values.into_iter().enumerate() {
        let (m, a) = (&mut lanes[i % 16], v.abs());
        *m = if a > *m { a } else { *m };
    }
    lanes.iter().fold(0.0f32, |m, &v| m.max(v))
}

/// One half of [`spread_body`] in rows of `W` lanes (`W = 0`: of `k.width`): first the
/// weights spread along x (`coarse`, a row per y control point), then those rows along y.
/// Every lane adds its terms in the order of the per-pixel formula; with `W > 0` the sums
/// build in a local row (kept in registers) that is then stored whole, `W` lanes from the
/// row's start: the lanes past `cols` land on the next row, which is written after, and
/// after the last row on `W - cols` lanes past the half (`field` holds them).
#[inline(always)]
fn spread_rows<const W: usize>(
    field: &mut [f32],
    coarse: &mut [f32],
    noise: &[f32],
    k: &Kernels,
    rows: usize,
) {
    let width = if W == 0 { k.width } else { W };
    let cols = k.key.1;
    assert!(
        cols <= width
            && field.len() == rows * cols + width - cols
            && coarse.len() == k.ny * width
            && noise.len() == k.nx * k.ny
            && k.x_kernel.len() == k.nx * width
            && k.y_kernel.len() == rows * k.ny
            && (W == 0 || width <= 32)
    );
    if W > 0 {
        weighted_rows::<W>(coarse, W, noise, &k.x_kernel);
        weighted_rows::<W>(field, cols, &k.y_kernel, coarse);
        return;
    }
    // acc[i] += w * src[i] over `width` lanes.
    let madd = |acc: &mut [f32], src: &[f32], w: f32| {
        let (acc, src) = (&mut acc[..width], &src[..width]);
        for (a, &v) in acc.iter_mut().zip(src) {
            *a += w * v;
        }
    };
    for (acc, weights) in coarse.chunks_exact_mut(width).zip(noise.chunks_exact(k.nx)) {
        acc.fill(0.0);
        for (&w, lane) in weights.iter().zip(k.x_kernel.chunks_exact(width)) {
            madd(acc, lane, w);
        }
    }
    let coarse = &*coarse;
    for (y, ys) in k.y_kernel.chunks_exact(k.ny).enumerate() {
        let acc = &mut field[y * cols..(y + 1) * cols];
        acc.fill(0.0);
        for (&w, lane) in ys.iter().zip(coarse.chunks_exact(width)) {
            madd(acc, lane, w);
        }
    }
}

/// Row `r` of `dst` (`W` lanes from `r * stride`) = `sum_i weights[r][i] * src[i]`, with
/// `src` rows of `W` lanes and `weights` rows of one weight per `src` row: each lane adds
/// its terms from 0 in ascending `i`. Four rows at a time (eight independent sums, one
/// load of each `src` row for four), stored whole in ascending order, so a row's lanes
/// past `stride` are overwritten by the next row.
#[inline(always)]
fn weighted_rows<const W: usize>(dst: &mut [f32], stride: usize, weights: &[f32], src: &[f32]) {
    let n = src.len() / W;
    let rows = weights.len().checked_div(n).unwrap_or(0);
    assert!(
        n > 0 && src.len() == n * W && weights.len() == rows * n && stride <= W,
        "weighted_rows shapes"
    );
    assert!(rows == 0 || dst.len() >= (rows - 1) * stride + W);
    const R: usize = 4;
    let mut r0 = 0;
    while r0 + R <= rows {
        let mut acc = [[0.0f32; W]; R];
        let ws = &weights[r0 * n..(r0 + R) * n];
        for (i, lane) in src.chunks_exact(W).enumerate() {
            for (r, acc) in acc.iter_mut().enumerate() {
                let w = ws[r * n + i];
                for (a, &v) in acc.iter_mut().zip(lane) {
                    *a += w * v;
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            dst[(r0 + r) * stride..][..W].copy_from_slice(acc);
        }
        r0 += R;
    }
    for r in r0..rows {
        let mut acc = [0.0f32; W];
        for (&w, lane) in weights[r * n..(r + 1) * n].iter().zip(src.chunks_exact(W)) {
            for (a, &v) in acc.iter_mut().zip(lane) {
                *a += w * v;
            }
        }
        dst[r * stride..][..W].copy_from_slice(&acc);
    }
}

/// What the sampler reads: the four neighbours of a plane position, and the factor that
/// maps the interpolated value to [0, 1].
trait Source: Copy {
    /// The neighbours `(at, at + 1, at + wp, at + wp + 1)` of the plane, as floats.
    fn corners(self, at: usize, wp: usize) -> [f32; 4];
    /// Positions of the plane.
    fn len(self) -> usize;
    /// The divisor of the interpolated value (1 for floats, 255 for bytes).
    const DIVISOR: f32;
}

/// A zero-padded float plane.
#[derive(Clone, Copy)]
struct Floats<'a>(&'a [f32]);

impl Source for Floats<'_> {
    #[inline(always)]
    fn corners(self, at: usize, wp: usize) -> [f32; 4] {
        let q = &self.0[at..at + wp + 2];
        [q[0], q[1], q[wp], q[wp + 1]]
    }
    fn len(self) -> usize {
        self.0.len()
    }
    const DIVISOR: f32 = 1.0;
}

/// The packed neighbourhoods of a zero-padded byte plane (see [`pack_quads`]).
#[derive(Clone, Copy)]
struct Quads<'a>(&'a [u32]);

impl Source for Quads<'_> {
    #[inline(always)]
    fn corners(self, at: usize, _wp: usize) -> [f32; 4] {
        let q = self.0[at];
        [
            (q & 0xff) as f32,
            ((q >> 8) & 0xff) as f32,
            ((q >> 16) & 0xff) as f32,
            (q >> 24) as f32,
        ]
    }
    /// Positions whose whole neighbourhood is packed: the last plane row has none.
    fn len(self) -> usize {
        self.0.len()
    }
    const DIVISOR: f32 = 255.0;
}

/// `quads[i]` = bytes `i`, `i + 1`, `i + wp`, `i + wp + 1` of the padded byte plane, from
/// the low byte up: a position's four bilinear neighbours in one word.
#[inline(always)]
fn pack_quads(quads: &mut [u32], bytes: &[u8], wp: usize) {
    let n = quads.len();
    assert!(bytes.len() > n + wp);
    let (b00, b01) = (&bytes[..n], &bytes[1..n + 1]);
    let (b10, b11) = (&bytes[wp..wp + n], &bytes[wp + 1..wp + n + 1]);
    for ((((q, &p00), &p01), &p10), &p11) in quads.iter_mut().zip(b00).zip(b01).zip(b10).zip(b11) {
        *q = u32::from(p00)
            | (u32::from(p01) << 8)
            | (u32::from(p10) << 16)
            | (u32::from(p11) << 24);
    }
}

/// Packs the byte plane and samples it: [`sample`] on [`Quads`], compiled for the best
/// instruction set of the CPU (AVX-512: one gather per 16 pixels).
/// `grid` is [`pixel_grid`] of the shape.
fn sample_bytes(
    out: &mut [f32],
    quads: &mut [u32],
    bytes: &[u8],
    grid: &[f32],
    field: Option<Field<'_>>,
    map: &Map,
) {
    let wp = map.cols + 2 * PAD;
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && field.is_none_or(|f| f.stride == map.cols)
            && quads.len() < 1 << 24
        {
            // SAFETY: the CPU has AVX-512 F and BW (checked on the lines above).
            return unsafe { sample_bytes_avx512(out, quads, bytes, grid, field, map) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked on the line above).
            return unsafe { sample_bytes_avx2(out, quads, bytes, field, map) };
        }
    }
    pack_quads(quads, bytes, wp);
    sample_body(out, Quads(quads), field, map);
}

/// [`sample_bytes`] compiled for AVX2 (the portable sampler).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sample_bytes_avx2(
    out: &mut [f32],
    quads: &mut [u32],
    bytes: &[u8],
    field: Option<Field<'_>>,
    map: &Map,
) {
    pack_quads(quads, bytes, map.cols + 2 * PAD);
    sample_body(out, Quads(quads), field, map);
}

/// The position of every pixel of a `rows x cols` image in reading order, as exact floats:
/// `grid[p]` = column and `grid[rows * cols + p]` = row of pixel `p` (what the AVX-512
/// sampler loads instead of counting).
fn pixel_grid(grid: &mut Vec<f32>, rows: usize, cols: usize) {
    let len = rows * cols;
    grid.clear();
    grid.extend((0..len).map(|p| (p % cols) as f32));
    grid.extend((0..len).map(|p| (p / cols) as f32));
}

/// [`sample_bytes`] in AVX-512 intrinsics: 16 pixels at a time in reading order (a block
/// may span two rows; only the last one is partial), the four neighbours of each read by
/// one gather of their packed word. The values of [`sample_rows`] bit for bit: the same
/// roundings in the same order (no fused multiply-adds in the interpolation), the floor as
/// an exact rounding, the plane position as an exact float product (all below 2^24), the
/// division by 255 as a correctly rounded product and correction, and the final clamp as a
/// `min` (the interpolated value is never negative, -0 or NaN: a sum of products of bytes
/// and weights in [0, 1]). `grid` is [`pixel_grid`] of the shape; the field, when given,
/// has rows of `cols` values.
///
/// # Safety
/// The CPU must support AVX-512 F and BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
unsafe fn sample_bytes_avx512(
    out: &mut [f32],
    quads: &mut [u32],
    bytes: &[u8],
    grid: &[f32],
    field: Option<Field<'_>>,
    m: &Map,
) {
    if field.is_some() {
        // SAFETY: the caller's CPU has the sets this function needs.
        unsafe { sample_bytes_avx512_with::<true>(out, quads, bytes, grid, field, m) }
    } else {
        // SAFETY: as above.
        unsafe { sample_bytes_avx512_with::<false>(out, quads, bytes, grid, field, m) }
    }
}

/// [`sample_bytes_avx512`] with the elastic displacement compiled in or out (`field` is
/// `Some` exactly when `ELASTIC`).
///
/// # Safety
/// The CPU must support AVX-512 F and BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
unsafe fn sample_bytes_avx512_with<const ELASTIC: bool>(
    out: &mut [f32],
    quads: &mut [u32],
    bytes: &[u8],
    grid: &[f32],
    field: Option<Field<'_>>,
    m: &Map,
) {
    use std::arch::x86_64::*;
    assert!(field.is_some() == ELASTIC);
    let (rows, cols) = (m.rows, m.cols);
    let len = rows * cols;
    let wp = cols + 2 * PAD;
    pack_quads(quads, bytes, wp);
    assert!(quads.len() == (rows + 2 * PAD - 1) * wp && out.len() == len);
    assert!(grid.len() == 2 * len);
    assert!(field.is_none_or(|f| f.stride == cols && f.values.len() >= 2 * len));
    assert!(
        quads.len() < 1 << 24,
        "augment: plane too large for exact float positions"
    );
    let set = _mm512_set1_ps;
    let (cx, cy, ox, oy) = (set(m.cx), set(m.cy), set(m.ox), set(m.oy));
    let (a, b) = (set(m.a), set(m.b));
    let (lo, x_hi, y_hi) = (
        set(-(PAD as f32)),
        set((cols + PAD - 2) as f32),
        set((rows + PAD - 2) as f32),
    );
    let (one, wp_f, divisor, recip) = (set(1.0), set(wp as f32), set(255.0), set(1.0 / 255.0));
    // Byte 1 and byte 2 of every 32-bit lane, zero-extended (a byte shuffle within each
    // 128-bit lane; 0x80 writes a zero).
    let byte_of = |k: i32| {
        let z = 0x8080_8000u32 as i32;
        _mm512_setr_epi32(
            z | k,
            z | (4 + k),
            z | (8 + k),
            z | (12 + k),
            z | k,
            z | (4 + k),
            z | (8 + k),
            z | (12 + k),
            z | k,
            z | (4 + k),
            z | (8 + k),
            z | (12 + k),
            z | k,
            z | (4 + k),
            z | (8 + k),
            z | (12 + k),
        )
    };
    let (byte1, byte2, low) = (byte_of(1), byte_of(2), _mm512_set1_epi32(0xff));
    const FLOOR: i32 = _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC;
    // SAFETY: PAD * wp + PAD < quads.len() (the plane has rows + 2 PAD - 1 >= PAD + 1 rows
    // of wp > PAD words): a position inside the packed plane.
    let base = unsafe { quads.as_ptr().add(PAD * wp + PAD) };
    let out_at = out.as_mut_ptr();
    let (xs, ys) = grid.split_at(len);
    let (values, scale) = match field {
        Some(f) => (f.values.as_ptr(), set(f.scale)),
        None => (std::ptr::null(), set(0.0)),
    };
    // Pixels p.. (the lanes of `mask`, the first n = 16 - mask.leading_zeros() of them,
    // p + n <= len).
    let block = |p: usize, mask: __mmask16| {
        // SAFETY: lanes below n read xs[p + j] and ys[p + j], p + j < len; the others are
        // masked off.
        let (x, y) = unsafe {
            (
                _mm512_maskz_loadu_ps(mask, xs.as_ptr().add(p)),
                _mm512_maskz_loadu_ps(mask, ys.as_ptr().add(p)),
            )
        };
        let mut ux = _mm512_sub_ps(x, ox);
        let mut uy = _mm512_sub_ps(y, oy);
        if ELASTIC {
            // SAFETY: lanes below n read values p + j and len + p + j, p + j < len: inside
            // the 2 len values of the field (asserted); the other lanes are masked off.
            let (ex, ey) = unsafe {
                (
                    _mm512_maskz_loadu_ps(mask, values.add(p)),
                    _mm512_maskz_loadu_ps(mask, values.add(len + p)),
                )
            };
            ux = _mm512_sub_ps(ux, _mm512_mul_ps(ex, scale));
            uy = _mm512_sub_ps(uy, _mm512_mul_ps(ey, scale));
        }
        let sx = _mm512_add_ps(
            _mm512_add_ps(_mm512_mul_ps(a, ux), _mm512_mul_ps(b, uy)),
            cx,
        );
        let sy = _mm512_add_ps(
            _mm512_sub_ps(_mm512_mul_ps(a, uy), _mm512_mul_ps(b, ux)),
            cy,
        );
        // `v.max(lo).min(hi)`: max_ps returns its second operand when the first is NaN.
        let sx = _mm512_min_ps(_mm512_max_ps(sx, lo), x_hi);
        let sy = _mm512_min_ps(_mm512_max_ps(sy, lo), y_hi);
        let x0 = _mm512_roundscale_ps::<FLOOR>(sx);
        let y0 = _mm512_roundscale_ps::<FLOOR>(sy);
        let fx = _mm512_sub_ps(sx, x0);
        let fy = _mm512_sub_ps(sy, y0);
        // y0 wp + x0 in [-PAD wp - PAD, quads.len() - PAD wp - PAD): exact integers.
        let at = _mm512_cvttps_epi32(_mm512_fmadd_ps(y0, wp_f, x0));
        // SAFETY: every coordinate was clamped to [-PAD, len + PAD - 2], so base + at lies
        // in the packed plane (see `sample_rows`); the gather reads only there.
        let q = unsafe {
            _mm512_mask_i32gather_epi32::<4>(_mm512_setzero_si512(), mask, at, base.cast())
        };
        let p00 = _mm512_cvtepi32_ps(_mm512_and_si512(q, low));
        let p01 = _mm512_cvtepi32_ps(_mm512_shuffle_epi8(q, byte1));
        let p10 = _mm512_cvtepi32_ps(_mm512_shuffle_epi8(q, byte2));
        let p11 = _mm512_cvtepi32_ps(_mm512_srli_epi32::<24>(q));
        let one_fx = _mm512_sub_ps(one, fx);
        let top = _mm512_add_ps(_mm512_mul_ps(p00, one_fx), _mm512_mul_ps(p01, fx));
        let bottom = _mm512_add_ps(_mm512_mul_ps(p10, one_fx), _mm512_mul_ps(p11, fx));
        let v = _mm512_add_ps(
            _mm512_mul_ps(top, _mm512_sub_ps(one, fy)),
            _mm512_mul_ps(bottom, fy),
        );
        // v / 255 with the division's bits, without its cost: the product by the rounded
        // reciprocal is within an ulp, its residual is exact with a fused multiply-add,
        // and one correction rounds correctly (Markstein's theorem; checked for every
        // float in [0, 256], where v lies, by `fma_division_by_255_is_the_division`).
        let q = _mm512_mul_ps(v, recip);
        let v = _mm512_fmadd_ps(_mm512_fnmadd_ps(q, divisor, v), recip, q);
        let v = _mm512_min_ps(v, one);
        // SAFETY: lanes below n write out[p + j], p + j < len; the others are masked off.
        unsafe { _mm512_mask_storeu_ps(out_at.add(p), mask, v) };
    };
    let full = len / 16 * 16;
    for p in (0..full).step_by(16) {
        block(p, 0xffff);
    }
    if full < len {
        block(full, (1u16 << (len - full)) - 1);
    }
}

/// Samples every output pixel from the padded float plane (see [`PAD`]), displaced by
/// `field` (x then y displacements) when given. Compiled for the best instruction set of
/// the CPU; every build does the same operations in the same order.
fn sample(out: &mut [f32], plane: Floats<'_>, field: Option<Field<'_>>, map: &Map) {
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

/// [`sample_body`] on floats compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn sample_avx512(out: &mut [f32], plane: Floats<'_>, field: Option<Field<'_>>, map: &Map) {
    sample_body(out, plane, field, map);
}

/// [`sample_body`] on floats compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sample_avx2(out: &mut [f32], plane: Floats<'_>, field: Option<Field<'_>>, map: &Map) {
    sample_body(out, plane, field, map);
}

#[inline(always)]
fn sample_body<S: Source>(out: &mut [f32], plane: S, field: Option<Field<'_>>, map: &Map) {
    match field {
        Some(f) => sample_rows::<true, S>(out, plane, f, map),
        None => {
            let none = Field {
                values: &[],
                stride: 0,
                scale: 0.0,
            };
            sample_rows::<false, S>(out, plane, none, map)
        }
    }
}

/// The sampler, with the elastic displacement compiled in or out. Per output row, a first
/// loop maps every pixel to its source position (top-left neighbour and fractions; pure
/// arithmetic, which vectorises), a second reads the four neighbours and interpolates.
#[inline(always)]
fn sample_rows<const ELASTIC: bool, S: Source>(
    out: &mut [f32],
    plane: S,
    field: Field<'_>,
    m: &Map,
) {
    let (rows, cols) = (m.rows, m.cols);
    let len = rows * cols;
    let wp = cols + 2 * PAD;
    // Every top-left neighbour lies in the first rows + 2 PAD - 1 rows of the plane.
    assert!(plane.len() >= (rows + 2 * PAD - 1) * wp && out.len() == len);
    assert!(!ELASTIC || (field.stride >= cols && field.values.len() >= 2 * rows * field.stride));
    let (fw, scale) = (field.stride, field.scale);
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
        let uy_row = y as f32 - m.oy;
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
                let (mut ux, mut uy) = (x as f32 - m.ox, uy_row);
                if ELASTIC {
                    let at = y * fw + x_start + j;
                    ux -= field.values[at] * scale;
                    uy -= field.values[rows * fw + at] * scale;
                }
                let sx = (m.a * ux + m.b * uy) + m.cx;
                let sy = (m.a * uy - m.b * ux) + m.cy;
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
                let [p00, p01, p10, p11] = plane.corners(at as usize, wp);
                let top = p00 * (1.0 - fx) + p01 * fx;
                let bottom = p10 * (1.0 - fx) + p11 * fx;
                *o = ((top * (1.0 - fy) + bottom * fy) / S::DIVISOR).clamp(0.0, 1.0);
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

/// The plain per-pixel formulation the fast code must match bit for bit.
#[cfg(test)]
mod reference {
    use super::{centre, controls, weight, Augment, Words, FIELD_GAIN, NOISE_FROM};
    use crate::rng::sin_cos;

    /// The elastic field: at each pixel, each y control point's weight times the sum over
    /// the x control points of their random weights times their kernel weights.
    pub(super) fn field(aug: &Augment, words: &Words, rows: usize, cols: usize) -> Vec<f32> {
        let sigma = aug.elastic_sigma;
        let (nx, ny) = (controls(cols, sigma), controls(rows, sigma));
        let len = rows * cols;
        let mut f = vec![0.0f32; 2 * len];
        for half in 0..2 {
            let first = NOISE_FROM + (half * nx * ny) as u64;
            for y in 0..rows {
                for x in 0..cols {
                    let mut s = 0.0f32;
                    for i in 0..ny {
                        let mut t = 0.0f32;
                        for j in 0..nx {
                            let w = words.range(first + (i * nx + j) as u64, -1.0, 1.0);
                            t += w * weight(x as f32 - centre(j, nx, cols), sigma);
                        }
                        s += weight(y as f32 - centre(i, ny, rows), sigma) * t;
                    }
                    f[half * len + y * cols + x] = s;
                }
            }
        }
        let max = f.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if max > 0.0 {
            let s = FIELD_GAIN * aug.elastic_alpha / max;
            f.iter_mut().for_each(|v| *v *= s);
        }
        f
    }

    /// `aug` applied to the image whose pixel `(y, x)` is `pixel(y * cols + x)`, the
    /// interpolated value divided by `divisor`.
    pub(super) fn apply(
        aug: &Augment,
        out: &mut [f32],
        pixel: impl Fn(usize) -> f32,
        divisor: f32,
        (rows, cols): (usize, usize),
        seed: u64,
        key: u64,
    ) {
        let words = Words::new(seed, key);
        let angle = words
            .range(0, -aug.max_rotation_deg, aug.max_rotation_deg)
            .to_radians();
        let scale = 1.0 + words.range(1, -aug.max_scale, aug.max_scale);
        let dx = words.range(2, -aug.max_shift, aug.max_shift);
        let dy = words.range(3, -aug.max_shift, aug.max_shift);
        let field =
            (aug.elastic_alpha > 0.0 && rows * cols > 0).then(|| field(aug, &words, rows, cols));
        // Inverse mapping: each output pixel reads the input where the transform sends it
        // from, rotating and scaling about the image centre, after the shift.
        let (cy, cx) = ((rows as f32 - 1.0) / 2.0, (cols as f32 - 1.0) / 2.0);
        let (sin, cos) = sin_cos(angle);
        let (a, b) = (cos / scale, sin / scale);
        let (ox, oy) = (cx + dx, cy + dy);
        for y in 0..rows {
            for x in 0..cols {
                let (mut ux, mut uy) = (x as f32 - ox, y as f32 - oy);
                if let Some(f) = &field {
                    ux -= f[y * cols + x];
                    uy -= f[rows * cols + y * cols + x];
                }
                let sx = (a * ux + b * uy) + cx;
                let sy = (a * uy - b * ux) + cy;
                out[y * cols + x] =
                    (bilinear(&pixel, rows, cols, sy, sx) / divisor).clamp(0.0, 1.0);
            }
        }
    }

    /// Bilinear sample of the image at `(y, x)`, 0 outside.
    fn bilinear(pixel: &impl Fn(usize) -> f32, rows: usize, cols: usize, y: f32, x: f32) -> f32 {
        let (y0, x0) = (y.floor(), x.floor());
        let (fy, fx) = (y - y0, x - x0);
        let at = |yy: f32, xx: f32| {
            if yy < 0.0 || xx < 0.0 || yy >= rows as f32 || xx >= cols as f32 {
                0.0
            } else {
                pixel(yy as usize * cols + xx as usize)
            }
        };
        let top = at(y0, x0) * (1.0 - fx) + at(y0, x0 + 1.0) * fx;
        let bottom = at(y0 + 1.0, x0) * (1.0 - fx) + at(y0 + 1.0, x0 + 1.0) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// The field as it was made before the control points (Simard et al.): white noise
    /// uniform in (-1, 1) at every pixel, a separable Gaussian blur of radius `3 sigma`
    /// (zero outside the image), scaled to a largest component of `alpha`. Only to compare
    /// the two fields' statistics.
    pub(super) fn blurred_noise_field(
        aug: &Augment,
        words: &Words,
        rows: usize,
        cols: usize,
    ) -> Vec<f32> {
        let sigma = aug.elastic_sigma;
        let radius = (3.0 * sigma).ceil() as isize;
        let kernel: Vec<f32> = (-radius..=radius)
            .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
            .collect();
        let len = rows * cols;
        let mut f: Vec<f32> = (0..2 * len)
            .map(|n| words.range(NOISE_FROM + n as u64, -1.0, 1.0))
            .collect();
        for half in f.chunks_exact_mut(len) {
            let mut tmp = vec![0.0; len];
            for y in 0..rows {
                for x in 0..cols {
                    let mut s = 0.0;
                    for (k, w) in kernel.iter().enumerate() {
                        let xx = x as isize + k as isize - radius;
                        if (0..cols as isize).contains(&xx) {
                            s += w * half[y * cols + xx as usize];
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
                    half[y * cols + x] = s;
                }
            }
        }
        let max = f.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        f.iter_mut().for_each(|v| *v *= aug.elastic_alpha / max);
        f
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
        let bytes: Vec<u8> = (0..784u32).map(|i| (i * 97 % 256) as u8).collect();
        none.apply_bytes(&mut out, &bytes, 28, 28, 1, 2);
        let unit: Vec<f32> = bytes.iter().map(|&p| crate::to_unit(p)).collect();
        assert_eq!(out, unit);
    }

    #[test]
    fn augmentation_is_seeded_and_keeps_the_ink_near_its_mass() {
        let img = square();
        let orig: f32 = img.iter().sum();
        let (mut a, mut b) = (vec![0.0; 784], vec![0.0; 784]);
        // Scale 0.9..1.1 changes the area by at most about 23%; an elastic field of 1.5 px
        // can stretch the 8x8 square by more.
        for (aug, most) in [(Augment::default(), 0.3), (Augment::with_elastic(), 0.6)] {
            aug.apply(&mut a, &img, 28, 28, 7, 3);
            aug.apply(&mut b, &img, 28, 28, 7, 3);
            assert_eq!(a, b);
            aug.apply(&mut b, &img, 28, 28, 7, 4);
            assert_ne!(a, b);
            aug.apply(&mut b, &img, 28, 28, 8, 3);
            assert_ne!(a, b);
            let mut mean = 0.0;
            for key in 0..200 {
                aug.apply(&mut a, &img, 28, 28, 7, key);
                let mass: f32 = a.iter().sum();
                assert!((mass / orig - 1.0).abs() < most, "{key}: {mass} vs {orig}");
                assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
                mean += mass / orig / 200.0;
            }
            // On average the area is kept (the mean of 1 / scale^2 is 1.01).
            assert!((mean - 1.0).abs() < 0.05, "mean {mean}");
        }
    }

    #[test]
    fn the_draws_cover_their_ranges_evenly() {
        let aug = Augment::default();
        let n = 20_000;
        let draws: Vec<Draw> = (0..n).map(|k| Draw::new(&aug, 3, k)).collect();
        let check = |name: &str, v: &dyn Fn(&Draw) -> f32, lo: f32, hi: f32| {
            let vals: Vec<f32> = draws.iter().map(v).collect();
            let (min, max) = vals
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let mean = vals.iter().sum::<f32>() / n as f32;
            let span = hi - lo;
            assert!(min >= lo && max < hi, "{name}: {min}..{max}");
            assert!(min < lo + 0.001 * span && max > hi - 0.001 * span, "{name}");
            // The mean of 20,000 uniforms: standard error 0.2% of the span.
            assert!(
                (mean - (lo + hi) / 2.0).abs() < 0.01 * span,
                "{name}: mean {mean}"
            );
            // A quarter of the draws in each quarter of the range, within 2%.
            for q in 0..4 {
                let (a, b) = (lo + span * q as f32 / 4.0, lo + span * (q + 1) as f32 / 4.0);
                let share = vals.iter().filter(|&&x| a <= x && x < b).count() as f32 / n as f32;
                assert!((share - 0.25).abs() < 0.02, "{name}: quarter {q} {share}");
            }
        };
        let deg = 10f32.to_radians();
        check("angle", &|d| d.angle, -deg, deg);
        check("scale", &|d| d.scale, 0.9, 1.1);
        check("dx", &|d| d.dx, -2.0, 2.0);
        check("dy", &|d| d.dy, -2.0, 2.0);
        // The two shifts are not correlated.
        let cov = draws.iter().map(|d| d.dx * d.dy).sum::<f32>() / n as f32;
        assert!(cov.abs() < 0.05, "cov {cov}");
    }

    /// Mean displacement magnitude and mean change of the displacement between neighbouring
    /// pixels (along x and along y) over `draws` fields of `make`.
    fn field_stats(make: impl Fn(&Words) -> Vec<f32>, draws: u64) -> (f64, f64) {
        let (rows, cols) = (28, 28);
        let len = rows * cols;
        let (mut mag, mut grad, mut n_grad) = (0.0f64, 0.0f64, 0usize);
        for key in 0..draws {
            let f = make(&Words::new(11, key));
            let (ex, ey) = f.split_at(len);
            for p in 0..len {
                mag += f64::from(ex[p].hypot(ey[p]));
                let (y, x) = (p / cols, p % cols);
                for (q, ok) in [(p + 1, x + 1 < cols), (p + cols, y + 1 < rows)] {
                    if ok {
                        grad += f64::from((ex[q] - ex[p]).hypot(ey[q] - ey[p]));
                        n_grad += 1;
                    }
                }
            }
        }
        (mag / (draws as f64 * len as f64), grad / n_grad as f64)
    }

    /// The control-point field has the strength and smoothness of the blurred noise it
    /// replaced: the same mean displacement and the same mean change between neighbours
    /// (each within 3%; 500 draws estimate them to about 1%) for the default strength.
    #[test]
    fn the_elastic_field_matches_blurred_white_noise_in_strength_and_smoothness() {
        let aug = Augment::with_elastic();
        let draws = 500;
        let (mag_new, grad_new) = field_stats(|w| reference::field(&aug, w, 28, 28), draws);
        let (mag_old, grad_old) =
            field_stats(|w| reference::blurred_noise_field(&aug, w, 28, 28), draws);
        println!(
            "mean |d|: control points {mag_new:.4} px, blurred noise {mag_old:.4} px; \
             mean |d(p+1) - d(p)|: {grad_new:.5} vs {grad_old:.5}"
        );
        assert!((mag_new / mag_old - 1.0).abs() < 0.03);
        assert!((grad_new / grad_old - 1.0).abs() < 0.03);
    }

    /// The noise fill gives `range` value by value on every instruction set, for even and
    /// odd lengths.
    #[test]
    fn the_noise_fill_is_the_values_one_by_one() {
        let words = Words::new(5, 9);
        for n in 0..40 {
            let want: Vec<f32> = (0..n)
                .map(|i| words.range(6 + i as u64, -1.0, 1.0))
                .collect();
            let mut got = vec![f32::NAN; n];
            words.fill_unit_range(6, -1.0, 1.0, &mut got);
            assert_eq!(bits(&got), bits(&want), "{n}");
            got.fill(f32::NAN);
            words.fill_unit_range_body(6, -1.0, 1.0, &mut got);
            assert_eq!(bits(&got), bits(&want), "{n} portable");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512dq")
            {
                got.fill(f32::NAN);
                // SAFETY: the CPU has the sets (checked above).
                unsafe { words.fill_unit_range_avx512(6, -1.0, 1.0, &mut got) };
                assert_eq!(bits(&got), bits(&want), "{n} avx512");
            }
        }
    }

    /// `v / 255` as the AVX-512 sampler computes it.
    fn div_255(v: f32) -> f32 {
        let recip = 1.0f32 / 255.0;
        let q = v * recip;
        (-q).mul_add(255.0, v).mul_add(recip, q)
    }

    /// The sampler's division by 255 gives the bits of `/` for the floats in [0, 256] (the
    /// interpolated byte values): every 61st one here (18.6 million, including both ends);
    /// `cargo test -p datagen --lib -- --ignored fma_division` checks all 1.13 billion.
    #[test]
    fn fma_division_by_255_is_the_division() {
        let end = 256.0f32.to_bits();
        for b in (0..=end).step_by(61).chain([end, 255.0f32.to_bits(), 1]) {
            let v = f32::from_bits(b);
            assert_eq!(div_255(v).to_bits(), (v / 255.0).to_bits(), "{v:e}");
        }
    }

    #[test]
    #[ignore = "every float in [0, 256]: about 30 s"]
    fn fma_division_by_255_is_the_division_everywhere() {
        let end = 256.0f32.to_bits();
        let bad = (0..=end)
            .filter(|&b| {
                let v = f32::from_bits(b);
                div_255(v).to_bits() != (v / 255.0).to_bits()
            })
            .count();
        assert_eq!(bad, 0);
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The fast sampler and field give the plain formulation's bits, on bytes and on
        /// floats, for any size, strength and key (including strengths that push every
        /// sample outside the image); bytes and floats agree to rounding.
        #[test]
        fn fast_augmentation_matches_the_reference_bit_for_bit(
            rows in 1usize..36,
            cols in 1usize..36,
            shift in 0.0f32..12.0,
            rot in 0.0f32..60.0,
            scale in 0.0f32..0.6,
            alpha in prop_oneof![Just(0.0f32), 0.1f32..6.0],
            sigma in prop_oneof![Just(0.0f32), 0.3f32..40.0],
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
            reference::apply(&aug, &mut want, |i| unit[i], 1.0, (rows, cols), seed, key);
            let mut got = vec![f32::NAN; rows * cols];
            aug.apply(&mut got, &unit, rows, cols, seed, key);
            prop_assert_eq!(bits(&got), bits(&want));
            let mut want_bytes = vec![f32::NAN; rows * cols];
            let byte = |i: usize| f32::from(bytes[i]);
            reference::apply(&aug, &mut want_bytes, byte, 255.0, (rows, cols), seed, key);
            got.fill(f32::NAN);
            aug.apply_bytes(&mut got, bytes, rows, cols, seed, key);
            prop_assert_eq!(bits(&got), bits(&want_bytes));
            for (b, f) in got.iter().zip(&want) {
                prop_assert!((b - f).abs() <= 1e-6, "{} vs {}", b, f);
            }
        }
    }

    /// On shapes whose rows fill 16 and 32 lanes, part of them and more (and an image that
    /// is not a whole number of 16-pixel blocks).
    #[test]
    fn every_instruction_set_samples_and_spreads_the_same_bits() {
        for (rows, cols) in [(28, 28), (5, 13), (33, 17), (9, 37)] {
            same_bits_on_every_instruction_set(rows, cols);
        }
    }

    fn same_bits_on_every_instruction_set(rows: usize, cols: usize) {
        let len = rows * cols;
        let wp = cols + 2 * PAD;
        let img: Vec<u8> = (0..len as u32).map(|i| (i * 97 % 256) as u8).collect();
        let mut plane = vec![0.0; (rows + 2 * PAD) * wp];
        let mut bytes = vec![0u8; (rows + 2 * PAD) * wp + 1];
        for y in 0..rows {
            let at = (y + PAD) * wp + PAD;
            for x in 0..cols {
                plane[at + x] = crate::to_unit(img[y * cols + x]);
                bytes[at + x] = img[y * cols + x];
            }
        }
        // A rough field (displacements up to 3.9 px, some pushing samples outside).
        let values: Vec<f32> = (0..2 * len)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 9.0)
            .collect();
        let field = Field {
            values: &values,
            stride: cols,
            scale: 0.7,
        };
        let (cx, cy) = ((cols as f32 - 1.0) / 2.0, (rows as f32 - 1.0) / 2.0);
        let map = Map {
            rows,
            cols,
            cx,
            cy,
            ox: cx + 1.3,
            oy: cy - 0.7,
            a: 0.92,
            b: 0.19,
        };
        let mut grid = Vec::new();
        pixel_grid(&mut grid, rows, cols);
        let mut scratch = Scratch::default();
        scratch.set_kernels(rows, cols, 4.0);
        let k = scratch.kernels.as_ref().unwrap();
        let noise: Vec<f32> = (0..2 * k.nx * k.ny)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let mut quads = vec![0u32; (rows + 2 * PAD - 1) * wp];
        let mut coarse = vec![0.0; k.ny * k.width];
        pack_quads(&mut quads, &bytes, wp);
        let mut want_field = vec![0.0; field_len(k, rows)];
        let want_max = spread_body(&mut want_field, &mut coarse, &noise, k, rows);
        assert!(want_max > 0.0);
        want_field.truncate(2 * len);
        let (mut got, mut got_field) = (vec![0.0; len], vec![0.0; field_len(k, rows)]);
        for f in [Some(field), None] {
            let mut want = vec![0.0; len];
            sample_body(&mut want, Floats(&plane), f, &map);
            let mut want_bytes = vec![0.0; len];
            sample_body(&mut want_bytes, Quads(&quads), f, &map);
            // The dispatching entry points run the best set of this CPU; each set is
            // checked where the CPU has it.
            got.fill(f32::NAN);
            sample(&mut got, Floats(&plane), f, &map);
            assert_eq!(bits(&got), bits(&want));
            got.fill(f32::NAN);
            sample_bytes(&mut got, &mut quads, &bytes, &grid, f, &map);
            assert_eq!(bits(&got), bits(&want_bytes));
            #[cfg(target_arch = "x86_64")]
            for set in ["avx2", "avx512f"] {
                let avx512 = set == "avx512f";
                let present = if avx512 {
                    std::arch::is_x86_feature_detected!("avx512f")
                        && std::arch::is_x86_feature_detected!("avx512bw")
                } else {
                    std::arch::is_x86_feature_detected!("avx2")
                };
                if !present {
                    continue;
                }
                got.fill(f32::NAN);
                // SAFETY: the CPU has the set (checked above).
                unsafe {
                    if avx512 {
                        sample_avx512(&mut got, Floats(&plane), f, &map);
                    } else {
                        sample_avx2(&mut got, Floats(&plane), f, &map);
                    }
                }
                assert_eq!(bits(&got), bits(&want), "{set} floats");
                got.fill(f32::NAN);
                // SAFETY: the CPU has the set (checked above).
                unsafe {
                    if avx512 {
                        sample_bytes_avx512(&mut got, &mut quads, &bytes, &grid, f, &map);
                    } else {
                        sample_bytes_avx2(&mut got, &mut quads, &bytes, f, &map);
                    }
                }
                assert_eq!(bits(&got), bits(&want_bytes), "{set} bytes");
                got_field.fill(f32::NAN);
                // SAFETY: the CPU has the set (checked above).
                let max = unsafe {
                    if avx512 {
                        spread_avx512(&mut got_field, &mut coarse, &noise, k, rows)
                    } else {
                        spread_avx2(&mut got_field, &mut coarse, &noise, k, rows)
                    }
                };
                assert_eq!(
                    bits(&got_field[..2 * len]),
                    bits(&want_field),
                    "{set} field"
                );
                assert_eq!(max.to_bits(), want_max.to_bits(), "{set} max");
            }
        }
        got_field.fill(f32::NAN);
        let max = spread(&mut got_field, &mut coarse, &noise, k, rows);
        assert_eq!(bits(&got_field[..2 * len]), bits(&want_field));
        assert_eq!(max.to_bits(), want_max.to_bits());
    }
}
