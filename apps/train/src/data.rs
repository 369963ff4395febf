//! The run's images: made or loaded, checked against the network, split for validation.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use datagen::{idx, Dataset, Style};
use engine::{epoch_order, DataSource, SYNTHETIC_TEST_START};
use nn::ModelSpec;

use crate::settings::Settings;

/// Training, validation and test images.
pub struct Data {
    /// What is trained on.
    pub train: Dataset,
    /// Held out from the training images to choose the epoch, if `--val-fraction`.
    pub val: Option<Dataset>,
    /// What is reported.
    pub test: Dataset,
    /// Where they came from, in words.
    pub description: String,
}

/// Makes or loads the images the settings name and checks them against `spec`.
pub fn load(s: &Settings, spec: &ModelSpec) -> Result<Data> {
    let started = Instant::now();
    let (train, test, description) = match &s.data {
        DataSource::Synthetic => {
            let style: Style = s.style.map_or(Style::Strokes, Style::from);
            let train = datagen::generate(style, s.seed, 0, s.train_size);
            let test = datagen::generate(style, s.seed, SYNTHETIC_TEST_START, s.test_size);
            (
                train,
                test,
                format!("synthetic {style} digits, seed {}", s.seed),
            )
        }
        DataSource::Idx(dir) => {
            let train = idx::load_split(dir, idx::Split::Train)
                .with_context(|| format!("loading training data from {}", dir.display()))?
                .truncated(s.train_size);
            let test = idx::load_split(dir, idx::Split::Test)
                .with_context(|| format!("loading test data from {}", dir.display()))?
                .truncated(s.test_size);
            (train, test, format!("IDX files in {}", dir.display()))
        }
    };
    let classes = s.class_names.len();
    for (what, ds) in [("training", &train), ("test", &test)] {
        if ds.rows() != spec.input[1] || ds.cols() != spec.input[2] {
            bail!(
                "{what} images are {}x{}, the network takes {}x{}",
                ds.rows(),
                ds.cols(),
                spec.input[1],
                spec.input[2]
            );
        }
        if let Some(&l) = ds.labels().iter().find(|&&l| usize::from(l) >= classes) {
            bail!("{what} data has label {l}, the network has {classes} classes");
        }
    }
    let (train, val) = split_validation(train, s.val_fraction, s.seed);
    if s.batch_size > train.len() {
        bail!(
            "--batch-size {} is larger than the {} training images",
            s.batch_size,
            train.len()
        );
    }
    println!(
        "data: {description}: {} training, {} validation and {} test images ({:.2} s)",
        train.len(),
        val.as_ref().map_or(0, Dataset::len),
        test.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(Data {
        train,
        val,
        test,
        description,
    })
}

/// Splits off a validation set: a seeded random `fraction` of the training images.
fn split_validation(train: Dataset, fraction: f64, seed: u64) -> (Dataset, Option<Dataset>) {
    let count = (train.len() as f64 * fraction).round() as usize;
    if count == 0 {
        return (train, None);
    }
    // A shuffle stream of its own (epoch numbers start at 0; this one never collides).
    let order = epoch_order(train.len(), seed, u64::MAX - 1);
    let (val_idx, train_idx) = order.split_at(count);
    let mut val_idx = val_idx.to_vec();
    let mut train_idx = train_idx.to_vec();
    val_idx.sort_unstable();
    train_idx.sort_unstable();
    (train.select(&train_idx), Some(train.select(&val_idx)))
}
