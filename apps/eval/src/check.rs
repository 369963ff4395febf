//! The default mode: test the model on a data set and show what it sees and gets wrong.

use anyhow::Result;
use serde_json::json;

use crate::flags::Cli;
use crate::loaded::Loaded;
use crate::report;

/// Samples in detail, accuracy, per class, confusion matrix, most confident mistakes; the
/// same as JSON with `--json`.
pub fn run(cli: &Cli, m: &Loaded) -> Result<()> {
    let (data, desc) = m.test_data(cli)?;
    println!("{}", m.describe(cli));
    println!("data: {desc}: {} test images", data.len());
    println!();
    let names = m.name_refs();
    let classes = names.len();
    for i in 0..cli.samples.min(data.len()) {
        print!("{}", report::sample(&m.model, &data, i, &names)?);
    }
    let temperature = m.temperature();
    let views = m.views();
    let eval =
        crate::progress::evaluate_with_progress(&m.model, &data, classes, temperature, views)?;
    print!("{}", report::summary(&eval, &names)?);
    let calibration = crate::calibration::measure(&eval, data.labels())?;
    print!(
        "{}",
        crate::calibration::text(&calibration, temperature, views)?
    );
    let worst = eval.most_confident_mistakes(data.labels(), cli.worst);
    if !worst.is_empty() {
        print!("{}", report::mistakes(&eval, &data, &worst, &names)?);
    }
    if let Some(path) = &cli.json {
        let per_class: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .zip(eval.per_class())
            .map(|(n, a)| (n.to_string(), json!(a)))
            .collect();
        let confusion: Vec<&[usize]> = eval.confusion.chunks(classes).collect();
        let worst_json: Vec<_> = worst
            .iter()
            .map(|&i| report::mistake_json(&eval, &data, i, &names))
            .collect();
        let out = json!({
            "accuracy": eval.accuracy,
            "count": data.len(),
            "per_class": per_class,
            "confusion": confusion,
            "class_names": names,
            "worst": worst_json,
            "calibration": crate::calibration::to_json(&calibration, temperature, views),
            "model": cli.model,
            "data": m.data_source(cli).to_string(),
        });
        crate::write_json(path, &out)?;
    }
    Ok(())
}
