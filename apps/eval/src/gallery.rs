//! `eval --gallery`: synthetic digits per class beside real ones, in ASCII.

use anyhow::{Context, Result};
use datagen::{idx, Style};
use engine::DIGIT_NAMES;
use viz::Panel;

use crate::flags::Cli;

/// Prints, for each digit, `per_class` synthetic digits (the `--style`, default strokes,
/// with `--seed`, default 1) and, with `--data idx:DIR`, the first `per_class` real digits of
/// that class from the directory's test pair.
pub fn run(cli: &Cli, per_class: usize) -> Result<()> {
    let style: Style = cli.style.map_or(Style::Strokes, Style::from);
    let seed = cli.seed.unwrap_or(1);
    let dir = match &cli.data {
        Some(source) => cli::data_dir(source)?,
        None => None,
    };
    let real = match dir {
        None => None,
        Some(dir) => Some(
            idx::load_split(&dir, idx::Split::Test)
                .with_context(|| format!("loading real digits from {}", dir.display()))?,
        ),
    };
    println!(
        "Synthetic {style} digits (seed {seed}){}",
        if real.is_some() {
            " | real digits from the test set"
        } else {
            ""
        }
    );
    for (label, synthetic, reals) in datagen::gallery(style, seed, per_class, real.as_ref()) {
        let name = DIGIT_NAMES[usize::from(label)];
        let mut panels: Vec<Panel<'_>> = synthetic
            .iter()
            .enumerate()
            .map(|(k, img)| Panel::new(if k == 0 { name } else { "" }, img, 28, 28))
            .collect();
        if let Some(r) = &real {
            panels.extend(reals.iter().enumerate().map(|(k, img)| {
                Panel::new(if k == 0 { "| real" } else { "" }, img, r.rows(), r.cols())
            }));
        }
        print!("{}", viz::side_by_side(&panels, 1)?);
        println!();
    }
    Ok(())
}
