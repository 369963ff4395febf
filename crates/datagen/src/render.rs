//! The anti-aliased pen: draws a [`Path`] in pixel coordinates onto a square canvas.
//!
//! Each pixel takes the coverage of the nearest piece of pen: with `d` the distance from the
//! pixel centre to a segment and `r` the pen radius there, coverage falls linearly from 1 at
//! `d = r - soft` to 0 at `d = r + soft`. With `soft = 0.5` that is what area sampling gives for
//! a straight edge; larger values are a hard pen seen through a light blur, computed exactly
//! instead of by a second pass, so the ink's extent stays known (the framing relies on it).
//! Overlapping strokes take the maximum, as ink does, never the sum.

use crate::path::{Path, Pt};

/// Draws `path` (pixel coordinates, pixel centres at integers) onto `img`, a `side x side`
/// row-major canvas, with pen radius `radius * width factor` and edge half-width `soft`.
///
/// Coverage only ever grows (max), so several paths can be drawn onto one canvas.
pub(crate) fn draw_path(img: &mut [f32], side: usize, path: &Path, radius: f32, soft: f32) {
    debug_assert_eq!(img.len(), side * side);
    let n = path.len;
    for i in 0..n {
        let b = path.pts[i];
        let rb = radius * path.width[i];
        if path.linked[i] {
            let a = path.pts[i - 1];
            let ra = radius * path.width[i - 1];
            draw_segment(img, side, side, a, b, ra, rb, soft);
        } else if i + 1 >= n || !path.linked[i + 1] {
            // A lone point is a dot.
            draw_segment(img, side, side, b, b, rb, rb, soft);
        }
    }
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
        [p] => draw_segment(canvas, width, height, *p, *p, radius, radius, soft),
        _ => {
            for pair in pts.windows(2) {
                draw_segment(
                    canvas, width, height, pair[0], pair[1], radius, radius, soft,
                );
            }
        }
    }
}

/// Draws the capsule from `a` (radius `ra`) to `b` (radius `rb`) onto a `width x height` image.
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
) {
    let reach = ra.max(rb) + soft;
    let x0 = (a.x.min(b.x) - reach).ceil().max(0.0);
    let x1 = (a.x.max(b.x) + reach).floor().min(width as f32 - 1.0);
    let y0 = (a.y.min(b.y) - reach).ceil().max(0.0);
    let y1 = (a.y.max(b.y) + reach).floor().min(height as f32 - 1.0);
    if x0 > x1 || y0 > y1 {
        return;
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

    fn seg_dist(q: Pt, a: Pt, b: Pt) -> f32 {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let t = (((q.x - a.x) * dx + (q.y - a.y) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
        ((q.x - a.x - t * dx).powi(2) + (q.y - a.y - t * dy).powi(2)).sqrt()
    }
}
