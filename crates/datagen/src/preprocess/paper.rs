//! From colour pixels to an ink map: grey conversion with alpha compositing, the paper level
//! (a plane fitted to the page border), polarity, noise level and the ink thresholds.

use super::lines::{self, Removed};
use super::{Channels, Page};

/// Rec. 601 luma weights, applied to the stored (gamma-encoded) values as JPEG does.
const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

/// Lowest noise level assumed, so that a perfectly clean page still has a threshold.
const MIN_NOISE: f32 = 0.004;

/// The ink threshold is at least this far from the paper, in grey levels.
const MIN_DELTA: f32 = 0.03;

/// How many noise standard deviations a pixel must stand out from the paper to be ink.
const NOISE_SIGMAS: f32 = 5.0;

/// Width of the border ring whose pixels are taken as paper: 1/40 of the short side, at least
/// one pixel.
pub(super) fn ring_width(w: usize, h: usize) -> usize {
    (w.min(h) / 40).max(1)
}

/// Calls `f(x, y)` for every pixel of the border ring, each once.
pub(super) fn for_border(w: usize, h: usize, mut f: impl FnMut(usize, usize)) {
    let r = ring_width(w, h);
    for y in 0..h {
        if y < r || y + r >= h {
            (0..w).for_each(|x| f(x, y));
        } else {
            (0..r.min(w)).for_each(|x| f(x, y));
            (w.saturating_sub(r).max(r)..w).for_each(|x| f(x, y));
        }
    }
}

/// The `q`-quantile (0..=1) of `values` (reordered); 0 when empty.
pub(super) fn quantile(values: &mut [f32], q: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let k = ((values.len() - 1) as f32 * q.clamp(0.0, 1.0)).round() as usize;
    *values.select_nth_unstable_by(k, f32::total_cmp).1
}

/// The page in grey levels (0 black, 1 white), alpha composited onto the paper colour.
///
/// When the border is mostly transparent (a drawing on a transparent canvas), the paper is
/// taken to be the colour that contrasts with the ink: white under dark ink, black under light
/// ink, since the stored colour of transparent pixels means nothing (often black). Otherwise
/// transparent holes show the paper's own colour, the median of the opaque border.
pub(super) fn to_gray(page: &Page<'_>) -> Vec<f32> {
    let (w, h) = (page.width, page.height);
    let c = page.channels.count();
    let lum = |p: &[f32]| match page.channels {
        Channels::Gray | Channels::GrayAlpha => p[0].clamp(0.0, 1.0),
        Channels::Rgb | Channels::Rgba => {
            (LUMA[0] * p[0] + LUMA[1] * p[1] + LUMA[2] * p[2]).clamp(0.0, 1.0)
        }
    };
    let pixels = page.data.chunks_exact(c);
    let Some(a) = page.channels.alpha_index() else {
        return pixels.map(lum).collect();
    };
    let alpha = |p: &[f32]| p[a].clamp(0.0, 1.0);
    let px = |x: usize, y: usize| &page.data[(y * w + x) * c..][..c];
    let mut border_alpha = Vec::new();
    let mut border_lum = Vec::new();
    for_border(w, h, |x, y| {
        let p = px(x, y);
        border_alpha.push(alpha(p));
        if alpha(p) >= 0.5 {
            border_lum.push(lum(p));
        }
    });
    let paper = if quantile(&mut border_alpha, 0.5) < 0.5 {
        let (mut sa, mut sl) = (0.0f64, 0.0f64);
        for p in page.data.chunks_exact(c) {
            sa += f64::from(alpha(p));
            sl += f64::from(alpha(p) * lum(p));
        }
        if sa > 0.0 && sl / sa >= 0.5 {
            0.0
        } else {
            1.0
        }
    } else {
        quantile(&mut border_lum, 0.5)
    };
    pixels
        .map(|p| {
            let a = alpha(p);
            a * lum(p) + (1.0 - a) * paper
        })
        .collect()
}

