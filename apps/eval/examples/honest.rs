//! Development driver for issue 15 (until `train` wires it in): trains the seed network the
//! way the default `train` does (60,000 synthetic digits, 3 epochs, SGD 0.05 momentum 0.9,
//! cosine, batch 64), optionally with outlier exposure from `datagen::nondigits`, fits the
//! calibration temperature on held-out synthetic digits and writes a model file with
//! `meta.calibration`.
//!
//! ```sh
//! cargo run --release -p eval --example honest -- OUT.json [OE_PER_BATCH] [SEED] [CALIB] [Q] [P]
//! ```
//! `CALIB`: `plain` (fit T on 10,000 held-out synthetic digits, the default) or `augment`
//! (the same digits, elastically augmented: a harder set, nearer to real handwriting).
//! `Q` (default 0.003): the energy floor is the `Q` quantile of the held-out digits'
//! energies; `P` (default 0.4): the confidence floor stored with it (see the README's
//! trade-off table for how both were chosen).
//! Also writes `OUT.nondigits.png`: the first 70 non-digits, 10 a row.

use std::time::Instant;

use datagen::{Augment, Dataset, Style};
use engine::{
    epoch_order, fit_temperature, nll_at, train_epoch_exposed, EpochPlan, Exposure, Schedule,
};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .first()
        .cloned()
        .unwrap_or_else(|| "honest.json".into());
    let per_batch: usize = args.get(1).map_or(Ok(16), |s| s.parse())?;
    let seed: u64 = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let calib = args.get(3).cloned().unwrap_or_else(|| "plain".into());
    let quantile: f64 = args.get(4).map_or(Ok(0.003), |s| s.parse())?;
    let min_confidence: f32 = args.get(5).map_or(Ok(0.4), |s| s.parse())?;
    let (epochs, batch, lr) = (3u64, 64usize, 0.05f32);

    let t0 = Instant::now();
    let data = datagen::generate(Style::Strokes, seed, 0, 60_000);
    let outliers = datagen::nondigits(seed, 0, 20_000);
    println!(
        "data: {:.2} s (60,000 digits, 20,000 non-digits)",
        t0.elapsed().as_secs_f32()
    );
    write_sheet(&outliers, &format!("{out}.nondigits.png"))?;

    let spec = nn::ModelSpec::seed();
    let mut model = spec.build(seed)?;
    let mut opt = nn::Sgd::new(lr, 0.9, 0.0)?;
    let steps = data.len().div_ceil(batch);
    let total = steps * epochs as usize;
    let exposure = Exposure {
        data: &outliers,
        per_batch,
        seed,
        objective: nn::Objective::Uniform,
    };
    let mut history = Vec::new();
    for epoch in 0..epochs {
        let order = epoch_order(data.len(), seed, epoch);
        let plan = EpochPlan {
            data: &data,
            order: &order,
            batch_size: batch,
            epoch,
            first_step: epoch * steps as u64,
            seed,
            augment: None,
            start_step: 0,
            stop: None,
            exec: engine::ExecPath::Auto,
        };
        let first = epoch as usize * steps;
        let t = Instant::now();
        let stats = train_epoch_exposed(
            &mut model,
            &mut opt,
            &plan,
            (per_batch > 0).then_some(&exposure),
            |s| Schedule::Cosine.lr(lr, first + s, total, 0),
            |_, _| {},
        )?;
        let secs = t.elapsed().as_secs_f32();
        println!(
            "epoch {}: loss {:.4}, train accuracy {:.2}%, {secs:.2} s",
            epoch + 1,
            stats.loss,
            100.0 * stats.accuracy
        );
        history.push(json!({"epoch": epoch + 1, "loss": stats.loss, "train_accuracy": stats.accuracy, "seconds": secs}));
    }

    // Calibration on digits training never saw (an index range of its own).
    let held = datagen::generate(Style::Strokes, seed, 1 << 33, 10_000);
    let held = if calib == "augment" {
        augmented(&held, seed)
    } else {
        held
    };
    let eval = engine::evaluate(&model, &held, 1000, 10)?;
    let labels: Vec<usize> = held.labels().iter().map(|&l| usize::from(l)).collect();
    let temperature = fit_temperature(&eval.logits, &labels, 10)?;
    let before = nll_at(&eval.logits, &labels, 10, 1.0)?;
    let after = nll_at(&eval.logits, &labels, 10, f64::from(temperature))?;
    let energies = engine::energies(&eval.logits, 10)?;
    let min_energy = engine::lower_quantile(&energies, quantile)?;
    println!(
        "calibration ({calib}): T = {temperature:.4}, NLL {before:.4} -> {after:.4}, held-out accuracy {:.2}%, energy floor {min_energy:.3} ({quantile} quantile)",
        100.0 * eval.accuracy
    );

    let mut meta = serde_json::Map::new();
    meta.insert("arch".into(), json!("seed"));
    meta.insert("data".into(), json!("synthetic"));
    meta.insert("style".into(), json!("strokes"));
    meta.insert("seed".into(), json!(seed));
    meta.insert("epochs".into(), json!(epochs));
    meta.insert("class_names".into(), json!(engine::DIGIT_NAMES));
    meta.insert(
        "outlier_exposure".into(),
        json!({"per_batch": per_batch, "pool": outliers.len()}),
    );
    meta.insert(
        "calibration".into(),
        json!({"temperature": temperature, "min_energy": min_energy, "min_confidence": min_confidence, "energy_quantile": quantile, "fitted_on": format!("{} held-out synthetic digits ({calib})", held.len()), "nll_before": before, "nll_after": after}),
    );
    meta.insert("history".into(), json!(history));
    let saved = nn::SavedModel::new(&spec, &model, meta);
    std::fs::write(&out, saved.to_json()?)?;
    println!("wrote {out} in {:.1} s", t0.elapsed().as_secs_f32());
    Ok(())
}

/// `data` with each image elastically augmented once (seeded).
fn augmented(data: &Dataset, seed: u64) -> Dataset {
    let aug = Augment::with_elastic();
    let len = data.image_len();
    let mut bytes = Vec::with_capacity(data.images().len());
    let mut out = vec![0.0; len];
    for i in 0..data.len() {
        aug.apply(
            &mut out,
            &data.image_f32(i),
            28,
            28,
            seed ^ 0xca11b,
            i as u64,
        );
        bytes.extend(out.iter().map(|&v| datagen::to_byte(v)));
    }
    Dataset::new(bytes, data.labels().to_vec(), 28, 28).expect("same shape")
}

/// The first 70 images of `data`, 10 a row, 2x size, white ink on black.
fn write_sheet(data: &Dataset, path: &str) -> anyhow::Result<()> {
    let (cols, rows, k) = (10u32, 7u32, 2u32);
    let img = image::GrayImage::from_fn(cols * 28 * k, rows * 28 * k, |x, y| {
        let (cx, cy) = (x / (28 * k), y / (28 * k));
        let i = (cy * cols + cx) as usize;
        let (px, py) = ((x / k) % 28, (y / k) % 28);
        image::Luma([data.image(i)[(py * 28 + px) as usize]])
    });
    img.save(path)?;
    Ok(())
}
