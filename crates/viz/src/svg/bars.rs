//! Shares (accuracy per class) as horizontal bars.

use std::fmt::Write;

use super::{escape, n, open, text, text_width, GRID, MUTED, PALETTE};
use crate::error::{Error, Result};

/// Draws one horizontal bar per label, its length the value in `[0, 1]` on a 0-100% axis,
/// with the value written at its end and `notes[i]` (for instance the number of images)
/// after it. The lowest bar is drawn in the second palette colour so the weakest class
/// stands out; `None` (no data) draws no bar and says "no images".
///
/// # Errors
/// [`Error::NameCount`] when `labels`, `values` and `notes` differ in length.
pub fn percent_bars(
    title: &str,
    labels: &[&str],
    values: &[Option<f64>],
    notes: &[String],
) -> Result<String> {
    if labels.len() != values.len() || notes.len() != values.len() {
        return Err(Error::NameCount {
            op: "percent_bars",
            names: labels.len(),
            values: values.len().min(notes.len()),
        });
    }
    let row = 26.0;
    let left = 16.0
        + labels
            .iter()
            .map(|s| text_width(s, 13.0))
            .fold(0.0, f64::max);
    let bar_w = 220.0;
    let note_w = notes
        .iter()
        .map(|s| text_width(s, 12.0))
        .fold(0.0, f64::max);
    let top = 24.0;
    let w = left + bar_w + 66.0 + note_w + 10.0;
    let h = top + row * labels.len() as f64 + 8.0;
    let lowest = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
        .map(|(i, _)| i);
    let mut out = String::new();
    open(&mut out, w, h, title);
    for t in 0..=4 {
        let x = left + bar_w * f64::from(t) / 4.0;
        let _ = write!(
            out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{GRID}"/>"#,
            n(x),
            n(top - 4.0),
            n(x),
            n(h - 6.0)
        );
        text(
            &mut out,
            x,
            top - 9.0,
            &format!(r#"text-anchor="middle" font-size="11" fill="{MUTED}""#),
            &format!("{}%", t * 25),
        );
    }
    for (i, ((label, value), note)) in labels.iter().zip(values).zip(notes).enumerate() {
        let y = top + row * i as f64;
        text(
            &mut out,
            left - 8.0,
            y + 17.0,
            r#"text-anchor="end""#,
            label,
        );
        match value {
            Some(v) => {
                let v = v.clamp(0.0, 1.0);
                let colour = if Some(i) == lowest {
                    PALETTE[1]
                } else {
                    PALETTE[0]
                };
                let _ = write!(
                    out,
                    r#"<rect x="{}" y="{}" width="{}" height="{}" rx="2" fill="{colour}"><title>{}: {:.2}% {}</title></rect>"#,
                    n(left),
                    n(y + 5.0),
                    n(bar_w * v),
                    n(row - 10.0),
                    escape(label),
                    100.0 * v,
                    escape(note)
                );
                let end = left + bar_w * v + 6.0;
                text(
                    &mut out,
                    end,
                    y + 17.0,
                    r#"font-size="12" font-weight="600""#,
                    &format!("{:.2}%", 100.0 * v),
                );
                text(
                    &mut out,
                    end + 52.0,
                    y + 17.0,
                    &format!(r#"font-size="12" fill="{MUTED}""#),
                    note,
                );
            }
            None => text(
                &mut out,
                left + 6.0,
                y + 17.0,
                &format!(r#"font-size="12" fill="{MUTED}""#),
                "no images",
            ),
        }
    }
    out.push_str("</svg>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_must_agree() {
        assert!(percent_bars("t", &["a"], &[Some(0.5), None], &["".into(), "".into()]).is_err());
    }

    #[test]
    fn the_weakest_class_stands_out() {
        let svg = percent_bars(
            "t",
            &["a", "b", "c"],
            &[Some(0.9), Some(0.5), None],
            &["10 images".into(), "4 images".into(), String::new()],
        )
        .unwrap();
        assert_eq!(svg.matches(PALETTE[1]).count(), 1);
        assert!(svg.contains("<title>b: 50.00% 4 images</title>"));
        assert!(svg.contains(">no images</text>"));
    }
}
