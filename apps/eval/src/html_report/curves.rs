//! Training curves from the model file's `meta.history` (one object per epoch:
//! `epoch, lr, loss, train_accuracy, val_accuracy, test_accuracy, seconds, images_per_second`).

use std::fmt::Write;

use anyhow::Result;
use serde_json::Value;
use viz::svg::{line_chart, LineChart, Series, ValueFormat};

use super::html::{esc, open_section};
use crate::loaded::Loaded;

/// The per-epoch rows of `meta.history`, if any.
fn history(m: &Loaded) -> Vec<&serde_json::Map<String, Value>> {
    m.saved
        .meta
        .get("history")
        .and_then(Value::as_array)
        .map(|rows| rows.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

/// `(epoch, value)` for every row that has a number under `key`.
fn column(rows: &[&serde_json::Map<String, Value>], key: &str) -> Vec<(f64, f64)> {
    rows.iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let epoch = r
                .get("epoch")
                .and_then(Value::as_f64)
                .unwrap_or(i as f64 + 1.0);
            r.get(key).and_then(Value::as_f64).map(|v| (epoch, v))
        })
        .collect()
}

/// The section: loss, accuracies and learning rate per epoch, then the numbers in a
/// collapsed table; a plain sentence when the model has no history.
pub fn section(m: &Loaded) -> Result<String> {
    let rows = history(m);
    let loss = column(&rows, "loss");
    if rows.is_empty() || loss.is_empty() {
        let mut out = open_section(
            "curves",
            "This model file holds no training history (it was written by an older <code>digits-train</code> or another tool), so there are no curves to draw. Models trained now record one row per epoch.",
        );
        out.push_str("</section>");
        return Ok(out);
    }
    let one = if rows.len() == 1 {
        " With one epoch, each curve is a single point."
    } else {
        ""
    };
    let mut out = open_section(
        "curves",
        &format!(
            "Recorded by <code>digits-train</code>, one point per epoch ({} in all). The loss is the mean cross-entropy over the epoch's training batches; accuracies are measured after each epoch.{one}",
            rows.len()
        ),
    );
    let train = column(&rows, "train_accuracy");
    let val = column(&rows, "val_accuracy");
    let test = column(&rows, "test_accuracy");
    let lr = column(&rows, "lr");
    let mut acc = Vec::new();
    for (name, pts) in [("train", &train), ("validation", &val), ("test", &test)] {
        if !pts.is_empty() {
            acc.push(Series { name, points: pts });
        }
    }
    out.push_str("<div class=\"charts\">");
    figure(
        &mut out,
        "Loss",
        &LineChart {
            title: "Training loss per epoch",
            x_label: "epoch",
            y_label: "cross-entropy loss",
            series: &[Series {
                name: "training loss",
                points: &loss,
            }],
            x_integer: true,
            y_from_zero: true,
            y_format: ValueFormat::Plain,
        },
    )?;
    if !acc.is_empty() {
        figure(
            &mut out,
            "Accuracy",
            &LineChart {
                title: "Accuracy per epoch",
                x_label: "epoch",
                y_label: "accuracy",
                series: &acc,
                x_integer: true,
                y_from_zero: false,
                y_format: ValueFormat::Percent,
            },
        )?;
    }
    if !lr.is_empty() {
        figure(
            &mut out,
            "Learning rate (at the end of each epoch)",
            &LineChart {
                title: "Learning rate per epoch",
                x_label: "epoch",
                y_label: "learning rate",
                series: &[Series {
                    name: "learning rate",
                    points: &lr,
                }],
                x_integer: true,
                y_from_zero: true,
                y_format: ValueFormat::Plain,
            },
        )?;
    }
    out.push_str("</div>");
    out.push_str(&table(&rows));
    out.push_str("</section>");
    Ok(out)
}

fn figure(out: &mut String, caption: &str, chart: &LineChart<'_>) -> Result<()> {
    let _ = write!(
        out,
        "<figure><figcaption>{}</figcaption>{}</figure>",
        esc(caption),
        line_chart(chart)?
    );
    Ok(())
}

/// Every epoch's numbers, collapsed under a summary line.
fn table(rows: &[&serde_json::Map<String, Value>]) -> String {
    let cols: [(&str, &str); 8] = [
        ("epoch", "epoch"),
        ("lr", "learning rate"),
        ("loss", "loss"),
        ("train_accuracy", "train"),
        ("val_accuracy", "validation"),
        ("test_accuracy", "test"),
        ("seconds", "seconds"),
        ("images_per_second", "images/s"),
    ];
    // Only the columns some epoch has a number in (model files keep no timings).
    let cols: Vec<(&str, &str)> = cols
        .into_iter()
        .filter(|(key, _)| {
            rows.iter()
                .any(|r| r.get(*key).is_some_and(Value::is_number))
        })
        .collect();
    let mut out = String::from(
        "<details><summary>The numbers, epoch by epoch</summary><div class=\"table-wrap\"><table><thead><tr>",
    );
    for &(_, h) in &cols {
        let _ = write!(out, "<th class=\"num\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for &(key, _) in &cols {
            let cell = match r.get(key).and_then(Value::as_f64) {
                None => "–".to_string(),
                Some(v) if key.ends_with("accuracy") => format!("{:.2}%", 100.0 * v),
                Some(v) if key == "epoch" => format!("{v}"),
                Some(v) if key == "images_per_second" => super::html::thousands(v.round() as usize),
                Some(v) if key == "seconds" => format!("{v:.2}"),
                Some(v) => format!("{v:.5}"),
            };
            let _ = write!(out, "<td class=\"num\">{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></details>");
    out
}
