//! A drawing sent as strokes, rendered with the generator's anti-aliased pen
//! ([`datagen::draw_stroke`]) onto a page that then takes the same path as a photo.
//!
//! The body is JSON: `{"width": W, "height": H, "pen": P, "paper": "white" | "black",
//! "strokes": [[[x, y], ...], ...]}`, coordinates and pen width (a diameter) in the drawing's
//! own pixels, `paper` optional (white: dark ink on white paper, the page's look). An optional
//! `"pens": [P, ...]` gives each stroke its own pen width.

use serde_json::Value;

use super::limits::{MAX_CANVAS, MAX_POINTS, MAX_STROKES};

/// Long side of the rendered page, in pixels: fine enough for the pen's edge, small enough to
/// render in well under a millisecond per stroke.
pub const RENDER_SIDE: f64 = 280.0;

/// Edge half-width of the pen in rendered pixels: 0.5 is what area sampling gives.
const SOFT: f32 = 0.5;

/// A drawing rendered as gray paper (1 = white) with ink.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Gray levels, row by row.
    pub gray: Vec<f32>,
}

/// Parses and renders a drawing; the error is a one-line message for a 400/422 answer.
pub fn render(body: &[u8]) -> Result<Rendered, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Some(obj) = v.as_object() else {
        return Err("the body must be a JSON object with width, height, pen and strokes".into());
    };
    let number = |key: &str| -> Result<f64, String> {
        obj.get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("`{key}` must be a number"))
    };
    let (w, h) = (number("width")?, number("height")?);
    if !(1.0..=MAX_CANVAS).contains(&w) || !(1.0..=MAX_CANVAS).contains(&h) {
        return Err(format!(
            "width and height must be 1 to {MAX_CANVAS} pixels, not {w}x{h}"
        ));
    }
    let pen = number("pen")?;
    let max_pen = w.min(h) / 4.0;
    if !(pen > 0.0 && pen <= max_pen) {
        return Err(format!(
            "`pen` must be above 0 and at most {max_pen} (a quarter of the drawing), not {pen}"
        ));
    }
    let white = match obj.get("paper").map(|p| p.as_str()) {
        None | Some(Some("white")) => true,
        Some(Some("black")) => false,
        Some(_) => return Err("`paper` must be \"white\" or \"black\"".into()),
    };
    let strokes = obj
        .get("strokes")
        .and_then(Value::as_array)
        .ok_or("`strokes` must be a list of strokes, each a list of [x, y] points")?;
    if strokes.len() > MAX_STROKES {
        return Err(format!("{} strokes; at most {MAX_STROKES}", strokes.len()));
    }
    let pens: Vec<f64> = match obj.get("pens") {
        None => vec![pen; strokes.len()],
        Some(v) => {
            let list = v
                .as_array()
                .filter(|a| a.len() == strokes.len())
                .ok_or("`pens` must list one pen width per stroke")?;
            list.iter()
                .map(|p| p.as_f64().filter(|&p| p > 0.0 && p <= max_pen))
                .collect::<Option<_>>()
                .ok_or_else(|| format!("every pen width must be above 0 and at most {max_pen}"))?
        }
    };
    let scale = RENDER_SIDE / w.max(h);
    let width = ((w * scale).round() as usize).max(1);
    let height = ((h * scale).round() as usize).max(1);
    let mut ink = vec![0.0f32; width * height];
    let mut total = 0usize;
    for (i, (stroke, pen)) in strokes.iter().zip(pens).enumerate() {
        let radius = (pen / 2.0 * scale) as f32;
        let points = stroke
            .as_array()
            .ok_or_else(|| format!("stroke {i} is not a list of points"))?;
        total += points.len();
        if total > MAX_POINTS {
            return Err(format!("more than {MAX_POINTS} points"));
        }
        let mut pts = Vec::with_capacity(points.len());
        for p in points {
            let xy = p.as_array().filter(|a| a.len() == 2);
            let xy = xy.and_then(|a| Some((a[0].as_f64()?, a[1].as_f64()?)));
            let Some((x, y)) = xy else {
                return Err(format!(
                    "stroke {i}: every point must be [x, y] with two numbers"
                ));
            };
            // Pixel centres sit at +0.5 in the drawing, at integers in the rendering.
            pts.push(((x * scale - 0.5) as f32, (y * scale - 0.5) as f32));
        }
        datagen::draw_stroke(&mut ink, width, height, &pts, radius, SOFT);
    }
    let gray = ink
        .iter()
        .map(|&c| if white { 1.0 - c } else { c })
        .collect();
    Ok(Rendered {
        width,
        height,
        gray,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stroke_is_dark_ink_on_white_paper_scaled_to_the_render_side() {
        let body = br#"{"width": 560, "height": 280, "pen": 20,
            "strokes": [[[100, 140], [460, 140]]]}"#;
        let r = render(body).unwrap();
        assert_eq!((r.width, r.height), (280, 140));
        // The line runs along row 70 from x = 50 to 230, 10 pixels thick.
        assert_eq!(r.gray[70 * 280 + 140], 0.0);
        assert_eq!(r.gray[70 * 280 + 10], 1.0);
        assert_eq!(r.gray[50 * 280 + 140], 1.0);
        let black = render(
            &body[..body.len() - 1]
                .iter()
                .chain(br#", "paper": "black"}"#)
                .copied()
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(black
            .gray
            .iter()
            .zip(&r.gray)
            .all(|(b, w)| (b + w - 1.0).abs() < 1e-6));
    }

    #[test]
    fn bad_drawings_are_refused_with_a_reason() {
        for (body, needle) in [
            (&b"[1, 2]"[..], "JSON object"),
            (b"{", "not JSON"),
            (
                br#"{"width": 0, "height": 10, "pen": 1, "strokes": []}"#,
                "width and height",
            ),
            (
                br#"{"width": 100, "height": 100, "pen": 60, "strokes": []}"#,
                "pen",
            ),
            (br#"{"width": 100, "height": 100, "pen": 5}"#, "strokes"),
            (
                br#"{"width": 100, "height": 100, "pen": 5, "strokes": [[[1]]]}"#,
                "[x, y]",
            ),
            (
                br#"{"width": 100, "height": 100, "pen": 5, "strokes": [3]}"#,
                "stroke 0",
            ),
            (
                br#"{"width": 100, "height": 100, "pen": 5, "paper": "red", "strokes": []}"#,
                "paper",
            ),
        ] {
            let e = render(body).unwrap_err();
            assert!(e.contains(needle), "{needle:?} not in {e:?}");
        }
    }
}
