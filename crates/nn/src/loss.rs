//! Fused, numerically stable softmax cross-entropy.

use tensor::Tensor;

use crate::error::{Error, Result};

/// The label of a sample that is none of the classes (outlier exposure, Hendrycks et al.,
/// 2019): its target is the uniform distribution, its loss the KL divergence
/// `KL(uniform || softmax) = ln Σ exp(x) - mean(x) - ln classes` (0 when the network is
/// perfectly undecided), and its gradient `(softmax - 1/classes) / n`.
pub const UNIFORM: usize = usize::MAX;

/// What a training step minimises: cross-entropy for every digit, and for the outliers
/// (label [`UNIFORM`]) one of two aims.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Objective {
    /// Outliers towards the uniform distribution (outlier exposure, Hendrycks et al., 2019):
    /// see [`UNIFORM`].
    #[default]
    Uniform,
    /// Energy margins (Liu et al., 2020, "Energy-based out-of-distribution detection"): with
    /// `E = ln Σ exp(x)` a row's log-sum-exp, an outlier adds `weight · max(0, E - outlier)²`
    /// and no cross-entropy (its logits only have to stay low, not equal), and a digit adds
    /// `weight · max(0, digit - E)²` to its cross-entropy. The verdict's floor is on `E`
    /// itself, so this trains the very score it reads.
    Energy {
        /// The log-sum-exp a digit should reach.
        digit: f32,
        /// The log-sum-exp an outlier should stay under.
        outlier: f32,
        /// The weight of either margin's square.
        weight: f32,
    },
}

impl Objective {
    /// The energy margins `train` uses by default for the seed network: a digit's
    /// log-sum-exp should reach 6, an outlier's stay under 0, each shortfall squared and
    /// weighted 0.1. Chosen on the development sets (README, "Honest confidence"): a digit
    /// margin of 4 flagged fewer letter photos, an outlier weight of 0.5 and an outlier
    /// margin of -3 cost accuracy, and weights of 0.02 flagged fewer.
    pub const ENERGY: Objective = Objective::Energy {
        digit: 6.0,
        outlier: 0.0,
        weight: 0.1,
    };

    /// The margin terms of a row with label `label` and log-sum-exp `lse`: the loss to add
    /// and the factor `k` of its gradient, which is `k · softmax`. [`None`] when this
    /// objective has none for the row (cross-entropy, or [`Objective::Uniform`]'s KL
    /// divergence, is then the whole loss).
    #[inline(always)]
    pub(crate) fn margin(self, label: usize, lse: f32) -> Option<(f64, f32)> {
        let Objective::Energy {
            digit,
            outlier,
            weight,
        } = self
        else {
            return None;
        };
        // An outlier's excess pushes every logit down (softmax-weighted); a digit's shortfall
        // pushes them up.
        let (excess, sign) = if label == UNIFORM {
            ((lse - outlier).max(0.0), 1.0)
        } else {
            ((digit - lse).max(0.0), -1.0)
        };
        Some((
            f64::from(weight * excess * excess),
            sign * 2.0 * weight * excess,
        ))
    }
}

/// The loss of one row `row` (logits) whose largest value is `max`, given the softmax
/// denominator `sum = Σ exp(x - max)`: cross-entropy against `label`, or for [`UNIFORM`] the
/// KL divergence from the uniform distribution.
#[inline(always)]
pub(crate) fn row_loss(row: &[f32], label: usize, max: f32, sum: f32) -> f64 {
    if label == UNIFORM {
        let mean = row.iter().map(|&x| f64::from(x - max)).sum::<f64>() / row.len() as f64;
        f64::from(sum.ln()) - mean - (row.len() as f64).ln()
    } else {
        f64::from(sum.ln() - (row[label] - max))
    }
}

