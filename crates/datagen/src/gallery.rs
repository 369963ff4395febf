//! Side-by-side galleries: per digit class, a few synthetic digits next to a few real ones,
//! so that a person can judge how close the generator comes to real handwriting.

use crate::dataset::Dataset;
use crate::generate::{sample_into, IMAGE_LEN};
use crate::style::Style;

/// One class of a [`gallery`]: the label, its synthetic images and its real images.
pub type GalleryRow = (u8, Vec<Vec<f32>>, Vec<Vec<f32>>);

/// For each digit 0..=9: the label, `per_class` synthetic images of that digit in `style`
/// (samples `label + 10 k` of stream `seed`, `k = 0..per_class`, so the same call always gives
/// the same pictures) and, when `real` is given, its first `per_class` images carrying that
/// label, in data set order (fewer when it holds fewer).
///
/// Every image is a row-major `Vec<f32>` with values in [0, 1]: synthetic ones are 28x28, real
/// ones keep the data set's `rows x cols`. Without `real` the real lists are empty.
///
/// # Example
/// ```
/// let rows = datagen::gallery(datagen::Style::Strokes, 1, 3, None);
/// assert_eq!(rows.len(), 10);
/// let (label, synthetic, real) = &rows[7];
/// assert_eq!((*label, synthetic.len(), real.len()), (7, 3, 0));
/// assert_eq!(synthetic[0].len(), datagen::IMAGE_LEN);
/// ```
pub fn gallery(
    style: Style,
    seed: u64,
    per_class: usize,
    real: Option<&Dataset>,
) -> Vec<GalleryRow> {
    (0..10u8)
        .map(|label| {
            let synthetic = (0..per_class as u64)
                .map(|k| {
                    let mut img = vec![0.0; IMAGE_LEN];
                    sample_into(style, seed, u64::from(label) + 10 * k, &mut img);
                    img
                })
                .collect();
            let real = real.map_or_else(Vec::new, |data| {
                (0..data.len())
                    .filter(|&i| data.label(i) == label)
                    .take(per_class)
                    .map(|i| data.image_f32(i))
                    .collect()
            });
            (label, synthetic, real)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gallery_takes_real_images_of_each_label_in_order() {
        // Three 1x2 images labelled 4, 2, 4.
        let real = Dataset::new(vec![0, 255, 51, 0, 255, 255], vec![4, 2, 4], 1, 2).unwrap();
        let rows = gallery(Style::Segments, 3, 2, Some(&real));
        assert_eq!(rows.len(), 10);
        let (label, synthetic, four) = &rows[4];
        assert_eq!((*label, synthetic.len()), (4, 2));
        assert_eq!(four, &vec![vec![0.0, 1.0], vec![1.0, 1.0]]);
        assert_eq!(rows[2].2, vec![vec![0.2, 0.0]]);
        assert!(rows[0].2.is_empty());
        // The synthetic images are the stream's samples of that label.
        assert_eq!(synthetic[1], crate::sample(Style::Segments, 3, 14).0);
    }
}
