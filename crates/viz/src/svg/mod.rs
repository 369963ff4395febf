//! Charts as SVG text, for pages and reports: a [`line_chart`] with axes, ticks, labels and a
//! legend, a [`confusion_heatmap`], [`percent_bars`] and a [`reliability_diagram`].
//!
//! Every chart is one `<svg>` element with a `viewBox` (it scales to the width of whatever
//! holds it), the system font stack, a `<title>` for screen readers and tooltips (`<title>`
//! children) on the marks, and no `id` attributes, so many charts can sit inline in one HTML
//! page. The output is well-formed XML: every piece of text is escaped. Nothing is fetched:
//! no fonts, images or scripts.
//!
//! # Example
//!
//! ```
//! use viz::svg::{line_chart, LineChart, Series, ValueFormat};
//!
//! # fn main() -> Result<(), viz::Error> {
//! let loss = [(1.0, 0.52), (2.0, 0.21), (3.0, 0.15)];
//! let svg = line_chart(&LineChart {
//!     title: "Training loss",
//!     x_label: "epoch",
//!     y_label: "loss",
//!     series: &[Series { name: "loss", points: &loss }],
//!     x_integer: true,
//!     y_from_zero: true,
//!     y_format: ValueFormat::Plain,
//! })?;
//! assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
//! assert!(svg.contains(">epoch</text>"));
//! # Ok(())
//! # }
//! ```

mod bars;
mod chart;
mod heatmap;
mod reliability;

pub use bars::percent_bars;
pub use chart::{line_chart, LineChart, Series};
pub use heatmap::confusion_heatmap;
pub use reliability::{reliability_diagram, ReliabilityBin};

use std::fmt::Write;

/// The system font stack every chart asks for: no font is downloaded.
pub const FONT_FAMILY: &str =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

/// Colours of the series, in order: the Okabe-Ito palette, told apart with colour blindness.
pub const PALETTE: [&str; 6] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
];

/// Colour of text.
pub(crate) const INK: &str = "#1f2933";
/// Colour of secondary text (tick labels).
pub(crate) const MUTED: &str = "#52606d";
/// Colour of grid lines.
pub(crate) const GRID: &str = "#e4e7eb";
/// Colour of axis lines.
pub(crate) const AXIS: &str = "#9aa5b1";

/// How numbers on an axis and in tooltips are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// As decimals, with as many digits as the tick step needs (`0.05`, `1.5`, `120`).
    Plain,
    /// Values in `[0, 1]` written as percentages (`0.985` -> `98.5%`).
    Percent,
}

impl ValueFormat {
    /// `v` written for an axis whose ticks are `step` apart.
    pub(crate) fn tick(self, v: f64, step: f64) -> String {
        match self {
            ValueFormat::Plain => fixed(v, decimals_for(step)),
            ValueFormat::Percent => format!("{}%", fixed(100.0 * v, decimals_for(100.0 * step))),
        }
    }

    /// `v` written precisely, for tooltips and notes.
    pub(crate) fn exact(self, v: f64) -> String {
        match self {
            ValueFormat::Plain => significant(v, 4),
            ValueFormat::Percent => format!("{:.2}%", 100.0 * v),
        }
    }
}

/// The decimals needed to tell ticks `step` apart.
fn decimals_for(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) {
        return 0;
    }
    (-step.log10().floor()).clamp(0.0, 12.0) as usize
}

