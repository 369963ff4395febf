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

/// Path points displaced together (see [`ElasticField::at_lanes`]).
const LANES: usize = 8;

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
    #[cfg(test)]
    pub(crate) fn at(&self, p: Pt) -> Pt {
        let (dx, dy) = self.at_lanes(&[p.x; LANES], &[p.y; LANES]);
        Pt::new(dx[0], dy[0])
    }

    /// The displacements at [`LANES`] points at once: lane `l` of the result is the
    /// displacement at `(xs[l], ys[l])`.
    ///
    /// Each lane does the plain computation with every operation in its order (written as
    /// loops over the lanes so that the compiler computes the lanes together).
    // Indices, not iterators: every loop walks several arrays by the same node or lane.
    #[allow(clippy::needless_range_loop)]
    fn at_lanes(&self, xs: &[f32; LANES], ys: &[f32; LANES]) -> ([f32; LANES], [f32; LANES]) {
        let mut gx = [[0.0f32; LANES]; NODES];
        let mut gy = [[0.0f32; LANES]; NODES];
        for i in 0..NODES {
            let node_x = self.origin.x + i as f32 * self.step.x;
            let node_y = self.origin.y + i as f32 * self.step.y;
            for l in 0..LANES {
                let dx = xs[l] - node_x;
                let dy = ys[l] - node_y;
                gx[i][l] = exp_neg(dx * dx * self.neg_inv_2s2);
                gy[i][l] = exp_neg(dy * dy * self.neg_inv_2s2);
            }
        }
        let (mut sx, mut sy) = ([0.0f32; LANES], [0.0f32; LANES]);
        for j in 0..NODES {
            let (mut rx, mut ry) = ([0.0f32; LANES], [0.0f32; LANES]);
            for i in 0..NODES {
                let (nx, ny) = (self.noise_x[j][i], self.noise_y[j][i]);
                for l in 0..LANES {
                    rx[l] += gx[i][l] * nx;
                    ry[l] += gx[i][l] * ny;
                }
            }
            for l in 0..LANES {
                sx[l] += gy[j][l] * rx[l];
                sy[l] += gy[j][l] * ry[l];
            }
        }
        // Noise uniform in [-1, 1] has variance 1/3, so the sum's variance here is
        // (1/3) sum(gx^2) sum(gy^2): dividing by its root gives unit variance at every point,
        // also near the lattice's edges. (The sums of squares start from +0.0 where `sum`
        // starts from -0.0: the same, since every square is +0.0 or more.)
        let (mut qx, mut qy) = ([0.0f32; LANES], [0.0f32; LANES]);
        for i in 0..NODES {
            for l in 0..LANES {
                qx[l] += gx[i][l] * gx[i][l];
                qy[l] += gy[i][l] * gy[i][l];
            }
        }
        for l in 0..LANES {
            let var = qx[l] * qy[l] / 3.0;
            // Computed in every lane, kept where the variance is not negligible.
            let scale = self.amplitude / var.sqrt();
            let k = if var > 1e-20 { scale } else { 0.0 };
            sx[l] *= k;
            sy[l] *= k;
        }
        (sx, sy)
    }

    /// Displaces every point of `path`, [`LANES`] points at a time.
    pub(crate) fn apply(&self, path: &mut Path) {
        for chunk in path.pts[..path.len].chunks_mut(LANES) {
            let (mut xs, mut ys) = ([0.0f32; LANES], [0.0f32; LANES]);
            for (l, p) in chunk.iter().enumerate() {
                (xs[l], ys[l]) = (p.x, p.y);
            }
            let (dx, dy) = self.at_lanes(&xs, &ys);
            for (l, p) in chunk.iter_mut().enumerate() {
                *p = Pt::new(p.x + dx[l], p.y + dy[l]);
            }
        }
    }
}

