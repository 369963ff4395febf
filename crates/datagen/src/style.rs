//! The generator's drawing styles.

use std::fmt;
use std::str::FromStr;

/// How [`sample`](crate::sample) draws a digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Style {
    /// The original Go demo's look: straight bright strokes in a 7-segment-like box around the
    /// middle, on a faint noisy background (0..0.05), lightly blurred and stretched to [0, 1].
    Segments,
    /// Handwriting: several stroke programs per digit, jittered, slanted, rotated, elastically
    /// bent and drawn with an anti-aliased pen of varying width, then framed as MNIST was
    /// (20x20 box, centre of mass at the centre, background exactly 0).
    #[default]
    Strokes,
    /// [`Style::Strokes`] through other scanners: the same digits, but a tenth of them seen
    /// through a coarse one (averaged down 1.8-3 times, then scaled back up bilinearly), as
    /// a low-resolution scan enlarged to MNIST's size looks. The others keep their bytes.
    Scanned,
}

impl Style {
    /// Every style, in the order their names are listed in messages.
    pub const ALL: [Style; 3] = [Style::Segments, Style::Strokes, Style::Scanned];

    /// The style's name, as [`FromStr`] accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Style::Segments => "segments",
            Style::Strokes => "strokes",
            Style::Scanned => "scanned",
        }
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Style {
    type Err = ParseStyleError;

    /// Parses a style name (`"segments"`, `"strokes"` or `"scanned"`; ASCII case is ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Style::ALL
            .into_iter()
            .find(|style| style.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseStyleError {
                input: s.to_string(),
            })
    }
}

/// A string that names no [`Style`]; its message lists the choices.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown style {input:?}: expected one of segments, strokes, scanned")]
pub struct ParseStyleError {
    input: String,
}

impl ParseStyleError {
    /// The string that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_default_is_strokes() {
        for style in Style::ALL {
            assert_eq!(style.to_string().parse::<Style>(), Ok(style));
        }
        assert_eq!("Strokes".parse::<Style>(), Ok(Style::Strokes));
        assert_eq!(Style::default(), Style::Strokes);
    }

    #[test]
    fn unknown_name_lists_the_choices() {
        let err = "fonts".parse::<Style>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown style \"fonts\": expected one of segments, strokes, scanned"
        );
        assert_eq!(err.input(), "fonts");
    }

    #[test]
    fn message_lists_every_style() {
        let msg = "x".parse::<Style>().unwrap_err().to_string();
        for style in Style::ALL {
            assert!(msg.contains(style.name()), "{msg}");
        }
    }
}
