//! Accuracy and loss regression of the seed network on synthetic digits.
//!
//! A short fixed-seed training run must (1) reach at least 96.5% on a disjoint synthetic test
//! set, (2) reproduce the recorded first 10 batch losses within 1e-4, and (3) give identical
//! parameters when run twice. If a deliberate change to the generator or the numerics moves
//! the losses, print them with `cargo test -p engine --test regression -- --nocapture` and
//! update `FIRST_LOSSES` in the same commit, saying why.

use datagen::Style;
use engine::{epoch_order, evaluate, train_epoch, Schedule, SYNTHETIC_TEST_START};

/// Recorded again on 2026-12-02, when the looped 2s were given larger loops (issue 19).
const FIRST_LOSSES: [f32; 10] = [
    2.3008466, 2.2901826, 2.3050764, 2.2997832, 2.3040154, 2.2124991, 2.1802516, 2.1711683,
    2.0592902, 1.966866,
];

/// The least test accuracy of the short run. It was 97%; the larger loops of the looped 2s
/// (2026-12-02) made the synthetic test a little harder (some 2s near an 8): this run went
/// from at least 97% to 96.95%, and the default `train` reads 98.0-98.5% of its test set.
const MIN_ACCURACY: f32 = 0.965;

fn run() -> (Vec<f32>, f32, Vec<u32>) {
    let train = datagen::generate(Style::Strokes, 1, 0, 30_000);
    let test = datagen::generate(Style::Strokes, 1, SYNTHETIC_TEST_START, 2_000);
    let mut model = nn::ModelSpec::seed().build(1).unwrap();
    let mut sgd = nn::Sgd::new(0.05, 0.9, 0.0).unwrap();
    let mut losses = Vec::new();
    // Two epochs with the default cosine schedule, as `train` runs them.
    let steps = train.len().div_ceil(64);
    for epoch in 0..2 {
        let order = epoch_order(train.len(), 1, epoch as u64);
        let lr = |step: usize| Schedule::Cosine.lr(0.05, epoch * steps + step, 2 * steps, 0);
        train_epoch(&mut model, &mut sgd, &train, &order, 64, lr, |_, loss| {
            losses.push(loss)
        })
        .unwrap();
    }
    let accuracy = evaluate(&model, &test, 1000, 10).unwrap().accuracy;
    let mut bits = Vec::new();
    model.visit_params_ref(&mut |_, p| bits.extend(p.value.data().iter().map(|v| v.to_bits())));
    (losses, accuracy, bits)
}

#[test]
fn short_synthetic_training_matches_recorded_losses_and_accuracy() {
    let (losses, accuracy, bits) = run();
    println!("first losses: {:?}", &losses[..10]);
    println!("test accuracy: {accuracy}");
    for (i, (got, want)) in losses.iter().zip(FIRST_LOSSES).enumerate() {
        assert!(
            (got - want).abs() <= 1e-4,
            "loss {i}: got {got}, recorded {want}"
        );
    }
    assert!(
        accuracy >= MIN_ACCURACY,
        "test accuracy {accuracy} below {MIN_ACCURACY}"
    );
    let (_, _, again) = run();
    assert_eq!(bits, again, "two runs with the same seed differ");
}
