//! MNIST framing: fit the digit into a 20x20 box keeping its aspect ratio, then shift it so its
//! centre of mass sits at the centre of the 28x28 image.
//!
//! LeCun et al. fitted each NIST digit's bounding box into 20x20 pixels (the long side becomes
//! 20) and then translated the image by whole pixels so that its intensity-weighted centre of
//! mass came nearest the centre. Measured on real MNIST digits with pixel centres at 0..=27,
//! that centre is **14.0** on both axes (every digit's mean coordinate lies in [13.5, 14.5])
//! and the ink's bounding box (pixels > 0) is exactly 20 pixels on its long side. Both hold
//! here by construction: the pen's outer edge is fitted to the box exactly, the box is aligned
//! with the pixel grid, and the shift is by whole pixels.

use crate::path::{Path, Pt};
use crate::render::Touched;
use crate::{IMAGE_LEN, IMAGE_SIDE};

/// Side of the working canvas: the 28x28 image plus room to shift by the centre of mass.
pub(crate) const CANVAS: usize = IMAGE_SIDE + 2 * MARGIN;

/// Room on each side of the image inside the canvas: the centring may move the 28x28 window by
/// up to this many pixels either way. The 20-pixel box leaves 4 pixels of room in the image, so
/// a digit whose mass sits more than 4 pixels off its box's centre loses ink at the border,
/// as it would have in MNIST.
const MARGIN: usize = 6;

/// Pixels on the long side of the box.
pub(crate) const BOX: f32 = 20.0;

/// Where the centre of mass goes, in image pixel coordinates (see the module doc).
pub(crate) const CENTRE: f32 = 14.0;

/// Keeps the outermost pixel rows strictly inside the box despite rounding.
const EPS: f32 = 0.01;

/// Scales and moves `path` (glyph units) into canvas pixels so that the pen's ink (radius
/// `radius * width` plus `soft`) fills the 20-pixel box on its long side.
///
/// Coverage is exactly 0 at distance `r + soft` from the path, so the ink of pixel centres
/// lies strictly inside an interval of length `20 + 1` around the path: that interval spans
/// the 20 pixel centres of the box and no more.
pub(crate) fn fit(path: &mut Path, radius: f32, soft: f32) {
    if path.len == 0 {
        return;
    }
    let target = BOX + 1.0 - 2.0 * EPS;
    let n = path.len;
    let reach = |i: usize| radius * path.width[i] + soft;
    let kx = solve_scale(&path.pts[..n], |p| p.x, &reach, target);
    let ky = solve_scale(&path.pts[..n], |p| p.y, &reach, target);
    let k = kx.min(ky);
    let k = if k.is_finite() { k } else { 1.0 };
    // Extent of the ink on each axis at scale k, measured from the scaled path.
    let ink = |coord: &dyn Fn(Pt) -> f32| {
        let mut lo_e = f32::INFINITY;
        let mut hi_e = f32::NEG_INFINITY;
        for i in 0..n {
            let c = k * coord(path.pts[i]);
            lo_e = lo_e.min(c - reach(i));
            hi_e = hi_e.max(c + reach(i));
        }
        (lo_e, hi_e)
    };
    let (x_lo, x_hi) = ink(&|p| p.x);
    let (y_lo, y_hi) = ink(&|p| p.y);
    // The box's pixel centres are MARGIN + 4 ..= MARGIN + 23, so its zero-coverage edges are
    // at MARGIN + 3 and MARGIN + 24: the long side starts just inside the first, the short side
    // is centred on the box (the centre-of-mass shift moves it afterwards anyway).
    let m = MARGIN as f32;
    let box_lo = m + 3.0 + EPS;
    let box_mid = m + 13.5;
    let place = |lo_e: f32, hi_e: f32, long: bool| {
        if long {
            box_lo - lo_e
        } else {
            box_mid - 0.5 * (lo_e + hi_e)
        }
    };
    let tx = place(x_lo, x_hi, kx <= ky);
    let ty = place(y_lo, y_hi, ky < kx);
    path.map(|p| Pt::new(k * p.x + tx, k * p.y + ty));
}

