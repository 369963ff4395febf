//! Things that are not digits, for teaching a network to say "none of these" (outlier
//! exposure, Hendrycks et al., 2019): scribbles, letter-like stroke shapes, blobs, hatching,
//! several small marks, two digits squeezed together, textured noise and silhouettes of
//! things (garments, shoes, bags), drawn with the same anti-aliased pen and MNIST framing as
//! the digits so that only the shape tells them apart.
//!
//! Every image is a pure function of `(seed, index)`; [`NonDigit::of`] says which kind an
//! index draws (indices cycle through the kinds in twelves).

use std::f32::consts::{PI, TAU};

use rayon::prelude::*;

use crate::dataset::{to_bytes, Dataset};
use crate::frame::{self, CANVAS};
use crate::path::{Knot, Path, Pt};
use crate::render::draw_path;
use crate::rng::{exp, sin_cos, SampleRng};
use crate::{sample_into, Style, IMAGE_LEN, IMAGE_SIDE};

/// The kinds of non-digit, in the order [`NonDigit::of`] cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonDigit {
    /// A tangled random curve.
    Scribble,
    /// A capital or small letter that looks like no digit (A, C, E, F, H, K, M, N, P, R, U,
    /// V, W, X, Y; a, e, f, h, k, m, n, r, t, u, v, w, x, y; a, e, t and C also as printed),
    /// written with jitter and slant.
    Letter,
    /// A filled irregular shape: a very wide pen along a short closed curve.
    Blob,
    /// Parallel or crossed lines (hatching, a grid, a `#`).
    Hatch,
    /// Two to five small separate marks: dots, dashes, little rings.
    Marks,
    /// Two digits side by side, framed together as one picture.
    Pair,
    /// A smooth random texture filling most of the box.
    Noise,
    /// A filled outline with a grey texture (a garment, a shoe, a bag, a random polygon).
    Silhouette,
}

/// How many kinds there are.
pub const KINDS: usize = 8;

/// The kinds in the order indices cycle through them: letters, the hardest to tell from
/// digits, four times in twelve, and silhouettes (the things a photo shows) twice.
const CYCLE: [NonDigit; 12] = [
    NonDigit::Scribble,
    NonDigit::Letter,
    NonDigit::Blob,
    NonDigit::Hatch,
    NonDigit::Letter,
    NonDigit::Marks,
    NonDigit::Pair,
    NonDigit::Silhouette,
    NonDigit::Letter,
    NonDigit::Noise,
    NonDigit::Letter,
    NonDigit::Silhouette,
];

impl NonDigit {
    /// The kind that sample `index` draws (indices cycle through the kinds in twelves: four
    /// letters, two silhouettes and one of each other kind).
    pub fn of(index: u64) -> NonDigit {
        CYCLE[(index % CYCLE.len() as u64) as usize]
    }

    /// Its name in lower case (`"scribble"`, `"letter"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            NonDigit::Scribble => "scribble",
            NonDigit::Letter => "letter",
            NonDigit::Blob => "blob",
            NonDigit::Hatch => "hatch",
            NonDigit::Marks => "marks",
            NonDigit::Pair => "pair",
            NonDigit::Noise => "noise",
            NonDigit::Silhouette => "silhouette",
        }
    }
}

/// Offsets the non-digit streams from the digit streams of the same seed.
const STREAM: u64 = 0x6e6f_6e64_6967_6974; // "nondigit"

