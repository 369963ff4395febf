//! Evaluation over a whole dataset.

use datagen::Dataset;
use nn::Sequential;

use crate::error::{Error, Result};
use crate::exec::ExecPath;
use crate::predict::Predictor;

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Number of classes (`k`).
    pub classes: usize,
    /// Fraction classified correctly.
    pub accuracy: f32,
    /// `k x k` counts, row = true label, column = prediction.
    pub confusion: Vec<usize>,
    /// Softmax probabilities of every sample, `n x k`, in dataset order (of the logits
    /// divided by the temperature, see [`evaluate_at`]).
    pub probs: Vec<f32>,
    /// The network's logits of every sample, `n x k` (before any temperature).
    pub logits: Vec<f32>,
    /// Predicted class of every sample.
    pub predictions: Vec<usize>,
}

impl Evaluation {
    /// Accuracy per true class (`None` for a class with no sample).
    pub fn per_class(&self) -> Vec<Option<f32>> {
        let k = self.classes;
        (0..k)
            .map(|c| {
                let row = &self.confusion[c * k..(c + 1) * k];
                let total: usize = row.iter().sum();
                (total > 0).then(|| row[c] as f32 / total as f32)
            })
            .collect()
    }

    /// Probabilities of sample `i`.
    pub fn probs_of(&self, i: usize) -> &[f32] {
        &self.probs[i * self.classes..(i + 1) * self.classes]
    }

    /// Indices of the `count` misclassified samples with the highest predicted probability,
    /// most confident first (ties broken by index).
    pub fn most_confident_mistakes(&self, labels: &[u8], count: usize) -> Vec<usize> {
        let mut wrong: Vec<usize> = (0..self.predictions.len())
            .filter(|&i| self.predictions[i] != usize::from(labels[i]))
            .collect();
        wrong.sort_by(|&a, &b| {
            let pa = self.probs_of(a)[self.predictions[a]];
            let pb = self.probs_of(b)[self.predictions[b]];
            pb.total_cmp(&pa).then(a.cmp(&b))
        });
        wrong.truncate(count);
        wrong
    }
}

/// Classifies every sample of `data` in batches of `batch_size` with `model.infer` and
/// tallies the results against the labels. Labels `>= classes` are an error.
///
/// # Errors
/// [`Error::Invalid`] for a zero batch size, an empty dataset, a label outside `0..classes`
/// or a model whose output is not `[n, classes]`; layer errors from the model.
pub fn evaluate(
    model: &Sequential,
    data: &Dataset,
    batch_size: usize,
    classes: usize,
) -> Result<Evaluation> {
    evaluate_with(model, data, batch_size, classes, ExecPath::Auto)
}

/// [`evaluate`], running the model the way `exec` says.
///
/// # Errors
/// As [`evaluate`], and [`ExecPath::Fused`] for a network without the seed pattern.
pub fn evaluate_with(
    model: &Sequential,
    data: &Dataset,
    batch_size: usize,
    classes: usize,
    exec: ExecPath,
) -> Result<Evaluation> {
    evaluate_with_at(model, data, batch_size, classes, exec, 1.0)
}

/// [`evaluate`] with the probabilities taken at `temperature`: softmax(logits /
/// temperature), as a model calibrated by temperature scaling gives them (see
/// [`crate::fit_temperature`]). Predictions and accuracy do not depend on it.
///
/// # Errors
/// As [`evaluate`], and [`Error::Invalid`] for a temperature that is not a positive number.
pub fn evaluate_at(
    model: &Sequential,
    data: &Dataset,
    batch_size: usize,
    classes: usize,
    temperature: f32,
) -> Result<Evaluation> {
    evaluate_with_at(
        model,
        data,
        batch_size,
        classes,
        ExecPath::Auto,
        temperature,
    )
}

/// [`evaluate_with`] at `temperature` (see [`evaluate_at`]).
///
/// # Errors
/// As [`evaluate_with`] and [`evaluate_at`].
pub fn evaluate_with_at(
    model: &Sequential,
    data: &Dataset,
    batch_size: usize,
    classes: usize,
    exec: ExecPath,
    temperature: f32,
) -> Result<Evaluation> {
    crate::calibration::check_temperature(temperature)?;
    if batch_size == 0 {
        return Err(Error::Invalid("batch size must be at least 1".into()));
    }
    if data.is_empty() {
        return Err(Error::Invalid(
            "the dataset has no image to evaluate".into(),
        ));
    }
    if let Some((i, &l)) = data
        .labels()
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= classes)
    {
        return Err(Error::Invalid(format!(
            "label {l} of image {i} is not one of the model's {classes} classes"
        )));
    }
    let k = classes;
    let mut predictor = Predictor::with_path(model, data.rows(), data.cols(), k, exec)?;
    let mut logits = Vec::new();
    let mut confusion = vec![0usize; k * k];
    let mut probs = Vec::with_capacity(data.len() * k);
    let mut all_logits = Vec::with_capacity(data.len() * k);
    let mut predictions = Vec::with_capacity(data.len());
    let len = data.image_len();
    for start in (0..data.len()).step_by(batch_size) {
        let n = batch_size.min(data.len() - start);
        predictor.logits_into(&mut logits, &data.images()[start * len..(start + n) * len])?;
        let p = crate::calibration::softmax_at(&logits, k, temperature)?;
        all_logits.extend_from_slice(&logits);
        for (row, &label) in p.chunks_exact(k).zip(&data.labels()[start..start + n]) {
            let pred = tensor::argmax(row);
            confusion[usize::from(label) * k + pred] += 1;
            predictions.push(pred);
        }
        probs.extend_from_slice(&p);
    }
    let correct: usize = (0..k).map(|c| confusion[c * k + c]).sum();
    Ok(Evaluation {
        classes: k,
        accuracy: correct as f32 / data.len() as f32,
        confusion,
        probs,
        logits: all_logits,
        predictions,
    })
}
