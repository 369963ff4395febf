//! How far the model's probabilities can be trusted on the test set: ECE, MCE, NLL, Brier
//! score and a reliability table, at the temperature stored in the model file (and over its
//! test-time views).

use std::fmt::Write;

use anyhow::Result;
use engine::{calibration_metrics, CalibrationMetrics, Evaluation, ECE_BINS};
use serde_json::{json, Value};

/// The calibration of `eval` (whose probabilities are at `temperature`) against `labels`.
pub fn measure(eval: &Evaluation, labels: &[u8]) -> Result<CalibrationMetrics> {
    let labels: Vec<usize> = labels.iter().map(|&l| usize::from(l)).collect();
    Ok(calibration_metrics(
        &eval.probs,
        &labels,
        eval.classes,
        ECE_BINS,
    )?)
}

/// The terminal text: one line of figures, then the reliability table (non-empty bins).
pub fn text(m: &CalibrationMetrics, temperature: f32, views: usize) -> Result<String> {
    let mut out = String::new();
    let views = match views {
        1 => String::new(),
        v => format!(", mean of {v} shifted views"),
    };
    writeln!(
        out,
        "Calibration (temperature {temperature:.3}{views}): ECE {:.2}%, MCE {:.2}%, NLL {:.4}, Brier {:.4} ({ECE_BINS} bins)",
        100.0 * m.ece,
        100.0 * m.mce,
        m.nll,
        m.brier
    )?;
    writeln!(
        out,
        "Reliability (top probability bin: images, mean confidence, accuracy):"
    )?;
    for b in m.bins.iter().filter(|b| b.count > 0) {
        writeln!(
            out,
            "  {:5.1}-{:5.1}%  {:6}  {:6.2}%  {:6.2}%  {}",
            100.0 * b.lower,
            100.0 * b.upper,
            b.count,
            100.0 * b.confidence,
            100.0 * b.accuracy,
            gap_bar(b.accuracy - b.confidence)
        )?;
    }
    writeln!(out)?;
    Ok(out)
}

/// `+++` when the bin is more often right than it claims, `---` when over-confident (one
/// mark per percentage point, at most 20).
fn gap_bar(gap: f32) -> String {
    let marks = ((gap.abs() * 100.0).round() as usize).min(20);
    let c = if gap >= 0.0 { "+" } else { "-" };
    c.repeat(marks)
}

/// `"calibration"` of `--json`.
pub fn to_json(m: &CalibrationMetrics, temperature: f32, views: usize) -> Value {
    let bins: Vec<Value> = m
        .bins
        .iter()
        .map(|b| json!({"lower": b.lower, "upper": b.upper, "count": b.count, "confidence": b.confidence, "accuracy": b.accuracy}))
        .collect();
    json!({
        "ece": m.ece,
        "mce": m.mce,
        "nll": m.nll,
        "brier": m.brier,
        "temperature": temperature,
        "views": views,
        "bins": bins,
    })
}