/// The scale `k` at which the ink along one axis, `max(k c_i + r_i) - min(k c_i - r_i)`, equals
/// `target`; infinite when the path has no extent along the axis.
///
/// That extent is convex, piecewise linear and increasing in `k`, so Newton's method from a
/// point at or beyond the root lands on it in a few exact steps.
fn solve_scale(
    pts: &[Pt],
    coord: impl Fn(Pt) -> f32,
    reach: &impl Fn(usize) -> f32,
    target: f32,
) -> f32 {
    let extent = |k: f32| {
        let (mut hi, mut lo) = (f32::NEG_INFINITY, f32::INFINITY);
        let (mut c_hi, mut c_lo) = (0.0, 0.0);
        for (i, &p) in pts.iter().enumerate() {
            let c = coord(p);
            let r = reach(i);
            if k * c + r > hi {
                hi = k * c + r;
                c_hi = c;
            }
            if k * c - r < lo {
                lo = k * c - r;
                c_lo = c;
            }
        }
        (hi - lo, c_hi - c_lo)
    };
    let (c_min, c_max) = pts
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &p| {
            (a.min(coord(p)), b.max(coord(p)))
        });
    let span = c_max - c_min;
    if span < 1e-6 {
        return f32::INFINITY;
    }
    // At k = target / span the extent is at least `target`: start there, at or past the root.
    let mut k = target / span;
    for _ in 0..12 {
        let (e, slope) = extent(k);
        if e <= target || slope <= 0.0 {
            break;
        }
        k = (k - (e - target) / slope).max(0.0);
    }
    k
}

/// Copies the 28x28 window of `canvas` whose centre of mass comes nearest [`CENTRE`] into
/// `out`, scaled so that its brightest pixel is 1. An empty canvas gives an empty image.
///
/// `ink` is the rectangle [`draw_path`](crate::render::draw_path) reports: every pixel
/// outside it must be `+0.0`. Those pixels add exactly nothing to the sums (every partial sum
/// is `+0.0` or positive, and `s + 0.0 == s` for those), so only the rectangle is summed, in
/// the same order as over the whole canvas.
pub(crate) fn centre_into(canvas: &[f32], ink: Option<Touched>, out: &mut [f32]) {
    debug_assert!(canvas.len() == CANVAS * CANVAS && out.len() == IMAGE_LEN);
    let Some(ink) = ink else {
        out.fill(0.0);
        return;
    };
    debug_assert!(ink.x1 < CANVAS && ink.y1 < CANVAS);
    let (mut mass, mut mx, mut my, mut peak) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for y in ink.y0..=ink.y1 {
        let row = &canvas[y * CANVAS..][ink.x0..=ink.x1];
        let mut row_mass = 0.0f32;
        for (x, &v) in (ink.x0..).zip(row) {
            row_mass += v;
            mx += v * x as f32;
            peak = peak.max(v);
        }
        mass += row_mass;
        my += row_mass * y as f32;
    }
    if mass <= 0.0 || peak <= 0.0 {
        out.fill(0.0);
        return;
    }
    let offset = |c: f32| (c / mass - CENTRE).round().clamp(0.0, 2.0 * MARGIN as f32) as usize;
    let (ox, oy) = (offset(mx), offset(my));
    let inv = 1.0 / peak;
    for (y, dst) in out.chunks_exact_mut(IMAGE_SIDE).enumerate() {
        let src = &canvas[(y + oy) * CANVAS + ox..][..IMAGE_SIDE];
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s * inv;
        }
    }
}

