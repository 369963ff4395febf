//! From a photo, scan or drawing of one handwritten digit to the 28x28 image an MNIST-style
//! network expects, with diagnostics that tell when the picture holds no single digit.
//!
//! The steps, in order (MNIST's own recipe after the first four):
//!
//! 1. **Grey.** Colour becomes luma; transparent pixels are composited onto the paper colour
//!    (white under dark ink when the canvas itself is transparent).
//! 2. **Paper and polarity.** The paper level is a plane fitted to the page's border ring
//!    (so a mild gradient or shadow goes), the noise level is measured there, and whichever
//!    side of the paper holds more ink becomes bright ink on black: dark ink on light paper
//!    is inverted, a white digit on black is kept.
//! 3. **Paper lines.** Long thin straight lines that run edge to edge (ruled and squared
//!    paper, a margin) are taken out, except where a stroke crosses or touches them; the
//!    diagnostics count them.
//! 4. **Ink.** Pixels that stand out from the paper by less than five noise deviations (and
//!    a tenth of the ink's contrast) are paper; connected pieces that never reach half the
//!    ink's contrast are smudges, and small pieces away from the main strokes (less than
//!    [`Options::speck_fraction`] of the largest piece's ink) are specks. Both are dropped.
//! 5. **Crop** to the ink's bounding box. A pen thinner than [`Options::min_stroke`] output
//!    pixels is thickened first (a grey dilation), so that a fine pen on a large page does
//!    not shrink to a faint hairline.
//! 6. **Scale** so that the long side of the box is 20 pixels, keeping the aspect ratio, by
//!    exact area averaging (each output pixel is the mean of the page area it covers).
//! 7. **Centre**: shift by whole pixels so the intensity-weighted centre of mass lands
//!    nearest (14.0, 14.0) in pixel-centre coordinates 0..=27, as MNIST (and this crate's
//!    generator) do, then scale so the brightest pixel is 1.
//!
//! # Example
//!
//! ```
//! use datagen::preprocess::{prepare, Channels, Options, Page};
//!
//! // A 40x60 white page with a dark vertical bar: a "one".
//! let (w, h) = (40, 60);
//! let mut gray = vec![1.0f32; w * h];
//! for y in 10..50 {
//!     for x in 18..23 {
//!         gray[y * w + x] = 0.1;
//!     }
//! }
//! let page = Page::new(w, h, Channels::Gray, &gray)?;
//! let out = prepare(&page, &Options::default());
//! assert_eq!(out.pixels.len(), datagen::IMAGE_LEN);
//! assert!(out.diagnostics.inverted);
//! assert_eq!(out.diagnostics.concern, None);
//! // The bar's 40 rows become the 20-pixel box.
//! let rows = out.pixels.chunks(28).filter(|row| row.iter().any(|&v| v > 0.0)).count();
//! assert_eq!(rows, 20);
//! # Ok::<(), datagen::preprocess::Error>(())
//! ```

mod components;
mod lines;
mod paper;
mod resample;
mod segment;

use std::fmt;

use crate::frame::{BOX, CENTRE};
use crate::{IMAGE_LEN, IMAGE_SIDE};
use components::Component;
pub use segment::{segment, Segment};

/// What is wrong with a page handed to [`Page::new`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The page has no pixels.
    #[error("preprocess: the page is empty ({width}x{height})")]
    Empty {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// The pixel buffer does not hold `width * height * channels` values.
    #[error("preprocess: a {width}x{height} page of {channels} channels needs {expected} values, got {got}")]
    Length {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
        /// Values per pixel.
        channels: usize,
        /// `width * height * channels`, or `usize::MAX` when that overflows.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A value is NaN or infinite.
    #[error("preprocess: value {index} of the page is not finite")]
    NonFinite {
        /// Its index in the pixel buffer.
        index: usize,
    },
}

/// `Result` with this module's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The colour layout of a [`Page`]'s pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// One grey value per pixel.
    Gray,
    /// Grey, then alpha (opacity).
    GrayAlpha,
    /// Red, green, blue.
    Rgb,
    /// Red, green, blue, then alpha (opacity).
    Rgba,
}

