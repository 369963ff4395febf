//! The [`Tensor`] type: owned, contiguous, row-major `f32` data with a shape.

use crate::error::{Error, Result};

/// An owned, contiguous, row-major `f32` array with a shape (NCHW for images).
///
/// There are no strides, views, dtypes or devices: every kernel of this crate works on the
/// flat data, and the shape says how to read it.
///
/// ```
/// use tensor::Tensor;
/// # fn main() -> tensor::Result<()> {
/// let t = Tensor::from_vec(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(t.shape(), &[2, 3]);
/// let (rows, cols) = t.dims2()?;
/// assert_eq!((rows, cols), (2, 3));
/// let flat = t.reshape(vec![6])?;
/// assert_eq!(flat.data()[5], 6.0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Tensor {
    /// A tensor of zeros.
    pub fn zeros(shape: Vec<usize>) -> Self {
        Self::full(shape, 0.0)
    }

    /// A tensor with every value set to `value`.
    pub fn full(shape: Vec<usize>, value: f32) -> Self {
        let len = shape.iter().product();
        Self {
            shape,
            data: vec![value; len],
        }
    }

    /// Wraps `data` with `shape`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `data.len()` is not the product of `shape`.
    pub fn from_vec(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let expected = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if expected != Some(data.len()) {
            return Err(Error::LengthMismatch {
                shape,
                len: data.len(),
            });
        }
        Ok(Self { shape, data })
    }

    /// A tensor of values drawn uniformly from `[low, high)` by `next_u32`, a source of
    /// uniformly random 32-bit words (for example a seeded `rand_chacha` generator's
    /// `next_u32`). Taking a closure keeps this crate free of `rand` and fixes the stream:
    /// each value uses one word, `low + (high - low) * (word >> 8) / 2^24`.
    pub fn uniform(
        shape: Vec<usize>,
        low: f32,
        high: f32,
        mut next_u32: impl FnMut() -> u32,
    ) -> Self {
        let len = shape.iter().product();
        let data = (0..len)
            .map(|_| low + (high - low) * unit_f32(next_u32()))
            .collect();
        Self { shape, data }
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, row-major, for writing.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the tensor and returns its values.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Number of values (the product of the shape).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// `true` when the tensor holds no value.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The same values with another shape of the same size.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the new shape does not hold `len()` values.
    pub fn reshape(self, shape: Vec<usize>) -> Result<Self> {
        Self::from_vec(shape, self.data)
    }

    /// Sets every value to zero, keeping the shape.
    pub fn fill_zero(&mut self) {
        self.data.fill(0.0);
    }

    /// The two dimensions of a 2-d tensor.
    ///
    /// # Errors
    /// [`Error::RankMismatch`] when the tensor is not 2-d.
    pub fn dims2(&self) -> Result<(usize, usize)> {
        match *self.shape.as_slice() {
            [a, b] => Ok((a, b)),
            _ => Err(self.rank_error("dims2", 2)),
        }
    }

    /// The four dimensions `(n, c, h, w)` of a 4-d tensor.
    ///
    /// # Errors
    /// [`Error::RankMismatch`] when the tensor is not 4-d.
    pub fn dims4(&self) -> Result<(usize, usize, usize, usize)> {
        match *self.shape.as_slice() {
            [n, c, h, w] => Ok((n, c, h, w)),
            _ => Err(self.rank_error("dims4", 4)),
        }
    }

    /// Checks that the shape is exactly `expected`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `op` and both shapes.
    pub fn expect_shape(&self, op: &'static str, expected: &[usize]) -> Result<()> {
        if self.shape == expected {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                op,
                expected: expected.to_vec(),
                got: self.shape.clone(),
            })
        }
    }

    /// Index of the largest value in each row of a 2-d tensor (the first one on ties).
    ///
    /// # Errors
    /// [`Error::RankMismatch`] when the tensor is not 2-d.
    pub fn argmax_rows(&self) -> Result<Vec<usize>> {
        let (_, cols) = self.dims2()?;
        if cols == 0 {
            return Ok(Vec::new());
        }
        Ok(self.data.chunks_exact(cols).map(argmax).collect())
    }

    fn rank_error(&self, op: &'static str, expected: usize) -> Error {
        Error::RankMismatch {
            op,
            expected,
            got: self.shape.clone(),
        }
    }
}

/// Index of the largest value of `values` (the first one on ties; NaN never wins; 0 when
/// empty).
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] || values[best].is_nan() && !v.is_nan() {
            best = i;
        }
    }
    best
}

/// Maps a random 32-bit word to `[0, 1)` using its top 24 bits (every value exact in `f32`).
#[inline]
pub fn unit_f32(word: u32) -> f32 {
    (word >> 8) as f32 * (1.0 / 16_777_216.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_rejects_wrong_length() {
        let err = Tensor::from_vec(vec![2, 3], vec![0.0; 5]).unwrap_err();
        assert_eq!(err.to_string(), "shape [2, 3] holds 6 values, got 5");
    }

    #[test]
    fn from_vec_rejects_overflowing_shape() {
        assert!(Tensor::from_vec(vec![usize::MAX, 2], vec![]).is_err());
    }

    #[test]
    fn dims4_names_the_shape_it_got() {
        let t = Tensor::zeros(vec![2, 3]);
        assert_eq!(
            t.dims4().unwrap_err().to_string(),
            "dims4: expected a 4-d tensor, got shape [2, 3]"
        );
    }

    #[test]
    fn argmax_prefers_first_of_ties_and_skips_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.5, 0.2]), 1);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn uniform_stays_in_range() {
        let mut state = 1u32;
        let t = Tensor::uniform(vec![1000], -0.5, 0.5, || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state
        });
        assert!(t.data().iter().all(|v| (-0.5..0.5).contains(v)));
    }
}
