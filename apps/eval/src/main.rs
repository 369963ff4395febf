//! `eval`: loads a trained model and shows, for a few test images, the image, the feature
//! maps after ReLU and after pooling, the prediction and all class probabilities; then the
//! accuracy over the whole test set, per class, the confusion matrix and the most confident
//! mistakes. With `--image`, recognises the digit in each given picture instead.

mod bench;
mod gallery;
mod picture;
mod recognise;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use datagen::{idx, Dataset, Style};
use engine::{class_names, evaluate, DataSource, DIGIT_NAMES, SYNTHETIC_TEST_START};
use nn::{SavedModel, Sequential};
use serde_json::json;

/// Check a trained digits CNN.
///
/// With no arguments: loads model.json, makes 10,000 synthetic test digits (never seen in
/// training), shows the first 5 with what the network sees, then reports accuracy, accuracy
/// per class, the confusion matrix and the 5 most confident mistakes.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
pub(crate) struct Cli {
    /// The model file written by `train`.
    #[arg(long, default_value = "model.json")]
    model: PathBuf,
    /// Where test images come from: `synthetic`, or `idx:DIR` holding at least the test pair
    /// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (plain or .gz).
    #[arg(long, default_value = "synthetic")]
    data: String,
    /// Synthetic digit style (default: the one the model was trained on).
    #[arg(long)]
    style: Option<String>,
    /// Seed of the synthetic test images (default: the model's training seed; test images
    /// come from an index range training never uses).
    #[arg(long)]
    seed: Option<u64>,
    /// Images to show in detail.
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// Test images to evaluate (synthetic: how many to make; IDX: the first N).
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Class names: `digits`, `fashion`, or a file with one name a line (default: the names
    /// stored in the model).
    #[arg(long)]
    classes: Option<String>,
    /// How many of the most confidently wrong test images to show.
    #[arg(long, default_value_t = 5)]
    worst: usize,
    /// Worker threads (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long)]
    threads: Option<usize>,
    /// Also write the results as JSON here (accuracy, per_class, confusion, worst; with
    /// --image: one prediction per picture).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Recognise the digit in each of these pictures instead of checking a test set: PNG,
    /// JPEG or PGM/PPM of any size, dark ink on light paper or light on dark; `-` reads one
    /// picture from stdin.
    #[arg(
        long,
        num_args = 1..,
        value_name = "FILE",
        conflicts_with_all = ["data", "style", "seed", "samples", "count", "worst"]
    )]
    image: Vec<String>,
    /// With --image: when the most likely class has a lower probability than this, the
    /// verdict is "unsure: A or B" instead of a class.
    #[arg(long, default_value_t = 0.6, value_name = "P")]
    min_confidence: f32,
    /// Measure inference speed on the test images instead of reporting accuracy: images/s
    /// in batches of 1,000 (median of 5 passes) and the median latency of one image over
    /// 1,000 calls. With --json: `infer_images_per_second`, `latency_us`.
    #[arg(long, conflicts_with = "image")]
    bench: bool,
    /// Print N synthetic digits per class in ASCII (no model needed), beside the first N real
    /// ones of each class when --data idx:DIR is given, to compare them by eye.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "4", conflicts_with = "image")]
    gallery: Option<usize>,
}

fn main() -> ExitCode {
    engine::setup_process();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout as clap prints them; a usage error becomes one line.
fn clap_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        print!("{e}");
        return ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    eprintln!("{first} (see --help)");
    ExitCode::from(2)
}

/// Reads and checks a model file.
fn load_model(path: &Path) -> Result<(SavedModel, Sequential)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no model at {}: run `cargo run --release -p train` first (or pass --model PATH)",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading model {}", path.display())),
    };
    let saved = SavedModel::from_json(&text)
        .with_context(|| format!("reading model {}", path.display()))?;
    let model = saved
        .build()
        .with_context(|| format!("reading model {}", path.display()))?;
    Ok((saved, model))
}

fn meta_str<'a>(saved: &'a SavedModel, key: &str) -> Option<&'a str> {
    saved.meta.get(key).and_then(|v| v.as_str())
}

