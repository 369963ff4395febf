//! The matmul kernels on the seed network's shapes against `tensor::reference::matmul`, in
//! the same run (batch 64; dense layer 1352 -> 10; one image's convolution as a GEMM).
//!
//! `cargo bench -p tensor --bench matmul`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use tensor::reference;

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|_| tensor::unit_f32(rng.next_u32()) - 0.5)
        .collect()
}

type Kernel = fn(&mut [f32], &[f32], &[f32], usize, usize, usize) -> tensor::Result<()>;

fn matmul(c: &mut Criterion) {
    // (name, kernel, m, k, n): the products of one seed-network training step.
    let cases: [(&str, Kernel, usize, usize, usize); 4] = [
        ("dense_forward_nt", tensor::matmul_nt_into, 64, 1352, 10),
        ("dense_grad_weight_tn", tensor::matmul_tn_into, 10, 64, 1352),
        ("dense_grad_input", tensor::matmul_into, 64, 10, 1352),
        ("conv_image_gemm", tensor::matmul_into, 8, 9, 676),
    ];
    let mut group = c.benchmark_group("matmul");
    for (name, kernel, m, k, n) in cases {
        let (a, b) = (random(m * k, 1), random(k * n, 2));
        let mut out = vec![0.0f32; m * n];
        let shape = format!("{m}x{k}x{n}");
        group.bench_function(BenchmarkId::new(format!("{name}/fast"), &shape), |bench| {
            bench.iter(|| kernel(&mut out, black_box(&a), black_box(&b), m, k, n).unwrap())
        });
        group.bench_function(
            BenchmarkId::new(format!("{name}/reference"), &shape),
            |bench| bench.iter(|| reference::matmul(black_box(&a), black_box(&b), m, k, n)),
        );
    }
    group.finish();
}

criterion_group!(benches, matmul);
criterion_main!(benches);
