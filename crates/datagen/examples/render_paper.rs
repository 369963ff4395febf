//! Renders the test split of an IDX directory as 200x200 colour PNG photos of notebook paper,
//! to measure how `eval --image` copes with page structure: the same digits, at the same seeded
//! size and place as `render_pages`, on
//!
//! - `plain`: white paper, black ink (the same pixels as `render_pages`);
//! - `ruled`: off-white paper with faint blue-grey or grey lines every 25-35 pixels (1-2
//!   pixels, contrast varying from page to page and line to line, slightly tilted), half the
//!   time a red margin line (sometimes doubled), dust, a lighting gradient and sensor noise;
//!   ink black, blue-black or pencil grey;
//! - `squared`: the same with a grid of faint lines every 18-28 pixels both ways instead.
//!
//! The lines run across the digit, as on a real page.
//!
//! ```text
//! cargo run --release -p datagen --example render_paper -- IDX_DIR OUT_DIR PAPER [SEED]
//! ```
//!
//! Writes `OUT_DIR/NNNN-L.png` (image `NNNN` of the split, label `L`). One seed fixes every
//! page: the digits' size and place come from the same stream as `render_pages`, the paper
//! from a second stream per page.

use std::path::Path;
use std::process::ExitCode;

use datagen::idx::{load_split, Split};
use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[path = "common/placed.rs"]
mod placed;
use placed::{place, PAGE};

