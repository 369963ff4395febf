//! A training loop over an MNIST-format directory in ten lines, from the library crates:
//!
//! ```sh
//! cargo run --release --example train_idx -- /usr/share/datasets/fashion-mnist
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: train_idx DIR")?;
    let (train, test) = (
        datagen::idx::load_split(&dir, datagen::idx::Split::Train)?,
        datagen::idx::load_split(&dir, datagen::idx::Split::Test)?,
    );
    let spec = nn::ModelSpec::seed();
    let (mut model, mut sgd) = (spec.build(1)?, nn::Sgd::new(0.05, 0.9, 0.0)?);
    for epoch in 0..3 {
        let order = engine::epoch_order(train.len(), 1, epoch);
        let stats = engine::train_epoch(
            &mut model,
            &mut sgd,
            &train,
            &order,
            64,
            |_| 0.05,
            |_, _| {},
        )?;
        let accuracy = engine::evaluate(&model, &test, 1000, 10)?.accuracy;
        println!(
            "epoch {}: loss {:.4}, test accuracy {:.2}%",
            epoch + 1,
            stats.loss,
            100.0 * accuracy
        );
    }
    std::fs::write(
        "model.json",
        nn::SavedModel::new(&spec, &model, Default::default()).to_json()?,
    )?;
    Ok(())
}
