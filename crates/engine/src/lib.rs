//! Training and evaluation loops of the digits CNN over [`datagen::Dataset`]s.
//!
//! The `train` and `eval` commands share this code: seeded shuffling ([`epoch_order`]), one
//! epoch of training with optional augmentation ([`train_epoch`], [`train_epoch_with`]),
//! learning-rate schedules ([`Schedule`]), classification of `u8` batches through the fastest
//! implementation that fits the model ([`Predictor`]) and a full evaluation with per-class
//! accuracy and a confusion matrix ([`evaluate`]).
//!
//! # Example
//! ```
//! use engine::{epoch_order, evaluate, train_epoch};
//! # fn main() -> Result<(), engine::Error> {
//! let data = datagen::generate(datagen::Style::Strokes, 1, 0, 200);
//! let mut model = nn::ModelSpec::seed().build(1)?;
//! let mut sgd = nn::Sgd::new(0.05, 0.9, 0.0)?;
//! let order = epoch_order(data.len(), 1, 0);
//! let stats = train_epoch(&mut model, &mut sgd, &data, &order, 32, |_| 0.05, |_, _| {})?;
//! assert!(stats.loss.is_finite());
//! let eval = evaluate(&model, &data, 100, 10)?;
//! assert_eq!(eval.confusion.iter().sum::<usize>(), 200);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod batch;
mod calibration;
mod error;
mod eval;
mod exec;
mod predict;
mod process;
mod schedule;
mod source;
mod train;
mod views;

pub use batch::epoch_order;
pub use calibration::{
    calibration_metrics, check_temperature, energies, fit_temperature, log_sum_exp, lower_quantile,
    nll_at, softmax_at, Bin, CalibrationMetrics, ECE_BINS, MAX_TEMPERATURE,
};
pub use error::{Error, Result};
pub use eval::{
    evaluate, evaluate_at, evaluate_views, evaluate_with, evaluate_with_at, Evaluation,
};
pub use exec::ExecPath;
pub use predict::Predictor;
pub use process::setup_process;
pub use schedule::Schedule;
pub use source::{class_names, DataSource, DIGIT_NAMES, FASHION_NAMES, SYNTHETIC_TEST_START};
pub use train::{
    train_epoch, train_epoch_continued, train_epoch_exposed, train_epoch_with, Augmentation,
    EpochPlan, EpochStats, EpochSums, Exposure, DIVERGED_LOSS,
};
pub use views::{check_views, pool_views, push_views, VIEW_COUNTS};
