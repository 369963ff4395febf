//! Probabilities that mean what they say: temperature scaling (Guo et al., 2017) and the
//! measures of calibration.
//!
//! A network trained with cross-entropy tends to be over-confident: of the images it calls
//! 99% sure, fewer than 99% are right. Temperature scaling divides every logit by one number
//! `T > 0` before the softmax, fitted on held-out data by minimising the negative
//! log-likelihood. `T` changes no argmax, so accuracy is untouched; `T > 1` softens the
//! probabilities, `T < 1` sharpens them.
//!
//! The measures ([`calibration_metrics`]):
//! - ECE (expected calibration error): the top probabilities are put in `bins` equal-width
//!   bins over [0, 1]; ECE = Σ_b (n_b / n) |accuracy_b - confidence_b|;
//! - MCE (maximum calibration error): the largest |accuracy_b - confidence_b| over the
//!   non-empty bins;
//! - NLL: the mean of -ln p(label);
//! - Brier score: the mean over samples of Σ_c (p_c - [c = label])².

use crate::error::{Error, Result};

/// The number of equal-width bins of the ECE this project reports.
pub const ECE_BINS: usize = 15;

/// Range searched for the temperature: `T` in `[1/MAX_TEMPERATURE, MAX_TEMPERATURE]`.
pub const MAX_TEMPERATURE: f64 = 20.0;

/// One bin of a reliability table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bin {
    /// Lower edge of the bin (top probability `> lower`, or `>= 0` for the first bin).
    pub lower: f32,
    /// Upper edge (top probability `<= upper`).
    pub upper: f32,
    /// Samples whose top probability falls in the bin.
    pub count: usize,
    /// Their mean top probability (0 when empty).
    pub confidence: f32,
    /// The fraction of them classified correctly (0 when empty).
    pub accuracy: f32,
}

/// How well probabilities match outcomes (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationMetrics {
    /// Expected calibration error, 0..1.
    pub ece: f32,
    /// Maximum calibration error over the non-empty bins, 0..1.
    pub mce: f32,
    /// Mean negative log-likelihood of the labels (natural log).
    pub nll: f32,
    /// Mean Brier score, 0..2.
    pub brier: f32,
    /// The reliability table: one entry per bin, empty ones included.
    pub bins: Vec<Bin>,
}

/// Checks `probs`/`logits` `[n, classes]` against `labels`.
fn check(values: usize, labels: &[usize], classes: usize) -> Result<usize> {
    if classes == 0 || labels.is_empty() || values != labels.len() * classes {
        return Err(Error::Invalid(format!(
            "calibration: {values} values are not {} samples of {classes} classes",
            labels.len()
        )));
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(Error::Invalid(format!(
            "calibration: label {l} of sample {i} is not below the class count {classes}"
        )));
    }
    Ok(labels.len())
}

