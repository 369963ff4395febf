//! Accuracy per class, and the confusion matrix as a heat map.

use anyhow::Result;
use engine::Evaluation;

use super::html::{esc, open_section, thousands};

/// Bars of accuracy per class, each with its number of test images.
pub fn per_class(eval: &Evaluation, names: &[&str]) -> Result<String> {
    let k = eval.classes;
    let per = eval.per_class();
    let counts: Vec<usize> = eval.confusion.chunks(k).map(|r| r.iter().sum()).collect();
    let notes: Vec<String> = counts
        .iter()
        .map(|&c| format!("{} images", thousands(c)))
        .collect();
    let values: Vec<Option<f64>> = per.iter().map(|a| a.map(f64::from)).collect();
    let weakest = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let lead = match weakest {
        Some((i, v)) => format!(
            "The share of each class's test images that the model names correctly (its recall). Weakest: <b>{}</b> at {:.2}%, drawn in orange.",
            esc(names[i]),
            100.0 * v
        ),
        None => "No class has a test image.".into(),
    };
    let mut out = open_section("classes", &lead);
    out.push_str("<figure class=\"narrow\">");
    out.push_str(&viz::svg::percent_bars(
        "Accuracy per class",
        names,
        &values,
        &notes,
    )?);
    out.push_str("</figure></section>");
    Ok(out)
}

/// The confusion matrix, with the most frequent confusions named.
pub fn confusion(eval: &Evaluation, names: &[&str]) -> Result<String> {
    let k = eval.classes;
    let mut pairs: Vec<(usize, usize, usize)> = (0..k * k)
        .filter(|i| i / k != i % k && eval.confusion[*i] > 0)
        .map(|i| (eval.confusion[i], i / k, i % k))
        .collect();
    pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let top: Vec<String> = pairs
        .iter()
        .take(3)
        .map(|&(n, r, c)| format!("{} read as {} ({n})", esc(names[r]), esc(names[c])))
        .collect();
    let lead = format!(
        "Rows are the true class, columns what the model predicted; each cell counts test images. Blue cells on the diagonal are right, orange cells are mistakes, shaded by their share of the true class (hover a cell for the numbers).{}",
        if top.is_empty() {
            " No test image was misclassified.".to_string()
        } else {
            format!(" Most frequent confusions: {}.", top.join(", "))
        }
    );
    let mut out = open_section("confusion", &lead);
    out.push_str("<figure class=\"narrow\">");
    out.push_str(&viz::svg::confusion_heatmap(names, &eval.confusion)?);
    out.push_str("</figure></section>");
    Ok(out)
}
