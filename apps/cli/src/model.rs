//! Reading a model file, with a clear word when it is missing or is a checkpoint: our JSON
//! model files, and `.safetensors` files (ours, or a PyTorch `nn.Sequential` state_dict mapped
//! onto an architecture; see [`interop::weights`]).

use std::path::Path;

use anyhow::{bail, Context, Result};
use nn::{ModelSpec, SavedModel, Sequential};

/// Reads and checks the model file at `path` without building the network.
///
/// # Errors
/// One line naming the file: missing (with the command that makes one), a training
/// checkpoint (with how to continue it), not a model, or damaged.
pub fn read_model(path: &Path) -> Result<SavedModel> {
    read_model_as(path, None)
}

/// Reads the model at `path`: a JSON model file, or a `.safetensors` file, ours (its spec
/// is in the file; `arch`, when given, must match it) or a PyTorch `nn.Sequential` state_dict
/// whose layer indices follow `arch`. `arch` is refused for a JSON model file that holds
/// another network.
///
/// # Errors
/// Those of [`read_model`]; for safetensors, a missing, extra or mis-shaped tensor, a dtype
/// other than F32, or a state_dict without `arch`, each naming the tensor and the file.
pub fn read_model_as(path: &Path, arch: Option<&ModelSpec>) -> Result<SavedModel> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
    {
        let bytes = read_bytes(path)?;
        let (saved, origin) = interop::weights::decode(&bytes, arch)
            .with_context(|| format!("reading model {}", path.display()))?;
        let mut saved = saved;
        if origin == interop::weights::Origin::PyTorch {
            saved
                .meta
                .insert("imported_file".into(), path.display().to_string().into());
        }
        return Ok(saved);
    }
    let saved = read_json_model(path)?;
    if let Some(given) = arch {
        if *given != saved.spec {
            bail!(
                "model {} holds a '{}' network, not the '{given}' of --arch",
                path.display(),
                saved.spec
            );
        }
    }
    Ok(saved)
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no model at {}: train one first (`cargo run --release -p train`, or digits-train) or pass --model PATH",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("reading model {}", path.display())),
    }
}

fn read_json_model(path: &Path) -> Result<SavedModel> {
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
    load_model_as(path, None)
}

/// Reads the model at `path` as [`read_model_as`] does and builds its network: the one
/// function both commands load a model with.
///
/// # Errors
/// Those of [`read_model_as`], and a spec or parameters that do not make a network.
pub fn load_model_as(path: &Path, arch: Option<&ModelSpec>) -> Result<(SavedModel, Sequential)> {
    let saved = read_model_as(path, arch)?;
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
