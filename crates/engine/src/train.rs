//! One epoch of minibatch training.

use datagen::{Augment, Dataset};
use nn::{softmax_cross_entropy_with, ComputedImages, Images, Optimizer, Sequential};

use crate::exec::ExecPath;
use rayon::prelude::*;
use tensor::Tensor;

use crate::error::{Error, Result};

/// What one epoch measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// Mean training loss over the epoch's samples.
    pub loss: f32,
    /// Fraction of training samples classified correctly by the model as it was when it saw
    /// them (before that batch's update).
    pub accuracy: f32,
    /// Samples seen by this call (those of steps skipped by `start_step` not included).
    pub samples: usize,
    /// Steps of the epoch done when it returned (counting any skipped by `start_step`).
    pub steps_done: usize,
    /// `true` when `stop` asked the epoch to end early.
    pub interrupted: bool,
    /// The running sums behind `loss` and `accuracy`, carried ones included: what a
    /// checkpoint keeps so that an epoch resumed part-way reports the same figures.
    pub sums: EpochSums,
}

/// Running sums of an epoch's figures: an epoch resumed part-way starts from the sums of
/// its first steps ([`train_epoch_continued`]) and ends with the same loss and accuracy, to
/// the bit, as one run straight through (the same additions in the same order).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EpochSums {
    /// Sum of each step's mean loss times its images (outliers included).
    pub loss_sum: f64,
    /// Images the loss sum is over.
    pub seen: usize,
    /// Dataset images classified correctly.
    pub correct: usize,
    /// Dataset images done.
    pub done: usize,
}

/// Random perturbation of training images (see [`datagen::Augment`]), drawn per sample from
/// a stream keyed by the run's seed, the epoch and the sample's index: every epoch sees new
/// variants, and a run (or a resumed run) is reproducible from its seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augmentation {
    /// How strongly to perturb.
    pub params: Augment,
    /// The run's seed.
    pub seed: u64,
}

/// Everything about one epoch besides the model and the optimiser.
#[derive(Debug, Clone, Copy)]
pub struct EpochPlan<'a> {
    /// The training images.
    pub data: &'a Dataset,
    /// The order to visit them in (indices into `data`), e.g. from [`crate::epoch_order`].
    pub order: &'a [usize],
    /// Images per step (the last step may be smaller).
    pub batch_size: usize,
    /// 0-based number of this epoch in the run.
    pub epoch: u64,
    /// Global number of the epoch's first step: dropout masks are keyed on step numbers.
    pub first_step: u64,
    /// The run's seed: dropout masks are keyed on it.
    pub seed: u64,
    /// Perturb each image before the step, or `None`.
    pub augment: Option<Augmentation>,
    /// Steps of this epoch already done (a resumed run skips them).
    pub start_step: usize,
    /// Checked after every step: when it reads `true` the epoch ends early (after a complete
    /// step) and reports `interrupted`.
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
    /// Which implementation runs the network (the fused seed kernels or the layers).
    pub exec: ExecPath,
}

/// Outlier exposure (Hendrycks et al., 2019): images that are none of the classes, added to
/// every step with the label [`nn::UNIFORM`], so the network learns to answer them with
/// equal probabilities ([`nn::Objective::Uniform`]) or low logits ([`nn::Objective::Energy`])
/// instead of a confident class.
#[derive(Debug, Clone, Copy)]
pub struct Exposure<'a> {
    /// The non-digit images (labels ignored), e.g. from [`datagen::nondigits`].
    pub data: &'a Dataset,
    /// Outliers added to each step (drawn at random from `data`, keyed by the seed, the
    /// epoch and the step, so runs and resumed runs are reproducible).
    pub per_batch: usize,
    /// Seed of the draw.
    pub seed: u64,
    /// What the outliers are trained towards (and, for [`nn::Objective::Energy`], the
    /// digits' margin too).
    pub objective: nn::Objective,
}

impl Exposure<'_> {
    /// The outlier indices of step `step` of epoch `epoch`.
    fn indices(&self, epoch: u64, step: u64, out: &mut Vec<usize>) {
        use rand::{Rng, SeedableRng};
        out.clear();
        if self.data.is_empty() {
            return;
        }
        let key = self.seed ^ 0x6f75_746c_6965_7273 ^ (epoch << 40) ^ step;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(key);
        out.extend((0..self.per_batch).map(|_| rng.random_range(0..self.data.len())));
    }
}

