//! A line chart: one or more series of `(x, y)` points over shared axes.

use std::fmt::Write;

use super::{
    escape, n, nice_ticks, open, text, text_width, ValueFormat, AXIS, GRID, MUTED, PALETTE,
};
use crate::error::{Error, Result};

/// One named line of a [`LineChart`]. Points with a non-finite coordinate are left out (a gap
/// is not drawn across: the line simply joins the finite neighbours).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Series<'a> {
    /// The name in the legend and tooltips.
    pub name: &'a str,
    /// The points, in the order they are joined.
    pub points: &'a [(f64, f64)],
}

/// What [`line_chart`] draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineChart<'a> {
    /// What the chart shows, for screen readers and the tooltip of the whole chart.
    pub title: &'a str,
    /// The label under the x axis.
    pub x_label: &'a str,
    /// The label beside the y axis.
    pub y_label: &'a str,
    /// The lines, coloured from [`PALETTE`](super::PALETTE) in order.
    pub series: &'a [Series<'a>],
    /// Ticks on the x axis only at whole numbers (epochs).
    pub x_integer: bool,
    /// Start the y axis at zero (or below, for negative values) instead of near the smallest
    /// value.
    pub y_from_zero: bool,
    /// How y values are written.
    pub y_format: ValueFormat,
}

const W: f64 = 460.0;
const H: f64 = 280.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 18.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 48.0;

/// Draws `chart` as one `<svg>`: a frame with horizontal grid lines at the y ticks, tick
/// labels on both axes, the axis labels, one coloured line per series with a dot at each point
/// (when there are at most 60 per series) carrying a tooltip, and a legend along the top when
/// there is more than one series.
///
/// # Errors
/// [`Error::EmptyChart`] when no series has a finite point.
pub fn line_chart(chart: &LineChart<'_>) -> Result<String> {
    let finite: Vec<Vec<(f64, f64)>> = chart
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    let all = finite.iter().flatten();
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all {
        x_lo = x_lo.min(x);
        x_hi = x_hi.max(x);
        y_lo = y_lo.min(y);
        y_hi = y_hi.max(y);
    }
    if !x_lo.is_finite() {
        return Err(Error::EmptyChart { op: "line_chart" });
    }
    if chart.y_from_zero {
        y_lo = y_lo.min(0.0);
        y_hi = y_hi.max(0.0);
    }
    let (x_ticks, x_step) = nice_ticks(x_lo, x_hi, 6, chart.x_integer);
    let (y_ticks, y_step) = nice_ticks(y_lo, y_hi, 5, false);
    let (x0, x1) = (x_ticks[0], *x_ticks.last().unwrap_or(&x_hi));
    let (y0, y1) = (y_ticks[0], *y_ticks.last().unwrap_or(&y_hi));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let py = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;

    let mut out = String::new();
    open(&mut out, W, H, chart.title);
    // Grid and y ticks.
    for &t in &y_ticks {
        let y = py(t);
        let _ = write!(
            out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{GRID}"/>"#,
            n(LEFT),
            n(y),
            n(LEFT + pw),
            n(y)
        );
        text(
            &mut out,
            LEFT - 8.0,
            y + 4.0,
            &format!(r#"text-anchor="end" font-size="12" fill="{MUTED}""#),
            &chart.y_format.tick(t, y_step),
        );
    }
    // X ticks.
    for &t in &x_ticks {
        let x = px(t);
        let _ = write!(
            out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{AXIS}"/>"#,
            n(x),
            n(TOP + ph),
            n(x),
            n(TOP + ph + 5.0)
        );
        text(
            &mut out,
            x,
            TOP + ph + 19.0,
            &format!(r#"text-anchor="middle" font-size="12" fill="{MUTED}""#),
            &ValueFormat::Plain.tick(t, x_step),
        );
    }
    // Axes.
    let _ = write!(
        out,
        r#"<path d="M{} {}V{}H{}" fill="none" stroke="{AXIS}"/>"#,
        n(LEFT),
        n(TOP),
        n(TOP + ph),
        n(LEFT + pw)
    );
    text(
        &mut out,
        LEFT + pw / 2.0,
        H - 8.0,
        r#"text-anchor="middle""#,
        chart.x_label,
    );
    let yl = TOP + ph / 2.0;
    text(
        &mut out,
        16.0,
        yl,
        &format!(
            r#"text-anchor="middle" transform="rotate(-90 16 {})""#,
            n(yl)
        ),
        chart.y_label,
    );
    // Lines and dots.
    for (i, (s, pts)) in chart.series.iter().zip(&finite).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        if pts.len() > 1 {
            let d: Vec<String> = pts
                .iter()
                .enumerate()
                .map(|(j, &(x, y))| {
                    format!(
                        "{}{} {}",
                        if j == 0 { 'M' } else { 'L' },
                        n(px(x)),
                        n(py(y))
                    )
                })
                .collect();
            let _ = write!(
                out,
                r#"<path d="{}" fill="none" stroke="{colour}" stroke-width="2.25" stroke-linejoin="round" stroke-linecap="round"/>"#,
                d.join("")
            );
        }
        if pts.len() <= 60 {
            for &(x, y) in pts {
                let _ = write!(
                    out,
                    r#"<circle cx="{}" cy="{}" r="3.5" fill="{colour}" stroke="white" stroke-width="1"><title>{}: {} {}, {}</title></circle>"#,
                    n(px(x)),
                    n(py(y)),
                    escape(s.name),
                    escape(chart.x_label),
                    ValueFormat::Plain.exact(x),
                    chart.y_format.exact(y)
                );
            }
        }
    }
    // Legend along the top.
    if chart.series.len() > 1 {
        let mut x = LEFT;
        for (i, s) in chart.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let _ = write!(
                out,
                r#"<line x1="{}" y1="14" x2="{}" y2="14" stroke="{colour}" stroke-width="3" stroke-linecap="round"/>"#,
                n(x),
                n(x + 18.0)
            );
            text(&mut out, x + 24.0, 18.5, "", s.name);
            x += 24.0 + text_width(s.name, 13.0) + 18.0;
        }
    }
    out.push_str("</svg>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart<'a>(series: &'a [Series<'a>]) -> LineChart<'a> {
        LineChart {
            title: "t",
            x_label: "epoch",
            y_label: "accuracy",
            series,
            x_integer: true,
            y_from_zero: false,
            y_format: ValueFormat::Percent,
        }
    }

    #[test]
    fn no_finite_point_is_an_error_not_an_empty_frame() {
        let pts = [(1.0, f64::NAN)];
        let e = line_chart(&chart(&[Series {
            name: "a",
            points: &pts,
        }]))
        .unwrap_err();
        assert_eq!(e, Error::EmptyChart { op: "line_chart" });
        assert!(line_chart(&chart(&[])).is_err());
    }

    #[test]
    fn one_point_draws_a_dot_and_no_line() {
        let pts = [(1.0, 0.9)];
        let svg = line_chart(&chart(&[Series {
            name: "test",
            points: &pts,
        }]))
        .unwrap();
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(!svg.contains("stroke-width=\"2.25\""));
        assert!(svg.contains("<title>test: epoch 1, 90.00%</title>"));
    }
}
