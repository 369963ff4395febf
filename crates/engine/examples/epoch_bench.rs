//! Times the seed network on Fashion-MNIST the way `shared/bench/torch_bench.py` times
//! PyTorch, so the two can be run interleaved and compared as a ratio:
//!
//! - seconds per epoch of [`engine::train_epoch`] (60,000 images, batch 64, SGD lr 0.05,
//!   momentum 0.9, seed 1 unless given, shuffled each epoch), and test accuracy after each
//!   epoch;
//! - inference images/s over the 10,000 test images in batches of 1,000 (logits and
//!   argmax, median of 5 passes), and single-image latency (median of 1,000 calls after
//!   100 warm-up calls);
//! - [`engine::evaluate`] images/s (softmax, confusion matrix and all).
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo run --release -p engine --example epoch_bench -- [EPOCHS] [DATA_DIR] [fused|generic] [SEED]
//! ```
//!
//! With `generic`, training and `evaluate` run the generic layer-by-layer path on the same
//! initial weights (the inference figures are always the fused path's).
//!
//! Prints one line per epoch on stderr and one JSON line on stdout. Data decoding is not
//! timed.

use std::time::Instant;

use engine::{epoch_order, evaluate_with, train_epoch_with, EpochPlan, ExecPath};
use nn::{FusedSeed, Images, ModelSpec, Sgd};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let epochs: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let dir = args
        .next()
        .unwrap_or_else(|| "/usr/share/datasets/fashion-mnist".into());
    let idx = datagen::idx::load_dir(&dir)?;
    let train = idx.train.ok_or("the data directory has no train split")?;
    let test = idx.test;

    let generic = args.next().is_some_and(|a| a == "generic");
    let seed: u64 = args.next().map_or(Ok(1), |a| a.parse())?;
    let spec = ModelSpec::seed();
    let exec = if generic {
        ExecPath::Layers
    } else {
        ExecPath::Auto
    };
    let mut model = spec.build(seed)?;
    let mut sgd = Sgd::new(0.05, 0.9, 0.0)?;
    let fused = exec
        .fused_for(&model, train.rows(), train.cols())?
        .map(|f| f.isa().to_string());
    let (mut times, mut accs) = (Vec::new(), Vec::new());
    for epoch in 0..epochs {
        let order = epoch_order(train.len(), seed, epoch as u64);
        let started = Instant::now();
        let plan = EpochPlan {
            data: &train,
            order: &order,
            batch_size: 64,
            epoch: epoch as u64,
            first_step: 0,
            seed,
            augment: None,
            start_step: 0,
            stop: None,
            exec,
        };
        let stats = train_epoch_with(&mut model, &mut sgd, &plan, |_| 0.05, |_, _| {})?;
        let seconds = started.elapsed().as_secs_f64();
        let acc = evaluate_with(&model, &test, 1000, 10, exec)?.accuracy;
        eprintln!(
            "digits seed threads={} epoch {}: {seconds:.3}s train-loss {:.4} test-acc {acc:.4}",
            rayon::current_num_threads(),
            epoch + 1,
            stats.loss
        );
        times.push(seconds);
        accs.push(acc);
    }

    // Inference: logits and argmax of the test set in batches of 1,000.
    let mut f = FusedSeed::new(&spec).ok_or("the seed network is not fused")?;
    f.load_params(&model)?;
    let bytes = test.images();
    let len = test.image_len();
    let mut logits = vec![0.0f32; 1000 * 10];
    let mut predicted = vec![0usize; test.len()];
    let mut throughput = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for (b, pred) in predicted.chunks_mut(1000).enumerate() {
            let n = pred.len();
            let images = Images::Bytes(&bytes[b * 1000 * len..(b * 1000 + n) * len]);
            f.infer_into(&mut logits[..n * 10], images)?;
            for (p, row) in pred.iter_mut().zip(logits.chunks_exact(10)) {
                *p = tensor::argmax(row);
            }
        }
        throughput.push(test.len() as f64 / started.elapsed().as_secs_f64());
    }
    let mut latency = Vec::new();
    let mut one = [0.0f32; 10];
    for k in 0..1100 {
        let image = Images::Bytes(&bytes[k * len..(k + 1) * len]);
        let started = Instant::now();
        f.infer_into(&mut one, image)?;
        let class = tensor::argmax(&one);
        let us = started.elapsed().as_secs_f64() * 1e6;
        std::hint::black_box(class);
        if k >= 100 {
            latency.push(us);
        }
    }
    let mut evaluate_rate = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        std::hint::black_box(evaluate_with(&model, &test, 1000, 10, exec)?);
        evaluate_rate.push(test.len() as f64 / started.elapsed().as_secs_f64());
    }

    println!(
        "{{\"tool\": \"digits\", \"net\": \"seed\", \"threads\": {}, \"isa\": {:?}, \
         \"epoch_s\": {:?}, \"epoch_median_s\": {:.3}, \"acc\": {:?}, \
         \"infer_img_s_median\": {:.0}, \"latency_us_median\": {:.2}, \
         \"evaluate_img_s_median\": {:.0}}}",
        rayon::current_num_threads(),
        fused.unwrap_or_else(|| "generic".into()),
        times
            .iter()
            .map(|t| (t * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        median(times.clone()),
        accs,
        median(throughput),
        median(latency),
        median(evaluate_rate),
    );
    Ok(())
}