impl Channels {
    /// Values per pixel: 1 to 4.
    pub fn count(self) -> usize {
        match self {
            Channels::Gray => 1,
            Channels::GrayAlpha => 2,
            Channels::Rgb => 3,
            Channels::Rgba => 4,
        }
    }

    /// Where the alpha value sits in a pixel, if there is one.
    fn alpha_index(self) -> Option<usize> {
        match self {
            Channels::GrayAlpha => Some(1),
            Channels::Rgba => Some(3),
            Channels::Gray | Channels::Rgb => None,
        }
    }
}

/// A decoded picture: `width x height` pixels, row-major, channels interleaved, values in
/// [0, 1] (0 black, 1 white or opaque; values outside are clamped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Page<'a> {
    width: usize,
    height: usize,
    channels: Channels,
    data: &'a [f32],
}

impl<'a> Page<'a> {
    /// Checks the size and the values of a page.
    ///
    /// # Errors
    ///
    /// [`Error::Empty`] without pixels, [`Error::Length`] when `data` does not hold
    /// `width * height * channels.count()` values, [`Error::NonFinite`] on NaN or infinity.
    pub fn new(width: usize, height: usize, channels: Channels, data: &'a [f32]) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::Empty { width, height });
        }
        let expected = width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(channels.count()))
            .unwrap_or(usize::MAX);
        if data.len() != expected {
            return Err(Error::Length {
                width,
                height,
                channels: channels.count(),
                expected,
                got: data.len(),
            });
        }
        if let Some(index) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { index });
        }
        Ok(Self {
            width,
            height,
            channels,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The colour layout.
    pub fn channels(&self) -> Channels {
        self.channels
    }
}

/// The thresholds of [`prepare`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Thinnest stroke, in output pixels, left as it is; thinner pens are thickened to it.
    /// MNIST's strokes are 2 to 3 pixels wide. Default 1.8.
    pub min_stroke: f32,
    /// A piece of ink with less than this share of the largest piece's ink, away from the
    /// digit's main strokes, is a speck and is dropped. Default 0.05.
    pub speck_fraction: f32,
    /// An ink box wider than this many times its height is no single digit. Default 2.5 (the
    /// widest real MNIST digits come close to 2).
    pub max_aspect: f32,
    /// An ink box this full (ink pixels over box pixels), and roughly square, is a solid
    /// block. Default 0.85.
    pub solid_fill: f32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            min_stroke: 1.8,
            speck_fraction: 0.05,
            max_aspect: 2.5,
            solid_fill: 0.85,
        }
    }
}

/// Why a page holds no single digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Concern {
    /// No ink stands out from the paper (or only specks do).
    Blank,
    /// The ink fills its box (or most of the page): a blot, not a stroke.
    SolidBlock,
    /// Two or more marks of similar height stand next to each other.
    SideBySide,
    /// The ink is much wider than tall.
    TooWide,
}

impl fmt::Display for Concern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Concern::Blank => "blank image",
            Concern::SolidBlock => "solid block",
            Concern::SideBySide => "several marks side by side",
            Concern::TooWide => "a mark too wide for one digit",
        })
    }
}

/// The ink's bounding box on the page, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InkBox {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

/// What [`prepare`] found on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostics {
    /// The ink was darker than the paper, and was inverted.
    pub inverted: bool,
    /// How far the ink stands out from the paper, in grey levels (0 to 1; 0 on a blank page).
    pub contrast: f32,
    /// The paper's noise, a standard deviation in grey levels.
    pub noise: f32,
    /// Share of the page's pixels that are ink (after dropping specks).
    pub ink_fraction: f32,
    /// Connected pieces of ink of significant size (at least a fifth of the largest one's ink).
    pub components: usize,
    /// Pieces dropped as specks or faint smudges.
    pub specks: usize,
    /// Long thin straight lines running left to right across the page (ruled paper, the rows
    /// of squared paper) taken out before the ink was read.
    pub horizontal_lines: usize,
    /// Long thin straight lines running top to bottom (a margin, the columns of squared
    /// paper) taken out before the ink was read.
    pub vertical_lines: usize,
    /// The ink's bounding box; `None` on a blank page.
    pub ink_box: Option<InkBox>,
    /// Width over height of the ink's box (0 on a blank page).
    pub aspect: f32,
    /// Ink pixels over box pixels (0 on a blank page).
    pub fill: f32,
    /// The pen's width in output pixels, as drawn (before any thickening).
    pub stroke: f32,
    /// Radius, in page pixels, of the dilation that thickened a thin pen (0 when none).
    pub thickened: usize,
    /// Why the page holds no single digit, if it does not.
    pub concern: Option<Concern>,
}

