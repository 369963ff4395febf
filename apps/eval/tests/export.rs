//! Models that leave and come back: `--export` to ONNX checked by the real clients
//! (onnx.checker and onnxruntime, from Python), to safetensors and back bit for bit, and a
//! PyTorch nn.Sequential state_dict loaded onto `--arch`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("digits-eval-export-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A seed network trained for one epoch on 3,000 synthetic digits.
fn seed_model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let spec = nn::ModelSpec::seed();
        let mut net = spec.build(1).unwrap();
        let mut sgd = nn::Sgd::new(0.05, 0.9, 0.0).unwrap();
        let data = datagen::generate(datagen::Style::Strokes, 1, 0, 3000);
        let order = engine::epoch_order(data.len(), 1, 0);
        engine::train_epoch(&mut net, &mut sgd, &data, &order, 64, |_| 0.05, |_, _| {}).unwrap();
        let mut meta = serde_json::Map::new();
        meta.insert("seed".into(), 1.into());
        meta.insert("style".into(), "strokes".into());
        save("seed", &nn::SavedModel::new(&spec, &net, meta))
    })
}

/// Every operator and attribute we export (padding, stride, two dense layers, dropout left
/// out) and a calibration temperature, with trained weights.
fn wide_model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let spec = nn::ModelSpec::parse(
            "conv6x3p1,relu,pool2,conv8x3s2,relu,flatten,dropout0.2,dense16,relu,dense10",
        )
        .unwrap();
        let mut net = spec.build(2).unwrap();
        let mut sgd = nn::Sgd::new(0.05, 0.9, 0.0).unwrap();
        let data = datagen::generate(datagen::Style::Strokes, 2, 0, 2000);
        let order = engine::epoch_order(data.len(), 2, 0);
        engine::train_epoch(&mut net, &mut sgd, &data, &order, 64, |_| 0.05, |_, _| {}).unwrap();
        let mut meta = serde_json::Map::new();
        meta.insert("seed".into(), 2.into());
        meta.insert(
            "calibration".into(),
            serde_json::json!({"temperature": 1.7}),
        );
        save("wide", &nn::SavedModel::new(&spec, &net, meta))
    })
}

fn save(name: &str, saved: &nn::SavedModel) -> PathBuf {
    let path = scratch(name).join("model.json");
    std::fs::write(&path, saved.to_json().unwrap()).unwrap();
    path
}

fn eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_digits-eval"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
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

/// Whether Python has onnx, onnxruntime and numpy. Missing: the test is skipped with a note,
/// except in CI (`CI` set), where `.ci/run` installs them and their absence fails the run.
fn python_clients() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import onnx, onnxruntime, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but python3 cannot import onnx, onnxruntime and numpy (.ci/run installs them)"
        );
        eprintln!("note: skipping the onnxruntime check: python3 lacks onnx/onnxruntime/numpy (pip install onnxruntime onnx numpy)");
    }
    found
}

