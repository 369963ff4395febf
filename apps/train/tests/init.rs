//! `train --init FILE`: fine-tuning from a model file or a safetensors file.

mod common;

use common::{assert_one_line_error, run_ok, scratch, small_run, train};

fn params(path: &std::path::Path) -> std::collections::BTreeMap<String, nn::TensorData> {
    nn::SavedModel::from_json(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .params
}

/// The largest difference between two models' parameters.
fn max_diff(
    a: &std::collections::BTreeMap<String, nn::TensorData>,
    b: &std::collections::BTreeMap<String, nn::TensorData>,
) -> f32 {
    a.iter()
        .flat_map(|(k, t)| t.data.iter().zip(&b[k].data).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn init_starts_from_the_given_weights_json_or_safetensors() {
    let dir = scratch("init");
    let first = dir.join("first.json");
    run_ok(&small_run(&first));
    // A learning rate too small to move anything: the result is the weights it started from.
    let tiny = ["--lr", "1e-12", "--seed", "7"];
    let tuned = dir.join("tuned.json");
    let mut args = small_run(&tuned);
    args.extend(["--init".into(), first.display().to_string()]);
    args.extend(tiny.map(String::from));
    let out = run_ok(&args);
    assert!(
        out.contains(&format!("initial weights: {}", first.display())),
        "{out}"
    );
    assert!(max_diff(&params(&first), &params(&tuned)) < 1e-6);
    // Without --init the same flags start elsewhere.
    let fresh = dir.join("fresh.json");
    let mut args = small_run(&fresh);
    args.extend(tiny.map(String::from));
    run_ok(&args);
    assert!(max_diff(&params(&first), &params(&fresh)) > 1e-3);

    // The same from a safetensors file of the first model.
    let saved = nn::SavedModel::from_json(&std::fs::read_to_string(&first).unwrap()).unwrap();
    let names: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let st = dir.join("first.safetensors");
    std::fs::write(&st, interop::weights::encode(&saved, &names).unwrap()).unwrap();
    let from_st = dir.join("from_st.json");
    let mut args = small_run(&from_st);
    args.extend(["--init".into(), st.display().to_string()]);
    args.extend(tiny.map(String::from));
    run_ok(&args);
    assert_eq!(params(&from_st), params(&tuned));
}

#[test]
fn init_with_another_network_or_with_resume_is_a_one_line_error() {
    let dir = scratch("init-bad");
    let first = dir.join("first.json");
    run_ok(&small_run(&first));
    let out_path = dir.join("other.json");
    let mut args = small_run(&out_path);
    args.extend([
        "--init".into(),
        first.display().to_string(),
        "--arch".into(),
        "lenet".into(),
    ]);
    assert_one_line_error(&train(&args, None), "holds a 'Conv2D 8@3x3");
    assert!(!out_path.exists());
    let missing = dir.join("none.safetensors");
    let mut args = small_run(&out_path);
    args.extend(["--init".into(), missing.display().to_string()]);
    assert_one_line_error(&train(&args, None), "none.safetensors");
    let out = train(
        &["--init", first.to_str().unwrap(), "--resume", "x.ckpt.json"],
        None,
    );
    assert_one_line_error(&out, "cannot be used with");
}
