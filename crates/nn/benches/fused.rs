//! The fused seed network against the generic `Sequential` path, in the same run: one
//! training step on a batch of 64 (forward, loss, backward; the SGD update is the same code
//! for both and left out) with each SIMD build the CPU supports, inference of a batch of
//! 1,000 and of a single image.
//!
//! `cargo bench -p nn --bench fused` (set `RAYON_NUM_THREADS` to fix the thread count).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nn::{softmax_cross_entropy, FusedSeed, Images, Isa, ModelSpec};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use tensor::Tensor;

fn batch(n: usize, seed: u64) -> (Vec<u8>, Vec<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let bytes: Vec<u8> = (0..n * 784).map(|_| rng.next_u32() as u8).collect();
    let unit = bytes.iter().map(|&p| f32::from(p) / 255.0).collect();
    let labels = (0..n).map(|_| rng.next_u32() as usize % 10).collect();
    (bytes, unit, labels)
}

fn train_step(c: &mut Criterion) {
    let spec = ModelSpec::seed();
    let (bytes, unit, labels) = batch(64, 1);
    let mut group = c.benchmark_group("seed_train_step");
    group.throughput(Throughput::Elements(64));
    let mut model = spec.build(1).unwrap();
    let mut fused = FusedSeed::new(&spec).unwrap();
    // Every SIMD build this CPU runs (the portable one is exact but slow without FMA).
    for isa in [Isa::Avx512, Isa::Avx2]
        .into_iter()
        .filter(|i| i.is_supported())
    {
        fused.set_isa(isa).unwrap();
        group.bench_function(BenchmarkId::new(format!("fused_{isa}"), 64), |b| {
            b.iter(|| {
                fused
                    .train_step(&mut model, Images::Bytes(black_box(&bytes)), &labels)
                    .unwrap()
            })
        });
    }
    let images = Tensor::from_vec(vec![64, 1, 28, 28], unit).unwrap();
    group.bench_function(BenchmarkId::new("generic", 64), |b| {
        b.iter(|| {
            model.zero_grad();
            let logits = model.forward(black_box(&images)).unwrap();
            let out = softmax_cross_entropy(&logits, &labels).unwrap();
            model.backward(&out.grad_logits).unwrap();
            out.loss
        })
    });
    group.finish();
}

fn inference(c: &mut Criterion) {
    let spec = ModelSpec::seed();
    let model = spec.build(1).unwrap();
    let mut fused = FusedSeed::new(&spec).unwrap();
    fused.load_params(&model).unwrap();
    let mut group = c.benchmark_group("seed_inference");
    for n in [1000, 1] {
        let (bytes, unit, _) = batch(n, 2);
        group.throughput(Throughput::Elements(n as u64));
        let mut logits = vec![0.0f32; n * 10];
        group.bench_function(BenchmarkId::new("fused", n), |b| {
            b.iter(|| {
                fused
                    .infer_into(&mut logits, Images::Bytes(black_box(&bytes)))
                    .unwrap()
            })
        });
        let images = Tensor::from_vec(vec![n, 1, 28, 28], unit).unwrap();
        group.bench_function(BenchmarkId::new("generic", n), |b| {
            b.iter(|| model.infer(black_box(&images)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, train_step, inference);
criterion_main!(benches);
