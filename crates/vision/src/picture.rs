//! Reading a picture: PNG, JPEG or PGM/PPM from a file, stdin or memory, guarded against
//! decompression bombs, as pixels for `datagen::preprocess`.

use std::io::{Cursor, Read};

use datagen::preprocess::{Channels, Page};
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::error::{Error, Result};

/// Most pixels a picture may declare (100 megapixels); the header says, before any decoding.
pub const MAX_PIXELS: u64 = 100_000_000;

/// Most bytes the decoder may allocate: a 100-megapixel RGBA picture with 8 bits a channel
/// fits, a small file that claims to unpack into gigabytes does not.
const MAX_ALLOC: u64 = 512 << 20;

/// Most bytes read from a file or stdin.
pub const MAX_FILE: u64 = 256 << 20;

/// Longest side handed to preprocessing: larger pictures are first shrunk by area averaging,
/// which keeps a digit that covers a fiftieth of the page at 40 pixels or more.
const WORK_SIDE: u32 = 2048;

/// A decoded picture.
#[derive(Debug, Clone)]
pub struct Picture {
    /// The file as given, or `<stdin>`.
    pub name: String,
    /// What it was: format, size and pixel type, e.g. `PNG 640x480 Rgba8`.
    pub kind: String,
    /// Width of `data` in pixels (at most 2048: larger pictures are shrunk first).
    pub width: usize,
    /// Height of `data` in pixels.
    pub height: usize,
    /// Colour layout of `data`.
    pub channels: Channels,
    /// Row-major pixels, channels interleaved, in [0, 1].
    pub data: Vec<f32>,
}

impl Picture {
    /// The pixels as a page for `datagen::preprocess`.
    ///
    /// # Errors
    /// [`Error::Preprocess`] if the pixels do not fit the size (never for a decoded picture).
    pub fn page(&self) -> Result<Page<'_>> {
        Ok(Page::new(
            self.width,
            self.height,
            self.channels,
            &self.data,
        )?)
    }
}

/// Reads and decodes `path`, or stdin for `-`.
///
/// # Errors
/// [`Error::Io`] when it cannot be read, [`Error::FileTooLarge`] past [`MAX_FILE`] bytes, and
/// the errors of [`decode`].
pub fn read(path: &str) -> Result<Picture> {
    let io = |name: &str| {
        let name = name.to_string();
        move |source| Error::Io { name, source }
    };
    let (name, mut source): (String, Box<dyn Read>) = if path == "-" {
        ("<stdin>".into(), Box::new(std::io::stdin().lock()))
    } else {
        let file = std::fs::File::open(path).map_err(io(path))?;
        (path.into(), Box::new(file))
    };
    let mut bytes = Vec::new();
    source
        .by_ref()
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io(&name))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(Error::FileTooLarge {
            name,
            max_mib: MAX_FILE >> 20,
        });
    }
    decode(&name, &bytes)
}

/// One line of an error, whatever the decoder wrote.
fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decodes a picture held in memory; `name` is used in messages.
///
/// # Errors
/// [`Error::NotAPicture`], [`Error::Unsupported`], [`Error::Broken`], [`Error::TooLarge`]
/// (from the header, before anything is allocated for the pixels) or [`Error::Empty`].
pub fn decode(name: &str, bytes: &[u8]) -> Result<Picture> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|source| Error::Io {
            name: name.into(),
            source,
        })?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Pnm)) => f,
        Some(other) => {
            return Err(Error::Unsupported {
                name: name.into(),
                format: other
                    .extensions_str()
                    .first()
                    .unwrap_or(&"these")
                    .to_uppercase(),
            })
        }
        None => return Err(Error::NotAPicture { name: name.into() }),
    };
    let label = match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        _ => "PNM",
    };
    let broken = |e: image::ImageError| Error::Broken {
        name: name.into(),
        format: label,
        reason: one_line(e),
    };
    // The header alone gives the size: refuse a bomb before allocating anything for it.
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(broken)?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Error::TooLarge {
            name: name.into(),
            width: w,
            height: h,
            max_megapixels: MAX_PIXELS / 1_000_000,
        });
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_image_width = Some(w.max(1));
    limits.max_image_height = Some(h.max(1));
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let mut img = reader.decode().map_err(broken)?;
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::Empty { name: name.into() });
    }
    let kind = format!("{label} {}x{} {:?}", img.width(), img.height(), img.color());
    if img.width().max(img.height()) > WORK_SIDE {
        img = img.thumbnail(WORK_SIDE, WORK_SIDE);
    }
    let (width, height) = (img.width() as usize, img.height() as usize);
    let (channels, data) = pixels(&img);
    Ok(Picture {
        name: name.into(),
        kind,
        width,
        height,
        channels,
        data,
    })
}

