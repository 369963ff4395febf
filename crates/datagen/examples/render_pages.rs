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
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[path = "common/placed.rs"]
mod placed;
use placed::{place, PAGE};

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
    for i in 0..data.len() {
        let Some(digit) = place(&data, i, &mut rng) else {
            continue;
        };
        let page = GrayImage::from_fn(PAGE, PAGE, |px, py| {
            Luma([datagen::to_byte(1.0 - digit.ink(px, py))])
        });
        page.save(out.join(format!("{i:04}-{}.png", data.label(i))))?;
    }
    Ok(data.len())
}
