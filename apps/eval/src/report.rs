//! The text `eval` prints: per-sample views, the summary and the mistakes.

use std::fmt::Write;

use anyhow::{Context, Result};
use datagen::Dataset;
use engine::Evaluation;
use nn::Sequential;
use serde_json::{json, Value};
use tensor::Tensor;
use viz::Panel;

/// Bar width of the probability view.
const BAR_WIDTH: usize = 30;

/// The channels of `t: [1, c, h, w]` from `first` on, at most `count`, with their sizes.
fn channels(t: &Tensor, count: usize) -> Option<(Vec<&[f32]>, usize, usize)> {
    let &[1, c, h, w] = t.shape() else {
        return None;
    };
    let maps = t.data().chunks_exact(h * w).take(count.min(c)).collect();
    Some((maps, h, w))
}

/// One test image in detail: the image beside the first two feature maps after the first
/// ReLU and after the first pooling, the verdict line, and every class probability.
pub fn sample(model: &Sequential, data: &Dataset, i: usize, names: &[&str]) -> Result<String> {
    let (h, w) = (data.rows(), data.cols());
    let pixels = data.image_f32(i);
    let x = Tensor::from_vec(vec![1, 1, h, w], pixels.clone())?;
    let trace = model.forward_trace(&x).context("running the model")?;
    let find = |kind: &str| {
        model
            .layers()
            .iter()
            .position(|l| l.name() == kind)
            .and_then(|at| channels(&trace[at], 2))
    };
    let titles = ["ReLU 0", "ReLU 1", "Pool 0", "Pool 1"];
    let mut panels = vec![Panel::new("Input", &pixels, h, w)];
    let relu = find("relu");
    let pool = find("pool");
    let mut t = titles.iter();
    for (maps, mh, mw) in [relu.as_ref(), pool.as_ref()].into_iter().flatten() {
        for map in maps {
            panels.push(Panel::scaled(
                t.next().copied().unwrap_or(""),
                map,
                *mh,
                *mw,
            ));
        }
    }
    let logits = trace.last().context("the model has no layer")?;
    let mut probs = vec![0.0; logits.len()];
    tensor::softmax_rows_into(&mut probs, logits.data(), 1, logits.len())?;
    let label = usize::from(data.label(i));
    let pred = tensor::argmax(&probs);
    let mut out = String::new();
    writeln!(out, "Sample {i}")?;
    // The image and the ReLU maps on one row, the pooled maps under them: 84 columns, where
    // all five side by side would take 114.
    let split = panels.len().min(3);
    out.push_str(&viz::side_by_side(&panels[..split], 2)?);
    if panels.len() > split {
        out.push_str(&viz::side_by_side(&panels[split..], 2)?);
    }
    writeln!(
        out,
        "Label={}  Pred={} ({:.1}%)  {}",
        names[label],
        names[pred],
        100.0 * probs[pred],
        if pred == label { "match" } else { "MISMATCH" }
    )?;
    out.push_str(&viz::prob_bars(names, &probs, BAR_WIDTH, Some(label))?);
    out.push('\n');
    Ok(out)
}

/// Accuracy, accuracy per class, and the confusion matrix.
pub fn summary(eval: &Evaluation, names: &[&str]) -> Result<String> {
    let total: usize = eval.confusion.iter().sum();
    let mut out = String::new();
    writeln!(
        out,
        "Accuracy: {:.2}% ({} of {total} test images)",
        100.0 * eval.accuracy,
        (eval.accuracy * total as f32).round() as usize
    )?;
    writeln!(out)?;
    writeln!(out, "Accuracy per class:")?;
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let k = eval.classes;
    for (c, acc) in eval.per_class().into_iter().enumerate() {
        let count: usize = eval.confusion[c * k..(c + 1) * k].iter().sum();
        match acc {
            Some(a) => writeln!(
                out,
                "  {:<width$}  {:6.2}%  ({count} images)",
                names[c],
                100.0 * a
            )?,
            None => writeln!(out, "  {:<width$}       -   (no images)", names[c])?,
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Confusion matrix (rows: true class, columns: predicted):"
    )?;
    out.push_str(&confusion(names, &eval.confusion)?);
    writeln!(out)?;
    Ok(out)
}

/// Widest line of the default output (80 and 120-column terminals both show it whole).
pub const MAX_WIDTH: usize = 100;

/// Mistakes shown side by side: 3 images of 28 columns with gaps of 2 make 88.
const MISTAKES_PER_ROW: usize = 3;

/// The confusion matrix, with class numbers for headers and a legend below when the names
/// would make it wider than [`MAX_WIDTH`].
fn confusion(names: &[&str], matrix: &[usize]) -> Result<String> {
    let table = viz::confusion_table(names, matrix)?;
    if table.lines().all(|l| l.chars().count() <= MAX_WIDTH) {
        return Ok(table);
    }
    let numbers: Vec<String> = (0..names.len()).map(|c| c.to_string()).collect();
    let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let mut out = viz::confusion_table(&numbers, matrix)?;
    let mut line = String::from("classes:");
    for (c, name) in names.iter().enumerate() {
        let item = format!(" {c} {name}{}", if c + 1 < names.len() { "," } else { "" });
        if line.chars().count() + item.chars().count() > MAX_WIDTH {
            writeln!(out, "{line}")?;
            line = String::from("        ");
        }
        line.push_str(&item);
    }
    writeln!(out, "{line}")?;
    Ok(out)
}

/// The top `n` classes of a probability row, most likely first.
fn top(probs: &[f32], n: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order.into_iter().take(n).map(|c| (c, probs[c])).collect()
}

/// The most confidently wrong images in a grid, then one line each with label, prediction
/// and the top three probabilities.
pub fn mistakes(
    eval: &Evaluation,
    data: &Dataset,
    worst: &[usize],
    names: &[&str],
) -> Result<String> {
    let mut out = String::new();
    writeln!(out, "Most confident mistakes:")?;
    let images: Vec<Vec<f32>> = worst.iter().map(|&i| data.image_f32(i)).collect();
    let titles: Vec<String> = worst.iter().map(|i| format!("#{i}")).collect();
    let panels: Vec<Panel<'_>> = images
        .iter()
        .zip(&titles)
        .map(|(img, t)| Panel::new(t, img, data.rows(), data.cols()))
        .collect();
    out.push_str(&viz::grid(&panels, MISTAKES_PER_ROW, 2)?);
    for &i in worst {
        let label = usize::from(data.label(i));
        let top3: Vec<String> = top(eval.probs_of(i), 3)
            .into_iter()
            .map(|(c, p)| format!("{} {:.1}%", names[c], 100.0 * p))
            .collect();
        writeln!(
            out,
            "  #{i}: label={}  pred={}  top-3: {}",
            names[label],
            names[eval.predictions[i]],
            top3.join(", ")
        )?;
    }
    writeln!(out)?;
    Ok(out)
}

/// One mistake for `--json`.
pub fn mistake_json(eval: &Evaluation, data: &Dataset, i: usize, names: &[&str]) -> Value {
    let label = usize::from(data.label(i));
    let pred = eval.predictions[i];
    json!({
        "index": i,
        "label": names[label],
        "predicted": names[pred],
        "probability": eval.probs_of(i)[pred],
        "top3": top(eval.probs_of(i), 3)
            .into_iter()
            .map(|(c, p)| json!({"class": names[c], "probability": p}))
            .collect::<Vec<_>>(),
    })
}
