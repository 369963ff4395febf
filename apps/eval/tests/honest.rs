//! Issue 15: calibration in the check's report, and `--ood` on two IDX sets the test writes
//! itself (synthetic digits, and non-digits from `datagen::nondigits`), with a model trained
//! here with outlier exposure and calibrated on held-out synthetic digits.
// See: issue #15

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{eval, scratch};
use datagen::Dataset;
use serde_json::{json, Value};

/// Writes `data` as the IDX test pair in `dir`.
fn write_idx(dir: &Path, data: &Dataset) {
    let mut images = std::fs::File::create(dir.join("t10k-images-idx3-ubyte")).unwrap();
    images.write_all(&0x0803u32.to_be_bytes()).unwrap();
    for v in [data.len() as u32, 28, 28] {
        images.write_all(&v.to_be_bytes()).unwrap();
    }
    images.write_all(data.images()).unwrap();
    let mut labels = std::fs::File::create(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    labels.write_all(&0x0801u32.to_be_bytes()).unwrap();
    labels
        .write_all(&(data.len() as u32).to_be_bytes())
        .unwrap();
    // Non-digit kinds are 0..8, valid digit labels for the loader.
    labels.write_all(data.labels()).unwrap();
}

struct Fixture {
    model: PathBuf,
    digits: PathBuf,
    others: PathBuf,
}

/// A seed network trained for 2 epochs on 12,000 synthetic digits with 16 non-digits a
/// step, its temperature and energy floor fitted on 2,000 held-out digits.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = scratch("fixture");
        let spec = nn::ModelSpec::seed();
        let mut net = spec.build(1).unwrap();
        let mut sgd = nn::Sgd::new(0.05, 0.9, 0.0).unwrap();
        let data = datagen::generate(datagen::Style::Strokes, 1, 0, 12_000);
        let outliers = datagen::nondigits(1, 0, 4_000);
        let exposure = engine::Exposure {
            data: &outliers,
            per_batch: 16,
            seed: 1,
            objective: nn::Objective::ENERGY,
        };
        for epoch in 0..2 {
            let order = engine::epoch_order(data.len(), 1, epoch);
            let plan = engine::EpochPlan {
                data: &data,
                order: &order,
                batch_size: 64,
                epoch,
                first_step: 0,
                seed: 1,
                augment: None,
                start_step: 0,
                stop: None,
                exec: engine::ExecPath::Auto,
            };
            engine::train_epoch_exposed(
                &mut net,
                &mut sgd,
                &plan,
                Some(&exposure),
                |_| 0.05,
                |_, _| {},
            )
            .unwrap();
        }
        let held = datagen::generate(datagen::Style::Strokes, 1, 1 << 33, 2_000);
        let eval = engine::evaluate(&net, &held, 500, 10).unwrap();
        let labels: Vec<usize> = held.labels().iter().map(|&l| usize::from(l)).collect();
        let t = engine::fit_temperature(&eval.logits, &labels, 10).unwrap();
        let floor =
            engine::lower_quantile(&engine::energies(&eval.logits, 10).unwrap(), 0.01).unwrap();
        let mut meta = serde_json::Map::new();
        meta.insert(
            "calibration".into(),
            json!({"temperature": t, "min_energy": floor}),
        );
        let model = dir.join("model.json");
        let saved = nn::SavedModel::new(&spec, &net, meta);
        std::fs::write(&model, saved.to_json().unwrap()).unwrap();
        let digits = dir.join("digits");
        std::fs::create_dir_all(&digits).unwrap();
        write_idx(
            &digits,
            &datagen::generate(
                datagen::Style::Strokes,
                1,
                engine::SYNTHETIC_TEST_START,
                600,
            ),
        );
        let others = dir.join("others");
        std::fs::create_dir_all(&others).unwrap();
        // Non-digits from a stream training never drew from (another seed).
        write_idx(&others, &datagen::nondigits(99, 0, 600));
        Fixture {
            model,
            digits,
            others,
        }
    })
}

