//! The run's images: made or loaded, checked against the network, split for validation.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use datagen::{idx, Dataset, Style};
use engine::{epoch_order, SYNTHETIC_TEST_START};
use nn::ModelSpec;

use crate::flags::EpochData;
use crate::settings::Settings;

/// First index of the validation digits held out of a run with fresh images each epoch:
/// a range that training (from 0), the test set (2^32) and the calibration (2^33) do not
/// reach.
const VALIDATION_START: u64 = 3 << 32;

/// The synthetic digits of a run: its style and seed, deskewed as `--deskew` asks.
#[derive(Clone, Copy)]
struct Synthetic {
    style: Style,
    seed: u64,
    /// `--deskew`.
    deskew: f32,
}

impl Synthetic {
    /// Images `start..start + count` of the run's stream, deskewed.
    fn images(&self, start: u64, count: usize) -> Dataset {
        datagen::generate(self.style, self.seed, start, count).deskewed(self.deskew)
    }
}

/// Where a run with `--epoch-data fresh` draws each epoch's images.
struct Fresh {
    source: Synthetic,
    /// Images per epoch.
    count: usize,
}

/// Training, validation and test images.
pub struct Data {
    /// What is trained on (in the epoch `epoch` when fresh images are drawn each epoch).
    pub train: Dataset,
    /// The epoch whose images `train` holds.
    epoch: usize,
    /// Set when each epoch draws new synthetic images.
    fresh: Option<Fresh>,
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
    let val_count = (s.train_size as f64 * s.val_fraction).round() as usize;
    let mut fresh = None;
    let deskew = s.deskew as f32;
    let (train, test, description) = match cli::data_dir(&s.data)? {
        None => {
            let style: Style = s.style.map_or(Style::Strokes, Style::from);
            let source = Synthetic {
                style,
                seed: s.seed,
                deskew,
            };
            let (train, description) = match s.epoch_data {
                EpochData::Same => (
                    source.images(0, s.train_size),
                    format!("synthetic {style} digits, seed {}", s.seed),
                ),
                EpochData::Fresh => {
                    let count = s.train_size - val_count;
                    fresh = Some(Fresh { source, count });
                    (
                        source.images(0, count),
                        format!(
                            "synthetic {style} digits, seed {}, new ones each epoch",
                            s.seed
                        ),
                    )
                }
            };
            let test = source.images(SYNTHETIC_TEST_START, s.test_size);
            (train, test, description)
        }
        Some(dir) => {
            let dir = dir.as_path();
            let train = idx::load_split(dir, idx::Split::Train)
                .with_context(|| format!("loading training data from {}", dir.display()))?
                .truncated(s.train_size)
                .deskewed(deskew);
            let test = idx::load_split(dir, idx::Split::Test)
                .with_context(|| format!("loading test data from {}", dir.display()))?
                .truncated(s.test_size)
                .deskewed(deskew);
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
    let (train, val) = match &fresh {
        None => split_validation(train, s.val_fraction, s.seed),
        Some(f) => (
            train,
            (val_count > 0).then(|| f.source.images(VALIDATION_START, val_count)),
        ),
    };
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
        epoch: 0,
        fresh,
        val,
        test,
        description,
    })
}

impl Data {
    /// Makes `train` hold epoch `epoch`'s images: with `--epoch-data fresh`, images
    /// `epoch * N .. (epoch + 1) * N` of the stream (the previous epoch's are dropped first,
    /// so one epoch's images are held at a time); otherwise nothing changes.
    pub fn use_epoch(&mut self, epoch: usize) {
        let Some(f) = &self.fresh else { return };
        if epoch == self.epoch {
            return;
        }
        let (rows, cols) = (self.train.rows(), self.train.cols());
        self.train =
            Dataset::new(Vec::new(), Vec::new(), rows, cols).expect("an empty dataset is valid");
        let start = (epoch as u64).wrapping_mul(f.count as u64);
        self.train = f.source.images(start, f.count);
        self.epoch = epoch;
    }
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