/// Draws non-digit `index` of stream `seed` into `out` (784 values in [0, 1], framed like an
/// MNIST digit) and returns its kind.
///
/// # Panics
/// When `out.len() != IMAGE_LEN`.
pub fn nondigit_into(seed: u64, index: u64, out: &mut [f32]) -> NonDigit {
    assert_eq!(out.len(), IMAGE_LEN, "nondigit_into needs a 28x28 buffer");
    let kind = NonDigit::of(index);
    let mut rng = SampleRng::new(seed ^ STREAM, index);
    match kind {
        NonDigit::Pair => pair(&mut rng, seed, index, out),
        NonDigit::Noise => noise(&mut rng, out),
        NonDigit::Silhouette => silhouette(&mut rng, out),
        _ => {
            let mut path = Path::new();
            let (radius_scale, soft) = match kind {
                NonDigit::Scribble => (1.0, rng.range(0.45, 0.6)),
                NonDigit::Letter => (1.0, rng.range(0.45, 0.6)),
                NonDigit::Blob => (rng.range(3.0, 5.0), rng.range(0.5, 1.0)),
                NonDigit::Hatch => (rng.range(0.7, 1.2), rng.range(0.45, 0.6)),
                _ => (rng.range(0.9, 1.4), rng.range(0.45, 0.6)),
            };
            match kind {
                NonDigit::Scribble => scribble(&mut rng, &mut path),
                NonDigit::Letter => letter(&mut rng, &mut path),
                NonDigit::Blob => blob(&mut rng, &mut path),
                NonDigit::Hatch => hatch(&mut rng, &mut path),
                _ => marks(&mut rng, &mut path),
            }
            hand(&mut rng, &mut path);
            let radius = 1.22 * radius_scale * exp(rng.bell(0.23));
            frame::fit(&mut path, radius, soft);
            let mut canvas = [0.0f32; CANVAS * CANVAS];
            let ink = draw_path(&mut canvas, CANVAS, &path, radius, soft);
            frame::centre_into(&canvas, ink, out);
        }
    }
    kind
}

/// Non-digits `start..start + count` of stream `seed` as a [`Dataset`] whose labels are the
/// kinds' numbers (`kind as u8`, 0..[`KINDS`]), drawn in parallel; the bytes are the same for
/// any number of threads.
///
/// # Panics
/// When `count * 784` bytes cannot be allocated.
pub fn nondigits(seed: u64, start: u64, count: usize) -> Dataset {
    let mut images = vec![0u8; count * IMAGE_LEN];
    images
        .par_chunks_mut(IMAGE_LEN)
        .with_min_len(64)
        .enumerate()
        .for_each(|(i, dst)| {
            let mut buf = [0.0f32; IMAGE_LEN];
            nondigit_into(seed, start.wrapping_add(i as u64), &mut buf);
            to_bytes(&buf, dst);
        });
    let labels = (0..count as u64)
        .map(|i| NonDigit::of(start.wrapping_add(i)) as u8)
        .collect();
    Dataset::new(images, labels, IMAGE_SIDE, IMAGE_SIDE)
        .expect("nondigits: image and label counts agree by construction")
}

fn knot(p: Pt, width: f32, sharp: bool) -> Knot {
    Knot { p, width, sharp }
}

/// Flattening density: segments per glyph unit.
const PER_UNIT: f32 = 40.0;

/// One stroke through `pts` (glyph units), each point jittered by up to `jitter`.
fn stroke(rng: &mut SampleRng, path: &mut Path, pts: &[(f32, f32, bool)], jitter: f32) {
    let knots: Vec<Knot> = pts
        .iter()
        .map(|&(x, y, sharp)| {
            let p = Pt::new(x + rng.sym(jitter), y + rng.sym(jitter));
            knot(p, rng.range(0.85, 1.15), sharp)
        })
        .collect();
    path.stroke(&knots, PER_UNIT);
}

/// The writer's slant, rotation and aspect, applied to the whole path (glyph units, about
/// one unit tall).
fn hand(rng: &mut SampleRng, path: &mut Path) {
    let slant = rng.bell(0.2) + 0.15;
    let (sin, cos) = sin_cos(rng.sym(0.3));
    let aspect = rng.range(0.7, 1.4);
    path.map(|p| {
        let x = p.x * aspect + slant * (0.5 - p.y);
        let y = p.y - 0.5;
        Pt::new(cos * x - sin * y, sin * x + cos * y + 0.5)
    });
}

fn scribble(rng: &mut SampleRng, path: &mut Path) {
    let n = 5 + (rng.unit() * 10.0) as usize;
    let mut pts = Vec::with_capacity(n);
    let (mut x, mut y) = (rng.unit(), rng.unit());
    for _ in 0..n {
        pts.push((x, y, rng.chance(0.2)));
        x = (x + rng.sym(0.6)).clamp(0.0, 1.0);
        y = (y + rng.sym(0.6)).clamp(0.0, 1.0);
    }
    stroke(rng, path, &pts, 0.0);
}