/// What the digits are written on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Paper {
    Plain,
    Ruled,
    Squared,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 || args.len() > 4 {
        eprintln!("usage: render_paper IDX_DIR OUT_DIR plain|ruled|squared [SEED]");
        return ExitCode::from(2);
    }
    let paper = match args[2].as_str() {
        "plain" => Paper::Plain,
        "ruled" => Paper::Ruled,
        "squared" => Paper::Squared,
        other => {
            eprintln!("error: unknown paper {other:?} (plain, ruled or squared)");
            return ExitCode::from(2);
        }
    };
    let seed = match args.get(3).map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            eprintln!("error: bad seed: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&args[0], Path::new(&args[1]), paper, seed) {
        Ok(n) => {
            println!("wrote {n} pages to {}", args[1]);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A colour, linear in [0, 1] per channel (reflectance).
type Colour = [f32; 3];

/// One straight line of the paper: `centre(t)` is its position across (a row for a horizontal
/// line) at `t` along it.
#[derive(Debug, Clone, Copy)]
struct Line {
    horizontal: bool,
    /// Position across at the middle of the page.
    at: f32,
    /// Drift across per pixel along.
    slope: f32,
    /// Width in pixels.
    width: f32,
    /// Colour and opacity.
    colour: Colour,
    opacity: f32,
}

impl Line {
    /// How much of the pixel `(px, py)` the line covers (0 to 1).
    fn cover(&self, px: u32, py: u32) -> f32 {
        let (along, across) = if self.horizontal { (px, py) } else { (py, px) };
        let centre = self.at + self.slope * (along as f32 + 0.5 - PAGE as f32 / 2.0);
        let (lo, hi) = (centre - self.width / 2.0, centre + self.width / 2.0);
        let (p0, p1) = (across as f32, across as f32 + 1.0);
        (hi.min(p1) - lo.max(p0)).max(0.0)
    }
}

/// Everything on a page but the digit.
struct Sheet {
    paper: Colour,
    lines: Vec<Line>,
    /// Dust: centre, radius, darkness (0 to 1).
    dust: Vec<(f32, f32, f32, f32)>,
    /// Lighting: brightness falls by `gradient` across the page along `direction`, and by
    /// `vignette` towards the corners.
    gradient: f32,
    direction: f32,
    vignette: f32,
    noise: f32,
    /// The ink's colour and how much texture it has (pencil is grainy).
    pen: Colour,
    grain: f32,
}

fn sheet(paper: Paper, rng: &mut ChaCha8Rng) -> Sheet {
    if paper == Paper::Plain {
        return Sheet {
            paper: [1.0; 3],
            lines: Vec::new(),
            dust: Vec::new(),
            gradient: 0.0,
            direction: 0.0,
            vignette: 0.0,
            noise: 0.0,
            pen: [0.0; 3],
            grain: 0.0,
        };
    }
    let base = rng.random_range(0.88..0.98);
    let paper_colour = [
        base,
        base - rng.random_range(0.0..0.02),
        base - rng.random_range(0.01..0.05),
    ];
    let blue_grey = rng.random_bool(0.6);
    let line_colour = if blue_grey {
        [0.55, 0.68, 0.88]
    } else {
        [0.62, 0.62, 0.62]
    };
    let slope = rng.random_range(-0.015..0.015);
    let contrast: f32 = rng.random_range(0.35..0.8);
    let mut lines = Vec::new();
    let mut rule = |horizontal: bool, spacing: f32, width: (f32, f32), rng: &mut ChaCha8Rng| {
        let offset = rng.random_range(0.0..spacing);
        let mut at = offset - spacing;
        while at < PAGE as f32 + spacing {
            lines.push(Line {
                horizontal,
                at,
                slope: if horizontal { slope } else { -slope },
                width: rng.random_range(width.0..width.1),
                colour: line_colour,
                opacity: (contrast * rng.random_range(0.8..1.2)).min(1.0),
            });
            at += spacing;
        }
    };
    match paper {
        Paper::Ruled => {
            rule(true, rng.random_range(25.0..=35.0), (1.0, 2.0), rng);
            if rng.random_bool(0.5) {
                let x = rng.random_range(15.0..50.0);
                let width = rng.random_range(1.0..2.0);
                let opacity = rng.random_range(0.5..0.9);
                let double = rng.random_bool(0.3);
                for k in 0..(1 + usize::from(double)) {
                    lines.push(Line {
                        horizontal: false,
                        at: x + 4.0 * k as f32,
                        slope: -slope,
                        width,
                        colour: [0.95, 0.42, 0.5],
                        opacity,
                    });
                }
            }
        }
        Paper::Squared => {
            let spacing = rng.random_range(18.0..=28.0);
            rule(true, spacing, (0.8, 1.5), rng);
            rule(false, spacing, (0.8, 1.5), rng);
        }
        Paper::Plain => unreachable!("plain paper returned above"),
    }
    let dust = (0..rng.random_range(3..=20))
        .map(|_| {
            (
                rng.random_range(0.0..PAGE as f32),
                rng.random_range(0.0..PAGE as f32),
                if rng.random_bool(0.15) {
                    rng.random_range(1.0..2.0)
                } else {
                    rng.random_range(0.3..1.0)
                },
                rng.random_range(0.2..0.8),
            )
        })
        .collect();
    let pencil = rng.random_bool(0.3);
    let pen = if pencil {
        let g = rng.random_range(0.3..0.5);
        [g, g, g * 1.02]
    } else if rng.random_bool(0.5) {
        [0.08, 0.1, 0.25]
    } else {
        [0.06, 0.06, 0.06]
    };
    Sheet {
        paper: paper_colour,
        lines,
        dust,
        gradient: rng.random_range(0.05..0.25),
        direction: rng.random_range(0.0..std::f32::consts::TAU),
        vignette: rng.random_range(0.0..0.08),
        noise: rng.random_range(0.004..0.015),
        pen,
        grain: if pencil { 0.25 } else { 0.0 },
    }
}

/// A roughly normal value of mean 0 and deviation 1 (the sum of four uniforms).
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let s: f32 = (0..4).map(|_| rng.random_range(-1.0f32..1.0)).sum();
    s * (3.0f32 / 4.0).sqrt()
}

fn run(
    dir: &str,
    out: &Path,
    paper: Paper,
    seed: u64,
) -> Result<usize, Box<dyn std::error::Error>> {
    let data = load_split(dir, Split::Test)?;
    std::fs::create_dir_all(out)?;
    // The digits' size and place: the same draws, in the same order, as render_pages.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in 0..data.len() {
        let Some(digit) = place(&data, i, &mut rng) else {
            continue;
        };
        let mut prng =
            ChaCha8Rng::seed_from_u64(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let s = sheet(paper, &mut prng);
        let (dx, dy) = (s.direction.cos(), s.direction.sin());
        let page = RgbImage::from_fn(PAGE, PAGE, |px, py| {
            let mut ink = digit.ink(px, py);
            if paper == Paper::Plain {
                let g = datagen::to_byte(1.0 - ink);
                return Rgb([g, g, g]);
            }
            if s.grain > 0.0 && ink > 0.0 {
                ink *= (1.0 - s.grain * prng.random_range(0.0f32..1.0)).max(0.0);
            }
            // Reflectance: paper, then the printed lines, dust and ink on it (each multiplies).
            let mut c = s.paper;
            for line in &s.lines {
                let a = line.cover(px, py) * line.opacity;
                if a > 0.0 {
                    for (ch, lc) in c.iter_mut().zip(line.colour) {
                        *ch *= 1.0 - a * (1.0 - lc);
                    }
                }
            }
            for &(cx, cy, r, dark) in &s.dust {
                let d = ((px as f32 + 0.5 - cx).powi(2) + (py as f32 + 0.5 - cy).powi(2)).sqrt();
                let a = (r + 0.5 - d).clamp(0.0, 1.0) * dark;
                c.iter_mut().for_each(|ch| *ch *= 1.0 - a);
            }
            for (ch, pc) in c.iter_mut().zip(s.pen) {
                *ch *= 1.0 - ink * (1.0 - pc);
            }
            // Light: a gradient across the page and a vignette, then sensor noise.
            let (nx, ny) = (px as f32 / PAGE as f32 - 0.5, py as f32 / PAGE as f32 - 0.5);
            let light = 1.0
                - s.gradient * (0.5 + nx * dx + ny * dy)
                - s.vignette * 2.0 * (nx * nx + ny * ny);
            let noise = s.noise * normal(&mut prng);
            Rgb(c.map(|ch| datagen::to_byte((ch * light + noise).clamp(0.0, 1.0))))
        });
        page.save(out.join(format!("{i:04}-{}.png", data.label(i))))?;
    }
    Ok(data.len())
}
