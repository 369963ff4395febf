//! Small pieces of HTML the sections share.

use std::fmt::Write;

/// Text escaped for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    viz::svg::escape(text)
}

/// `n` with thousands separators: `10000` -> `10,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One figure of the header: a label, a large value and a note under it.
pub fn stat(label: &str, value: &str, note: &str) -> String {
    format!(
        "<div class=\"stat\"><span class=\"label\">{}</span><b>{}</b><span class=\"note\">{}</span></div>",
        esc(label),
        esc(value),
        esc(note)
    )
}

/// The opening of a section: its anchor, heading and a lead paragraph (already HTML).
pub fn open_section(id: &str, lead_html: &str) -> String {
    let heading = super::SECTIONS
        .iter()
        .find(|(i, _, _)| *i == id)
        .map_or(id, |(_, h, _)| h);
    format!(
        "<section id=\"{id}\"><h2>{}</h2><p class=\"lead\">{lead_html}</p>",
        esc(heading)
    )
}

/// An `<img>` of a PNG, shown `size` CSS pixels wide with crisp pixels.
pub fn img(png: &[u8], size: usize, alt: &str) -> String {
    format!(
        "<img class=\"px\" src=\"{}\" width=\"{size}\" height=\"{size}\" alt=\"{}\">",
        viz::raster::data_uri(png),
        esc(alt)
    )
}

/// A two-column table of `(key, value HTML)` rows.
pub fn key_values(rows: &[(String, String)]) -> String {
    let mut out = String::from("<div class=\"table-wrap\"><table class=\"kv\"><tbody>");
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A JSON value as short readable text: strings without quotes, numbers as written,
/// `null` as a dash, anything else as compact JSON.
pub fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "–".into(),
        // Settings stored from `f32`s read best as the `f32` they were (0.05, not
        // 0.05000000074505806).
        serde_json::Value::Number(n) if n.is_f64() => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            if f64::from(v as f32) == v {
                (v as f32).to_string()
            } else {
                v.to_string()
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(13_610), "13,610");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn settings_stored_from_f32_read_as_written() {
        assert_eq!(json_text(&serde_json::json!(0.05f32)), "0.05");
        assert_eq!(json_text(&serde_json::json!(0.1f64)), "0.1");
        assert_eq!(json_text(&serde_json::json!(64)), "64");
        assert_eq!(json_text(&serde_json::json!("sgd")), "sgd");
        assert_eq!(json_text(&serde_json::Value::Null), "–");
    }
}
