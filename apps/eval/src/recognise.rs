//! `--image` as text and JSON: the input and saliency side by side, prediction, verdict and
//! bars; one JSON object per picture.

use std::fmt::Write;

use anyhow::Result;
use datagen::IMAGE_SIDE;
use serde_json::{json, Value};
use vision::{found, Picture, Recognition, Verdict};
use viz::Panel;

/// Bar width of the probability view.
const BAR_WIDTH: usize = 30;

/// The text for one picture: the input and saliency side by side, prediction, verdict and bars.
pub fn report(picture: &Picture, r: &Recognition, names: &[&str]) -> Result<String> {
    let mut out = String::new();
    writeln!(out, "{} ({})", picture.name, picture.kind)?;
    writeln!(out, "Found: {}", found(&r.diagnostics))?;
    let panels = [
        Panel::new("What the network sees", &r.input, IMAGE_SIDE, IMAGE_SIDE),
        Panel::scaled(
            "What decided (occlusion)",
            &r.saliency,
            IMAGE_SIDE,
            IMAGE_SIDE,
        ),
    ];
    out.push_str(&viz::side_by_side(&panels, 2)?);
    let top = 100.0 * r.probs[r.class];
    match r.verdict {
        Verdict::Digit(c) => {
            writeln!(
                out,
                "Pred={} ({:.1}%)  Verdict: {}",
                names[c],
                100.0 * r.probs[c],
                r.verdict.text(names)
            )?;
            out.push_str(&viz::prob_bars(names, &r.probs, BAR_WIDTH, None)?);
        }
        Verdict::Unsure(..) => {
            // No `Pred=`: nothing was read. The bars show how the network hesitates.
            writeln!(
                out,
                "Verdict: {}  (most likely {} at {top:.1}%, under the confidence floor)",
                r.verdict.text(names),
                names[r.class]
            )?;
            out.push_str(&viz::prob_bars(names, &r.probs, BAR_WIDTH, None)?);
        }
        Verdict::NoDigit(_) | Verdict::Unfamiliar => {
            // No `Pred=` and no bars: the network was not reading a digit, so its answer is
            // not shown as one (the JSON keeps it as `top`).
            writeln!(out, "Verdict: {}", r.verdict.text(names))?;
            writeln!(
                out,
                "(not read as a digit; the network's own top class would be {} at {top:.1}%)",
                names[r.class]
            )?;
        }
    }
    out.push('\n');
    Ok(out)
}

/// One picture for `--json`: `class` is the verdict's class (null when the verdict names no
/// digit: unsure, or no digit), `top` the network's most likely class whatever the verdict,
/// `probability` the probability of `top`.
pub fn to_json(picture: &Picture, r: &Recognition, names: &[&str]) -> Value {
    let d = &r.diagnostics;
    json!({
        "file": picture.name,
        "class": r.verdict.class().map(|c| names[c]),
        "top": names[r.class],
        "probability": r.probs[r.class],
        "probabilities": r.probs,
        "verdict": r.verdict.text(names),
        "energy": r.energy,
        "diagnostics": {
            "inverted": d.inverted,
            "contrast": d.contrast,
            "ink_fraction": d.ink_fraction,
            "components": d.components,
            "specks": d.specks,
            "aspect": d.aspect,
            "fill": d.fill,
            "stroke": d.stroke,
            "concern": d.concern.map(|c| c.to_string()),
        },
    })
}