/// A prepared image and what was found on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The 28x28 image, row-major, ink bright, in [0, 1]; all zeros for a blank page.
    pub pixels: Vec<f32>,
    /// What was found.
    pub diagnostics: Diagnostics,
}

/// Turns a picture of one digit into a 28x28 MNIST-style image (see the module doc).
///
/// Never fails on a valid [`Page`]: a page without a digit gives a result whose
/// [`Diagnostics::concern`] says why.
pub fn prepare(page: &Page<'_>, options: &Options) -> Prepared {
    let (w, h) = (page.width, page.height);
    let gray = paper::to_gray(page);
    let ink = paper::ink_map(&gray, w, h);
    let mut diagnostics = Diagnostics {
        inverted: ink.inverted,
        contrast: ink.contrast,
        noise: ink.noise,
        ink_fraction: 0.0,
        components: 0,
        specks: 0,
        horizontal_lines: ink.lines.horizontal,
        vertical_lines: ink.lines.vertical,
        ink_box: None,
        aspect: 0.0,
        fill: 0.0,
        stroke: 0.0,
        thickened: 0,
        concern: Some(Concern::Blank),
    };
    let blank = |diagnostics| Prepared {
        pixels: vec![0.0; IMAGE_LEN],
        diagnostics,
    };
    // Fainter than this, nothing on the page is ink: an empty sheet, or noise only.
    if ink.contrast < 0.08 {
        return blank(diagnostics);
    }
    let (labels, comps) = components::label(&ink.level, w, h, ink.low);
    // Pieces that never reach half the ink's contrast are smudges, not ink.
    let strong: Vec<bool> = comps.iter().map(|c| c.peak >= 0.5 * ink.contrast).collect();
    let largest = comps
        .iter()
        .zip(&strong)
        .filter(|(_, &s)| s)
        .map(|(c, _)| c.mass)
        .fold(0.0, f32::max);
    // Marks: pieces with at least a fifth of the largest one's ink.
    let marks: Vec<Component> = comps
        .iter()
        .zip(&strong)
        .filter(|(c, &s)| s && c.mass >= 0.2 * largest)
        .map(|(c, _)| *c)
        .collect();
    // A small piece near the marks is part of the digit (a broken stroke); far from them it is
    // a speck. Near: inside the marks' box widened by a seventh of its long side.
    let near = {
        let bx0 = marks.iter().map(|c| c.x0).min().unwrap_or(0);
        let by0 = marks.iter().map(|c| c.y0).min().unwrap_or(0);
        let bx1 = marks.iter().map(|c| c.x1).max().unwrap_or(0);
        let by1 = marks.iter().map(|c| c.y1).max().unwrap_or(0);
        let margin = (bx1 - bx0).max(by1 - by0).div_ceil(7);
        move |c: &Component| {
            c.x0 + margin >= bx0
                && c.y0 + margin >= by0
                && c.x1 <= bx1 + margin
                && c.y1 <= by1 + margin
        }
    };
    let keep: Vec<bool> = comps
        .iter()
        .zip(&strong)
        .map(|(c, &s)| s && (c.mass >= options.speck_fraction * largest || near(c)))
        .collect();
    let kept: Vec<Component> = comps
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .map(|(c, _)| *c)
        .collect();
    diagnostics.specks = comps.len() - kept.len();
    // A digit is more than a speck: its largest piece spans at least 2% of the page.
    let long_side = kept
        .iter()
        .map(|c| c.width().max(c.height()))
        .max()
        .unwrap_or(0);
    if long_side * 50 < w.max(h) || long_side < 3 {
        return blank(diagnostics);
    }
    let (x0, y0) = (
        kept.iter().map(|c| c.x0).min().unwrap_or(0),
        kept.iter().map(|c| c.y0).min().unwrap_or(0),
    );
    let (x1, y1) = (
        kept.iter().map(|c| c.x1).max().unwrap_or(0),
        kept.iter().map(|c| c.y1).max().unwrap_or(0),
    );
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let area: usize = kept.iter().map(|c| c.area).sum();
    diagnostics.components = marks.len();
    diagnostics.ink_box = Some(InkBox {
        x: x0,
        y: y0,
        width: bw,
        height: bh,
    });
    diagnostics.aspect = bw as f32 / bh as f32;
    diagnostics.fill = area as f32 / (bw * bh) as f32;
    diagnostics.ink_fraction = area as f32 / (w * h) as f32;
    let squarish = (0.5..=2.0).contains(&diagnostics.aspect);
    diagnostics.concern =
        if (diagnostics.fill >= options.solid_fill && squarish) || diagnostics.ink_fraction > 0.6 {
            Some(Concern::SolidBlock)
        } else if components::side_by_side(&marks) {
            Some(Concern::SideBySide)
        } else if diagnostics.aspect > options.max_aspect {
            Some(Concern::TooWide)
        } else {
            None
        };

    // The crop: kept ink only, normalised so the typical ink level is 1.
    let mask: Vec<bool> = (0..bh * bw)
        .map(|i| {
            let l = labels[(y0 + i / bw) * w + x0 + i % bw];
            l != 0 && keep[l as usize - 1]
        })
        .collect();
    let stroke = components::stroke_width(&mask, bw, bh);
    let long = bw.max(bh) as f32;
    diagnostics.stroke = stroke * BOX / long;
    // Thicken a thin pen: dilating by r widens the stroke by 2r and the box by 2r too.
    let mut r = 0usize;
    for _ in 0..2 {
        let scale = BOX / (long + 2.0 * r as f32);
        let missing = options.min_stroke / scale - stroke;
        r = r.max((missing / 2.0).ceil().max(0.0) as usize);
    }
    diagnostics.thickened = r;
    let (cw, ch) = (bw + 2 * r, bh + 2 * r);
    let mut crop = vec![0.0f32; cw * ch];
    for y in 0..bh {
        for x in 0..bw {
            if mask[y * bw + x] {
                let v = ink.level[(y0 + y) * w + x0 + x];
                crop[(y + r) * cw + x + r] = v.min(ink.contrast) / ink.contrast;
            }
        }
    }
    resample::dilate(&mut crop, ch, cw, r);
    let scale = BOX / cw.max(ch) as f32;
    let (small, _, sw) = resample::area_resize(&crop, ch, cw, scale);
    Prepared {
        pixels: centre(&small, sw),
        diagnostics,
    }
}

