//! A confusion matrix as a heat map.

use std::fmt::Write;

use super::{escape, hex, is_dark, n, open, ramp_colour, text, text_width, MUTED};
use crate::error::{Error, Result};

/// Blues, light to dark: the share of a class that is recognised.
pub(crate) const BLUES: [(u8, u8, u8); 5] = [
    (239, 246, 255),
    (198, 219, 239),
    (107, 174, 214),
    (33, 113, 181),
    (8, 48, 107),
];
/// Oranges to deep red: the share of a class taken for another one.
pub(crate) const REDS: [(u8, u8, u8); 5] = [
    (255, 245, 235),
    (253, 208, 162),
    (253, 141, 60),
    (217, 72, 1),
    (127, 39, 4),
];
/// Cells with no image.
const EMPTY: &str = "#f5f7fa";

/// Draws a `k x k` confusion matrix (`counts`, row = true class, column = predicted) as a
/// grid of cells, each holding its count. Colour is the count's share of its row (of the
/// true class): the diagonal in blues from 0 to 100%, the mistakes in oranges up to the
/// largest mistake's share, so that rare confusions stay visible next to a diagonal near
/// 100%. Two keys under the grid say what the colours mean; each cell's tooltip says it in
/// words ("Three taken for Five: 12 of 1,010 (1.19%)").
///
/// # Errors
/// [`Error::MatrixSize`] when `counts` is not `names.len()` squared.
pub fn confusion_heatmap(names: &[&str], counts: &[usize]) -> Result<String> {
    let k = names.len();
    if k.checked_mul(k) != Some(counts.len()) {
        return Err(Error::MatrixSize {
            op: "confusion_heatmap",
            k,
            len: counts.len(),
        });
    }
    let cell = (400.0 / k.max(1) as f64).clamp(18.0, 44.0);
    let label_size = 13.0;
    let longest = names
        .iter()
        .map(|s| text_width(s, label_size))
        .fold(0.0, f64::max);
    // Column labels stand upright when they fit in a cell, else slanted.
    let slanted = longest > cell - 4.0;
    let left = 34.0 + longest + 8.0;
    let top = 26.0 + if slanted { longest * 0.72 + 10.0 } else { 20.0 };
    let grid = cell * k as f64;
    let key_h = 58.0;
    // Slanted labels reach right of their column by about their length / sqrt(2).
    let reach = if slanted {
        left + grid - cell / 2.0 + 4.0 + longest * 0.72 + 8.0
    } else {
        0.0
    };
    let w = (left + grid + 16.0).max(340.0).max(reach);
    let h = top + grid + 12.0 + key_h;
    let mut out = String::new();
    open(
        &mut out,
        w,
        h,
        "Confusion matrix: rows are the true class, columns the predicted class",
    );

    let row_totals: Vec<usize> = counts.chunks(k.max(1)).map(|r| r.iter().sum()).collect();
    let max_mistake = (0..k * k)
        .filter(|i| i / k != i % k && row_totals[i / k] > 0)
        .map(|i| counts[i] as f64 / row_totals[i / k] as f64)
        .fold(0.0, f64::max);
    // Axis titles.
    text(
        &mut out,
        left + grid / 2.0,
        16.0,
        r#"text-anchor="middle" font-weight="600""#,
        "predicted class",
    );
    let ty = top + grid / 2.0;
    text(
        &mut out,
        14.0,
        ty,
        &format!(
            r#"text-anchor="middle" font-weight="600" transform="rotate(-90 14 {})""#,
            n(ty)
        ),
        "true class",
    );
    for (i, name) in names.iter().enumerate() {
        let cx = left + (i as f64 + 0.5) * cell;
        if slanted {
            let (x, y) = (cx + 4.0, top - 6.0);
            text(
                &mut out,
                x,
                y,
                &format!(
                    r#"font-size="{label_size}" transform="rotate(-45 {} {})""#,
                    n(x),
                    n(y)
                ),
                name,
            );
        } else {
            text(
                &mut out,
                cx,
                top - 7.0,
                &format!(r#"text-anchor="middle" font-size="{label_size}""#),
                name,
            );
        }
        text(
            &mut out,
            left - 8.0,
            top + (i as f64 + 0.5) * cell + 4.5,
            &format!(r#"text-anchor="end" font-size="{label_size}""#),
            name,
        );
    }
    let count_size = (cell * 0.34).clamp(8.0, 13.0);
    for r in 0..k {
        for c in 0..k {
            let count = counts[r * k + c];
            let total = row_totals[r];
            let share = if total > 0 {
                count as f64 / total as f64
            } else {
                0.0
            };
            let colour = if total == 0 || count == 0 {
                None
            } else if r == c {
                Some(ramp_colour(&BLUES, share))
            } else {
                Some(ramp_colour(
                    &REDS,
                    0.15 + 0.85 * share / max_mistake.max(f64::MIN_POSITIVE),
                ))
            };
            let (x, y) = (left + c as f64 * cell, top + r as f64 * cell);
            let tip = if r == c {
                format!("{}: {count} of {total} recognised", names[r])
            } else {
                format!("{} taken for {}: {count} of {total}", names[r], names[c])
            };
            let tip = if total > 0 {
                format!("{tip} ({:.2}%)", 100.0 * share)
            } else {
                format!("{}: no test image", names[r])
            };
            let _ = write!(
                out,
                r#"<g><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="white" stroke-width="1"/>"#,
                escape(&tip),
                n(x),
                n(y),
                n(cell),
                n(cell),
                colour.map_or(EMPTY.to_string(), hex)
            );
            if count > 0 && cell >= 20.0 {
                let fill = if colour.is_some_and(is_dark) {
                    "white"
                } else {
                    "#1f2933"
                };
                text(
                    &mut out,
                    x + cell / 2.0,
                    y + cell / 2.0 + count_size * 0.36,
                    &format!(
                        r#"text-anchor="middle" font-size="{}" fill="{fill}""#,
                        n(count_size)
                    ),
                    &count.to_string(),
                );
            }
            out.push_str("</g>");
        }
    }
    // Keys: five swatches each.
    let ky = top + grid + 14.0;
    key(
        &mut out,
        16.0,
        ky,
        &BLUES,
        0.0,
        1.0,
        "recognised, share of the true class",
        1.0,
    );
    key(
        &mut out,
        16.0,
        ky + 28.0,
        &REDS,
        0.15,
        1.0,
        "taken for another class",
        max_mistake,
    );
    out.push_str("</svg>");
    Ok(out)
}

/// One colour key: five swatches from `t0` to `t1` of `stops`, labelled `0%` and the share
/// `top` at their ends, then `label`.
#[allow(clippy::too_many_arguments)]
fn key(
    out: &mut String,
    x: f64,
    y: f64,
    stops: &[(u8, u8, u8)],
    t0: f64,
    t1: f64,
    label: &str,
    top: f64,
) {
    let sw = 16.0;
    text(
        out,
        x,
        y + 13.0,
        &format!(r#"font-size="11" fill="{MUTED}""#),
        "0%",
    );
    let x = x + 24.0;
    for i in 0..5 {
        let t = t0 + (t1 - t0) * i as f64 / 4.0;
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="{sw}" height="16" fill="{}"/>"#,
            n(x + i as f64 * sw),
            n(y),
            hex(ramp_colour(stops, t))
        );
    }
    let x = x + 5.0 * sw + 4.0;
    let top = format!("{:.1}%", 100.0 * top);
    text(
        out,
        x,
        y + 13.0,
        &format!(r#"font-size="11" fill="{MUTED}""#),
        &top,
    );
    text(
        out,
        x + text_width(&top, 11.0) + 10.0,
        y + 13.0,
        r#"font-size="12""#,
        label,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_of_the_wrong_size_is_an_error() {
        let e = confusion_heatmap(&["a", "b"], &[1, 2, 3]).unwrap_err();
        assert_eq!(
            e,
            Error::MatrixSize {
                op: "confusion_heatmap",
                k: 2,
                len: 3
            }
        );
    }

    #[test]
    fn cells_say_their_count_and_share() {
        let svg = confusion_heatmap(&["a", "b"], &[9, 1, 0, 0]).unwrap();
        assert_eq!(svg.matches("<rect").count(), 4 + 10);
        assert!(svg.contains("<title>a taken for b: 1 of 10 (10.00%)</title>"));
        assert!(svg.contains("<title>b: no test image</title>"));
        assert!(svg.contains(">9</text>"));
    }
}