/// The pixels in [0, 1] in the smallest layout that keeps colour and alpha.
fn pixels(img: &DynamicImage) -> (Channels, Vec<f32>) {
    let color = img.color();
    match (color.has_color(), color.has_alpha()) {
        (false, false) => (Channels::Gray, img.to_luma32f().into_raw()),
        (false, true) => (Channels::GrayAlpha, img.to_luma_alpha32f().into_raw()),
        (true, false) => (Channels::Rgb, img.to_rgb32f().into_raw()),
        (true, true) => (Channels::Rgba, img.to_rgba32f().into_raw()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datagen::preprocess::{prepare, Options};
    use image::{ImageBuffer, Luma, Rgba};

    fn png_of(img: DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// A small picture with something on it, as RGBA PNG bytes.
    fn sample_png() -> Vec<u8> {
        let img = ImageBuffer::from_fn(24, 20, |x, y| {
            let ink = (8..12).contains(&x) && (3..17).contains(&y);
            Rgba([if ink { 10 } else { 240 }, 200, 30, 255 - (x as u8)])
        });
        png_of(DynamicImage::ImageRgba8(img))
    }

    fn assert_one_line(err: &Error, needle: &str) {
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text:?}");
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }

    #[test]
    fn decodes_png_with_colour_and_alpha() {
        let pic = decode("a.png", &sample_png()).unwrap();
        assert_eq!(
            (pic.width, pic.height, pic.channels),
            (24, 20, Channels::Rgba)
        );
        assert_eq!(pic.kind, "PNG 24x20 Rgba8");
        assert_eq!(pic.data.len(), 24 * 20 * 4);
        assert!(pic.data.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn decodes_16_bit_gray_and_pgm() {
        let img = ImageBuffer::from_fn(5, 4, |x, _| Luma([x as u16 * 16_000]));
        let pic = decode("g.png", &png_of(DynamicImage::ImageLuma16(img))).unwrap();
        assert_eq!(pic.channels, Channels::Gray);
        assert!((pic.data[4] - 64_000.0 / 65_535.0).abs() < 1e-6);
        let pgm = b"P5\n3 2\n255\n\x00\x80\xff\x00\x80\xff";
        let pic = decode("g.pgm", pgm).unwrap();
        assert_eq!(pic.kind, "PNM 3x2 L8");
        assert_eq!(
            pic.data,
            vec![0.0, 128.0 / 255.0, 1.0, 0.0, 128.0 / 255.0, 1.0]
        );
    }

    #[test]
    fn text_and_unsupported_formats_are_one_line_errors() {
        let err = decode("notes.txt", b"hello, this is not a picture\n").unwrap_err();
        assert_one_line(&err, "notes.txt: not a PNG, JPEG or PGM/PPM picture");
        let err = decode("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap_err();
        assert_one_line(&err, "not supported");
    }

    #[test]
    fn a_bomb_is_refused_from_its_header() {
        // Claims 100000 x 100000 pixels (10 gigapixels) in a 30-byte file.
        let err = decode("bomb.pgm", b"P5\n100000 100000\n255\n\x00\x00\x00").unwrap_err();
        assert_one_line(&err, "too large");
    }

    #[test]
    fn truncated_and_mutated_pngs_never_panic() {
        // Every prefix, and seeded random byte changes: each decodes or is a one-line error,
        // and whatever decodes goes through preprocessing without panicking.
        let good = sample_png();
        let check = |bytes: &[u8]| match decode("x.png", bytes) {
            Ok(pic) => {
                let out = prepare(&pic.page().unwrap(), &Options::default());
                assert!(out.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        };
        for len in 0..good.len() {
            check(&good[..len]);
        }
        let mut s = 0x9e37_79b9u32;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as usize
        };
        for _ in 0..400 {
            let mut bytes = good.clone();
            for _ in 0..1 + next() % 4 {
                let at = next() % bytes.len();
                bytes[at] = next() as u8;
            }
            check(&bytes);
        }
        for len in [0, 1, 8, 100, 5000] {
            let noise: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            check(&noise);
        }
    }
}
