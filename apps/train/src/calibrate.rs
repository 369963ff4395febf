//! The end of a run: fit the verdict's calibration (issue 15) on held-out images and store it
//! in the model's `meta.calibration`: the temperature (scaling the logits so probabilities
//! match outcomes) and, for a model trained with outlier exposure, the energy floor below
//! which a picture is "no digit: unlike the digits it learned", with its confidence floor.

use anyhow::Result;
use datagen::{Dataset, Style};
use engine::{
    energies, evaluate_with, fit_temperature, lower_quantile, nll_at, DataSource, ExecPath,
};
use nn::Sequential;
use serde_json::{json, Value};

use crate::data::Data;
use crate::settings::Settings;

/// First index of the synthetic digits the calibration is fitted on: a range neither
/// training (from 0) nor the test set (from `engine::SYNTHETIC_TEST_START`, 2^32) uses.
const CALIBRATION_START: u64 = 1 << 33;

/// Held-out digits fitted on.
const CALIBRATION_SIZE: usize = 10_000;

/// Share of the held-out digits whose energy may fall under the floor, for the seed network.
/// Chosen on the development measurements in the README (trade-off table, seeds 1-4 of the
/// default run): 1% of synthetic digits flags 1.6-2.3% of real digit photos (the target
/// allows 3%) and 84-88% of Fashion-MNIST; 0.3% flagged 0.5-0.9% of the photos and only
/// 68-76%.
pub const SEED_ENERGY_QUANTILE: f64 = 0.01;

/// The same share for every other network. A network with hidden layers separates digits
/// from non-digits by a wide energy gap, so a lower floor keeps more real digits and still
/// flags nearly everything else. Chosen on the development sets (README, "Honest
/// confidence"): the highest floor that flags at most 3% of the real digit photos for each of
/// the LeNet-style seeds 1-4 and still reads 90% of the pairs. 0.5% flags 1.9-2.9% of the
/// photos, 95% of the letter photos and 97.6% of Fashion-MNIST; 1% flagged 3.9-4.9% of the
/// photos, 0.3% only 93% of the letters.
pub const ENERGY_QUANTILE: f64 = 0.005;

/// The share of held-out digits the energy floor of network `spec` leaves under it.
pub fn energy_quantile(spec: &nn::ModelSpec) -> f64 {
    if *spec == nn::ModelSpec::seed() {
        SEED_ENERGY_QUANTILE
    } else {
        ENERGY_QUANTILE
    }
}

/// The confidence floor stored with an energy floor: the energy already catches what is no
/// digit, so the probability floor is only for "which digit?" (README trade-off table).
pub const MIN_CONFIDENCE_WITH_ENERGY: f32 = 0.4;

/// `meta.calibration` for `model`, or `None` (with a note) when there is nothing held out to
/// fit on (IDX data without `--val-fraction`).
pub fn calibration(s: &Settings, data: &Data, model: &Sequential) -> Result<Option<Value>> {
    let classes = s.class_names.len();
    let (held, what): (Dataset, String) = match (&data.val, &s.data) {
        (Some(val), _) => (val.clone(), format!("{} validation images", val.len())),
        (None, DataSource::Synthetic) => {
            let style: Style = s.style.map_or(Style::Strokes, Style::from);
            (
                datagen::generate(style, s.seed, CALIBRATION_START, CALIBRATION_SIZE),
                format!("{CALIBRATION_SIZE} held-out synthetic digits"),
            )
        }
        (None, DataSource::Idx(_) | DataSource::Mnist | DataSource::FashionMnist) => {
            println!("calibration: none (no held-out images; pass --val-fraction to fit one)");
            return Ok(None);
        }
    };
    let eval = evaluate_with(model, &held, 1000, classes, ExecPath::from(s.exec))?;
    let labels: Vec<usize> = held.labels().iter().map(|&l| usize::from(l)).collect();
    let temperature = fit_temperature(&eval.logits, &labels, classes)?;
    let before = nll_at(&eval.logits, &labels, classes, 1.0)?;
    let after = nll_at(&eval.logits, &labels, classes, f64::from(temperature))?;
    let mut c = json!({
        "temperature": temperature,
        "fitted_on": what,
        "nll_before": before,
        "nll_after": after,
    });
    let mut line = format!(
        "calibration: temperature {temperature:.3} (NLL {before:.4} -> {after:.4} on {what})"
    );
    if s.outliers > 0 {
        let quantile = energy_quantile(&s.spec()?);
        let floor = lower_quantile(&energies(&eval.logits, classes)?, quantile)?;
        c["min_energy"] = json!(floor);
        c["energy_quantile"] = json!(quantile);
        c["min_confidence"] = json!(MIN_CONFIDENCE_WITH_ENERGY);
        line.push_str(&format!(", energy floor {floor:.3}"));
    }
    println!("{line}");
    Ok(Some(c))
}
