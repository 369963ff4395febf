//! What the network sees in a picture, which pixels decided, what it says, and an honest
//! verdict when the picture holds no single digit or the network is unsure.

use std::fmt::Write;

use datagen::preprocess::{prepare, Concern, Diagnostics, Options, Page, Prepared};
use datagen::{IMAGE_LEN, IMAGE_SIDE};
use nn::Sequential;
use tensor::Tensor;

use crate::error::{Error, Result};

/// Side of the square patch that occlusion blanks out.
const PATCH: usize = 3;

/// Occluded copies run through the network at once.
const CHUNK: usize = 256;

/// What the answer is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// A digit, confidently.
    Digit(usize),
    /// The two most likely classes, neither above the confidence floor.
    Unsure(usize, usize),
    /// Not one digit, whatever the network says.
    NoDigit(Concern),
    /// The network's evidence for every class is weaker than for almost any digit it was
    /// trained on (its energy score is under the model's floor): a letter, a doodle, a
    /// picture of something else.
    Unfamiliar,
}

impl Verdict {
    /// The class the verdict names: `Some` only for [`Verdict::Digit`].
    pub fn class(self) -> Option<usize> {
        match self {
            Verdict::Digit(c) => Some(c),
            Verdict::Unsure(..) | Verdict::NoDigit(_) | Verdict::Unfamiliar => None,
        }
    }

    /// In words: the class name, `unsure: A or B`, or `no digit: why`.
    pub fn text(self, names: &[&str]) -> String {
        match self {
            Verdict::Digit(c) => names[c].to_string(),
            Verdict::Unsure(a, b) => format!("unsure: {} or {}", names[a], names[b]),
            Verdict::NoDigit(why) => format!("no digit: {why}"),
            Verdict::Unfamiliar => "no digit: unlike the digits it learned".into(),
        }
    }
}

/// One picture, recognised.
#[derive(Debug, Clone)]
pub struct Recognition {
    /// The 28x28 image the network saw.
    pub input: Vec<f32>,
    /// What preprocessing found.
    pub diagnostics: Diagnostics,
    /// Probability of each class.
    pub probs: Vec<f32>,
    /// The most likely class.
    pub class: usize,
    /// How much each pixel supported `class`: the mean drop of its log-probability when a 3x3
    /// patch over the pixel is blanked (occlusion).
    pub saliency: Vec<f32>,
    /// The answer.
    pub verdict: Verdict,
    /// `ln Σ exp(logits)` of the network's raw logits: how strongly it sees any digit at all
    /// (see `engine::energies`).
    pub energy: f32,
}

/// The confidence floor of the verdict when none is given: below it, "unsure: A or B".
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.6;

/// Checks that `model` takes the 1x28x28 images that [`recognise`] prepares.
///
/// # Errors
/// [`Error::WrongModelInput`] naming the model's input shape.
pub fn check_model(model: &nn::ModelSpec) -> Result<()> {
    match model.input {
        [1, h, w] if h == IMAGE_SIDE && w == IMAGE_SIDE => Ok(()),
        [c, h, w] => Err(Error::WrongModelInput { c, h, w }),
    }
}

/// Prepares `page`, runs the network and decides the verdict.
///
/// # Errors
/// An error of the network (a model that does not take 1x28x28 images; see [`check_model`]).
pub fn recognise(model: &Sequential, page: &Page<'_>, min_confidence: f32) -> Result<Recognition> {
    let settings = Settings {
        min_confidence,
        ..Settings::default()
    };
    recognise_with(model, page, &settings)
}

/// How [`recognise_with`] decides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Below this top probability (after calibration) the verdict is "unsure: A or B".
    pub min_confidence: f32,
    /// The model's calibration temperature: the logits are divided by it before the
    /// softmax (1 = as the network says; see `engine::fit_temperature`).
    pub temperature: f32,
    /// Below this energy (`ln Σ exp(logits)`, of the raw logits) the verdict is
    /// [`Verdict::Unfamiliar`]; `None`: no such check.
    pub min_energy: Option<f32>,
    /// Compute the occlusion saliency (several hundred network runs; `false` leaves
    /// [`Recognition::saliency`] all zero, for checking many pictures quickly).
    pub saliency: bool,
    /// Test-time views (1, 5 or 9; see `engine::pool_views`): the probabilities are the mean
    /// of the views', at the temperature, the energy the mean of theirs. The saliency is that
    /// of the image itself.
    pub views: usize,
    /// The largest shear that straightens the prepared image's slant before the network
    /// sees it ([`datagen::deskew`]), as the model was trained; 0: none.
    pub deskew: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            temperature: 1.0,
            min_energy: None,
            saliency: true,
            views: 1,
            deskew: 0.0,
        }
    }
}

