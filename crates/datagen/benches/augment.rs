//! Augmentation cost per 28x28 image, beside the plain byte-to-float conversion that every
//! training step does anyway (the ratio is what `--augment` adds to an epoch).
//!
//! `cargo bench -p datagen --bench augment`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datagen::{to_unit, Augment};
use std::hint::black_box;

fn augment(c: &mut Criterion) {
    let image: Vec<u8> = (0..784u32).map(|i| (i * 97 % 256) as u8).collect();
    let mut out = vec![0.0f32; 784];
    let mut group = c.benchmark_group("augment_28x28");
    group.throughput(Throughput::Elements(1));
    group.bench_function("to_unit", |b| {
        b.iter(|| {
            for (o, &p) in out.iter_mut().zip(black_box(&image)) {
                *o = to_unit(p);
            }
        })
    });
    for (name, aug) in [
        ("basic", Augment::default()),
        ("elastic", Augment::with_elastic()),
    ] {
        let mut key = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                key += 1;
                aug.apply_bytes(&mut out, black_box(&image), 28, 28, 7, key);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, augment);
criterion_main!(benches);
