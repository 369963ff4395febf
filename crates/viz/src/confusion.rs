//! A confusion matrix as a table.

use crate::ascii::{join_lines, printable};
use crate::error::{Error, Result};

/// The header of the row-label column: rows are true labels, columns are predictions.
const CORNER: &str = "true\\pred";
/// The label of the column-totals row.
const TOTAL: &str = "total";
/// The header of the per-row accuracy column.
const RECALL: &str = "recall";

/// Draws a confusion matrix (`k x k` row-major counts for `k` class `names`; row = true label,
/// column = predicted class) as a table.
///
/// - A header row names the predicted classes; each following row starts with its true class.
/// - Counts are right-aligned; the diagonal (correct predictions) is drawn in brackets, `[5]`.
/// - The last column is the row's recall, `diagonal / row total` with three decimals (`-` for a
///   class that never occurs).
/// - A final `total` row gives how often each class was predicted, and in the recall column the
///   overall accuracy, `trace / total` (`-` when the matrix is all zeros).
/// - Names count in `char`s; control characters in them draw as spaces. Lines carry no
///   trailing spaces and each ends with `'\n'`; no classes (`k = 0`) draw as `""`.
///
/// # Errors
///
/// [`Error::MatrixSize`] when `matrix.len() != names.len()^2`.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), viz::Error> {
/// let table = viz::confusion_table(&["cat", "dog"], &[3, 1, 0, 4])?;
/// assert_eq!(
///     table,
///     "true\\pred  cat  dog  recall\n\
///      cat         [3]   1   0.750\n\
///      dog          0   [4]  1.000\n\
///      total        3    5   0.875\n"
/// );
/// # Ok(())
/// # }
/// ```
pub fn confusion_table(names: &[&str], matrix: &[usize]) -> Result<String> {
    let k = names.len();
    if k.checked_mul(k) != Some(matrix.len()) {
        return Err(Error::MatrixSize {
            op: "confusion_table",
            k,
            len: matrix.len(),
        });
    }
    if k == 0 {
        return Ok(String::new());
    }
    let names: Vec<String> = names.iter().map(|n| printable(n)).collect();
    let rows: Vec<&[usize]> = matrix.chunks(k).collect();
    // Saturating sums: counts near usize::MAX must not overflow (and panic in debug builds).
    let col_totals: Vec<usize> = (0..k)
        .map(|c| rows.iter().fold(0usize, |s, r| s.saturating_add(r[c])))
        .collect();
    let trace = (0..k).fold(0usize, |s, i| s.saturating_add(rows[i][i]));
    let total = col_totals.iter().fold(0usize, |s, &t| s.saturating_add(t));

    // Every cell is right-aligned text of width `cell - 1` followed by one trailer character:
    // `]` on the diagonal, a space elsewhere. The `[` sits right before the digits, so counts
    // and headers line up on their last digit whether or not they are bracketed.
    let name_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let max_count = matrix.iter().copied().max().unwrap_or(0);
    let max_total = col_totals.iter().copied().max().unwrap_or(0);
    let cell = (name_width + 1)
        .max(digits(max_count) + 2)
        .max(digits(max_total) + 1);
    let label_width = name_width.max(CORNER.len()).max(TOTAL.len());

    let line = |label: &str, cells: &mut dyn Iterator<Item = (String, char)>, last: &str| {
        let mut out = format!("{label:<label_width$} ");
        for (text, trailer) in cells {
            out.push_str(&format!(" {text:>w$}{trailer}", w = cell - 1));
        }
        out.push_str(&format!(" {last:>w$}", w = RECALL.len()));
        out
    };

    let mut lines = Vec::with_capacity(k + 2);
    lines.push(line(
        CORNER,
        &mut names.iter().map(|n| (n.clone(), ' ')),
        RECALL,
    ));
    for (i, row) in rows.iter().enumerate() {
        let row_total = row.iter().fold(0usize, |s, &n| s.saturating_add(n));
        let mut cells = row.iter().enumerate().map(|(j, n)| {
            if i == j {
                (format!("[{n}"), ']')
            } else {
                (n.to_string(), ' ')
            }
        });
        lines.push(line(&names[i], &mut cells, &ratio(row[i], row_total)));
    }
    let mut totals = col_totals.iter().map(|t| (t.to_string(), ' '));
    lines.push(line(TOTAL, &mut totals, &ratio(trace, total)));
    Ok(join_lines(lines))
}

/// The number of decimal digits of `n`.
fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// `part / whole` with three decimals, or `-` when `whole` is zero.
fn ratio(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".to_string()
    } else {
        format!("{:.3}", part as f64 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_counts_decimal_places() {
        assert_eq!(digits(0), 1);
        assert_eq!(digits(9), 1);
        assert_eq!(digits(10), 2);
        assert_eq!(digits(usize::MAX), usize::MAX.to_string().len());
    }

    #[test]
    fn a_class_that_never_occurs_has_no_recall() {
        let table = confusion_table(&["a", "b"], &[2, 0, 0, 0]).unwrap();
        let b_row = table.lines().nth(2).unwrap();
        assert!(b_row.ends_with(" -"), "{b_row:?}");
    }

    #[test]
    fn an_all_zero_matrix_has_no_accuracy() {
        let table = confusion_table(&["a"], &[0]).unwrap();
        assert!(table.lines().all(|l| !l.contains("NaN")));
        assert!(table.lines().last().unwrap().ends_with(" -"));
    }

    #[test]
    fn the_matrix_must_be_k_by_k() {
        let e = confusion_table(&["a", "b"], &[1, 2, 3]).unwrap_err();
        assert_eq!(
            e,
            Error::MatrixSize {
                op: "confusion_table",
                k: 2,
                len: 3
            }
        );
        let e = confusion_table(&[], &[1]).unwrap_err();
        assert_eq!(
            e,
            Error::MatrixSize {
                op: "confusion_table",
                k: 0,
                len: 1
            }
        );
    }

    #[test]
    fn no_classes_draw_nothing() {
        assert_eq!(confusion_table(&[], &[]).unwrap(), "");
    }

    #[test]
    fn huge_counts_saturate_instead_of_overflowing() {
        let table = confusion_table(&["a", "b"], &[usize::MAX, usize::MAX, 1, 1]).unwrap();
        assert!(table.contains(&format!("[{}]", usize::MAX)));
    }

    #[test]
    fn wide_counts_widen_every_column_and_keep_last_digits_aligned() {
        let table = confusion_table(&["a", "b"], &[1234, 5, 6, 7]).unwrap();
        let expected = "true\\pred      a      b  recall\n\
                        a          [1234]     5   0.996\n\
                        b              6     [7]  0.538\n\
                        total       1240     12   0.991\n";
        assert_eq!(table, expected);
    }
}
