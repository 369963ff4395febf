//! `train`: trains a CNN (the seed network by default) on synthetic digits or on
//! MNIST-format IDX files and saves the model as JSON.

mod checkpoint;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use datagen::{idx, Augment, Dataset, Style};
use engine::{
    class_names, epoch_order, evaluate, train_epoch_with, Augmentation, DataSource, EpochPlan,
    Schedule, SYNTHETIC_TEST_START,
};
use indicatif::{ProgressBar, ProgressStyle};
use nn::{Adam, ModelSpec, Optimizer, SavedModel, Sequential, Sgd};
use serde_json::{json, Map, Value};

use checkpoint::{Best, Checkpoint, CHECKPOINT_VERSION};

/// Exit status of a run stopped by Ctrl-C after writing its checkpoint.
const EXIT_INTERRUPTED: u8 = 130;

/// Train the digits CNN and save it.
///
/// With no arguments: trains the seed network (Conv2D 8@3x3 -> ReLU -> MaxPool2x2 -> Flatten
/// -> Dense 10) for 3 epochs on 60,000 synthetic digits, tests it on 10,000 others, and
/// writes model.json.
///
/// Ctrl-C finishes the current step, writes a checkpoint (see --checkpoint) and exits with
/// status 130; `--resume` continues from it. A second Ctrl-C exits at once.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Passes over the training set.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Optimiser: `sgd` (with --momentum, --nesterov), `adam` or `adamw` (decoupled weight
    /// decay).
    #[arg(long, default_value = "sgd")]
    optimizer: String,
    /// Learning rate (default: 0.05 for sgd, 0.001 for adam and adamw).
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f32>,
    /// SGD momentum (PyTorch semantics), in [0, 1).
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    momentum: f32,
    /// Nesterov momentum for sgd.
    #[arg(long)]
    nesterov: bool,
    /// Weight decay: L2 for sgd and adam, decoupled for adamw (default: 0, or 0.01 for adamw).
    #[arg(long, allow_negative_numbers = true)]
    weight_decay: Option<f32>,
    /// Learning-rate schedule over the whole run: `constant`, `step` (divide by 10 at 1/2
    /// and 3/4 of the run) or `cosine` (decay to 0 at the end: steadier final accuracy).
    #[arg(long, default_value = "cosine")]
    schedule: String,
    /// Epochs of linear learning-rate warm-up before the schedule (may be fractional).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    warmup_epochs: f32,
    /// Seed of everything random: weights, shuffling, dropout, augmentation and synthetic
    /// images.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Training images: synthetic ones to make, or the first N of the IDX training set.
    #[arg(long, default_value_t = 60_000)]
    train_size: usize,
    /// Test images: synthetic ones to make, or the first N of the IDX test set.
    #[arg(long, default_value_t = 10_000)]
    test_size: usize,
    /// Hold out this fraction of the training images for validation; the epoch with the best
    /// validation accuracy is the one saved (the test set never chooses).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    val_fraction: f32,
    /// Where images come from: `synthetic`, or `idx:DIR` with the four MNIST-format files
    /// (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    /// t10k-labels-idx1-ubyte, plain or .gz).
    #[arg(long, default_value = "synthetic")]
    data: String,
    /// Synthetic digit style: `strokes` (handwriting-like) or `segments` (the original demo's
    /// 7-segment look).
    #[arg(long, default_value = "strokes")]
    style: String,
    /// Perturb training images each epoch: shift up to 2 px, rotate up to 10 degrees, scale
    /// 0.9-1.1 (`--augment` or `--augment basic`), plus an elastic distortion
    /// (`--augment elastic`).
    #[arg(long, num_args = 0..=1, default_missing_value = "basic")]
    augment: Option<String>,
    /// Class names stored in the model: `digits`, `fashion`, or a file with one name a line.
    #[arg(long, default_value = "digits")]
    classes: String,
    /// Network: `seed` (the mission's network), `lenet` (conv32, pool, conv64, pool, dense128,
    /// dense10; 3x3 kernels with padding 1), or a comma-separated list of layers:
    /// `conv<F>x<K>[s<S>][p<P>]` (F filters of KxK, stride S, padding P), `relu`, `pool2` (2x2
    /// max-pool), `flatten`, `dense<N>`, `dropout<R>` (rate R in [0,1)), e.g.
    /// `conv16x5p2,relu,pool2,conv32x3,relu,pool2,flatten,dense64,relu,dropout0.25,dense10`.
    #[arg(long, default_value = "seed")]
    arch: String,
    /// Worker threads (default: all cores, or RAYON_NUM_THREADS). Results are bit-identical
    /// for any count.
    #[arg(long)]
    threads: Option<usize>,
    /// Where to write the model. Written atomically: a failed run leaves an existing file
    /// untouched.
    #[arg(long, default_value = "model.json")]
    out: PathBuf,
    /// Also write the run's metrics as JSON here (accuracy, epoch_seconds, per-epoch figures).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a checkpoint every N epochs (0: only on Ctrl-C).
    #[arg(long, default_value_t = 0)]
    checkpoint_every: usize,
    /// Checkpoint file (default: the --out path with `.ckpt` before the extension).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Continue the run saved in this checkpoint; the other flags must match the run's. The
    /// final model is byte-identical to an uninterrupted run's.
    #[arg(long)]
    resume: Option<PathBuf>,
}