/// The temperature stored in a model file's `meta` under `calibration.temperature`, or 1
/// when there is none (or it is not a positive number).
pub fn temperature_of(meta: &serde_json::Map<String, serde_json::Value>) -> f32 {
    meta.get("calibration")
        .and_then(|c| c.get("temperature"))
        .and_then(|t| t.as_f64())
        .map(|t| t as f32)
        .filter(|t| t.is_finite() && *t > 0.0)
        .unwrap_or(1.0)
}

/// The energy floor stored in a model file's `meta` under `calibration.min_energy`, if any.
pub fn min_energy_of(meta: &serde_json::Map<String, serde_json::Value>) -> Option<f32> {
    meta.get("calibration")
        .and_then(|c| c.get("min_energy"))
        .and_then(|t| t.as_f64())
        .map(|t| t as f32)
        .filter(|t| t.is_finite())
}

/// The deskewing a model was trained with (its settings' `deskew`, the largest shear that
/// straightens a digit's slant), or 0 (none) when there is none or it is not a finite number
/// above zero: every image the model judges is deskewed as its training images were.
pub fn deskew_of(meta: &serde_json::Map<String, serde_json::Value>) -> f32 {
    meta.get("deskew")
        .and_then(|d| d.as_f64())
        .map(|d| d as f32)
        .filter(|d| d.is_finite() && *d > 0.0)
        .unwrap_or(0.0)
}

/// The test-time views stored in a model file's `meta` under `calibration.views` (1, 5 or
/// 9), or 1 when there is none or it is not one of those: the temperature and the energy
/// floor were fitted on that many views, so a model is judged as it was calibrated.
pub fn views_of(meta: &serde_json::Map<String, serde_json::Value>) -> usize {
    meta.get("calibration")
        .and_then(|c| c.get("views"))
        .and_then(|v| v.as_u64())
        .and_then(|v| usize::try_from(v).ok())
        .filter(|v| engine::check_views(*v).is_ok())
        .unwrap_or(1)
}

/// [`recognise`] with a calibration temperature and the choice to skip the saliency.
///
/// The verdict rule, in order:
/// 1. a concern of preprocessing (blank, solid block, several marks side by side, ...) is
///    `no digit: <why>`;
/// 2. an energy under `min_energy` is [`Verdict::Unfamiliar`] (a network trained with
///    outlier exposure gives letters, scribbles and other things low, even logits);
/// 3. a calibrated top probability under `min_confidence` is `unsure: A or B` (a digit, but
///    which?);
/// 4. else the top class.
///
/// # Errors
/// As [`recognise`].
pub fn recognise_with(
    model: &Sequential,
    page: &Page<'_>,
    settings: &Settings,
) -> Result<Recognition> {
    judge(model, prepare(page, &Options::default()), settings)
}

/// Every digit of the number on `page`, left to right (see `datagen::preprocess::segment`),
/// each recognised as [`recognise_with`] recognises one digit. A page with one digit gives a
/// list of one (the same as [`recognise_with`]); a blank page an empty list.
///
/// # Errors
/// As [`recognise`].
pub fn recognise_number(
    model: &Sequential,
    page: &Page<'_>,
    settings: &Settings,
) -> Result<Vec<Recognition>> {
    datagen::preprocess::segment(page, &Options::default())
        .into_iter()
        .map(|s| judge(model, s.prepared, settings))
        .collect()
}

