//! The epoch loop: train, test, keep the best epoch, checkpoint when asked or interrupted,
//! and at the end write the model and its figures.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use engine::{
    epoch_order, evaluate, train_epoch_continued, Augmentation, EpochPlan, EpochSums, ExecPath,
    Exposure, Schedule,
};
use nn::{ModelSpec, Optimizer, SavedModel, Sequential};
use serde_json::{json, Map};

use crate::checkpoint::{Best, Checkpoint, CHECKPOINT_VERSION};
use crate::data::Data;
use crate::flags::KeepKind;
use crate::report::{at_chance, progress_bar, EpochRecord, Metrics};
use crate::settings::Settings;

/// Non-digit images made for outlier exposure (drawn from at random each step).
const OUTLIER_POOL: usize = 20_000;

/// How a run ended without an error.
pub enum Finished {
    /// Every epoch done and the model written.
    Done,
    /// Stopped by Ctrl-C after writing a checkpoint.
    Interrupted,
}

/// Where a run starts: fresh, or from a checkpoint.
pub struct Start {
    /// The network, with its weights so far.
    pub model: Sequential,
    /// The optimiser, with its state so far.
    pub opt: Box<dyn Optimizer>,
    /// The validation's choice so far.
    pub best: Option<Best>,
    /// 0-based epoch to continue in.
    pub epoch: usize,
    /// Steps of that epoch already done.
    pub step: usize,
    /// Test accuracy after the last completed epoch.
    pub accuracy: f32,
    /// The completed epochs' figures.
    pub history: Vec<EpochRecord>,
    /// The sums of the steps of `epoch` already done.
    pub sums: EpochSums,
    /// The checkpoint this run continues, removed when the run completes.
    pub resumed_from: Option<PathBuf>,
}

impl Start {
    /// A new run of `spec` with fresh weights, or those of `init` (`--init`).
    pub fn fresh(s: &Settings, spec: &ModelSpec, init: Option<&Path>) -> Result<Self> {
        let model = match init {
            Some(path) => {
                println!("initial weights: {}", path.display());
                cli::load_model_as(path, Some(spec))?.1
            }
            None => spec.build(s.seed)?,
        };
        Ok(Self {
            model,
            opt: s.build_optimizer()?,
            best: None,
            epoch: 0,
            step: 0,
            accuracy: 0.0,
            history: Vec::new(),
            sums: EpochSums::default(),
            resumed_from: None,
        })
    }

    /// The run saved in `ckpt` (read from `path`).
    pub fn resumed(ckpt: Checkpoint, path: &Path) -> Result<Self> {
        Ok(Self {
            model: ckpt
                .model
                .build()
                .context("rebuilding the model from the checkpoint")?,
            opt: ckpt.optimizer.into_optimizer()?,
            best: ckpt.best,
            epoch: ckpt.epoch,
            step: ckpt.step,
            accuracy: ckpt.last_test_accuracy.unwrap_or(0.0),
            history: ckpt.history,
            sums: ckpt.partial.map(EpochSums::from).unwrap_or_default(),
            resumed_from: Some(path.to_path_buf()),
        })
    }
}

/// The files a run writes besides the model and checkpoints.
pub struct Outputs<'a> {
    /// `--json`.
    pub json: Option<&'a Path>,
    /// `--metrics`.
    pub metrics: Option<&'a Path>,
}

fn write_json(path: &Path, value: &impl serde::Serialize, what: &str) -> Result<()> {
    let text = serde_json::to_string(value)?;
    cli::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {what} {}", path.display()))
}