/// Runs one epoch over `order` with no augmentation, counting steps from 0: see
/// [`train_epoch_with`].
///
/// # Errors
/// As [`train_epoch_with`].
pub fn train_epoch(
    model: &mut Sequential,
    opt: &mut dyn Optimizer,
    data: &Dataset,
    order: &[usize],
    batch_size: usize,
    lr_at: impl Fn(usize) -> f32,
    progress: impl FnMut(usize, f32),
) -> Result<EpochStats> {
    let plan = EpochPlan {
        data,
        order,
        batch_size,
        epoch: 0,
        first_step: 0,
        seed: 0,
        augment: None,
        start_step: 0,
        stop: None,
        exec: ExecPath::Auto,
    };
    train_epoch_with(model, opt, &plan, lr_at, progress)
}

/// Runs one epoch: for each batch of `plan.batch_size` indices of `plan.order`, forward,
/// softmax cross-entropy, backward and one optimiser step at learning rate `lr_at(step)`
/// (`step` counts the epoch's batches from 0). `progress(done, loss)` is called after every
/// batch with the samples done so far and that batch's loss.
///
/// Networks with the seed pattern run through [`nn::FusedSeed`] (same mathematics, float
/// rounding aside, several times faster); any other network through its layers; `plan.exec`
/// can force either (see [`ExecPath`]).
///
/// # Errors
/// [`Error::Invalid`] for a zero batch size or an index outside the dataset,
/// [`Error::Diverged`] when the loss is not finite or above [`DIVERGED_LOSS`] (that step is
/// not applied, so the model keeps the weights of the last good step), or when a step leaves
/// a parameter that is not finite.
pub fn train_epoch_with(
    model: &mut Sequential,
    opt: &mut dyn Optimizer,
    plan: &EpochPlan<'_>,
    lr_at: impl Fn(usize) -> f32,
    progress: impl FnMut(usize, f32),
) -> Result<EpochStats> {
    train_epoch_exposed(model, opt, plan, None, lr_at, progress)
}

/// [`train_epoch_with`] with outlier exposure: each step also trains `exposure.per_batch`
/// non-digit images (label [`nn::UNIFORM`]) towards `exposure.objective`; the loss of a step
/// is then the mean over all its images (the outliers' terms and the digits' margins
/// included), while accuracy and `samples` count the dataset's images only. With `None` it
/// is [`train_epoch_with`].
///
/// # Errors
/// As [`train_epoch_with`], and [`Error::Invalid`] when the outlier images are not the
/// dataset's size.
pub fn train_epoch_exposed(
    model: &mut Sequential,
    opt: &mut dyn Optimizer,
    plan: &EpochPlan<'_>,
    exposure: Option<&Exposure<'_>>,
    lr_at: impl Fn(usize) -> f32,
    progress: impl FnMut(usize, f32),
) -> Result<EpochStats> {
    train_epoch_continued(
        model,
        opt,
        plan,
        exposure,
        EpochSums::default(),
        lr_at,
        progress,
    )
}

