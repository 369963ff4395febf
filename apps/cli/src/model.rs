//! Reading a model file, with a clear word when it is missing or is a checkpoint.

use std::path::Path;

use anyhow::{bail, Context, Result};
use nn::{SavedModel, Sequential};

/// Reads and checks the model file at `path` without building the network.
///
/// # Errors
/// One line naming the file: missing (with the command that makes one), a training
/// checkpoint (with how to continue it), not a model, or damaged.
pub fn read_model(path: &Path) -> Result<SavedModel> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no model at {}: train one first (`cargo run --release -p train`, or digits-train) or pass --model PATH",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading model {}", path.display())),
    };
    match SavedModel::from_json(&text) {
        Ok(saved) => Ok(saved),
        Err(e) => {
            if is_checkpoint(&text) {
                bail!(
                    "{} is a training checkpoint, not a model: continue the run with `train --resume {}`, or pass the model file it writes",
                    path.display(),
                    path.display()
                );
            }
            Err(e).with_context(|| format!("reading model {}", path.display()))
        }
    }
}

/// Reads the model file at `path` and builds its network.
///
/// # Errors
/// Those of [`read_model`], and a spec or parameters that do not make a network.
pub fn load_model(path: &Path) -> Result<(SavedModel, Sequential)> {
    let saved = read_model(path)?;
    let model = saved
        .build()
        .with_context(|| format!("reading model {}", path.display()))?;
    Ok((saved, model))
}

/// Whether `text` is a JSON object with a `checkpoint_version` field (what `train` writes
/// as its checkpoint).
fn is_checkpoint(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("checkpoint_version").cloned())
        .is_some()
}
