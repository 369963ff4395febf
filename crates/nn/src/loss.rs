//! Fused, numerically stable softmax cross-entropy.

use tensor::Tensor;

use crate::error::{Error, Result};

/// The label of a sample that is none of the classes (outlier exposure, Hendrycks et al.,
/// 2019): its target is the uniform distribution, its loss the KL divergence
/// `KL(uniform || softmax) = ln Σ exp(x) - mean(x) - ln classes` (0 when the network is
/// perfectly undecided), and its gradient `(softmax - 1/classes) / n`.
pub const UNIFORM: usize = usize::MAX;

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
        total += row_loss(row, label, max, sum);
        for (g, &pv) in g.iter_mut().zip(p.iter()) {
            *g = pv * inv_n;
        }
        if label == UNIFORM {
            let share = inv_n / classes as f32;
            g.iter_mut().for_each(|v| *v -= share);
        } else {
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
