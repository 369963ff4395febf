//! The real `train` binary: bad input gives one line and a non-zero exit, never a panic, and
//! never touches an existing model; good input gives byte-identical models for any thread
//! count.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("digits-train-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn train(args: &[&str], threads: Option<usize>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_digits-train"));
    cmd.args(args);
    if let Some(t) = threads {
        cmd.env("RAYON_NUM_THREADS", t.to_string());
    }
    cmd.output().unwrap()
}

/// Asserts a failed run: non-zero exit, exactly one line on stderr containing `needle`, no
/// panic.
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

fn small_run(out: &Path) -> Vec<String> {
    vec![
        "--epochs".into(),
        "1".into(),
        "--train-size".into(),
        "1000".into(),
        "--test-size".into(),
        "200".into(),
        "--out".into(),
        out.display().to_string(),
    ]
}

#[test]
fn batch_size_zero_is_a_one_line_error_and_leaves_the_model_untouched() {
    let dir = scratch("batch0");
    let model = dir.join("model.json");
    std::fs::write(&model, b"previous model bytes").unwrap();
    let out = train(
        &["--batch-size", "0", "--out", model.to_str().unwrap()],
        None,
    );
    assert_one_line_error(&out, "--batch-size must be at least 1");
    assert_eq!(std::fs::read(&model).unwrap(), b"previous model bytes");
}

#[test]
fn unknown_flag_is_a_one_line_error() {
    let out = train(&["--no-such-flag"], None);
    assert_one_line_error(&out, "--no-such-flag");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_values_are_one_line_errors() {
    let dir = scratch("bad");
    let model = dir.join("m.json");
    let m = model.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--lr", "-1", "--out", m],
            "--lr must be a positive number",
        ),
        (
            vec!["--threads", "0", "--out", m],
            "--threads must be at least 1",
        ),
        (
            vec!["--style", "cursive", "--out", m, "--train-size", "10"],
            "cursive",
        ),
        (
            vec!["--data", "mnist", "--out", m],
            "not 'synthetic' or 'idx:DIR'",
        ),
        (
            vec!["--arch", "resnet", "--out", m],
            "token 1 'resnet': unknown layer",
        ),
        (
            vec!["--out", "/no/such/dir/model.json"],
            "cannot write output /no/such/dir/model.json",
        ),
        (
            vec!["--batch-size", "5000", "--train-size", "100", "--out", m],
            "larger than the 100 training images",
        ),
        (
            vec!["--data", "idx:/no/such/dir", "--out", m],
            "/no/such/dir",
        ),
    ] {
        let out = train(&args, None);
        assert_one_line_error(&out, needle);
    }
    assert!(!model.exists(), "a failed run wrote a model");
}

#[test]
fn help_lists_every_flag() {
    let out = train(&["--help"], None);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--epochs",
        "--batch-size",
        "--lr",
        "--momentum",
        "--seed",
        "--train-size",
        "--test-size",
        "--style",
        "--threads",
        "--out",
        "--json",
        "--data",
        "--classes",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn one_and_two_threads_write_byte_identical_models_and_metrics() {
    let dir = scratch("threads");
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    let metrics = dir.join("metrics.json");
    let mut args_a = small_run(&a);
    args_a.extend(["--json".to_string(), metrics.display().to_string()]);
    let args_a: Vec<&str> = args_a.iter().map(String::as_str).collect();
    let out = train(&args_a, Some(1));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("epoch 1/1"), "{stdout}");
    assert!(
        !stdout.contains('\u{1b}'),
        "control codes in piped output: {stdout:?}"
    );

    let args_b = small_run(&b);
    let args_b: Vec<&str> = args_b.iter().map(String::as_str).collect();
    let out = train(&args_b, Some(2));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "models differ"
    );

    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&metrics).unwrap()).unwrap();
    let acc = m["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert_eq!(m["epoch_seconds"].as_array().unwrap().len(), 1);
    let model: serde_json::Value = serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
    assert_eq!(model["meta"]["seed"], 1);
    assert_eq!(model["meta"]["data"], "synthetic");
    assert_eq!(model["meta"]["epochs"], 1);
}

fn run_ok(args: &[String]) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = train(&args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// See: issue #7 (exact resume).
#[test]
fn issue_7_resume_from_a_checkpoint_gives_a_byte_identical_model() {
    let dir = scratch("resume");
    let (straight, resumed) = (dir.join("straight.json"), dir.join("resumed.json"));
    // Dropout, augmentation, adam and a schedule: every kind of state a resume must restore.
    let common = |out: &Path| {
        let mut a = small_run(out);
        a[1] = "3".into();
        a.extend(
            [
                "--arch",
                "conv4x3,relu,pool2,flatten,dense16,relu,dropout0.25,dense10",
                "--optimizer",
                "adam",
                "--augment",
                "--val-fraction",
                "0.1",
            ]
            .map(String::from),
        );
        a
    };
    run_ok(&common(&straight));
    let mut first = common(&resumed);
    first.extend(["--checkpoint-every".to_string(), "1".to_string()]);
    run_ok(&first);
    let ckpt = dir.join("resumed.ckpt.json");
    assert!(ckpt.exists(), "no checkpoint written");
    let mut again = common(&resumed);
    again.extend(["--resume".to_string(), ckpt.display().to_string()]);
    let stdout = run_ok(&again);
    assert!(stdout.contains("resuming at epoch 3, step 0"), "{stdout}");
    assert!(
        std::fs::read(&straight).unwrap() == std::fs::read(&resumed).unwrap(),
        "the resumed model differs from the uninterrupted one"
    );
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&resumed).unwrap()).unwrap();
    assert!(
        model["meta"]["kept_because"]
            .as_str()
            .unwrap()
            .contains("validation"),
        "{}",
        model["meta"]
    );
}

#[test]
fn issue_7_resume_with_other_flags_is_refused() {
    let dir = scratch("resume-mismatch");
    let out = dir.join("m.json");
    let mut first = small_run(&out);
    first[1] = "2".into();
    first.extend(["--checkpoint-every".to_string(), "1".to_string()]);
    run_ok(&first);
    let ckpt = dir.join("m.ckpt.json");
    let mut again = small_run(&out);
    again[1] = "2".into();
    again.extend(["--lr", "0.1", "--resume"].map(String::from));
    again.push(ckpt.display().to_string());
    let args: Vec<&str> = again.iter().map(String::as_str).collect();
    assert_one_line_error(&train(&args, None), "the checkpoint's run used lr = 0.05");
}
