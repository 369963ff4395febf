//! Training behaviour of the seed network: it can fit a small batch, and its parameters do
//! not depend on the number of threads.

use nn::{softmax_cross_entropy, ModelSpec, Sequential, Sgd};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::Tensor;

fn random_batch(n: usize, seed: u64) -> (Tensor, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Tensor::uniform(vec![n, 1, 28, 28], 0.0, 1.0, || rng.next_u32());
    let labels = (0..n).map(|_| rng.next_u32() as usize % 10).collect();
    (x, labels)
}

fn step(model: &mut Sequential, sgd: &mut Sgd, x: &Tensor, labels: &[usize]) -> f32 {
    model.zero_grad();
    let logits = model.forward(x).unwrap();
    let out = softmax_cross_entropy(&logits, labels).unwrap();
    model.backward(&out.grad_logits).unwrap();
    sgd.step(model);
    out.loss
}

fn accuracy(model: &Sequential, x: &Tensor, labels: &[usize]) -> f32 {
    let pred = model.infer(x).unwrap().argmax_rows().unwrap();
    pred.iter().zip(labels).filter(|(p, l)| p == l).count() as f32 / labels.len() as f32
}

#[test]
fn seed_network_memorises_64_random_images_within_500_steps() {
    let (x, labels) = random_batch(64, 1);
    let mut model = ModelSpec::seed().build(1).unwrap();
    let mut sgd = Sgd::new(0.05, 0.9, 0.0).unwrap();
    let mut reached = None;
    for s in 1..=500 {
        step(&mut model, &mut sgd, &x, &labels);
        if accuracy(&model, &x, &labels) == 1.0 {
            reached = Some(s);
            break;
        }
    }
    assert!(
        reached.is_some(),
        "training accuracy {} after 500 steps",
        accuracy(&model, &x, &labels)
    );
}

fn param_bytes(model: &Sequential) -> Vec<u8> {
    let mut bytes = Vec::new();
    model.visit_params_ref(&mut |_, p| {
        for v in p.value.data() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    });
    bytes
}

fn train_20_steps(spec: &ModelSpec, threads: usize) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut model = spec.build(7).unwrap();
        let mut sgd = Sgd::new(0.05, 0.9, 1e-4).unwrap();
        for s in 0..20 {
            let (x, labels) = random_batch(64, 100 + s);
            step(&mut model, &mut sgd, &x, &labels);
        }
        param_bytes(&model)
    })
}

#[test]
fn same_seed_gives_identical_parameter_bytes_with_1_2_and_4_threads() {
    // The seed network and the LeNet-style one (fused conv-ReLU-pool blocks, the panel GEMM,
    // dot tiles, column-split dense products) through the layer-by-layer Sequential.
    for spec in [ModelSpec::seed(), ModelSpec::lenet()] {
        let one = train_20_steps(&spec, 1);
        assert_eq!(one, train_20_steps(&spec, 2), "2 threads differ from 1");
        assert_eq!(one, train_20_steps(&spec, 4), "4 threads differ from 1");
    }
}

#[test]
fn sgd_with_momentum_follows_pytorch_update_rule() {
    // One dense layer, constant gradient: v1 = g, w1 = w0 - lr g; v2 = mu g + g, w2 = w1 - lr v2.
    let spec = ModelSpec {
        input: [1, 1, 1],
        layers: vec![nn::LayerSpec::Flatten, nn::LayerSpec::Dense { units: 1 }],
    };
    let mut model = spec.build(0).unwrap();
    let mut w0 = 0.0;
    model.visit_params(&mut |name, p| {
        if name.ends_with("weight") {
            w0 = p.value.data()[0];
        }
        p.grad.data_mut().fill(1.0);
    });
    let mut sgd = Sgd::new(0.1, 0.5, 0.0).unwrap();
    sgd.step(&mut model);
    sgd.step(&mut model);
    model.visit_params_ref(&mut |name, p| {
        if name.ends_with("weight") {
            let want = w0 - 0.1 * 1.0 - 0.1 * 1.5;
            assert!((p.value.data()[0] - want).abs() < 1e-6);
        }
    });
}
