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
    /// divided by the temperature, see [`evaluate_at`]; with several views, of the pooled
    /// views, see [`evaluate_views`]).
    pub probs: Vec<f32>,
    /// Test-time views per sample (1: the image as it is).
    pub views: usize,
    /// The network's logits of every sample, `n x k` (before any temperature); with several
    /// views, the views pooled (see [`crate::pool_views`]).
    pub logits: Vec<f32>,
    /// Every sample's energy `ln Σ exp(logits)` of the network's logits (the mean over the
    /// views).
    pub energies: Vec<f32>,
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
    evaluate_views(model, data, batch_size, classes, exec, temperature, 1)
}

/// [`evaluate_with_at`] over `views` test-time views of every image (see
/// [`crate::push_views`]): its views pooled by [`crate::pool_views`] (the mean of their
/// probabilities), then at `temperature`; its prediction their top class. One view is
/// [`evaluate_with_at`].
///
/// # Errors
/// As [`evaluate_with_at`], and [`Error::Invalid`] for a view count not in
/// [`crate::VIEW_COUNTS`].
pub fn evaluate_views(
    model: &Sequential,
    data: &Dataset,
    batch_size: usize,
    classes: usize,
    exec: ExecPath,
    temperature: f32,
    views: usize,
) -> Result<Evaluation> {
    crate::calibration::check_temperature(temperature)?;
    crate::views::check_views(views)?;
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
    let mut energies = Vec::with_capacity(data.len());
    let mut predictions = Vec::with_capacity(data.len());
    let len = data.image_len();
    let mut shifted = Vec::new();
    // A step runs at most `batch_size` images through the network, views included (the
    // activations of 9 views of 1,000 images at once would double a run's peak memory).
    let step = (batch_size / views).max(1);
    for start in (0..data.len()).step_by(step) {
        let n = step.min(data.len() - start);
        let images = &data.images()[start * len..(start + n) * len];
        if views == 1 {
            predictor.logits_into(&mut logits, images)?;
        } else {
            shifted.clear();
            for image in images.chunks_exact(len) {
                crate::views::push_views(&mut shifted, image, data.rows(), data.cols(), views)?;
            }
            predictor.logits_into(&mut logits, &shifted)?;
        }
        let (pooled, energy) = crate::views::pool_views(&logits, k, views)?;
        let p = crate::calibration::softmax_at(&pooled, k, temperature)?;
        all_logits.extend_from_slice(&pooled);
        energies.extend_from_slice(&energy);
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
        views,
        logits: all_logits,
        energies,
        predictions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Views pool the probabilities of the shifted copies, each run on its own through the
    /// layers, then the temperature sharpens or softens the mean; any batch size and either
    /// path gives the same.
    #[test]
    fn views_average_the_shifted_copies_probabilities() {
        let model = nn::ModelSpec::seed().build(5).unwrap();
        let data = datagen::generate(datagen::Style::Strokes, 3, 0, 7);
        let t = 1.3;
        let one = evaluate_with_at(&model, &data, 3, 10, ExecPath::Auto, t).unwrap();
        let as_views = evaluate_views(&model, &data, 3, 10, ExecPath::Auto, t, 1).unwrap();
        assert_eq!(as_views, one);
        let nine = evaluate_views(&model, &data, 3, 10, ExecPath::Layers, t, 9).unwrap();
        assert_eq!(nine.views, 9);
        for i in 0..data.len() {
            let mut shifted = Vec::new();
            crate::push_views(&mut shifted, data.image(i), 28, 28, 9).unwrap();
            let pixels = shifted.iter().map(|&b| datagen::to_unit(b)).collect();
            let x = tensor::Tensor::from_vec(vec![9, 1, 28, 28], pixels).unwrap();
            let logits = model.infer(&x).unwrap();
            let p = crate::softmax_at(logits.data(), 10, 1.0).unwrap();
            let mean: Vec<f64> = (0..10)
                .map(|c| (0..9).map(|v| f64::from(p[v * 10 + c])).sum::<f64>() / 9.0)
                .collect();
            let sharp: Vec<f64> = mean.iter().map(|m| m.powf(1.0 / f64::from(t))).collect();
            let total: f64 = sharp.iter().sum();
            for (c, s) in sharp.iter().enumerate() {
                let got = f64::from(nine.probs_of(i)[c]);
                assert!((got - s / total).abs() < 1e-5, "image {i} class {c}");
            }
            let best = (0..10)
                .max_by(|&a, &b| mean[a].total_cmp(&mean[b]))
                .unwrap();
            assert_eq!(nine.predictions[i], best);
            let energy: f32 = logits
                .data()
                .chunks_exact(10)
                .map(crate::log_sum_exp)
                .sum::<f32>()
                / 9.0;
            assert!((nine.energies[i] - energy).abs() < 1e-4, "image {i}");
        }
        let other = evaluate_views(&model, &data, 1000, 10, ExecPath::Auto, t, 9).unwrap();
        assert_eq!(other.predictions, nine.predictions);
        for (a, b) in other.probs.iter().zip(&nine.probs) {
            assert!((a - b).abs() < 1e-5);
        }
        assert!(evaluate_views(&model, &data, 3, 10, ExecPath::Auto, t, 4).is_err());
    }
}