fn blob(rng: &mut SampleRng, path: &mut Path) {
    // A short closed curve around a centre: with a pen 3-5 times wider it fills in.
    let n = 5 + (rng.unit() * 4.0) as usize;
    let (rx, ry) = (rng.range(0.1, 0.3), rng.range(0.1, 0.3));
    let phase = rng.range(0.0, TAU);
    let mut pts: Vec<(f32, f32, bool)> = (0..=n)
        .map(|i| {
            let (s, c) = sin_cos(phase + TAU * i as f32 / n as f32);
            let k = rng.range(0.6, 1.3);
            (0.5 + k * rx * c, 0.5 + k * ry * s, false)
        })
        .collect();
    // Close the curve: the last point is the first.
    pts[n] = pts[0];
    stroke(rng, path, &pts, 0.0);
}

fn hatch(rng: &mut SampleRng, path: &mut Path) {
    let lines = 2 + (rng.unit() * 3.0) as usize;
    let crossed = rng.chance(0.6);
    let tilt = rng.sym(0.4);
    for set in 0..1 + usize::from(crossed) {
        for i in 0..lines {
            let t = (i as f32 + 0.5) / lines as f32;
            let (a, b) = if set == 0 {
                ((t + tilt * 0.3, 0.0), (t - tilt * 0.3, 1.0))
            } else {
                ((0.0, t - tilt * 0.3), (1.0, t + tilt * 0.3))
            };
            stroke(rng, path, &[(a.0, a.1, false), (b.0, b.1, false)], 0.04);
        }
    }
}

fn marks(rng: &mut SampleRng, path: &mut Path) {
    let count = 2 + (rng.unit() * 4.0) as usize;
    for _ in 0..count {
        let (cx, cy) = (rng.unit(), rng.unit());
        let r = rng.range(0.03, 0.12);
        match (rng.unit() * 3.0) as usize {
            0 => stroke(rng, path, &[(cx, cy, false)], 0.0),
            1 => {
                let (s, c) = sin_cos(rng.range(0.0, PI));
                stroke(
                    rng,
                    path,
                    &[
                        (cx - r * c, cy - r * s, false),
                        (cx + r * c, cy + r * s, false),
                    ],
                    0.01,
                );
            }
            _ => {
                let ring: Vec<(f32, f32, bool)> = (0..=6)
                    .map(|i| {
                        let (s, c) = sin_cos(TAU * i as f32 / 6.0);
                        (cx + r * c, cy + r * s, false)
                    })
                    .collect();
                stroke(rng, path, &ring, 0.0);
            }
        }
    }
}

/// Strokes of the letters, in a unit box (x to the right, y down), `true` at corners.
type Glyph = &'static [&'static [(f32, f32, bool)]];

