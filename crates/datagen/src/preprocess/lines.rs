//! Page structure: the long thin straight lines of ruled and squared paper and of a margin,
//! found on the ink map and taken out before the ink is cut into pieces, so that they do not
//! join the digit's strokes.
//!
//! A paper line is told from a stroke by three things at once: it is straight (it follows one
//! path, slightly tilted at most, within a pixel), it runs edge to edge (its ink covers most
//! of the page's width, and both ends of it), and it is thin (a few pixels across, whatever
//! the page size up to 300 pixels; a 60th of the short side on larger pages). A 1 or the bar
//! of a 7 is as thick as the pen and does not run across the whole page.
//!
//! Where a line crosses or touches a stroke, the stroke's pixels stay: a line's pixels are
//! cleared only at positions along it where the pixels just beyond it on both sides are paper
//! (or another paper line, so the crossings of a grid go too).

use super::paper::quantile;

/// How many lines were removed, by direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Removed {
    /// Lines running left to right (ruled lines, a grid's rows).
    pub(super) horizontal: usize,
    /// Lines running top to bottom (a margin, a grid's columns).
    pub(super) vertical: usize,
}

/// Share of the positions along a line where it must show ink (within a pixel of its path).
const COVER: f32 = 0.85;

/// Share of each end tenth of the line that must show ink: it reaches both edges.
const END_COVER: f32 = 0.5;

/// Steepest tilt looked for, in pixels across per pixel along (about 2 degrees).
const MAX_SLOPE: f32 = 0.035;

/// Pages shorter than this along a direction have no lines found in it.
const MIN_LENGTH: usize = 40;

/// One found line: its path and its band across it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Line {
    horizontal: bool,
    /// Position across at the middle of the page, and drift per pixel along.
    centre: f32,
    slope: f32,
    /// The band of the line, offsets from the path (inclusive), fringe included.
    lo: isize,
    hi: isize,
}

/// The page seen along one direction: `along` runs the line's way, `across` the other.
#[derive(Debug, Clone, Copy)]
struct View {
    w: usize,
    h: usize,
    horizontal: bool,
}

impl View {
    fn along_len(&self) -> usize {
        if self.horizontal {
            self.w
        } else {
            self.h
        }
    }

    fn across_len(&self) -> usize {
        if self.horizontal {
            self.h
        } else {
            self.w
        }
    }

    /// Index of the pixel at `along`, `across` (which may lie off the page).
    fn index(&self, along: usize, across: isize) -> Option<usize> {
        if across < 0 || across as usize >= self.across_len() {
            return None;
        }
        let c = across as usize;
        Some(if self.horizontal {
            c * self.w + along
        } else {
            along * self.w + c
        })
    }
}

impl Line {
    /// The path's pixel across at `along`.
    fn at(&self, along: usize, len: usize) -> isize {
        (self.centre + self.slope * (along as f32 + 0.5 - len as f32 / 2.0)).round() as isize
    }
}

/// Finds the paper lines of `level` (an `h x w` ink map) and clears their pixels where no
/// stroke crosses them. A pixel is counted as line when its level is above `detect` (a little
/// above the paper's noise); the pixels beyond a line must stay at or under `ink` (the ink
/// threshold) for the line to be cleared there.
pub(super) fn remove(level: &mut [f32], w: usize, h: usize, detect: f32, ink: f32) -> Removed {
    let mut lines = find(
        level,
        View {
            w,
            h,
            horizontal: true,
        },
        detect,
    );
    let horizontal = lines.len();
    lines.extend(find(
        level,
        View {
            w,
            h,
            horizontal: false,
        },
        detect,
    ));
    let removed = Removed {
        horizontal,
        vertical: lines.len() - horizontal,
    };
    if lines.is_empty() {
        return removed;
    }
    // How many lines' surroundings (the cleared band and a pixel more either side) each pixel
    // lies in, so that a line crossing or running beside another does not count as a stroke.
    let mut near = vec![0u8; w * h];
    for line in &lines {
        let view = line.view(w, h);
        let len = view.along_len();
        for a in 0..len {
            let c = line.at(a, len);
            for d in line.lo - 2..=line.hi + 2 {
                if let Some(i) = view.index(a, c + d) {
                    near[i] = near[i].saturating_add(1);
                }
            }
        }
    }
    let mut clear = Vec::new();
    for line in &lines {
        let view = line.view(w, h);
        let len = view.along_len();
        for a in 0..len {
            let c = line.at(a, len);
            let stroke = |d: isize| {
                view.index(a, c + d)
                    .is_some_and(|i| level[i] > ink && near[i] < 2)
            };
            // Ink right beside the band: a stroke crosses or touches the line here.
            if !stroke(line.lo - 2) && !stroke(line.hi + 2) {
                clear.extend((line.lo - 1..=line.hi + 1).filter_map(|d| view.index(a, c + d)));
            }
        }
    }
    for i in clear {
        level[i] = 0.0;
    }
    removed
}