/// What [`softmax_cross_entropy`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct LossOutput {
    /// Mean cross-entropy over the batch.
    pub loss: f32,
    /// Softmax probabilities, `[n, classes]`.
    pub probs: Tensor,
    /// dL/d logits = `(probs - onehot(labels)) / n`, `[n, classes]`.
    pub grad_logits: Tensor,
}

/// Softmax cross-entropy of `logits [n, classes]` against integer `labels`, averaged over
/// the batch, with its gradient. A label [`UNIFORM`] asks for the uniform distribution
/// instead (outlier exposure): see [`UNIFORM`] for its loss and gradient.
///
/// Stable for any finite logits: each row is shifted by its maximum, and the loss of a row is
/// `ln Σ exp(x - max) - (x_label - max)`, which never takes the log of an underflowed
/// probability.
///
/// # Errors
/// [`Error::LabelCount`] when `labels.len() != n`, [`Error::LabelOutOfRange`] for a label
/// `>= classes`, [`Error::InputShape`] when `logits` is not `[n, classes]` with `n, classes >
/// 0`, and [`Error::NonFiniteLoss`] when the loss is NaN or infinite (diverged training).
///
/// ```
/// # fn main() -> nn::Result<()> {
/// let logits = tensor::Tensor::from_vec(vec![1, 2], vec![0.0, 0.0])?;
/// let out = nn::softmax_cross_entropy(&logits, &[1])?;
/// assert!((out.loss - std::f32::consts::LN_2).abs() < 1e-6);
/// assert_eq!(out.grad_logits.data(), &[0.5, -0.5]);
/// # Ok(())
/// # }
/// ```
pub fn softmax_cross_entropy(logits: &Tensor, labels: &[usize]) -> Result<LossOutput> {
    softmax_cross_entropy_with(logits, labels, Objective::Uniform)
}

/// [`softmax_cross_entropy`] with the outliers' aim and the digits' margin of `objective`:
/// with [`Objective::Uniform`] it is [`softmax_cross_entropy`]; with [`Objective::Energy`]
/// each row's loss gets its margin term (an outlier's replaces its KL divergence) and its
/// gradient `k · softmax / n` (see [`Objective::Energy`]).
///
/// # Errors
/// As [`softmax_cross_entropy`].
pub fn softmax_cross_entropy_with(
    logits: &Tensor,
    labels: &[usize],
    objective: Objective,
) -> Result<LossOutput> {
    let (n, classes) = match *logits.shape() {
        [n, c] if n > 0 && c > 0 => (n, c),
        _ => {
            return Err(Error::InputShape {
                layer: "softmax_cross_entropy",
                expected: "[n, classes] with n, classes > 0".into(),
                got: logits.shape().to_vec(),
            })
        }
    };
    check_labels(labels, n, classes)?;
    let mut probs = Tensor::zeros(vec![n, classes]);
    let mut grad = Tensor::zeros(vec![n, classes]);
    let inv_n = 1.0 / n as f32;
    let mut total = 0.0f64;
    for (((row, p), g), &label) in logits
        .data()
        .chunks_exact(classes)
        .zip(probs.data_mut().chunks_exact_mut(classes))
        .zip(grad.data_mut().chunks_exact_mut(classes))
        .zip(labels)
    {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for (p, &x) in p.iter_mut().zip(row) {
            *p = (x - max).exp();
            sum += *p;
        }
        let inv = 1.0 / sum;
        p.iter_mut().for_each(|v| *v *= inv);
        if label == UNIFORM && objective == Objective::Uniform {
            total += row_loss(row, label, max, sum);
            let share = inv_n / classes as f32;
            for (g, &pv) in g.iter_mut().zip(p.iter()) {
                *g = pv * inv_n - share;
            }
            continue;
        }
        // Cross-entropy for a digit, plus the objective's energy margin (none for
        // `Objective::Uniform`); an outlier under energy margins has its margin alone.
        let (margin, k) = objective
            .margin(label, max + sum.ln())
            .unwrap_or((0.0, 0.0));
        total += margin;
        let scale = if label == UNIFORM { k } else { 1.0 + k };
        for (g, &pv) in g.iter_mut().zip(p.iter()) {
            *g = pv * (scale * inv_n);
        }
        if label != UNIFORM {
            total += row_loss(row, label, max, sum);
            g[label] -= inv_n;
        }
    }
    let loss = (total / n as f64) as f32;
    if !loss.is_finite() {
        return Err(Error::NonFiniteLoss { loss });
    }
    Ok(LossOutput {
        loss,
        probs,
        grad_logits: grad,
    })
}