const LETTERS: [Glyph; 33] = [
    // A
    &[
        &[(0.0, 1.0, false), (0.35, 0.0, true), (0.7, 1.0, false)],
        &[(0.15, 0.6, false), (0.55, 0.6, false)],
    ],
    // E
    &[
        &[
            (0.6, 0.0, false),
            (0.0, 0.0, true),
            (0.0, 1.0, true),
            (0.6, 1.0, false),
        ],
        &[(0.0, 0.5, false), (0.45, 0.5, false)],
    ],
    // F
    &[
        &[(0.6, 0.0, false), (0.0, 0.0, true), (0.0, 1.0, false)],
        &[(0.0, 0.5, false), (0.45, 0.5, false)],
    ],
    // H
    &[
        &[(0.0, 0.0, false), (0.0, 1.0, false)],
        &[(0.6, 0.0, false), (0.6, 1.0, false)],
        &[(0.0, 0.5, false), (0.6, 0.5, false)],
    ],
    // K
    &[
        &[(0.0, 0.0, false), (0.0, 1.0, false)],
        &[(0.6, 0.0, false), (0.0, 0.55, true), (0.6, 1.0, false)],
    ],
    // M
    &[&[
        (0.0, 1.0, false),
        (0.05, 0.0, true),
        (0.4, 0.7, true),
        (0.75, 0.0, true),
        (0.8, 1.0, false),
    ]],
    // N
    &[&[
        (0.0, 1.0, false),
        (0.0, 0.0, true),
        (0.6, 1.0, true),
        (0.6, 0.0, false),
    ]],
    // P
    &[&[
        (0.0, 1.0, false),
        (0.0, 0.0, true),
        (0.45, 0.05, false),
        (0.55, 0.25, false),
        (0.45, 0.45, false),
        (0.0, 0.5, false),
    ]],
    // R
    &[&[
        (0.0, 1.0, false),
        (0.0, 0.0, true),
        (0.45, 0.05, false),
        (0.55, 0.25, false),
        (0.45, 0.45, false),
        (0.05, 0.5, true),
        (0.6, 1.0, false),
    ]],
    // U
    &[&[
        (0.0, 0.0, false),
        (0.02, 0.7, false),
        (0.3, 1.0, false),
        (0.58, 0.7, false),
        (0.6, 0.0, false),
    ]],
    // V
    &[&[(0.0, 0.0, false), (0.35, 1.0, true), (0.7, 0.0, false)]],
    // W
    &[&[
        (0.0, 0.0, false),
        (0.2, 1.0, true),
        (0.45, 0.35, true),
        (0.7, 1.0, true),
        (0.9, 0.0, false),
    ]],
    // X
    &[
        &[(0.0, 0.0, false), (0.65, 1.0, false)],
        &[(0.65, 0.0, false), (0.0, 1.0, false)],
    ],
    // Y
    &[
        &[(0.0, 0.0, false), (0.33, 0.5, true), (0.33, 1.0, false)],
        &[(0.66, 0.0, false), (0.33, 0.5, false)],
    ],
    // C (open to the right, never closing into a 0 or curling into a 6)
    &[&[
        (0.6, 0.12, false),
        (0.3, 0.0, false),
        (0.02, 0.45, false),
        (0.3, 1.0, false),
        (0.62, 0.88, false),
    ]],
    // a (round body with a stem on the right)
    &[
        &[
            (0.55, 0.45, false),
            (0.25, 0.35, false),
            (0.0, 0.7, false),
            (0.25, 1.0, false),
            (0.55, 0.8, false),
        ],
        &[(0.55, 0.35, false), (0.55, 1.0, false)],
    ],
    // a, as printed: a hook over a bowl, the stem on the right
    &[
        &[
            (0.08, 0.45, false),
            (0.3, 0.35, false),
            (0.52, 0.43, false),
            (0.55, 0.62, false),
            (0.55, 0.95, false),
            (0.62, 1.0, false),
        ],
        &[
            (0.55, 0.64, false),
            (0.18, 0.7, false),
            (0.0, 0.86, false),
            (0.2, 1.0, false),
            (0.55, 0.88, false),
        ],
    ],
    // e, as printed: a straight bar, then round over the top and under
    &[&[
        (0.02, 0.66, false),
        (0.56, 0.66, true),
        (0.5, 0.45, false),
        (0.28, 0.35, false),
        (0.03, 0.52, false),
        (0.05, 0.86, false),
        (0.3, 1.0, false),
        (0.58, 0.9, false),
    ]],
    // t, as printed: a short stem hooking to the right at its foot
    &[
        &[
            (0.2, 0.12, false),
            (0.2, 0.86, false),
            (0.28, 0.99, false),
            (0.42, 1.0, false),
            (0.52, 0.93, false),
        ],
        &[(0.02, 0.36, false), (0.48, 0.36, false)],
    ],
    // t, narrow as in a sans-serif face: a short bar across a tall stem
    &[
        &[
            (0.14, 0.0, false),
            (0.14, 0.88, false),
            (0.2, 0.99, false),
            (0.32, 0.97, false),
        ],
        &[(0.02, 0.3, false), (0.32, 0.3, false)],
    ],
    // C, as printed: its ends curl in
    &[&[
        (0.64, 0.22, false),
        (0.48, 0.03, false),
        (0.22, 0.05, false),
        (0.02, 0.5, false),
        (0.22, 0.96, false),
        (0.48, 1.0, false),
        (0.66, 0.8, false),
    ]],
    // e
    &[&[
        (0.05, 0.68, false),
        (0.55, 0.62, false),
        (0.3, 0.35, false),
        (0.02, 0.7, false),
        (0.3, 1.0, false),
        (0.6, 0.9, false),
    ]],
    // f
    &[
        &[
            (0.55, 0.05, false),
            (0.35, 0.0, false),
            (0.2, 0.2, false),
            (0.2, 1.0, false),
        ],
        &[(0.0, 0.4, false), (0.45, 0.4, false)],
    ],
    // h
    &[
        &[(0.0, 0.0, false), (0.0, 1.0, false)],
        &[
            (0.0, 0.55, false),
            (0.3, 0.38, false),
            (0.5, 0.55, false),
            (0.5, 1.0, false),
        ],
    ],
    // k
    &[
        &[(0.0, 0.0, false), (0.0, 1.0, false)],
        &[(0.45, 0.4, false), (0.0, 0.7, true), (0.5, 1.0, false)],
    ],
    // m
    &[&[
        (0.0, 1.0, false),
        (0.0, 0.4, false),
        (0.2, 0.35, false),
        (0.35, 0.5, false),
        (0.35, 1.0, true),
        (0.35, 0.5, false),
        (0.55, 0.35, false),
        (0.7, 0.5, false),
        (0.7, 1.0, false),
    ]],
    // n
    &[&[
        (0.0, 1.0, false),
        (0.0, 0.4, false),
        (0.25, 0.35, false),
        (0.45, 0.5, false),
        (0.45, 1.0, false),
    ]],
    // r
    &[&[
        (0.0, 1.0, false),
        (0.0, 0.4, false),
        (0.2, 0.35, false),
        (0.45, 0.4, false),
    ]],
    // t
    &[
        &[(0.2, 0.05, false), (0.2, 0.9, false), (0.45, 1.0, false)],
        &[(0.0, 0.35, false), (0.45, 0.35, false)],
    ],
    // u
    &[&[
        (0.0, 0.35, false),
        (0.02, 0.85, false),
        (0.25, 1.0, false),
        (0.48, 0.85, false),
        (0.5, 0.35, true),
        (0.5, 1.0, false),
    ]],
    // w
    &[&[
        (0.0, 0.35, false),
        (0.18, 1.0, true),
        (0.4, 0.55, true),
        (0.62, 1.0, true),
        (0.8, 0.35, false),
    ]],
    // x (small)
    &[
        &[(0.0, 0.35, false), (0.5, 1.0, false)],
        &[(0.5, 0.35, false), (0.0, 1.0, false)],
    ],
    // y
    &[
        &[(0.0, 0.35, false), (0.25, 0.75, false)],
        &[(0.5, 0.35, false), (0.25, 1.05, false), (0.1, 1.25, false)],
    ],
];

