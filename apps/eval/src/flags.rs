//! `eval`'s flags, parsed once into typed values, and the one [`Mode`] they choose.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use cli::{values, StyleArg};
use engine::DataSource;

/// Check a trained digits CNN.
///
/// With no arguments: loads model.json, tests it on the data it was trained on (10,000
/// synthetic digits never seen in training, or the test pair of the IDX directory the model
/// names), shows the first 5 with what the network sees, then accuracy, accuracy per class,
/// the confusion matrix and the 5 most confident mistakes.
///
/// Other modes: --image (recognise the digit in pictures), --bench (inference speed),
/// --gallery (synthetic digits beside real ones), --report (one HTML page about the model),
/// --serve (a web page to draw digits on), --export (the model as ONNX or safetensors).
#[derive(Debug, Parser)]
#[command(name = "digits-eval", version, about, long_about)]
pub struct Cli {
    /// The model file written by `train` (JSON), or a .safetensors file: one exported by
    /// --export, or a PyTorch nn.Sequential state_dict (with --arch).
    #[arg(long, default_value = "model.json")]
    pub model: PathBuf,
    /// The layers a PyTorch state_dict's indices follow (`seed`, `lenet` or a layer list as
    /// for `train --arch`): index i's `weight`/`bias` fill layer i's parameters.
    #[arg(long, value_parser = cli::arch_value)]
    pub arch: Option<nn::ModelSpec>,
    /// Where test images come from: `synthetic`, `mnist` or `fashion-mnist` (downloaded once
    /// into the cache, checked against the published checksums), or `idx:DIR` holding at
    /// least the test pair t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (plain or .gz).
    /// Default: what the model was trained on, when that is a data set by name or an IDX
    /// directory that exists; else synthetic.
    #[arg(long)]
    pub data: Option<DataSource>,
    /// Synthetic digit style (default: the one the model was trained on).
    #[arg(long, value_enum)]
    pub style: Option<StyleArg>,
    /// Seed of the synthetic test images (default: the model's training seed; test images
    /// come from an index range training never uses).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Images to show in detail.
    #[arg(long, default_value_t = 5, value_parser = values::whole, allow_negative_numbers = true)]
    pub samples: usize,
    /// Test images to evaluate (synthetic: how many to make; IDX: the first N).
    #[arg(long, default_value_t = 10_000, value_parser = values::at_least_one, allow_negative_numbers = true)]
    pub count: usize,
    /// Class names: `digits`, `fashion`, or a file with one name a line (default: the names
    /// stored in the model).
    #[arg(long)]
    pub classes: Option<String>,
    /// How many of the most confidently wrong test images to show.
    #[arg(long, default_value_t = 5, value_parser = values::whole, allow_negative_numbers = true)]
    pub worst: usize,
    /// Worker threads (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long, value_parser = values::at_least_one, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// Also write the results as JSON here (accuracy, per_class, confusion, worst; with
    /// --image: one prediction per picture; with --bench: the speed figures).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Recognise the digit in each of these pictures instead of checking a test set: PNG,
    /// JPEG or PGM/PPM of any size, dark ink on light paper or light on dark; `-` reads one
    /// picture from stdin.
    #[arg(
        long,
        num_args = 1..,
        value_name = "FILE",
        conflicts_with_all = ["data", "style", "seed", "samples", "count", "worst"]
    )]
    pub image: Vec<String>,
    /// With --image or --ood: when the most likely class has a lower probability than this, the
    /// verdict is "unsure: A or B" instead of a class. Default: the floor stored in the model
    /// (`meta.calibration.min_confidence`), else 0.6.
    #[arg(long, value_name = "P", value_parser = values::probability, allow_negative_numbers = true)]
    pub min_confidence: Option<f32>,
    /// Measure inference speed on the test images instead of reporting accuracy: images/s
    /// in batches of 1,000 (median of 5 passes) and the median latency of one image over
    /// 1,000 calls. With --json: `infer_images_per_second`, `latency_us`.
    #[arg(long, conflicts_with = "image")]
    pub bench: bool,
    /// Print N synthetic digits per class in ASCII (no model needed), beside the first N real
    /// ones of each class when --data idx:DIR is given, to compare them by eye.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "4", value_parser = values::at_least_one, conflicts_with_all = ["image", "bench"])]
    pub gallery: Option<usize>,
    /// Write one self-contained HTML page about the model here (training curves, accuracy per
    /// class, confusion heat map, the --worst most confident mistakes, calibration, filters,
    /// feature maps of --samples test images, settings and checksum), tested on --data.
    #[arg(long, value_name = "PATH.html", conflicts_with_all = ["image", "bench", "gallery", "serve"])]
    pub report: Option<PathBuf>,
    /// Serve a local web page to draw a digit on (or drop a photo) and watch the network see
    /// it, with its JSON API (GET /api/model, POST /api/predict, POST /api/strokes), until
    /// Ctrl-C. ADDR defaults to 127.0.0.1:8080; port 0 picks a free port. The URL is printed.
    #[arg(
        long,
        value_name = "ADDR",
        num_args = 0..=1,
        default_missing_value = "127.0.0.1:8080",
        value_parser = clap::value_parser!(SocketAddr),
        conflicts_with_all = ["image", "bench", "gallery", "data", "style", "seed", "samples", "count", "worst", "json"]
    )]
    pub serve: Option<SocketAddr>,
    /// Write the model in another format, chosen by the extension: `.onnx` (opset 13; input
    /// `image` [N, 1, 28, 28], outputs `logits` and `probabilities`) or `.safetensors`
    /// (every parameter under our names, spec and class names in the metadata).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["image", "bench", "gallery", "report", "serve"])]
    pub export: Option<PathBuf>,
    /// Check how well the verdict tells the test digits (--data) from the test images of
    /// this IDX directory, which are not digits (e.g. Fashion-MNIST): AUROC, FPR at 95% TPR,
    /// the fraction of each set flagged "unsure"/"no digit" at --min-confidence, and the
    /// trade-off over other floors. With --json: `ood`.
    #[arg(long, value_name = "idx:DIR", conflicts_with_all = ["image", "bench", "gallery"])]
    pub ood: Option<DataSource>,
}

/// What this run of `eval` does: exactly one mode, chosen once from the flags.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Test the model on a data set: samples in detail, accuracy, per class, confusion
    /// matrix, most confident mistakes.
    Check,
    /// Recognise the digit in each picture.
    Pictures(Vec<String>),
    /// Inference speed.
    Bench,
    /// Synthetic digits per class beside real ones; needs no model.
    Gallery(usize),
    /// An HTML report of the model, written to this path.
    Report(PathBuf),
    /// The web page and its API on this address, until Ctrl-C.
    Serve(SocketAddr),
    /// The model written as ONNX or safetensors (by the file's extension).
    Export(PathBuf),
    /// How well the verdict separates the digits from another data set.
    Ood(DataSource),
}

impl Cli {
    /// The mode the flags ask for (clap already refused conflicting ones).
    pub fn mode(&self) -> Mode {
        if let Some(addr) = self.serve {
            Mode::Serve(addr)
        } else if let Some(per_class) = self.gallery {
            Mode::Gallery(per_class)
        } else if !self.image.is_empty() {
            Mode::Pictures(self.image.clone())
        } else if let Some(path) = &self.report {
            Mode::Report(path.clone())
        } else if let Some(path) = &self.export {
            Mode::Export(path.clone())
        } else if self.bench {
            Mode::Bench
        } else if let Some(other) = &self.ood {
            Mode::Ood(other.clone())
        } else {
            Mode::Check
        }
    }
}