/// Blurs a `side x side` image in place with the separable kernel `[1, 2, 1] / 4`, treating
/// pixels outside as 0. `scratch` must have the image's length.
///
/// Each pixel is `0.25 * before + 0.5 * centre + 0.25 * after` in that order, a missing
/// neighbour at the border taken as 0.0 (as [`blur3_reference`] in the tests writes it); the
/// border pixels are done on their own so that the compiler computes the others many at once.
pub(crate) fn blur3(img: &mut [f32], scratch: &mut [f32], side: usize) {
    debug_assert!(img.len() == side * side && scratch.len() == img.len());
    let mix = |before: f32, centre: f32, after: f32| 0.25 * before + 0.5 * centre + 0.25 * after;
    if side == 0 {
        return;
    }
    for (src, dst) in img.chunks_exact(side).zip(scratch.chunks_exact_mut(side)) {
        if side == 1 {
            dst[0] = mix(0.0, src[0], 0.0);
            continue;
        }
        dst[0] = mix(0.0, src[0], src[1]);
        for (d, w) in dst[1..side - 1].iter_mut().zip(src.windows(3)) {
            *d = mix(w[0], w[1], w[2]);
        }
        dst[side - 1] = mix(src[side - 2], src[side - 1], 0.0);
    }
    for y in 0..side {
        let centre = &scratch[y * side..(y + 1) * side];
        let dst = &mut img[y * side..(y + 1) * side];
        let up = (y > 0).then(|| &scratch[(y - 1) * side..y * side]);
        let down = (y + 1 < side).then(|| &scratch[(y + 1) * side..(y + 2) * side]);
        match (up, down) {
            (Some(up), Some(down)) => {
                for x in 0..side {
                    dst[x] = mix(up[x], centre[x], down[x]);
                }
            }
            (None, Some(down)) => {
                for x in 0..side {
                    dst[x] = mix(0.0, centre[x], down[x]);
                }
            }
            (Some(up), None) => {
                for x in 0..side {
                    dst[x] = mix(up[x], centre[x], 0.0);
                }
            }
            (None, None) => {
                for x in 0..side {
                    dst[x] = mix(0.0, centre[x], 0.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::Knot;

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

    /// The displacement as first written, one point at a time (with `exp_neg` as it is,
    /// which its own tests hold to its plain definition).
    fn at_reference(f: &ElasticField, p: Pt) -> Pt {
        let mut gx = [0.0f32; NODES];
        let mut gy = [0.0f32; NODES];
        for i in 0..NODES {
            let dx = p.x - (f.origin.x + i as f32 * f.step.x);
            let dy = p.y - (f.origin.y + i as f32 * f.step.y);
            gx[i] = exp_neg(dx * dx * f.neg_inv_2s2);
            gy[i] = exp_neg(dy * dy * f.neg_inv_2s2);
        }
        let (mut sx, mut sy) = (0.0f32, 0.0f32);
        for (j, &wy) in gy.iter().enumerate() {
            let (mut rx, mut ry) = (0.0f32, 0.0f32);
            for (i, &wx) in gx.iter().enumerate() {
                rx += wx * f.noise_x[j][i];
                ry += wx * f.noise_y[j][i];
            }
            sx += wy * rx;
            sy += wy * ry;
        }
        let sq = |g: &[f32; NODES]| g.iter().map(|v| v * v).sum::<f32>();
        let var = sq(&gx) * sq(&gy) / 3.0;
        let k = if var > 1e-20 {
            f.amplitude / var.sqrt()
        } else {
            0.0
        };
        Pt::new(sx * k, sy * k)
    }

    #[test]
    fn lanes_bend_every_point_as_the_plain_field_does() {
        for index in 0..200 {
            let mut rng = SampleRng::new(8, index);
            let lo = Pt::new(rng.sym(1.0), rng.sym(1.0));
            let hi = Pt::new(lo.x + rng.range(0.0, 2.0), lo.y + rng.range(0.0, 2.0));
            let (sigma, amplitude) = (rng.range(0.05, 0.6), rng.range(0.0, 0.2));
            let f = ElasticField::new(&mut rng, lo, hi, sigma, amplitude);
            // Paths of every length around a multiple of the lanes, points inside and far
            // outside the field (where the weights vanish).
            let mut path = Path::new();
            let n = (index as usize * 7) % 40;
            for _ in 0..n {
                let p = Pt::new(rng.range(-3.0, 3.0), rng.range(-3.0, 3.0));
                path.stroke(
                    &[Knot {
                        p,
                        width: 1.0,
                        sharp: false,
                    }],
                    1.0,
                );
            }
            let before: Vec<Pt> = path.points().to_vec();
            f.apply(&mut path);
            for (k, (&p, &q)) in before.iter().zip(path.points()).enumerate() {
                let d = at_reference(&f, p);
                let want = Pt::new(p.x + d.x, p.y + d.y);
                assert_eq!(
                    (q.x.to_bits(), q.y.to_bits()),
                    (want.x.to_bits(), want.y.to_bits()),
                    "field {index}, point {k}"
                );
            }
        }
    }

    /// The blur as first written, a pixel at a time.
    fn blur3_reference(img: &mut [f32], scratch: &mut [f32], side: usize) {
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

    #[test]
    fn blur_is_the_reference_bit_for_bit() {
        let mut rng = SampleRng::new(6, 1);
        for side in [0, 1, 2, 3, 5, 28, 31] {
            for _ in 0..20 {
                let img: Vec<f32> = (0..side * side).map(|_| rng.sym(2.0)).collect();
                let (mut fast, mut plain) = (img.clone(), img);
                blur3(&mut fast, &mut vec![0.0; side * side], side);
                blur3_reference(&mut plain, &mut vec![0.0; side * side], side);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&plain), "side {side}");
            }
        }
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
