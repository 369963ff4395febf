//! `--image` as text and JSON: the input and saliency side by side, prediction, verdict and
//! bars; one JSON object per picture.

use std::fmt::Write;

use anyhow::Result;
use datagen::preprocess::Concern;
use datagen::IMAGE_SIDE;
use serde_json::{json, Value};
use vision::{found, Picture, Recognition, Verdict};
use viz::Panel;

/// Bar width of the probability view.
const BAR_WIDTH: usize = 30;

/// The digits of the picture, left to right: when preprocessing found several marks side by
/// side (or ink too wide for one digit), each digit of the number recognised on its own;
/// otherwise the one recognition `r` (or none, for a blank page).
pub fn digits_of(
    model: &nn::Sequential,
    page: &datagen::preprocess::Page<'_>,
    r: &Recognition,
    settings: &vision::Settings,
) -> Result<Vec<Recognition>> {
    match r.verdict {
        Verdict::NoDigit(Concern::SideBySide | Concern::TooWide) => {
            let quick = vision::Settings {
                saliency: false,
                ..*settings
            };
            Ok(vision::recognise_number(model, page, &quick)?)
        }
        Verdict::NoDigit(Concern::Blank) => Ok(Vec::new()),
        _ => Ok(vec![r.clone()]),
    }
}

/// The number the digits spell, when every one of them is read as a digit (`None` when one
/// is unsure or no digit, or the classes are not the ten digits).
pub fn number(digits: &[Recognition], names: &[&str]) -> Option<String> {
    if digits.is_empty() || names.len() != 10 {
        return None;
    }
    digits
        .iter()
        .map(|d| {
            d.verdict
                .class()
                .and_then(|c| char::from_digit(c as u32, 10))
        })
        .collect()
}

/// The text for one picture: the input and saliency side by side, prediction, verdict and
/// bars, and for a number of several digits the number and each digit's verdict.
pub fn report(
    picture: &Picture,
    r: &Recognition,
    digits: &[Recognition],
    names: &[&str],
) -> Result<String> {
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
        Verdict::NoDigit(_) if digits.len() > 1 => {
            // Several marks, each read on its own below: the picture is a number, not a
            // digit, and the network's answer on the whole of it means nothing.
            writeln!(
                out,
                "Verdict: {} marks side by side, each read on its own",
                digits.len()
            )?;
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
    if digits.len() > 1 {
        let each: Vec<String> = digits
            .iter()
            .map(|d| match d.verdict {
                Verdict::Digit(c) => format!("{} {:.1}%", names[c], 100.0 * d.probs[c]),
                v => v.text(names),
            })
            .collect();
        match number(digits, names) {
            Some(n) => writeln!(out, "Number: {n} ({})", each.join(", "))?,
            None => writeln!(
                out,
                "Number: not read ({} marks: {})",
                digits.len(),
                each.join(", ")
            )?,
        }
    }
    out.push('\n');
    Ok(out)
}

/// One digit of `"digits"` in `--json`.
fn digit_json(d: &Recognition, names: &[&str]) -> Value {
    json!({
        "class": d.verdict.class().map(|c| names[c]),
        "top": names[d.class],
        "probability": d.probs[d.class],
        "verdict": d.verdict.text(names),
    })
}

/// One picture for `--json`: its file name, [`fields`], `digits` (the digits of the picture
/// left to right, see [`digits_of`]: one for a single digit, none for a blank page) and
/// `number` (what they spell when all are read).
pub fn to_json(
    picture: &Picture,
    r: &Recognition,
    digits: &[Recognition],
    names: &[&str],
) -> Value {
    let mut row = serde_json::Map::new();
    row.insert("file".into(), picture.name.clone().into());
    row.extend(fields(r, names));
    row.extend(number_fields(digits, names));
    Value::Object(row)
}

/// `digits` (each digit of the picture left to right, see [`digits_of`]) and `number` (what
/// they spell when all are read, else null), for `--image --json` and the web API.
pub fn number_fields(digits: &[Recognition], names: &[&str]) -> serde_json::Map<String, Value> {
    let each: Vec<Value> = digits.iter().map(|d| digit_json(d, names)).collect();
    let mut map = serde_json::Map::new();
    map.insert("digits".into(), each.into());
    map.insert("number".into(), json!(number(digits, names)));
    map
}

/// What `--image --json` and the web API say about one recognised picture: `class` (the
/// verdict's class, null unless the verdict names a digit), `top` (the network's most likely
/// class, always), its `probability`, all `probabilities`, the `verdict` in words, the
/// `energy` score and what preprocessing found.
pub fn fields(r: &Recognition, names: &[&str]) -> serde_json::Map<String, Value> {
    let d = &r.diagnostics;
    let mut map = serde_json::Map::new();
    map.insert("class".into(), json!(r.verdict.class().map(|c| names[c])));
    map.insert("top".into(), names[r.class].into());
    map.insert("probability".into(), r.probs[r.class].into());
    map.insert("probabilities".into(), json!(r.probs));
    map.insert("verdict".into(), r.verdict.text(names).into());
    map.insert("energy".into(), json!(r.energy));
    map.insert(
        "diagnostics".into(),
        json!({
            "inverted": d.inverted,
            "contrast": d.contrast,
            "ink_fraction": d.ink_fraction,
            "components": d.components,
            "specks": d.specks,
            "horizontal_lines": d.horizontal_lines,
            "vertical_lines": d.vertical_lines,
            "aspect": d.aspect,
            "fill": d.fill,
            "stroke": d.stroke,
            "concern": d.concern.map(|c| c.to_string()),
        }),
    );
    map
}
