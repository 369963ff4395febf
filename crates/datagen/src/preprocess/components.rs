//! Connected ink components (8-connectivity) with their size, mass and bounding box, and the
//! layout tests on them: specks, marks side by side, stroke width.

/// One connected set of ink pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Component {
    /// Pixels.
    pub(super) area: usize,
    /// Sum of the ink levels of its pixels.
    pub(super) mass: f32,
    /// Largest ink level.
    pub(super) peak: f32,
    /// Bounding box, inclusive: left, top, right, bottom.
    pub(super) x0: usize,
    pub(super) y0: usize,
    pub(super) x1: usize,
    pub(super) y1: usize,
}

impl Component {
    pub(super) fn width(&self) -> usize {
        self.x1 - self.x0 + 1
    }

    pub(super) fn height(&self) -> usize {
        self.y1 - self.y0 + 1
    }
}

/// Labels the pixels of `level` above `low` (an `h x w` image) by 8-connected component:
/// `labels[i]` is `k + 1` for a pixel of component `k`, 0 for no ink.
pub(super) fn label(level: &[f32], w: usize, h: usize, low: f32) -> (Vec<u32>, Vec<Component>) {
    let mut labels = vec![0u32; level.len()];
    let mut comps = Vec::new();
    let mut stack = Vec::new();
    for start in 0..level.len() {
        if labels[start] != 0 || level[start] <= low {
            continue;
        }
        let id = comps.len() as u32 + 1;
        let (sx, sy) = (start % w, start / w);
        let mut c = Component {
            area: 0,
            mass: 0.0,
            peak: 0.0,
            x0: sx,
            y0: sy,
            x1: sx,
            y1: sy,
        };
        labels[start] = id;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            c.area += 1;
            c.mass += level[i];
            c.peak = c.peak.max(level[i]);
            c.x0 = c.x0.min(x);
            c.x1 = c.x1.max(x);
            c.y0 = c.y0.min(y);
            c.y1 = c.y1.max(y);
            for ny in y.saturating_sub(1)..(y + 2).min(h) {
                for nx in x.saturating_sub(1)..(x + 2).min(w) {
                    let j = ny * w + nx;
                    if labels[j] == 0 && level[j] > low {
                        labels[j] = id;
                        stack.push(j);
                    }
                }
            }
        }
        comps.push(c);
    }
    (labels, comps)
}

/// Length of the overlap of the inclusive ranges `[a0, a1]` and `[b0, b1]` (0 when apart).
fn overlap(a0: usize, a1: usize, b0: usize, b1: usize) -> usize {
    (a1.min(b1) + 1).saturating_sub(a0.max(b0))
}

/// Whether two of `marks` stand next to each other as separate characters would: apart
/// horizontally by more than a tenth of the ink's height, level with each other (their rows
/// overlap by at least half the shorter one), and each at least 40% as tall as the ink.
///
/// A broken stroke (the detached bar of a 5, the cap of a 7) sits above or inside the other
/// piece and so does not count; two digits written next to each other do.
pub(super) fn side_by_side(marks: &[Component]) -> bool {
    let y0 = marks.iter().map(|c| c.y0).min().unwrap_or(0);
    let y1 = marks.iter().map(|c| c.y1).max().unwrap_or(0);
    let height = y1.saturating_sub(y0) + 1;
    let tall: Vec<&Component> = marks
        .iter()
        .filter(|c| c.height() * 10 >= height * 4)
        .collect();
    tall.iter().enumerate().any(|(i, a)| {
        tall[i + 1..].iter().any(|b| {
            let gap = b.x0.saturating_sub(a.x1).max(a.x0.saturating_sub(b.x1));
            let level = overlap(a.y0, a.y1, b.y0, b.y1) * 2 >= a.height().min(b.height());
            gap * 10 > height && level
        })
    })
}

/// Mean stroke width of the ink pixels `mask` (an `h x w` image), in pixels: twice the area
/// over the 4-connected perimeter, which is exact for a long straight stroke along an axis and
/// a little low for diagonal ones (their staircase edges are longer).
pub(super) fn stroke_width(mask: &[bool], w: usize, h: usize) -> f32 {
    let (mut area, mut edges) = (0usize, 0usize);
    for y in 0..h {
        for x in 0..w {
            if !mask[y * w + x] {
                continue;
            }
            area += 1;
            let ink = |dx: isize, dy: isize| {
                let (nx, ny) = (x as isize + dx, y as isize + dy);
                nx >= 0
                    && ny >= 0
                    && (nx as usize) < w
                    && (ny as usize) < h
                    && mask[ny as usize * w + nx as usize]
            };
            edges += [(-1, 0), (1, 0), (0, -1), (0, 1)]
                .iter()
                .filter(|&&(dx, dy)| !ink(dx, dy))
                .count();
        }
    }
    if edges == 0 {
        0.0
    } else {
        2.0 * area as f32 / edges as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(rows: &[&str]) -> (Vec<f32>, usize, usize) {
        let w = rows[0].len();
        let v = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| if b == b'#' { 1.0 } else { 0.0 }))
            .collect();
        (v, w, rows.len())
    }

    #[test]
    fn diagonal_neighbours_join_and_gaps_split() {
        let (v, w, h) = image(&[
            "#....#", //
            ".#...#", //
            "..#...", //
            "......", //
            "....##", //
        ]);
        let (labels, comps) = label(&v, w, h, 0.5);
        assert_eq!(comps.len(), 3);
        assert_eq!(comps[0].area, 3);
        assert_eq!(
            (comps[0].x0, comps[0].y0, comps[0].x1, comps[0].y1),
            (0, 0, 2, 2)
        );
        assert_eq!(labels[5], 2);
        assert_eq!(comps[2].area, 2);
    }

    #[test]
    fn two_digits_next_to_each_other_are_side_by_side_but_a_broken_five_is_not() {
        let (v, w, h) = image(&[
            "###...###", //
            "#.#.....#", //
            "#.#.....#", //
            "#.#.....#", //
            "###.....#", //
        ]);
        assert!(side_by_side(&label(&v, w, h, 0.5).1));
        // A 5 whose top bar is detached: the bar is above, not beside, the body.
        let (v, w, h) = image(&[
            ".#####", //
            "......", //
            "#.....", //
            "####..", //
            "....#.", //
            "....#.", //
            "####..", //
        ]);
        let comps = label(&v, w, h, 0.5).1;
        assert_eq!(comps.len(), 2);
        assert!(!side_by_side(&comps));
    }

    #[test]
    fn stroke_width_of_a_bar_is_its_width() {
        // A 3x40 bar: area 120, perimeter 86, width 2 * 120 / 86 = 2.79 (ends count too).
        let (w, h) = (10, 40);
        let mask: Vec<bool> = (0..w * h).map(|i| (3..6).contains(&(i % w))).collect();
        let sw = stroke_width(&mask, w, h);
        assert!((sw - 240.0 / 86.0).abs() < 1e-5, "{sw}");
    }
}
