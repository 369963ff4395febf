//! One map as ASCII art: the demo's four-step ramp, raw or scaled to the map's own maximum.

use crate::error::{check_map, Result};

/// Maps a value in `[0, 1]` to the demo's ramp: `.` below 0.1, `+` from 0.1, `*` from 0.4 and
/// `#` from 0.7.
///
/// The thresholds are compared in `f32` (`v >= 0.1f32`), so `0.1f32` itself draws as `+`.
/// Values outside `[0, 1]` clamp naturally: negatives draw as `.` and values above 1 as `#`.
/// `NaN` draws as `.` (it compares false against every threshold), so a broken activation reads
/// as "nothing here" rather than as a bright pixel.
///
/// # Example
///
/// ```
/// assert_eq!(viz::ramp(0.099), '.');
/// assert_eq!(viz::ramp(0.1), '+');
/// assert_eq!(viz::ramp(0.4), '*');
/// assert_eq!(viz::ramp(0.7), '#');
/// assert_eq!(viz::ramp(f32::NAN), '.');
/// ```
pub fn ramp(v: f32) -> char {
    if v >= 0.7 {
        '#'
    } else if v >= 0.4 {
        '*'
    } else if v >= 0.1 {
        '+'
    } else {
        '.'
    }
}

/// Draws an `h x w` row-major map, one [`ramp`] character per pixel and one line per row; every
/// line ends with `'\n'`.
///
/// A map with no pixels (`h == 0` or `w == 0`) draws as the empty string.
///
/// # Errors
///
/// [`Error::MapLength`](crate::Error::MapLength) when `map.len() != h * w`.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), viz::Error> {
/// let art = viz::ascii(&[0.0, 0.2, 0.5, 0.9], 2, 2)?;
/// assert_eq!(art, ".+\n*#\n");
/// # Ok(())
/// # }
/// ```
pub fn ascii(map: &[f32], h: usize, w: usize) -> Result<String> {
    check_map("ascii", 0, map, h, w)?;
    Ok(join_lines(rows(map, w, false)))
}

/// Draws a feature map like [`ascii`], after dividing every value by the map's maximum, so the
/// strongest activation draws as `#` whatever its magnitude.
///
/// The maximum is taken over the finite values. A map whose maximum is not positive (all zeros,
/// all negative, all `NaN`) is not divided and so draws as all `.`; `NaN` pixels draw as `.`.
///
/// # Errors
///
/// [`Error::MapLength`](crate::Error::MapLength) when `map.len() != h * w`.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), viz::Error> {
/// // Activations of any size: 3.0 is this map's maximum, so it draws as `#`.
/// let art = viz::ascii_scaled(&[0.0, 0.6, 1.5, 3.0], 1, 4)?;
/// assert_eq!(art, ".+*#\n");
/// # Ok(())
/// # }
/// ```
pub fn ascii_scaled(map: &[f32], h: usize, w: usize) -> Result<String> {
    check_map("ascii_scaled", 0, map, h, w)?;
    Ok(join_lines(rows(map, w, true)))
}

/// The largest finite value of `map`, if it is positive.
fn positive_max(map: &[f32]) -> Option<f32> {
    let max = map
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f32::NEG_INFINITY, f32::max);
    (max > 0.0).then_some(max)
}

/// The rows of an already checked map, one `String` per row, without newlines.
///
/// Returns no rows when the map has no pixels, so `h = usize::MAX, w = 0` costs nothing.
pub(crate) fn rows(map: &[f32], w: usize, scale: bool) -> Vec<String> {
    if map.is_empty() || w == 0 {
        return Vec::new();
    }
    let max = if scale { positive_max(map) } else { None };
    map.chunks(w)
        .map(|row| {
            row.iter()
                .map(|&v| ramp(max.map_or(v, |m| v / m)))
                .collect()
        })
        .collect()
}

/// Joins lines, ending each one (the last included) with `'\n'`.
pub(crate) fn join_lines<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(line.as_ref());
        out.push('\n');
    }
    out
}

/// `text` with every control character (newline, tab, escape...) replaced by a space, so a name
/// or title cannot break the layout of the lines around it.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn ramp_thresholds_are_inclusive_in_f32() {
        assert_eq!(ramp(0.099), '.');
        assert_eq!(ramp(0.1), '+');
        assert_eq!(ramp(0.399), '+');
        assert_eq!(ramp(0.4), '*');
        assert_eq!(ramp(0.699), '*');
        assert_eq!(ramp(0.7), '#');
        assert_eq!(ramp(1.0), '#');
    }

    #[test]
    fn ramp_draws_nan_and_negatives_as_background_and_overflow_as_ink() {
        assert_eq!(ramp(f32::NAN), '.');
        assert_eq!(ramp(-1.0), '.');
        assert_eq!(ramp(f32::NEG_INFINITY), '.');
        assert_eq!(ramp(2.0), '#');
        assert_eq!(ramp(f32::INFINITY), '#');
    }

    #[test]
    fn ascii_ends_every_row_with_a_newline() {
        assert_eq!(ascii(&[0.0, 1.0, 1.0, 0.0], 2, 2).unwrap(), ".#\n#.\n");
    }

    #[test]
    fn ascii_rejects_a_length_that_is_not_h_times_w() {
        let e = ascii(&[0.0; 5], 2, 2).unwrap_err();
        assert_eq!(
            e,
            Error::MapLength {
                op: "ascii",
                index: 0,
                h: 2,
                w: 2,
                len: 5
            }
        );
    }

    #[test]
    fn ascii_of_a_map_without_pixels_is_empty() {
        assert_eq!(ascii(&[], 0, 5).unwrap(), "");
        assert_eq!(ascii(&[], 3, 0).unwrap(), "");
        assert_eq!(ascii(&[], usize::MAX, 0).unwrap(), "");
    }

    #[test]
    fn ascii_scaled_divides_by_the_maximum() {
        // 0.05 / 0.5 = 0.1 -> '+', 0.2 / 0.5 = 0.4 -> '*', 0.5 / 0.5 = 1 -> '#'.
        assert_eq!(
            ascii_scaled(&[0.0, 0.05, 0.2, 0.5], 1, 4).unwrap(),
            ".+*#\n"
        );
    }

    #[test]
    fn ascii_scaled_draws_zero_and_negative_maps_as_background() {
        assert_eq!(ascii_scaled(&[0.0; 3], 1, 3).unwrap(), "...\n");
        assert_eq!(ascii_scaled(&[-1.0, -0.5, -3.0], 1, 3).unwrap(), "...\n");
    }

    #[test]
    fn ascii_scaled_ignores_nan_and_infinity_when_finding_the_maximum() {
        // Max over finite values is 2.0; inf / 2 = inf -> '#', NaN -> '.'.
        let map = [f32::NAN, 2.0, f32::INFINITY, 0.3];
        assert_eq!(ascii_scaled(&map, 1, 4).unwrap(), ".##+\n");
        assert_eq!(ascii_scaled(&[f32::NAN; 2], 1, 2).unwrap(), "..\n");
    }

    #[test]
    fn ascii_scaled_reports_its_own_name() {
        let e = ascii_scaled(&[0.0], 2, 2).unwrap_err();
        assert!(matches!(
            e,
            Error::MapLength {
                op: "ascii_scaled",
                ..
            }
        ));
    }
}
