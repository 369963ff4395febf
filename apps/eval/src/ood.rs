//! `--ood idx:OTHER`: how well the verdict tells the test digits from images that are not
//! digits (another data set): AUROC and FPR at 95% TPR of the verdict's score, the fraction
//! of each set whose verdict names no digit, and the trade-off behind the confidence floor.
//!
//! Each 28x28 image goes through the same path as a picture (`vision::recognise_with`:
//! preprocessing with its checks, then the calibrated network and the confidence floor), so
//! the figures hold for `--image` too. The score of an image is its energy (`ln Σ
//! exp(logits)`) when the model has an energy floor (`meta.calibration.min_energy`), else its
//! calibrated top probability; an image that preprocessing already says holds no digit
//! (blank, solid block, several marks side by side...) scores -infinity: flagged at any
//! threshold. AUROC and FPR at 95% TPR are those of that score; `flagged` and
//! `digits_flagged` those of the whole verdict (score and confidence floor together).

use std::fmt::Write;

use anyhow::{bail, Context, Result};
use datagen::idx;
use datagen::preprocess::{Channels, Page};
use datagen::Dataset;
use engine::DataSource;
use rayon::prelude::*;
use serde_json::{json, Value};
use vision::{Settings, Verdict};

use crate::flags::Cli;
use crate::loaded::Loaded;

/// Fractions of the digits flagged by the score alone, the rows of the trade-off table.
const DIGITS_FLAGGED: [f64; 9] = [0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3];

/// What the verdict made of one image.
#[derive(Debug, Clone, Copy)]
struct Judged {
    /// The score (energy, or calibrated top probability), -infinity when preprocessing
    /// found no digit.
    score: f32,
    /// Calibrated top probability (-infinity when preprocessing found no digit).
    top_probability: f32,
    /// The verdict names a digit.
    digit: bool,
    /// The top class (for accuracy on digits).
    top: usize,
}

/// Runs the check and prints (and with `--json` writes) the report.
pub fn run(cli: &Cli, m: &Loaded, other: &DataSource) -> Result<()> {
    vision::check_model(&m.saved.spec)?;
    let (digits, desc) = m.test_pictures(cli)?;
    let others = match other {
        DataSource::Idx(dir) => idx::load_split(dir, idx::Split::Test)
            .with_context(|| format!("loading --ood data from {}", dir.display()))?
            .truncated(cli.count),
        DataSource::Synthetic | DataSource::Mnist | DataSource::FashionMnist => {
            bail!("--ood needs idx:DIR, a set of images that are not digits")
        }
    };
    println!("{}", m.describe(cli));
    println!("digits: {desc}: {} images", digits.len());
    println!("others: {other}: {} images", others.len());
    let settings = m.verdict_settings(cli, false);
    let d = judge(m, &digits, &settings)?;
    let o = judge(m, &others, &settings)?;
    let report = Report::of(&d, &o, digits.labels());
    print!("{}", report.text(&settings)?);
    if let Some(path) = &cli.json {
        let out = json!({
            "ood": report.to_json(&settings),
            "model": cli.model,
            "data": m.data_source(cli).to_string(),
            "other": other.to_string(),
        });
        crate::write_json(path, &out)?;
    }
    Ok(())
}

/// Every image of `data` through the picture path, in parallel (each image on its own, so
/// the result does not depend on the thread count).
fn judge(m: &Loaded, data: &Dataset, settings: &Settings) -> Result<Vec<Judged>> {
    (0..data.len())
        .into_par_iter()
        .map(|i| {
            let gray = data.image_f32(i);
            let page = Page::new(data.cols(), data.rows(), Channels::Gray, &gray)?;
            let r = vision::recognise_with(&m.model, &page, settings)?;
            let (score, top_probability) = match r.verdict {
                Verdict::NoDigit(_) => (f32::NEG_INFINITY, f32::NEG_INFINITY),
                _ if settings.min_energy.is_some() => (r.energy, r.probs[r.class]),
                _ => (r.probs[r.class], r.probs[r.class]),
            };
            Ok(Judged {
                score,
                top_probability,
                digit: matches!(r.verdict, Verdict::Digit(_)),
                top: r.class,
            })
        })
        .collect()
}

/// The figures of the report.
struct Report {
    auroc: f64,
    fpr_at_95_tpr: f64,
    /// AUROC of the calibrated top probability, for comparison.
    auroc_top_probability: f64,
    flagged: f64,
    digits_flagged: f64,
    /// Accuracy of the top class on the digits (all of them) and on the digits the verdict
    /// keeps.
    accuracy: f64,
    kept_accuracy: f64,
    /// Per row: (score threshold, digits flagged, others flagged, accuracy on kept digits),
    /// the score alone.
    tradeoff: Vec<(f32, f64, f64, f64)>,
}

