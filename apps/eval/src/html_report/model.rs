//! What the model is: its layers with their output shapes and parameters, what it was
//! trained on and how, and the checksum of its parameters.

use std::fmt::Write;

use anyhow::Result;
use serde_json::Value;

use super::html::{esc, json_text, key_values, open_section, thousands};
use crate::loaded::Loaded;

/// Metadata shown elsewhere on the page, or too long for the settings table.
const SHOWN_ELSEWHERE: [&str; 4] = ["history", "calibration", "class_names", "classes"];

/// The section: layer table, facts, then every other setting the model file records.
pub fn section(m: &Loaded, desc: &str, test_images: usize) -> Result<String> {
    let spec = &m.saved.spec;
    let mut out = open_section(
        "model",
        "Everything the model file says about the network and the run that made it; the checksum identifies these exact weights.",
    );
    // Layers.
    let shapes = spec.shapes().unwrap_or_default();
    let mut per_layer = vec![0usize; spec.layers.len()];
    for (name, t) in &m.saved.params {
        if let Some(i) = name.split('.').next().and_then(|i| i.parse::<usize>().ok()) {
            if let Some(n) = per_layer.get_mut(i) {
                *n += t.data.len();
            }
        }
    }
    let [c, h, w] = spec.input;
    let _ = write!(
        out,
        "<h3>Architecture</h3><div class=\"table-wrap\"><table><thead><tr><th class=\"num\">#</th><th>layer</th><th>output</th><th class=\"num\">parameters</th></tr></thead><tbody><tr><td class=\"num\"></td><td>input</td><td>{c}x{h}x{w}</td><td class=\"num\"></td></tr>"
    );
    for (i, layer) in spec.layers.iter().enumerate() {
        let shape = shapes.get(i).map_or("?".to_string(), |s| {
            s.iter().map(usize::to_string).collect::<Vec<_>>().join("x")
        });
        let params = if per_layer[i] > 0 {
            thousands(per_layer[i])
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{shape}</td><td class=\"num\">{params}</td></tr>",
            i + 1,
            esc(&layer.to_string())
        );
    }
    let _ = write!(
        out,
        "<tr class=\"total\"><td></td><td>total</td><td></td><td class=\"num\">{}</td></tr></tbody></table></div>",
        thousands(m.model.param_count())
    );
    // Facts.
    let meta = &m.saved.meta;
    let text = |key: &str| meta.get(key).map(json_text);
    let checksum = nn::params_checksum(&m.saved.params);
    let mut rows = vec![
        (
            "architecture".to_string(),
            format!("<code>{}</code>", esc(&spec.to_string())),
        ),
        ("parameters".to_string(), thousands(m.model.param_count())),
        ("classes".to_string(), esc(&m.names.join(", "))),
    ];
    if let Some(d) = text("data_description").or_else(|| text("data")) {
        rows.push(("trained on".into(), esc(&d)));
    }
    rows.push((
        "tested on (this page)".into(),
        esc(&format!("{desc}: {} images", thousands(test_images))),
    ));
    if let Some(s) = text("seed") {
        rows.push(("seed".into(), esc(&s)));
    }
    if let Some(a) = meta.get("test_accuracy").and_then(Value::as_f64) {
        rows.push((
            "test accuracy recorded by train".into(),
            format!("{:.2}%", 100.0 * a),
        ));
    }
    if let Some(k) = text("kept_epoch") {
        let why = text("kept_because").map_or(String::new(), |b| format!(" ({})", esc(&b)));
        rows.push(("epoch kept".into(), format!("{}{why}", esc(&k))));
    }
    rows.push((
        "parameter checksum".into(),
        format!("<code>{}</code>", esc(&checksum)),
    ));
    if let Some(stored) = &m.saved.checksum {
        if *stored != checksum {
            rows.push((
                "checksum in the file".into(),
                format!("<code>{}</code>", esc(stored)),
            ));
        }
    }
    rows.push((
        "file format".into(),
        format!("version {}", m.saved.format_version),
    ));
    if let Some(by) = text("created_by") {
        rows.push(("written by".into(), esc(&by)));
    }
    out.push_str("<h3>Facts</h3>");
    out.push_str(&key_values(&rows));
    // Every other setting, as recorded.
    let shown = [
        "data_description",
        "seed",
        "test_accuracy",
        "kept_epoch",
        "kept_because",
        "created_by",
    ];
    let settings: Vec<(String, String)> = meta
        .iter()
        .filter(|(k, _)| !SHOWN_ELSEWHERE.contains(&k.as_str()) && !shown.contains(&k.as_str()))
        .map(|(k, v)| {
            (
                k.replace('_', " "),
                format!("<code>{}</code>", esc(&json_text(v))),
            )
        })
        .collect();
    if !settings.is_empty() {
        out.push_str("<h3>Training settings</h3>");
        out.push_str(&key_values(&settings));
    }
    out.push_str("</section>");
    Ok(out)
}