fn letter(rng: &mut SampleRng, path: &mut Path) {
    let glyph = LETTERS[((rng.unit() * LETTERS.len() as f32) as usize).min(LETTERS.len() - 1)];
    let jitter = rng.range(0.02, 0.06);
    for s in glyph {
        stroke(rng, path, s, jitter);
    }
}

/// Two digits drawn from the digit stream of `seed` (at indices far from any training or test
/// range), each squeezed to half the width and set side by side.
fn pair(rng: &mut SampleRng, seed: u64, index: u64, out: &mut [f32]) {
    let mut a = [0.0f32; IMAGE_LEN];
    let mut b = [0.0f32; IMAGE_LEN];
    // Indices of their own (label = index % 10), the two labels drawn at random; wrapping
    // past u64::MAX like every other index.
    let base = (3u64 << 40).wrapping_add(index.wrapping_mul(20));
    let (da, db) = (
        (rng.unit() * 10.0) as u64 % 10,
        (rng.unit() * 10.0) as u64 % 10,
    );
    sample_into(Style::Strokes, seed, base.wrapping_add(da), &mut a);
    sample_into(Style::Strokes, seed, base.wrapping_add(10 + db), &mut b);
    let gap = rng.range(-1.0, 3.0);
    let half = (IMAGE_SIDE as f32 - gap) / 2.0;
    out.fill(0.0);
    for y in 0..IMAGE_SIDE {
        for x in 0..IMAGE_SIDE {
            let (src, local) = if (x as f32) < half {
                (&a, x as f32 / half)
            } else {
                (&b, (x as f32 - half - gap).max(0.0) / half)
            };
            // Columns 4..24 hold each digit's ink; squeeze them into the half.
            let sx = (4.0 + local * 20.0).round() as usize;
            if sx < IMAGE_SIDE {
                let v = src[y * IMAGE_SIDE + sx];
                let o = &mut out[y * IMAGE_SIDE + x];
                *o = o.max(v);
            }
        }
    }
}