/// The network's answer and the verdict on one prepared image.
fn judge(model: &Sequential, prepared: Prepared, settings: &Settings) -> Result<Recognition> {
    let mut input = prepared.pixels;
    datagen::deskew(&mut input, IMAGE_SIDE, settings.deskew);
    let t = if settings.temperature.is_finite() && settings.temperature > 0.0 {
        settings.temperature
    } else {
        1.0
    };
    let net = Network::new(model);
    let (probs, energy) = if settings.views == 1 {
        let (logp, energy) = log_probs_at(&net, &input, 1, t)?;
        (
            logp.iter().map(|l| l.exp()).collect::<Vec<f32>>(),
            energy[0],
        )
    } else {
        let mut batch = Vec::with_capacity(settings.views * input.len());
        engine::push_views(&mut batch, &input, IMAGE_SIDE, IMAGE_SIDE, settings.views)?;
        let logits = net.logits(&batch, settings.views)?;
        let classes = logits.len() / settings.views;
        let (pooled, energy) = engine::pool_views(logits.data(), classes, settings.views)?;
        (engine::softmax_at(&pooled, classes, t)?, energy[0])
    };
    let order = ranked(&probs);
    let class = order[0];
    let saliency = if settings.saliency {
        // Saliency is measured on the network's own log-probabilities of the image itself
        // (the temperature would only scale it).
        let base = log_probs(&net, &input, 1)?.0[class];
        occlusion(&net, &input, class, base)?
    } else {
        vec![0.0; input.len()]
    };
    let unfamiliar = settings.min_energy.is_some_and(|e| energy < e);
    let verdict = match prepared.diagnostics.concern {
        Some(why) => Verdict::NoDigit(why),
        None if unfamiliar => Verdict::Unfamiliar,
        None if probs[class] < settings.min_confidence => Verdict::Unsure(class, order[1]),
        None => Verdict::Digit(class),
    };
    Ok(Recognition {
        input,
        diagnostics: prepared.diagnostics,
        probs,
        class,
        saliency,
        verdict,
        energy,
    })
}

/// Class indices, most likely first (ties: lower index first).
fn ranked(probs: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order
}

/// The model, with its direct-convolution form where it has one (`nn::DirectNet`: its layers'
/// logits within rounding, several times faster on the hundreds of occluded copies the
/// saliency map needs), packed once per judged image.
struct Network<'m> {
    model: &'m Sequential,
    direct: Option<nn::DirectNet>,
}

impl<'m> Network<'m> {
    fn new(model: &'m Sequential) -> Self {
        let direct = nn::DirectNet::new(model).filter(|n| n.input() == (IMAGE_SIDE, IMAGE_SIDE));
        Self { model, direct }
    }

    /// The logits `[n, classes]` of `n` images of 28x28 held in `batch`.
    fn logits(&self, batch: &[f32], n: usize) -> Result<Tensor> {
        if let Some(net) = &self.direct {
            let mut logits = Tensor::zeros(vec![n, net.classes()]);
            net.infer_values_into(logits.data_mut(), batch)?;
            return Ok(logits);
        }
        let x = Tensor::from_vec(vec![n, 1, IMAGE_SIDE, IMAGE_SIDE], batch.to_vec())?;
        Ok(self.model.infer(&x)?)
    }
}

/// Log-probabilities of `n` images of 28x28 held in `batch`, row by row, and each row's
/// energy `ln Σ exp(logits)` (of the raw logits).
fn log_probs(net: &Network<'_>, batch: &[f32], n: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    log_probs_at(net, batch, n, 1.0)
}

/// [`log_probs`] of the logits divided by `temperature` (the energies stay those of the raw
/// logits).
fn log_probs_at(
    net: &Network<'_>,
    batch: &[f32],
    n: usize,
    temperature: f32,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let mut logits = net.logits(batch, n)?;
    let classes = logits.len() / n;
    let energy: Vec<f32> = logits
        .data()
        .chunks_exact(classes)
        .map(|row| {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            max + row.iter().map(|&v| (v - max).exp()).sum::<f32>().ln()
        })
        .collect();
    if temperature != 1.0 {
        let inv = 1.0 / temperature;
        logits.data_mut().iter_mut().for_each(|v| *v *= inv);
    }
    let mut out = vec![0.0; logits.len()];
    tensor::log_softmax_rows_into(&mut out, logits.data(), n, classes)?;
    Ok((out, energy))
}

