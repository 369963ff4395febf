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
            draw_segment(img, side, a, b, ra, rb, soft);
        } else if i + 1 >= n || !path.linked[i + 1] {
            // A lone point is a dot.
            draw_segment(img, side, b, b, rb, rb, soft);
        }
    }
}

/// Draws the capsule from `a` (radius `ra`) to `b` (radius `rb`).
fn draw_segment(img: &mut [f32], side: usize, a: Pt, b: Pt, ra: f32, rb: f32, soft: f32) {
    let reach = ra.max(rb) + soft;
    let max = side as f32 - 1.0;
    let x0 = (a.x.min(b.x) - reach).ceil().max(0.0);
    let x1 = (a.x.max(b.x) + reach).floor().min(max);
    let y0 = (a.y.min(b.y) - reach).ceil().max(0.0);
    let y1 = (a.y.max(b.y) + reach).floor().min(max);
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
        let row = &mut img[y * side..(y + 1) * side];
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

    fn seg_dist(q: Pt, a: Pt, b: Pt) -> f32 {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let t = (((q.x - a.x) * dx + (q.y - a.y) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
        ((q.x - a.x - t * dx).powi(2) + (q.y - a.y - t * dy).powi(2)).sqrt()
    }
}
