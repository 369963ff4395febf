//! Finite-difference gradient checks for every layer, the loss and the whole seed network.
//!
//! One harness serves all: the scalar checked is a random projection `L = Σ out · r` of the
//! layer output (so the upstream gradient is not all ones), or the cross-entropy loss itself.
//! Central differences are formed from `infer` (which caches nothing), accumulated in `f64`,
//! and compared with a mixed absolute/relative tolerance.
//!
//! Kinks: conv, dense and flatten are linear; ReLU and max-pool are piecewise linear, and a
//! difference that straddles a kink (an input crossing 0, a pooling window changing its
//! winner) is meaningless. The layer tests keep inputs away from kinks (|x| >= 0.1 for ReLU,
//! pool windows built from distinct values 0.1 apart); the network test skips the few
//! coordinates whose two one-sided differences disagree, which depends on the forward pass
//! only and so cannot hide a wrong backward.

use nn::{
    softmax_cross_entropy, Conv2d, Conv2dConfig, Dense, Flatten, Layer, MaxPool2x2, ModelSpec,
    Relu, Sequential,
};
use proptest::prelude::*;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::Tensor;

const EPS: f32 = 3e-2;

fn random_tensor(shape: Vec<usize>, rng: &mut ChaCha8Rng) -> Tensor {
    Tensor::uniform(shape, -1.0, 1.0, || rng.next_u32())
}

fn project(out: &Tensor, r: &Tensor) -> f64 {
    out.data()
        .iter()
        .zip(r.data())
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum()
}

fn assert_grad_close(what: &str, i: usize, analytic: f32, numeric: f64) {
    let tol = 5e-4 + 2e-3 * numeric.abs();
    assert!(
        (f64::from(analytic) - numeric).abs() <= tol,
        "{what}[{i}]: backward gives {analytic}, finite differences give {numeric}"
    );
}

