//! The anti-aliased pen: draws a [`Path`] in pixel coordinates onto a square canvas.
//!
//! Each pixel takes the coverage of the nearest piece of pen: with `d` the distance from the
//! pixel centre to a segment and `r` the pen radius there, coverage falls linearly from 1 at
//! `d = r - soft` to 0 at `d = r + soft`. With `soft = 0.5` that is what area sampling gives for
//! a straight edge; larger values are a hard pen seen through a light blur, computed exactly
//! instead of by a second pass, so the ink's extent stays known (the framing relies on it).
//! Overlapping strokes take the maximum, as ink does, never the sum.

use crate::path::{Path, Pt};
use crate::rng::ROUNDER;

/// The rectangle of pixels a drawing touched, inclusive on every side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Touched {
    pub(crate) x0: usize,
    pub(crate) x1: usize,
    pub(crate) y0: usize,
    pub(crate) y1: usize,
}

impl Touched {
    /// The smallest rectangle holding both.
    fn union(self, o: Touched) -> Touched {
        Touched {
            x0: self.x0.min(o.x0),
            x1: self.x1.max(o.x1),
            y0: self.y0.min(o.y0),
            y1: self.y1.max(o.y1),
        }
    }
}

/// Draws `path` (pixel coordinates, pixel centres at integers) onto `img`, a `side x side`
/// row-major canvas, with pen radius `radius * width factor` and edge half-width `soft`.
///
/// Coverage only ever grows (max), so several paths can be drawn onto one canvas. Returns the
/// rectangle of pixels the pen may have changed (every pixel outside it is as it was), or
/// `None` when it changed none.
pub(crate) fn draw_path(
    img: &mut [f32],
    side: usize,
    path: &Path,
    radius: f32,
    soft: f32,
) -> Option<Touched> {
    debug_assert_eq!(img.len(), side * side);
    let n = path.len;
    let mut touched: Option<Touched> = None;
    let mut add = |t: Option<Touched>| {
        if let Some(t) = t {
            touched = Some(touched.map_or(t, |u| u.union(t)));
        }
    };
    for i in 0..n {
        let b = path.pts[i];
        let rb = radius * path.width[i];
        if path.linked[i] {
            let a = path.pts[i - 1];
            let ra = radius * path.width[i - 1];
            add(draw_segment(img, side, side, a, b, ra, rb, soft));
        } else if i + 1 >= n || !path.linked[i + 1] {
            // A lone point is a dot.
            add(draw_segment(img, side, side, b, b, rb, rb, soft));
        }
    }
    touched
}

/// Draws one pen stroke through `points` (pixel coordinates, pixel centres at integers) onto
/// `canvas`, a `width x height` row-major coverage image in `[0, 1]`, with the generator's
/// anti-aliased pen: radius `radius` (at the half-ink edge) and edge half-width `soft` (0.5 is
/// area sampling). One point is a dot; no points draw nothing. Coverage only grows (the
/// maximum, as ink overlaps), so strokes can be drawn one after another onto one canvas.
/// Points outside the canvas are clipped; non-finite points are skipped.
///
/// ```
/// let (w, h) = (20, 10);
/// let mut canvas = vec![0.0; w * h];
/// datagen::draw_stroke(&mut canvas, w, h, &[(2.0, 5.0), (17.0, 5.0)], 1.5, 0.5);
/// assert_eq!(canvas[5 * w + 10], 1.0);
/// assert_eq!(canvas[0], 0.0);
/// ```
pub fn draw_stroke(
    canvas: &mut [f32],
    width: usize,
    height: usize,
    points: &[(f32, f32)],
    radius: f32,
    soft: f32,
) {
    if canvas.len() != width * height || !(radius.is_finite() && soft.is_finite() && soft > 0.0) {
        return;
    }
    let pts: Vec<Pt> = points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|&(x, y)| Pt::new(x, y))
        .collect();
    match pts.as_slice() {
        [] => {}
        [p] => {
            draw_segment(canvas, width, height, *p, *p, radius, radius, soft);
        }
        _ => {
            for pair in pts.windows(2) {
                draw_segment(
                    canvas, width, height, pair[0], pair[1], radius, radius, soft,
                );
            }
        }
    }
}

/// Pixels of a row computed together: the lanes of [`draw_segment`]'s inner loop, which the
/// compiler turns into vector instructions. Most segment rows of a digit are 5-8 pixels long.
const LANES: usize = 8;

/// `LANE[l] = l`, the offsets of the lanes from the first pixel of a step.
const LANE: [f32; LANES] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];

