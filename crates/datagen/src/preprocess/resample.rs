//! Exact area resampling (a box filter of the true footprint) and a fast max filter.
//!
//! Shrinking a 300-pixel digit to 20 pixels by picking every 15th pixel (nearest neighbour)
//! keeps or drops a thin stroke by luck; averaging each output pixel over exactly the source
//! area it covers keeps every stroke as grey coverage, which is how MNIST's anti-aliased
//! digits were made. The filter is separable: rows first, then columns.

/// One output pixel of a 1-D area resampling: the first source pixel it covers and the
/// covered length of each source pixel from there, in output pixels.
#[derive(Debug, Clone, PartialEq)]
struct Tap {
    first: usize,
    weights: Vec<f32>,
}

/// The taps that resample `n_src` pixels by `scale` onto `n_dst` output pixels.
///
/// Source pixel `i` spans `[i * scale, (i + 1) * scale)` in output coordinates and output pixel
/// `j` spans `[j, j + 1)`; the weight is the length of their overlap. So an output pixel is the
/// mean of the source over its footprint (when fully covered), and every source pixel hands out
/// exactly `scale` in total when `n_dst >= n_src * scale`: mass is kept up to the factor `scale`.
fn taps(n_src: usize, scale: f64, n_dst: usize) -> Vec<Tap> {
    (0..n_dst)
        .map(|j| {
            let (lo, hi) = (j as f64, j as f64 + 1.0);
            let first = (lo / scale).floor().max(0.0) as usize;
            let last = ((hi / scale).ceil() as usize).min(n_src);
            let weights = (first..last)
                .map(|i| {
                    let a = (i as f64 * scale).max(lo);
                    let b = ((i + 1) as f64 * scale).min(hi);
                    (b - a).max(0.0) as f32
                })
                .collect();
            Tap { first, weights }
        })
        .collect()
}

/// Resamples the `h x w` row-major `src` by `scale` on both axes into a `h_out x w_out` image
/// with `w_out = ceil(w * scale)`, `h_out = ceil(h * scale)`, returning `(image, h_out, w_out)`.
///
/// The sum of the output is `scale^2` times the sum of the input (up to rounding), and a
/// uniform input stays uniform wherever the output pixel is fully covered.
pub(super) fn area_resize(src: &[f32], h: usize, w: usize, scale: f32) -> (Vec<f32>, usize, usize) {
    debug_assert_eq!(src.len(), h * w);
    let scale = f64::from(scale);
    // A hair below the exact product, so that 28 * (20 / 28) gives 20 and not 21 pixels.
    let out_len = |n: usize| ((n as f64 * scale - 1e-4).ceil() as usize).max(1);
    let (h_out, w_out) = (out_len(h), out_len(w));
    let tx = taps(w, scale, w_out);
    let ty = taps(h, scale, h_out);
    // Rows first: h x w -> h x w_out.
    let mut rows = vec![0.0f32; h * w_out];
    for (src_row, dst_row) in src.chunks_exact(w).zip(rows.chunks_exact_mut(w_out)) {
        for (d, tap) in dst_row.iter_mut().zip(&tx) {
            *d = tap
                .weights
                .iter()
                .zip(&src_row[tap.first..])
                .map(|(wt, v)| wt * v)
                .sum();
        }
    }
    // Then columns: h x w_out -> h_out x w_out.
    let mut out = vec![0.0f32; h_out * w_out];
    for (dst_row, tap) in out.chunks_exact_mut(w_out).zip(&ty) {
        for (k, &wt) in tap.weights.iter().enumerate() {
            let src_row = &rows[(tap.first + k) * w_out..][..w_out];
            for (d, &v) in dst_row.iter_mut().zip(src_row) {
                *d += wt * v;
            }
        }
    }
    (out, h_out, w_out)
}

/// The maximum of `line` over the window `[i - r, i + r]` for every `i` (outside is 0).
///
/// Doubling windows, as in a sparse table: level `k` holds maxima over `2^k` pixels, and any
/// window of `2r + 1` pixels is the max of two overlapping windows of the largest such size.
/// That is `O(n log r)` instead of `O(n r)`, which matters when a thin pen on a large page
/// needs a radius of dozens of pixels.
fn max_filter_line(line: &[f32], r: usize, out: &mut [f32]) {
    let n = line.len();
    let k = 2 * r + 1;
    // Padded with r zeros on each side: padded[i + r] = line[i].
    let mut level: Vec<f32> = std::iter::repeat_n(0.0, r)
        .chain(line.iter().copied())
        .chain(std::iter::repeat_n(0.0, r))
        .collect();
    let mut span = 1;
    while span * 2 <= k {
        let next: Vec<f32> = (0..level.len())
            .map(|i| level[i].max(*level.get(i + span).unwrap_or(&0.0)))
            .collect();
        level = next;
        span *= 2;
    }
    // Window of padded[i..i + k] = max(level[i], level[i + k - span]).
    for (i, o) in out.iter_mut().enumerate().take(n) {
        *o = level[i].max(level[i + k - span]);
    }
}