impl Line {
    fn view(&self, w: usize, h: usize) -> View {
        View {
            w,
            h,
            horizontal: self.horizontal,
        }
    }
}

/// The straight thin lines running edge to edge in `view`'s direction.
fn find(level: &[f32], view: View, detect: f32) -> Vec<Line> {
    let (len, across) = (view.along_len(), view.across_len());
    if len < MIN_LENGTH || across < 3 {
        return Vec::new();
    }
    let px = |a: usize, c: isize| view.index(a, c).map_or(0.0, |i| level[i]);
    // A position along shows line when the three pixels across it hold more ink than a
    // pixel's threshold (a thin line split over two rows by anti-aliasing still counts).
    let win = 1.2 * detect;
    let mut on = vec![false; len * across];
    for c in 0..across {
        for a in 0..len {
            let c = c as isize;
            on[c as usize * len + a] = px(a, c - 1) + px(a, c) + px(a, c + 1) > win;
        }
    }
    let on_at = |a: usize, c: isize| c >= 0 && (c as usize) < across && on[c as usize * len + a];
    let max_thick = 5.max(view.w.min(view.h) / 60) as isize;
    // Slopes a pixel of drift apart over the page: the best one follows the line within the
    // tolerance of the three-pixel window.
    let step = 1.0 / len as f32;
    let k = ((MAX_SLOPE / step).ceil() as isize).min(32);
    let drift = (k as f32 * step * len as f32 / 2.0).ceil() as usize + 1;
    // Rows (across positions) whose neighbourhood holds enough ink for a line at all.
    let mut prefix = vec![0usize; across + 1];
    for c in 0..across {
        let n = on[c * len..(c + 1) * len].iter().filter(|&&o| o).count();
        prefix[c + 1] = prefix[c] + n;
    }
    // A line may leave the page across (a tilted line near the top or bottom edge): it is
    // judged on its positions on the page, a quarter of the length at least.
    let in_page = |line: &Line, a: usize| (0..across as isize).contains(&line.at(a, len));
    let cover = |line: &Line, from: usize, to: usize| {
        (from..to).fold((0usize, 0usize), |(n, m), a| {
            if in_page(line, a) {
                (n + usize::from(on_at(a, line.at(a, len))), m + 1)
            } else {
                (n, m)
            }
        })
    };
    let covered = |(n, m): (usize, usize)| m * 4 >= len && n as f32 >= COVER * m as f32;
    let need = (COVER * len.div_ceil(4) as f32).ceil() as usize;
    let mut best: Vec<(usize, Line)> = Vec::new();
    for c in -(drift as isize)..(across + drift) as isize {
        let lo = c.saturating_sub(drift as isize).clamp(0, across as isize) as usize;
        let hi = (c + drift as isize + 1).clamp(0, across as isize) as usize;
        if prefix[hi] - prefix[lo] < need {
            continue;
        }
        // The slope that covers the most; of equal ones, the one along which the ink is
        // strongest (a wide band, such as a doubled margin, is covered by several slopes).
        let strength = |line: &Line| -> f32 {
            (0..len)
                .filter(|&a| in_page(line, a))
                .map(|a| px(a, line.at(a, len)))
                .sum()
        };
        let mut top: Option<(usize, f32, Line)> = None;
        for s in -k..=k {
            let line = Line {
                horizontal: view.horizontal,
                centre: c as f32,
                slope: s as f32 * step,
                lo: 0,
                hi: 0,
            };
            // Most slopes miss the line: stop counting as soon as too many positions did.
            let allowed = (1.0 - COVER) * len as f32;
            let (mut n, mut m) = (0usize, 0usize);
            for a in 0..len {
                let c = line.at(a, len);
                if (0..across as isize).contains(&c) {
                    m += 1;
                    n += usize::from(on_at(a, c));
                    if (m - n) as f32 > allowed {
                        break;
                    }
                }
            }
            let n = (n, m);
            if !covered(n) || top.is_some_and(|(m, _, _)| n.0 < m) {
                continue;
            }
            let sum = strength(&line);
            if top.is_none_or(|(m, t, _)| n.0 > m || sum > t) {
                top = Some((n.0, sum, line));
            }
        }
        best.extend(top.map(|(n, _, line)| (n, line)));
    }
    // Strongest first; a line overlapping one already taken is the same line.
    best.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.centre.total_cmp(&b.1.centre)));
    let mut lines: Vec<Line> = Vec::new();
    let tenth = len.div_ceil(10);
    for (_, coarse) in best {
        // Near a line already taken: the same line, seen a pixel off.
        if lines.iter().any(|o| {
            (o.centre + (o.lo - 1) as f32..=o.centre + (o.hi + 1) as f32).contains(&coarse.centre)
        }) {
            continue;
        }
        let mut line = fit(coarse, len, &px, detect);
        if !covered(cover(&line, 0, len)) {
            continue;
        }
        // The band: the offsets around the path where the line's profile (the lower quartile
        // over the positions along on the page, so a digit crossing half the page does not
        // count) stands out from the paper beside it by a quarter of its height or more.
        let reach_out = max_thick + 3;
        let path: Vec<(usize, isize)> = (0..len)
            .filter(|&a| in_page(&line, a))
            .map(|a| (a, line.at(a, len)))
            .collect();
        let mut v = Vec::with_capacity(path.len());
        let profile: Vec<f32> = (-reach_out..=reach_out)
            .map(|d| {
                v.clear();
                v.extend(path.iter().map(|&(a, c)| px(a, c + d)));
                quantile(&mut v, 0.25)
            })
            .collect();
        let prof = |d: isize| profile[(d + reach_out) as usize];
        let side = |d: isize| (prof(d) + prof(d + d.signum())) / 2.0;
        let background = side(-reach_out + 1).min(side(reach_out - 1));
        let peak_at = (-1..=1)
            .max_by(|&a, &b| prof(a).total_cmp(&prof(b)).then(b.abs().cmp(&a.abs())))
            .unwrap_or(0);
        let height = prof(peak_at) - background;
        if height <= 0.5 * detect {
            continue;
        }
        let (mut lo, mut hi) = (peak_at, peak_at);
        // Followed out to two pixels short of the profile's ends (a band that goes on that
        // far is thicker than `max_thick` anyway).
        let stands_out = |d: isize| prof(d) - background >= 0.25 * height;
        while lo > 2 - reach_out && stands_out(lo - 1) {
            lo -= 1;
        }
        while hi < reach_out - 2 && stands_out(hi + 1) {
            hi += 1;
        }
        line.lo = lo;
        line.hi = hi;
        let thin = hi - lo < max_thick;
        let reach = |from: usize, to: usize| {
            let (n, m) = cover(&line, from, to);
            n as f32 >= END_COVER * m as f32
        };
        let overlaps = lines.iter().any(|o| {
            let (a0, a1) = (o.centre + (o.lo - 1) as f32, o.centre + (o.hi + 1) as f32);
            let (b0, b1) = (line.centre + lo as f32, line.centre + hi as f32);
            a0 <= b1 && b0 <= a1
        });
        if thin && !overlaps && reach(0, tenth) && reach(len - tenth, len) {
            lines.push(line);
        }
    }
    lines
}

