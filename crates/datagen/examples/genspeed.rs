//! Times `generate(Style::Strokes, 1, 0, 60000)` and prints images per second (median of 5).
//!
//! ```text
//! cargo run --release -p datagen --example genspeed
//! ```

use datagen::{generate, Style};
use std::time::Instant;

fn main() {
    const COUNT: usize = 60_000;
    let threads = rayon::current_num_threads();
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let set = generate(Style::Strokes, 1, 0, COUNT);
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(set.len(), COUNT);
            COUNT as f64 / secs
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "generate(Strokes, 1, 0, {COUNT}): {:.0} images/s (median of 5, {threads} threads; \
         min {:.0}, max {:.0})",
        rates[2], rates[0], rates[4]
    );
}
