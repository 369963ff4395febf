//! An in-memory set of labelled grayscale images, stored as `u8`.

use crate::error::{Error, Result};
use crate::rng::ROUNDER;

/// Labelled grayscale images kept as bytes (0..=255), converted to `f32` in [0, 1] per batch.
///
/// A 60,000-image set of 28x28 digits takes 47 MB this way instead of 188 MB as `f32`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    images: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
}

impl Dataset {
    /// Builds a data set from `labels.len()` images of `rows x cols` pixels laid out one after
    /// another, row-major.
    ///
    /// # Errors
    /// [`Error::InvalidDataset`] when the pixel count is not `labels.len() * rows * cols` or an
    /// image side is zero.
    pub fn new(images: Vec<u8>, labels: Vec<u8>, rows: usize, cols: usize) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::InvalidDataset {
                reason: format!("image size {rows}x{cols} has no pixels"),
            });
        }
        let expected = labels.len().checked_mul(rows * cols);
        if expected != Some(images.len()) {
            return Err(Error::InvalidDataset {
                reason: format!(
                    "{} labels of {rows}x{cols} images need {} pixels, got {}",
                    labels.len(),
                    labels.len().saturating_mul(rows * cols),
                    images.len()
                ),
            });
        }
        Ok(Self {
            images,
            labels,
            rows,
            cols,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `true` when the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image height in pixels.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width in pixels.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Pixels per image (`rows * cols`).
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    /// All pixels, image after image.
    pub fn images(&self) -> &[u8] {
        &self.images
    }

    /// All labels, in image order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of image `i`. Panics when `i >= len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let len = self.image_len();
        &self.images[i * len..(i + 1) * len]
    }

    /// The label of image `i`. Panics when `i >= len()`, like slice indexing.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Every image's bytes, to change in place.
    pub(crate) fn images_mut(&mut self) -> &mut [u8] {
        &mut self.images
    }

    /// Image `i` as `f32` values in [0, 1].
    pub fn image_f32(&self, i: usize) -> Vec<f32> {
        self.image(i).iter().map(|&p| to_unit(p)).collect()
    }

    /// Writes the images named by `indices` into `pixels` (`indices.len() * image_len()` values
    /// in [0, 1], image after image) and their labels into `labels`.
    ///
    /// Panics when an index is out of range or a buffer has the wrong length: callers pass
    /// indices they drew from `0..len()` and buffers they sized from the batch.
    pub fn batch_into(&self, indices: &[usize], pixels: &mut [f32], labels: &mut [usize]) {
        let len = self.image_len();
        assert_eq!(pixels.len(), indices.len() * len, "batch pixel buffer");
        assert_eq!(labels.len(), indices.len(), "batch label buffer");
        for ((&i, dst), label) in indices
            .iter()
            .zip(pixels.chunks_exact_mut(len))
            .zip(labels.iter_mut())
        {
            for (d, &p) in dst.iter_mut().zip(self.image(i)) {
                *d = to_unit(p);
            }
            *label = usize::from(self.labels[i]);
        }
    }

    /// The first `count` images (all of them when `count >= len()`).
    pub fn truncated(mut self, count: usize) -> Self {
        if count < self.len() {
            self.labels.truncate(count);
            self.images.truncate(count * self.image_len());
        }
        self
    }

    /// A new data set of the images at `indices`, in that order. Panics when an index is out
    /// of range, like slice indexing.
    pub fn select(&self, indices: &[usize]) -> Self {
        let len = self.image_len();
        let mut images = Vec::with_capacity(indices.len() * len);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Self {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// How many images carry each label `0..classes` (labels `>= classes` are not counted).
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }
}

/// Maps a byte pixel to [0, 1] exactly as MNIST readers do (`p / 255`).
#[inline]
pub fn to_unit(p: u8) -> f32 {
    f32::from(p) / 255.0
}

/// Maps a value in [0, 1] to the nearest byte pixel (values outside are clamped, NaN gives 0).
#[inline]
pub fn to_byte(v: f32) -> u8 {
    // `as` saturates and maps NaN to 0.
    (v * 255.0 + 0.5) as u8
}

/// [`to_byte`] of every value of `src` into `dst` (of the same length), bit for bit, in
/// plain float steps that the compiler computes several at a time (the saturating `as u8`
/// is a value at a time on x86-64).
pub(crate) fn to_bytes(src: &[f32], dst: &mut [u8]) {
    debug_assert_eq!(src.len(), dst.len());
    for (d, &v) in dst.iter_mut().zip(src) {
        let w = v * 255.0 + 0.5;
        // As `as u8` saturates: NaN and all below 0 give 0, all above 255 give 255.
        let w = if w >= 0.0 { w } else { 0.0 };
        let w = if w <= 255.0 { w } else { 255.0 };
        // Truncate w in [0, 255]: round it to a whole number (exact, see ROUNDER), one down
        // where that went up; the whole number is then the low bits of `n + ROUNDER`.
        let n = (w + ROUNDER) - ROUNDER;
        let n = if n > w { n - 1.0 } else { n };
        *d = (n + ROUNDER).to_bits().wrapping_sub(ROUNDER.to_bits()) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `to_bytes` against `to_byte` for every `stride`-th f32 bit pattern (and the ones just
    /// around every byte boundary); the number of values checked.
    fn check_to_bytes(stride: usize) -> usize {
        let mut src: Vec<f32> = (0..=u32::MAX).step_by(stride).map(f32::from_bits).collect();
        for p in 0..=256u32 {
            let edge = (p as f32 - 0.5) / 255.0;
            let b = edge.to_bits();
            src.extend((b.saturating_sub(8)..b + 8).map(f32::from_bits));
        }
        src.extend([
            0.0,
            -0.0,
            1.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e30,
            -1e30,
        ]);
        let mut dst = vec![0u8; src.len()];
        to_bytes(&src, &mut dst);
        for (&v, &d) in src.iter().zip(&dst) {
            assert_eq!(d, to_byte(v), "{v:e} ({:#x})", v.to_bits());
        }
        src.len()
    }

    #[test]
    fn to_bytes_is_to_byte() {
        assert!(check_to_bytes(4099) > 1_000_000);
    }

    /// Every f32: about 4.3 billion values, a minute or so in release.
    #[test]
    #[ignore = "exhaustive; run with --release --lib -- --ignored to_bytes"]
    fn to_bytes_is_to_byte_everywhere() {
        for part in 0..16u32 {
            // In sixteen parts of 2^28 values, to keep the memory small.
            let src: Vec<f32> = (part << 28..=(part << 28 | ((1 << 28) - 1)))
                .map(f32::from_bits)
                .collect();
            let mut dst = vec![0u8; src.len()];
            to_bytes(&src, &mut dst);
            for (&v, &d) in src.iter().zip(&dst) {
                assert_eq!(d, to_byte(v), "{v:e} ({:#x})", v.to_bits());
            }
        }
    }

    #[test]
    fn new_rejects_pixel_count_that_does_not_match_labels() {
        let err = Dataset::new(vec![0; 10], vec![1, 2], 2, 3).unwrap_err();
        assert!(err.to_string().contains("need 12 pixels, got 10"), "{err}");
    }

    #[test]
    fn batch_into_converts_bytes_to_unit_range() {
        let ds = Dataset::new(vec![0, 255, 51, 102], vec![3, 7], 1, 2).unwrap();
        let mut px = vec![f32::NAN; 4];
        let mut lb = vec![0; 2];
        ds.batch_into(&[1, 0], &mut px, &mut lb);
        assert_eq!(px, vec![0.2, 0.4, 0.0, 1.0]);
        assert_eq!(lb, vec![7, 3]);
    }

    #[test]
    fn select_keeps_the_named_images_in_order() {
        let ds = Dataset::new(vec![1, 2, 3, 4, 5, 6], vec![0, 1, 2], 1, 2).unwrap();
        let sub = ds.select(&[2, 0]);
        assert_eq!(sub.images(), &[5, 6, 1, 2]);
        assert_eq!(sub.labels(), &[2, 0]);
    }

    #[test]
    fn byte_round_trip_is_exact() {
        for p in 0..=255u8 {
            assert_eq!(to_byte(to_unit(p)), p);
        }
        assert_eq!(to_byte(-1.0), 0);
        assert_eq!(to_byte(2.0), 255);
        assert_eq!(to_byte(f32::NAN), 0);
    }
}
