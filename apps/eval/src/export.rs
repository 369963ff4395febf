//! `--export FILE`: the model in another format, chosen by the file's extension.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::flags::Cli;
use crate::loaded::Loaded;

/// The formats `--export` writes, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Onnx,
    Safetensors,
}

fn format_of(path: &Path) -> Result<Format> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("onnx") => Ok(Format::Onnx),
        Some("safetensors") => Ok(Format::Safetensors),
        other => bail!(
            "cannot export to {}: the format comes from the extension, .onnx or .safetensors{}",
            path.display(),
            other.map(|e| format!(" (not .{e})")).unwrap_or_default()
        ),
    }
}

/// Writes the model to `path` atomically (the old file, if any, stays until the new one is
/// complete) and says what was written.
pub fn run(cli: &Cli, loaded: &Loaded, path: &Path) -> Result<()> {
    let format = format_of(path)?;
    cli::check_writable(path)?;
    let bytes = match format {
        Format::Onnx => interop::onnx::encode(&loaded.saved, &loaded.names),
        Format::Safetensors => interop::weights::encode(&loaded.saved, &loaded.names),
    }
    .with_context(|| format!("exporting {}", cli.model.display()))?;
    cli::write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    println!("{}", loaded.describe(cli));
    let classes = loaded.names.len();
    match format {
        Format::Onnx => {
            let [c, h, w] = loaded.saved.spec.input;
            let calibrated = interop::onnx::temperature(&loaded.saved)
                .map(|t| format!(", probabilities calibrated with temperature {t}"))
                .unwrap_or_default();
            let deskewed = interop::onnx::deskew(&loaded.saved)
                .map(|d| format!(" (deskewed in the graph, shear at most {d})"))
                .unwrap_or_default();
            println!(
                "wrote {} ({} bytes): ONNX opset {}, IR version {}; input image [N, {c}, {h}, {w}] float in [0, 1]{deskewed}; outputs logits and probabilities [N, {classes}]{calibrated}",
                path.display(),
                bytes.len(),
                interop::onnx::OPSET,
                interop::onnx::IR_VERSION,
            );
        }
        Format::Safetensors => {
            let deskew = match loaded.deskew() {
                d if d > 0.0 => format!("; the network alone: deskew its input images first (shear at most {d}, README \"Export\")"),
                _ => String::new(),
            };
            println!(
                "wrote {} ({} bytes): safetensors, {} tensors (F32) under our names, spec and class names in __metadata__{deskew}",
                path.display(),
                bytes.len(),
                loaded.saved.params.len()
            )
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_comes_from_the_extension() {
        assert_eq!(format_of(Path::new("m.onnx")).unwrap(), Format::Onnx);
        assert_eq!(format_of(Path::new("m.ONNX")).unwrap(), Format::Onnx);
        assert_eq!(
            format_of(Path::new("a/m.safetensors")).unwrap(),
            Format::Safetensors
        );
        let e = format_of(Path::new("m.pt")).unwrap_err().to_string();
        assert!(e.contains(".onnx or .safetensors (not .pt)"), "{e}");
        assert!(format_of(Path::new("model")).is_err());
    }
}