/// `v = a + b * x + c * y` with `x`, `y` the pixel coordinates divided by the page size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Plane {
    a: f64,
    b: f64,
    c: f64,
}

impl Plane {
    fn at(&self, x: f64, y: f64) -> f64 {
        self.a + self.b * x + self.c * y
    }
}

/// Least-squares plane through `samples` (`(x, y, v)`); the mean when they do not span a plane.
fn fit_plane(samples: &[(f64, f64, f64)]) -> Plane {
    let n = samples.len() as f64;
    let (mut sx, mut sy, mut sv, mut sxx, mut syy, mut sxy, mut sxv, mut syv) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for &(x, y, v) in samples {
        sx += x;
        sy += y;
        sv += v;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
        sxv += x * v;
        syv += y * v;
    }
    let mean = Plane {
        a: if n > 0.0 { sv / n } else { 0.0 },
        b: 0.0,
        c: 0.0,
    };
    // Normal equations [n sx sy; sx sxx sxy; sy sxy syy] [a b c]' = [sv sxv syv]', by Cramer.
    let det3 = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let m = [[n, sx, sy], [sx, sxx, sxy], [sy, sxy, syy]];
    let det = det3(m);
    if det.abs() <= 1e-9 * n.powi(3).max(1.0) {
        return mean;
    }
    let rhs = [sv, sxv, syv];
    let solve = |col: usize| {
        let mut mc = m;
        for (row, &r) in mc.iter_mut().zip(&rhs) {
            row[col] = r;
        }
        det3(mc) / det
    };
    Plane {
        a: solve(0),
        b: solve(1),
        c: solve(2),
    }
}

/// The paper level as a plane fitted to the border ring, robust to ink that touches the
/// border, and the paper's noise (a standard deviation, from the median absolute residual).
fn paper_plane(gray: &[f32], w: usize, h: usize) -> (Plane, f32) {
    let (fw, fh) = (w as f64, h as f64);
    let mut samples = Vec::new();
    for_border(w, h, |x, y| {
        samples.push((x as f64 / fw, y as f64 / fh, f64::from(gray[y * w + x])));
    });
    let abs_residuals = |plane: &Plane, s: &[(f64, f64, f64)]| -> Vec<f32> {
        s.iter()
            .map(|&(x, y, v)| (v - plane.at(x, y)).abs() as f32)
            .collect()
    };
    // Start from the median (ink on the border cannot move it much), then refit a plane to
    // the samples close to the current fit: a few rounds of trimmed least squares.
    let mut levels: Vec<f32> = samples.iter().map(|s| s.2 as f32).collect();
    let mut plane = Plane {
        a: f64::from(quantile(&mut levels, 0.5)),
        b: 0.0,
        c: 0.0,
    };
    let mut inliers = samples.clone();
    for _ in 0..3 {
        let mut res = abs_residuals(&plane, &samples);
        let cut = (3.0 * 1.4826 * quantile(&mut res, 0.5)).max(0.02);
        inliers = samples
            .iter()
            .copied()
            .filter(|&(x, y, v)| (v - plane.at(x, y)).abs() <= f64::from(cut))
            .collect();
        if inliers.len() < 3 {
            break;
        }
        plane = fit_plane(&inliers);
    }
    let mut res = abs_residuals(&plane, &inliers);
    let spread = 1.4826 * quantile(&mut res, 0.5);
    // Lines of ruled or squared paper that run inside the ring widen the spread without being
    // noise; the difference between neighbours along the ring is (nearly) unmoved by them. It
    // caps the spread at 1.5 times its value, which leaves noise that is only smooth (as in a
    // JPEG, where neighbours differ less) as it was.
    let along =
        border_steps(gray, w, h).map_or(f32::INFINITY, |s| 1.4826 * s / std::f32::consts::SQRT_2);
    let noise = spread.min(1.5 * along).max(MIN_NOISE);
    (plane, noise)
}