impl Report {
    fn of(d: &[Judged], o: &[Judged], labels: &[u8]) -> Self {
        let ds: Vec<f32> = d.iter().map(|j| j.score).collect();
        let os: Vec<f32> = o.iter().map(|j| j.score).collect();
        let dp: Vec<f32> = d.iter().map(|j| j.top_probability).collect();
        let op: Vec<f32> = o.iter().map(|j| j.top_probability).collect();
        let frac = |v: &[Judged]| v.iter().filter(|j| !j.digit).count() as f64 / v.len() as f64;
        let right = |j: &Judged, l: &u8| j.top == usize::from(*l);
        let accuracy =
            d.iter().zip(labels).filter(|(j, l)| right(j, l)).count() as f64 / d.len() as f64;
        let kept_acc = |keep: &dyn Fn(&Judged) -> bool| {
            let kept: Vec<(&Judged, &u8)> = d.iter().zip(labels).filter(|(j, _)| keep(j)).collect();
            let ok = kept.iter().filter(|(j, l)| right(j, l)).count();
            ok as f64 / kept.len().max(1) as f64
        };
        let below =
            |s: &[f32], t: f32| s.iter().filter(|&&v| v < t).count() as f64 / s.len() as f64;
        let tradeoff = DIGITS_FLAGGED
            .iter()
            .filter_map(|&q| engine::lower_quantile(&ds, q).ok())
            .map(|t| {
                (
                    t,
                    below(&ds, t),
                    below(&os, t),
                    kept_acc(&|j: &Judged| j.score >= t),
                )
            })
            .collect();
        Self {
            auroc: auroc(&ds, &os),
            fpr_at_95_tpr: fpr_at_tpr(&ds, &os, 0.95),
            auroc_top_probability: auroc(&dp, &op),
            flagged: frac(o),
            digits_flagged: frac(d),
            accuracy,
            kept_accuracy: kept_acc(&|j: &Judged| j.digit),
            tradeoff,
        }
    }

    fn score_name(settings: &Settings) -> &'static str {
        if settings.min_energy.is_some() {
            "energy"
        } else {
            "top probability"
        }
    }

    fn text(&self, settings: &Settings) -> Result<String> {
        let mut out = String::new();
        let floor = match settings.min_energy {
            Some(e) => format!(
                "energy floor {e:.3}, confidence floor {}",
                settings.min_confidence
            ),
            None => format!("confidence floor {}", settings.min_confidence),
        };
        writeln!(
            out,
            "Verdict ({floor}, temperature {:.3}): others flagged {:.2}%, digits flagged {:.2}%",
            settings.temperature,
            100.0 * self.flagged,
            100.0 * self.digits_flagged
        )?;
        writeln!(
            out,
            "Score {}: AUROC {:.4}, FPR at 95% TPR {:.2}% (top probability: AUROC {:.4})",
            Self::score_name(settings),
            self.auroc,
            100.0 * self.fpr_at_95_tpr,
            self.auroc_top_probability
        )?;
        writeln!(
            out,
            "Digit accuracy {:.2}% (on the digits the verdict keeps: {:.2}%)",
            100.0 * self.accuracy,
            100.0 * self.kept_accuracy
        )?;
        writeln!(
            out,
            "Trade-off of the {} alone (threshold: digits flagged, others flagged, accuracy on kept digits):",
            Self::score_name(settings)
        )?;
        for &(t, d, o, a) in &self.tradeoff {
            writeln!(
                out,
                "  {t:8.3}  {:6.2}%  {:6.2}%  {:6.2}%",
                100.0 * d,
                100.0 * o,
                100.0 * a
            )?;
        }
        Ok(out)
    }

    fn to_json(&self, settings: &Settings) -> Value {
        let tradeoff: Vec<Value> = self
            .tradeoff
            .iter()
            .map(|&(t, d, o, a)| json!({"threshold": t, "digits_flagged": d, "flagged": o, "kept_accuracy": a}))
            .collect();
        json!({
            "auroc": self.auroc,
            "fpr_at_95_tpr": self.fpr_at_95_tpr,
            "flagged": self.flagged,
            "digits_flagged": self.digits_flagged,
            "score": Self::score_name(settings),
            "auroc_top_probability": self.auroc_top_probability,
            "accuracy": self.accuracy,
            "kept_accuracy": self.kept_accuracy,
            "min_confidence": settings.min_confidence,
            "min_energy": settings.min_energy,
            "temperature": settings.temperature,
            "tradeoff": tradeoff,
        })
    }
}

/// The probability that a random digit scores higher than a random other image (ties count
/// half): the area under the ROC curve of "score >= threshold means digit".
pub(crate) fn auroc(digits: &[f32], others: &[f32]) -> f64 {
    let mut o = others.to_vec();
    o.sort_by(f32::total_cmp);
    let mut wins = 0.0f64;
    for &s in digits {
        let below = o.partition_point(|&v| v < s);
        let ties = o[below..].partition_point(|&v| v <= s);
        wins += below as f64 + 0.5 * ties as f64;
    }
    wins / (digits.len() as f64 * others.len() as f64)
}

/// The fraction of `others` kept (score >= threshold) at the highest threshold that keeps at
/// least `tpr` of the digits.
pub(crate) fn fpr_at_tpr(digits: &[f32], others: &[f32], tpr: f64) -> f64 {
    let mut d = digits.to_vec();
    d.sort_by(|a, b| b.total_cmp(a));
    let need = ((tpr * d.len() as f64).ceil() as usize).clamp(1, d.len());
    let threshold = d[need - 1];
    others.iter().filter(|&&v| v >= threshold).count() as f64 / others.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_and_fpr_match_hand_counts() {
        // Digits 0.9, 0.8, 0.4; others 0.8, 0.3. Pairs (d > o: 1, tie: 1/2):
        // 0.9: 2; 0.8: 0.5 + 1; 0.4: 1 -> 4.5 of 6.
        let (d, o) = ([0.9, 0.8, 0.4], [0.8, 0.3]);
        assert!((auroc(&d, &o) - 0.75).abs() < 1e-12);
        // Keeping 2 of 3 digits (tpr 0.6 -> 2) needs threshold 0.8: one other of two kept.
        assert!((fpr_at_tpr(&d, &o, 0.6) - 0.5).abs() < 1e-12);
        // All digits kept: threshold 0.4, both... only 0.8 >= 0.4: one of two.
        assert!((fpr_at_tpr(&d, &o, 1.0) - 0.5).abs() < 1e-12);
        assert_eq!(auroc(&[1.0], &[-1.0, 0.5]), 1.0);
    }
}