/// Occlusion saliency: for every pixel, blank the 3x3 patch around it and measure how much the
/// log-probability of `class` drops; each ink pixel gets the mean drop of the patches that
/// cover it (rises count as 0). The log scale keeps the map informative when the network is
/// sure: a probability of 0.9999 hardly moves, its log does. Patches over no ink change
/// nothing and are skipped.
fn occlusion(net: &Network<'_>, input: &[f32], class: usize, base: f32) -> Result<Vec<f32>> {
    let side = IMAGE_SIDE;
    let half = PATCH / 2;
    let patch = |c: usize| c.saturating_sub(half)..(c + half + 1).min(side);
    let centres: Vec<(usize, usize)> = (0..IMAGE_LEN)
        .map(|i| (i % side, i / side))
        .filter(|&(x, y)| patch(y).any(|py| patch(x).any(|px| input[py * side + px] > 0.0)))
        .collect();
    let mut drop = vec![0.0f32; IMAGE_LEN];
    let mut count = vec![0u32; IMAGE_LEN];
    for chunk in centres.chunks(CHUNK) {
        let mut batch = Vec::with_capacity(chunk.len() * IMAGE_LEN);
        for &(x, y) in chunk {
            let start = batch.len();
            batch.extend_from_slice(input);
            for py in patch(y) {
                for px in patch(x) {
                    batch[start + py * side + px] = 0.0;
                }
            }
        }
        let (logp, _) = log_probs(net, &batch, chunk.len())?;
        let classes = logp.len() / chunk.len();
        for (k, &(x, y)) in chunk.iter().enumerate() {
            let d = (base - logp[k * classes + class]).max(0.0);
            for py in patch(y) {
                for px in patch(x) {
                    drop[py * side + px] += d;
                    count[py * side + px] += 1;
                }
            }
        }
    }
    Ok(drop
        .iter()
        .zip(&count)
        .zip(input)
        .map(|((&d, &n), &v)| if v > 0.0 && n > 0 { d / n as f32 } else { 0.0 })
        .collect())
}

/// How the page looked, in one line: polarity, ink box, marks, pen width, what was removed
/// (paper lines) and dropped (specks).
pub fn found(d: &Diagnostics) -> String {
    let Some(b) = d.ink_box else {
        return "no ink found".into();
    };
    let polarity = if d.inverted {
        "dark ink on light paper"
    } else {
        "light ink on dark paper"
    };
    let mut text = format!(
        "{polarity}, ink box {}x{} at ({}, {}), {} mark{}, pen {:.1} px",
        b.width,
        b.height,
        b.x,
        b.y,
        d.components,
        if d.components == 1 { "" } else { "s" },
        d.stroke
    );
    if d.thickened > 0 {
        write!(text, " (thickened)").ok();
    }
    let lines = d.horizontal_lines + d.vertical_lines;
    if lines > 0 {
        write!(
            text,
            ", {lines} paper line{} removed ({} across, {} down)",
            if lines == 1 { "" } else { "s" },
            d.horizontal_lines,
            d.vertical_lines
        )
        .ok();
    }
    if d.specks > 0 {
        write!(
            text,
            ", {} speck{} ignored",
            d.specks,
            if d.specks == 1 { "" } else { "s" }
        )
        .ok();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use datagen::preprocess::Channels;

    // See: issue #15 (a model trained on deskewed digits judges deskewed pictures).
    #[test]
    fn a_deskewing_model_sees_the_prepared_picture_deskewed() {
        let model = nn::ModelSpec::seed().build(1).unwrap();
        // A dark bar leaning to the right on light paper.
        let (w, h) = (80usize, 80usize);
        let mut gray = vec![0.95f32; w * h];
        for y in 10..70 {
            let c = 40.0 - 0.4 * (y as f32 - 40.0);
            for x in 0..w {
                if (x as f32 - c).abs() < 3.0 {
                    gray[y * w + x] = 0.1;
                }
            }
        }
        let page = Page::new(w, h, Channels::Gray, &gray).unwrap();
        let settings = Settings {
            saliency: false,
            ..Settings::default()
        };
        let plain = recognise_with(&model, &page, &settings).unwrap();
        let deskewed = recognise_with(
            &model,
            &page,
            &Settings {
                deskew: 0.75,
                ..settings
            },
        )
        .unwrap();
        let prepared = prepare(&page, &Options::default()).pixels;
        assert_eq!(plain.input, prepared);
        let mut want = prepared.clone();
        datagen::deskew(&mut want, IMAGE_SIDE, 0.75);
        assert_eq!(deskewed.input, want);
        let lean = |img: &[f32]| datagen::slant(img, IMAGE_SIDE).unwrap();
        assert!(lean(&plain.input) < -0.2, "{}", lean(&plain.input));
        assert!(
            lean(&deskewed.input).abs() < 0.05,
            "{}",
            lean(&deskewed.input)
        );
        assert_ne!(plain.probs, deskewed.probs);
        // The model's setting is read from its meta; none or nonsense is no deskewing.
        let meta = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(deskew_of(&meta(serde_json::json!({"deskew": 0.75}))), 0.75);
        assert_eq!(deskew_of(&meta(serde_json::json!({}))), 0.0);
        assert_eq!(deskew_of(&meta(serde_json::json!({"deskew": -1}))), 0.0);
        assert_eq!(deskew_of(&meta(serde_json::json!({"deskew": "yes"}))), 0.0);
    }
}
