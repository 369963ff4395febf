//! The real `train` binary: bad input gives one line and a non-zero exit, never a panic, and
//! never touches an existing model; good input gives byte-identical models for any thread
//! count.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{assert_one_line_error, run_ok, scratch, small_run, train};

#[test]
fn batch_size_zero_is_a_one_line_error_and_leaves_the_model_untouched() {
    let dir = scratch("batch0");
    let model = dir.join("model.json");
    std::fs::write(&model, b"previous model bytes").unwrap();
    let out = train(
        &["--batch-size", "0", "--out", model.to_str().unwrap()],
        None,
    );
    assert_one_line_error(
        &out,
        "invalid value '0' for '--batch-size <N>': expected a whole number of at least 1",
    );
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
            "expected a number above 0, got '-1'",
        ),
        (
            vec!["--threads", "0", "--out", m],
            "expected a whole number of at least 1, got '0'",
        ),
        (
            vec!["--style", "cursive", "--out", m, "--train-size", "10"],
            "cursive",
        ),
        (
            vec!["--data", "emnist", "--out", m],
            "not 'synthetic', 'mnist', 'fashion-mnist' or 'idx:DIR'",
        ),
        (
            vec!["--arch", "resnet", "--out", m],
            "'resnet' is not a preset (seed, lenet)",
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
        (
            vec!["--views", "4", "--out", m],
            "expected 1, 5 or 9 views, got '4'",
        ),
        (
            vec!["--deskew", "-0.5", "--out", m],
            "expected a number of 0 or more, got '-0.5'",
        ),
        (
            vec!["--deskew", "3", "--out", m],
            "--deskew 3 is a shear of more than 2",
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

/// Starts `args`, and SIGKILLs the run once it has announced a checkpoint after `epoch`
/// epochs: the checkpoint is then complete on disk and the run is in the next epoch.
fn kill_after_checkpoint(args: &[String], epoch: usize) {
    use std::io::{BufRead, BufReader};
    let mut child = common::command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let wanted = format!("(after epoch {epoch} of");
    let mut seen = false;
    for line in lines {
        if line.unwrap().contains(&wanted) {
            seen = true;
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen,
        "the run never announced a checkpoint after epoch {epoch}"
    );
}

// See: issue #7 (exact resume); issue #13 (resume from the checkpoint alone).
#[test]
fn resume_from_the_checkpoint_alone_gives_a_byte_identical_model() {
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
    let stdout = run_ok(&common(&straight));
    assert!(stdout.contains("kept epoch "), "{stdout}");
    let mut first = common(&resumed);
    first.extend(["--checkpoint-every".to_string(), "1".to_string()]);
    kill_after_checkpoint(&first, 2);
    let ckpt = dir.join("resumed.ckpt.json");
    assert!(ckpt.exists(), "no checkpoint written");
    assert!(!resumed.exists());
    // From another directory, with no other flag: the checkpoint knows --out.
    let out = common::command()
        .args(["--resume", ckpt.to_str().unwrap()])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("epoch 3 of 3, step 0 of"), "{stdout}");
    assert!(
        std::fs::read(&straight).unwrap() == std::fs::read(&resumed).unwrap(),
        "the resumed model differs from the uninterrupted one"
    );
    assert!(!ckpt.exists(), "a finished run left its checkpoint");
    assert!(stdout.contains("removed checkpoint"), "{stdout}");
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
    assert_eq!(model["meta"]["history"].as_array().unwrap().len(), 3);
}

// See: issue #13.
/// `--epoch-data fresh` draws new images each epoch (the model differs from one trained on
/// the same images), a resumed run draws the same ones (byte-identical model), validation
/// digits come from their own range, and real data refuses it.
#[test]
fn fresh_images_each_epoch_resume_exactly() {
    let dir = scratch("fresh");
    let (same, straight, resumed) = (
        dir.join("same.json"),
        dir.join("straight.json"),
        dir.join("resumed.json"),
    );
    let with = |out: &Path, fresh: bool| {
        // Big enough that drawing epoch 2's images outlasts the kill after epoch 1.
        let mut a = small_run(out);
        a[1] = "3".into();
        a[3] = "20000".into();
        a.extend(["--val-fraction", "0.1"].map(String::from));
        if fresh {
            a.extend(["--epoch-data", "fresh"].map(String::from));
        }
        a
    };
    run_ok(&with(&same, false));
    let stdout = run_ok(&with(&straight, true));
    assert!(
        stdout.contains("new ones each epoch: 18000 training, 2000 validation"),
        "{stdout}"
    );
    let (a, b) = (
        std::fs::read(&same).unwrap(),
        std::fs::read(&straight).unwrap(),
    );
    assert!(
        a != b,
        "fresh images trained the same model as the same images"
    );
    let model: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(model["meta"]["epoch_data"], "fresh");
    let mut first = with(&resumed, true);
    first.extend(["--checkpoint-every".to_string(), "1".to_string()]);
    kill_after_checkpoint(&first, 1);
    let ckpt = dir.join("resumed.ckpt.json");
    let stdout = run_ok(&["--resume", ckpt.to_str().unwrap()]);
    assert!(stdout.contains(" of 3, step 0 of"), "{stdout}");
    assert!(
        b == std::fs::read(&resumed).unwrap(),
        "the resumed fresh-data model differs from the uninterrupted one"
    );
    let out = common::command()
        .args(["--data", "idx:/nonexistent", "--epoch-data", "fresh"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "--epoch-data fresh draws new synthetic images");
}

/// `--keep last` saves the final epoch, validated and calibrated on the held-out images;
/// `--keep best` without held-out images to choose by is refused.
#[test]
fn keep_last_saves_the_final_epoch_and_still_calibrates() {
    let dir = scratch("keep-last");
    let out = dir.join("m.json");
    let mut args = small_run(&out);
    args[1] = "3".into();
    args.extend(["--val-fraction", "0.2", "--keep", "last"].map(String::from));
    let stdout = run_ok(&args);
    assert!(
        stdout.contains("kept epoch 3 of 3 (--keep last): validation accuracy"),
        "{stdout}"
    );
    let model: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let meta = &model["meta"];
    assert_eq!(meta["keep"], "last");
    assert_eq!(meta["kept_epoch"], 3);
    let history = meta["history"].as_array().unwrap();
    assert_eq!(meta["test_accuracy"], history[2]["test_accuracy"]);
    assert_eq!(meta["val_accuracy"], history[2]["val_accuracy"]);
    assert!(
        meta["kept_because"]
            .as_str()
            .unwrap()
            .contains("--keep last; validation accuracy"),
        "{meta}"
    );
    assert!(meta["calibration"].is_object(), "{meta}");
    let refused = train(&["--keep", "best", "--out", out.to_str().unwrap()], None);
    assert_one_line_error(
        &refused,
        "--keep best chooses the epoch by validation accuracy: hold images out with --val-fraction F",
    );
}

#[test]
fn resume_with_other_flags_lists_every_difference_in_one_line() {
    let dir = scratch("resume-mismatch");
    let out = dir.join("m.json");
    let mut first = small_run(&out);
    first[1] = "3".into();
    first.extend(["--checkpoint-every".to_string(), "1".to_string()]);
    kill_after_checkpoint(&first, 1);
    let ckpt = dir.join("m.ckpt.json");
    let ckpt = ckpt.to_str().unwrap();
    let out = train(
        &[
            "--resume", ckpt, "--lr", "0.1", "--seed", "4", "--epochs", "5",
        ],
        None,
    );
    assert_one_line_error(
        &out,
        "the flags given with --resume differ from the checkpoint's run:",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "lr 0.1 instead of 0.05",
        "seed 4 instead of 1",
        "epochs 5 instead of 3 (the cosine schedule",
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
    // The same flags as the run's are fine.
    let out = train(
        &["--resume", ckpt, "--lr", "0.05", "--train-size", "1000"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// See: issue #13: rayon's pool was started by the generator before --threads was applied.
#[test]
fn threads_flag_works_on_synthetic_data() {
    let dir = scratch("threads-flag");
    let mut args = small_run(&dir.join("m.json"));
    args.extend(["--threads".to_string(), "1".to_string()]);
    let stdout = run_ok(&args);
    assert!(stdout.contains("path: fused seed kernels"), "{stdout}");
    assert!(stdout.contains(", 1 thread\n"), "{stdout}");
}

// See: issue #13.
#[test]
fn newcomer_mistakes_get_a_helpful_one_line_error() {
    let dir = scratch("mistakes");
    let m = dir.join("m.json");
    let m = m.to_str().unwrap();
    std::fs::write(dir.join("model.json"), b"{}").unwrap();
    for (args, needle) in [
        (
            vec!["--epoch", "1"],
            "a similar argument exists: '--epochs'",
        ),
        (
            vec!["--epochs", "-1"],
            "expected a whole number of at least 1, got '-1'",
        ),
        (vec!["--arch", "lenett"], "is not a preset (seed, lenet)"),
        (vec!["--data", "/tmp"], "write idx:/tmp"),
        (
            vec!["--arch", "conv8x3,relu,pool2,flatten,dense5"],
            "end --arch in dense10 or pass --classes FILE with 5 names",
        ),
        (
            vec!["--optimizer", "adam", "--momentum", "0.5"],
            "apply to --optimizer sgd only",
        ),
        (
            vec!["--optimizer", "rmsprop"],
            "[possible values: sgd, adam, adamw]",
        ),
        (vec!["--resume", m], "reading checkpoint"),
        (
            vec!["--json", "/no/such/dir/x.json"],
            "cannot write output /no/such/dir/x.json",
        ),
    ] {
        let mut args = args;
        args.extend(["--out", m]);
        assert_one_line_error(&train(&args, None), needle);
    }
    // A model file given to --resume says what it is.
    let model = dir.join("model.json");
    std::fs::write(&model, br#"{"format_version": 1}"#).unwrap();
    let out = train(&["--resume", model.to_str().unwrap()], None);
    assert_one_line_error(&out, "is a model file, not a checkpoint");
    // A cause is printed once.
    let out = train(&["--data", "idx:/nonexistent", "--out", m], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
}

// See: issue #13.
#[test]
fn no_op_flags_and_runs_at_chance_are_warned_about() {
    let dir = scratch("warnings");
    let mut args = small_run(&dir.join("m.json"));
    args.extend(["--checkpoint-every", "5", "--lr", "100"].map(String::from));
    let out = train(&args, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--checkpoint-every 5 is more than the run's 1 epoch:"),
        "{stderr}"
    );
    // --lr 100 either diverges (an error) or ends at chance (a warning); never silent.
    assert!(
        stderr.contains("is chance for 10 classes") || stderr.contains("diverged"),
        "{stderr}"
    );
}

// See: issue #13 (metrics as data for the report).
#[test]
fn metrics_csv_has_a_row_per_epoch_matching_json() {
    let dir = scratch("metrics");
    let (csv, json) = (dir.join("m.csv"), dir.join("m.json.out"));
    let mut args = small_run(&dir.join("m.json"));
    args[1] = "2".into();
    args.extend([
        "--metrics".into(),
        csv.display().to_string(),
        "--json".into(),
        json.display().to_string(),
    ]);
    run_ok(&args);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "kind,epoch,step,lr,loss,train_accuracy,val_accuracy,test_accuracy,seconds,images_per_second"
    );
    let epochs: Vec<Vec<&str>> = lines
        .filter(|l| l.starts_with("epoch,"))
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(epochs.len(), 2);
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for (row, e) in epochs.iter().zip(j["epochs"].as_array().unwrap()) {
        assert_eq!(row.len(), 10);
        assert_eq!(row[1], e["epoch"].to_string());
        let test: f64 = row[7].parse().unwrap();
        assert!((test - e["test_accuracy"].as_f64().unwrap()).abs() < 1e-6);
        let loss: f64 = row[4].parse().unwrap();
        assert!((loss - e["loss"].as_f64().unwrap()).abs() < 1e-6);
    }
}

// See: issue #15 (where the "no digit" floor sits for each network).
#[test]
fn the_energy_floor_quantile_follows_the_network() {
    let dir = scratch("energy-quantile");
    let quantile_of = |name: &str, arch: Option<&str>| {
        let model = dir.join(name);
        let mut args = small_run(&model);
        if let Some(arch) = arch {
            args.extend(["--arch".into(), arch.into()]);
        }
        let out = run_ok(&args);
        assert!(out.contains("energy floor"), "{out}");
        assert!(out.contains("9 views of each"), "{out}");
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
        let c = &m["meta"]["calibration"];
        assert!(c["min_energy"].as_f64().unwrap().is_finite(), "{c}");
        // Calibrated on the 9 views the verdict averages over by default.
        assert_eq!(c["views"], 9, "{c}");
        c["energy_quantile"].as_f64().unwrap()
    };
    // The seed network, by name or spelled out, has a 0.6% floor on its deskewed digits (1%
    // with `--deskew 0`: see the deskewing test); a network with a hidden layer 0.5%.
    assert_eq!(quantile_of("seed.json", None), 0.006);
    assert_eq!(
        quantile_of(
            "seed-spelled.json",
            Some("conv8x3,relu,pool2,flatten,dense10")
        ),
        0.006
    );
    assert_eq!(
        quantile_of(
            "hidden.json",
            Some("conv8x3,relu,pool2,flatten,dense32,relu,dense10")
        ),
        0.005
    );
}

// See: issue #15 and #19 (deskewing: the default of the seed and LeNet-style networks on
// synthetic digits, stored in the model so every image it judges is deskewed alike).
#[test]
fn the_preset_networks_deskew_by_default_and_the_model_says_so() {
    let dir = scratch("deskew");
    let model_of = |name: &str, extra: &[&str]| {
        let model = dir.join(name);
        let mut args = small_run(&model);
        args.extend(extra.iter().map(|s| s.to_string()));
        run_ok(&args);
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(&model).unwrap()).unwrap()
    };
    let default = model_of("default.json", &[]);
    assert_eq!(default["meta"]["deskew"], 0.75);
    assert_eq!(default["meta"]["calibration"]["energy_quantile"], 0.006);
    let off = model_of("off.json", &["--deskew", "0"]);
    assert_eq!(off["meta"]["deskew"], 0.0);
    assert_eq!(off["meta"]["calibration"]["energy_quantile"], 0.01);
    // The images differ, so the networks do.
    assert_ne!(default["checksum"], off["checksum"]);
    assert_eq!(
        model_of("lenet.json", &["--arch", "lenet"])["meta"]["deskew"],
        0.75
    );
    // Another network keeps its images as they are unless asked.
    let hidden = model_of(
        "hidden.json",
        &["--arch", "conv8x3,relu,pool2,flatten,dense32,relu,dense10"],
    );
    assert_eq!(hidden["meta"]["deskew"], 0.0);
    let asked = model_of(
        "asked.json",
        &[
            "--arch",
            "conv8x3,relu,pool2,flatten,dense32,relu,dense10",
            "--deskew",
            "0.5",
        ],
    );
    assert_eq!(asked["meta"]["deskew"], 0.5);
}

// See: issue #15 and #19 (test-time views).
#[test]
fn the_calibration_is_fitted_on_the_views_the_model_is_judged_on() {
    let dir = scratch("views");
    let calibration_of = |name: &str, views: &str| {
        let model = dir.join(name);
        let mut args = small_run(&model);
        args.extend(["--views".into(), views.into()]);
        let out = run_ok(&args);
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
        (
            out,
            m["meta"]["calibration"].clone(),
            m["meta"]["views"].clone(),
        )
    };
    let (out1, one, set1) = calibration_of("one.json", "1");
    let (out5, five, set5) = calibration_of("five.json", "5");
    assert!(!out1.contains("views of each"), "{out1}");
    assert!(out5.contains("5 views of each"), "{out5}");
    assert_eq!((&one["views"], &five["views"]), (&1.into(), &5.into()));
    assert_eq!((set1, set5), (1.into(), 5.into()));
    // The same network (views change nothing in training), fitted on other inputs.
    assert_ne!(one["temperature"], five["temperature"]);
    assert_ne!(one["min_energy"], five["min_energy"]);
}