/// Widest canvas whose pixel columns [`draw_segment`] computes in lanes: every column index
/// below it is an exact `f32`, so `x0 as f32 + l` is `(x0 + l) as f32`.
const LANE_WIDTH_LIMIT: usize = 1 << 24;

/// `v.floor()` bit for bit; in plain arithmetic below 2^22 in size, where `f32::floor` is a
/// library call on the baseline x86-64 target (see `ROUNDER`). A zero result keeps the sign
/// of `v`, as `floor`'s does.
#[inline]
fn floor(v: f32) -> f32 {
    if v.abs() < 4_194_304.0 {
        let n = (v + ROUNDER) - ROUNDER;
        let n = if n > v { n - 1.0 } else { n };
        n.copysign(v)
    } else {
        v.floor()
    }
}

/// `v.ceil()` bit for bit, as [`floor`].
#[inline]
fn ceil(v: f32) -> f32 {
    if v.abs() < 4_194_304.0 {
        let n = (v + ROUNDER) - ROUNDER;
        let n = if n < v { n + 1.0 } else { n };
        n.copysign(v)
    } else {
        v.ceil()
    }
}

/// Draws the capsule from `a` (radius `ra`) to `b` (radius `rb`) onto a `width x height` image
/// and returns the rectangle it went over (`None` when that is empty).
///
/// Every pixel gets exactly what [`draw_segment_reference`] gives it: the same operations in
/// the same order, only `py * dy` and `rb - ra` computed once per row and segment instead of
/// once per pixel, [`LANES`] pixels of a row at a time, and the box's edges rounded by
/// [`floor`] and [`ceil`] instead of library calls.
#[allow(clippy::too_many_arguments)]
fn draw_segment(
    img: &mut [f32],
    width: usize,
    height: usize,
    a: Pt,
    b: Pt,
    ra: f32,
    rb: f32,
    soft: f32,
) -> Option<Touched> {
    if width > LANE_WIDTH_LIMIT {
        return draw_segment_reference(img, width, height, a, b, ra, rb, soft);
    }
    let reach = ra.max(rb) + soft;
    let x0 = ceil(a.x.min(b.x) - reach).max(0.0);
    let x1 = floor(a.x.max(b.x) + reach).min(width as f32 - 1.0);
    let y0 = ceil(a.y.min(b.y) - reach).max(0.0);
    let y1 = floor(a.y.max(b.y) + reach).min(height as f32 - 1.0);
    if x0 > x1 || y0 > y1 {
        return None;
    }
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let inv_len2 = if len2 > 1e-12 { 1.0 / len2 } else { 0.0 };
    let inv_ramp = 0.5 / soft;
    let dr = rb - ra;
    let (x0, x1, y0, y1) = (x0 as usize, x1 as usize, y0 as usize, y1 as usize);
    for y in y0..=y1 {
        let py = y as f32 - a.y;
        let pdy = py * dy;
        let row = &mut img[y * width + x0..=y * width + x1];
        for (k, chunk) in row.chunks_mut(LANES).enumerate() {
            // Exact: x0 + k * LANES + l < LANE_WIDTH_LIMIT for every lane that is stored.
            let base = (x0 + k * LANES) as f32;
            let mut c = [0.0f32; LANES];
            for (l, cl) in c.iter_mut().enumerate() {
                let qx = (base + LANE[l]) - a.x;
                let t = ((qx * dx + pdy) * inv_len2).clamp(0.0, 1.0);
                let (ex, ey) = (qx - t * dx, py - t * dy);
                let d = (ex * ex + ey * ey).sqrt();
                let r = ra + t * dr;
                *cl = ((r - d) * inv_ramp + 0.5).clamp(0.0, 1.0);
            }
            for (px, &v) in chunk.iter_mut().zip(&c) {
                *px = if v > *px { v } else { *px };
            }
        }
    }
    Some(Touched { x0, x1, y0, y1 })
}

