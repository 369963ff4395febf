//! Prints generated digits as ASCII art, a row of samples per class; in gallery mode, each row
//! of synthetic digits sits above a row of real ones from an MNIST-format (IDX) directory.
//!
//! ```text
//! cargo run --release -p datagen --example preview -- [segments|strokes] [count] [seed]
//! cargo run --release -p datagen --example preview -- gallery [segments|strokes] [IDX_DIR|-] [count] [seed]
//! ```
//!
//! The gallery reads the directory's test pair (`t10k-images-idx3-ubyte`,
//! `t10k-labels-idx1-ubyte`, plain or `.gz`); without a directory (or with `-` in its place) it
//! shows synthetic rows only.
//! One character per pixel: `.` below 0.1, `+` from 0.1, `*` from 0.4, `#` from 0.7.

use datagen::idx::{self, Split};
use datagen::{gallery, Style};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gallery") => run_gallery(&args[1..]),
        _ => run_preview(&args),
    };
    match result {
        Ok(text) => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `[style] [count] [seed]`: rows of synthetic digits only.
fn run_preview(args: &[String]) -> Result<String, String> {
    let style = parse_style(args.first())?;
    let count = number(args.get(1), 4)?;
    let seed = number(args.get(2), 1)?;
    let mut out = format!("style {style}, seed {seed}, {count} per class\n");
    for (_, synthetic, _) in gallery(style, seed, count as usize, None) {
        out.push('\n');
        push_row(&mut out, &synthetic, 28);
    }
    Ok(out)
}

/// `[style] [dir] [count] [seed]`: per class, synthetic digits above real ones.
fn run_gallery(args: &[String]) -> Result<String, String> {
    let style = parse_style(args.first())?;
    let real = args
        .get(1)
        .filter(|dir| dir.as_str() != "-")
        .map(|dir| idx::load_split(dir, Split::Test).map_err(|e| e.to_string()))
        .transpose()?;
    let count = number(args.get(2), 8)?;
    let seed = number(args.get(3), 1)?;
    let cols = real.as_ref().map_or(28, |r| r.cols());
    let mut out = format!(
        "style {style}, seed {seed}, {count} per class{}\n",
        if real.is_some() {
            ": synthetic (top) and real (bottom)"
        } else {
            ""
        }
    );
    for (label, synthetic, real_images) in gallery(style, seed, count as usize, real.as_ref()) {
        let _ = writeln!(out, "\ndigit {label}, synthetic");
        push_row(&mut out, &synthetic, 28);
        if real.is_some() {
            let _ = writeln!(out, "digit {label}, real");
            push_row(&mut out, &real_images, cols);
        }
    }
    Ok(out)
}

fn parse_style(arg: Option<&String>) -> Result<Style, String> {
    arg.map_or(Ok(Style::default()), |s| {
        s.parse::<Style>().map_err(|e| e.to_string())
    })
}

fn number(arg: Option<&String>, default: u64) -> Result<u64, String> {
    arg.map_or(Ok(default), |s| {
        s.parse::<u64>()
            .map_err(|e| format!("bad number {s:?}: {e}"))
    })
}

/// Appends images of `cols` pixels per row side by side, two spaces apart.
fn push_row(out: &mut String, images: &[Vec<f32>], cols: usize) {
    let rows = images.first().map_or(0, |img| img.len() / cols.max(1));
    for y in 0..rows {
        let line: Vec<String> = images
            .iter()
            .map(|img| {
                img[y * cols..(y + 1) * cols]
                    .iter()
                    .map(|&v| ramp(v))
                    .collect()
            })
            .collect();
        out.push_str(&line.join("  "));
        out.push('\n');
    }
}

fn ramp(v: f32) -> char {
    match v {
        v if v >= 0.7 => '#',
        v if v >= 0.4 => '*',
        v if v >= 0.1 => '+',
        _ => '.',
    }
}
