//! `digits-train` (`cargo run -p train`): trains a CNN (the seed network by default) on
//! synthetic digits or MNIST-format IDX files and saves the model as JSON.
//!
//! | file | what it holds |
//! |---|---|
//! | `flags.rs` | the command line, parsed by clap into typed values |
//! | `settings.rs` | the run's settings: defaults, checks, what a resume compares |
//! | `data.rs` | making or loading the images, the validation split |
//! | `run.rs` | the epoch loop, checkpoints, Ctrl-C, writing the model |
//! | `report.rs` | progress bar, epoch lines, the metrics CSV |
//! | `checkpoint.rs` | the checkpoint file |

mod calibrate;
mod checkpoint;
mod data;
mod flags;
mod report;
mod run;
mod settings;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use engine::ExecPath;

use checkpoint::Checkpoint;
use flags::{AugmentKind, Cli};
use run::{Finished, Outputs, Start};
use settings::Settings;

/// Exit status of a run stopped by Ctrl-C.
const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    engine::setup_process();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return cli::clap_exit(e),
    };
    match run(&cli) {
        Ok(Finished::Done) => ExitCode::SUCCESS,
        Ok(Finished::Interrupted) => ExitCode::from(EXIT_INTERRUPTED),
        Err(e) => cli::error_exit(&e),
    }
}

fn run(cli: &Cli) -> Result<Finished> {
    // Before anything starts rayon's pool (generating synthetic data does).
    cli::init_threads(cli.threads)?;
    let resume = cli
        .resume
        .as_deref()
        .map(|path| Checkpoint::read(path).map(|c| (c, path)))
        .transpose()?;
    let settings = match &resume {
        Some((ckpt, _)) => Settings::for_resume(ckpt.settings.clone(), cli)?,
        None => Settings::from_flags(cli)?,
    };
    let spec = settings.spec()?;
    check_outputs(cli, &settings)?;
    if settings.checkpoint_every > settings.epochs {
        eprintln!(
            "warning: --checkpoint-every {} is more than the run's {}: no checkpoint will be written (Ctrl-C still writes one)",
            settings.checkpoint_every,
            cli::plural(settings.epochs, "epoch")
        );
    }
    let stop = interrupt_flag()?;
    let mut data = data::load(&settings, &spec)?;
    if stop.load(Ordering::SeqCst) {
        eprintln!("interrupted while preparing the data: nothing was written");
        return Ok(Finished::Interrupted);
    }
    let start = match resume {
        Some((ckpt, path)) => {
            let (epoch, step) = (ckpt.epoch, ckpt.step);
            if epoch >= settings.epochs {
                anyhow::bail!(
                    "the run in {} is complete ({} of {} epochs): nothing to resume",
                    path.display(),
                    epoch,
                    settings.epochs
                );
            }
            let steps = data.train.len().div_ceil(settings.batch_size);
            println!(
                "resuming {}: epoch {} of {}, step {step} of {steps}; writes {}",
                path.display(),
                epoch + 1,
                settings.epochs,
                settings.out.display()
            );
            Start::resumed(ckpt, path)?
        }
        None => Start::fresh(&settings, &spec, cli.init.as_deref())?,
    };
    let exec: ExecPath = settings.exec.into();
    let layers: Vec<String> = spec.layers.iter().map(|l| l.to_string()).collect();
    println!("{}", cli::wrap_list("model: ", &layers, " -> ", 100));
    println!(
        "  {} parameters, path: {}",
        cli::thousands(start.model.param_count()),
        exec.describe(&start.model, data.train.rows(), data.train.cols())?
    );
    let augmented = match settings.augment {
        None => "",
        Some(AugmentKind::Basic) => ", augmented (shift, rotation, scale)",
        Some(AugmentKind::Elastic) => ", augmented (shift, rotation, scale, elastic)",
    };
    println!(
        "training: batch {}, {}{augmented}, {}",
        settings.batch_size,
        settings.optimizer_line(),
        cli::plural(rayon::current_num_threads(), "thread"),
    );
    let outputs = Outputs {
        json: cli.json.as_deref(),
        metrics: cli.metrics.as_deref(),
    };
    run::train(&settings, &spec, &mut data, start, &outputs, &stop)
}

/// Every file the run will write can be written: checked before any work starts.
fn check_outputs(cli: &Cli, s: &Settings) -> Result<()> {
    cli::check_writable(&s.out)?;
    if s.checkpoint_every > 0 || cli.checkpoint.is_some() || cli.resume.is_some() {
        cli::check_writable(&s.checkpoint)?;
    }
    for path in [&cli.json, &cli.metrics].into_iter().flatten() {
        cli::check_writable(path)?;
    }
    Ok(())
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