/// `COLUMN[x] = x as f32`, the column coordinates of an image row.
const COLUMN: [f32; IMAGE_SIDE] = {
    let mut c = [0.0; IMAGE_SIDE];
    let mut x = 0;
    while x < IMAGE_SIDE {
        c[x] = x as f32;
        x += 1;
    }
    c
};

/// Grey texture: a few random bumps summed, stretched to [0, 1], with grain, inside a
/// random box (a patch of fabric, a smudge of pencil, a photo of nothing in particular).
fn noise(rng: &mut SampleRng, out: &mut [f32]) {
    let bumps = 6 + (rng.unit() * 10.0) as usize;
    let centres: Vec<(f32, f32, f32, f32)> = (0..bumps)
        .map(|_| {
            (
                rng.range(4.0, 24.0),
                rng.range(4.0, 24.0),
                rng.range(1.0, 4.0),
                rng.range(-1.0, 1.0),
            )
        })
        .collect();
    let (x0, x1) = (rng.range(4.0, 10.0), rng.range(18.0, 24.0));
    let (y0, y1) = (rng.range(4.0, 10.0), rng.range(18.0, 24.0));
    let grain = rng.range(0.0, 0.3);
    // Each pixel's sum over the bumps, in the bumps' order from the start value of `sum`
    // (the definition, kept bit for bit), computed a bump at a time for all pixels at once.
    let mut field = [std::iter::empty::<f32>().sum::<f32>(); IMAGE_LEN];
    for &(cx, cy, s, a) in &centres {
        let two_s2 = 2.0 * s * s;
        for (y, row) in field.chunks_exact_mut(IMAGE_SIDE).enumerate() {
            let y = y as f32;
            for (&x, f) in COLUMN.iter().zip(row) {
                let d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                *f += a * crate::rng::exp_neg(-d2 / two_s2);
            }
        }
    }
    let (lo, hi) = field
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(1e-6);
    for (i, o) in out.iter_mut().enumerate() {
        let (x, y) = ((i % IMAGE_SIDE) as f32, (i / IMAGE_SIDE) as f32);
        *o = if (x0..=x1).contains(&x) && (y0..=y1).contains(&y) {
            ((field[i] - lo) / span + grain * rng.sym(1.0)).clamp(0.0, 1.0)
        } else {
            0.0
        };
    }
    let peak = out.iter().copied().fold(0.0f32, f32::max);
    if peak > 0.0 {
        out.iter_mut().for_each(|v| *v /= peak);
    } else {
        out[14 * IMAGE_SIDE + 14] = 1.0;
    }
}

/// Outlines of the silhouettes in a unit box (x right, y down).
const OUTLINES: [&[(f32, f32)]; 5] = [
    // T-shirt
    &[
        (0.3, 0.0),
        (0.7, 0.0),
        (1.0, 0.2),
        (0.88, 0.4),
        (0.75, 0.32),
        (0.75, 1.0),
        (0.25, 1.0),
        (0.25, 0.32),
        (0.12, 0.4),
        (0.0, 0.2),
    ],
    // trousers
    &[
        (0.2, 0.0),
        (0.8, 0.0),
        (0.9, 1.0),
        (0.6, 1.0),
        (0.5, 0.3),
        (0.4, 1.0),
        (0.1, 1.0),
    ],
    // dress / pullover body
    &[
        (0.35, 0.0),
        (0.65, 0.0),
        (0.7, 0.3),
        (0.95, 1.0),
        (0.05, 1.0),
        (0.3, 0.3),
    ],
    // shoe
    &[
        (0.0, 0.45),
        (0.35, 0.4),
        (0.55, 0.55),
        (1.0, 0.7),
        (1.0, 0.85),
        (0.0, 0.85),
    ],
    // bag with a handle
    &[
        (0.05, 0.35),
        (0.3, 0.35),
        (0.35, 0.05),
        (0.65, 0.05),
        (0.7, 0.35),
        (0.95, 0.35),
        (0.95, 1.0),
        (0.05, 1.0),
    ],
];

/// Where the edges of `poly` cross the horizontal line at `y`: the `x` of each edge that
/// [`inside`] compares a point of that line with, the same expression. A point `(x, y)` is
/// inside when an odd number of them lie right of `x` (the toggles of [`inside`] counted in
/// any order).
struct Crossings {
    xs: [f32; MAX_CORNERS],
    n: usize,
}

