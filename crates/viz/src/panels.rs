//! Several maps next to each other, each under a title: [`side_by_side`] for one row of
//! panels, [`grid`] for many rows.

use crate::ascii::{join_lines, printable, rows};
use crate::error::{check_map, Result};

/// One titled map for [`side_by_side`] and [`grid`].
///
/// The panel is as wide as the wider of its map and its title (counted in `char`s): a long title
/// widens the panel instead of being cut, and a short one is padded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Panel<'a> {
    /// Text above the map; control characters (such as newlines) draw as spaces.
    pub title: &'a str,
    /// The `h x w` row-major values.
    pub map: &'a [f32],
    /// Height in pixels.
    pub h: usize,
    /// Width in pixels.
    pub w: usize,
    /// Scale the map to its own maximum first, like [`ascii_scaled`](crate::ascii_scaled)
    /// (for feature maps); when `false` it draws like [`ascii`](crate::ascii) (for images).
    pub scale: bool,
}

impl<'a> Panel<'a> {
    /// A panel drawn as is, like [`ascii`](crate::ascii): for images with values in `[0, 1]`.
    pub const fn new(title: &'a str, map: &'a [f32], h: usize, w: usize) -> Self {
        Self {
            title,
            map,
            h,
            w,
            scale: false,
        }
    }

    /// A panel scaled to its own maximum, like [`ascii_scaled`](crate::ascii_scaled): for
    /// feature maps.
    pub const fn scaled(title: &'a str, map: &'a [f32], h: usize, w: usize) -> Self {
        Self {
            title,
            map,
            h,
            w,
            scale: true,
        }
    }
}

