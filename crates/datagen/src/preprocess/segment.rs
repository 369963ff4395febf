//! A number on a page: its digits, left to right, each prepared as [`prepare`] prepares one
//! digit.
//!
//! The ink is cut into connected pieces (as [`prepare`] does); pieces whose columns overlap
//! (the bar and the body of a 5, the cap of a 7, a broken loop) or that are small and touch
//! the gap between two digits belong to one digit; each digit is then drawn alone on a
//! clean page (the others painted out) and prepared.

use super::components::{self, Component};
use super::{paper, prepare, Channels, Options, Page, Prepared};

/// One digit of a number: where it stood on the page and the prepared image.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Its ink's bounding box on the page: left, top, width, height.
    pub bounds: super::InkBox,
    /// The 28x28 image and what preprocessing found in it alone.
    pub prepared: Prepared,
}

/// The digits of the number on `page`, left to right. A page with one digit (or whose ink
/// does not split into several columns) gives one segment, the same as [`prepare`]; a blank
/// page gives none.
pub fn segment(page: &Page<'_>, options: &Options) -> Vec<Segment> {
    let (w, h) = (page.width, page.height);
    let gray = paper::to_gray(page);
    let ink = paper::ink_map(&gray, w, h);
    if ink.contrast < 0.08 {
        return Vec::new();
    }
    let (labels, comps) = components::label(&ink.level, w, h, ink.low);
    let largest = comps
        .iter()
        .filter(|c| c.peak >= 0.5 * ink.contrast)
        .map(|c| c.mass)
        .fold(0.0, f32::max);
    // Pieces worth reading: strong ink, at least a twentieth of the largest piece.
    let pieces: Vec<(usize, Component)> = comps
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, c)| c.peak >= 0.5 * ink.contrast && c.mass >= options.speck_fraction * largest)
        .collect();
    let groups = columns(&pieces);
    if groups.len() <= 1 {
        let p = prepare(page, options);
        return match p.diagnostics.ink_box {
            Some(bounds) => vec![Segment {
                bounds,
                prepared: p,
            }],
            None => Vec::new(),
        };
    }
    groups
        .iter()
        .map(|group| {
            let ids: Vec<u32> = group.iter().map(|&k| pieces[k].0 as u32 + 1).collect();
            let (x0, y0, x1, y1) =
                group
                    .iter()
                    .fold((usize::MAX, usize::MAX, 0, 0), |(a, b, c, d), &k| {
                        let p = &pieces[k].1;
                        (a.min(p.x0), b.min(p.y0), c.max(p.x1), d.max(p.y1))
                    });
            // The digit alone, dark on white, on a page with a margin of a quarter of its
            // long side around it.
            let margin = (x1 - x0).max(y1 - y0) / 4 + 2;
            let (px0, py0) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
            let (px1, py1) = ((x1 + margin).min(w - 1), (y1 + margin).min(h - 1));
            let (sw, sh) = (px1 - px0 + 1, py1 - py0 + 1);
            let mut sub = vec![1.0f32; sw * sh];
            for y in py0..=py1 {
                for x in px0..=px1 {
                    let i = y * w + x;
                    if ids.contains(&labels[i]) {
                        sub[(y - py0) * sw + x - px0] =
                            1.0 - (ink.level[i] / ink.contrast).clamp(0.0, 1.0) * 0.9;
                    }
                }
            }
            let page = Page::new(sw, sh, Channels::Gray, &sub).expect("a non-empty crop");
            Segment {
                bounds: super::InkBox {
                    x: x0,
                    y: y0,
                    width: x1 - x0 + 1,
                    height: y1 - y0 + 1,
                },
                prepared: prepare(&page, options),
            }
        })
        .collect()
}

