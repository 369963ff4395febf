//! The real `eval` binary on a model trained by the real `train` binary.

mod common;

use common::{assert_one_line_error, eval, model, model_meta, scratch, write_model};

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

// See: issue #13.
#[test]
fn a_checkpoint_given_as_model_says_what_it_is() {
    let dir = scratch("ckpt");
    let path = dir.join("model.ckpt.json");
    std::fs::write(&path, br#"{"checkpoint_version":2,"settings":{}}"#).unwrap();
    let out = eval(&["--model", path.to_str().unwrap()]);
    assert_one_line_error(&out, "is a training checkpoint, not a model");
}

// See: issue #13: the output path was checked only after the whole evaluation.
#[test]
fn an_unwritable_json_path_fails_before_any_work() {
    let out = eval(&[
        "--model",
        model().to_str().unwrap(),
        "--json",
        "/nonexistent/x.json",
    ]);
    assert_one_line_error(&out, "cannot write output /nonexistent/x.json");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// See: issue #13.
#[test]
fn the_default_output_fits_100_columns_even_with_long_class_names() {
    let dir = scratch("width");
    let mut meta = serde_json::Map::new();
    meta.insert("seed".into(), 1.into());
    let names: Vec<String> = engine::FASHION_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    meta.insert("class_names".into(), serde_json::json!(names));
    let fashion = write_model(&dir.join("fashion.json"), meta);
    for m in [model(), fashion.as_path()] {
        let out = eval(&["--model", m.to_str().unwrap(), "--count", "300"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let widest = stdout.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= 100, "a line of {widest} columns:\n{stdout}");
        assert!(stdout.contains("Most confident mistakes"), "{stdout}");
    }
}

// See: issue #13: a model trained on an IDX directory was tested on synthetic digits.
#[test]
fn eval_tests_on_the_idx_directory_the_model_names() {
    let dir = scratch("idx-default");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A small MNIST-format test pair: synthetic digits written as IDX.
    let set = datagen::generate(datagen::Style::Strokes, 9, 0, 50);
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 50, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend_from_slice(set.images());
    let mut labels = vec![0, 0, 8, 1, 0, 0, 0, 50];
    labels.extend_from_slice(set.labels());
    std::fs::write(data.join("t10k-images-idx3-ubyte"), images).unwrap();
    std::fs::write(data.join("t10k-labels-idx1-ubyte"), labels).unwrap();
    let mut meta = serde_json::Map::new();
    meta.insert("data".into(), format!("idx:{}", data.display()).into());
    let m = write_model(&dir.join("m.json"), meta);
    let out = eval(&["--model", m.to_str().unwrap(), "--samples", "0"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("IDX test files in"), "{stdout}");
    assert!(
        stdout.contains("(of 50 test images)") || stdout.contains("of 50 test images"),
        "{stdout}"
    );
    // Gone: a warning, and synthetic digits.
    std::fs::remove_dir_all(&data).unwrap();
    let out = eval(&[
        "--model",
        m.to_str().unwrap(),
        "--samples",
        "0",
        "--count",
        "100",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("which is not here; testing on synthetic digits"),
        "{stderr}"
    );
}

// See: issue #15 and #19 (a model trained on deskewed digits is tested on deskewed digits,
// and says so).
#[test]
fn a_deskewing_model_is_tested_on_deskewed_digits() {
    let dir = scratch("deskew");
    let mut meta = model_meta();
    meta.insert("deskew".into(), 0.75.into());
    // The network of `model()`, its meta saying it was trained on deskewed digits.
    let deskewing = write_model(&dir.join("deskew.json"), meta);
    let run = |model: &std::path::Path, name: &str| {
        let json = dir.join(name);
        let out = eval(&[
            "--model",
            model.to_str().unwrap(),
            "--count",
            "500",
            "--samples",
            "0",
            "--json",
            json.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        (String::from_utf8_lossy(&out.stdout).into_owned(), v)
    };
    let (said, deskewed) = run(&deskewing, "deskew-eval.json");
    assert!(
        said.contains("deskewed as the model was trained (shear at most 0.75)"),
        "{said}"
    );
    let (plain_said, plain) = run(model(), "plain-eval.json");
    assert!(!plain_said.contains("deskewed"), "{plain_said}");
    // The same network on other images: other answers.
    assert_ne!(deskewed["confusion"], plain["confusion"]);
}
