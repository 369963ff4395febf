//! Deskewing: the slant of a handwritten digit, measured from its ink's second moments, and
//! sheared away, so that a small network need not spend its weights on slant, and a digit
//! written far slanted reads as an upright one.
//!
//! The slant of an image is `s = cov(x, y) / var(y)` of its ink (x to the right, y down, each
//! pixel weighted by its ink): the shear under which its ink's principal direction is upright.
//! A digit leaning to the right has `s < 0`. [`deskew`] moves row `y` by `s * (y - ȳ)`
//! pixels (sampling linearly between columns; ink moved in from outside is background),
//! about the row of the centre of mass, so the centre of mass stays where it was. The shear
//! is clamped to `±max_shear`: a much larger one is more likely the shape's own (a 7's long
//! bar, a letter) than the pen's slant.
//!
//! MNIST's own digits are not deskewed; a model trained on deskewed digits is judged on
//! deskewed ones (its settings say so), wherever its images come from.

use rayon::prelude::*;

use crate::dataset::{to_byte, to_unit, Dataset};

/// The slant of the `side x side` image `image` (`cov(x, y) / var(y)` of its ink), or `None`
/// for an image without ink or whose ink lies on one row.
pub fn slant(image: &[f32], side: usize) -> Option<f64> {
    moments(image, side).map(|(_, s)| s)
}

/// The row of `image`'s centre of mass and its slant, as [`slant`].
fn moments(image: &[f32], side: usize) -> Option<(f64, f64)> {
    let (mut mass, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &v) in image.iter().enumerate() {
        let v = f64::from(v);
        mass += v;
        sx += v * (i % side) as f64;
        sy += v * (i / side) as f64;
    }
    if mass <= 0.0 {
        return None;
    }
    let (mx, my) = (sx / mass, sy / mass);
    let (mut cov, mut var) = (0.0f64, 0.0f64);
    for (i, &v) in image.iter().enumerate() {
        let v = f64::from(v);
        let (dx, dy) = ((i % side) as f64 - mx, (i / side) as f64 - my);
        cov += v * dx * dy;
        var += v * dy * dy;
    }
    // Ink on one row (or nearly): no slant to speak of.
    (var > 1e-9 * mass).then(|| (my, cov / var))
}

/// Shears the `side x side` image `image` in place so that its slant (see [`slant`]), clamped
/// to `±max_shear`, becomes 0. An image without ink, or `max_shear <= 0`, is left as it is.
pub fn deskew(image: &mut [f32], side: usize, max_shear: f32) {
    if max_shear <= 0.0 || image.len() != side * side {
        return;
    }
    let Some((my, s)) = moments(image, side) else {
        return;
    };
    let s = s.clamp(-f64::from(max_shear), f64::from(max_shear));
    let mut row = vec![0.0f32; side];
    for (y, out) in image.chunks_exact_mut(side).enumerate() {
        row.copy_from_slice(out);
        // Output column x reads the source at x + shift, linearly between its two columns.
        let shift = s * (y as f64 - my);
        let whole = shift.floor();
        let f = (shift - whole) as f32;
        let whole = whole as isize;
        let at = |x: isize| {
            usize::try_from(x)
                .ok()
                .and_then(|x| row.get(x))
                .copied()
                .unwrap_or(0.0)
        };
        for (x, o) in out.iter_mut().enumerate() {
            let x0 = x as isize + whole;
            *o = at(x0) * (1.0 - f) + at(x0 + 1) * f;
        }
    }
}

/// [`deskew`] on each `side x side` image of `images`, stored as bytes
/// ([`to_unit`] and back with [`to_byte`]), in parallel; the same bytes for any number of
/// threads.
pub fn deskew_bytes(images: &mut [u8], side: usize, max_shear: f32) {
    if max_shear <= 0.0 {
        return;
    }
    images
        .par_chunks_mut(side * side)
        .with_min_len(64)
        .for_each_init(Vec::new, |image, bytes| {
            image.clear();
            image.extend(bytes.iter().map(|&b| to_unit(b)));
            deskew(image, side, max_shear);
            for (b, &v) in bytes.iter_mut().zip(image.iter()) {
                *b = to_byte(v);
            }
        });
}