/// Checks that there is one label per sample and that each names one of `classes` classes
/// or is [`UNIFORM`].
///
/// # Errors
/// [`Error::LabelCount`] or [`Error::LabelOutOfRange`] (the first bad label).
pub(crate) fn check_labels(labels: &[usize], n: usize, classes: usize) -> Result<()> {
    if labels.len() != n {
        return Err(Error::LabelCount {
            labels: labels.len(),
            batch: n,
        });
    }
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l >= classes && l != UNIFORM)
    {
        return Err(Error::LabelOutOfRange {
            index,
            label,
            classes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_is_stable_for_huge_logits() {
        // Row [1000, 0]: label 1 has probability e^-1000, which underflows, yet the loss is
        // exactly 1000 (ln(1 + e^-1000) + 1000).
        let logits = Tensor::from_vec(vec![1, 2], vec![1000.0, 0.0]).unwrap();
        let out = softmax_cross_entropy(&logits, &[1]).unwrap();
        assert_eq!(out.loss, 1000.0);
    }

    #[test]
    fn nan_logits_are_reported_as_divergence() {
        let logits = Tensor::from_vec(vec![1, 2], vec![f32::NAN, 0.0]).unwrap();
        let err = softmax_cross_entropy(&logits, &[0]).unwrap_err();
        assert!(matches!(err, Error::NonFiniteLoss { .. }), "{err}");
    }

    #[test]
    fn uniform_label_loss_and_gradient_match_hand_values() {
        // Row [ln 2, 0] (softmax [2/3, 1/3]), uniform target over 2 classes:
        // KL(U || p) = 0.5 ln(0.5 / (2/3)) + 0.5 ln(0.5 / (1/3)) = 0.5 ln(9/8);
        // gradient (p - 1/2) / n with n = 1: [1/6, -1/6].
        let logits = Tensor::from_vec(vec![1, 2], vec![2.0f32.ln(), 0.0]).unwrap();
        let out = softmax_cross_entropy(&logits, &[UNIFORM]).unwrap();
        assert!((f64::from(out.loss) - 0.5 * (9.0f64 / 8.0).ln()).abs() < 1e-6);
        let g = out.grad_logits.data();
        assert!((g[0] - 1.0 / 6.0).abs() < 1e-6 && (g[1] + 1.0 / 6.0).abs() < 1e-6);
        // Equal logits: the target itself, zero loss and zero gradient.
        let flat = Tensor::from_vec(vec![1, 3], vec![0.5; 3]).unwrap();
        let out = softmax_cross_entropy(&flat, &[UNIFORM]).unwrap();
        assert!(out.loss.abs() < 1e-6);
        assert!(out.grad_logits.data().iter().all(|v| v.abs() < 1e-7));
    }

    #[test]
    fn energy_margins_match_hand_values() {
        let energy = Objective::Energy {
            digit: 3.0,
            outlier: 0.5,
            weight: 0.25,
        };
        // Row [ln 2, 0]: softmax [2/3, 1/3], log-sum-exp ln 3 = 1.0986.
        let logits = Tensor::from_vec(vec![1, 2], vec![2.0f32.ln(), 0.0]).unwrap();
        let lse = 3.0f64.ln();
        // An outlier over its margin: 0.25 (ln 3 - 0.5)^2, gradient 2 0.25 (ln 3 - 0.5) p.
        let out = softmax_cross_entropy_with(&logits, &[UNIFORM], energy).unwrap();
        let excess = lse - 0.5;
        assert!((f64::from(out.loss) - 0.25 * excess * excess).abs() < 1e-6);
        let k = 0.5 * excess;
        let g = out.grad_logits.data();
        assert!((f64::from(g[0]) - k * 2.0 / 3.0).abs() < 1e-6, "{g:?}");
        assert!((f64::from(g[1]) - k / 3.0).abs() < 1e-6, "{g:?}");
        // A digit under its margin: cross-entropy ln 3 - ln 2 plus 0.25 (3 - ln 3)^2, and
        // gradient p - onehot - 2 0.25 (3 - ln 3) p.
        let out = softmax_cross_entropy_with(&logits, &[0], energy).unwrap();
        let short = 3.0 - lse;
        let want = (lse - 2.0f64.ln()) + 0.25 * short * short;
        assert!((f64::from(out.loss) - want).abs() < 1e-6);
        let s = 1.0 - 0.5 * short;
        let g = out.grad_logits.data();
        assert!(
            (f64::from(g[0]) - (s * 2.0 / 3.0 - 1.0)).abs() < 1e-6,
            "{g:?}"
        );
        assert!((f64::from(g[1]) - s / 3.0).abs() < 1e-6, "{g:?}");
        // Past both margins nothing is added: a plain digit's cross-entropy, bit for bit, and
        // an outlier with zero loss and gradient.
        let low = Objective::Energy {
            digit: 0.5,
            outlier: 2.0,
            weight: 0.25,
        };
        let plain = softmax_cross_entropy(&logits, &[1]).unwrap();
        let out = softmax_cross_entropy_with(&logits, &[1], low).unwrap();
        assert_eq!(out, plain);
        let out = softmax_cross_entropy_with(&logits, &[UNIFORM], low).unwrap();
        assert_eq!(out.loss, 0.0);
        assert!(out.grad_logits.data().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn energy_gradient_matches_finite_differences() {
        let logits: Vec<f32> = vec![
            0.3, -1.2, 2.0, 0.7, 1.1, -0.4, 0.0, 3.1, -2.2, 0.9, 0.5, 0.25,
        ];
        let labels = [2, UNIFORM, 0, UNIFORM];
        let energy = Objective::Energy {
            digit: 4.0,
            outlier: 0.5,
            weight: 0.1,
        };
        let loss_at = |v: &[f32]| {
            let t = Tensor::from_vec(vec![4, 3], v.to_vec()).unwrap();
            f64::from(
                softmax_cross_entropy_with(&t, &labels, energy)
                    .unwrap()
                    .loss,
            )
        };
        let t = Tensor::from_vec(vec![4, 3], logits.clone()).unwrap();
        let out = softmax_cross_entropy_with(&t, &labels, energy).unwrap();
        for i in 0..logits.len() {
            let h = 1e-2f32;
            let (mut up, mut down) = (logits.clone(), logits.clone());
            up[i] += h;
            down[i] -= h;
            let numeric = (loss_at(&up) - loss_at(&down)) / (2.0 * f64::from(h));
            let analytic = f64::from(out.grad_logits.data()[i]);
            assert!(
                (numeric - analytic).abs() < 2e-3 * (1.0 + analytic.abs()),
                "logit {i}: numeric {numeric} analytic {analytic}"
            );
        }
    }

    #[test]
    fn bad_labels_are_typed_errors() {
        let logits = Tensor::zeros(vec![2, 10]);
        assert_eq!(
            softmax_cross_entropy(&logits, &[1, 10])
                .unwrap_err()
                .to_string(),
            "label 10 of sample 1 is not below the class count 10"
        );
        assert_eq!(
            softmax_cross_entropy(&logits, &[1])
                .unwrap_err()
                .to_string(),
            "1 labels for a batch of 2"
        );
    }
}
