//! What the `digits-train` and `digits-eval` commands share: errors printed as one line
//! (clap's "did you mean" kept), files written atomically and checked before any work, the
//! worker threads set up before anything starts them, model files read with a clear word
//! when the file is something else (JSON or safetensors), data sets fetched by name, and the
//! value parsers behind the numeric flags.
#![deny(missing_docs)]

mod data;
mod exit;
pub mod files;
mod model;
pub mod values;

pub use data::data_dir;
pub use exit::{clap_exit, error_exit};
pub use files::{check_writable, write_atomic};
pub use model::{load_model, load_model_as, read_model, read_model_as};

/// Sets the number of worker threads before anything starts rayon's pool (data generation
/// does): call it first thing after parsing the flags. `None` keeps rayon's default (all
/// cores, or `RAYON_NUM_THREADS`).
///
/// # Errors
/// When the pool cannot be started with that many threads.
pub fn init_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| anyhow::anyhow!("starting {n} worker threads: {e}"))?;
    }
    Ok(())
}

/// An `--arch` value: `seed`, `lenet` or a layer list, checked (for clap's `value_parser`).
///
/// # Errors
/// The spec's own one-line reason.
pub fn arch_value(s: &str) -> Result<nn::ModelSpec, String> {
    nn::ModelSpec::parse(s).map_err(|e| e.to_string())
}

/// `n` and the noun, in the singular for 1: `1 thread`, `2 threads`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The synthetic digit styles as a flag value (`--help` lists them).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum StyleArg {
    /// Handwriting-like strokes (the default generator).
    Strokes,
    /// The original demo's 7-segment look.
    Segments,
    /// The strokes, a tenth of them through a coarse scanner (`--arch lenet`'s default).
    Scanned,
}

impl From<StyleArg> for datagen::Style {
    fn from(s: StyleArg) -> Self {
        match s {
            StyleArg::Strokes => datagen::Style::Strokes,
            StyleArg::Segments => datagen::Style::Segments,
            StyleArg::Scanned => datagen::Style::Scanned,
        }
    }
}

/// `head` then `parts` joined by `sep`, broken into lines of at most `width` columns where
/// a part allows (continuation lines indented by two spaces); a part longer than a line
/// stays whole.
pub fn wrap_list(head: &str, parts: &[String], sep: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = head.to_string();
    for (i, part) in parts.iter().enumerate() {
        let piece = if i + 1 < parts.len() {
            format!("{part}{sep}")
        } else {
            part.clone()
        };
        let trimmed = piece.trim_end();
        if line.chars().count() + trimmed.chars().count() > width && i > 0 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from("  ");
        }
        line.push_str(&piece);
    }
    out.push_str(line.trim_end());
    out
}

/// A count with thousands separators: `13,610`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_wrap_at_separators_and_counts_get_separators() {
        let parts: Vec<String> = ["Conv2D 8@3x3", "ReLU", "MaxPool2x2"]
            .map(String::from)
            .into();
        assert_eq!(
            wrap_list("network: ", &parts, " -> ", 100),
            "network: Conv2D 8@3x3 -> ReLU -> MaxPool2x2"
        );
        assert_eq!(
            wrap_list("network: ", &parts, " -> ", 33),
            "network: Conv2D 8@3x3 -> ReLU ->\n  MaxPool2x2"
        );
        assert_eq!(thousands(13_610), "13,610");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
