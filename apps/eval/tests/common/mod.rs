//! What the tests of the `digits-eval` binary share: scratch directories, a small trained
//! model, running the binary, and the one-line-error check.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Kills, when dropped, every process whose command line holds this text: a browser's
/// unique profile directory. Chromium's helper processes outlive its main process, its
/// WebDriver session and chromedriver (which starts them in process groups of their own).
pub struct KillMatching(pub String);

impl Drop for KillMatching {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &self.0])
            .status();
    }
}

/// A fresh directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("digits-eval-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A seed network trained for one epoch on 3,000 synthetic digits, once per test binary,
/// through the library code `train` uses; `meta` as `train` writes it, in part.
pub fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| write_model(&scratch("model").join("model.json"), model_meta()))
}

/// The `meta` of [`model`]: seed 1, strokes, synthetic data.
pub fn model_meta() -> serde_json::Map<String, serde_json::Value> {
    let mut meta = serde_json::Map::new();
    meta.insert("seed".into(), 1.into());
    meta.insert("style".into(), "strokes".into());
    meta.insert("data".into(), "synthetic".into());
    meta
}

/// Trains the small model of [`model`] and writes it to `path` with `meta`.
pub fn write_model(path: &Path, meta: serde_json::Map<String, serde_json::Value>) -> PathBuf {
    let spec = nn::ModelSpec::seed();
    let mut net = spec.build(1).unwrap();
    let mut sgd = nn::Sgd::new(0.05, 0.9, 0.0).unwrap();
    let data = datagen::generate(datagen::Style::Strokes, 1, 0, 3000);
    let order = engine::epoch_order(data.len(), 1, 0);
    engine::train_epoch(&mut net, &mut sgd, &data, &order, 64, |_| 0.05, |_, _| {}).unwrap();
    let saved = nn::SavedModel::new(&spec, &net, meta);
    std::fs::write(path, saved.to_json().unwrap()).unwrap();
    path.to_path_buf()
}

/// Runs the binary with `args`.
pub fn eval<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_digits-eval"))
        .args(args)
        .output()
        .unwrap()
}

/// Asserts a failed run: non-zero exit, exactly one line on stderr containing `needle`, no
/// panic.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr:?}"
    );
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