/// Most corners a silhouette has.
const MAX_CORNERS: usize = 16;

impl Crossings {
    fn new(poly: &[(f32, f32)], y: f32) -> Self {
        debug_assert!(poly.len() <= MAX_CORNERS);
        let mut c = Crossings {
            xs: [0.0; MAX_CORNERS],
            n: 0,
        };
        let mut j = poly.len() - 1;
        for i in 0..poly.len() {
            let ((xi, yi), (xj, yj)) = (poly[i], poly[j]);
            if (yi > y) != (yj > y) {
                c.xs[c.n] = (xj - xi) * (y - yi) / (yj - yi) + xi;
                c.n += 1;
            }
            j = i;
        }
        c
    }

    /// [`inside`]`(poly, x, y)` for the `poly` and `y` of [`Crossings::new`].
    fn inside(&self, x: f32) -> bool {
        self.xs[..self.n].iter().filter(|&&cx| x < cx).count() % 2 == 1
    }
}

/// `true` when `(x, y)` is inside the polygon `poly` (even-odd rule).
#[cfg(test)]
fn inside(poly: &[(f32, f32)], x: f32, y: f32) -> bool {
    let mut c = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let ((xi, yi), (xj, yj)) = (poly[i], poly[j]);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            c = !c;
        }
        j = i;
    }
    c
}

