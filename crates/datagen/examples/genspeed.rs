//! Times `generate(Style::Strokes, 1, 0, 60000)` and prints images per second (median of 5).
//! `segments` as the argument times `Style::Segments` instead, `nondigits` times
//! `nondigits(1, 0, 60000)`.
//!
//! ```text
//! cargo run --release -p datagen --example genspeed [strokes|segments|nondigits]
//! ```

use datagen::{generate, nondigits, Style};
use std::time::Instant;

fn main() {
    const COUNT: usize = 60_000;
    let what = std::env::args().nth(1).unwrap_or_else(|| "strokes".into());
    let (name, make): (String, Box<dyn Fn() -> datagen::Dataset>) = if what == "nondigits" {
        (
            format!("nondigits(1, 0, {COUNT})"),
            Box::new(|| nondigits(1, 0, COUNT)),
        )
    } else {
        let style: Style = what.parse().unwrap_or_else(|e| {
            eprintln!("genspeed: {e} (or nondigits)");
            std::process::exit(2)
        });
        let name = match style {
            Style::Strokes => "Strokes",
            Style::Segments => "Segments",
            Style::Scanned => "Scanned",
        };
        (
            format!("generate({name}, 1, 0, {COUNT})"),
            Box::new(move || generate(style, 1, 0, COUNT)),
        )
    };
    let threads = rayon::current_num_threads();
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let set = make();
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(set.len(), COUNT);
            COUNT as f64 / secs
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "{name}: {:.0} images/s (median of 5, {threads} threads; min {:.0}, max {:.0})",
        rates[2], rates[0], rates[4]
    );
}