/// [`train_epoch_exposed`] for an epoch resumed at `plan.start_step`, starting from
/// `carried`, the sums of its steps before that (from [`EpochStats::sums`] when it stopped);
/// `progress` is told the samples done counting the carried ones.
///
/// # Errors
/// As [`train_epoch_exposed`].
pub fn train_epoch_continued(
    model: &mut Sequential,
    opt: &mut dyn Optimizer,
    plan: &EpochPlan<'_>,
    exposure: Option<&Exposure<'_>>,
    carried: EpochSums,
    lr_at: impl Fn(usize) -> f32,
    mut progress: impl FnMut(usize, f32),
) -> Result<EpochStats> {
    let data = plan.data;
    let exposure = exposure.filter(|e| e.per_batch > 0 && !e.data.is_empty());
    if let Some(e) = exposure {
        if e.data.rows() != data.rows() || e.data.cols() != data.cols() {
            return Err(Error::Invalid(format!(
                "outlier images are {}x{}, the training images {}x{}",
                e.data.rows(),
                e.data.cols(),
                data.rows(),
                data.cols()
            )));
        }
    }
    let objective = exposure.map_or(nn::Objective::Uniform, |e| e.objective);
    let mut outliers = Vec::new();
    if plan.batch_size == 0 {
        return Err(Error::Invalid("batch size must be at least 1".into()));
    }
    if let Some(&bad) = plan.order.iter().find(|&&i| i >= data.len()) {
        return Err(Error::Invalid(format!(
            "sample index {bad} is outside a dataset of {}",
            data.len()
        )));
    }
    let mut fused = plan.exec.fused_for(model, data.rows(), data.cols())?;
    // The fused path gathers a batch straight from bytes; with outliers and no augmentation
    // it gathers from the digits and the outliers (numbered after the digits) alike.
    let both: Option<&[u8]> = match exposure {
        Some(e) if fused.is_some() && plan.augment.is_none() => Some(e.data.images()),
        _ => None,
    };
    let mut gather: Vec<usize> = Vec::new();
    let mut labels = Vec::with_capacity(plan.batch_size);
    let mut pixels = Vec::new();
    let EpochSums {
        mut loss_sum,
        mut seen,
        mut correct,
        mut done,
    } = carried;
    let mut steps_done = plan.start_step;
    let mut interrupted = false;
    for (step, indices) in plan
        .order
        .chunks(plan.batch_size)
        .enumerate()
        .skip(plan.start_step)
    {
        if plan
            .stop
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            interrupted = true;
            break;
        }
        labels.clear();
        labels.extend(indices.iter().map(|&i| usize::from(data.label(i))));
        // The fused path reads (or augments) each image in its own workers, and with outliers
        // and no augmentation gathers from the digits and the outliers' bytes; otherwise the
        // batch is made here as floats (with outliers appended below).
        let fused_reads = fused.is_some() && (exposure.is_none() || both.is_some());
        if fused_reads {
        } else if let Some(aug) = &plan.augment {
            augment_batch(&mut pixels, data, indices, aug, plan.epoch);
        } else {
            pixels.resize(indices.len() * data.image_len(), 0.0);
            // Also rewrites `labels` with the same values: no scratch label buffer needed.
            data.batch_into(indices, &mut pixels, &mut labels);
        }
        if let Some(e) = exposure {
            e.indices(plan.epoch, step as u64, &mut outliers);
            if both.is_some() {
                gather.clear();
                gather.extend_from_slice(indices);
                gather.extend(outliers.iter().map(|&o| data.len() + o));
                labels.extend(outliers.iter().map(|_| nn::UNIFORM));
            } else {
                for &o in &outliers {
                    let start = pixels.len();
                    pixels.resize(start + e.data.image_len(), 0.0);
                    let dst = &mut pixels[start..];
                    match &plan.augment {
                        // Perturbed as the digits are, or the network could tell digits from
                        // non-digits by the resampling alone.
                        Some(aug) => augment_outlier(dst, e.data, o, aug, plan.epoch),
                        None => {
                            for (d, &p) in dst.iter_mut().zip(e.data.image(o)) {
                                *d = datagen::to_unit(p);
                            }
                        }
                    }
                    labels.push(nn::UNIFORM);
                }
            }
        }
        let batch_len = labels.len();
        let diverged = |source: nn::Error| match source {
            nn::Error::NonFiniteLoss { loss } => Error::Diverged {
                step: step + 1,
                reason: format!("the loss is {loss}"),
            },
            other => Error::Nn(other),
        };
        model.set_step(plan.seed, plan.first_step + step as u64);
        let (loss, right) = match fused.as_mut() {
            Some(f) => {
                let fill = |s: usize, dst: &mut [f32]| {
                    if let Some(aug) = &plan.augment {
                        augment_image(dst, data, indices[s], aug, plan.epoch);
                    }
                };
                let images = if let Some(extra) = both {
                    Images::Gather {
                        bytes: data.images(),
                        extra,
                        indices: &gather,
                    }
                } else if exposure.is_some() {
                    Images::Unit(&pixels)
                } else if plan.augment.is_some() {
                    Images::Computed(ComputedImages::new(indices.len(), &fill))
                } else {
                    Images::Gather {
                        bytes: data.images(),
                        extra: &[],
                        indices,
                    }
                };
                let stats = f
                    .train_step_with(model, images, &labels, objective)
                    .map_err(diverged)?;
                (stats.loss, stats.correct)
            }
            None => {
                let shape = vec![batch_len, 1, data.rows(), data.cols()];
                let images = Tensor::from_vec(shape, pixels.clone())?;
                model.zero_grad();
                let logits = model.forward(&images)?;
                let out =
                    softmax_cross_entropy_with(&logits, &labels, objective).map_err(diverged)?;
                let predicted = logits.argmax_rows()?;
                let right = predicted
                    .iter()
                    .zip(&labels)
                    .filter(|(p, l)| p == l)
                    .count();
                model.backward(&out.grad_logits)?;
                (out.loss, right)
            }
        };
        if loss > DIVERGED_LOSS {
            return Err(Error::Diverged {
                step: step + 1,
                reason: format!("the loss exploded to {loss}"),
            });
        }
        correct += right;
        opt.set_lr(lr_at(step));
        opt.step(model);
        if let Some(name) = non_finite_param(model) {
            return Err(Error::Diverged {
                step: step + 1,
                reason: format!("parameter {name} is no longer finite"),
            });
        }
        loss_sum += f64::from(loss) * batch_len as f64;
        seen += batch_len;
        done += indices.len();
        steps_done = step + 1;
        progress(done, loss);
    }
    Ok(EpochStats {
        loss: (loss_sum / seen.max(1) as f64) as f32,
        accuracy: correct as f32 / done.max(1) as f32,
        samples: done - carried.done,
        steps_done,
        interrupted,
        sums: EpochSums {
            loss_sum,
            seen,
            correct,
            done,
        },
    })
}