/// The plain pen, one pixel at a time: the definition [`draw_segment`] keeps bit for bit,
/// and what it falls back to on canvases too wide for its lanes.
#[allow(clippy::too_many_arguments)]
fn draw_segment_reference(
    img: &mut [f32],
    width: usize,
    height: usize,
    a: Pt,
    b: Pt,
    ra: f32,
    rb: f32,
    soft: f32,
) -> Option<Touched> {
    let reach = ra.max(rb) + soft;
    let x0 = (a.x.min(b.x) - reach).ceil().max(0.0);
    let x1 = (a.x.max(b.x) + reach).floor().min(width as f32 - 1.0);
    let y0 = (a.y.min(b.y) - reach).ceil().max(0.0);
    let y1 = (a.y.max(b.y) + reach).floor().min(height as f32 - 1.0);
    if x0 > x1 || y0 > y1 {
        return None;
    }
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let inv_len2 = if len2 > 1e-12 { 1.0 / len2 } else { 0.0 };
    let inv_ramp = 0.5 / soft;
    let (x0, x1, y0, y1) = (x0 as usize, x1 as usize, y0 as usize, y1 as usize);
    for y in y0..=y1 {
        let py = y as f32 - a.y;
        let row = &mut img[y * width..(y + 1) * width];
        for (x, px) in row.iter_mut().enumerate().take(x1 + 1).skip(x0) {
            let qx = x as f32 - a.x;
            let t = ((qx * dx + py * dy) * inv_len2).clamp(0.0, 1.0);
            let (ex, ey) = (qx - t * dx, py - t * dy);
            let d = (ex * ex + ey * ey).sqrt();
            let r = ra + t * (rb - ra);
            let c = ((r - d) * inv_ramp + 0.5).clamp(0.0, 1.0);
            if c > *px {
                *px = c;
            }
        }
    }
    Some(Touched { x0, x1, y0, y1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::Knot;

    fn line(a: Pt, b: Pt) -> Path {
        let mut path = Path::new();
        let k = |p| Knot {
            p,
            width: 1.0,
            sharp: false,
        };
        path.stroke(&[k(a), k(b)], 1.0);
        path
    }

    #[test]
    fn horizontal_line_has_full_core_and_soft_edges() {
        let mut img = vec![0.0; 100];
        draw_path(
            &mut img,
            10,
            &line(Pt::new(2.0, 5.0), Pt::new(7.0, 5.0)),
            1.0,
            0.5,
        );
        // Rows 4..=6 are within the radius: row 5 is the core, rows 4 and 6 sit on the edge.
        let near = |a: f32, b: f32| (a - b).abs() < 1e-5;
        assert_eq!(img[5 * 10 + 4], 1.0);
        assert!(near(img[4 * 10 + 4], 0.5) && near(img[6 * 10 + 4], 0.5));
        assert_eq!(img[3 * 10 + 4], 0.0);
        assert!(img.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn ink_never_leaves_radius_plus_soft() {
        let mut img = vec![0.0; 400];
        let (r, soft) = (1.3, 0.8);
        draw_path(
            &mut img,
            20,
            &line(Pt::new(5.0, 5.0), Pt::new(14.0, 11.0)),
            r,
            soft,
        );
        for y in 0..20 {
            for x in 0..20 {
                let q = Pt::new(x as f32, y as f32);
                let d = seg_dist(q, Pt::new(5.0, 5.0), Pt::new(14.0, 11.0));
                if d >= r + soft {
                    assert_eq!(img[y * 20 + x], 0.0, "{x},{y}");
                }
            }
        }
    }

    #[test]
    fn draw_stroke_matches_the_generator_pen_on_a_wide_canvas() {
        let (a, b) = (Pt::new(3.0, 4.0), Pt::new(12.0, 9.0));
        let mut square = vec![0.0; 400];
        draw_path(&mut square, 20, &line(a, b), 1.7, 0.6);
        // The same stroke on a 30x20 canvas: the first 20 columns agree (the path flattens
        // the line into several collinear pieces, so up to rounding).
        let mut wide = vec![0.0; 600];
        draw_stroke(&mut wide, 30, 20, &[(3.0, 4.0), (12.0, 9.0)], 1.7, 0.6);
        for y in 0..20 {
            for x in 0..20 {
                let (w, s) = (wide[y * 30 + x], square[y * 20 + x]);
                assert!((w - s).abs() < 1e-5, "({x}, {y}): {w} vs {s}");
            }
            assert!(wide[y * 30 + 20..(y + 1) * 30].iter().all(|&v| v == 0.0));
        }
        // A lone point is a dot; points off the canvas and NaNs draw nothing and never panic.
        let mut dot = vec![0.0; 100];
        draw_stroke(&mut dot, 10, 10, &[(5.0, 5.0)], 1.0, 0.5);
        assert_eq!(dot[55], 1.0);
        let mut none = vec![0.0; 100];
        draw_stroke(
            &mut none,
            10,
            10,
            &[(-50.0, -50.0), (f32::NAN, 1.0), (-40.0, -60.0)],
            1.0,
            0.5,
        );
        assert!(none.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn lanes_give_the_reference_pen_bit_for_bit() {
        use crate::rng::SampleRng;
        let mut rng = SampleRng::new(17, 3);
        for case in 0..3000 {
            // Canvases from 1 pixel to wider than two steps of lanes, segments inside, across
            // and off the edges, dots, thin and very wide pens.
            let width = 1 + (rng.unit() * 45.0) as usize;
            let height = 1 + (rng.unit() * 30.0) as usize;
            let span = |n: usize, rng: &mut SampleRng| rng.range(-8.0, n as f32 + 8.0);
            let a = Pt::new(span(width, &mut rng), span(height, &mut rng));
            let b = if case % 7 == 0 {
                a
            } else {
                Pt::new(span(width, &mut rng), span(height, &mut rng))
            };
            let (ra, rb) = (rng.range(0.1, 6.0), rng.range(0.1, 6.0));
            let soft = rng.range(0.05, 2.0);
            // Start both from the same partly inked canvas, so the maximum is exercised too.
            let start: Vec<f32> = (0..width * height)
                .map(|_| if rng.chance(0.3) { rng.unit() } else { 0.0 })
                .collect();
            let (mut fast, mut plain) = (start.clone(), start);
            let t_fast = draw_segment(&mut fast, width, height, a, b, ra, rb, soft);
            let t_plain = draw_segment_reference(&mut plain, width, height, a, b, ra, rb, soft);
            assert_eq!(t_fast, t_plain, "case {case}");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&plain), "case {case}: {width}x{height}");
        }
    }

    /// `floor` and `ceil` against `f32`'s for every `stride`-th bit pattern and around every
    /// whole number up to 64 and the 2^22 switch; the number of values checked.
    fn check_floor_ceil(stride: usize) -> usize {
        let mut values: Vec<f32> = (0..=u32::MAX).step_by(stride).map(f32::from_bits).collect();
        for k in (0..=64).map(|k| k as f32).chain([4_194_304.0, 8_388_608.0]) {
            for v in [k, -k, k + 0.5, -k - 0.5] {
                let b = v.to_bits();
                values.extend((b.saturating_sub(4)..b + 4).map(f32::from_bits));
            }
        }
        values.extend([
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
        ]);
        for &v in &values {
            assert_eq!(floor(v).to_bits(), v.floor().to_bits(), "floor({v:e})");
            assert_eq!(ceil(v).to_bits(), v.ceil().to_bits(), "ceil({v:e})");
        }
        values.len()
    }

    #[test]
    fn floor_and_ceil_are_the_library_ones() {
        assert!(check_floor_ceil(4099) > 1_000_000);
    }

    /// Every f32: 4.3 billion values, a minute or two in release.
    #[test]
    #[ignore = "exhaustive; run with --release --lib -- --ignored floor_and_ceil"]
    fn floor_and_ceil_are_the_library_ones_everywhere() {
        for b in 0..=u32::MAX {
            let v = f32::from_bits(b);
            assert_eq!(floor(v).to_bits(), v.floor().to_bits(), "floor({v:e})");
            assert_eq!(ceil(v).to_bits(), v.ceil().to_bits(), "ceil({v:e})");
        }
    }

    #[test]
    fn a_canvas_too_wide_for_the_lanes_is_drawn_pixel_by_pixel() {
        // Past 2^24 columns the lanes' column coordinates would round: the plain pen draws.
        let width = LANE_WIDTH_LIMIT + 40;
        let mut canvas = vec![0.0f32; width * 3];
        let x = (width - 10) as f32;
        draw_stroke(&mut canvas, width, 3, &[(x, 1.0)], 1.0, 0.5);
        assert_eq!(canvas[width + width - 10], 1.0);
        // (Column coordinates that far out round to even numbers, so fewer pixels than near
        // the origin get ink; all of them next to the dot.)
        let inked: Vec<usize> = (0..canvas.len()).filter(|&i| canvas[i] > 0.0).collect();
        assert!(inked
            .iter()
            .all(|&i| (width - 11..=width - 9).contains(&(i % width))));
        let touched = draw_segment(
            &mut canvas,
            width,
            3,
            Pt::new(x, 1.0),
            Pt::new(x, 1.0),
            1.0,
            0.5,
            0.5,
        );
        let t = touched.expect("the dot is on the canvas");
        assert!(
            t.x0 <= width - 11 && t.x1 >= width - 9 && t.x1 < width,
            "{t:?}"
        );
        assert_eq!((t.y0, t.y1), (0, 2));
    }

    fn seg_dist(q: Pt, a: Pt, b: Pt) -> f32 {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let t = (((q.x - a.x) * dx + (q.y - a.y) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
        ((q.x - a.x - t * dx).powi(2) + (q.y - a.y - t * dy).powi(2)).sqrt()
    }
}
