//! `eval --report PATH.html`: one self-contained HTML page about a model — its training
//! curves, accuracy per class, confusion heat map, most confident mistakes, calibration,
//! first-layer filters, feature maps, and what it is (architecture, data, seed, settings,
//! checksum). Charts are inline SVG, images are PNG `data:` URIs, the style sheet is inline
//! (`style.css`, compiled in): the file opens offline and fetches nothing.
//!
//! [`render`] builds the page as a `String` from a [`Loaded`] model and a test [`Dataset`], so
//! a server can hand out the same page the command writes.

mod calibration;
mod classes;
mod curves;
mod features;
mod html;
mod mistakes;
mod model;

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use datagen::Dataset;
use engine::Evaluation;

use crate::flags::Cli;
use crate::loaded::Loaded;
use html::esc;

/// What goes into a report besides the model and the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// How the model is named at the top of the page (its file name, say).
    pub model_name: String,
    /// Most confident mistakes shown.
    pub mistakes: usize,
    /// Test images whose feature maps are shown.
    pub traced: usize,
    /// Show a progress bar (on a terminal) while the test set is evaluated.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            model_name: "model".into(),
            mistakes: 12,
            traced: 3,
            progress: false,
        }
    }
}

/// The section ids of the page, in order, with their headings and the short names the
/// navigation bar gives them (the tests check that each is there).
pub const SECTIONS: [(&str, &str, &str); 8] = [
    ("curves", "Training curves", "Curves"),
    ("classes", "Accuracy per class", "Per class"),
    ("confusion", "Confusion matrix", "Confusion"),
    ("mistakes", "Most confident mistakes", "Mistakes"),
    ("calibration", "Calibration", "Calibration"),
    ("filters", "First-layer filters", "Filters"),
    ("features", "Feature maps", "Feature maps"),
    ("model", "The model", "Model"),
];

/// Evaluates `m` on `data` (described by `desc`, e.g. "synthetic strokes digits, seed 1")
/// and renders the whole report page.
///
/// # Errors
/// A failing evaluation or forward pass (a model that does not fit the data).
pub fn render(m: &Loaded, data: &Dataset, desc: &str, opts: &Options) -> Result<String> {
    let classes = m.names.len();
    let eval = if opts.progress {
        crate::progress::evaluate_with_progress(
            &m.model,
            data,
            classes,
            m.temperature(),
            m.views(),
        )?
    } else {
        engine::evaluate_views(
            &m.model,
            data,
            1000,
            classes,
            engine::ExecPath::Auto,
            m.temperature(),
            m.views(),
        )?
    };
    render_with(m, data, desc, &eval, opts)
}

/// [`render`] for an evaluation already made of `m` on `data`.
///
/// # Errors
/// As for [`render`].
pub fn render_with(
    m: &Loaded,
    data: &Dataset,
    desc: &str,
    eval: &Evaluation,
    opts: &Options,
) -> Result<String> {
    let names = m.name_refs();
    let calib = calibration::Reliability::of(eval, data.labels(), calibration::BINS);
    let mut body = String::new();
    body.push_str(&curves::section(m)?);
    body.push_str(&classes::per_class(eval, &names)?);
    body.push_str(&classes::confusion(eval, &names)?);
    body.push_str(&mistakes::section(eval, data, &names, opts.mistakes)?);
    body.push_str(&calibration::section(m, &calib)?);
    body.push_str(&features::filters(m)?);
    body.push_str(&features::maps(m, data, &names, opts.traced)?);
    body.push_str(&model::section(m, desc, data.len())?);

    let mut page = String::new();
    let title = format!("{}: digits model report", opts.model_name);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{}</style></head><body>",
        esc(&title),
        include_str!("style.css")
    );
    let correct: usize = (0..eval.classes)
        .map(|c| eval.confusion[c * eval.classes + c])
        .sum();
    let _ = write!(
        page,
        "<header><div class=\"wrap\"><p class=\"kicker\">digits model report</p><h1>{}</h1><p class=\"sub\">{} <span class=\"dim\">on</span> {}</p><div class=\"stats\">{}{}{}{}</div></div></header>",
        esc(&opts.model_name),
        // Arrows that a line never breaks inside (`->` breaks after its hyphen).
        esc(&m.saved.spec.to_string().replace(" -> ", " → ")),
        esc(desc),
        html::stat("test accuracy", &format!("{:.2}%", 100.0 * eval.accuracy), &format!("{} of {} right", html::thousands(correct), html::thousands(data.len()))),
        html::stat("test images", &html::thousands(data.len()), &format!("{} classes", names.len())),
        html::stat("parameters", &html::thousands(m.model.param_count()), &format!("{} layers", m.saved.spec.layers.len())),
        html::stat("calibration error", &format!("{:.2}%", 100.0 * calib.ece), "ECE, 15 bins"),
    );
    page.push_str("<nav><div class=\"wrap\">");
    for (id, _, short) in SECTIONS {
        let _ = write!(page, "<a href=\"#{id}\">{}</a>", esc(short));
    }
    page.push_str("</div></nav><main class=\"wrap\">");
    page.push_str(&body);
    page.push_str(
        "</main><footer class=\"wrap\">Made by <code>digits-eval --report</code>: a self-contained page (inline SVG and PNG, no scripts, nothing fetched).</footer></body></html>\n",
    );
    Ok(page)
}

/// The mode: test the model on `--data` (or its own test set), write the report to `path`
/// atomically, say where and how large.
pub fn run(cli: &Cli, m: &Loaded, path: &Path) -> Result<()> {
    cli::check_writable(path)?;
    let (data, desc) = m.test_data(cli)?;
    println!("{}", m.describe(cli));
    println!("data: {desc}: {} test images", data.len());
    let opts = Options {
        model_name: cli.model.file_name().map_or_else(
            || cli.model.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        ),
        mistakes: cli.worst,
        traced: cli.samples,
        progress: true,
    };
    let page = render(m, &data, &desc, &opts)?;
    cli::write_atomic(path, page.as_bytes())
        .with_context(|| format!("writing report {}", path.display()))?;
    println!(
        "wrote {} ({} KB)",
        path.display(),
        page.len().div_ceil(1024)
    );
    Ok(())
}