/// Runs the epochs from `start` to the end (or to Ctrl-C), then writes the model.
pub fn train(
    s: &Settings,
    spec: &ModelSpec,
    data: &mut Data,
    start: Start,
    outputs: &Outputs<'_>,
    stop: &AtomicBool,
) -> Result<Finished> {
    let Start {
        mut model,
        mut opt,
        mut best,
        epoch: start_epoch,
        step: start_step,
        mut accuracy,
        mut history,
        sums: start_sums,
        resumed_from,
    } = start;
    let classes = s.class_names.len();
    let schedule: Schedule = s.schedule.into();
    let exec: ExecPath = s.exec.into();
    let steps_per_epoch = data.train.len().div_ceil(s.batch_size);
    let total_steps = steps_per_epoch * s.epochs;
    let warmup_steps = (s.warmup_epochs * steps_per_epoch as f64).round() as usize;
    let augment = s.augment.map(|a| Augmentation {
        params: a.into(),
        seed: s.seed,
    });
    let mut metrics = Metrics::open(outputs.metrics)?;
    // Outlier exposure: a fixed pool of non-digits, drawn from per step.
    let pool = (s.outliers > 0)
        .then(|| datagen::nondigits(s.seed, 0, OUTLIER_POOL).deskewed(s.deskew as f32));
    let exposure = pool.as_ref().map(|p| Exposure {
        data: p,
        per_batch: s.outliers,
        seed: s.seed,
        objective: s.outlier_loss.objective(),
    });
    let checkpoint_now = |model: &Sequential,
                          opt: &dyn Optimizer,
                          best: &Option<Best>,
                          history: &[EpochRecord],
                          epoch: usize,
                          step: usize,
                          acc: f32,
                          partial: Option<EpochSums>|
     -> Result<()> {
        let ckpt = Checkpoint {
            checkpoint_version: CHECKPOINT_VERSION,
            settings: s.clone(),
            epoch,
            step,
            model: SavedModel::new(spec, model, Map::new()),
            optimizer: opt.state(),
            best: best.clone(),
            last_test_accuracy: Some(acc),
            history: history.to_vec(),
            partial: partial.map(Into::into),
        };
        write_json(&s.checkpoint, &ckpt, "checkpoint")
    };

    for epoch in start_epoch..s.epochs {
        data.use_epoch(epoch);
        let order = epoch_order(data.train.len(), s.seed, epoch as u64);
        let bar = progress_bar(data.train.len(), epoch + 1, s.epochs);
        let started = Instant::now();
        let first_step = epoch * steps_per_epoch;
        let lr_at =
            |step: usize| schedule.lr(s.lr as f32, first_step + step, total_steps, warmup_steps);
        let plan = EpochPlan {
            data: &data.train,
            order: &order,
            batch_size: s.batch_size,
            epoch: epoch as u64,
            first_step: first_step as u64,
            seed: s.seed,
            augment,
            start_step: if epoch == start_epoch { start_step } else { 0 },
            stop: Some(stop),
            exec,
        };
        let mut step = plan.start_step;
        let mut metrics_error = None;
        let carried = match epoch == start_epoch {
            true => start_sums,
            false => EpochSums::default(),
        };
        let stats = train_epoch_continued(
            &mut model,
            opt.as_mut(),
            &plan,
            exposure.as_ref(),
            carried,
            lr_at,
            |done, loss| {
                bar.set_position(done as u64);
                bar.set_message(format!("loss {loss:.4}"));
                if let Err(e) = metrics.step(epoch + 1, first_step + step, lr_at(step), loss) {
                    metrics_error.get_or_insert(e);
                }
                step += 1;
            },
        )
        .with_context(|| format!("epoch {}", epoch + 1))?;
        if let Some(e) = metrics_error {
            return Err(e);
        }
        let seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        if stats.interrupted || (stop.load(Ordering::SeqCst) && stats.steps_done < steps_per_epoch)
        {
            checkpoint_now(
                &model,
                opt.as_ref(),
                &best,
                &history,
                epoch,
                stats.steps_done,
                accuracy,
                Some(stats.sums),
            )?;
            eprintln!(
                "interrupted in epoch {} of {}, step {} of {steps_per_epoch}: checkpoint written to {}; continue with: train --resume {}",
                epoch + 1,
                s.epochs,
                stats.steps_done,
                s.checkpoint.display(),
                s.checkpoint.display()
            );
            return Ok(Finished::Interrupted);
        }
        let eval = evaluate(&model, &data.test, 1000, classes)?;
        accuracy = eval.accuracy;
        let val_accuracy = match &data.val {
            Some(v) => Some(evaluate(&model, v, 1000, classes)?.accuracy),
            None => None,
        };
        let record = EpochRecord {
            epoch: epoch + 1,
            lr: lr_at(steps_per_epoch - 1),
            loss: stats.loss,
            train_accuracy: stats.accuracy,
            val_accuracy,
            test_accuracy: eval.accuracy,
            seconds,
            images_per_second: stats.samples as f64 / seconds,
        };
        println!("{}", record.line(s.epochs));
        metrics.epoch(&record, first_step + steps_per_epoch)?;
        history.push(record);
        if let Some(va) = val_accuracy.filter(|_| s.keep == KeepKind::Best) {
            if best.as_ref().is_none_or(|b| va > b.val_accuracy) {
                best = Some(Best {
                    epoch: epoch + 1,
                    val_accuracy: va,
                    test_accuracy: eval.accuracy,
                    model: SavedModel::new(spec, &model, Map::new()),
                });
            }
        }
        let last = epoch + 1 == s.epochs;
        let interrupted = stop.load(Ordering::SeqCst);
        if !last
            && (interrupted
                || (s.checkpoint_every > 0 && (epoch + 1).is_multiple_of(s.checkpoint_every)))
        {
            checkpoint_now(
                &model,
                opt.as_ref(),
                &best,
                &history,
                epoch + 1,
                0,
                accuracy,
                None,
            )?;
            if !interrupted {
                println!(
                    "checkpoint: {} (after epoch {} of {})",
                    s.checkpoint.display(),
                    epoch + 1,
                    s.epochs
                );
            }
        }
        if interrupted && !last {
            eprintln!(
                "interrupted after epoch {} of {}: checkpoint written to {}; continue with: train --resume {}",
                epoch + 1,
                s.epochs,
                s.checkpoint.display(),
                s.checkpoint.display()
            );
            return Ok(Finished::Interrupted);
        }
    }
    finish(s, spec, data, &model, &best, accuracy, &history, outputs)?;
    for path in std::iter::once(&s.checkpoint).chain(resumed_from.as_ref()) {
        if path.exists() {
            std::fs::remove_file(path)
                .with_context(|| format!("removing checkpoint {}", path.display()))?;
            println!(
                "removed checkpoint {} (the run is complete)",
                path.display()
            );
        }
    }
    Ok(Finished::Done)
}