/// Grey dilation of the `h x w` image by a `(2r + 1)`-pixel square, in place.
pub(super) fn dilate(img: &mut [f32], h: usize, w: usize, r: usize) {
    if r == 0 || img.is_empty() {
        return;
    }
    let mut buf = vec![0.0f32; w.max(h)];
    for row in img.chunks_exact_mut(w) {
        max_filter_line(row, r, &mut buf[..w]);
        row.copy_from_slice(&buf[..w]);
    }
    let mut col = vec![0.0f32; h];
    for x in 0..w {
        for (y, c) in col.iter_mut().enumerate() {
            *c = img[y * w + x];
        }
        max_filter_line(&col, r, &mut buf[..h]);
        for (y, &v) in buf[..h].iter().enumerate() {
            img[y * w + x] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 1000) as f32 / 1000.0
            })
            .collect()
    }

    #[test]
    fn area_resize_preserves_mass() {
        // Sum(out) = scale^2 * Sum(in) for shrinking, growing and awkward factors.
        for (h, w, scale) in [
            (300, 170, 20.0 / 300.0),
            (28, 28, 1.0),
            (7, 13, 20.0 / 13.0),
        ] {
            let src = pseudo_random(h * w, (h * w) as u32);
            let (out, h_out, w_out) = area_resize(&src, h, w, scale);
            assert_eq!(out.len(), h_out * w_out);
            let mass_in: f64 = src.iter().map(|&v| f64::from(v)).sum();
            let mass_out: f64 = out.iter().map(|&v| f64::from(v)).sum();
            let expected = mass_in * f64::from(scale) * f64::from(scale);
            assert!(
                (mass_out - expected).abs() < 1e-4 * expected,
                "{h}x{w} by {scale}: {mass_out} vs {expected}"
            );
        }
    }

    #[test]
    fn area_resize_fits_the_long_side_exactly_and_averages_blocks() {
        // 300 -> 20 pixels: each output pixel is the mean of a 15x15 block.
        let (h, w) = (300, 150);
        let src: Vec<f32> = (0..h * w)
            .map(|i| if (i / w) / 15 % 2 == 0 { 1.0 } else { 0.0 })
            .collect();
        let (out, h_out, w_out) = area_resize(&src, h, w, 20.0 / 300.0);
        assert_eq!((h_out, w_out), (20, 10));
        for (y, row) in out.chunks_exact(w_out).enumerate() {
            let want = if y % 2 == 0 { 1.0 } else { 0.0 };
            assert!(
                row.iter().all(|&v| (v - want).abs() < 1e-5),
                "row {y}: {row:?}"
            );
        }
    }

    #[test]
    fn area_resize_keeps_a_thin_line_that_nearest_neighbour_would_drop() {
        // A one-pixel line at x = 7 of a 40-wide image shrunk 10x lands in output pixel 0 as
        // 1/10 coverage; picking every 10th pixel would have missed it.
        let (h, w) = (40, 40);
        let src: Vec<f32> = (0..h * w)
            .map(|i| f32::from(u8::from(i % w == 7)))
            .collect();
        let (out, _, w_out) = area_resize(&src, h, w, 0.1);
        assert_eq!(w_out, 4);
        for row in out.chunks_exact(w_out) {
            assert!((row[0] - 0.1).abs() < 1e-6 && row[1..].iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn max_filter_matches_the_naive_window_maximum() {
        for n in [1, 2, 5, 17, 64] {
            for r in [0, 1, 2, 3, 7, 40] {
                let line = pseudo_random(n, (n * 31 + r) as u32);
                let mut fast = vec![f32::NAN; n];
                max_filter_line(&line, r, &mut fast);
                for (i, &f) in fast.iter().enumerate() {
                    let lo = i.saturating_sub(r);
                    let hi = (i + r + 1).min(n);
                    let want = line[lo..hi].iter().copied().fold(0.0, f32::max);
                    assert_eq!(f, want, "n {n} r {r} i {i}");
                }
            }
        }
    }

    #[test]
    fn dilate_grows_a_dot_into_a_square() {
        let (h, w) = (9, 9);
        let mut img = vec![0.0; h * w];
        img[4 * w + 4] = 0.5;
        dilate(&mut img, h, w, 2);
        for y in 0..h {
            for x in 0..w {
                let inside = (2..=6).contains(&y) && (2..=6).contains(&x);
                assert_eq!(img[y * w + x], if inside { 0.5 } else { 0.0 }, "({x}, {y})");
            }
        }
    }
}
