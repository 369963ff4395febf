//! `--arch` spec strings: the grammar, and a clear error for every kind of bad token.

use nn::{LayerSpec, ModelSpec};

#[test]
fn names_and_layer_lists_parse() {
    assert_eq!(ModelSpec::parse("seed").unwrap(), ModelSpec::seed());
    assert_eq!(ModelSpec::parse("lenet").unwrap(), ModelSpec::lenet());
    let spec = ModelSpec::parse(
        "conv16x5p2,relu,pool2,conv32x3s2,relu,flatten,dense64,relu,dropout0.25,dense10",
    )
    .unwrap();
    assert_eq!(
        spec.layers[0],
        LayerSpec::Conv2d {
            filters: 16,
            kernel: 5,
            stride: 1,
            padding: 2
        }
    );
    assert_eq!(
        spec.layers[3],
        LayerSpec::Conv2d {
            filters: 32,
            kernel: 3,
            stride: 2,
            padding: 0
        }
    );
    assert_eq!(spec.layers[8], LayerSpec::Dropout { rate: 0.25 });
    // 28 -pad2 conv5-> 28 -pool-> 14 -conv3 s2-> 6: 32 * 6 * 6 = 1152 features.
    assert_eq!(spec.shapes().unwrap()[5], vec![1152]);
    assert_eq!(spec.classes().unwrap(), 10);
    assert_eq!(
        spec.to_string(),
        "Conv2D 16@5x5 pad 2 -> ReLU -> MaxPool2x2 -> Conv2D 32@3x3 stride 2 -> ReLU -> Flatten -> Dense 64 -> ReLU -> Dropout 0.25 -> Dense 10"
    );
}

#[test]
fn the_seed_network_written_as_tokens_is_the_seed_network() {
    assert_eq!(
        ModelSpec::parse("conv8x3,relu,pool2,flatten,dense10").unwrap(),
        ModelSpec::seed()
    );
}

#[test]
fn every_bad_token_names_itself_and_the_reason() {
    for (text, needle) in [
        (
            "conv8y3,relu",
            "token 1 'conv8y3': expected conv<filters>x<kernel>",
        ),
        (
            "conv0x3,flatten,dense10",
            "token 1 'conv0x3': filters must be a positive whole number",
        ),
        (
            "conv8x3q1,flatten,dense10",
            "token 1 'conv8x3q1': expected conv",
        ),
        (
            "conv8x3,relu,pool3,flatten,dense10",
            "token 3 'pool3': unknown layer",
        ),
        ("conv8x3,,dense10", "token 2 '': empty layer"),
        (
            "flatten,dense0",
            "token 2 'dense0': units must be a positive whole number",
        ),
        (
            "flatten,dropout1.5,dense10",
            "token 2 'dropout1.5': dropout rate must be a number in [0, 1)",
        ),
        ("conv8x3,relu,dense10", "add flatten before it"),
        ("conv8x30,flatten,dense10", "layer 0 (Conv2D 8@30x30)"),
    ] {
        let err = ModelSpec::parse(text).unwrap_err().to_string();
        assert!(err.contains(needle), "{text}: {err:?} lacks {needle:?}");
        assert_eq!(err.lines().count(), 1);
    }
}

#[test]
fn a_spec_with_dropout_trains_reproducibly() {
    let spec = ModelSpec::parse("flatten,dense32,relu,dropout0.5,dense10").unwrap();
    let run = || {
        let mut model = spec.build(3).unwrap();
        let mut sgd = nn::Sgd::new(0.1, 0.9, 0.0).unwrap();
        let x = tensor::Tensor::full(vec![4, 1, 28, 28], 0.3);
        for step in 0..5 {
            model.zero_grad();
            model.set_step(3, step);
            let out =
                nn::softmax_cross_entropy(&model.forward(&x).unwrap(), &[1, 2, 3, 4]).unwrap();
            model.backward(&out.grad_logits).unwrap();
            sgd.step(&mut model);
        }
        model.infer(&x).unwrap()
    };
    assert_eq!(run(), run());
}