/// Resolved optimiser settings.
struct OptimizerChoice {
    kind: String,
    lr: f32,
    weight_decay: f32,
}

/// Everything checked and loaded before training starts.
struct Setup {
    spec: ModelSpec,
    train: Dataset,
    val: Option<Dataset>,
    test: Dataset,
    names: Vec<String>,
    data_desc: String,
    optimizer: OptimizerChoice,
    augment: Option<Augment>,
    checkpoint: PathBuf,
    resume: Option<Checkpoint>,
}

fn main() -> ExitCode {
    engine::setup_process();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    match run(&cli) {
        Ok(Finished::Done) => ExitCode::SUCCESS,
        Ok(Finished::Interrupted) => ExitCode::from(EXIT_INTERRUPTED),
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

fn optimizer_choice(cli: &Cli) -> Result<OptimizerChoice> {
    let (lr, wd) = match cli.optimizer.as_str() {
        "sgd" => (0.05, 0.0),
        "adam" => (0.001, 0.0),
        "adamw" => (0.001, 0.01),
        other => bail!("--optimizer '{other}' is not one of sgd, adam, adamw"),
    };
    Ok(OptimizerChoice {
        kind: cli.optimizer.clone(),
        lr: cli.lr.unwrap_or(lr),
        weight_decay: cli.weight_decay.unwrap_or(wd),
    })
}

fn build_optimizer(cli: &Cli, o: &OptimizerChoice) -> Result<Box<dyn Optimizer>> {
    Ok(match o.kind.as_str() {
        "sgd" => {
            Box::new(Sgd::new(o.lr, cli.momentum, o.weight_decay)?.with_nesterov(cli.nesterov)?)
        }
        kind => Box::new(Adam::new(
            o.lr,
            0.9,
            0.999,
            1e-8,
            o.weight_decay,
            kind == "adamw",
        )?),
    })
}

fn validate(cli: &Cli) -> Result<(OptimizerChoice, Option<Augment>)> {
    if cli.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    if cli.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let o = optimizer_choice(cli)?;
    if !(o.lr.is_finite() && o.lr > 0.0) {
        bail!("--lr must be a positive number, got {}", o.lr);
    }
    if !(0.0..1.0).contains(&cli.momentum) {
        bail!("--momentum must be in [0, 1), got {}", cli.momentum);
    }
    if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
        bail!(
            "--weight-decay must be zero or positive, got {}",
            o.weight_decay
        );
    }
    if cli.nesterov && (o.kind != "sgd" || cli.momentum == 0.0) {
        bail!("--nesterov needs --optimizer sgd with a momentum above 0");
    }
    if cli.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    if !(cli.warmup_epochs.is_finite()
        && cli.warmup_epochs >= 0.0
        && cli.warmup_epochs <= cli.epochs as f32)
    {
        bail!(
            "--warmup-epochs must be between 0 and --epochs, got {}",
            cli.warmup_epochs
        );
    }
    if !(0.0..0.5).contains(&cli.val_fraction) {
        bail!(
            "--val-fraction must be in [0, 0.5), got {}",
            cli.val_fraction
        );
    }
    cli.schedule.parse::<Schedule>()?;
    if cli.train_size == 0 || cli.test_size == 0 {
        bail!("--train-size and --test-size must be at least 1");
    }
    let augment = match cli.augment.as_deref() {
        None => None,
        Some("basic") => Some(Augment::default()),
        Some("elastic") => Some(Augment::with_elastic()),
        Some(other) => bail!("--augment '{other}' is not basic or elastic"),
    };
    cli::check_writable(&cli.out)?;
    if let Some(path) = &cli.json {
        cli::check_writable(path)?;
    }
    Ok((o, augment))
}

fn load_data(cli: &Cli, source: &DataSource) -> Result<(Dataset, Dataset, String)> {
    match source {
        DataSource::Synthetic => {
            let style: Style = cli.style.parse().map_err(anyhow::Error::msg)?;
            let train = datagen::generate(style, cli.seed, 0, cli.train_size);
            let test = datagen::generate(style, cli.seed, SYNTHETIC_TEST_START, cli.test_size);
            Ok((
                train,
                test,
                format!("synthetic {style} digits, seed {}", cli.seed),
            ))
        }
        DataSource::Idx(dir) => {
            let train = idx::load_split(dir, idx::Split::Train)
                .with_context(|| format!("loading training data from {}", dir.display()))?
                .truncated(cli.train_size);
            let test = idx::load_split(dir, idx::Split::Test)
                .with_context(|| format!("loading test data from {}", dir.display()))?
                .truncated(cli.test_size);
            Ok((train, test, format!("IDX files in {}", dir.display())))
        }
    }
}

/// Splits off a validation set: a seeded random `fraction` of the training images.
fn split_validation(train: Dataset, fraction: f32, seed: u64) -> (Dataset, Option<Dataset>) {
    let count = (train.len() as f64 * f64::from(fraction)).round() as usize;
    if count == 0 {
        return (train, None);
    }
    // A shuffle stream of its own (epoch numbers start at 0; this one never collides).
    let order = epoch_order(train.len(), seed, u64::MAX - 1);
    let (val_idx, train_idx) = order.split_at(count);
    let mut val_idx = val_idx.to_vec();
    let mut train_idx = train_idx.to_vec();
    val_idx.sort_unstable();
    train_idx.sort_unstable();
    (train.select(&train_idx), Some(train.select(&val_idx)))
}

/// The checkpoint path for `out`: `model.json` -> `model.ckpt.json`.
fn default_checkpoint(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let ext = out
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    out.with_file_name(format!("{stem}.ckpt{ext}"))
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading checkpoint {}", path.display()))?;
    let ckpt: Checkpoint = serde_json::from_str(&text)
        .with_context(|| format!("reading checkpoint {}", path.display()))?;
    if ckpt.checkpoint_version != CHECKPOINT_VERSION {
        bail!(
            "checkpoint {} has format version {}, this build reads {CHECKPOINT_VERSION}",
            path.display(),
            ckpt.checkpoint_version
        );
    }
    Ok(ckpt)
}

fn setup(cli: &Cli) -> Result<Setup> {
    let (optimizer, augment) = validate(cli)?;
    let spec = ModelSpec::parse(&cli.arch).with_context(|| format!("--arch '{}'", cli.arch))?;
    let names = class_names(&cli.classes)?;
    let classes = spec.classes()?;
    if names.len() != classes {
        bail!(
            "--classes gives {} names but the network has {classes} outputs",
            names.len()
        );
    }
    let checkpoint = cli
        .checkpoint
        .clone()
        .unwrap_or_else(|| default_checkpoint(&cli.out));
    if cli.checkpoint_every > 0 || cli.checkpoint.is_some() {
        cli::check_writable(&checkpoint)?;
    }
    let resume = cli.resume.as_deref().map(read_checkpoint).transpose()?;
    let source: DataSource = cli.data.parse()?;
    let started = Instant::now();
    let (train, test, data_desc) = load_data(cli, &source)?;
    for (what, ds) in [("training", &train), ("test", &test)] {
        if ds.rows() != spec.input[1] || ds.cols() != spec.input[2] {
            bail!(
                "{what} images are {}x{}, the network takes {}x{}",
                ds.rows(),
                ds.cols(),
                spec.input[1],
                spec.input[2]
            );
        }
        if let Some(&l) = ds.labels().iter().find(|&&l| usize::from(l) >= classes) {
            bail!("{what} data has label {l}, the network has {classes} classes");
        }
    }
    let (train, val) = split_validation(train, cli.val_fraction, cli.seed);
    if cli.batch_size > train.len() {
        bail!(
            "--batch-size {} is larger than the {} training images",
            cli.batch_size,
            train.len()
        );
    }
    println!(
        "data: {data_desc}: {} training, {} validation and {} test images ({:.2} s)",
        train.len(),
        val.as_ref().map_or(0, Dataset::len),
        test.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(Setup {
        spec,
        train,
        val,
        test,
        names,
        data_desc,
        optimizer,
        augment,
        checkpoint,
        resume,
    })
}

/// The settings that shape a run (and must match on resume).
fn settings(cli: &Cli, s: &Setup) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arch".into(), json!(cli.arch));
    m.insert("data".into(), json!(cli.data));
    if cli.data == "synthetic" {
        m.insert("style".into(), json!(cli.style));
    }
    m.insert("seed".into(), json!(cli.seed));
    m.insert("epochs".into(), json!(cli.epochs));
    m.insert("batch_size".into(), json!(cli.batch_size));
    m.insert("optimizer".into(), json!(s.optimizer.kind));
    m.insert("lr".into(), json!(s.optimizer.lr));
    if s.optimizer.kind == "sgd" {
        m.insert("momentum".into(), json!(cli.momentum));
        m.insert("nesterov".into(), json!(cli.nesterov));
    }
    m.insert("weight_decay".into(), json!(s.optimizer.weight_decay));
    m.insert("schedule".into(), json!(cli.schedule));
    m.insert("warmup_epochs".into(), json!(cli.warmup_epochs));
    m.insert("augment".into(), json!(cli.augment));
    m.insert("val_fraction".into(), json!(cli.val_fraction));
    m.insert("train_size".into(), json!(s.train.len()));
    m.insert("test_size".into(), json!(s.test.len()));
    m.insert("classes".into(), json!(s.names));
    m
}

fn progress_bar(len: usize, epoch: usize, epochs: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
        .expect("static template is valid")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}

/// How a run ended without an error.
enum Finished {
    Done,
    Interrupted,
}

/// Ctrl-C handling: the first SIGINT sets the flag (the loop checkpoints and stops after the
/// current step); a second one, with the flag already set, exits at once.
fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    {
        use signal_hook::consts::SIGINT;
        // Order matters: the conditional shutdown sees the flag as it was before this signal.
        signal_hook::flag::register_conditional_shutdown(
            SIGINT,
            i32::from(EXIT_INTERRUPTED),
            Arc::clone(&flag),
        )
        .context("installing the Ctrl-C handler")?;
        signal_hook::flag::register(SIGINT, Arc::clone(&flag))
            .context("installing the Ctrl-C handler")?;
    }
    Ok(flag)
}

