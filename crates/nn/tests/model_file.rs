//! Model files: save then load gives bit-identical logits, and every kind of bad file is a
//! typed error, not a panic.

use nn::{Error, ModelSpec, SavedModel, FORMAT_VERSION};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::Tensor;

fn saved() -> (SavedModel, nn::Sequential) {
    let spec = ModelSpec::seed();
    let model = spec.build(5).unwrap();
    let mut meta = serde_json::Map::new();
    meta.insert("seed".into(), 5.into());
    (SavedModel::new(&spec, &model, meta), model)
}

#[test]
fn save_then_load_gives_bit_identical_logits() {
    let (file, model) = saved();
    let json = file.to_json().unwrap();
    let loaded = SavedModel::from_json(&json).unwrap();
    assert_eq!(loaded, file);
    let again = loaded.build().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = Tensor::uniform(vec![16, 1, 28, 28], 0.0, 1.0, || rng.next_u32());
    let a: Vec<u32> = model
        .infer(&x)
        .unwrap()
        .data()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    let b: Vec<u32> = again
        .infer(&x)
        .unwrap()
        .data()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert_eq!(a, b);
    assert_eq!(loaded.meta["seed"], 5);
}

#[test]
fn every_f32_bit_pattern_class_round_trips() {
    let values = [
        0.0f32,
        -0.0,
        1.0,
        0.1,
        -0.3,
        f32::MIN_POSITIVE,
        1e-45,
        3.4e38,
        -3.4e38,
        1.0 / 3.0,
        0.7,
        16_777_217.0,
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut all: Vec<f32> = values.to_vec();
    all.extend((0..5000).map(|_| f32::from_bits(rng.next_u32() & 0x7f7f_ffff)));
    let t = nn::TensorData {
        shape: vec![all.len()],
        data: all.clone(),
    };
    let json = serde_json::to_string(&t).unwrap();
    let back: nn::TensorData = serde_json::from_str(&json).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back.data), bits(&all));
}

fn edit(f: impl FnOnce(&mut serde_json::Value)) -> String {
    let (file, _) = saved();
    let mut v: serde_json::Value = serde_json::from_str(&file.to_json().unwrap()).unwrap();
    f(&mut v);
    v.to_string()
}

fn load(json: &str) -> nn::Result<nn::Sequential> {
    SavedModel::from_json(json)?.build()
}

#[test]
fn wrong_format_version_is_a_typed_error() {
    let json = edit(|v| v["format_version"] = 99.into());
    let err = load(&json).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnsupportedVersion {
                found: 99,
                supported: FORMAT_VERSION
            }
        ),
        "{err}"
    );
}

#[test]
fn missing_parameter_is_a_typed_error() {
    let json = edit(|v| {
        v["params"].as_object_mut().unwrap().remove("4.dense.bias");
    });
    let err = load(&json).unwrap_err();
    assert_eq!(err.to_string(), "model file has no parameter 4.dense.bias");
}

#[test]
fn extra_parameter_is_a_typed_error() {
    let json = edit(|v| {
        let bias = v["params"]["4.dense.bias"].clone();
        v["params"]
            .as_object_mut()
            .unwrap()
            .insert("5.dense.bias".into(), bias);
    });
    let err = load(&json).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model file has a parameter 5.dense.bias that the spec does not use"
    );
}

#[test]
fn mis_shaped_parameter_is_a_typed_error() {
    let json = edit(|v| {
        v["params"]["4.dense.bias"] = serde_json::json!({"shape": [9], "data": vec![0.0; 9]});
    });
    let err = load(&json).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter 4.dense.bias: expected shape [10], got [9]"
    );
}

#[test]
fn shape_that_disagrees_with_its_data_is_a_typed_error() {
    let json = edit(|v| {
        v["params"]["4.dense.bias"] = serde_json::json!({"shape": [10], "data": vec![0.0; 3]});
    });
    assert!(matches!(load(&json).unwrap_err(), Error::ParamShape { .. }));
}

#[test]
fn nan_weight_is_a_typed_error() {
    let (mut file, _) = saved();
    file.params.get_mut("0.conv.weight").unwrap().data[4] = f32::NAN;
    let json = file.to_json().unwrap();
    let err = load(&json).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter 0.conv.weight holds a non-finite value at index 4"
    );
}

#[test]
fn truncated_json_is_a_typed_error() {
    let (file, _) = saved();
    let json = file.to_json().unwrap();
    for cut in [0, 1, 20, json.len() / 2, json.len() - 1] {
        let err = load(&json[..cut]).unwrap_err();
        assert!(matches!(err, Error::Json(_)), "cut at {cut}: {err}");
    }
}

#[test]
fn invalid_spec_in_file_is_a_typed_error() {
    let json = edit(|v| {
        v["spec"]["layers"].as_array_mut().unwrap().remove(3);
    });
    let err = load(&json).unwrap_err();
    assert!(err.to_string().contains("add flatten before it"), "{err}");
}

#[test]
fn garbage_never_panics() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (file, _) = saved();
    let json = file.to_json().unwrap().into_bytes();
    for _ in 0..300 {
        let mut bytes = json.clone();
        for _ in 0..4 {
            let i = rng.next_u32() as usize % bytes.len();
            bytes[i] = b"{}[]:,0123456789.-enull\"x"[rng.next_u32() as usize % 25];
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = load(&text);
    }
}

// See: issue #9 (checksums).
#[test]
fn issue_9_a_changed_value_fails_the_checksum() {
    // Nudge one weight by one ulp: still valid JSON, right shapes, finite, but not the
    // parameters that were saved.
    let json = edit(|v| {
        let w = &mut v["params"]["0.conv.weight"]["data"][3];
        let x = w.as_f64().unwrap() as f32;
        *w = serde_json::json!(f64::from(f32::from_bits(x.to_bits() + 1)));
    });
    let err = load(&json).unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err}");
    assert!(err.to_string().contains("the file is damaged"));
}

#[test]
fn issue_9_a_file_without_checksum_is_refused() {
    let json = edit(|v| {
        v.as_object_mut().unwrap().remove("checksum");
    });
    let err = load(&json).unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err}");
}

// See: issue #9 (fuzzing). Found by the `model_file` fuzz target: a spec asking for a dense
// layer of 344,454,444,440,444 units made loading allocate its weights (1.3 PB) before
// comparing them with the file; now the spec's shapes are checked against the stored
// parameters first.
#[test]
fn issue_9_fuzz_huge_layer_in_a_small_file_is_refused_without_allocating() {
    let text = include_str!("fuzz_regressions/model_file_huge_dense.json");
    let err = load(text).unwrap_err();
    assert!(
        matches!(err, Error::ParamShape { .. } | Error::InvalidSpec { .. }),
        "{err}"
    );
    // The same through the command-line grammar: refused before any allocation.
    let err = ModelSpec::parse("flatten,dense344454444440444").unwrap_err();
    assert!(err.to_string().contains("more than"), "{err}");
}
