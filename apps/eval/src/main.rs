//! `digits-eval` (`cargo run -p eval`): checks a trained model. Each mode lives in a file of
//! its own; [`run`] resolves the flags into one [`Mode`] and dispatches with one `match`.
//!
//! | mode | file | what it does |
//! |---|---|---|
//! | [`Mode::Check`] | `check.rs` (text in `report.rs`) | samples, accuracy, per class, confusion, mistakes |
//! | [`Mode::Pictures`] | `pictures.rs` (text in `recognise.rs`) | the digit in each picture, with an honest verdict |
//! | [`Mode::Bench`] | `bench.rs` | inference images/s and single-image latency |
//! | [`Mode::Gallery`] | `gallery.rs` | synthetic digits beside real ones |
//! | [`Mode::Report`] | `html_report/` | one self-contained HTML page about the model |
//! | [`Mode::Serve`] | `serve/` | a web page to draw digits on, and its JSON API |
//! | [`Mode::Export`] | `export.rs` | the model as ONNX or safetensors |
//! | [`Mode::Ood`] | `ood.rs` | how well the verdict tells digits from another data set |

mod bench;
mod calibration;
mod check;
mod export;
mod flags;
mod gallery;
mod html_report;
mod loaded;
mod ood;
mod pictures;
mod progress;
mod recognise;
mod report;
mod serve;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::flags::{Cli, Mode};

fn main() -> ExitCode {
    engine::setup_process();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return cli::clap_exit(e),
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cli::error_exit(&e),
    }
}

fn run(cli: &Cli) -> Result<()> {
    cli::init_threads(cli.threads)?;
    if let Some(path) = &cli.json {
        cli::check_writable(path)?;
    }
    match cli.mode() {
        Mode::Gallery(per_class) => gallery::run(cli, per_class),
        Mode::Pictures(paths) => pictures::run(cli, &loaded::Loaded::open(cli)?, &paths),
        Mode::Bench => bench::run(cli, &loaded::Loaded::open(cli)?),
        Mode::Export(path) => export::run(cli, &loaded::Loaded::open(cli)?, &path),
        Mode::Check => check::run(cli, &loaded::Loaded::open(cli)?),
        Mode::Report(path) => html_report::run(cli, &loaded::Loaded::open(cli)?, &path),
        Mode::Serve(addr) => serve::run(cli, loaded::Loaded::open(cli)?, addr),
        Mode::Ood(other) => ood::run(cli, &loaded::Loaded::open(cli)?, &other),
    }
}

/// Writes `value` as pretty JSON to `path` atomically.
pub(crate) fn write_json(path: &std::path::Path, value: &serde_json::Value) -> Result<()> {
    use anyhow::Context;
    cli::write_atomic(path, serde_json::to_string_pretty(value)?.as_bytes())
        .with_context(|| format!("writing results {}", path.display()))
}