/// The median absolute difference of neighbouring pixels along the border ring (across the
/// top and bottom rows, down the left and right columns); `None` when the ring has no such
/// pairs.
fn border_steps(gray: &[f32], w: usize, h: usize) -> Option<f32> {
    let r = ring_width(w, h);
    let mut steps = Vec::new();
    for y in 0..h {
        let row = &gray[y * w..(y + 1) * w];
        if y < r || y + r >= h {
            steps.extend(row.windows(2).map(|p| (p[1] - p[0]).abs()));
        }
    }
    for x in (0..r.min(w)).chain(w.saturating_sub(r).max(r)..w) {
        steps.extend((1..h).map(|y| (gray[y * w + x] - gray[(y - 1) * w + x]).abs()));
    }
    (!steps.is_empty()).then(|| quantile(&mut steps, 0.5))
}

/// What [`ink_map`] found.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ink {
    /// How far each pixel's ink stands out from the paper (paper and noise give 0), in grey
    /// levels; bright ink whatever the page's polarity.
    pub(super) level: Vec<f32>,
    /// Whether the ink is darker than the paper (and so was inverted).
    pub(super) inverted: bool,
    /// The typical ink level (the 97th percentile of the pixels above the noise threshold);
    /// 0 when no pixel stands out.
    pub(super) contrast: f32,
    /// Pixels at or below this level are not ink (noise, smudges, gradient left-overs).
    pub(super) low: f32,
    /// The paper's noise, a standard deviation in grey levels.
    pub(super) noise: f32,
    /// The paper's own lines taken out of `level` (see [`lines::remove`]).
    pub(super) lines: Removed,
}

/// Subtracts the paper plane, picks the polarity, takes out the paper's own lines (ruled,
/// squared, a margin: see [`lines::remove`]) and measures the ink's contrast.
///
/// Polarity: whichever side of the paper holds more ink mass beyond the noise threshold is the
/// ink. A digit is thin marks on a large field, so that works for dark ink on light paper, for
/// chalk on a blackboard and for a white digit on a black screen alike.
pub(super) fn ink_map(gray: &[f32], w: usize, h: usize) -> Ink {
    let (plane, noise) = paper_plane(gray, w, h);
    let delta = (NOISE_SIGMAS * noise).max(MIN_DELTA);
    let (fw, fh) = (w as f64, h as f64);
    let mut residual = Vec::with_capacity(gray.len());
    for (y, row) in gray.chunks_exact(w).enumerate() {
        let yn = y as f64 / fh;
        for (x, &g) in row.iter().enumerate() {
            residual.push((f64::from(g) - plane.at(x as f64 / fw, yn)) as f32);
        }
    }
    let (mut dark, mut light) = (0.0f64, 0.0f64);
    for &r in &residual {
        dark += f64::from((-r - delta).max(0.0));
        light += f64::from((r - delta).max(0.0));
    }
    let inverted = dark > light;
    let sign = if inverted { -1.0 } else { 1.0 };
    let mut level: Vec<f32> = residual.iter().map(|&r| (sign * r).max(0.0)).collect();
    let (contrast, low) = contrast_of(&level, delta);
    let mut removed = Removed::default();
    if contrast > 0.0 {
        let mut cleaned = level.clone();
        removed = lines::remove(&mut cleaned, w, h, 0.5 * delta, low);
        // One line and nothing else is a drawing of a line (a 1 from edge to edge in a fine
        // pen), not paper: it stays.
        let left = cleaned.iter().filter(|&&v| v > low).count();
        let lone = removed.horizontal + removed.vertical == 1 && left < 10;
        if lone {
            removed = Removed::default();
        } else if removed != Removed::default() {
            level = cleaned;
        }
    }
    let (contrast, low) = if removed == Removed::default() {
        (contrast, low)
    } else {
        contrast_of(&level, delta)
    };
    Ink {
        level,
        inverted,
        contrast,
        low,
        noise,
        lines: removed,
    }
}

