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
    writeln!(
        out,
        "Pred={} ({:.1}%)  Verdict: {}",
        names[r.class],
        100.0 * r.probs[r.class],
        r.verdict.text(names)
    )?;
    out.push_str(&viz::prob_bars(names, &r.probs, BAR_WIDTH, None)?);
    out.push('\n');
    Ok(out)
}

/// One picture for `--json`: its file name and [`fields`].
pub fn to_json(picture: &Picture, r: &Recognition, names: &[&str]) -> Value {
    let mut row = serde_json::Map::new();
    row.insert("file".into(), picture.name.clone().into());
    row.extend(fields(r, names));
    Value::Object(row)
}

/// What `--image --json` and the web API say about one recognised picture: `class` (the
/// verdict's class, null unless the verdict names a digit), `top` (the network's most likely
/// class, always), its `probability`, all `probabilities`, the `verdict` in words and what
/// preprocessing found.
pub fn fields(r: &Recognition, names: &[&str]) -> serde_json::Map<String, Value> {
    let d = &r.diagnostics;
    let class = match r.verdict {
        Verdict::Digit(c) => Value::from(names[c]),
        Verdict::Unsure(..) | Verdict::NoDigit(_) => Value::Null,
    };
    let mut map = serde_json::Map::new();
    map.insert("class".into(), class);
    map.insert("top".into(), names[r.class].into());
    map.insert("probability".into(), r.probs[r.class].into());
    map.insert("probabilities".into(), json!(r.probs));
    map.insert("verdict".into(), r.verdict.text(names).into());
    map.insert(
        "diagnostics".into(),
        json!({
            "inverted": d.inverted,
            "contrast": d.contrast,
            "ink_fraction": d.ink_fraction,
            "components": d.components,
            "specks": d.specks,
            "aspect": d.aspect,
            "fill": d.fill,
            "stroke": d.stroke,
            "concern": d.concern.map(|c| c.to_string()),
        }),
    );
    map
}