/// Checks dL/dx and every dL/dparam of `layer` at `x` for `L = Σ layer(x) · r`.
fn check_layer(layer: &mut dyn Layer, x: &Tensor, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let out = layer.forward(x).unwrap();
    let r = random_tensor(out.shape().to_vec(), &mut rng);
    layer.visit_params(&mut |_, p| p.grad.fill_zero());
    let grad_x = layer.backward(&r).unwrap();

    // Input gradient.
    for i in 0..x.len() {
        let mut plus = x.clone();
        plus.data_mut()[i] += EPS;
        let mut minus = x.clone();
        minus.data_mut()[i] -= EPS;
        let numeric = (project(&layer.infer(&plus).unwrap(), &r)
            - project(&layer.infer(&minus).unwrap(), &r))
            / (2.0 * f64::from(EPS));
        assert_grad_close(
            &format!("{} grad_input", layer.name()),
            i,
            grad_x.data()[i],
            numeric,
        );
    }

    // Parameter gradients: perturb one value at a time through the visitor.
    let mut names = Vec::new();
    layer.visit_params_ref(&mut |name, p| {
        names.push((name.to_owned(), p.value.len(), p.grad.clone()))
    });
    for (name, len, grad) in names {
        for i in 0..len {
            let value_at = |delta: f32, layer: &mut dyn Layer| {
                layer.visit_params(&mut |n, p| {
                    if n == name {
                        p.value.data_mut()[i] += delta;
                    }
                });
            };
            value_at(EPS, layer);
            let up = project(&layer.infer(x).unwrap(), &r);
            value_at(-2.0 * EPS, layer);
            let down = project(&layer.infer(x).unwrap(), &r);
            value_at(EPS, layer);
            let numeric = (up - down) / (2.0 * f64::from(EPS));
            assert_grad_close(
                &format!("{} grad_{name}", layer.name()),
                i,
                grad.data()[i],
                numeric,
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_backward_matches_finite_differences(
        n in 1usize..=3, c_in in 1usize..=3, filters in 1usize..=3, h in 3usize..=7, w in 3usize..=7,
        kernel in 1usize..=3, stride in 1usize..=2, padding in 0usize..=1, seed in any::<u64>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let config = Conv2dConfig { filters, kernel, stride, padding };
        let mut conv = Conv2d::new(c_in, config, &mut rng).unwrap();
        let x = random_tensor(vec![n, c_in, h, w], &mut rng);
        check_layer(&mut conv, &x, seed);
    }

    #[test]
    fn dense_backward_matches_finite_differences(n in 1usize..=4, inputs in 1usize..=12, outputs in 1usize..=6, seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut dense = Dense::new(inputs, outputs, &mut rng).unwrap();
        let x = random_tensor(vec![n, inputs], &mut rng);
        check_layer(&mut dense, &x, seed);
    }

    #[test]
    fn relu_backward_matches_finite_differences(len in 1usize..=40, seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = random_tensor(vec![1, len], &mut rng);
        // Keep every input at least 0.1 from the kink at 0 (EPS is 0.03).
        for v in x.data_mut() {
            *v = if *v >= 0.0 { *v + 0.1 } else { *v - 0.1 };
        }
        check_layer(&mut Relu::new(), &x, seed);
    }

    #[test]
    fn maxpool_backward_matches_finite_differences(planes in 1usize..=4, h in 2usize..=7, w in 2usize..=7, seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Distinct values 0.1 apart, shuffled: no window has a tie or a near-tie within EPS.
        let len = planes * h * w;
        let mut values: Vec<f32> = (0..len).map(|i| i as f32 * 0.1).collect();
        for i in (1..len).rev() {
            values.swap(i, rng.next_u32() as usize % (i + 1));
        }
        let x = Tensor::from_vec(vec![1, planes, h, w], values).unwrap();
        check_layer(&mut MaxPool2x2::new(), &x, seed);
    }

    #[test]
    fn flatten_backward_matches_finite_differences(n in 1usize..=3, c in 1usize..=3, h in 1usize..=4, seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = random_tensor(vec![n, c, h, h], &mut rng);
        check_layer(&mut Flatten::new(), &x, seed);
    }

    #[test]
    fn loss_gradient_matches_finite_differences(n in 1usize..=5, classes in 2usize..=10, scale in 0.1f32..5.0, seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let logits = Tensor::uniform(vec![n, classes], -scale, scale, || rng.next_u32());
        // Some samples are outliers trained towards the uniform distribution (issue 15).
        let labels: Vec<usize> = (0..n)
            .map(|_| match rng.next_u32() as usize % (classes + 2) {
                l if l < classes => l,
                _ => nn::UNIFORM,
            })
            .collect();
        let out = softmax_cross_entropy(&logits, &labels).unwrap();
        let eps = 1e-2f32;
        for i in 0..logits.len() {
            let mut plus = logits.clone();
            plus.data_mut()[i] += eps;
            let mut minus = logits.clone();
            minus.data_mut()[i] -= eps;
            let numeric = (f64::from(softmax_cross_entropy(&plus, &labels).unwrap().loss)
                - f64::from(softmax_cross_entropy(&minus, &labels).unwrap().loss))
                / (2.0 * f64::from(eps));
            assert_grad_close("loss grad_logits", i, out.grad_logits.data()[i], numeric);
        }
    }

    // See: issue #15
    #[test]
    fn issue_15_outlier_exposure_gradient_matches_finite_differences(n in 1usize..=4, classes in 2usize..=10, scale in 0.1f32..5.0, seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let logits = Tensor::uniform(vec![n, classes], -scale, scale, || rng.next_u32());
        let labels = vec![nn::UNIFORM; n];
        let out = softmax_cross_entropy(&logits, &labels).unwrap();
        prop_assert!(out.loss >= -1e-6, "KL from uniform is never negative: {}", out.loss);
        let eps = 1e-2f32;
        for i in 0..logits.len() {
            let mut plus = logits.clone();
            plus.data_mut()[i] += eps;
            let mut minus = logits.clone();
            minus.data_mut()[i] -= eps;
            let numeric = (f64::from(softmax_cross_entropy(&plus, &labels).unwrap().loss)
                - f64::from(softmax_cross_entropy(&minus, &labels).unwrap().loss))
                / (2.0 * f64::from(eps));
            assert_grad_close("outlier grad_logits", i, out.grad_logits.data()[i], numeric);
        }
    }
}

/// Loss of the whole network on a batch, in f64.
fn network_loss(model: &Sequential, x: &Tensor, labels: &[usize]) -> f64 {
    f64::from(
        softmax_cross_entropy(&model.infer(x).unwrap(), labels)
            .unwrap()
            .loss,
    )
}

#[test]
fn seed_network_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let mut model = ModelSpec::seed().build(11).unwrap();
    let x = Tensor::uniform(vec![2, 1, 28, 28], 0.0, 1.0, || rng.next_u32());
    let labels = [3usize, 8];

    model.zero_grad();
    let logits = model.forward(&x).unwrap();
    let out = softmax_cross_entropy(&logits, &labels).unwrap();
    model.backward(&out.grad_logits).unwrap();

    let mut params = Vec::new();
    model.visit_params_ref(&mut |name, p| {
        params.push((name.to_owned(), p.value.len(), p.grad.clone()))
    });
    let eps = 1e-3f32;
    let (mut checked, mut skipped) = (0, 0);
    for (name, len, grad) in params {
        // Every conv weight and bias; every 7th dense weight (13,520 would be slow to check).
        let step = if name.contains("dense.weight") { 7 } else { 1 };
        for i in (0..len).step_by(step) {
            let set = |delta: f32, model: &mut Sequential| {
                model.visit_params(&mut |n, p| {
                    if n == name {
                        p.value.data_mut()[i] += delta;
                    }
                })
            };
            let base = network_loss(&model, &x, &labels);
            set(eps, &mut model);
            let up = network_loss(&model, &x, &labels);
            set(-2.0 * eps, &mut model);
            let down = network_loss(&model, &x, &labels);
            set(eps, &mut model);
            // A kink crossed within ±eps makes the one-sided slopes disagree: skip that value.
            let (right, left) = ((up - base) / f64::from(eps), (base - down) / f64::from(eps));
            if (right - left).abs() > 1e-2 * right.abs().max(left.abs()).max(1e-1) {
                skipped += 1;
                continue;
            }
            checked += 1;
            let numeric = (up - down) / (2.0 * f64::from(eps));
            let analytic = f64::from(grad.data()[i]);
            assert!(
                (analytic - numeric).abs() <= 2e-3 + 2e-2 * numeric.abs(),
                "{name}[{i}]: backward gives {analytic}, finite differences give {numeric}"
            );
        }
    }
    assert!(
        checked > 1500 && skipped * 20 < checked,
        "checked {checked}, skipped {skipped}"
    );
}
