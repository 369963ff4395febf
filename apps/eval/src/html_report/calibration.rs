//! Calibration: do the probabilities mean what they say? Bins of confidence against
//! accuracy (the reliability diagram), the expected calibration error, and the model's own
//! `meta.calibration` when it has one.

use std::fmt::Write;

use engine::Evaluation;
use serde_json::Value;
use viz::svg::ReliabilityBin;

use super::html::{esc, json_text, key_values, open_section, thousands};
use crate::loaded::Loaded;

/// Equal-width bins of the expected calibration error (the usual 15, as in Guo et al. 2017).
pub const BINS: usize = 15;

/// Confidence against accuracy over equal-width bins of confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Reliability {
    /// The bins, lowest confidence first (empty ones included).
    pub bins: Vec<ReliabilityBin>,
    /// Expected calibration error: the mean over predictions of |accuracy - confidence| of
    /// their bin, i.e. `sum_b n_b / n * |acc_b - conf_b|`.
    pub ece: f64,
    /// Mean confidence over all predictions.
    pub confidence: f64,
    /// Fraction of predictions that are right.
    pub accuracy: f64,
}

impl Reliability {
    /// Bins `eval`'s predictions by their top probability into `bins` equal-width bins over
    /// `[0, 1]` (a confidence of exactly 1 goes in the last bin).
    pub fn of(eval: &Evaluation, labels: &[u8], bins: usize) -> Self {
        let bins = bins.max(1);
        let mut count = vec![0usize; bins];
        let mut conf = vec![0f64; bins];
        let mut right = vec![0usize; bins];
        for (i, (&pred, &label)) in eval.predictions.iter().zip(labels).enumerate() {
            let p = f64::from(eval.probs_of(i)[pred]);
            let b = ((p * bins as f64) as usize).min(bins - 1);
            count[b] += 1;
            conf[b] += p;
            right[b] += usize::from(pred == usize::from(label));
        }
        let total: usize = count.iter().sum();
        let mut out = Self {
            bins: Vec::with_capacity(bins),
            ece: 0.0,
            confidence: conf.iter().sum::<f64>() / total.max(1) as f64,
            accuracy: right.iter().sum::<usize>() as f64 / total.max(1) as f64,
        };
        for b in 0..bins {
            let n = count[b];
            let (c, a) = if n > 0 {
                (conf[b] / n as f64, right[b] as f64 / n as f64)
            } else {
                (0.0, 0.0)
            };
            if n > 0 {
                out.ece += n as f64 / total as f64 * (a - c).abs();
            }
            out.bins.push(ReliabilityBin {
                lo: b as f64 / bins as f64,
                hi: (b + 1) as f64 / bins as f64,
                count: n,
                confidence: c,
                accuracy: a,
            });
        }
        out
    }
}

/// The section: the figures, the diagram, the bins as a table, and the stored calibration.
pub fn section(m: &Loaded, r: &Reliability) -> anyhow::Result<String> {
    let verdict = if r.confidence > r.accuracy + 0.005 {
        "over-confident: its mean confidence is above its accuracy"
    } else if r.confidence + 0.005 < r.accuracy {
        "under-confident: its mean confidence is below its accuracy"
    } else {
        "about as confident as it is accurate, on average"
    };
    let lead = format!(
        "If the model says 90%, is it right 90% of the time? Test predictions are grouped by their top probability into {BINS} equal bands; each bar is the accuracy within a band, its orange tick the band's mean confidence, against the dashed line where the two are equal. Expected calibration error (ECE, the gap averaged over all predictions) <b>{:.2}%</b>; mean confidence {:.2}% against accuracy {:.2}%: the model is {verdict}.",
        100.0 * r.ece,
        100.0 * r.confidence,
        100.0 * r.accuracy
    );
    let mut out = open_section("calibration", &lead);
    out.push_str("<div class=\"side\"><figure class=\"square\">");
    out.push_str(&viz::svg::reliability_diagram(&r.bins)?);
    out.push_str("</figure><div class=\"table-wrap\"><table><thead><tr><th>band</th><th class=\"num\">images</th><th class=\"num\">confidence</th><th class=\"num\">accuracy</th></tr></thead><tbody>");
    for b in r.bins.iter().filter(|b| b.count > 0) {
        let _ = write!(
            out,
            "<tr><td class=\"nowrap\">{:.1}–{:.1}%</td><td class=\"num\">{}</td><td class=\"num\">{:.2}%</td><td class=\"num\">{:.2}%</td></tr>",
            100.0 * b.lo,
            100.0 * b.hi,
            thousands(b.count),
            100.0 * b.confidence,
            100.0 * b.accuracy
        );
    }
    out.push_str("</tbody></table></div></div>");
    match m.saved.meta.get("calibration") {
        Some(Value::Object(cal)) => {
            out.push_str("<h3>Calibration stored in the model file</h3>");
            let rows: Vec<(String, String)> = cal
                .iter()
                .map(|(k, v)| (k.clone(), esc(&json_text(v))))
                .collect();
            out.push_str(&key_values(&rows));
        }
        Some(other) => {
            let _ = write!(
                out,
                "<p class=\"note\">The model file's <code>calibration</code> is not an object: <code>{}</code></p>",
                esc(&json_text(other))
            );
        }
        None => out.push_str("<p class=\"note\">The model file holds no calibration (such as a fitted softmax temperature); the figures above are the raw probabilities.</p>"),
    }
    out.push_str("</section>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An evaluation of four 2-class predictions with the given top probabilities.
    fn eval(top: &[f32], preds: &[usize]) -> Evaluation {
        let probs = top
            .iter()
            .zip(preds)
            .flat_map(|(&p, &c)| if c == 0 { [p, 1.0 - p] } else { [1.0 - p, p] })
            .collect();
        Evaluation {
            classes: 2,
            accuracy: 0.0,
            confusion: vec![0; 4],
            probs,
            views: 1,
            logits: Vec::new(),
            energies: Vec::new(),
            predictions: preds.to_vec(),
        }
    }

    #[test]
    fn ece_is_the_count_weighted_gap_of_the_bins() {
        // Bin [0.6, 0.8): 0.7 right, 0.7 wrong -> conf 0.7, acc 0.5, gap 0.2.
        // Bin [0.8, 1]: 0.9 right, 1.0 right -> conf 0.95, acc 1.0, gap 0.05.
        let e = eval(&[0.7, 0.7, 0.9, 1.0], &[0, 0, 1, 1]);
        let r = Reliability::of(&e, &[0, 1, 1, 1], 5);
        assert_eq!(r.bins.len(), 5);
        assert_eq!(r.bins[3].count, 2);
        assert_eq!(r.bins[4].count, 2, "a confidence of 1 goes in the last bin");
        assert!((r.bins[3].accuracy - 0.5).abs() < 1e-12);
        assert!((r.ece - (0.5 * 0.2 + 0.5 * 0.05)).abs() < 1e-6, "{}", r.ece);
        assert!((r.accuracy - 0.75).abs() < 1e-12);
    }

    #[test]
    fn perfectly_calibrated_predictions_have_zero_ece() {
        let e = eval(&[1.0, 1.0], &[0, 1]);
        let r = Reliability::of(&e, &[0, 1], 15);
        assert_eq!(r.ece, 0.0);
    }
}