/// Groups `pieces` into digits, left to right: a piece joins a group when their columns
/// overlap by at least a third of the narrower one, or when it is small (under a third of the
/// tallest piece's height) and nearer to that group than the next one. Returns the pieces'
/// indices per group.
fn columns(pieces: &[(usize, Component)]) -> Vec<Vec<usize>> {
    let tallest = pieces.iter().map(|(_, c)| c.height()).max().unwrap_or(0);
    let mut order: Vec<usize> = (0..pieces.len()).collect();
    order.sort_by_key(|&k| (pieces[k].1.x0, pieces[k].1.y0));
    // Big pieces first make the groups; small ones join the nearest group afterwards.
    let big = |k: usize| pieces[k].1.height() * 3 >= tallest;
    let mut groups: Vec<(usize, usize, Vec<usize>)> = Vec::new();
    for &k in order.iter().filter(|&&k| big(k)) {
        let c = &pieces[k].1;
        let joined = groups.iter_mut().find(|(gx0, gx1, _)| {
            let ov = (c.x1.min(*gx1) + 1).saturating_sub(c.x0.max(*gx0));
            ov * 3 >= c.width().min(gx1 - gx0 + 1)
        });
        match joined {
            Some((gx0, gx1, members)) => {
                *gx0 = (*gx0).min(c.x0);
                *gx1 = (*gx1).max(c.x1);
                members.push(k);
            }
            None => groups.push((c.x0, c.x1, vec![k])),
        }
    }
    if groups.is_empty() {
        return Vec::new();
    }
    for &k in order.iter().filter(|&&k| !big(k)) {
        let c = &pieces[k].1;
        let centre = (c.x0 + c.x1) / 2;
        let distance = |g: &(usize, usize, Vec<usize>)| {
            if centre < g.0 {
                g.0 - centre
            } else {
                centre.saturating_sub(g.1)
            }
        };
        let nearest = (0..groups.len())
            .min_by_key(|&g| distance(&groups[g]))
            .expect("at least one group");
        groups[nearest].2.push(k);
    }
    groups.sort_by_key(|g| g.0);
    groups.into_iter().map(|(_, _, m)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A white page with dark vertical bars `(x0, x1, y0, y1)`.
    fn page_with(w: usize, h: usize, bars: &[(usize, usize, usize, usize)]) -> Vec<f32> {
        let mut g = vec![0.95f32; w * h];
        for &(x0, x1, y0, y1) in bars {
            for y in y0..y1 {
                for x in x0..x1 {
                    g[y * w + x] = 0.1;
                }
            }
        }
        g
    }

    #[test]
    fn two_strokes_side_by_side_are_two_digits_left_to_right() {
        let (w, h) = (120, 60);
        // A tall bar on the left, an L-shape (two touching bars) on the right.
        let g = page_with(
            w,
            h,
            &[(20, 26, 10, 50), (70, 76, 10, 50), (70, 95, 44, 50)],
        );
        let page = Page::new(w, h, Channels::Gray, &g).unwrap();
        let s = segment(&page, &Options::default());
        assert_eq!(s.len(), 2);
        assert!(s[0].bounds.x < s[1].bounds.x);
        assert_eq!(s[0].bounds.width, 6);
        assert_eq!(s[1].bounds.width, 25);
        for seg in &s {
            assert_eq!(seg.prepared.diagnostics.concern, None, "{seg:?}");
        }
    }

    #[test]
    fn a_detached_bar_above_is_part_of_the_same_digit() {
        let (w, h) = (80, 80);
        // A 5-like digit: a bar on top not touching the body below it.
        let g = page_with(
            w,
            h,
            &[(30, 55, 10, 15), (30, 36, 20, 70), (30, 55, 64, 70)],
        );
        let page = Page::new(w, h, Channels::Gray, &g).unwrap();
        assert_eq!(segment(&page, &Options::default()).len(), 1);
    }

    #[test]
    fn a_blank_page_has_no_digit() {
        let g = vec![0.9f32; 50 * 50];
        let page = Page::new(50, 50, Channels::Gray, &g).unwrap();
        assert!(segment(&page, &Options::default()).is_empty());
    }
}