fn write_json(path: &Path, value: &impl serde::Serialize, what: &str) -> Result<()> {
    let text = serde_json::to_string(value)?;
    cli::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {what} {}", path.display()))
}

fn run(cli: &Cli) -> Result<Finished> {
    // Before anything starts rayon's pool (generating synthetic data does).
    cli::init_threads(cli.threads)?;
    let setup = setup(cli)?;
    let run_settings = settings(cli, &setup);
    let Setup {
        ref spec,
        ref train,
        ref val,
        ref test,
        ref names,
        ref data_desc,
        ref optimizer,
        augment,
        ref checkpoint,
        ref resume,
    } = setup;

    let (mut model, mut opt, mut best, start_epoch, start_step, mut accuracy): (
        Sequential,
        Box<dyn Optimizer>,
        Option<Best>,
        usize,
        usize,
        f32,
    ) = match resume {
        Some(ckpt) => {
            if let Some((key, was, now)) = ckpt.first_difference(&run_settings) {
                bail!("the checkpoint's run used {key} = {was}, this run has {now}: pass the same flags to resume");
            }
            let model = ckpt
                .model
                .build()
                .context("rebuilding the model from the checkpoint")?;
            let opt = ckpt.optimizer.clone().into_optimizer()?;
            println!("resuming at epoch {}, step {}", ckpt.epoch + 1, ckpt.step);
            (
                model,
                opt,
                ckpt.best.clone(),
                ckpt.epoch,
                ckpt.step,
                ckpt.last_test_accuracy.unwrap_or(0.0),
            )
        }
        None => (
            spec.build(cli.seed)?,
            build_optimizer(cli, optimizer)?,
            None,
            0,
            0,
            0.0,
        ),
    };
    println!(
        "model: {spec} ({} parameters), batch {}, {} lr {} ({}), {} threads",
        model.param_count(),
        cli.batch_size,
        optimizer.kind,
        optimizer.lr,
        cli.schedule,
        rayon::current_num_threads()
    );

    let stop = interrupt_flag()?;
    let schedule: Schedule = cli.schedule.parse()?;
    let steps_per_epoch = train.len().div_ceil(cli.batch_size);
    let total_steps = steps_per_epoch * cli.epochs;
    let warmup_steps = (cli.warmup_epochs * steps_per_epoch as f32).round() as usize;
    let augment = augment.map(|params| Augmentation {
        params,
        seed: cli.seed,
    });
    let checkpoint_now = |model: &Sequential,
                          opt: &dyn Optimizer,
                          best: &Option<Best>,
                          epoch,
                          step,
                          acc: Option<f32>| {
        let ckpt = Checkpoint {
            checkpoint_version: CHECKPOINT_VERSION,
            settings: run_settings.clone(),
            epoch,
            step,
            model: SavedModel::new(spec, model, Map::new()),
            optimizer: opt.state(),
            best: best.clone(),
            last_test_accuracy: acc,
        };
        write_json(checkpoint, &ckpt, "checkpoint")
    };

    let mut epochs_json = Vec::new();
    let mut epoch_seconds = Vec::new();
    for epoch in start_epoch..cli.epochs {
        let order = epoch_order(train.len(), cli.seed, epoch as u64);
        let bar = progress_bar(train.len(), epoch + 1, cli.epochs);
        let started = Instant::now();
        let first_step = epoch * steps_per_epoch;
        let lr_at =
            |step: usize| schedule.lr(optimizer.lr, first_step + step, total_steps, warmup_steps);
        let plan = EpochPlan {
            data: train,
            order: &order,
            batch_size: cli.batch_size,
            epoch: epoch as u64,
            first_step: first_step as u64,
            seed: cli.seed,
            augment,
            start_step: if epoch == start_epoch { start_step } else { 0 },
            stop: Some(&stop),
        };
        let stats = train_epoch_with(&mut model, opt.as_mut(), &plan, lr_at, |done, loss| {
            bar.set_position(done as u64);
            bar.set_message(format!("loss {loss:.4}"));
        })
        .with_context(|| format!("epoch {}", epoch + 1))?;
        let seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        if stats.interrupted || (stop.load(Ordering::SeqCst) && stats.steps_done < steps_per_epoch)
        {
            checkpoint_now(
                &model,
                opt.as_ref(),
                &best,
                epoch,
                stats.steps_done,
                Some(accuracy),
            )?;
            eprintln!(
                "interrupted in epoch {}, step {}: checkpoint written to {}; continue with --resume {}",
                epoch + 1,
                stats.steps_done,
                checkpoint.display(),
                checkpoint.display()
            );
            return Ok(Finished::Interrupted);
        }
        let eval = evaluate(&model, test, 1000, names.len())?;
        accuracy = eval.accuracy;
        let val_accuracy = match val {
            Some(v) => Some(evaluate(&model, v, 1000, names.len())?.accuracy),
            None => None,
        };
        let per_second = stats.samples as f64 / seconds;
        let val_text = val_accuracy
            .map(|a| format!("  val {:.2}%", 100.0 * a))
            .unwrap_or_default();
        println!(
            "epoch {}/{}  loss {:.4}  train {:.2}%{val_text}  test {:.2}%  {seconds:.2} s  {per_second:.0} img/s",
            epoch + 1,
            cli.epochs,
            stats.loss,
            100.0 * stats.accuracy,
            100.0 * eval.accuracy
        );
        if let Some(va) = val_accuracy {
            if best.as_ref().is_none_or(|b| va > b.val_accuracy) {
                best = Some(Best {
                    epoch: epoch + 1,
                    val_accuracy: va,
                    test_accuracy: eval.accuracy,
                    model: SavedModel::new(spec, &model, Map::new()),
                });
            }
        }
        epoch_seconds.push(seconds);
        epochs_json.push(json!({
            "epoch": epoch + 1,
            "lr": lr_at(steps_per_epoch.saturating_sub(1)),
            "loss": stats.loss,
            "train_accuracy": stats.accuracy,
            "val_accuracy": val_accuracy,
            "test_accuracy": eval.accuracy,
            "seconds": seconds,
            "images_per_second": per_second,
        }));
        let last = epoch + 1 == cli.epochs;
        if cli.checkpoint_every > 0 && (epoch + 1) % cli.checkpoint_every == 0 && !last {
            checkpoint_now(&model, opt.as_ref(), &best, epoch + 1, 0, Some(accuracy))?;
        }
        if stop.load(Ordering::SeqCst) && !last {
            checkpoint_now(&model, opt.as_ref(), &best, epoch + 1, 0, Some(accuracy))?;
            eprintln!(
                "interrupted after epoch {}: checkpoint written to {}; continue with --resume {}",
                epoch + 1,
                checkpoint.display(),
                checkpoint.display()
            );
            return Ok(Finished::Interrupted);
        }
    }

    // The model to save: the last epoch's, or the validation's choice.
    let mut meta = Map::new();
    meta.insert(
        "created_by".into(),
        json!(format!("digits train {}", env!("CARGO_PKG_VERSION"))),
    );
    meta.insert("data_description".into(), json!(data_desc));
    for (k, v) in &run_settings {
        meta.insert(k.clone(), v.clone());
    }
    meta.insert("class_names".into(), json!(names));
    meta.insert("history".into(), json!(epochs_json));
    let (params, kept_accuracy) = match &best {
        Some(b) => {
            meta.insert("kept_epoch".into(), json!(b.epoch));
            meta.insert(
                "kept_because".into(),
                json!(format!(
                    "highest validation accuracy ({:.4}) over {} epochs; validation = {} training images held out, the test set never chooses",
                    b.val_accuracy,
                    cli.epochs,
                    val.as_ref().map_or(0, Dataset::len)
                )),
            );
            meta.insert("val_accuracy".into(), json!(b.val_accuracy));
            (b.model.params.clone(), b.test_accuracy)
        }
        None => {
            meta.insert("kept_epoch".into(), json!(cli.epochs));
            meta.insert(
                "kept_because".into(),
                json!("last epoch (no validation split)"),
            );
            (SavedModel::new(spec, &model, Map::new()).params, accuracy)
        }
    };
    meta.insert("test_accuracy".into(), json!(kept_accuracy));
    let saved = SavedModel {
        params,
        ..SavedModel::new(spec, &model, meta)
    };
    write_json(&cli.out, &saved, "model")?;
    println!(
        "saved {} (test accuracy {:.2}%)",
        cli.out.display(),
        100.0 * kept_accuracy
    );

    if let Some(path) = &cli.json {
        let metrics = json!({
            "accuracy": kept_accuracy,
            "epoch_seconds": epoch_seconds,
            "epochs": epochs_json,
            "model": cli.out,
            "arch": cli.arch,
            "params": model.param_count(),
            "threads": rayon::current_num_threads(),
            "data": cli.data,
            "seed": cli.seed,
            "kept_epoch": best.as_ref().map_or(cli.epochs, |b| b.epoch),
        });
        write_json(path, &metrics, "metrics")?;
    }
    Ok(Finished::Done)
}
