//! A reliability diagram: accuracy against confidence, bin by bin.

use std::fmt::Write;

use super::{n, open, text, text_width, AXIS, GRID, MUTED, PALETTE};

/// The shaded gap of an over-confident bin.
const GAP: &str = "#fbd5b5";
use crate::error::{Error, Result};

/// One confidence bin of a [`reliability_diagram`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    /// Lowest confidence of the bin, in `[0, 1]`.
    pub lo: f64,
    /// Highest confidence of the bin, in `[0, 1]`.
    pub hi: f64,
    /// How many predictions fell in it.
    pub count: usize,
    /// Their mean confidence (top probability).
    pub confidence: f64,
    /// The fraction of them that was right.
    pub accuracy: f64,
}

/// Draws bins of confidence (x) against accuracy (y), both 0-100%: per non-empty bin a blue
/// bar up to its accuracy and an orange tick at its mean confidence, over the dashed diagonal
/// where confidence equals accuracy. Where the tick is above the bar (over-confident) the gap
/// between them is shaded light orange; a tick inside the bar means under-confident.
/// Tooltips give each bin's range, count, confidence and accuracy.
///
/// # Errors
/// [`Error::EmptyChart`] when no bin holds a prediction.
pub fn reliability_diagram(bins: &[ReliabilityBin]) -> Result<String> {
    if bins.iter().all(|b| b.count == 0) {
        return Err(Error::EmptyChart {
            op: "reliability_diagram",
        });
    }
    let (w, h) = (440.0, 420.0);
    let (left, top, size) = (62.0, 36.0, 340.0);
    let px = |v: f64| left + v.clamp(0.0, 1.0) * size;
    let py = |v: f64| top + size - v.clamp(0.0, 1.0) * size;
    let mut out = String::new();
    open(
        &mut out,
        w,
        h,
        "Reliability diagram: accuracy of the predictions in each band of confidence",
    );
    for t in 0..=5 {
        let v = f64::from(t) / 5.0;
        let _ = write!(
            out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{GRID}"/><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{GRID}"/>"#,
            n(left),
            n(py(v)),
            n(left + size),
            n(py(v)),
            n(px(v)),
            n(top),
            n(px(v)),
            n(top + size)
        );
        let label = format!("{}%", t * 20);
        let muted = format!(r#"font-size="12" fill="{MUTED}" text-anchor="end""#);
        text(&mut out, left - 8.0, py(v) + 4.0, &muted, &label);
        let muted = format!(r#"font-size="12" fill="{MUTED}" text-anchor="middle""#);
        text(&mut out, px(v), top + size + 18.0, &muted, &label);
    }
    for b in bins.iter().filter(|b| b.count > 0) {
        let (x0, x1) = (px(b.lo), px(b.hi));
        let bw = (x1 - x0 - 1.0).max(0.5);
        let tip = format!(
            "confidence {:.1}-{:.1}%: {} predictions, mean confidence {:.1}%, accuracy {:.1}%",
            100.0 * b.lo,
            100.0 * b.hi,
            b.count,
            100.0 * b.confidence,
            100.0 * b.accuracy
        );
        let (acc, conf) = (py(b.accuracy), py(b.confidence));
        let _ = write!(out, "<g><title>{tip}</title>");
        if conf < acc {
            // Over-confident: shade the gap above the bar.
            let _ = write!(
                out,
                r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{GAP}"/>"#,
                n(x0 + 0.5),
                n(conf),
                n(bw),
                n(acc - conf)
            );
        }
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2.5"/></g>"#,
            n(x0 + 0.5),
            n(acc),
            n(bw),
            n(top + size - acc),
            PALETTE[0],
            n(x0 + 0.5),
            n(conf),
            n(x0 + 0.5 + bw),
            n(conf),
            PALETTE[1],
        );
    }
    let _ = write!(
        out,
        r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{MUTED}" stroke-dasharray="5 4"/><rect x="{}" y="{}" width="{size}" height="{size}" fill="none" stroke="{AXIS}"/>"#,
        n(px(0.0)),
        n(py(0.0)),
        n(px(1.0)),
        n(py(1.0)),
        n(left),
        n(top)
    );
    text(
        &mut out,
        left + size / 2.0,
        top + size + 40.0,
        r#"text-anchor="middle""#,
        "confidence (top probability)",
    );
    let yl = top + size / 2.0;
    text(
        &mut out,
        16.0,
        yl,
        &format!(
            r#"text-anchor="middle" transform="rotate(-90 16 {})""#,
            n(yl)
        ),
        "accuracy",
    );
    // Legend: a swatch, a tick and a dashed line, each followed by its words.
    let mut x = left;
    let _ = write!(
        out,
        r#"<rect x="{}" y="10" width="14" height="12" fill="{}"/>"#,
        n(x),
        PALETTE[0]
    );
    text(&mut out, x + 19.0, 20.5, r#"font-size="12""#, "accuracy");
    x += 19.0 + text_width("accuracy", 12.0) + 16.0;
    let _ = write!(
        out,
        r#"<line x1="{}" y1="16" x2="{}" y2="16" stroke="{}" stroke-width="2.5"/>"#,
        n(x),
        n(x + 14.0),
        PALETTE[1]
    );
    text(
        &mut out,
        x + 19.0,
        20.5,
        r#"font-size="12""#,
        "mean confidence",
    );
    x += 19.0 + text_width("mean confidence", 12.0) + 16.0;
    let _ = write!(
        out,
        r#"<line x1="{}" y1="16" x2="{}" y2="16" stroke="{MUTED}" stroke-dasharray="5 4"/>"#,
        n(x),
        n(x + 22.0)
    );
    text(
        &mut out,
        x + 27.0,
        20.5,
        r#"font-size="12""#,
        "perfectly calibrated",
    );
    out.push_str("</svg>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bins_are_left_out_and_all_empty_is_an_error() {
        let empty = ReliabilityBin {
            lo: 0.0,
            hi: 0.5,
            count: 0,
            confidence: 0.0,
            accuracy: 0.0,
        };
        assert!(reliability_diagram(&[empty]).is_err());
        let full = ReliabilityBin {
            lo: 0.5,
            hi: 1.0,
            count: 7,
            confidence: 0.9,
            accuracy: 0.8,
        };
        let svg = reliability_diagram(&[empty, full]).unwrap();
        assert_eq!(svg.matches("<g>").count(), 1);
        assert!(svg.contains("7 predictions, mean confidence 90.0%, accuracy 80.0%"));
    }
}