/// A mean batch loss above this counts as divergence: a model that guesses uniformly among
/// ten classes scores ln 10 = 2.3, and no training that is still learning comes near 1,000.
pub const DIVERGED_LOSS: f32 = 1e3;

/// The name of the first parameter holding NaN or an infinity, if any.
///
/// Runs after every step, so the common case is kept cheap: one pass over the values that
/// vectorises (no early exit) and no names formatted; names only when something is bad.
fn non_finite_param(model: &Sequential) -> Option<String> {
    let mut all_finite = true;
    for layer in model.layers() {
        layer.visit_params_ref(&mut |_, p| {
            all_finite &= p.value.data().iter().fold(true, |ok, v| ok & v.is_finite());
        });
    }
    if all_finite {
        return None;
    }
    let mut bad = None;
    model.visit_params_ref(&mut |name, p| {
        if bad.is_none() && !p.value.data().iter().all(|v| v.is_finite()) {
            bad = Some(name.to_owned());
        }
    });
    bad
}

/// Writes the augmented images of `indices` into `pixels`, one rayon task per image (each
/// image's draw depends only on its own key, so the result is the same for any thread count).
fn augment_batch(
    pixels: &mut Vec<f32>,
    data: &Dataset,
    indices: &[usize],
    aug: &Augmentation,
    epoch: u64,
) {
    let len = data.image_len();
    pixels.resize(indices.len() * len, 0.0);
    pixels
        .par_chunks_mut(len)
        .zip(indices.par_iter())
        .for_each(|(out, &i)| augment_image(out, data, i, aug, epoch));
}

/// Writes outlier `o` of the pool `pool`, augmented for epoch `epoch`, into `out`: the same
/// perturbations as the digits get, keyed apart from them (the bitwise complement of a digit's
/// key), so a pure function of the run's seed, the epoch and the outlier's index.
fn augment_outlier(out: &mut [f32], pool: &Dataset, o: usize, aug: &Augmentation, epoch: u64) {
    let key = !((epoch << 32) | o as u64);
    aug.params
        .apply_bytes(out, pool.image(o), pool.rows(), pool.cols(), aug.seed, key);
}

/// Writes the augmented image `i` of `data` for epoch `epoch` into `out`: a pure function of
/// the run's seed, the epoch and the sample index, whichever thread computes it.
fn augment_image(out: &mut [f32], data: &Dataset, i: usize, aug: &Augmentation, epoch: u64) {
    let key = (epoch << 32) | i as u64;
    aug.params
        .apply_bytes(out, data.image(i), data.rows(), data.cols(), aug.seed, key);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With augmentation an outlier is perturbed as a digit is: a pure function of the seed,
    /// the epoch and its index, new each epoch, and keyed apart from the digit of the same
    /// index (the same image in both sets is not perturbed alike).
    #[test]
    fn outliers_are_augmented_per_epoch_and_apart_from_the_digits() {
        let pool = datagen::nondigits(4, 0, 12);
        let aug = Augmentation {
            params: datagen::Augment::default(),
            seed: 4,
        };
        let len = pool.image_len();
        let clean: Vec<f32> = pool.image(5).iter().map(|&p| datagen::to_unit(p)).collect();
        let mut a = vec![0.0; len];
        let mut b = vec![0.0; len];
        augment_outlier(&mut a, &pool, 5, &aug, 1);
        augment_outlier(&mut b, &pool, 5, &aug, 1);
        assert_eq!(a, b);
        assert_ne!(a, clean, "the outlier is left as it was");
        augment_outlier(&mut b, &pool, 5, &aug, 2);
        assert_ne!(a, b, "epochs 1 and 2 perturb alike");
        // The digit path on the same images, index and epoch draws other perturbations.
        augment_image(&mut b, &pool, 5, &aug, 1);
        assert_ne!(a, b, "keyed like the digit of the same index");
    }
}
