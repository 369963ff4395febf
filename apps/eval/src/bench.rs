//! `eval --bench`: inference throughput and single-image latency.

use std::time::Instant;

use anyhow::Result;
use engine::Predictor;
use serde_json::json;

use crate::flags::Cli;
use crate::loaded::Loaded;

/// Images per batch for the throughput figure (as in PyTorch's reference benchmark).
const BATCH: usize = 1000;
/// Passes over the test images for the throughput figure; the median is reported.
const PASSES: usize = 5;
/// Single-image calls timed for the latency figure (after 100 untimed ones).
const CALLS: usize = 1000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Times classification (logits and the predicted class) of every test image in batches of
/// 1,000, then of single images one call at a time.
pub fn run(cli: &Cli, m: &Loaded) -> Result<()> {
    let (data, desc) = m.test_data(cli)?;
    println!("{}", m.describe(cli));
    println!("data: {desc}: {} test images", data.len());
    println!();
    let classes = m.names.len();
    let data = &data;
    let mut predictor = Predictor::new(&m.model, data.rows(), data.cols(), classes)?;
    let len = data.image_len();
    let mut logits = Vec::new();
    let mut checksum = 0usize;
    let mut classify = |p: &mut Predictor<'_>, bytes: &[u8], logits: &mut Vec<f32>| -> Result<()> {
        p.logits_into(logits, bytes)?;
        checksum += logits
            .chunks_exact(classes)
            .map(tensor::argmax)
            .sum::<usize>();
        Ok(())
    };
    // One untimed pass warms caches and the thread pool.
    for start in (0..data.len()).step_by(BATCH) {
        let n = BATCH.min(data.len() - start);
        classify(
            &mut predictor,
            &data.images()[start * len..(start + n) * len],
            &mut logits,
        )?;
    }
    let mut rates = Vec::with_capacity(PASSES);
    for _ in 0..PASSES {
        let started = Instant::now();
        for start in (0..data.len()).step_by(BATCH) {
            let n = BATCH.min(data.len() - start);
            classify(
                &mut predictor,
                &data.images()[start * len..(start + n) * len],
                &mut logits,
            )?;
        }
        rates.push(data.len() as f64 / started.elapsed().as_secs_f64());
    }
    let mut latencies = Vec::with_capacity(CALLS);
    for k in 0..CALLS + 100 {
        let i = k % data.len();
        let started = Instant::now();
        classify(&mut predictor, data.image(i), &mut logits)?;
        if k >= 100 {
            latencies.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    let (rate, latency) = (median(rates), median(latencies));
    println!(
        "inference: {rate:.0} images/s ({} images in batches of {BATCH}, median of {PASSES} passes, {}, {} path)",
        data.len(),
        cli::plural(rayon::current_num_threads(), "thread"),
        predictor.path_name()
    );
    println!("latency: {latency:.1} us per single image (median of {CALLS} calls)");
    // Keeps the work observable so it cannot be optimised away.
    std::hint::black_box(checksum);
    if let Some(path) = &cli.json {
        let out = json!({
            "infer_images_per_second": rate,
            "latency_us": latency,
            "images": data.len(),
            "batch": BATCH,
            "threads": rayon::current_num_threads(),
            "fused": predictor.is_fused(),
            "path": predictor.path_name(),
            "model": cli.model,
        });
        crate::write_json(path, &out)?;
    }
    Ok(())
}
