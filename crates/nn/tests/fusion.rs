//! `Sequential` runs convolution + ReLU + 2x2 max-pool fused; these tests train the same
//! networks fused and layer by layer and require bit-identical losses, logits, gradients and
//! parameters, including where the fused step must fall back to the layers (a convolution
//! output smaller than the pool window) and where the pattern is broken by another layer.

use nn::{softmax_cross_entropy, ModelSpec, Sequential, Sgd};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::Tensor;

fn random_batch(n: usize, side: usize, seed: u64) -> (Tensor, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Tensor::uniform(vec![n, 1, side, side], 0.0, 1.0, || rng.next_u32());
    let labels = (0..n).map(|_| rng.next_u32() as usize % 10).collect();
    (x, labels)
}

fn param_bits(model: &Sequential, grads: bool) -> Vec<(String, Vec<u32>)> {
    let mut out = Vec::new();
    model.visit_params_ref(&mut |name, p| {
        let t = if grads { &p.grad } else { &p.value };
        out.push((
            name.to_string(),
            t.data().iter().map(|v| v.to_bits()).collect(),
        ));
    });
    out
}

/// Trains `arch` fused and unfused side by side for `steps` SGD steps on batches of `n`
/// 28x28 images, comparing everything after every step.
fn fused_equals_unfused(arch: &str, n: usize, steps: u64) {
    let spec = ModelSpec::parse(arch).unwrap();
    let mut fused = spec.build(3).unwrap();
    let mut plain = spec.build(3).unwrap();
    plain.set_fusion(false);
    let mut sgd_f = Sgd::new(0.05, 0.9, 0.0).unwrap();
    let mut sgd_p = Sgd::new(0.05, 0.9, 0.0).unwrap();
    for step in 0..steps {
        let (x, labels) = random_batch(n, 28, step);
        let mut losses = Vec::new();
        for model in [&mut fused, &mut plain] {
            model.zero_grad();
            model.set_step(3, step);
            let logits = model.forward(&x).unwrap();
            let out = softmax_cross_entropy(&logits, &labels).unwrap();
            model.backward(&out.grad_logits).unwrap();
            losses.push(out.loss.to_bits());
            if !arch.contains("dropout") {
                assert_eq!(
                    model.infer(&x).unwrap().data(),
                    logits.data(),
                    "{arch}: infer equals forward"
                );
            }
        }
        assert_eq!(losses[0], losses[1], "{arch}: loss at step {step}");
        assert_eq!(
            param_bits(&fused, true),
            param_bits(&plain, true),
            "{arch}: gradients at step {step}"
        );
        sgd_f.step(&mut fused);
        sgd_p.step(&mut plain);
        assert_eq!(
            param_bits(&fused, false),
            param_bits(&plain, false),
            "{arch}: parameters after step {step}"
        );
    }
}

#[test]
fn lenet_style_network_trains_bit_identically_fused_and_layer_by_layer() {
    fused_equals_unfused(
        "conv6x3p1,relu,pool2,conv8x3p1,relu,pool2,flatten,dense16,relu,dense10",
        19,
        4,
    );
}

/// The largest difference between two sets of named values, as a fraction of the largest
/// magnitude in each (the tensor's scale).
fn worst_relative(a: &[(String, Vec<u32>)], b: &[(String, Vec<u32>)]) -> f32 {
    let mut worst = 0.0f32;
    for ((name, x), (other, y)) in a.iter().zip(b) {
        assert_eq!(name, other);
        let (x, y): (Vec<f32>, Vec<f32>) = (
            x.iter().map(|v| f32::from_bits(*v)).collect(),
            y.iter().map(|v| f32::from_bits(*v)).collect(),
        );
        let scale = y.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
        for (p, q) in x.iter().zip(&y) {
            worst = worst.max((p - q).abs() / scale);
        }
    }
    worst
}

#[test]
fn a_network_with_winograd_convolutions_trains_within_rounding_of_the_layers() {
    // The second convolution (16 -> 32 channels, 3x3, an even 14x14 output) runs as
    // Winograd's in training's forward and input gradient: not the layers' bits, but within
    // their rounding, step after step; `infer` stays the layers' to the bit.
    let arch = "conv16x3p1,relu,pool2,conv32x3p1,relu,pool2,flatten,dense10";
    let spec = ModelSpec::parse(arch).unwrap();
    let mut fused = spec.build(5).unwrap();
    let mut plain = spec.build(5).unwrap();
    plain.set_fusion(false);
    let mut sgd_f = Sgd::new(0.05, 0.9, 0.0).unwrap();
    let mut sgd_p = Sgd::new(0.05, 0.9, 0.0).unwrap();
    let mut any_differs = false;
    for step in 0..3 {
        let (x, labels) = random_batch(11, 28, 40 + step);
        let mut losses = Vec::new();
        let mut logits = Vec::new();
        for model in [&mut fused, &mut plain] {
            model.zero_grad();
            let y = model.forward(&x).unwrap();
            let out = softmax_cross_entropy(&y, &labels).unwrap();
            model.backward(&out.grad_logits).unwrap();
            losses.push(out.loss);
            logits.push(y);
        }
        any_differs |= logits[0].data() != logits[1].data();
        let fused_infer = fused.infer(&x).unwrap();
        fused.set_fusion(false);
        let layers_infer = fused.infer(&x).unwrap();
        fused.set_fusion(true);
        assert_eq!(
            fused_infer.data(),
            layers_infer.data(),
            "infer is the layers' at step {step}"
        );
        let scale = logits[1].data().iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (a, b) in logits[0].data().iter().zip(logits[1].data()) {
            assert!(
                (a - b).abs() <= 1e-5 * scale,
                "logits at step {step}: {a} against {b}"
            );
        }
        assert!(
            (losses[0] - losses[1]).abs() <= 1e-5 * losses[1],
            "loss at step {step}"
        );
        // (Setting the fusion again kept the gradients: only the plan changes.)
        let grads = worst_relative(&param_bits(&fused, true), &param_bits(&plain, true));
        assert!(grads <= 1e-4, "gradients at step {step}: {grads}");
        sgd_f.step(&mut fused);
        sgd_p.step(&mut plain);
        let params = worst_relative(&param_bits(&fused, false), &param_bits(&plain, false));
        assert!(params <= 1e-5, "parameters after step {step}: {params}");
    }
    assert!(any_differs, "the Winograd layer did not run");
}