/// ECE, MCE, NLL, Brier score and the reliability table of probabilities `probs [n,
/// classes]` (rows summing to 1) against `labels`, with `bins` equal-width bins of the top
/// probability (a probability exactly on an edge goes to the lower bin; 0 to the first).
///
/// # Errors
/// [`Error::Invalid`] for an empty set, a shape that does not match, a label `>= classes` or
/// `bins == 0`.
///
/// ```
/// # fn main() -> Result<(), engine::Error> {
/// // Two samples, both 80% sure; one right, one wrong: accuracy 50% in the 0.8 bin.
/// let probs = [0.8, 0.2, 0.8, 0.2];
/// let m = engine::calibration_metrics(&probs, &[0, 1], 2, 15)?;
/// assert!((m.ece - 0.3).abs() < 1e-6);
/// # Ok(())
/// # }
/// ```
pub fn calibration_metrics(
    probs: &[f32],
    labels: &[usize],
    classes: usize,
    bins: usize,
) -> Result<CalibrationMetrics> {
    let n = check(probs.len(), labels, classes)?;
    if bins == 0 {
        return Err(Error::Invalid("calibration: at least one bin".into()));
    }
    let mut count = vec![0usize; bins];
    let mut conf = vec![0.0f64; bins];
    let mut right = vec![0usize; bins];
    let (mut nll, mut brier) = (0.0f64, 0.0f64);
    for (row, &label) in probs.chunks_exact(classes).zip(labels) {
        let top = tensor::argmax(row);
        let p = f64::from(row[top]);
        // Bin b holds (b/bins, (b+1)/bins]; 0 goes to bin 0.
        let b = ((p * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        count[b] += 1;
        conf[b] += p;
        right[b] += usize::from(top == label);
        nll -= f64::from(row[label]).max(f64::from(f32::MIN_POSITIVE)).ln();
        brier += row
            .iter()
            .enumerate()
            .map(|(c, &v)| {
                let d = f64::from(v) - f64::from(u8::from(c == label));
                d * d
            })
            .sum::<f64>();
    }
    let (mut ece, mut mce) = (0.0f64, 0.0f64);
    let table = (0..bins)
        .map(|b| {
            let k = count[b];
            let (confidence, accuracy) = if k == 0 {
                (0.0, 0.0)
            } else {
                (conf[b] / k as f64, right[b] as f64 / k as f64)
            };
            if k > 0 {
                let gap = (accuracy - confidence).abs();
                ece += k as f64 / n as f64 * gap;
                mce = mce.max(gap);
            }
            Bin {
                lower: b as f32 / bins as f32,
                upper: (b + 1) as f32 / bins as f32,
                count: k,
                confidence: confidence as f32,
                accuracy: accuracy as f32,
            }
        })
        .collect();
    Ok(CalibrationMetrics {
        ece: ece as f32,
        mce: mce as f32,
        nll: (nll / n as f64) as f32,
        brier: (brier / n as f64) as f32,
        bins: table,
    })
}

/// Softmax of every row of `logits [n, classes]` divided by `temperature`.
///
/// # Errors
/// [`Error::Invalid`] when `logits` is not whole rows or `temperature` is not a positive
/// finite number.
pub fn softmax_at(logits: &[f32], classes: usize, temperature: f32) -> Result<Vec<f32>> {
    if classes == 0 || !logits.len().is_multiple_of(classes) {
        return Err(Error::Invalid(format!(
            "calibration: {} logits are not rows of {classes}",
            logits.len()
        )));
    }
    check_temperature(temperature)?;
    let inv = 1.0 / temperature;
    let scaled: Vec<f32> = logits.iter().map(|&l| l * inv).collect();
    let mut out = vec![0.0; logits.len()];
    tensor::softmax_rows_into(&mut out, &scaled, logits.len() / classes, classes)?;
    Ok(out)
}

/// `Ok` for a positive finite temperature.
///
/// # Errors
/// [`Error::Invalid`] otherwise.
pub fn check_temperature(temperature: f32) -> Result<()> {
    if temperature.is_finite() && temperature > 0.0 {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "temperature {temperature} is not a positive number"
        )))
    }
}

/// Mean negative log-likelihood of `labels` under softmax(`logits` / `temperature`), in
/// `f64` (each row shifted by its maximum: stable for any finite logits).
///
/// # Errors
/// As [`fit_temperature`].
pub fn nll_at(logits: &[f32], labels: &[usize], classes: usize, temperature: f64) -> Result<f64> {
    let n = check(logits.len(), labels, classes)?;
    Ok(nll_unchecked(logits, labels, classes, temperature) / n as f64)
}

fn nll_unchecked(logits: &[f32], labels: &[usize], classes: usize, temperature: f64) -> f64 {
    let inv = 1.0 / temperature;
    logits
        .chunks_exact(classes)
        .zip(labels)
        .map(|(row, &label)| {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f64 = row
                .iter()
                .map(|&x| ((f64::from(x) - f64::from(max)) * inv).exp())
                .sum();
            sum.ln() - (f64::from(row[label]) - f64::from(max)) * inv
        })
        .sum()
}