impl Dataset {
    /// The images deskewed ([`deskew`], clamped to `±max_shear`; `0`: as they are), labels
    /// unchanged.
    pub fn deskewed(mut self, max_shear: f32) -> Self {
        if max_shear > 0.0 && self.rows() == self.cols() {
            let side = self.rows();
            deskew_bytes(self.images_mut(), side, max_shear);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::centre_of_mass;

    const SIDE: usize = 28;

    /// A bar 2 px wide from row 4 to row 23, its centre at column `14 + lean * (y - 13.5)`.
    fn bar(lean: f32) -> Vec<f32> {
        let mut img = vec![0.0f32; SIDE * SIDE];
        for y in 4..24 {
            let c = 14.0 + lean * (y as f32 - 13.5);
            for x in 0..SIDE {
                let d = (x as f32 + 0.5 - c).abs();
                img[y * SIDE + x] = (1.5 - d).clamp(0.0, 1.0);
            }
        }
        img
    }

    #[test]
    fn a_slanted_bar_is_made_upright_and_keeps_its_centre_of_mass() {
        for lean in [-0.4f32, -0.2, 0.25, 0.5] {
            let mut img = bar(lean);
            let before = centre_of_mass(&img);
            let s = slant(&img, SIDE).unwrap();
            assert!((s - f64::from(lean)).abs() < 0.02, "lean {lean}: slant {s}");
            deskew(&mut img, SIDE, 1.0);
            let after = slant(&img, SIDE).unwrap();
            assert!(after.abs() < 0.02, "lean {lean}: slant after {after}");
            let (a, b) = (centre_of_mass(&img), before);
            assert!(
                (a.0 - b.0).abs() < 0.05 && (a.1 - b.1).abs() < 0.05,
                "{a:?} {b:?}"
            );
            // Ink is only moved along rows: each row keeps its ink.
            let upright = bar(0.0);
            for y in 4..24 {
                let sum = |im: &[f32]| im[y * SIDE..(y + 1) * SIDE].iter().sum::<f32>();
                assert!((sum(&img) - sum(&upright)).abs() < 1e-4, "row {y}");
            }
        }
    }

    #[test]
    fn an_upright_digit_and_a_blank_image_are_left_alone() {
        let upright = bar(0.0);
        let mut img = upright.clone();
        deskew(&mut img, SIDE, 1.0);
        for (a, b) in img.iter().zip(&upright) {
            assert!((a - b).abs() < 1e-6);
        }
        let mut blank = vec![0.0f32; SIDE * SIDE];
        deskew(&mut blank, SIDE, 1.0);
        assert!(blank.iter().all(|&v| v == 0.0));
        // Ink on a single row has no slant.
        let mut line = vec![0.0f32; SIDE * SIDE];
        line[14 * SIDE + 5..14 * SIDE + 20].fill(1.0);
        let copy = line.clone();
        deskew(&mut line, SIDE, 1.0);
        assert_eq!(line, copy);
    }

    #[test]
    fn the_shear_is_clamped_and_zero_turns_deskewing_off() {
        let mut img = bar(0.6);
        deskew(&mut img, SIDE, 0.25);
        let left = slant(&img, SIDE).unwrap();
        assert!((left - 0.35).abs() < 0.03, "{left}");
        let mut off = bar(0.6);
        deskew(&mut off, SIDE, 0.0);
        assert_eq!(off, bar(0.6));
    }

    #[test]
    fn bytes_and_datasets_are_deskewed_alike_whatever_the_threads() {
        let data = crate::generate(crate::Style::Strokes, 5, 0, 300);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| data.clone().deskewed(0.75));
        let many = data.clone().deskewed(0.75);
        assert_eq!(one.images(), many.images());
        assert_eq!(one.labels(), data.labels());
        assert_ne!(one.images(), data.images());
        // Each image is its float deskew, rounded to bytes.
        let mut f = data.image_f32(7);
        deskew(&mut f, SIDE, 0.75);
        let bytes: Vec<u8> = f.iter().map(|&v| to_byte(v)).collect();
        assert_eq!(many.image(7), &bytes[..]);
        // The generator's digits lean: deskewing straightens them on the whole.
        let mean_abs = |d: &Dataset| {
            (0..d.len())
                .filter_map(|i| slant(&d.image_f32(i), SIDE))
                .map(f64::abs)
                .sum::<f64>()
                / d.len() as f64
        };
        assert!(
            mean_abs(&many) < 0.3 * mean_abs(&data),
            "{} {}",
            mean_abs(&many),
            mean_abs(&data)
        );
    }
}