#[test]
fn seed_network_and_odd_sizes_train_bit_identically_fused_and_layer_by_layer() {
    fused_equals_unfused("seed", 9, 3);
    // 28 -> 26 -> 13, then an odd 11x11 convolution output whose last row and column the
    // pool drops.
    fused_equals_unfused(
        "conv4x3,relu,pool2,conv5x3,relu,pool2,flatten,dense10",
        9,
        3,
    );
    // A strided convolution with an odd output (13x13), and dropout breaking a pattern.
    fused_equals_unfused(
        "conv3x3s2,relu,pool2,conv4x3,relu,dropout0.5,pool2,flatten,dense10",
        10,
        3,
    );
}

#[test]
fn a_convolution_output_smaller_than_the_pool_window_gives_the_layers_error() {
    // 5x5 -> conv 5x5 -> 1x1: the pool cannot run; both paths must say so the same way.
    let spec = ModelSpec::parse("conv2x3,relu,pool2,flatten,dense10");
    let mut model = spec.unwrap().build(1).unwrap();
    let x = Tensor::zeros(vec![2, 1, 3, 3]);
    let fused_err = model.forward(&x).unwrap_err().to_string();
    model.set_fusion(false);
    let plain_err = model.forward(&x).unwrap_err().to_string();
    assert_eq!(fused_err, plain_err);
    assert!(fused_err.starts_with("pool: expected input"), "{fused_err}");
}

#[test]
fn backward_before_forward_is_an_error_in_a_fused_network() {
    let mut model = ModelSpec::lenet().build(1).unwrap();
    let err = model.backward(&Tensor::zeros(vec![2, 10])).unwrap_err();
    assert!(
        err.to_string().contains("backward called before forward"),
        "{err}"
    );
}

/// Two copies of a layer, one run on borrowed tensors and one on tensors handed over
/// (`forward_owned`, `backward_owned`, which `Sequential` uses after the first step): the
/// same outputs, input gradients and parameter gradients, bit for bit.
fn owned_equals_borrowed(make: impl Fn() -> Box<dyn nn::Layer>, input: Vec<usize>) {
    let (mut borrowed, mut owned) = (make(), make());
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let x = Tensor::uniform(input, -1.0, 1.0, || rng.next_u32());
    for layer in [&mut borrowed, &mut owned] {
        layer.set_step(5, 2);
    }
    let y = borrowed.forward(&x).unwrap();
    let y_owned = owned.forward_owned(x.clone()).unwrap();
    let bits = |t: &Tensor| {
        (
            t.shape().to_vec(),
            t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(bits(&y), bits(&y_owned), "{}: forward", borrowed.name());
    let g = Tensor::uniform(y.shape().to_vec(), -1.0, 1.0, || rng.next_u32());
    let gi = borrowed.backward(&g).unwrap();
    let gi_owned = owned.backward_owned(g.clone()).unwrap();
    assert_eq!(
        bits(&gi),
        bits(&gi_owned),
        "{}: input gradient",
        borrowed.name()
    );
    let grads = |l: &dyn nn::Layer| {
        let mut out = Vec::new();
        l.visit_params_ref(&mut |name, p| out.push((name.to_string(), bits(&p.grad))));
        out
    };
    assert_eq!(
        grads(&*borrowed),
        grads(&*owned),
        "{}: parameter gradients",
        borrowed.name()
    );
}

#[test]
fn every_layer_computes_the_same_on_a_tensor_handed_over() {
    let conv = || -> Box<dyn nn::Layer> {
        let config = nn::Conv2dConfig {
            filters: 4,
            kernel: 3,
            stride: 1,
            padding: 1,
        };
        Box::new(nn::Conv2d::new(2, config, &mut ChaCha8Rng::seed_from_u64(1)).unwrap())
    };
    owned_equals_borrowed(conv, vec![3, 2, 6, 6]);
    owned_equals_borrowed(
        || Box::new(nn::Dense::new(12, 5, &mut ChaCha8Rng::seed_from_u64(2)).unwrap()),
        vec![4, 12],
    );
    owned_equals_borrowed(|| Box::new(nn::Flatten::new()), vec![3, 2, 4, 4]);
    owned_equals_borrowed(|| Box::new(nn::Relu::new()), vec![3, 7]);
    owned_equals_borrowed(|| Box::new(nn::MaxPool2x2::new()), vec![2, 3, 5, 4]);
    owned_equals_borrowed(|| Box::new(nn::Dropout::new(0.5, 9).unwrap()), vec![3, 8]);
}
