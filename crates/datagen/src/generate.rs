//! The public entry points: one sample, or a whole data set in parallel.

use crate::dataset::{to_bytes, Dataset};
use crate::rng::SampleRng;
use crate::style::Style;
use crate::{segments, strokes};
use rayon::prelude::*;

/// Side of a generated image in pixels.
pub const IMAGE_SIDE: usize = 28;

/// Pixels in a generated image (`IMAGE_SIDE * IMAGE_SIDE`).
pub const IMAGE_LEN: usize = IMAGE_SIDE * IMAGE_SIDE;

/// The label of sample `index`: `index % 10`, so any 10 consecutive indices hold every digit
/// once, and any contiguous range holds every digit equally often to within one.
pub fn label_of(index: u64) -> u8 {
    (index % 10) as u8
}

/// Draws sample `index` of the stream `seed` in `style` into `out` (784 values in [0, 1],
/// row-major) and returns its label, [`label_of`]`(index)`.
///
/// The image is a pure function of `(style, seed, index)`: the same triple gives the same bits
/// on every run, thread and platform.
///
/// # Panics
/// When `out.len() != IMAGE_LEN`.
pub fn sample_into(style: Style, seed: u64, index: u64, out: &mut [f32]) -> u8 {
    assert_eq!(out.len(), IMAGE_LEN, "sample_into needs a 28x28 buffer");
    let label = label_of(index);
    let mut rng = SampleRng::new(seed, index);
    match style {
        Style::Segments => segments::draw(&mut rng, label, out),
        Style::Strokes => strokes::draw(&mut rng, label, None, out),
        Style::Scanned => strokes::draw_scanned(&mut rng, label, out),
    }
    label
}

/// Sample `index` of the stream `seed` in `style`: 784 values in [0, 1] and the label.
/// See [`sample_into`].
pub fn sample(style: Style, seed: u64, index: u64) -> (Vec<f32>, u8) {
    let mut out = vec![0.0; IMAGE_LEN];
    let label = sample_into(style, seed, index, &mut out);
    (out, label)
}

/// Draws a handwritten ([`Style::Strokes`]) digit `label` with allograph `allograph` (one of
/// its [`allographs`](crate::allographs)) into `out`, from the random stream of
/// `(seed, index)`.
///
/// For tests and galleries that need a given shape. `label` is taken modulo 10 and
/// `allograph` modulo the digit's allograph count, so every input draws something.
///
/// # Panics
/// When `out.len() != IMAGE_LEN`.
pub fn sample_allograph_into(seed: u64, index: u64, label: u8, allograph: usize, out: &mut [f32]) {
    assert_eq!(
        out.len(),
        IMAGE_LEN,
        "sample_allograph_into needs a 28x28 buffer"
    );
    let mut rng = SampleRng::new(seed, index);
    strokes::draw(&mut rng, label % 10, Some(allograph), out);
}

/// Samples `start..start + count` of the stream `seed` in `style`, drawn in parallel with rayon
/// and stored as bytes ([`to_byte`](crate::to_byte)).
///
/// The result is the same, byte for byte, whatever the number of threads: every image depends
/// only on its own index. Indices past `u64::MAX` wrap around.
///
/// # Panics
/// When `count * 784` bytes cannot be allocated.
pub fn generate(style: Style, seed: u64, start: u64, count: usize) -> Dataset {
    let len = count
        .checked_mul(IMAGE_LEN)
        .expect("generate: image count overflows usize");
    let mut images = vec![0u8; len];
    images
        .par_chunks_mut(IMAGE_LEN)
        .with_min_len(64)
        .enumerate()
        .for_each(|(i, dst)| {
            let mut buf = [0.0f32; IMAGE_LEN];
            sample_into(style, seed, start.wrapping_add(i as u64), &mut buf);
            to_bytes(&buf, dst);
        });
    let labels = (0..count as u64)
        .map(|i| label_of(start.wrapping_add(i)))
        .collect();
    Dataset::new(images, labels, IMAGE_SIDE, IMAGE_SIDE)
        .expect("generate: image and label counts agree by construction")
}
