//! Renders the test split of an IDX directory as 200x200 dark-on-light PNG pages, each digit at
//! a seeded random height (40 to 180 pixels of ink) and position, to check that `eval --image`
//! recovers what the network sees in the original 28x28 images.
//!
//! ```text
//! cargo run --release -p datagen --example render_pages -- IDX_DIR OUT_DIR [SEED]
//! ```
//!
//! Writes `OUT_DIR/NNNN-L.png` (image `NNNN` of the split, label `L`). Scaling is bilinear, so
//! the pages look like a scan of a digit written at that size, not like big square pixels.

use std::path::PathBuf;
use std::process::ExitCode;

use datagen::idx::{load_split, Split};
use image::{GrayImage, Luma};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Side of a page in pixels.
const PAGE: u32 = 200;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: render_pages IDX_DIR OUT_DIR [SEED]");
        return ExitCode::from(2);
    }
    let seed = match args.get(2).map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            eprintln!("error: bad seed: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&args[0], &PathBuf::from(&args[1]), seed) {
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

fn run(dir: &str, out: &PathBuf, seed: u64) -> Result<usize, Box<dyn std::error::Error>> {
    let data = load_split(dir, Split::Test)?;
    std::fs::create_dir_all(out)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (rows, cols) = (data.rows(), data.cols());
    for i in 0..data.len() {
        let img = data.image_f32(i);
        // The ink's box (pixels > 0) in the 28x28 image.
        let ink: Vec<(usize, usize)> = (0..rows * cols)
            .filter(|&p| img[p] > 0.0)
            .map(|p| (p % cols, p / cols))
            .collect();
        if ink.is_empty() {
            continue;
        }
        let x0 = ink.iter().map(|p| p.0).min().unwrap_or(0) as f32;
        let x1 = ink.iter().map(|p| p.0).max().unwrap_or(0) as f32 + 1.0;
        let y0 = ink.iter().map(|p| p.1).min().unwrap_or(0) as f32;
        let y1 = ink.iter().map(|p| p.1).max().unwrap_or(0) as f32 + 1.0;
        // Ink height 40..=180 pixels; a box wider than tall is capped to fit the page.
        let height: f32 = rng.random_range(40..=180) as f32;
        let k = (height / (y1 - y0)).min(180.0 / (x1 - x0));
        let left = rng.random_range(0.0..=(PAGE as f32 - k * (x1 - x0)).max(0.0)) - k * x0;
        let top = rng.random_range(0.0..=(PAGE as f32 - k * (y1 - y0)).max(0.0)) - k * y0;
        let at = |x: isize, y: isize| -> f32 {
            if (0..cols as isize).contains(&x) && (0..rows as isize).contains(&y) {
                img[y as usize * cols + x as usize]
            } else {
                0.0
            }
        };
        let page = GrayImage::from_fn(PAGE, PAGE, |px, py| {
            // Pixel centres map to source coordinates; bilinear between source pixel centres.
            let u = (px as f32 + 0.5 - left) / k - 0.5;
            let v = (py as f32 + 0.5 - top) / k - 0.5;
            let (ux, vy) = (u.floor(), v.floor());
            let (fx, fy) = (u - ux, v - vy);
            let (ux, vy) = (ux as isize, vy as isize);
            let t = at(ux, vy) * (1.0 - fx) + at(ux + 1, vy) * fx;
            let b = at(ux, vy + 1) * (1.0 - fx) + at(ux + 1, vy + 1) * fx;
            let ink = t * (1.0 - fy) + b * fy;
            Luma([datagen::to_byte(1.0 - ink)])
        });
        page.save(out.join(format!("{i:04}-{}.png", data.label(i))))?;
    }
    Ok(data.len())
}
