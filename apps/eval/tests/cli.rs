//! The real `eval` binary on a model trained by the real `train` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("digits-eval-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small model trained once for all tests of this file, through the same library code the
/// `train` command uses.
fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = scratch("model");
        let path = dir.join("model.json");
        let spec = nn::ModelSpec::seed();
        let mut net = spec.build(1).unwrap();
        let mut sgd = nn::Sgd::new(0.05, 0.9, 0.0).unwrap();
        let data = datagen::generate(datagen::Style::Strokes, 1, 0, 3000);
        let order = engine::epoch_order(data.len(), 1, 0);
        engine::train_epoch(&mut net, &mut sgd, &data, &order, 64, |_| 0.05, |_, _| {}).unwrap();
        let mut meta = serde_json::Map::new();
        meta.insert("seed".into(), 1.into());
        meta.insert("style".into(), "strokes".into());
        let saved = nn::SavedModel::new(&spec, &net, meta);
        std::fs::write(&path, saved.to_json().unwrap()).unwrap();
        path
    })
}

fn eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_digits-eval"))
        .args(args)
        .output()
        .unwrap()
}

fn assert_one_line_error(out: &Output, needle: &str) {
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

#[test]
fn missing_model_says_to_train_first() {
    let out = eval(&["--model", "/no/such/model.json"]);
    assert_one_line_error(&out, "train one first (`cargo run --release -p train`");
}

#[test]
fn corrupt_model_is_a_one_line_error_naming_the_file() {
    let dir = scratch("corrupt");
    let path = dir.join("bad.json");
    let good = std::fs::read_to_string(model()).unwrap();
    for (i, bad) in [
        good[..good.len() / 2].to_string(),
        "not json at all".to_string(),
        good.replace("\"format_version\":1", "\"format_version\":7"),
        String::new(),
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(&path, bad).unwrap();
        let out = eval(&["--model", path.to_str().unwrap(), "--count", "10"]);
        assert_one_line_error(&out, "bad.json");
        if i == 2 {
            assert_one_line_error(&out, "format version 7 is not supported");
        }
    }
}

#[test]
fn unknown_flag_is_a_one_line_error() {
    let out = eval(&["--frobnicate"]);
    assert_one_line_error(&out, "--frobnicate");
}

#[test]
fn eval_shows_samples_feature_maps_probabilities_accuracy_and_confusion() {
    let dir = scratch("full");
    let json = dir.join("eval.json");
    let out = eval(&[
        "--model",
        model().to_str().unwrap(),
        "--count",
        "500",
        "--samples",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "Input",
        "ReLU 0",
        "ReLU 1",
        "Pool 0",
        "Pool 1",
        "Label=",
        "Pred=",
        "<- predicted",
        "Accuracy:",
        "Accuracy per class:",
        "Confusion matrix",
        "recall",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
    assert_eq!(stdout.matches("Label=").count(), 2);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let acc = v["accuracy"].as_f64().unwrap();
    assert!(acc > 0.5, "accuracy {acc}");
    assert_eq!(v["per_class"].as_object().unwrap().len(), 10);
    let confusion = v["confusion"].as_array().unwrap();
    let total: u64 = confusion
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(total, 500);
}