/// `coarse` refitted to the ink: the centre of the ink within two pixels of its path, at each
/// position along where only a thin line is there (paper three pixels either side), fitted by
/// least squares, twice (the second time without positions more than a pixel off). `coarse`
/// itself when too few positions are clean.
fn fit(coarse: Line, len: usize, px: &impl Fn(usize, isize) -> f32, detect: f32) -> Line {
    let mid = len as f32 / 2.0;
    let mut points = Vec::new();
    for a in 0..len {
        let c = coarse.at(a, len);
        if px(a, c - 3) > detect || px(a, c + 3) > detect {
            continue;
        }
        let (mut m, mut mc) = (0.0f32, 0.0f32);
        for d in -2..=2 {
            let v = px(a, c + d);
            m += v;
            mc += v * (c + d) as f32;
        }
        if m > 1.2 * detect {
            points.push((a as f32 + 0.5 - mid, mc / m));
        }
    }
    let mut line = coarse;
    for round in 0..2 {
        let used: Vec<(f32, f32)> = points
            .iter()
            .copied()
            .filter(|&(t, c)| round == 0 || (c - (line.centre + line.slope * t)).abs() <= 1.0)
            .collect();
        if used.len() * 2 < len {
            break;
        }
        let n = used.len() as f32;
        let (st, sc) = used
            .iter()
            .fold((0.0, 0.0), |(a, b), &(t, c)| (a + t, b + c));
        let (mt, mc) = (st / n, sc / n);
        let (mut stt, mut stc) = (0.0f32, 0.0f32);
        for &(t, c) in &used {
            stt += (t - mt) * (t - mt);
            stc += (t - mt) * (c - mc);
        }
        let slope = if stt > 0.0 { stc / stt } else { 0.0 };
        if slope.abs() > 2.0 * MAX_SLOPE {
            break;
        }
        line.slope = slope;
        line.centre = mc - slope * mt;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w x h` ink map with rows `rows` and columns `cols` set to `v`.
    fn map(w: usize, h: usize, rows: &[usize], cols: &[usize], v: f32) -> Vec<f32> {
        (0..w * h)
            .map(|i| {
                if rows.contains(&(i / w)) || cols.contains(&(i % w)) {
                    v
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn ruled_rows_and_a_margin_are_found_and_cleared() {
        let (w, h) = (120, 100);
        let mut level = map(w, h, &[20, 21, 50, 80], &[15], 0.2);
        let removed = remove(&mut level, w, h, 0.02, 0.05);
        assert_eq!(
            removed,
            Removed {
                horizontal: 3,
                vertical: 1
            }
        );
        assert!(level.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn a_thick_band_and_a_short_line_are_not_lines() {
        let (w, h) = (120, 100);
        // Rows 40..50: ten pixels thick. Row 70, columns 10..100: does not reach the edges.
        let mut level = map(w, h, &(40..50).collect::<Vec<_>>(), &[], 0.5);
        for x in 10..100 {
            level[70 * w + x] = 0.5;
        }
        let before = level.clone();
        assert_eq!(remove(&mut level, w, h, 0.02, 0.05), Removed::default());
        assert_eq!(level, before);
    }

    #[test]
    fn a_tilted_line_is_found() {
        let (w, h) = (200, 100);
        let mut level = vec![0.0f32; w * h];
        for x in 0..w {
            let y = 30.0 + 0.02 * x as f32;
            level[y.round() as usize * w + x] = 0.3;
        }
        assert_eq!(remove(&mut level, w, h, 0.02, 0.05).horizontal, 1);
        assert!(level.iter().all(|&v| v == 0.0));
    }
}