/// A filled outline (one of [`OUTLINES`] or a random star-shaped polygon), jittered, narrow
/// or wide, 20 to 27 pixels on its long side, with a grey texture: a level, a gradient,
/// stripes and grain.
fn silhouette(rng: &mut SampleRng, out: &mut [f32]) {
    let mut poly: Vec<(f32, f32)> = if rng.chance(0.7) {
        let o = OUTLINES[((rng.unit() * OUTLINES.len() as f32) as usize).min(OUTLINES.len() - 1)];
        o.iter()
            .map(|&(x, y)| (x + rng.sym(0.05), y + rng.sym(0.05)))
            .collect()
    } else {
        let n = 5 + (rng.unit() * 6.0) as usize;
        (0..n)
            .map(|i| {
                let (s, c) = sin_cos(TAU * i as f32 / n as f32);
                let r = rng.range(0.25, 0.5);
                (0.5 + r * c, 0.5 + r * s)
            })
            .collect()
    };
    // Narrow things (trousers, a dress) as well as wide ones; a thing in a photo often fills
    // more of the frame than a digit's 20 pixels.
    let aspect = rng.range(0.4, 1.3);
    let side = rng.range(20.0, 27.0);
    let (lo_x, hi_x) = poly
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (lo_y, hi_y) = poly
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (w, h) = ((hi_x - lo_x) * aspect, hi_y - lo_y);
    let k = side / w.max(h).max(1e-3);
    for p in &mut poly {
        p.0 = 14.0 + ((p.0 - lo_x) * aspect - w / 2.0) * k;
        p.1 = 14.0 + (p.1 - lo_y - h / 2.0) * k;
    }
    let level = rng.range(0.4, 1.0);
    let (gx, gy) = (rng.sym(0.03), rng.sym(0.03));
    let stripes = rng.chance(0.4);
    let (period, phase) = (rng.range(2.0, 5.0), rng.range(0.0, TAU));
    let grain = rng.range(0.0, 0.2);
    // The two lines of sub-pixel samples of the current row, and where the outline crosses
    // them (the same for every pixel of the row).
    let mut lines: Option<(usize, [Crossings; 2])> = None;
    for (i, o) in out.iter_mut().enumerate() {
        let (x, y) = ((i % IMAGE_SIDE) as f32, (i / IMAGE_SIDE) as f32);
        let row = i / IMAGE_SIDE;
        if lines.as_ref().is_none_or(|(r, _)| *r != row) {
            let line = |dy: f32| Crossings::new(&poly, y + dy);
            lines = Some((row, [line(-0.25), line(0.25)]));
        }
        let (_, [above, below]) = lines.as_ref().expect("set just above");
        // Coverage from 4 sub-pixel samples.
        let cover = [(-0.25, above), (0.25, above), (-0.25, below), (0.25, below)]
            .iter()
            .filter(|&&(dx, line)| line.inside(x + dx))
            .count() as f32
            / 4.0;
        if cover == 0.0 {
            *o = 0.0;
            continue;
        }
        let mut v = level + gx * (x - 14.0) + gy * (y - 14.0) + grain * rng.sym(1.0);
        if stripes {
            v *= 0.75 + 0.25 * sin_cos(y * TAU / period + phase).0;
        }
        *o = (v * cover).clamp(0.0, 1.0);
    }
    let peak = out.iter().copied().fold(0.0f32, f32::max);
    if peak > 0.0 {
        out.iter_mut().for_each(|v| *v /= peak);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::to_byte;

    /// Indices wrap past u64::MAX, as `generate`'s do (the pair kind's digit indices too:
    /// the test profile checks overflow).
    #[test]
    fn nondigits_wrap_past_the_last_index() {
        let mut kinds = std::collections::HashSet::new();
        for index in (u64::MAX - 40)..=u64::MAX {
            let mut a = vec![0.0; IMAGE_LEN];
            kinds.insert(nondigit_into(2, index, &mut a) as u8);
        }
        assert!(kinds.len() > 3, "{kinds:?}");
        assert_eq!(nondigits(2, u64::MAX - 5, 10).len(), 10);
    }

    // See: issue #15
    #[test]
    fn issue_15_nondigits_are_deterministic_per_seed_and_index() {
        for index in 0..30u64 {
            let mut a = vec![0.0; IMAGE_LEN];
            let mut b = vec![0.0; IMAGE_LEN];
            let kind = nondigit_into(5, index, &mut a);
            assert_eq!(kind, NonDigit::of(index));
            nondigit_into(5, index, &mut b);
            assert_eq!(a, b, "{index}");
            let mut c = vec![0.0; IMAGE_LEN];
            nondigit_into(6, index, &mut c);
            assert_ne!(a, c, "{index}: seeds 5 and 6 draw the same");
            assert!(a.iter().all(|v| (0.0..=1.0).contains(v)), "{index}");
            assert!(
                a.iter().any(|&v| v > 0.5),
                "{index} ({}) is empty",
                kind.name()
            );
        }
        let set = nondigits(5, 0, 20);
        let mut again = vec![0.0; IMAGE_LEN];
        nondigit_into(5, 13, &mut again);
        let bytes: Vec<u8> = again.iter().map(|&v| to_byte(v)).collect();
        assert_eq!(set.image(13), &bytes[..]);
        assert_eq!(set.labels()[19], NonDigit::Silhouette as u8);
        // Every kind is drawn.
        for kind in 0..KINDS as u8 {
            assert!(set.labels().contains(&kind), "kind {kind} never drawn");
        }
    }

    #[test]
    fn crossings_tell_inside_as_the_polygon_test_does() {
        let mut rng = SampleRng::new(4, 4);
        for case in 0..300 {
            let n = 3 + (rng.unit() * 13.0) as usize;
            // Random polygons, also self-crossing ones, with corners on sample lines.
            let poly: Vec<(f32, f32)> = (0..n)
                .map(|_| {
                    let snap = |v: f32| {
                        if case % 3 == 0 {
                            (v * 4.0).round() / 4.0
                        } else {
                            v
                        }
                    };
                    (snap(rng.range(0.0, 28.0)), snap(rng.range(0.0, 28.0)))
                })
                .collect();
            for k in 0..28 * 4 {
                let y = k as f32 * 0.25 - 0.125 * (case % 2) as f32;
                let line = Crossings::new(&poly, y);
                for m in 0..28 * 4 {
                    let x = m as f32 * 0.25 + rng.sym(0.1) * (case % 2) as f32;
                    assert_eq!(line.inside(x), inside(&poly, x, y), "{case}: {x}, {y}");
                }
            }
        }
    }

    #[test]
    fn every_letter_draws_a_framed_shape() {
        for index in 0..200u64 {
            let mut rng = SampleRng::new(1, index);
            let mut path = Path::new();
            letter(&mut rng, &mut path);
            hand(&mut rng, &mut path);
            let (lo, hi) = path.bounds().unwrap();
            assert!(hi.y - lo.y > 0.3 && hi.x - lo.x > 0.1, "{index}");
        }
    }
}
