//! The im2col convolution on the seed network's shapes (64 images of 1x28x28, 8 filters of
//! 3x3) against `tensor::reference`, forward and backward, in the same run; and the pieces of
//! a LeNet-style training step's second convolution (64 images of 32x14x14, 64 filters of
//! 3x3, padding 1, then ReLU and pool): the fused forward (direct with AVX-512), the backward
//! to the weight alone and with the input gradient (what remains of a LeNet-style step).
//!
//! `cargo bench -p tensor --bench conv`.

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use tensor::{reference, Conv2dGeometry};

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|_| tensor::unit_f32(rng.next_u32()) - 0.5)
        .collect()
}

fn conv(c: &mut Criterion) {
    let g = Conv2dGeometry::new([64, 1, 28, 28], 8, [3, 3], 1, 0).unwrap();
    let input = random(g.n() * g.input_image_len(), 1);
    let weight = random(g.weight_len(), 2);
    let bias = random(g.c_out(), 3);
    let grad_out = random(g.n() * g.output_image_len(), 4);
    let mut out = vec![0.0f32; grad_out.len()];
    let mut group = c.benchmark_group("conv_seed_batch64");
    group.sample_size(20);
    group.bench_function("forward/fast", |b| {
        b.iter(|| tensor::conv2d_forward(&mut out, black_box(&input), &weight, &bias, &g).unwrap())
    });
    group.bench_function("forward/reference", |b| {
        b.iter(|| reference::conv2d_forward(black_box(&input), &weight, &bias, &g))
    });
    let (mut gw, mut gb) = (vec![0.0f32; weight.len()], vec![0.0f32; bias.len()]);
    group.bench_function("backward_weight/fast", |b| {
        b.iter(|| {
            tensor::conv2d_backward(
                None,
                &mut gw,
                &mut gb,
                black_box(&grad_out),
                &input,
                &weight,
                &g,
            )
            .unwrap()
        })
    });
    group.bench_function("backward/reference", |b| {
        b.iter(|| reference::conv2d_backward(black_box(&grad_out), &input, &weight, &g))
    });
    group.finish();
}

fn conv_lenet(c: &mut Criterion) {
    let g = Conv2dGeometry::new([64, 32, 14, 14], 64, [3, 3], 1, 1).unwrap();
    let input = random(g.n() * g.input_image_len(), 5);
    let weight: Vec<f32> = random(g.weight_len(), 6).iter().map(|v| v * 0.2).collect();
    let bias = random(g.c_out(), 7);
    let pooled_len = g.n() * g.c_out() * (g.h_out() / 2) * (g.w_out() / 2);
    let (mut pooled, mut codes) = (vec![0.0f32; pooled_len], vec![0u8; pooled_len]);
    let grad_pooled = random(pooled_len, 8);
    let (mut gw, mut gb) = (vec![0.0f32; weight.len()], vec![0.0f32; bias.len()]);
    let mut gi = vec![0.0f32; input.len()];
    let mut group = c.benchmark_group("conv_lenet2_batch64");
    group.sample_size(20);
    group.bench_function("relu_pool_forward", |b| {
        b.iter(|| {
            tensor::conv2d_relu_pool_forward(
                &mut pooled,
                &mut codes,
                black_box(&input),
                &weight,
                &bias,
                &g,
            )
            .unwrap()
        })
    });
    for (name, with_input) in [
        ("backward_weight", false),
        ("backward_weight_and_input", true),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                tensor::conv2d_relu_pool_backward(
                    with_input.then_some(&mut gi[..]),
                    &mut gw,
                    &mut gb,
                    black_box(&grad_pooled),
                    &codes,
                    &input,
                    &weight,
                    &g,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, conv, conv_lenet);
criterion_main!(benches);
