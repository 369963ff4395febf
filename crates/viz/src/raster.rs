//! Maps as PNG images (and `data:` URIs) for pages: images and feature maps as ink on paper,
//! signed weights in a blue-white-red scale. One value is one pixel; a page enlarges them
//! with `image-rendering: pixelated` so every pixel stays a crisp square.

use crate::error::{check_map, Error, Result};

/// How values become colours in [`png()`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// Gray ink on white paper: `0` (and below) is white, `max` (and above) is black. Use
    /// `max = 1.0` for images in `[0, 1]`, the map's own maximum for feature maps. A `max` of
    /// zero or less draws an all-white map.
    Ink {
        /// The value drawn black.
        max: f32,
    },
    /// Signed values: `-max_abs` blue, `0` white, `+max_abs` red (for convolution weights).
    Diverging {
        /// The magnitude drawn at full colour.
        max_abs: f32,
    },
}

/// Blue, white and red ends of [`Scale::Diverging`].
const NEGATIVE: [f32; 3] = [33.0, 102.0, 172.0];
const POSITIVE: [f32; 3] = [178.0, 24.0, 43.0];

/// The largest side [`png()`] draws (PNG itself allows 2^31 - 1).
pub const MAX_SIDE: usize = 16_384;

/// Encodes the `h x w` row-major `map` as a PNG: 8-bit gray for [`Scale::Ink`], 8-bit RGB for
/// [`Scale::Diverging`]. `NaN` draws white.
///
/// # Errors
/// [`Error::MapLength`] when `map` does not hold `h * w` values, [`Error::ImageSize`] for a
/// side of zero or over [`MAX_SIDE`].
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), viz::Error> {
/// use viz::raster::{data_uri, png, Scale};
/// let bytes = png(&[0.0, 0.5, 1.0, 0.25], 2, 2, Scale::Ink { max: 1.0 })?;
/// assert_eq!(&bytes[1..4], b"PNG");
/// assert!(data_uri(&bytes).starts_with("data:image/png;base64,iVBORw0KGgo"));
/// # Ok(())
/// # }
/// ```
pub fn png(map: &[f32], h: usize, w: usize, scale: Scale) -> Result<Vec<u8>> {
    check_map("png", 0, map, h, w)?;
    if h == 0 || w == 0 || h > MAX_SIDE || w > MAX_SIDE {
        return Err(Error::ImageSize { op: "png", h, w });
    }
    let (colour, pixels): (::png::ColorType, Vec<u8>) = match scale {
        Scale::Ink { max } => (
            ::png::ColorType::Grayscale,
            map.iter()
                .map(|&v| {
                    let t = if max > 0.0 && v.is_finite() {
                        (v / max).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    (255.0 * (1.0 - t)).round() as u8
                })
                .collect(),
        ),
        Scale::Diverging { max_abs } => (
            ::png::ColorType::Rgb,
            map.iter()
                .flat_map(|&v| {
                    let t = if max_abs > 0.0 && v.is_finite() {
                        (v / max_abs).clamp(-1.0, 1.0)
                    } else {
                        0.0
                    };
                    let end = if t < 0.0 { NEGATIVE } else { POSITIVE };
                    let a = t.abs();
                    end.map(|c| (255.0 + (c - 255.0) * a).round() as u8)
                })
                .collect(),
        ),
    };
    let mut bytes = Vec::new();
    {
        // Sizes were checked above, so the encoder has nothing to refuse: writing into a
        // `Vec` cannot fail. Should it ever, the caller gets a typed error, not a panic.
        let mut enc = ::png::Encoder::new(&mut bytes, w as u32, h as u32);
        enc.set_color(colour);
        enc.set_depth(::png::BitDepth::Eight);
        enc.set_compression(::png::Compression::High);
        let encoded = enc.write_header().and_then(|mut writer| {
            writer
                .write_image_data(&pixels)
                .and_then(|()| writer.finish())
        });
        if encoded.is_err() {
            return Err(Error::ImageSize { op: "png", h, w });
        }
    }
    Ok(bytes)
}

/// `bytes` (a PNG) as a `data:image/png;base64,...` URI for an `<img src>`.
pub fn data_uri(bytes: &[u8]) -> String {
    format!("data:image/png;base64,{}", base64(bytes))
}

/// Standard base64 (RFC 4648, with `=` padding).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain:?}");
        }
    }

    fn decode(bytes: &[u8]) -> (::png::OutputInfo, Vec<u8>) {
        let mut reader = ::png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn ink_is_dark_on_white_and_round_trips_through_a_decoder() {
        let bytes = png(
            &[0.0, 0.5, 1.0, 2.0, -1.0, f32::NAN],
            2,
            3,
            Scale::Ink { max: 1.0 },
        )
        .unwrap();
        let (info, pixels) = decode(&bytes);
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(info.color_type, ::png::ColorType::Grayscale);
        assert_eq!(pixels, [255, 128, 0, 0, 255, 255]);
        let blank = png(&[3.0; 4], 2, 2, Scale::Ink { max: 0.0 }).unwrap();
        assert_eq!(decode(&blank).1, [255; 4]);
    }

    #[test]
    fn diverging_is_blue_white_red() {
        let bytes = png(&[-2.0, 0.0, 2.0], 1, 3, Scale::Diverging { max_abs: 2.0 }).unwrap();
        let (info, pixels) = decode(&bytes);
        assert_eq!(info.color_type, ::png::ColorType::Rgb);
        assert_eq!(pixels, [33, 102, 172, 255, 255, 255, 178, 24, 43]);
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert!(matches!(
            png(&[0.0; 3], 2, 2, Scale::Ink { max: 1.0 }),
            Err(Error::MapLength { .. })
        ));
        assert_eq!(
            png(&[], 0, 5, Scale::Ink { max: 1.0 }),
            Err(Error::ImageSize {
                op: "png",
                h: 0,
                w: 5
            })
        );
    }
}
