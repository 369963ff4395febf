//! Class probabilities as horizontal bars.

use crate::ascii::{join_lines, printable};
use crate::error::{Error, Result};

/// Draws one line per class: the name, the value with three decimals, and a bar of `width`
/// cells, `#` for the filled part and `.` for the rest.
///
/// - A bar fills `round(p * width)` cells, with `p` clamped to `[0, 1]`; `NaN` fills none. The
///   printed value is always the one given.
/// - The **predicted** class, the first one with the largest non-`NaN` value, is marked
///   `<- predicted`.
/// - `label`, the true class if known, is marked `<- label`; a correct prediction reads
///   `<- predicted, label`.
/// - Names are left-aligned to the longest one (counted in `char`s); control characters in
///   them draw as spaces. With `width == 0` the bar is left out.
/// - Every line ends with `'\n'`; no classes draw as `""`.
///
/// # Errors
///
/// - [`Error::NameCount`] when `names` and `probs` differ in length.
/// - [`Error::ClassOutOfRange`] when `label` is not below `probs.len()`.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), viz::Error> {
/// let bars = viz::prob_bars(&["zero", "one", "two"], &[0.1, 0.7, 0.2], 10, Some(2))?;
/// assert_eq!(
///     bars,
///     "zero 0.100 #.........\n\
///      one  0.700 #######... <- predicted\n\
///      two  0.200 ##........ <- label\n"
/// );
/// # Ok(())
/// # }
/// ```
pub fn prob_bars(
    names: &[&str],
    probs: &[f32],
    width: usize,
    label: Option<usize>,
) -> Result<String> {
    const OP: &str = "prob_bars";
    if names.len() != probs.len() {
        return Err(Error::NameCount {
            op: OP,
            names: names.len(),
            values: probs.len(),
        });
    }
    if let Some(index) = label.filter(|&i| i >= probs.len()) {
        return Err(Error::ClassOutOfRange {
            op: OP,
            index,
            len: probs.len(),
        });
    }
    let predicted = argmax(probs);
    let names: Vec<String> = names.iter().map(|n| printable(n)).collect();
    let name_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);

    let lines = names.iter().zip(probs).enumerate().map(|(i, (name, &p))| {
        let filled = filled_cells(p, width);
        let mut line = format!("{name:<name_width$} {p:>5.3}");
        if width > 0 {
            line.push(' ');
            line.extend(std::iter::repeat_n('#', filled));
            line.extend(std::iter::repeat_n('.', width - filled));
        }
        match (predicted == Some(i), label == Some(i)) {
            (true, true) => line.push_str(" <- predicted, label"),
            (true, false) => line.push_str(" <- predicted"),
            (false, true) => line.push_str(" <- label"),
            (false, false) => {}
        }
        line
    });
    Ok(join_lines(lines))
}

/// The index of the first largest non-`NaN` value, if there is one.
fn argmax(values: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in values.iter().enumerate() {
        if !v.is_nan() && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// How many of `width` cells a value fills: `round(p * width)` for `p` clamped to `[0, 1]`.
fn filled_cells(p: f32, width: usize) -> usize {
    if p.is_nan() {
        return 0;
    }
    // f64 keeps `p * width` exact enough for any width a terminal can show; the `as` cast
    // saturates and the `min` keeps the count within the bar.
    let cells = (f64::from(p.clamp(0.0, 1.0)) * width as f64).round() as usize;
    cells.min(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_the_rounded_share_of_the_width() {
        assert_eq!(filled_cells(0.0, 10), 0);
        assert_eq!(filled_cells(0.04, 10), 0);
        assert_eq!(filled_cells(0.05, 10), 1);
        assert_eq!(filled_cells(0.973, 30), 29);
        assert_eq!(filled_cells(1.0, 10), 10);
    }

    #[test]
    fn out_of_range_and_nan_values_clamp_the_bar_but_print_as_given() {
        assert_eq!(filled_cells(-0.5, 4), 0);
        assert_eq!(filled_cells(7.0, 4), 4);
        assert_eq!(filled_cells(f32::NAN, 4), 0);
        assert_eq!(filled_cells(f32::INFINITY, 4), 4);
        let bars = prob_bars(&["a", "b"], &[f32::NAN, 2.0], 4, None).unwrap();
        assert_eq!(bars, "a   NaN ....\nb 2.000 #### <- predicted\n");
    }

    #[test]
    fn the_predicted_class_is_the_first_largest_non_nan_value() {
        assert_eq!(argmax(&[0.2, 0.5, 0.5]), Some(1));
        assert_eq!(argmax(&[f32::NAN, 0.1]), Some(1));
        assert_eq!(argmax(&[f32::NAN, f32::NAN]), None);
        assert_eq!(argmax(&[]), None);
    }

    #[test]
    fn a_correct_prediction_carries_both_marks() {
        let bars = prob_bars(&["no", "yes"], &[0.25, 0.75], 4, Some(1)).unwrap();
        assert_eq!(bars, "no  0.250 #...\nyes 0.750 ###. <- predicted, label\n");
    }

    #[test]
    fn names_must_match_probabilities_one_to_one() {
        let e = prob_bars(&["a"], &[0.5, 0.5], 4, None).unwrap_err();
        assert_eq!(
            e,
            Error::NameCount {
                op: "prob_bars",
                names: 1,
                values: 2
            }
        );
        let e = prob_bars(&["a", "b", "c"], &[0.5, 0.5], 4, None).unwrap_err();
        assert_eq!(
            e,
            Error::NameCount {
                op: "prob_bars",
                names: 3,
                values: 2
            }
        );
    }

    #[test]
    fn a_label_outside_the_classes_is_an_error() {
        let e = prob_bars(&["a", "b"], &[0.5, 0.5], 4, Some(2)).unwrap_err();
        assert_eq!(
            e,
            Error::ClassOutOfRange {
                op: "prob_bars",
                index: 2,
                len: 2
            }
        );
    }

    #[test]
    fn zero_width_and_no_classes_do_not_panic() {
        assert_eq!(
            prob_bars(&["a"], &[0.5], 0, Some(0)).unwrap(),
            "a 0.500 <- predicted, label\n"
        );
        assert_eq!(prob_bars(&[], &[], 10, None).unwrap(), "");
        assert!(prob_bars(&[], &[], 10, Some(0)).is_err());
    }
}
