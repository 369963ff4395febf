//! Training-time augmentation of real images: small random shifts, rotations, scalings and
//! an optional elastic distortion, all drawn from a seeded stream.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How strongly to perturb each training image. The defaults suit 28x28 digits and
/// clothing: shift up to 2 px, rotation up to 10 degrees, scale 0.9..1.1, no elastic field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    /// Largest shift along each axis, in pixels.
    pub max_shift: f32,
    /// Largest rotation either way, in degrees.
    pub max_rotation_deg: f32,
    /// Largest relative change of scale (0.1 = 0.9..1.1).
    pub max_scale: f32,
    /// Strength of the elastic displacement field in pixels (0 = off).
    pub elastic_alpha: f32,
    /// Smoothness of the elastic field (Gaussian sigma, pixels).
    pub elastic_sigma: f32,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            max_shift: 2.0,
            max_rotation_deg: 10.0,
            max_scale: 0.1,
            elastic_alpha: 0.0,
            elastic_sigma: 4.0,
        }
    }
}

impl Augment {
    /// The defaults plus an elastic field (Simard et al., 2003) of moderate strength.
    pub fn with_elastic() -> Self {
        Self {
            elastic_alpha: 1.5,
            ..Self::default()
        }
    }

    /// Writes a perturbed copy of `image` (`rows x cols`, values in [0, 1]) into `out`. The
    /// perturbation is drawn from a ChaCha8 stream keyed by `(seed, key)`; callers use e.g.
    /// the epoch and the sample index as `key`, so every epoch sees new variants and a run is
    /// reproducible from its seed, whatever the thread count.
    ///
    /// Panics when a buffer does not hold `rows * cols` values (callers size them).
    pub fn apply(
        &self,
        out: &mut [f32],
        image: &[f32],
        rows: usize,
        cols: usize,
        seed: u64,
        key: u64,
    ) {
        assert!(
            image.len() == rows * cols && out.len() == rows * cols,
            "augment buffer sizes"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(key);
        let mut uniform =
            |lo: f32, hi: f32| lo + (hi - lo) * ((rng.next_u32() >> 8) as f32 / 16_777_216.0);
        let angle = uniform(-self.max_rotation_deg, self.max_rotation_deg).to_radians();
        let scale = 1.0 + uniform(-self.max_scale, self.max_scale);
        let (dx, dy) = (
            uniform(-self.max_shift, self.max_shift),
            uniform(-self.max_shift, self.max_shift),
        );
        let field = (self.elastic_alpha > 0.0).then(|| {
            let mut raw: Vec<f32> = (0..2 * rows * cols).map(|_| uniform(-1.0, 1.0)).collect();
            smooth(&mut raw[..rows * cols], rows, cols, self.elastic_sigma);
            smooth(&mut raw[rows * cols..], rows, cols, self.elastic_sigma);
            normalise(&mut raw, self.elastic_alpha);
            raw
        });
        // Inverse mapping: each output pixel reads the input where the transform sends it
        // from, rotating and scaling about the image centre, then shifting.
        let (cy, cx) = ((rows as f32 - 1.0) / 2.0, (cols as f32 - 1.0) / 2.0);
        let (sin, cos) = angle.sin_cos();
        for y in 0..rows {
            for x in 0..cols {
                let (mut ux, mut uy) = (x as f32 - cx - dx, y as f32 - cy - dy);
                if let Some(f) = &field {
                    ux -= f[y * cols + x];
                    uy -= f[rows * cols + y * cols + x];
                }
                let sx = (cos * ux + sin * uy) / scale + cx;
                let sy = (-sin * ux + cos * uy) / scale + cy;
                out[y * cols + x] = bilinear(image, rows, cols, sy, sx);
            }
        }
    }
}

/// Bilinear sample of `image` at `(y, x)`, 0 outside.
fn bilinear(image: &[f32], rows: usize, cols: usize, y: f32, x: f32) -> f32 {
    let (y0, x0) = (y.floor(), x.floor());
    let (fy, fx) = (y - y0, x - x0);
    let at = |yy: f32, xx: f32| {
        if yy < 0.0 || xx < 0.0 || yy >= rows as f32 || xx >= cols as f32 {
            0.0
        } else {
            image[yy as usize * cols + xx as usize]
        }
    };
    let top = at(y0, x0) * (1.0 - fx) + at(y0, x0 + 1.0) * fx;
    let bottom = at(y0 + 1.0, x0) * (1.0 - fx) + at(y0 + 1.0, x0 + 1.0) * fx;
    (top * (1.0 - fy) + bottom * fy).clamp(0.0, 1.0)
}

/// Separable Gaussian blur of a `rows x cols` field in place (zero outside).
fn smooth(field: &mut [f32], rows: usize, cols: usize, sigma: f32) {
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let mut tmp = vec![0.0; field.len()];
    for y in 0..rows {
        for x in 0..cols {
            let mut s = 0.0;
            for (k, w) in kernel.iter().enumerate() {
                let xx = x as isize + k as isize - radius;
                if (0..cols as isize).contains(&xx) {
                    s += w * field[y * cols + xx as usize];
                }
            }
            tmp[y * cols + x] = s;
        }
    }
    for y in 0..rows {
        for x in 0..cols {
            let mut s = 0.0;
            for (k, w) in kernel.iter().enumerate() {
                let yy = y as isize + k as isize - radius;
                if (0..rows as isize).contains(&yy) {
                    s += w * tmp[yy as usize * cols + x];
                }
            }
            field[y * cols + x] = s;
        }
    }
}

/// Scales a displacement field so its largest magnitude is `alpha` pixels.
fn normalise(field: &mut [f32], alpha: f32) {
    let max = field.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max > 0.0 {
        field.iter_mut().for_each(|v| *v *= alpha / max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Vec<f32> {
        let mut img = vec![0.0; 28 * 28];
        for y in 10..18 {
            for x in 10..18 {
                img[y * 28 + x] = 1.0;
            }
        }
        img
    }

    #[test]
    fn zero_strength_is_the_identity() {
        let none = Augment {
            max_shift: 0.0,
            max_rotation_deg: 0.0,
            max_scale: 0.0,
            elastic_alpha: 0.0,
            elastic_sigma: 4.0,
        };
        let img = square();
        let mut out = vec![f32::NAN; img.len()];
        none.apply(&mut out, &img, 28, 28, 1, 2);
        assert_eq!(out, img);
    }

    #[test]
    fn augmentation_is_seeded_and_keeps_the_ink_near_its_mass() {
        let img = square();
        let (mut a, mut b) = (vec![0.0; 784], vec![0.0; 784]);
        for aug in [Augment::default(), Augment::with_elastic()] {
            aug.apply(&mut a, &img, 28, 28, 7, 3);
            aug.apply(&mut b, &img, 28, 28, 7, 3);
            assert_eq!(a, b);
            aug.apply(&mut b, &img, 28, 28, 7, 4);
            assert_ne!(a, b);
            let (mass, orig): (f32, f32) = (a.iter().sum(), img.iter().sum());
            // Scale 0.9..1.1 changes the area by at most about 21%.
            assert!((mass / orig - 1.0).abs() < 0.3, "{mass} vs {orig}");
            assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
}