/// The typical ink level of `level` (the 97th percentile of the pixels above `delta`; 0 when
/// none is) and the level at or below which a pixel is not ink.
fn contrast_of(level: &[f32], delta: f32) -> (f32, f32) {
    let mut above: Vec<f32> = level.iter().copied().filter(|&v| v > delta).collect();
    let contrast = quantile(&mut above, 0.97);
    (contrast, delta.max(0.1 * contrast))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray_page(w: usize, h: usize, data: &[f32]) -> Vec<f32> {
        to_gray(&Page::new(w, h, Channels::Gray, data).unwrap())
    }

    /// A `w x h` page of `paper` with a `bar` level vertical bar in its middle third.
    fn bar_page(w: usize, h: usize, paper: f32, bar: f32) -> Vec<f32> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let on = (w / 3..2 * w / 3).contains(&x) && (h / 4..3 * h / 4).contains(&y);
                if on {
                    bar
                } else {
                    paper
                }
            })
            .collect()
    }

    #[test]
    fn dark_ink_on_light_paper_is_inverted_and_light_ink_on_dark_is_not() {
        for (paper, bar, inverted) in [(0.9, 0.2, true), (0.05, 0.8, false)] {
            let g = gray_page(30, 40, &bar_page(30, 40, paper, bar));
            let ink = ink_map(&g, 30, 40);
            assert_eq!(ink.inverted, inverted, "paper {paper}, bar {bar}");
            assert!((ink.contrast - (paper - bar).abs()).abs() < 1e-4);
            assert!(ink.level[0] <= ink.low);
            assert!((ink.level[20 * 30 + 15] - ink.contrast).abs() < 1e-4);
        }
    }

    #[test]
    fn a_linear_gradient_on_the_paper_is_removed() {
        let (w, h) = (60, 50);
        let mut data = bar_page(w, h, 0.0, -0.5);
        for (i, v) in data.iter_mut().enumerate() {
            *v += 0.6 + 0.3 * (i % w) as f32 / w as f32 + 0.1 * (i / w) as f32 / h as f32;
        }
        let ink = ink_map(&gray_page(w, h, &data), w, h);
        assert!(ink.inverted);
        let paper_max = (0..w * h)
            .filter(|&i| ink.level[i] > ink.low)
            .filter(|&i| !(w / 3..2 * w / 3).contains(&(i % w)))
            .count();
        assert_eq!(paper_max, 0, "paper pixels left as ink");
        assert!((ink.contrast - 0.5).abs() < 0.01, "{}", ink.contrast);
    }

    #[test]
    fn transparent_paper_under_black_ink_becomes_white() {
        // RGBA with the usual encoding of "nothing": (0, 0, 0, 0); the ink is opaque black.
        let (w, h) = (20, 20);
        let mut data = vec![0.0f32; w * h * 4];
        for y in 5..15 {
            data[(y * w + 10) * 4 + 3] = 1.0;
        }
        let g = to_gray(&Page::new(w, h, Channels::Rgba, &data).unwrap());
        assert_eq!(g[0], 1.0);
        assert_eq!(g[7 * w + 10], 0.0);
    }

    #[test]
    fn transparent_holes_in_opaque_paper_take_the_paper_colour() {
        let (w, h) = (20, 20);
        let mut data: Vec<f32> = (0..w * h).flat_map(|_| [0.8, 0.8, 0.8, 1.0]).collect();
        data[(10 * w + 10) * 4 + 3] = 0.0;
        let g = to_gray(&Page::new(w, h, Channels::Rgba, &data).unwrap());
        assert!((g[10 * w + 10] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn border_ring_visits_each_pixel_once() {
        for (w, h) in [(1, 1), (1, 5), (3, 2), (100, 80)] {
            let mut seen = vec![0u8; w * h];
            for_border(w, h, |x, y| seen[y * w + x] += 1);
            assert!(seen.iter().all(|&s| s <= 1), "{w}x{h}");
            assert_eq!(seen[0], 1);
            assert_eq!(seen[w * h - 1], 1);
        }
    }
}
