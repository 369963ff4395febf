//! What a run tells: the progress bar, one line per epoch, the metrics CSV written as the run
//! goes, and the figures kept in the model file and `--json`.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

/// Steps between two step rows of the metrics CSV (their loss is the mean over those steps).
pub const STEP_ROWS_EVERY: usize = 50;

/// The figures of one completed epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate of the epoch's last step.
    pub lr: f32,
    /// Mean training loss.
    pub loss: f32,
    /// Training accuracy (as trained, with augmentation and dropout).
    pub train_accuracy: f32,
    /// Validation accuracy, with a validation split.
    pub val_accuracy: Option<f32>,
    /// Test accuracy.
    pub test_accuracy: f32,
    /// Seconds of training (without the test pass).
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

impl EpochRecord {
    /// The record as the model file keeps it: every figure but the seconds and images/s.
    pub fn without_timing(&self) -> serde_json::Value {
        serde_json::json!({
            "epoch": self.epoch,
            "lr": self.lr,
            "loss": self.loss,
            "train_accuracy": self.train_accuracy,
            "val_accuracy": self.val_accuracy,
            "test_accuracy": self.test_accuracy,
        })
    }

    /// The console line.
    pub fn line(&self, epochs: usize) -> String {
        let val = self
            .val_accuracy
            .map(|a| format!("  val {:.2}%", 100.0 * a))
            .unwrap_or_default();
        format!(
            "epoch {}/{epochs}  loss {:.4}  train {:.2}%{val}  test {:.2}%  {:.2} s  {:.0} img/s",
            self.epoch,
            self.loss,
            100.0 * self.train_accuracy,
            100.0 * self.test_accuracy,
            self.seconds,
            self.images_per_second
        )
    }
}

/// The progress bar of one epoch: on a terminal only, with an ETA; hidden when piped.
pub fn progress_bar(len: usize, epoch: usize, epochs: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let style =
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} (ETA {eta})")
            .expect("static template is valid")
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}

/// The header of the metrics CSV. Epoch rows fill every column; step rows (`kind` = step)
/// give the global step, the learning rate and the mean loss of the last steps.
pub const CSV_HEADER: &str =
    "kind,epoch,step,lr,loss,train_accuracy,val_accuracy,test_accuracy,seconds,images_per_second";

/// The metrics CSV, appended to and flushed row by row so that a crash keeps what was done.
pub struct Metrics {
    file: Option<(PathBuf, File)>,
    loss_sum: f64,
    losses: usize,
}

impl Metrics {
    /// Opens `path` for appending (writing the header when the file is new or empty), or
    /// does nothing for `None`.
    pub fn open(path: Option<&Path>) -> Result<Self> {
        let file = match path {
            None => None,
            Some(p) => {
                let mut f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("opening metrics {}", p.display()))?;
                let empty = f.metadata().map(|m| m.len() == 0).unwrap_or(true);
                if empty {
                    writeln!(f, "{CSV_HEADER}")
                        .with_context(|| format!("writing metrics {}", p.display()))?;
                }
                Some((p.to_path_buf(), f))
            }
        };
        Ok(Self {
            file,
            loss_sum: 0.0,
            losses: 0,
        })
    }

    fn row(&mut self, text: &str) -> Result<()> {
        if let Some((path, f)) = &mut self.file {
            writeln!(f, "{text}")
                .and_then(|()| f.flush())
                .with_context(|| format!("writing metrics {}", path.display()))?;
        }
        Ok(())
    }

    /// Counts one step's loss; every [`STEP_ROWS_EVERY`] steps writes a step row.
    pub fn step(&mut self, epoch: usize, global_step: usize, lr: f32, loss: f32) -> Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        self.loss_sum += f64::from(loss);
        self.losses += 1;
        if (global_step + 1).is_multiple_of(STEP_ROWS_EVERY) {
            let mean = self.loss_sum / self.losses as f64;
            self.loss_sum = 0.0;
            self.losses = 0;
            self.row(&format!(
                "step,{epoch},{},{lr},{mean},,,,,",
                global_step + 1
            ))?;
        }
        Ok(())
    }

    /// Writes an epoch row.
    pub fn epoch(&mut self, r: &EpochRecord, global_step: usize) -> Result<()> {
        let val = r.val_accuracy.map(|v| v.to_string()).unwrap_or_default();
        self.row(&format!(
            "epoch,{},{global_step},{},{},{},{val},{},{},{}",
            r.epoch,
            r.lr,
            r.loss,
            r.train_accuracy,
            r.test_accuracy,
            r.seconds,
            r.images_per_second
        ))
    }
}

/// Whether `accuracy` over `classes` classes is no better than guessing (within half a
/// guess's share above it).
pub fn at_chance(accuracy: f32, classes: usize) -> bool {
    classes > 1 && accuracy <= 1.5 / classes as f32
}