/// The temperature that minimises the mean negative log-likelihood of `labels` under
/// softmax(`logits` / T): golden-section search on ln T over
/// `[-ln MAX_TEMPERATURE, ln MAX_TEMPERATURE]` (the NLL is convex in 1/T, so unimodal in
/// ln T), to a relative precision of about 1e-6. Deterministic: one pass in sample order per
/// evaluation.
///
/// # Errors
/// [`Error::Invalid`] for an empty set, a shape that does not match or a label
/// `>= classes`, or logits that are not finite.
///
/// ```
/// # fn main() -> Result<(), engine::Error> {
/// // Three samples with logits [2, 0], two of them of class 0: the best probability for
/// // class 0 is 2/3, so 2 / T = ln 2 and T = 2 / ln 2 = 2.885.
/// let logits = [2.0, 0.0, 2.0, 0.0, 2.0, 0.0];
/// let t = engine::fit_temperature(&logits, &[0, 0, 1], 2)?;
/// assert!((t - 2.0 / 2f32.ln()).abs() < 1e-4);
/// # Ok(())
/// # }
/// ```
pub fn fit_temperature(logits: &[f32], labels: &[usize], classes: usize) -> Result<f32> {
    check(logits.len(), labels, classes)?;
    if !logits.iter().all(|v| v.is_finite()) {
        return Err(Error::Invalid(
            "calibration: logits that are not finite".into(),
        ));
    }
    let f = |log_t: f64| nll_unchecked(logits, labels, classes, log_t.exp());
    let phi = (5.0f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (-MAX_TEMPERATURE.ln(), MAX_TEMPERATURE.ln());
    let mut c = b - phi * (b - a);
    let mut d = a + phi * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    while b - a > 1e-6 {
        if fc <= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - phi * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + phi * (b - a);
            fd = f(d);
        }
    }
    Ok(((a + b) / 2.0).exp() as f32)
}

/// The free energy's negative of each row of `logits [n, classes]`: `ln Σ_c exp(l_c)` (Liu
/// et al., 2020). High for inputs like the training digits, low for inputs unlike any: a
/// better score for "is this a digit at all" than the top probability, because it keeps the
/// logits' scale, which the softmax throws away.
///
/// # Errors
/// [`Error::Invalid`] when `logits` is not whole rows.
pub fn energies(logits: &[f32], classes: usize) -> Result<Vec<f32>> {
    if classes == 0 || !logits.len().is_multiple_of(classes) {
        return Err(Error::Invalid(format!(
            "calibration: {} logits are not rows of {classes}",
            logits.len()
        )));
    }
    Ok(logits.chunks_exact(classes).map(log_sum_exp).collect())
}

