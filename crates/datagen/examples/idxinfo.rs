//! Summarises a directory of MNIST-format (IDX) files: for each split, the files found, the
//! image count and size, the images per class and how long loading took.
//!
//! ```text
//! cargo run --release -p datagen --example idxinfo -- /usr/share/datasets/fashion-mnist
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use datagen::idx::{self, Split};

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [dir] = args.as_slice() else {
        eprintln!(
            "usage: idxinfo DIR   (a directory with the t10k pair and optionally the train pair)"
        );
        return ExitCode::from(2);
    };
    let mut status = ExitCode::SUCCESS;
    for split in [Split::Train, Split::Test] {
        if let Err(err) = describe(dir, split) {
            eprintln!("idxinfo: {err}");
            status = ExitCode::FAILURE;
        }
    }
    status
}

fn describe(dir: &Path, split: Split) -> datagen::Result<()> {
    let Some((images, labels)) = idx::find_split(dir, split)? else {
        if split == Split::Test {
            // The test pair is required: let the loader word the error.
            idx::load_split(dir, split)?;
        }
        println!("{}: no files", split.prefix());
        return Ok(());
    };
    let start = Instant::now();
    let data = idx::load_pair(&images, &labels)?;
    let elapsed = start.elapsed();
    let mean = data.images().iter().map(|&p| u64::from(p)).sum::<u64>() as f64
        / data.images().len() as f64
        / 255.0;
    println!("{}:", split.prefix());
    println!("  images  {}", images.display());
    println!("  labels  {}", labels.display());
    println!(
        "  {} images of {}x{}, mean pixel {mean:.4}, loaded in {:.1} ms",
        data.len(),
        data.rows(),
        data.cols(),
        elapsed.as_secs_f64() * 1e3
    );
    let counts = data.class_counts(idx::CLASSES);
    let counts: Vec<String> = counts
        .iter()
        .enumerate()
        .map(|(class, n)| format!("{class}:{n}"))
        .collect();
    println!("  per class  {}", counts.join(" "));
    Ok(())
}
