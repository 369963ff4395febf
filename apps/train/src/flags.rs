//! `train`'s flags. Every flag is optional here so that a resumed run can tell the flags a
//! person gave from the defaults; [`crate::settings`] fills the defaults in once.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use cli::{values, StyleArg};
use engine::DataSource;
use serde::{Deserialize, Serialize};

/// Train the digits CNN and save it.
///
/// With no arguments: trains the seed network (Conv2D 8@3x3 -> ReLU -> MaxPool2x2 -> Flatten
/// -> Dense 10) for 8 epochs on 100,000 synthetic digits with 8 non-digits a step, tests it
/// on 10,000 others, and writes model.json.
///
/// Ctrl-C finishes the current step, writes a checkpoint and exits with status 130;
/// `--resume CHECKPOINT` alone continues the run where it stopped. A second Ctrl-C exits at
/// once.
#[derive(Debug, Parser)]
#[command(name = "digits-train", version, about, long_about)]
pub struct Cli {
    /// Passes over the training set [default: 8 for the seed network and --arch lenet on
    /// synthetic digits, else 3].
    #[arg(long, value_name = "N", value_parser = values::at_least_one, allow_negative_numbers = true)]
    pub epochs: Option<usize>,
    /// Images per step [default: 64; 128 for --arch lenet on synthetic digits].
    #[arg(long, value_name = "N", value_parser = values::at_least_one, allow_negative_numbers = true)]
    pub batch_size: Option<usize>,
    /// Optimiser [default: sgd].
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate [default: 0.05 for sgd (0.1 for --arch lenet on synthetic digits), 0.001
    /// for adam and adamw].
    #[arg(long, value_name = "X", value_parser = values::positive, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// SGD momentum, PyTorch semantics, in [0, 1) [default: 0.9]. Only with --optimizer sgd.
    #[arg(long, value_name = "X", value_parser = values::fraction_below_one, allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// Nesterov momentum. Only with --optimizer sgd and a momentum above 0.
    #[arg(long)]
    pub nesterov: bool,
    /// Weight decay: L2 for sgd and adam, decoupled for adamw [default: 0, or 0.01 for adamw].
    #[arg(long, value_name = "X", value_parser = values::non_negative, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule over the whole run [default: cosine].
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleKind>,
    /// Epochs of linear learning-rate warm-up before the schedule, may be fractional
    /// [default: 0].
    #[arg(long, value_name = "X", value_parser = values::non_negative, allow_negative_numbers = true)]
    pub warmup_epochs: Option<f64>,
    /// Seed of everything random: weights, shuffling, dropout, augmentation and synthetic
    /// images [default: 1].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Training images: synthetic ones to make (each epoch's with --epoch-data fresh), or the
    /// first N of the IDX training set [default: 100000 for the seed network and 50000 for
    /// --arch lenet on synthetic digits, else 60000].
    #[arg(long, value_name = "N", value_parser = values::at_least_one, allow_negative_numbers = true)]
    pub train_size: Option<usize>,
    /// Synthetic data only: `same` trains every epoch on the same --train-size images;
    /// `fresh` draws new ones each epoch (epoch e takes images e*N to (e+1)*N-1 of the
    /// seed's stream), so a run sees epochs times as many digits while holding N at a time
    /// [default: same; fresh for --arch lenet on synthetic digits].
    #[arg(long, value_enum)]
    pub epoch_data: Option<EpochData>,
    /// Test images: synthetic ones to make, or the first N of the IDX test set
    /// [default: 10000].
    #[arg(long, value_name = "N", value_parser = values::at_least_one, allow_negative_numbers = true)]
    pub test_size: Option<usize>,
    /// Outlier exposure: add N non-digit images (scribbles, letter shapes, blobs, marks,
    /// textures, from `datagen::nondigits`) to every step, trained towards low logits or
    /// equal probabilities (--outlier-loss), so the model can say "no digit" for things it
    /// never saw; 0 = off
    /// [default: 8 for synthetic digits, 0 for --data idx:DIR].
    #[arg(long, value_name = "N", value_parser = values::whole, allow_negative_numbers = true)]
    pub outliers: Option<usize>,
    /// What the outliers are trained towards [default: energy for the seed network, uniform
    /// for others].
    #[arg(long, value_enum)]
    pub outlier_loss: Option<OutlierLoss>,
    /// Test-time views the model is judged on (by `eval` and the page) and calibrated on at
    /// the end of the run: 1 (the image as it is), 5 (also shifted one pixel left, right,
    /// up and down) or 9 (the whole 3x3 block of one-pixel shifts); the verdict averages the
    /// views' probabilities [default: 9].
    #[arg(long, value_name = "N", value_parser = values::view_count, allow_negative_numbers = true)]
    pub views: Option<usize>,
    /// Straighten slanted digits before the network sees them: every image (training, test,
    /// outliers, and later every picture `eval` and the page judge) is sheared by its ink's
    /// slant (`datagen::deskew`), by at most X (a shear of X pixels across for each pixel
    /// down); 0 = off [default: 0.75 for the seed network and `--arch lenet` on synthetic
    /// digits, else 0].
    #[arg(long, value_name = "X", value_parser = values::non_negative, allow_negative_numbers = true)]
    pub deskew: Option<f64>,
    /// Hold out this fraction of the training images, in [0, 0.5), for validation: they fit
    /// the model's temperature and energy floor, and by default (--keep best) the epoch with
    /// the best validation accuracy is the one saved (the test set never chooses)
    /// [default: 0].
    #[arg(long, value_name = "F", value_parser = values::non_negative, allow_negative_numbers = true)]
    pub val_fraction: Option<f64>,
    /// Which epoch is saved when --val-fraction holds images out: `best` (the highest
    /// validation accuracy) or `last` (the final epoch, the held-out images still calibrate
    /// it) [default: best].
    #[arg(long, value_enum)]
    pub keep: Option<KeepKind>,
    /// Where images come from: `synthetic`, `mnist` or `fashion-mnist` (downloaded once into
    /// the cache, checked against the published checksums), or `idx:DIR` with the four
    /// MNIST-format files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
    /// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, plain or .gz) [default: synthetic].
    #[arg(long, value_name = "SRC")]
    pub data: Option<DataSource>,
    /// Start from the weights in this file instead of fresh ones, to fine-tune: a model file
    /// (JSON), or a .safetensors file (ours from `eval --export`, or a PyTorch nn.Sequential
    /// state_dict whose layer indices follow --arch). It must hold the network --arch names.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Synthetic digit style [default: strokes; scanned with --arch lenet]. Only with synthetic data.
    #[arg(long, value_enum)]
    pub style: Option<StyleArg>,
    /// Perturb training images (and the outliers of each step) each epoch: shift up to 2 px,
    /// rotate up to 10 degrees, scale 0.9-1.1 (`--augment` alone is `basic`); `elastic` adds
    /// an elastic distortion; `off` turns a default's off [default: off; basic for --arch
    /// lenet on synthetic digits].
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "basic")]
    pub augment: Option<AugmentArg>,
    /// Class names stored in the model: `digits`, `fashion`, or a file with one name a line
    /// [default: digits].
    #[arg(long, value_name = "C")]
    pub classes: Option<String>,
    /// Network: a preset, `seed` (conv 8@3x3, ReLU, pool, dense 10) or `lenet` (conv32, pool,
    /// conv64, pool, dense128, dense10; 3x3 kernels with padding 1), or a comma-separated
    /// list of layers: `conv<F>x<K>[s<S>][p<P>]` (F filters of KxK, stride S, padding P),
    /// `relu`, `pool2` (2x2 max-pool), `flatten`, `dense<N>`, `dropout<R>` (rate R in [0,1)),
    /// e.g. `conv16x5p2,relu,pool2,conv32x3,relu,pool2,flatten,dense64,relu,dropout0.25,dense10`
    /// [default: seed].
    #[arg(long, value_name = "A")]
    pub arch: Option<String>,
    /// How the network runs: `auto` (the fused seed-network kernels when the network has the
    /// seed pattern, else layer by layer), `fused` (insist on them), `layers` (every layer's
    /// own forward and backward) [default: auto]. Results are the same either way.
    #[arg(long, value_enum)]
    pub exec: Option<ExecKind>,
    /// Worker threads [default: all cores, or RAYON_NUM_THREADS]. Results are bit-identical
    /// for any count.
    #[arg(long, value_name = "N", value_parser = values::at_least_one, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// Where to write the model, atomically: a failed run leaves an existing file untouched
    /// [default: model.json].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Also write the run's figures as JSON here (accuracy, epoch_seconds, per-epoch figures).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write the run's figures as CSV here, a row per epoch and a row every 50 steps, as the
    /// run goes (a crash keeps what was done).
    #[arg(long, value_name = "PATH")]
    pub metrics: Option<PathBuf>,
    /// Write a checkpoint every N epochs (0: only on Ctrl-C) [default: 0].
    #[arg(long, value_name = "N", value_parser = values::whole, allow_negative_numbers = true)]
    pub checkpoint_every: Option<usize>,
    /// Checkpoint file [default: the --out path with `.ckpt` before the extension].
    #[arg(long, value_name = "PATH")]
    pub checkpoint: Option<PathBuf>,
    /// Continue the run saved in this checkpoint with its own settings (flags given with it
    /// must agree). The final model is byte-identical to an uninterrupted run's.
    #[arg(long, value_name = "CHECKPOINT")]
    pub resume: Option<PathBuf>,
}