/// `ln Σ exp(row)`, shifted by the row's maximum (stable for any finite values).
pub fn log_sum_exp(row: &[f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
    max + sum.ln()
}

/// The value below which a fraction `q` of `values` lies: the element at rank
/// `floor(q * n)` of the sorted values (clamped to the last), so that at most `q` of them are
/// strictly below it.
///
/// # Errors
/// [`Error::Invalid`] for no values, a value that is NaN, or `q` outside [0, 1].
pub fn lower_quantile(values: &[f32], q: f64) -> Result<f32> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) || !(0.0..=1.0).contains(&q) {
        return Err(Error::Invalid(format!(
            "calibration: quantile {q} of {} values (none may be NaN)",
            values.len()
        )));
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let rank = ((q * sorted.len() as f64).floor() as usize).min(sorted.len() - 1);
    Ok(sorted[rank])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() {
        // Four samples, 2 classes, 4 bins (0-.25, .25-.5, .5-.75, .75-1):
        //   [0.9, 0.1] label 0: top 0.9 bin 3, right
        //   [0.6, 0.4] label 1: top 0.6 bin 2, wrong
        //   [0.3, 0.7] label 1: top 0.7 bin 2, right
        //   [0.2, 0.8] label 0: top 0.8 bin 3, wrong
        // bin 2: conf (0.6+0.7)/2 = 0.65, acc 0.5, gap 0.15
        // bin 3: conf (0.9+0.8)/2 = 0.85, acc 0.5, gap 0.35
        // ECE = 0.5*0.15 + 0.5*0.35 = 0.25; MCE = 0.35
        // NLL = -(ln .9 + ln .4 + ln .7 + ln .2)/4
        // Brier = (2*.01 + 2*.36 + 2*.09 + 2*.64)/4 = 2.2/4 = 0.55
        let probs = [0.9, 0.1, 0.6, 0.4, 0.3, 0.7, 0.2, 0.8];
        let m = calibration_metrics(&probs, &[0, 1, 1, 0], 2, 4).unwrap();
        assert!((m.ece - 0.25).abs() < 1e-6, "{}", m.ece);
        assert!((m.mce - 0.35).abs() < 1e-6, "{}", m.mce);
        let nll = -(0.9f64.ln() + 0.4f64.ln() + 0.7f64.ln() + 0.2f64.ln()) / 4.0;
        assert!((f64::from(m.nll) - nll).abs() < 1e-6);
        assert!((m.brier - 0.55).abs() < 1e-6, "{}", m.brier);
        assert_eq!(
            m.bins.iter().map(|b| b.count).collect::<Vec<_>>(),
            [0, 0, 2, 2]
        );
        assert!((m.bins[3].confidence - 0.85).abs() < 1e-6);
        assert_eq!(m.bins[3].accuracy, 0.5);
    }

    #[test]
    fn a_probability_on_a_bin_edge_goes_to_the_lower_bin() {
        // 0.5 with 2 bins: (0, 0.5] is bin 0.
        let m = calibration_metrics(&[0.5, 0.5], &[0], 2, 2).unwrap();
        assert_eq!(m.bins[0].count, 1);
        assert_eq!(m.bins[1].count, 0);
    }

    #[test]
    fn bad_shapes_and_labels_are_errors() {
        assert!(calibration_metrics(&[0.5, 0.5], &[0, 1], 2, 15).is_err());
        assert!(calibration_metrics(&[0.5, 0.5], &[2], 2, 15).is_err());
        assert!(calibration_metrics(&[], &[], 2, 15).is_err());
        assert!(fit_temperature(&[f32::NAN, 0.0], &[0], 2).is_err());
        assert!(softmax_at(&[1.0, 2.0], 2, 0.0).is_err());
    }

    /// Labels drawn from softmax(z / T0) for random z: the fit must find T0 again.
    #[test]
    fn fitting_recovers_a_known_temperature() {
        use rand::{Rng, SeedableRng};
        for &t0 in &[0.5f32, 1.0, 2.5] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            let (n, k) = (20_000, 10);
            let mut logits = Vec::with_capacity(n * k);
            let mut labels = Vec::with_capacity(n);
            for _ in 0..n {
                let row: Vec<f32> = (0..k).map(|_| rng.random_range(-4.0..4.0)).collect();
                let p = softmax_at(&row, k, t0).unwrap();
                let u: f32 = rng.random();
                let mut acc = 0.0;
                let label = p
                    .iter()
                    .position(|&v| {
                        acc += v;
                        u < acc
                    })
                    .unwrap_or(k - 1);
                logits.extend_from_slice(&row);
                labels.push(label);
            }
            let t = fit_temperature(&logits, &labels, k).unwrap();
            assert!((t / t0 - 1.0).abs() < 0.05, "fitted {t}, drawn at {t0}");
            // And it is the minimum: nudging it either way raises the NLL.
            let at = |t: f32| nll_at(&logits, &labels, k, f64::from(t)).unwrap();
            assert!(at(t) <= at(t * 1.01) && at(t) <= at(t / 1.01));
        }
    }

    #[test]
    fn energies_and_quantiles_match_hand_values() {
        // ln(e^0 + e^0) = ln 2; ln(e^1000 + e^0) = 1000 (no overflow).
        let e = energies(&[0.0, 0.0, 1000.0, 0.0], 2).unwrap();
        assert!((e[0] - 2f32.ln()).abs() < 1e-6);
        assert_eq!(e[1], 1000.0);
        let v = [5.0, 1.0, 4.0, 2.0, 3.0];
        // q = 0.2: rank 1 of [1, 2, 3, 4, 5] -> 2; exactly one value (1) lies below it.
        assert_eq!(lower_quantile(&v, 0.2).unwrap(), 2.0);
        assert_eq!(lower_quantile(&v, 0.0).unwrap(), 1.0);
        assert_eq!(lower_quantile(&v, 1.0).unwrap(), 5.0);
        assert!(lower_quantile(&[], 0.5).is_err());
        assert!(lower_quantile(&v, 1.5).is_err());
    }

    #[test]
    fn softmax_at_divides_the_logits() {
        // [ln 3, 0] at T = 1: [0.75, 0.25]; at T = 2: logits [ln 3 / 2, 0] -> [√3/(√3+1), ...].
        let l = [3.0f32.ln(), 0.0];
        let p1 = softmax_at(&l, 2, 1.0).unwrap();
        assert!((p1[0] - 0.75).abs() < 1e-6);
        let p2 = softmax_at(&l, 2, 2.0).unwrap();
        let s = 3.0f32.sqrt();
        assert!((p2[0] - s / (s + 1.0)).abs() < 1e-6);
    }
}
