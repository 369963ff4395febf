//! What the network learned and sees: the first convolution's filters, and the feature maps
//! of a few test images after each ReLU and each pooling (from `Sequential::forward_trace`).

use std::fmt::Write;

use anyhow::{Context, Result};
use datagen::Dataset;
use nn::LayerSpec;
use tensor::Tensor;
use viz::raster::{png, Scale};

use super::html::{esc, img, open_section};
use crate::loaded::Loaded;

/// Feature maps shown per layer (the first ones); more would drown the page.
const MAPS_PER_LAYER: usize = 16;

/// The first convolution's kernels in a blue-white-red scale shared by all of them.
pub fn filters(m: &Loaded) -> Result<String> {
    let Some((at, &LayerSpec::Conv2d { kernel, .. })) = m
        .saved
        .spec
        .layers
        .iter()
        .enumerate()
        .find(|(_, l)| matches!(l, LayerSpec::Conv2d { .. }))
    else {
        let mut out = open_section(
            "filters",
            "This network has no convolution, so there are no filters to show.",
        );
        out.push_str("</section>");
        return Ok(out);
    };
    let weight = m.saved.params.get(&format!("{at}.conv.weight"));
    let bias = m.saved.params.get(&format!("{at}.conv.bias"));
    let Some(weight) = weight.filter(|w| w.shape.len() == 4) else {
        let mut out = open_section(
            "filters",
            "The model file holds no weights for its first convolution.",
        );
        out.push_str("</section>");
        return Ok(out);
    };
    let (c_out, c_in) = (weight.shape[0], weight.shape[1]);
    let k2 = kernel * kernel;
    let max_abs = weight.data.iter().fold(0f32, |a, &v| a.max(v.abs()));
    let lead = format!(
        "The {c_out} kernels of {kernel}x{kernel} weights that the first convolution (layer {}) slides over the image{}: red weights add ink under them, blue ones subtract it, white is zero; all share one scale (±{max_abs:.3}). A kernel with red on one side and blue on the other detects an edge across it.",
        at + 1,
        if c_in > 1 { ", first input channel" } else { "" }
    );
    let mut out = open_section("filters", &lead);
    out.push_str("<div class=\"filters\">");
    for f in 0..c_out {
        let w = &weight.data[f * c_in * k2..f * c_in * k2 + k2];
        let image = png(w, kernel, kernel, Scale::Diverging { max_abs })?;
        let b = bias
            .and_then(|b| b.data.get(f))
            .map_or(String::new(), |b| format!("bias {b:+.3}"));
        let _ = write!(
            out,
            "<figure>{}<figcaption>filter {f}<br><span class=\"dim\">{b}</span></figcaption></figure>",
            img(&image, 64, &format!("filter {f}"))
        );
    }
    out.push_str("</div><div class=\"scale\"><span>−</span><span class=\"diverging\"></span><span>+</span></div></section>");
    Ok(out)
}

/// The first `count` test images, each with its prediction and its feature maps after every
/// ReLU and pooling layer, each map scaled to its own maximum.
pub fn maps(m: &Loaded, data: &Dataset, names: &[&str], count: usize) -> Result<String> {
    let count = count.min(data.len());
    let lead = format!(
        "What the network looks at: the first {count} test images, and after each ReLU and each pooling the maps its filters produce (dark = strong response; each map is scaled to its own maximum, so compare shapes, not shades, between maps; a blank map means its filter responded nowhere on this image). The first convolution's maps follow the strokes and edges its filters detect; pooling halves them, keeping the strongest response of each 2x2 block."
    );
    let mut out = open_section("features", &lead);
    let (h, w) = (data.rows(), data.cols());
    for i in 0..count {
        let pixels = data.image_f32(i);
        let x = Tensor::from_vec(vec![1, 1, h, w], pixels.clone())?;
        let trace = m.model.forward_trace(&x).context("running the model")?;
        let logits = trace.last().context("the model has no layer")?;
        let mut probs = vec![0.0; logits.len()];
        tensor::softmax_rows_into(&mut probs, logits.data(), 1, logits.len())?;
        let pred = tensor::argmax(&probs);
        let label = usize::from(data.label(i));
        let verdict = if pred == label { "ok" } else { "bad" };
        let _ = write!(
            out,
            "<div class=\"trace\"><div class=\"input\">{}<p>test image #{i}<br>true <b>{}</b><br>predicted <b class=\"{verdict}\">{}</b> {:.1}%</p></div><div class=\"layers\">",
            img(&png(&pixels, h, w, Scale::Ink { max: 1.0 })?, 84, &format!("test image {i}")),
            esc(names.get(label).copied().unwrap_or("?")),
            esc(names.get(pred).copied().unwrap_or("?")),
            100.0 * probs[pred]
        );
        for (l, layer) in m.model.layers().iter().enumerate() {
            let kind = layer.name();
            if kind != "relu" && kind != "pool" {
                continue;
            }
            let &[1, c, mh, mw] = trace[l].shape() else {
                continue;
            };
            let shown = c.min(MAPS_PER_LAYER);
            let what = if kind == "relu" {
                "after ReLU"
            } else {
                "after max-pool"
            };
            let more = if shown < c {
                format!(", first {shown} of {c}")
            } else {
                String::new()
            };
            let _ = write!(
                out,
                "<div class=\"layer\"><p class=\"caption\">layer {}: {what} <span class=\"dim\">({c} maps of {mh}x{mw}{more})</span></p><div class=\"maps\">",
                l + 1
            );
            for (j, map) in trace[l]
                .data()
                .chunks_exact(mh * mw)
                .take(shown)
                .enumerate()
            {
                let max = map.iter().fold(0f32, |a, &v| a.max(v));
                let image = png(map, mh, mw, Scale::Ink { max })?;
                out.push_str(&img(&image, 46, &format!("map {j}")));
            }
            out.push_str("</div></div>");
        }
        out.push_str("</div></div>");
    }
    out.push_str("</section>");
    Ok(out)
}
