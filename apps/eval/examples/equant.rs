//! Throwaway: energy quantiles of held-out synthetic digits.
use datagen::Style;
use engine::{energies, lower_quantile};
fn main() {
    for path in std::env::args().skip(1) {
        let saved = nn::SavedModel::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let model = saved.build().unwrap();
        let seed = saved.meta["seed"].as_u64().unwrap();
        let held = datagen::generate(Style::Strokes, seed, 1 << 33, 10000);
        let e = engine::evaluate(&model, &held, 1000, 10).unwrap();
        let en = energies(&e.logits, 10).unwrap();
        let qs: Vec<String> = [0.003, 0.01, 0.02, 0.03, 0.05, 0.1]
            .iter()
            .map(|&q| format!("{q}:{:.3}", lower_quantile(&en, q).unwrap()))
            .collect();
        println!("{path}: {}", qs.join(" "));
    }
}