/// Writes the model (the last epoch's, or the validation's choice), says which epoch was
/// kept, warns when the run learnt nothing, and writes `--json`.
#[allow(clippy::too_many_arguments)]
fn finish(
    s: &Settings,
    spec: &ModelSpec,
    data: &Data,
    model: &Sequential,
    best: &Option<Best>,
    accuracy: f32,
    history: &[EpochRecord],
    outputs: &Outputs<'_>,
) -> Result<()> {
    let mut meta = Map::new();
    meta.insert(
        "created_by".into(),
        json!(format!("digits train {}", env!("CARGO_PKG_VERSION"))),
    );
    meta.insert("data_description".into(), json!(data.description));
    meta.extend(s.to_meta()?);
    // Without the timings: a model file is byte-identical for any thread count and load.
    let curves: Vec<_> = history.iter().map(EpochRecord::without_timing).collect();
    meta.insert("history".into(), json!(curves));
    // The last epoch's validation accuracy, there when images were held out.
    let last_val = history.last().and_then(|r| r.val_accuracy);
    let (params, kept_epoch, kept_accuracy) = match best {
        Some(b) => {
            meta.insert(
                "kept_because".into(),
                json!(format!(
                    "highest validation accuracy ({:.4}) over {} epochs; validation = {} training images held out, the test set never chooses",
                    b.val_accuracy,
                    s.epochs,
                    data.val.as_ref().map_or(0, datagen::Dataset::len)
                )),
            );
            meta.insert("val_accuracy".into(), json!(b.val_accuracy));
            (b.model.params.clone(), b.epoch, b.test_accuracy)
        }
        None => {
            let because = match (last_val, data.val.as_ref()) {
                (Some(va), Some(v)) => {
                    meta.insert("val_accuracy".into(), json!(va));
                    format!(
                        "last epoch (--keep last; validation accuracy {va:.4}, {} training images held out)",
                        v.len()
                    )
                }
                _ => "last epoch (no validation split)".into(),
            };
            meta.insert("kept_because".into(), json!(because));
            (
                SavedModel::new(spec, model, Map::new()).params,
                s.epochs,
                accuracy,
            )
        }
    };
    let kept = SavedModel {
        checksum: Some(nn::params_checksum(&params)),
        params: params.clone(),
        ..SavedModel::new(spec, model, Map::new())
    }
    .build()?;
    if let Some(c) = crate::calibrate::calibration(s, data, &kept)? {
        meta.insert("calibration".into(), c);
    }
    meta.insert("kept_epoch".into(), json!(kept_epoch));
    meta.insert("test_accuracy".into(), json!(kept_accuracy));
    let saved = SavedModel {
        params,
        ..SavedModel::new(spec, model, meta)
    };
    write_json(&s.out, &saved, "model")?;
    match (best, last_val) {
        (Some(b), _) => println!(
            "kept epoch {} of {}: the highest validation accuracy, {:.2}%",
            b.epoch,
            s.epochs,
            100.0 * b.val_accuracy
        ),
        (None, Some(va)) => println!(
            "kept epoch {} of {} (--keep last): validation accuracy {:.2}%",
            s.epochs,
            s.epochs,
            100.0 * va
        ),
        (None, None) => {}
    }
    println!(
        "saved {} (test accuracy {:.2}%)",
        s.out.display(),
        100.0 * kept_accuracy
    );
    let classes = s.class_names.len();
    if at_chance(kept_accuracy, classes) {
        eprintln!(
            "warning: a test accuracy of {:.1}% is chance for {classes} classes: the network learnt nothing (try a lower --lr, another --optimizer or more --epochs)",
            100.0 * kept_accuracy
        );
    }
    if let Some(path) = outputs.json {
        let metrics = json!({
            "accuracy": kept_accuracy,
            "epoch_seconds": history.iter().map(|r| r.seconds).collect::<Vec<_>>(),
            "epochs": history,
            "model": s.out,
            "arch": s.arch,
            "params": model.param_count(),
            "threads": rayon::current_num_threads(),
            "data": s.data.to_string(),
            "seed": s.seed,
            "kept_epoch": kept_epoch,
        });
        write_json(path, &metrics, "metrics")?;
    }
    Ok(())
}