fn write_f32(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// The network's logits for `images` (28x28 floats, image after image), through the layers.
fn float_logits(net: &nn::Sequential, images: &[f32]) -> Vec<f32> {
    let x = tensor::Tensor::from_vec(vec![images.len() / 784, 1, 28, 28], images.to_vec()).unwrap();
    net.infer(&x).unwrap().data().to_vec()
}

/// Exports `model` to ONNX with the binary, then has onnx.checker (full_check) and
/// onnxruntime check it on 1,000 images against our probabilities (softmax of the logits of
/// the same path `eval` uses, divided by the temperature when there is one).
fn onnxruntime_agrees(model: &Path, temperature: f32) -> Value {
    let dir = model.parent().unwrap();
    let onnx = dir.join("model.onnx");
    let out = ok(&eval(&[
        "--model",
        model.to_str().unwrap(),
        "--export",
        onnx.to_str().unwrap(),
    ]));
    assert!(out.contains("ONNX opset 13, IR version 7"), "{out}");

    let (saved, net) = cli::load_model(model).unwrap();
    let n = 1000;
    let data = datagen::generate(datagen::Style::Strokes, 9, engine::SYNTHETIC_TEST_START, n);
    let classes = saved.spec.classes().unwrap();
    let images: Vec<f32> = data.images().iter().map(|&p| datagen::to_unit(p)).collect();
    let logits = match vision::deskew_of(&saved.meta) {
        // The images as they are go into the file: it deskews them itself. Ours are the
        // same images deskewed (in floats, as the picture path does) through the network.
        d if d > 0.0 => {
            let mut deskewed = images.clone();
            for image in deskewed.chunks_exact_mut(28 * 28) {
                datagen::deskew(image, 28, d);
            }
            float_logits(&net, &deskewed)
        }
        _ => {
            let mut predictor = engine::Predictor::new(&net, 28, 28, classes).unwrap();
            let mut logits = Vec::new();
            predictor.logits_into(&mut logits, data.images()).unwrap();
            logits
        }
    };
    let scaled: Vec<f32> = logits.iter().map(|l| l / temperature).collect();
    let probs = tensor::reference::softmax_rows(&scaled, n, classes);
    write_f32(&dir.join("images.f32"), &images);
    write_f32(&dir.join("probs.f32"), &probs);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/onnx_check.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&onnx)
        .arg(dir.join("images.f32"))
        .arg(dir.join("probs.f32"))
        .arg(n.to_string())
        .arg(classes.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "onnx_check.py: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "onnxruntime disagrees or the checker failed"
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn onnx_export_runs_in_onnxruntime_with_our_probabilities() {
    if !python_clients() {
        return;
    }
    let report = onnxruntime_agrees(seed_model(), 1.0);
    assert_eq!(report["ir_version"], 7);
    assert_eq!(report["opset"][0][1], 13);
    assert_eq!(
        report["ops"],
        serde_json::json!(["Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Softmax"])
    );
    assert_eq!(report["inputs"][0][0], "image");
    assert_eq!(report["inputs"][0][1], serde_json::json!(["N", 1, 28, 28]));
    assert_eq!(
        report["outputs"],
        serde_json::json!(["logits", "probabilities"])
    );
    let meta = &report["metadata"];
    let names: Vec<String> = serde_json::from_str(meta["class_names"].as_str().unwrap()).unwrap();
    assert_eq!(names[7], "Seven");
    assert!(meta["preprocessing"].as_str().unwrap().contains("[0, 1]"));
    assert!(meta.get("calibration.temperature").is_none());
    assert_eq!(report["argmax_agree"], 1000);
}

#[test]
fn onnx_export_of_every_operator_and_a_temperature_agrees_too() {
    if !python_clients() {
        return;
    }
    let report = onnxruntime_agrees(wide_model(), 1.7);
    assert_eq!(
        report["ops"],
        serde_json::json!([
            "Conv", "Relu", "MaxPool", "Conv", "Relu", "Flatten", "Gemm", "Relu", "Gemm", "Div",
            "Softmax"
        ])
    );
    assert_eq!(report["metadata"]["calibration.temperature"], "1.7");
}

// See: issue #15 (a deskewing model deskews in its ONNX graph, so a client feeds it the
// prepared image as it is).
#[test]
fn onnx_export_of_a_deskewing_model_deskews_in_the_graph() {
    if !python_clients() {
        return;
    }
    let (mut saved, _) = cli::load_model(seed_model()).unwrap();
    saved.meta.insert("deskew".into(), 0.75.into());
    let model = save("deskew", &saved);
    let report = onnxruntime_agrees(&model, 1.0);
    let ops: Vec<String> = serde_json::from_value(report["ops"].clone()).unwrap();
    let first_layer = ops.iter().position(|o| o == "Conv").unwrap();
    assert!(
        ops[..first_layer].contains(&"MatMul".to_string()),
        "{ops:?}"
    );
    assert!(ops[..first_layer].contains(&"Clip".to_string()), "{ops:?}");
    assert_eq!(
        &ops[first_layer..],
        ["Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Softmax"]
    );
    assert_eq!(report["metadata"]["digits.deskew"], "0.75");
    let said = ok(&eval(&[
        "--model",
        model.to_str().unwrap(),
        "--export",
        model.with_extension("onnx").to_str().unwrap(),
    ]));
    assert!(
        said.contains("(deskewed in the graph, shear at most 0.75)"),
        "{said}"
    );
    assert_eq!(report["argmax_agree"], 1000);
    // Agreeing with our deskewed answers means something: deskewing moves them.
    let (_, net) = cli::load_model(&model).unwrap();
    let data = datagen::generate(datagen::Style::Strokes, 9, engine::SYNTHETIC_TEST_START, 50);
    let mut images: Vec<f32> = data.images().iter().map(|&p| datagen::to_unit(p)).collect();
    let plain = float_logits(&net, &images);
    for image in images.chunks_exact_mut(28 * 28) {
        datagen::deskew(image, 28, 0.75);
    }
    let moved = plain
        .iter()
        .zip(float_logits(&net, &images))
        .filter(|(a, b)| (*a - b).abs() > 0.01)
        .count();
    assert!(moved > 100, "{moved} of 500 logits moved");
}

/// `eval --json` on the same 500 synthetic digits, without the model's path.
fn check_json(model: &Path, extra: &[&str]) -> Value {
    let dir = scratch("json");
    let json = dir.join("out.json");
    let mut args = vec![
        "--model",
        model.to_str().unwrap(),
        "--count",
        "500",
        "--seed",
        "4",
        "--style",
        "strokes",
        "--samples",
        "0",
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&eval(&args));
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("model");
    v
}

#[test]
fn safetensors_export_round_trips_bit_exactly() {
    let model = seed_model();
    let file = model.parent().unwrap().join("model.safetensors");
    let out = ok(&eval(&[
        "--model",
        model.to_str().unwrap(),
        "--export",
        file.to_str().unwrap(),
    ]));
    assert!(out.contains("safetensors, 4 tensors"), "{out}");
    let (original, _) = cli::load_model(model).unwrap();
    let (back, _) = cli::load_model(&file).unwrap();
    assert_eq!(back.spec, original.spec);
    assert_eq!(back.params, original.params);
    for (name, t) in &original.params {
        let a: Vec<u32> = t.data.iter().map(|v| v.to_bits()).collect();
        let b: Vec<u32> = back.params[name].data.iter().map(|v| v.to_bits()).collect();
        assert_eq!(a, b, "{name}");
    }
    assert_eq!(back.meta["seed"], 1);
    assert_eq!(check_json(&file, &[]), check_json(model, &[]));
    // Written again from the safetensors file: the same bytes.
    let again = model.parent().unwrap().join("again.safetensors");
    ok(&eval(&[
        "--model",
        file.to_str().unwrap(),
        "--export",
        again.to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&file).unwrap()
    );
}

/// A state_dict as `safetensors.torch.save_file(nn.Sequential(...).state_dict(), path)`
/// writes it: `<index>.weight` / `<index>.bias`, F32 unless changed, `{"format": "pt"}`.
fn pytorch_file(path: &Path, tensors: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(&str, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            (
                *n,
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    std::fs::write(path, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
}

fn le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn a_pytorch_state_dict_loads_onto_arch_with_identical_predictions() {
    let model = seed_model();
    let (saved, _) = cli::load_model(model).unwrap();
    let p = |name: &str| saved.params[name].clone();
    let f32 = safetensors::Dtype::F32;
    // nn.Sequential(Conv2d(1, 8, 3), ReLU(), MaxPool2d(2), Flatten(), Linear(1352, 10))
    let good = vec![
        (
            "0.weight",
            f32,
            p("0.conv.weight").shape,
            le(&p("0.conv.weight").data),
        ),
        (
            "0.bias",
            f32,
            p("0.conv.bias").shape,
            le(&p("0.conv.bias").data),
        ),
        (
            "4.weight",
            f32,
            p("4.dense.weight").shape,
            le(&p("4.dense.weight").data),
        ),
        (
            "4.bias",
            f32,
            p("4.dense.bias").shape,
            le(&p("4.dense.bias").data),
        ),
    ];
    let dir = scratch("pytorch");
    let file = dir.join("torch.safetensors");
    pytorch_file(&file, &good);
    let ours = check_json(model, &[]);
    assert_eq!(check_json(&file, &["--arch", "seed"]), ours);
    assert_eq!(
        check_json(&file, &["--arch", "conv8x3,relu,pool2,flatten,dense10"]),
        ours
    );

    let fails = |tensors: Vec<(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)>,
                 arch: &[&str],
                 needle: &str| {
        let bad = dir.join("bad.safetensors");
        pytorch_file(&bad, &tensors);
        let mut args = vec!["--model", bad.to_str().unwrap(), "--count", "10"];
        args.extend_from_slice(arch);
        assert_one_line_error(&eval(&args), needle);
        assert_one_line_error(&eval(&args), "bad.safetensors");
    };
    let arch = ["--arch", "seed"];
    fails(
        good.clone(),
        &[],
        "PyTorch state_dict (names like '0.bias'): give the architecture",
    );
    let mut renamed = good.clone();
    renamed[2].0 = "3.weight";
    fails(
        renamed,
        &arch,
        "tensor '4.weight' (for 4.dense.weight, shape [10, 1352]) is missing",
    );
    let mut reshaped = good.clone();
    reshaped[0].2 = vec![8, 1, 9];
    fails(
        reshaped,
        &arch,
        "tensor '0.weight' has shape [8, 1, 9], the architecture needs [8, 1, 3, 3] for 0.conv.weight",
    );
    let mut doubled = good.clone();
    let bias64: Vec<u8> = p("4.dense.bias")
        .data
        .iter()
        .flat_map(|&v| f64::from(v).to_le_bytes())
        .collect();
    doubled[3] = ("4.bias", safetensors::Dtype::F64, vec![10], bias64);
    fails(doubled, &arch, "tensor '4.bias' is F64, expected F32");
    let mut extra = good.clone();
    extra.push(("1.weight", f32, vec![1], le(&[1.0])));
    fails(
        extra,
        &arch,
        "layer 1 of the architecture is ReLU, which has no parameters",
    );
    fails(
        good.clone(),
        &["--arch", "lenet"],
        "the architecture needs [32, 1, 3, 3]",
    );
    let args = ["--model", file.to_str().unwrap(), "--arch", "conv8y3"];
    assert_one_line_error(
        &eval(&args),
        "invalid value 'conv8y3' for '--arch <ARCH>': invalid model spec",
    );
}