fn json_of(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn issue_15_ood_report_in_terminal_and_json() {
    let f = fixture();
    let json = scratch("ood").join("ood.json");
    let digits = format!("idx:{}", f.digits.display());
    let others = format!("idx:{}", f.others.display());
    let out = eval(&[
        "--model",
        f.model.to_str().unwrap(),
        "--data",
        &digits,
        "--ood",
        &others,
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
        "others flagged",
        "digits flagged",
        "AUROC",
        "FPR at 95% TPR",
        "Trade-off",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
    let ood = &json_of(&json)["ood"];
    let get = |k: &str| {
        ood[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} missing: {ood}"))
    };
    assert!(get("auroc") > 0.9 && get("auroc") <= 1.0, "{ood}");
    assert!((0.0..=1.0).contains(&get("fpr_at_95_tpr")), "{ood}");
    assert!(get("flagged") > get("digits_flagged") + 0.3, "{ood}");
    assert!(get("digits_flagged") < 0.2, "{ood}");
    assert_eq!(ood["score"], "energy");
    let rows = ood["tradeoff"].as_array().unwrap();
    assert!(rows.len() >= 5, "{ood}");
    // The trade-off flags more of both sets as the threshold rises.
    for w in rows.windows(2) {
        assert!(
            w[1]["threshold"].as_f64() >= w[0]["threshold"].as_f64(),
            "{ood}"
        );
        assert!(
            w[1]["flagged"].as_f64() >= w[0]["flagged"].as_f64(),
            "{ood}"
        );
    }
}

#[test]
fn issue_15_ood_refuses_synthetic_and_a_missing_directory() {
    let f = fixture();
    let model = f.model.to_str().unwrap();
    let out = eval(&["--model", model, "--ood", "synthetic"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );
    assert!(stderr.contains("--ood needs idx:DIR"), "{stderr}");
    let out = eval(&["--model", model, "--ood", "idx:/no/such/dir"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );
    assert!(stderr.contains("/no/such/dir"), "{stderr}");
}

#[test]
fn issue_15_check_reports_calibration_at_the_model_temperature() {
    let f = fixture();
    let json = scratch("calibration").join("check.json");
    let digits = format!("idx:{}", f.digits.display());
    let out = eval(&[
        "--model",
        f.model.to_str().unwrap(),
        "--data",
        &digits,
        "--samples",
        "0",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Calibration (temperature"), "{stdout}");
    assert!(stdout.contains("Reliability"), "{stdout}");
    let v = json_of(&json);
    let c = &v["calibration"];
    for k in ["ece", "mce", "nll", "brier", "temperature"] {
        assert!(c[k].as_f64().is_some(), "{k} missing: {c}");
    }
    let saved = json_of(&f.model);
    assert_eq!(
        c["temperature"].as_f64(),
        saved["meta"]["calibration"]["temperature"].as_f64()
    );
    assert!(c["ece"].as_f64().unwrap() < 0.1, "{c}");
    assert_eq!(c["bins"].as_array().unwrap().len(), 15);
    let counted: u64 = c["bins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 600);
}

/// [`eval`], which must succeed.
fn eval_ok(args: &[&str]) -> std::process::Output {
    let out = eval(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The fixture's model with `views` test-time views in its calibration.
fn with_views(views: u64) -> PathBuf {
    let f = fixture();
    let mut saved = json_of(&f.model);
    saved["meta"]["calibration"]["views"] = views.into();
    let path = scratch(&format!("views-{views}")).join("model.json");
    std::fs::write(&path, serde_json::to_vec(&saved).unwrap()).unwrap();
    path
}

// See: issue #15 and #19 (test-time views).
#[test]
fn a_model_is_tested_and_judged_on_its_views() {
    let f = fixture();
    let digits = format!("idx:{}", f.digits.display());
    let dir = scratch("views");
    let check = |model: &Path, name: &str| {
        let json = dir.join(name);
        let out = eval_ok(&[
            "--model",
            model.to_str().unwrap(),
            "--data",
            &digits,
            "--samples",
            "0",
            "--json",
            json.to_str().unwrap(),
        ]);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            json_of(&json),
        )
    };
    let (text1, one) = check(&f.model, "one.json");
    let nine_model = with_views(9);
    let (text9, nine) = check(&nine_model, "nine.json");
    assert!(!text1.contains("shifted views"), "{text1}");
    assert!(text9.contains("mean of 9 shifted views"), "{text9}");
    assert_eq!(
        (&one["calibration"]["views"], &nine["calibration"]["views"]),
        (&1.into(), &9.into())
    );
    // The figures are those of the engine's evaluation over the same views.
    let saved = nn::SavedModel::from_json(&std::fs::read_to_string(&f.model).unwrap()).unwrap();
    let net = saved.build().unwrap();
    let data = datagen::generate(
        datagen::Style::Strokes,
        1,
        engine::SYNTHETIC_TEST_START,
        600,
    );
    let t = saved.meta["calibration"]["temperature"].as_f64().unwrap() as f32;
    for (views, report) in [(1, &one), (9, &nine)] {
        let e =
            engine::evaluate_views(&net, &data, 100, 10, engine::ExecPath::Auto, t, views).unwrap();
        assert_eq!(
            report["accuracy"].as_f64(),
            Some(f64::from(e.accuracy)),
            "{views} views"
        );
    }
    assert_ne!(one["calibration"]["nll"], nine["calibration"]["nll"]);
    // A view count a model may not have is taken as one view, not an error.
    let (_, odd) = check(&with_views(4), "odd.json");
    assert_eq!(odd["calibration"]["views"], 1);
    assert_eq!(odd["calibration"]["nll"], one["calibration"]["nll"]);
    // Pictures are judged on the views too: their probabilities and energy are not one
    // view's.
    let picture = |model: &Path| {
        let json = dir.join("picture.json");
        let png = dir.join("digit.png");
        let img = image::GrayImage::from_fn(28, 28, |x, y| {
            let i = (y as usize) * 28 + x as usize;
            image::Luma([255 - data.image(3)[i]])
        });
        img.save(&png).unwrap();
        eval_ok(&[
            "--model",
            model.to_str().unwrap(),
            "--image",
            png.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ]);
        json_of(&json)["predictions"][0].clone()
    };
    let (p1, p9) = (picture(&f.model), picture(&nine_model));
    assert_ne!(p1["probabilities"], p9["probabilities"], "{p1} {p9}");
    assert_ne!(p1["energy"], p9["energy"], "{p1} {p9}");
}
