//! Checkpoints: everything needed to continue a run exactly where it stopped.

use std::path::Path;

use anyhow::{bail, Context, Result};
use nn::{OptimizerState, SavedModel};
use serde::{Deserialize, Serialize};

use crate::report::EpochRecord;
use crate::settings::Settings;

/// The checkpoint format this build writes and reads.
pub const CHECKPOINT_VERSION: u32 = 2;

/// The best epoch so far when a validation split chooses the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Best {
    /// 1-based epoch.
    pub epoch: usize,
    /// Its validation accuracy.
    pub val_accuracy: f32,
    /// Its test accuracy (reported, never used to choose).
    pub test_accuracy: f32,
    /// Its parameters.
    pub model: SavedModel,
}

/// A training run frozen between two steps.
///
/// Every random draw of a run is keyed by the seed and the epoch, step or sample number
/// (shuffle order, dropout masks, augmentation), so the position in the run is the whole
/// random state: `epoch` and `step` say where to continue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// [`CHECKPOINT_VERSION`].
    pub checkpoint_version: u32,
    /// The run's settings; `--resume` alone restores them.
    pub settings: Settings,
    /// 0-based epoch to continue in.
    pub epoch: usize,
    /// Steps of that epoch already done.
    pub step: usize,
    /// Parameters and spec.
    pub model: SavedModel,
    /// Optimiser settings and running state.
    pub optimizer: OptimizerState,
    /// The model chosen so far by validation, if a validation split is used.
    pub best: Option<Best>,
    /// Test accuracy after the last completed epoch.
    pub last_test_accuracy: Option<f32>,
    /// The completed epochs' figures.
    pub history: Vec<EpochRecord>,
    /// The running sums of the epoch stopped part-way (absent at an epoch's start), so that
    /// its figures come out as an uninterrupted run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<PartialEpoch>,
}

/// [`engine::EpochSums`] in a checkpoint; the loss sum as its bits, so it reads back exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PartialEpoch {
    /// `f64::to_bits` of the loss sum.
    pub loss_sum_bits: u64,
    /// Images the loss sum is over.
    pub seen: usize,
    /// Dataset images classified correctly.
    pub correct: usize,
    /// Dataset images done.
    pub done: usize,
}

impl From<engine::EpochSums> for PartialEpoch {
    fn from(s: engine::EpochSums) -> Self {
        Self {
            loss_sum_bits: s.loss_sum.to_bits(),
            seen: s.seen,
            correct: s.correct,
            done: s.done,
        }
    }
}

impl From<PartialEpoch> for engine::EpochSums {
    fn from(p: PartialEpoch) -> Self {
        Self {
            loss_sum: f64::from_bits(p.loss_sum_bits),
            seen: p.seen,
            correct: p.correct,
            done: p.done,
        }
    }
}

impl Checkpoint {
    /// Reads the checkpoint at `path`.
    ///
    /// # Errors
    /// One line naming the file: unreadable, not a checkpoint (a model file says so), or of
    /// another format version.
    pub fn read(path: &Path) -> Result<Self> {
        let what = || format!("reading checkpoint {}", path.display());
        let text = std::fs::read_to_string(path).with_context(what)?;
        let value: serde_json::Value = serde_json::from_str(&text).with_context(what)?;
        match value.get("checkpoint_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(CHECKPOINT_VERSION) => {}
            Some(v) => bail!(
                "checkpoint {} has format version {v}, this build reads {CHECKPOINT_VERSION}",
                path.display()
            ),
            None if value.get("format_version").is_some() => bail!(
                "{} is a model file, not a checkpoint: a finished run has nothing to resume",
                path.display()
            ),
            None => bail!("{} is not a checkpoint of train", path.display()),
        }
        serde_json::from_value(value).with_context(what)
    }
}