/// Draws panels left to right, `gap` spaces apart, with a line of titles on top.
///
/// - Each panel is as wide as the wider of its map and its title; titles are left-aligned.
/// - Panels shorter than the tallest one are padded with blank space below.
/// - The title line is left out when every title is empty.
/// - Lines carry no trailing spaces and each ends with `'\n'`; no panels draw as `""`.
///
/// # Errors
///
/// [`Error::MapLength`](crate::Error::MapLength), with the panel's index, when a panel's map
/// does not hold `h * w` values. Nothing is drawn unless every panel is valid.
///
/// # Example
///
/// ```
/// use viz::Panel;
///
/// # fn main() -> Result<(), viz::Error> {
/// let image = [0.0, 0.9, 0.9, 0.0];
/// let feature = [2.0, 0.0];
/// let art = viz::side_by_side(
///     &[Panel::new("in", &image, 2, 2), Panel::scaled("map", &feature, 1, 2)],
///     2,
/// )?;
/// assert_eq!(art, "in  map\n.#  #.\n#.\n");
/// # Ok(())
/// # }
/// ```
pub fn side_by_side(panels: &[Panel<'_>], gap: usize) -> Result<String> {
    check_panels("side_by_side", panels)?;
    Ok(join_lines(row_lines(panels, gap)))
}

/// Draws panels in rows of `per_row`, like [`side_by_side`] for each row, with one blank line
/// between rows. `per_row == 0` puts every panel on one row.
///
/// Panels in the same column are not aligned across rows when their widths differ; give the
/// panels of a gallery the same size (and titles that fit) for a tidy grid.
///
/// # Errors
///
/// [`Error::MapLength`](crate::Error::MapLength), with the panel's index in `panels`, when a
/// panel's map does not hold `h * w` values. Nothing is drawn unless every panel is valid.
///
/// # Example
///
/// ```
/// use viz::Panel;
///
/// # fn main() -> Result<(), viz::Error> {
/// let one = [0.0, 1.0];
/// let panels = [
///     Panel::new("a", &one, 1, 2),
///     Panel::new("b", &one, 1, 2),
///     Panel::new("c", &one, 1, 2),
/// ];
/// assert_eq!(viz::grid(&panels, 2, 1)?, "a  b\n.# .#\n\nc\n.#\n");
/// # Ok(())
/// # }
/// ```
pub fn grid(panels: &[Panel<'_>], per_row: usize, gap: usize) -> Result<String> {
    check_panels("grid", panels)?;
    let per_row = if per_row == 0 {
        panels.len().max(1)
    } else {
        per_row
    };
    let blocks: Vec<String> = panels
        .chunks(per_row)
        .map(|row| join_lines(row_lines(row, gap)))
        .collect();
    Ok(blocks.join("\n"))
}

fn check_panels(op: &'static str, panels: &[Panel<'_>]) -> Result<()> {
    panels
        .iter()
        .enumerate()
        .try_for_each(|(i, p)| check_map(op, i, p.map, p.h, p.w))
}

/// A panel turned into text, with the width its column takes.
struct Drawn {
    title: String,
    rows: Vec<String>,
    width: usize,
}

/// The lines (without newlines) of one row of already checked panels.
fn row_lines(panels: &[Panel<'_>], gap: usize) -> Vec<String> {
    let drawn: Vec<Drawn> = panels
        .iter()
        .map(|p| {
            let title = printable(p.title);
            let rows = rows(p.map, p.w, p.scale);
            // A map without pixels has no rows, and so no width of its own either.
            let map_width = if rows.is_empty() { 0 } else { p.w };
            let width = map_width.max(title.chars().count());
            Drawn { title, rows, width }
        })
        .collect();

    let height = drawn.iter().map(|d| d.rows.len()).max().unwrap_or(0);
    let has_titles = drawn.iter().any(|d| !d.title.trim().is_empty());
    let titles = has_titles.then(|| line(&drawn, gap, |d| &d.title));
    let body = (0..height).map(|r| line(&drawn, gap, |d| d.rows.get(r).map_or("", String::as_str)));
    titles.into_iter().chain(body).collect()
}

/// One output line: each panel's cell padded to its width, `gap` spaces apart, trimmed at the end.
fn line(drawn: &[Drawn], gap: usize, cell: impl Fn(&Drawn) -> &str) -> String {
    let mut out = String::new();
    for (i, d) in drawn.iter().enumerate() {
        if i > 0 {
            out.extend(std::iter::repeat_n(' ', gap));
        }
        let text = cell(d);
        out.push_str(text);
        out.extend(std::iter::repeat_n(
            ' ',
            d.width.saturating_sub(text.chars().count()),
        ));
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn shorter_panels_are_padded_below() {
        let tall = [1.0; 3];
        let short = [1.0];
        let art = side_by_side(
            &[Panel::new("", &short, 1, 1), Panel::new("", &tall, 3, 1)],
            1,
        )
        .unwrap();
        assert_eq!(art, "# #\n  #\n  #\n");
    }

    #[test]
    fn long_titles_widen_their_panel() {
        let map = [0.0, 1.0];
        let art = side_by_side(
            &[Panel::new("wide", &map, 1, 2), Panel::new("x", &map, 1, 2)],
            1,
        )
        .unwrap();
        assert_eq!(art, "wide x\n.#   .#\n");
    }

    #[test]
    fn the_title_line_is_left_out_when_every_title_is_empty() {
        let map = [1.0];
        let art =
            side_by_side(&[Panel::new("", &map, 1, 1), Panel::new("", &map, 1, 1)], 2).unwrap();
        assert_eq!(art, "#  #\n");
    }

    #[test]
    fn control_characters_in_titles_draw_as_spaces() {
        let map = [1.0, 1.0, 1.0];
        let art = side_by_side(&[Panel::new("a\nb", &map, 1, 3)], 0).unwrap();
        assert_eq!(art, "a b\n###\n");
    }

    #[test]
    fn scaled_panels_use_their_own_maximum() {
        let map = [0.5, 5.0];
        let raw = side_by_side(&[Panel::new("", &map, 1, 2)], 0).unwrap();
        let scaled = side_by_side(&[Panel::scaled("", &map, 1, 2)], 0).unwrap();
        assert_eq!(raw, "*#\n");
        assert_eq!(scaled, "+#\n");
    }

    #[test]
    fn a_bad_panel_is_reported_by_index_and_nothing_is_drawn() {
        let good = [0.0; 4];
        let bad = [0.0; 3];
        let e = side_by_side(
            &[Panel::new("a", &good, 2, 2), Panel::new("b", &bad, 2, 2)],
            1,
        )
        .unwrap_err();
        assert_eq!(
            e,
            Error::MapLength {
                op: "side_by_side",
                index: 1,
                h: 2,
                w: 2,
                len: 3
            }
        );
        let panels = [
            Panel::new("", &good, 2, 2),
            Panel::new("", &good, 2, 2),
            Panel::new("", &bad, 1, 1),
        ];
        let e = grid(&panels, 2, 1).unwrap_err();
        assert_eq!(
            e,
            Error::MapLength {
                op: "grid",
                index: 2,
                h: 1,
                w: 1,
                len: 3
            }
        );
    }

    #[test]
    fn empty_inputs_draw_nothing() {
        assert_eq!(side_by_side(&[], 3).unwrap(), "");
        assert_eq!(grid(&[], 0, 3).unwrap(), "");
        assert_eq!(
            side_by_side(&[Panel::new("", &[], usize::MAX, 0)], 1).unwrap(),
            ""
        );
    }

    #[test]
    fn a_panel_without_pixels_keeps_only_its_title() {
        let map = [1.0];
        let art = side_by_side(
            &[
                Panel::new("empty", &[], 0, 7),
                Panel::new("one", &map, 1, 1),
            ],
            1,
        )
        .unwrap();
        assert_eq!(art, "empty one\n      #\n");
    }

    #[test]
    fn grid_with_zero_per_row_puts_everything_on_one_row() {
        let map = [1.0];
        let panels = [Panel::new("", &map, 1, 1); 3];
        assert_eq!(grid(&panels, 0, 1).unwrap(), "# # #\n");
    }

    #[test]
    fn grid_separates_rows_with_one_blank_line() {
        let map = [1.0];
        let panels = [Panel::new("", &map, 1, 1); 3];
        assert_eq!(grid(&panels, 1, 1).unwrap(), "#\n\n#\n\n#\n");
    }
}