/// `--optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent with momentum (--momentum, --nesterov).
    Sgd,
    /// Adam.
    Adam,
    /// Adam with decoupled weight decay.
    Adamw,
}

/// `--schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// The base rate throughout.
    Constant,
    /// Divided by 10 at 1/2 and again at 3/4 of the run.
    Step,
    /// Cosine decay to 0 at the end: steadier final accuracy.
    Cosine,
}

/// `--augment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AugmentKind {
    /// Shift, rotation and scale.
    Basic,
    /// Basic plus an elastic distortion.
    Elastic,
}

/// `--augment` as given: a kind, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AugmentArg {
    /// Shift, rotation and scale.
    Basic,
    /// Basic plus an elastic distortion.
    Elastic,
    /// No perturbation (turns off a recipe's default).
    Off,
}

impl AugmentArg {
    /// The augmentation it asks for, `None` for off.
    pub fn kind(self) -> Option<AugmentKind> {
        match self {
            AugmentArg::Basic => Some(AugmentKind::Basic),
            AugmentArg::Elastic => Some(AugmentKind::Elastic),
            AugmentArg::Off => None,
        }
    }
}

/// `--epoch-data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EpochData {
    /// The same images every epoch.
    Same,
    /// New synthetic images every epoch.
    Fresh,
}

