//! The most confidently wrong test images, with their top-3 probabilities.

use std::fmt::Write;

use anyhow::Result;
use datagen::Dataset;
use engine::Evaluation;
use viz::raster::{png, Scale};

use super::html::{esc, img, open_section};

/// The top `n` classes of a probability row, most likely first (ties by class).
pub fn top(probs: &[f32], n: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order.into_iter().take(n).map(|c| (c, probs[c])).collect()
}

/// One card per mistake: the image as the network saw it, its index, the true class, and
/// bars of the three most likely classes.
pub fn section(eval: &Evaluation, data: &Dataset, names: &[&str], count: usize) -> Result<String> {
    let worst = eval.most_confident_mistakes(data.labels(), count);
    let wrong = eval
        .predictions
        .iter()
        .zip(data.labels())
        .filter(|(p, l)| **p != usize::from(**l))
        .count();
    let lead = if wrong == 0 {
        "The model got every test image right: there is no mistake to show.".to_string()
    } else if count == 0 {
        format!("{wrong} test images are misclassified; none is shown (<code>--worst 0</code>).")
    } else {
        format!(
            "The {} of the {wrong} misclassified test images on which the model was most sure of itself, most confident first, with the three classes it found most likely. Some are plain mistakes of the model; some are images a person would hesitate over too.",
            worst.len()
        )
    };
    let mut out = open_section("mistakes", &lead);
    if worst.is_empty() {
        out.push_str("</section>");
        return Ok(out);
    }
    out.push_str("<div class=\"mistakes\">");
    for &i in &worst {
        let label = usize::from(data.label(i));
        let image = png(
            &data.image_f32(i),
            data.rows(),
            data.cols(),
            Scale::Ink { max: 1.0 },
        )?;
        let _ = write!(
            out,
            "<div class=\"card\">{}<div class=\"meta\"><span class=\"idx\">#{i}</span><span>true: <b>{}</b></span></div><ol class=\"top3\">",
            img(&image, 84, &format!("test image {i}, a {}", names[label])),
            esc(names[label])
        );
        for (c, p) in top(eval.probs_of(i), 3) {
            let class = if c == label { " class=\"right\"" } else { "" };
            let _ = write!(
                out,
                "<li{class}><span class=\"name\">{}</span><span class=\"pct\">{:.1}%</span><span class=\"bar\"><span style=\"width:{:.1}%\"></span></span></li>",
                esc(names[c]),
                100.0 * p,
                100.0 * p
            );
        }
        out.push_str("</ol></div>");
    }
    out.push_str("</div></section>");
    Ok(out)
}
