//! Prints samples of one allograph of one digit as ASCII art, side by side.
//!
//! ```text
//! cargo run --release -p datagen --example forms -- DIGIT FORM [count] [seed]
//! ```
//!
//! One character per pixel: `.` below 0.1, `+` from 0.1, `*` from 0.4, `#` from 0.7.

use datagen::{allographs, sample_allograph_into, IMAGE_LEN, IMAGE_SIDE};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| args.get(i).map_or(Some(default), |s| s.parse().ok());
    let (Some(digit), Some(form), Some(count), Some(seed)) =
        (num(0, 0), num(1, 0), num(2, 6), num(3, 1))
    else {
        eprintln!("usage: forms DIGIT FORM [count] [seed]");
        return ExitCode::FAILURE;
    };
    let digit = (digit % 10) as u8;
    let form = form as usize;
    if form >= allographs(digit) {
        eprintln!("digit {digit} has {} allographs", allographs(digit));
        return ExitCode::FAILURE;
    }
    let images: Vec<Vec<f32>> = (0..count)
        .map(|k| {
            let mut img = vec![0.0; IMAGE_LEN];
            sample_allograph_into(seed, 10 * k + u64::from(digit), digit, form, &mut img);
            img
        })
        .collect();
    for y in 0..IMAGE_SIDE {
        let line: Vec<String> = images
            .iter()
            .map(|img| {
                img[y * IMAGE_SIDE..(y + 1) * IMAGE_SIDE]
                    .iter()
                    .map(|&v| match v {
                        v if v >= 0.7 => '#',
                        v if v >= 0.4 => '*',
                        v if v >= 0.1 => '+',
                        _ => '.',
                    })
                    .collect()
            })
            .collect();
        println!("{}", line.join("  "));
    }
    ExitCode::SUCCESS
}
