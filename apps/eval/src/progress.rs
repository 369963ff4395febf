//! The test pass with a progress bar (and its ETA) on a terminal; silent when stderr is not a
//! terminal, so piped output stays plain.

use std::io::IsTerminal;

use anyhow::Result;
use datagen::Dataset;
use engine::{evaluate_views, Evaluation, ExecPath};
use indicatif::{ProgressBar, ProgressStyle};
use nn::Sequential;

/// Images per call of [`engine::evaluate_views`], and per step of the bar.
const CHUNK: usize = 1000;

/// [`engine::evaluate_views`] (probabilities at `temperature`, averaged over `views`) over `data` in chunks of 1,000 images, the results joined in order:
/// the same numbers as one call, with a bar that advances per chunk.
pub fn evaluate_with_progress(
    model: &Sequential,
    data: &Dataset,
    classes: usize,
    temperature: f32,
    views: usize,
) -> Result<Evaluation> {
    let evaluate = |data: &Dataset| {
        evaluate_views(
            model,
            data,
            CHUNK,
            classes,
            ExecPath::Auto,
            temperature,
            views,
        )
    };
    let bar = if std::io::stderr().is_terminal() && data.len() > CHUNK {
        let bar = ProgressBar::new(data.len() as u64);
        if let Ok(style) =
            ProgressStyle::with_template("testing [{bar:30}] {pos}/{len} images, ETA {eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut joined: Option<Evaluation> = None;
    for start in (0..data.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(data.len());
        let indices: Vec<usize> = (start..end).collect();
        let part = evaluate(&data.select(&indices))?;
        joined = Some(match joined {
            None => part,
            Some(mut all) => {
                for (a, b) in all.confusion.iter_mut().zip(&part.confusion) {
                    *a += b;
                }
                all.probs.extend_from_slice(&part.probs);
                all.logits.extend_from_slice(&part.logits);
                all.energies.extend_from_slice(&part.energies);
                all.predictions.extend_from_slice(&part.predictions);
                all
            }
        });
        bar.set_position(end as u64);
    }
    bar.finish_and_clear();
    // `evaluate` refuses an empty set, so there is at least one part.
    let mut all = match joined {
        Some(all) => all,
        None => evaluate(data)?,
    };
    let correct: usize = (0..classes).map(|c| all.confusion[c * classes + c]).sum();
    all.accuracy = correct as f32 / data.len() as f32;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_evaluation_equals_one_call() {
        let model = nn::ModelSpec::seed().build(3).unwrap();
        let data = datagen::generate(datagen::Style::Strokes, 2, 0, 2500);
        let whole = engine::evaluate(&model, &data, 1000, 10).unwrap();
        let chunked = evaluate_with_progress(&model, &data, 10, 1.0, 1).unwrap();
        assert_eq!(chunked, whole);
        let views = |data: &Dataset| {
            engine::evaluate_views(&model, data, 1000, 10, ExecPath::Auto, 1.3, 5).unwrap()
        };
        let chunked = evaluate_with_progress(&model, &data, 10, 1.3, 5).unwrap();
        assert_eq!(chunked, views(&data));
    }
}