/// Sees a framed 28x28 image through a coarse scanner: averaged down by `factor` (exact
/// area weights, to `round(28 / factor)` pixels a side), then scaled back up bilinearly and
/// its peak set to 1 again, as a low-resolution scan of the digit enlarged to MNIST's size.
pub(crate) fn coarsen(image: &mut [f32], factor: f32) {
    debug_assert!(image.len() == IMAGE_LEN && factor >= 1.0);
    let m = ((IMAGE_SIDE as f32 / factor).round() as usize).clamp(2, IMAGE_SIDE);
    let f = IMAGE_SIDE as f32 / m as f32;
    // down[i][x]: the share of source pixel x in low-resolution pixel i.
    let mut down = vec![0.0f32; m * IMAGE_SIDE];
    for i in 0..m {
        let (a, b) = (i as f32 * f, (i + 1) as f32 * f);
        for x in 0..IMAGE_SIDE {
            let overlap = (b.min(x as f32 + 1.0) - a.max(x as f32)).max(0.0);
            down[i * IMAGE_SIDE + x] = overlap / f;
        }
    }
    // up[x]: the two low-resolution pixels and the weight of the second, for pixel x.
    let up: Vec<(usize, usize, f32)> = (0..IMAGE_SIDE)
        .map(|x| {
            let u = ((x as f32 + 0.5) / f - 0.5).clamp(0.0, (m - 1) as f32);
            let i = (u.floor() as usize).min(m - 2);
            (i, i + 1, u - i as f32)
        })
        .collect();
    // Rows, then columns, each through `down`.
    let mut rows = vec![0.0f32; m * IMAGE_SIDE];
    for i in 0..m {
        for (y, src) in image.chunks_exact(IMAGE_SIDE).enumerate() {
            let w = down[i * IMAGE_SIDE + y];
            if w > 0.0 {
                for (r, &v) in rows[i * IMAGE_SIDE..][..IMAGE_SIDE].iter_mut().zip(src) {
                    *r += w * v;
                }
            }
        }
    }
    let mut low = vec![0.0f32; m * m];
    for i in 0..m {
        for j in 0..m {
            low[i * m + j] = (0..IMAGE_SIDE)
                .map(|x| down[j * IMAGE_SIDE + x] * rows[i * IMAGE_SIDE + x])
                .sum();
        }
    }
    let mut peak = 0.0f32;
    for (y, &(i0, i1, ty)) in up.iter().enumerate() {
        for (x, &(j0, j1, tx)) in up.iter().enumerate() {
            let at = |i: usize, j: usize| low[i * m + j];
            let top = at(i0, j0) * (1.0 - tx) + at(i0, j1) * tx;
            let bottom = at(i1, j0) * (1.0 - tx) + at(i1, j1) * tx;
            let v = top * (1.0 - ty) + bottom * ty;
            image[y * IMAGE_SIDE + x] = v;
            peak = peak.max(v);
        }
    }
    if peak > 0.0 {
        image.iter_mut().for_each(|v| *v /= peak);
    }
}