/// `v` with `d` decimals, `-0` written as `0`.
fn fixed(v: f64, d: usize) -> String {
    let s = format!("{v:.d$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// `v` with about `digits` significant digits, trailing zeros dropped; scientific notation
/// for very small or very large magnitudes.
pub(crate) fn significant(v: f64, digits: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-4..6).contains(&mag) {
        return format!("{v:.*e}", (digits - 1).max(0) as usize);
    }
    let d = (digits - 1 - mag).max(0) as usize;
    let s = format!("{v:.d$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Tick positions covering `[lo, hi]`: about `target` ticks, `1, 2, 5 x 10^k` apart
/// (whole numbers apart at least when `integer`). Returns the ticks and their step; the
/// first and last ticks enclose `[lo, hi]`.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize, integer: bool) -> (Vec<f64>, f64) {
    let (mut lo, mut hi) = (lo.min(hi), lo.max(hi));
    if hi - lo < 1e-12 * hi.abs().max(1e-300) || hi == lo {
        let pad = if integer {
            0.5
        } else if lo == 0.0 {
            1.0
        } else {
            lo.abs() * 0.05
        };
        lo -= pad;
        hi += pad;
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let base = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * base);
    if integer {
        step = step.max(1.0).round();
    }
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let ticks = (first as i64..=last as i64)
        .map(|i| i as f64 * step)
        .collect();
    (ticks, step)
}

/// Escapes text for XML content and attribute values; control characters become spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate written compactly (two decimals at most).
pub(crate) fn n(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// The opening `<svg>` tag of a `w x h` chart with its `<title>`.
pub(crate) fn open(out: &mut String, w: f64, h: f64, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" font-family="{font}" font-size="13" fill="{INK}"><title>{title}</title>"#,
        w = n(w),
        h = n(h),
        font = escape(FONT_FAMILY),
        title = escape(title),
    );
}

/// `<text>` at `(x, y)` with extra attributes.
pub(crate) fn text(out: &mut String, x: f64, y: f64, attrs: &str, body: &str) {
    let _ = write!(
        out,
        r#"<text x="{}" y="{}"{}{attrs}>{}</text>"#,
        n(x),
        n(y),
        if attrs.is_empty() { "" } else { " " },
        escape(body)
    );
}

/// An `(r, g, b)` colour as `#rrggbb`.
pub(crate) fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Linear interpolation through `stops` (evenly spaced) at `t` in `[0, 1]`.
pub(crate) fn ramp_colour(stops: &[(u8, u8, u8)], t: f64) -> (u8, u8, u8) {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let last = stops.len() - 1;
    let pos = t * last as f64;
    let i = (pos.floor() as usize).min(last.saturating_sub(1));
    let f = pos - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (stops[i], stops[(i + 1).min(last)]);
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Whether white text reads better than dark text on `c`.
pub(crate) fn is_dark((r, g, b): (u8, u8, u8)) -> bool {
    let l = 0.2126 * f64::from(r) + 0.7152 * f64::from(g) + 0.0722 * f64::from(b);
    l < 140.0
}

/// Rough width of `s` in pixels at `size` px in a proportional sans-serif font.
pub(crate) fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.58
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_enclose_the_range_in_steps_of_one_two_or_five() {
        let (t, step) = nice_ticks(0.13, 0.97, 5, false);
        assert_eq!(step, 0.2);
        assert!(t[0] <= 0.13 && *t.last().unwrap() >= 0.97);
        let (t, step) = nice_ticks(1.0, 3.0, 5, true);
        assert_eq!((t, step), (vec![1.0, 2.0, 3.0], 1.0));
        // One value: a range around it, never a zero step.
        let (t, step) = nice_ticks(1.0, 1.0, 5, true);
        assert!(step >= 1.0 && t.len() >= 2, "{t:?} {step}");
        let (t, step) = nice_ticks(0.05, 0.05, 5, false);
        assert!(step > 0.0 && t[0] < 0.05 && *t.last().unwrap() > 0.05);
    }

    #[test]
    fn tick_labels_have_the_digits_the_step_needs() {
        assert_eq!(ValueFormat::Plain.tick(0.05, 0.01), "0.05");
        assert_eq!(ValueFormat::Plain.tick(120.0, 20.0), "120");
        assert_eq!(ValueFormat::Plain.tick(-0.0, 0.1), "0.0");
        assert_eq!(ValueFormat::Percent.tick(0.985, 0.005), "98.5%");
        assert_eq!(ValueFormat::Percent.tick(0.5, 0.25), "50%");
        assert_eq!(ValueFormat::Percent.exact(0.98765), "98.77%");
        assert_eq!(significant(0.012345, 3), "0.0123");
        assert_eq!(significant(2.5e-7, 2), "2.5e-7");
    }

    #[test]
    fn escaping_makes_any_text_safe_xml() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\n"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt; "
        );
    }

    #[test]
    fn colour_ramps_hit_their_stops() {
        let stops = [(0, 0, 0), (100, 200, 255)];
        assert_eq!(ramp_colour(&stops, 0.0), (0, 0, 0));
        assert_eq!(ramp_colour(&stops, 1.0), (100, 200, 255));
        assert_eq!(ramp_colour(&stops, 0.5), (50, 100, 128));
        assert_eq!(ramp_colour(&stops, f64::NAN), (0, 0, 0));
        assert_eq!(hex((1, 171, 255)), "#01abff");
    }
}