/// Places the image of width `w` in a 28x28 one, shifted by whole pixels so that its centre of mass
/// comes nearest [`CENTRE`] on both axes, and scales it so its brightest pixel is 1. Ink
/// shifted past the border is lost, as in MNIST.
fn centre(img: &[f32], w: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; IMAGE_LEN];
    let (mut mass, mut mx, mut my) = (0.0f64, 0.0f64, 0.0f64);
    for (y, row) in img.chunks_exact(w).enumerate() {
        for (x, &v) in row.iter().enumerate() {
            let v = f64::from(v);
            mass += v;
            mx += v * x as f64;
            my += v * y as f64;
        }
    }
    if mass <= 0.0 {
        return out;
    }
    let shift = |m: f64| (f64::from(CENTRE) - m / mass).round() as isize;
    let (ox, oy) = (shift(mx), shift(my));
    let side = IMAGE_SIDE as isize;
    for (y, row) in img.chunks_exact(w).enumerate() {
        let ty = y as isize + oy;
        if !(0..side).contains(&ty) {
            continue;
        }
        for (x, &v) in row.iter().enumerate() {
            let tx = x as isize + ox;
            if (0..side).contains(&tx) {
                out[(ty * side + tx) as usize] = v;
            }
        }
    }
    let peak = out.iter().copied().fold(0.0, f32::max);
    if peak > 0.0 {
        out.iter_mut().for_each(|v| *v = (*v / peak).min(1.0));
    }
    out
}

#[cfg(test)]
mod tests;