/// `--keep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeepKind {
    /// The epoch with the highest validation accuracy.
    Best,
    /// The final epoch (a schedule that decays to its end usually ends on its best).
    Last,
}

/// `--outlier-loss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutlierLoss {
    /// Energy margins (Liu et al., 2020): an outlier's log-sum-exp of the logits is pushed
    /// under 0, a digit's over 6; the verdict's energy floor reads that very score
    Energy,
    /// Outliers towards equal probabilities (Hendrycks et al., 2019)
    Uniform,
}

impl OutlierLoss {
    /// The training objective.
    pub fn objective(self) -> nn::Objective {
        match self {
            OutlierLoss::Energy => nn::Objective::ENERGY,
            OutlierLoss::Uniform => nn::Objective::Uniform,
        }
    }
}

/// `--exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecKind {
    /// The fused kernels where they apply, else layer by layer.
    Auto,
    /// The fused seed-network kernels only.
    Fused,
    /// Every layer on its own.
    Layers,
}

impl From<ScheduleKind> for engine::Schedule {
    fn from(s: ScheduleKind) -> Self {
        match s {
            ScheduleKind::Constant => engine::Schedule::Constant,
            ScheduleKind::Step => engine::Schedule::Step,
            ScheduleKind::Cosine => engine::Schedule::Cosine,
        }
    }
}

impl From<ExecKind> for engine::ExecPath {
    fn from(e: ExecKind) -> Self {
        match e {
            ExecKind::Auto => engine::ExecPath::Auto,
            ExecKind::Fused => engine::ExecPath::Fused,
            ExecKind::Layers => engine::ExecPath::Layers,
        }
    }
}

impl From<AugmentKind> for datagen::Augment {
    fn from(a: AugmentKind) -> Self {
        match a {
            AugmentKind::Basic => datagen::Augment::default(),
            AugmentKind::Elastic => datagen::Augment::with_elastic(),
        }
    }
}