/// Intensity-weighted centre of mass of a 28x28 image, (x, y): what the framing puts at the
/// centre, for the crate's tests.
#[cfg(test)]
pub(crate) fn centre_of_mass(img: &[f32]) -> (f32, f32) {
    let (mut m, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (i, &v) in img.iter().enumerate() {
        m += v;
        mx += v * (i % IMAGE_SIDE) as f32;
        my += v * (i / IMAGE_SIDE) as f32;
    }
    (mx / m, my / m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SampleRng;

    #[test]
    fn a_coarse_scan_keeps_a_flat_image_and_spreads_a_stroke_where_it_was() {
        for factor in [1.0, 1.8, 2.33, 3.0] {
            let mut flat = vec![0.5f32; IMAGE_LEN];
            coarsen(&mut flat, factor);
            assert!(
                flat.iter().all(|&v| (v - 1.0).abs() < 1e-5),
                "factor {factor}"
            );
        }
        // A vertical bar two pixels wide: the scan widens it, keeps its peak at 1 and its
        // centre of mass within half a pixel.
        let mut bar = vec![0.0f32; IMAGE_LEN];
        for y in 4..24 {
            bar[y * IMAGE_SIDE + 13] = 1.0;
            bar[y * IMAGE_SIDE + 14] = 1.0;
        }
        let before = centre_of_mass(&bar);
        let mut scanned = bar.clone();
        coarsen(&mut scanned, 2.5);
        let after = centre_of_mass(&scanned);
        assert!((before.0 - after.0).abs() < 0.5 && (before.1 - after.1).abs() < 0.5);
        let inked = |img: &[f32]| img.iter().filter(|&&v| v > 0.05).count();
        assert!(
            inked(&scanned) > inked(&bar) + 20,
            "{} pixels",
            inked(&scanned)
        );
        let peak = scanned.iter().copied().fold(0.0f32, f32::max);
        assert!((peak - 1.0).abs() < 1e-6);
        assert!(scanned.iter().all(|v| (0.0..=1.0).contains(v)));
        // Nothing to scan stays nothing.
        let mut blank = vec![0.0f32; IMAGE_LEN];
        coarsen(&mut blank, 2.0);
        assert!(blank.iter().all(|&v| v == 0.0));
    }

    /// The framing as it was: sums over the whole canvas.
    fn centre_into_reference(canvas: &[f32], out: &mut [f32]) {
        let (mut mass, mut mx, mut my, mut peak) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for (y, row) in canvas.chunks_exact(CANVAS).enumerate() {
            let mut row_mass = 0.0f32;
            for (x, &v) in row.iter().enumerate() {
                row_mass += v;
                mx += v * x as f32;
                peak = peak.max(v);
            }
            mass += row_mass;
            my += row_mass * y as f32;
        }
        if mass <= 0.0 || peak <= 0.0 {
            out.fill(0.0);
            return;
        }
        let offset = |c: f32| (c / mass - CENTRE).round().clamp(0.0, 2.0 * MARGIN as f32) as usize;
        let (ox, oy) = (offset(mx), offset(my));
        let inv = 1.0 / peak;
        for (y, dst) in out.chunks_exact_mut(IMAGE_SIDE).enumerate() {
            let src = &canvas[(y + oy) * CANVAS + ox..][..IMAGE_SIDE];
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s * inv;
            }
        }
    }

    #[test]
    fn summing_the_inked_rectangle_gives_the_whole_canvas_sums_bit_for_bit() {
        let mut rng = SampleRng::new(2, 9);
        for case in 0..2000 {
            let mut canvas = [0.0f32; CANVAS * CANVAS];
            let pick = |rng: &mut SampleRng| (rng.unit() * CANVAS as f32) as usize;
            let (xa, xb, ya, yb) = (
                pick(&mut rng),
                pick(&mut rng),
                pick(&mut rng),
                pick(&mut rng),
            );
            let ink = Touched {
                x0: xa.min(xb),
                x1: xa.max(xb),
                y0: ya.min(yb),
                y1: ya.max(yb),
            };
            // Ink of every brightness, some pixels of the rectangle blank, a few
            // rectangles blank altogether.
            let density = if case % 10 == 0 { 0.0 } else { rng.unit() };
            for y in ink.y0..=ink.y1 {
                for x in ink.x0..=ink.x1 {
                    if rng.chance(density) {
                        canvas[y * CANVAS + x] = rng.unit() * rng.unit();
                    }
                }
            }
            let (mut fast, mut plain) = ([1.0f32; IMAGE_LEN], [1.0f32; IMAGE_LEN]);
            centre_into(&canvas, Some(ink), &mut fast);
            centre_into_reference(&canvas, &mut plain);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&plain), "case {case}");
        }
        let mut out = [1.0f32; IMAGE_LEN];
        centre_into(&[0.0; CANVAS * CANVAS], None, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
    }
}
