//! The Go demo's style: a seven-segment digit of bright straight strokes on a faint noisy
//! background, lightly blurred and stretched to [0, 1].

use crate::path::{Knot, Path, Pt};
use crate::render::draw_path;
use crate::rng::SampleRng;
use crate::warp::blur3;
use crate::{IMAGE_LEN, IMAGE_SIDE};

/// Segment ends in a unit box, `x` in 0..=1 and `y` in 0..=2 (top to bottom):
/// a top, b top right, c bottom right, d bottom, e bottom left, f top left, g middle.
const SEGMENTS: [((f32, f32), (f32, f32)); 7] = [
    ((0.0, 0.0), (1.0, 0.0)),
    ((1.0, 0.0), (1.0, 1.0)),
    ((1.0, 1.0), (1.0, 2.0)),
    ((0.0, 2.0), (1.0, 2.0)),
    ((0.0, 1.0), (0.0, 2.0)),
    ((0.0, 0.0), (0.0, 1.0)),
    ((0.0, 1.0), (1.0, 1.0)),
];

/// Which segments each digit lights, as bits a..g from the lowest.
const DIGITS: [u8; 10] = [
    0b011_1111, // 0: a b c d e f
    0b000_0110, // 1: b c
    0b101_1011, // 2: a b d e g
    0b100_1111, // 3: a b c d g
    0b110_0110, // 4: b c f g
    0b110_1101, // 5: a c d f g
    0b111_1101, // 6: a c d e f g
    0b000_0111, // 7: a b c
    0b111_1111, // 8: all
    0b110_1111, // 9: a b c d f g
];

/// Draws `label` in the seven-segment style into `out` (784 values).
pub(crate) fn draw(rng: &mut SampleRng, label: u8, out: &mut [f32]) {
    // The box around the middle, jittered a little per sample.
    let left = 9.0 + rng.sym(1.5);
    let top = 5.0 + rng.sym(1.5);
    let w = 9.0 + rng.sym(1.5);
    let h = 9.0 + rng.sym(1.0);
    let mut path = Path::new();
    let bits = DIGITS[usize::from(label % 10)];
    for (i, &((x0, y0), (x1, y1))) in SEGMENTS.iter().enumerate() {
        if bits & (1 << i) == 0 {
            continue;
        }
        let mut end = |x: f32, y: f32| Knot {
            p: Pt::new(left + x * w + rng.sym(0.7), top + y * h + rng.sym(0.7)),
            width: 1.0,
            sharp: false,
        };
        let knots = [end(x0, y0), end(x1, y1)];
        path.stroke(&knots, 1.0);
    }
    let radius = rng.range(0.8, 1.2);
    out.fill(0.0);
    draw_path(out, IMAGE_SIDE, &path, radius, 0.5);
    for v in out.iter_mut() {
        *v += 0.05 * rng.unit();
    }
    let mut scratch = [0.0f32; IMAGE_LEN];
    blur3(out, &mut scratch, IMAGE_SIDE);
    let (lo, hi) = min_max(out);
    let k = if hi > lo { 1.0 / (hi - lo) } else { 0.0 };
    for v in out.iter_mut() {
        *v = ((*v - lo) * k).clamp(0.0, 1.0);
    }
}

/// `(min, max)` of `values` (infinite for none), as a fold with `f32::min` and `f32::max`
/// gives them, computed in 8 lanes. Exact: for values that are neither NaN nor -0.0 (these
/// are sums of products of non-negative values with +0.0 and positive numbers), the minimum
/// and maximum do not depend on the order they are taken in.
fn min_max(values: &[f32]) -> (f32, f32) {
    debug_assert!(values
        .iter()
        .all(|v| !v.is_nan() && v.to_bits() != (-0.0f32).to_bits()));
    let mut lo = [f32::INFINITY; 8];
    let mut hi = [f32::NEG_INFINITY; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for l in 0..8 {
            lo[l] = lo[l].min(chunk[l]);
            hi[l] = hi[l].max(chunk[l]);
        }
    }
    let fold = |(a, b): (f32, f32), &v: &f32| (a.min(v), b.max(v));
    let lanes = lo
        .iter()
        .zip(&hi)
        .fold((f32::INFINITY, f32::NEG_INFINITY), |acc, (&l, &h)| {
            (acc.0.min(l), acc.1.max(h))
        });
    chunks.remainder().iter().fold(lanes, fold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_is_the_plain_fold() {
        let mut rng = SampleRng::new(1, 5);
        for n in [0, 1, 7, 8, 9, 100, 784] {
            let v: Vec<f32> = (0..n)
                .map(|_| {
                    if rng.chance(0.2) {
                        0.0
                    } else {
                        rng.range(0.0, 3.0)
                    }
                })
                .collect();
            let plain = v
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                });
            let got = min_max(&v);
            assert_eq!(
                (got.0.to_bits(), got.1.to_bits()),
                (plain.0.to_bits(), plain.1.to_bits())
            );
        }
    }
}
