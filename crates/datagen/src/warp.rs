//! Elastic distortion of a path (Simard, Steinkraus & Platt 2003) and a light 3-tap blur.
//!
//! Simard et al. displace every pixel by a random field: white noise smoothed by a Gaussian and
//! scaled. Here the same field bends the pen's path before it is drawn: white noise on a
//! lattice of nodes, smoothed by a Gaussian kernel evaluated at each path point. Bending the
//! path instead of resampling pixels keeps the pen width and the anti-aliased edges intact and
//! lets the framing measure the warped digit exactly.

use crate::path::{Path, Pt};
use crate::rng::{exp_neg, SampleRng};

/// Nodes per side of the noise lattice.
const NODES: usize = 7;

/// A random smooth displacement field over a rectangle.
pub(crate) struct ElasticField {
    origin: Pt,
    step: Pt,
    /// `-1 / (2 sigma^2)`.
    neg_inv_2s2: f32,
    amplitude: f32,
    noise_x: [[f32; NODES]; NODES],
    noise_y: [[f32; NODES]; NODES],
}

impl ElasticField {
    /// A field over `lo..hi` (widened by `sigma` on every side) whose displacement has a
    /// root-mean-square of `amplitude` per axis, smooth over about `sigma`.
    pub(crate) fn new(rng: &mut SampleRng, lo: Pt, hi: Pt, sigma: f32, amplitude: f32) -> Self {
        let origin = Pt::new(lo.x - sigma, lo.y - sigma);
        let span = |a: f32, b: f32| ((b - a) + 2.0 * sigma).max(1e-3) / (NODES - 1) as f32;
        let step = Pt::new(span(lo.x, hi.x), span(lo.y, hi.y));
        let mut noise_x = [[0.0; NODES]; NODES];
        let mut noise_y = [[0.0; NODES]; NODES];
        for row in noise_x.iter_mut().chain(noise_y.iter_mut()) {
            for v in row.iter_mut() {
                *v = rng.sym(1.0);
            }
        }
        Self {
            origin,
            step,
            neg_inv_2s2: -1.0 / (2.0 * sigma * sigma),
            amplitude,
            noise_x,
            noise_y,
        }
    }

    /// The displacement at `p`.
    pub(crate) fn at(&self, p: Pt) -> Pt {
        let mut gx = [0.0f32; NODES];
        let mut gy = [0.0f32; NODES];
        for i in 0..NODES {
            let dx = p.x - (self.origin.x + i as f32 * self.step.x);
            let dy = p.y - (self.origin.y + i as f32 * self.step.y);
            gx[i] = exp_neg(dx * dx * self.neg_inv_2s2);
            gy[i] = exp_neg(dy * dy * self.neg_inv_2s2);
        }
        let (mut sx, mut sy) = (0.0f32, 0.0f32);
        for (j, &wy) in gy.iter().enumerate() {
            let (mut rx, mut ry) = (0.0f32, 0.0f32);
            for (i, &wx) in gx.iter().enumerate() {
                rx += wx * self.noise_x[j][i];
                ry += wx * self.noise_y[j][i];
            }
            sx += wy * rx;
            sy += wy * ry;
        }
        // Noise uniform in [-1, 1] has variance 1/3, so the sum's variance here is
        // (1/3) sum(gx^2) sum(gy^2): dividing by its root gives unit variance at every point,
        // also near the lattice's edges.
        let sq = |g: &[f32; NODES]| g.iter().map(|v| v * v).sum::<f32>();
        let var = sq(&gx) * sq(&gy) / 3.0;
        let k = if var > 1e-20 {
            self.amplitude / var.sqrt()
        } else {
            0.0
        };
        Pt::new(sx * k, sy * k)
    }

    /// Displaces every point of `path`.
    pub(crate) fn apply(&self, path: &mut Path) {
        path.map(|p| {
            let d = self.at(p);
            Pt::new(p.x + d.x, p.y + d.y)
        });
    }
}

/// Blurs a `side x side` image in place with the separable kernel `[1, 2, 1] / 4`, treating
/// pixels outside as 0. `scratch` must have the image's length.
pub(crate) fn blur3(img: &mut [f32], scratch: &mut [f32], side: usize) {
    debug_assert!(img.len() == side * side && scratch.len() == img.len());
    let at = |v: &[f32], i: usize, d: isize, limit: usize| {
        let j = i as isize + d;
        if j < 0 || j as usize >= limit {
            0.0
        } else {
            v[j as usize]
        }
    };
    for y in 0..side {
        let row = &img[y * side..(y + 1) * side];
        for x in 0..side {
            scratch[y * side + x] =
                0.25 * at(row, x, -1, side) + 0.5 * row[x] + 0.25 * at(row, x, 1, side);
        }
    }
    for y in 0..side {
        for x in 0..side {
            let up = if y > 0 {
                scratch[(y - 1) * side + x]
            } else {
                0.0
            };
            let down = if y + 1 < side {
                scratch[(y + 1) * side + x]
            } else {
                0.0
            };
            img[y * side + x] = 0.25 * up + 0.5 * scratch[y * side + x] + 0.25 * down;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_has_the_requested_size_and_is_smooth() {
        let mut rng = SampleRng::new(3, 4);
        let f = ElasticField::new(&mut rng, Pt::new(0.0, 0.0), Pt::new(1.0, 1.0), 0.25, 0.05);
        let mut sum2 = 0.0;
        let mut n = 0.0;
        for j in 0..=20 {
            for i in 0..=20 {
                let p = Pt::new(i as f32 / 20.0, j as f32 / 20.0);
                let d = f.at(p);
                let e = f.at(Pt::new(p.x + 1e-3, p.y));
                // Smooth: a 0.001 step moves the displacement by far less than its size.
                assert!((d.x - e.x).abs() < 2e-3 && (d.y - e.y).abs() < 2e-3);
                sum2 += d.x * d.x + d.y * d.y;
                n += 2.0;
            }
        }
        let rms = (sum2 / n as f32).sqrt();
        assert!(rms > 0.01 && rms < 0.15, "rms {rms}");
    }

    #[test]
    fn blur_keeps_the_mass_of_an_inner_dot() {
        let mut img = vec![0.0; 25];
        img[12] = 1.0;
        blur3(&mut img, &mut [0.0; 25], 5);
        assert_eq!(img[12], 0.25);
        assert_eq!(img[7], 0.125);
        assert_eq!(img[6], 0.0625);
        assert!((img.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