fn names_for(cli: &Cli, saved: &SavedModel, classes: usize) -> Result<Vec<String>> {
    let names = match (&cli.classes, saved.meta.get("class_names")) {
        (Some(spec), _) => class_names(spec)?,
        (None, Some(stored)) => serde_json::from_value(stored.clone()).unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    if names.len() == classes {
        return Ok(names);
    }
    if cli.classes.is_some() {
        bail!(
            "--classes gives {} names but the model has {classes} outputs",
            names.len()
        );
    }
    // No usable names stored: digits when they fit, class numbers otherwise.
    Ok(if classes == DIGIT_NAMES.len() {
        DIGIT_NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        (0..classes).map(|c| format!("class {c}")).collect()
    })
}

fn load_test(cli: &Cli, saved: &SavedModel) -> Result<(Dataset, String)> {
    let source: DataSource = cli.data.parse()?;
    match source {
        DataSource::Synthetic => {
            let style_name = cli
                .style
                .as_deref()
                .or(meta_str(saved, "style"))
                .unwrap_or("strokes");
            let style: Style = style_name.parse().map_err(anyhow::Error::msg)?;
            let seed = cli
                .seed
                .or(saved.meta.get("seed").and_then(|v| v.as_u64()))
                .unwrap_or(1);
            let data = datagen::generate(style, seed, SYNTHETIC_TEST_START, cli.count);
            Ok((data, format!("synthetic {style} digits, seed {seed}")))
        }
        DataSource::Idx(dir) => {
            let data = idx::load_split(&dir, idx::Split::Test)
                .with_context(|| format!("loading test data from {}", dir.display()))?
                .truncated(cli.count);
            Ok((data, format!("IDX test files in {}", dir.display())))
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    if cli.count == 0 {
        bail!("--count must be at least 1");
    }
    if cli.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    if let Some(threads) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .context("starting the worker threads")?;
    }
    if let Some(per_class) = cli.gallery {
        return gallery::print(cli, per_class);
    }
    let (saved, model) = load_model(&cli.model)?;
    let classes = saved.spec.classes()?;
    let names = names_for(cli, &saved, classes)?;
    if !cli.image.is_empty() {
        return recognise_pictures(cli, &saved, &model, &names);
    }
    let (data, desc) = load_test(cli, &saved)?;
    let [_, h, w] = saved.spec.input;
    if data.rows() != h || data.cols() != w {
        bail!(
            "test images are {}x{}, the model takes {h}x{w}",
            data.rows(),
            data.cols()
        );
    }
    println!(
        "model: {} ({}), {} parameters",
        cli.model.display(),
        saved.spec,
        model.param_count()
    );
    println!("data: {desc}: {} test images", data.len());
    println!();
    if cli.bench {
        return bench::run(cli, &model, &data, classes);
    }

    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for i in 0..cli.samples.min(data.len()) {
        print!("{}", report::sample(&model, &data, i, &names)?);
    }

    let eval = evaluate(&model, &data, 1000, classes)?;
    print!("{}", report::summary(&eval, &names)?);
    let worst = eval.most_confident_mistakes(data.labels(), cli.worst);
    if !worst.is_empty() {
        print!("{}", report::mistakes(&eval, &data, &worst, &names)?);
    }

    if let Some(path) = &cli.json {
        let per_class: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .zip(eval.per_class())
            .map(|(n, a)| (n.to_string(), json!(a)))
            .collect();
        let confusion: Vec<&[usize]> = eval.confusion.chunks(classes).collect();
        let worst_json: Vec<_> = worst
            .iter()
            .map(|&i| report::mistake_json(&eval, &data, i, &names))
            .collect();
        let out = json!({
            "accuracy": eval.accuracy,
            "count": data.len(),
            "per_class": per_class,
            "confusion": confusion,
            "class_names": names,
            "worst": worst_json,
            "model": cli.model,
            "data": cli.data,
        });
        std::fs::write(path, serde_json::to_string_pretty(&out)?)
            .with_context(|| format!("writing results {}", path.display()))?;
    }
    Ok(())
}

/// `--image`: reads every picture first (a bad file stops the run before any output), then
/// shows what the network sees and says for each.
fn recognise_pictures(
    cli: &Cli,
    saved: &SavedModel,
    model: &Sequential,
    names: &[String],
) -> Result<()> {
    if !(0.0..=1.0).contains(&cli.min_confidence) {
        bail!("--min-confidence must be between 0 and 1");
    }
    if saved.spec.input != [1, datagen::IMAGE_SIDE, datagen::IMAGE_SIDE] {
        let [c, h, w] = saved.spec.input;
        bail!("--image needs a model of 1x28x28 inputs, this one takes {c}x{h}x{w}");
    }
    if cli.image.iter().filter(|p| *p == "-").count() > 1 {
        bail!("--image: stdin (`-`) can be read only once");
    }
    let pictures = cli
        .image
        .iter()
        .map(|path| picture::read(path))
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    println!(
        "model: {} ({}), {} parameters",
        cli.model.display(),
        saved.spec,
        model.param_count()
    );
    println!();
    let mut json_rows = Vec::new();
    let (mut digits, mut unsure, mut none) = (0, 0, 0);
    for pic in &pictures {
        let r = recognise::recognise(model, pic, cli.min_confidence)
            .with_context(|| format!("recognising {}", pic.name))?;
        print!("{}", recognise::report(pic, &r, &names)?);
        match r.verdict {
            recognise::Verdict::Digit(_) => digits += 1,
            recognise::Verdict::Unsure(..) => unsure += 1,
            recognise::Verdict::NoDigit(_) => none += 1,
        }
        json_rows.push(recognise::to_json(pic, &r, &names));
    }
    if pictures.len() > 1 {
        println!(
            "{} pictures: {digits} digits, {unsure} unsure, {none} without a digit",
            pictures.len()
        );
    }
    if let Some(path) = &cli.json {
        let out = json!({
            "predictions": json_rows,
            "class_names": names,
            "min_confidence": cli.min_confidence,
            "model": cli.model,
        });
        std::fs::write(path, serde_json::to_string_pretty(&out)?)
            .with_context(|| format!("writing results {}", path.display()))?;
    }
    Ok(())
}
