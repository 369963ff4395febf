//! Checkpoints: everything needed to continue a run exactly where it stopped.

use nn::{OptimizerState, SavedModel};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The checkpoint format this build writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

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
    /// The settings that shape the run; a resume must use the same ones.
    pub settings: Map<String, Value>,
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
}

impl Checkpoint {
    /// The first setting that differs from `settings`, as `(name, checkpoint's, this run's)`.
    pub fn first_difference(
        &self,
        settings: &Map<String, Value>,
    ) -> Option<(String, Value, Value)> {
        let keys = self.settings.keys().chain(settings.keys());
        for key in keys {
            let (a, b) = (self.settings.get(key), settings.get(key));
            if a != b {
                return Some((
                    key.clone(),
                    a.cloned().unwrap_or(Value::Null),
                    b.cloned().unwrap_or(Value::Null),
                ));
            }
        }
        None
    }
}
