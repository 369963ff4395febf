//! [`Conv2dGeometry`]: every size of a 2-d convolution, and the output-size formula, in one
//! place.

use crate::error::{Error, Result};

/// The sizes of a batched 2-d convolution: input `[n, c_in, h_in, w_in]`, weight
/// `[c_out, c_in, k_h, k_w]`, a stride and a zero padding applied on every side.
///
/// Built once by the checked constructor [`Conv2dGeometry::new`]; every convolution kernel
/// takes it, so the arithmetic below exists nowhere else.
///
/// ```
/// use tensor::Conv2dGeometry;
/// # fn main() -> tensor::Result<()> {
/// // The seed network: 28x28 gray images, 8 filters of 3x3, stride 1, no padding.
/// let g = Conv2dGeometry::new([64, 1, 28, 28], 8, [3, 3], 1, 0)?;
/// assert_eq!((g.h_out(), g.w_out()), (26, 26));
/// assert_eq!(g.output_shape(), [64, 8, 26, 26]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dGeometry {
    n: usize,
    c_in: usize,
    h_in: usize,
    w_in: usize,
    c_out: usize,
    k_h: usize,
    k_w: usize,
    stride: usize,
    pad: usize,
    h_out: usize,
    w_out: usize,
}

impl Conv2dGeometry {
    /// Checks and records a convolution's sizes.
    ///
    /// `input` is `[n, c_in, h_in, w_in]`, `kernel` is `[k_h, k_w]`.
    ///
    /// # Errors
    /// [`Error::InvalidGeometry`] when a channel count, kernel side or stride is zero, when the
    /// kernel is larger than the padded input, or when a buffer size would overflow `usize`.
    /// A batch of zero images is allowed.
    pub fn new(
        input: [usize; 4],
        c_out: usize,
        kernel: [usize; 2],
        stride: usize,
        pad: usize,
    ) -> Result<Self> {
        let [n, c_in, h_in, w_in] = input;
        let [k_h, k_w] = kernel;
        let invalid = |reason: String| Error::InvalidGeometry {
            op: "conv2d",
            reason,
        };
        if c_in == 0 || c_out == 0 {
            return Err(invalid(format!(
                "channels in {c_in} and out {c_out} must be positive"
            )));
        }
        if k_h == 0 || k_w == 0 || stride == 0 {
            return Err(invalid(format!(
                "kernel {k_h}x{k_w} and stride {stride} must be positive"
            )));
        }
        let padded_h = h_in
            .checked_add(2 * pad)
            .ok_or_else(|| invalid("padding overflows".into()))?;
        let padded_w = w_in
            .checked_add(2 * pad)
            .ok_or_else(|| invalid("padding overflows".into()))?;
        if k_h > padded_h || k_w > padded_w {
            return Err(invalid(format!(
                "kernel {k_h}x{k_w} does not fit a {h_in}x{w_in} input with padding {pad}"
            )));
        }
        let h_out = (padded_h - k_h) / stride + 1;
        let w_out = (padded_w - k_w) / stride + 1;
        let sizes = [
            [n, c_in, h_in, w_in],
            [n, c_out, h_out, w_out],
            [c_out, c_in, k_h, k_w],
            [c_in, k_h, k_w, h_out * w_out],
        ];
        for s in sizes {
            if s.iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .is_none()
            {
                return Err(invalid(format!("buffer of shape {s:?} overflows")));
            }
        }
        Ok(Self {
            n,
            c_in,
            h_in,
            w_in,
            c_out,
            k_h,
            k_w,
            stride,
            pad,
            h_out,
            w_out,
        })
    }

    /// The same convolution for a batch of `n` images.
    ///
    /// # Errors
    /// [`Error::InvalidGeometry`] when a buffer size would overflow.
    pub fn with_batch(&self, n: usize) -> Result<Self> {
        Self::new(
            [n, self.c_in, self.h_in, self.w_in],
            self.c_out,
            [self.k_h, self.k_w],
            self.stride,
            self.pad,
        )
    }

    /// Batch size.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Input channels.
    pub fn c_in(&self) -> usize {
        self.c_in
    }
    /// Input height.
    pub fn h_in(&self) -> usize {
        self.h_in
    }
    /// Input width.
    pub fn w_in(&self) -> usize {
        self.w_in
    }
    /// Output channels (filters).
    pub fn c_out(&self) -> usize {
        self.c_out
    }
    /// Kernel height.
    pub fn k_h(&self) -> usize {
        self.k_h
    }
    /// Kernel width.
    pub fn k_w(&self) -> usize {
        self.k_w
    }
    /// Stride, the same along both axes.
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// Zero padding on each side.
    pub fn pad(&self) -> usize {
        self.pad
    }
    /// Output height: `(h_in + 2 pad - k_h) / stride + 1`.
    pub fn h_out(&self) -> usize {
        self.h_out
    }
    /// Output width: `(w_in + 2 pad - k_w) / stride + 1`.
    pub fn w_out(&self) -> usize {
        self.w_out
    }

    /// `[n, c_in, h_in, w_in]`.
    pub fn input_shape(&self) -> [usize; 4] {
        [self.n, self.c_in, self.h_in, self.w_in]
    }
    /// `[n, c_out, h_out, w_out]`.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.n, self.c_out, self.h_out, self.w_out]
    }
    /// `[c_out, c_in, k_h, k_w]`.
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.c_out, self.c_in, self.k_h, self.k_w]
    }

    /// Values in one input image: `c_in * h_in * w_in`.
    pub fn input_image_len(&self) -> usize {
        self.c_in * self.h_in * self.w_in
    }
    /// Values in one output image: `c_out * h_out * w_out`.
    pub fn output_image_len(&self) -> usize {
        self.c_out * self.h_out * self.w_out
    }
    /// Rows of the im2col matrix (one per weight of a filter): `c_in * k_h * k_w`.
    pub fn col_rows(&self) -> usize {
        self.c_in * self.k_h * self.k_w
    }
    /// Columns of the im2col matrix (one per output position): `h_out * w_out`.
    pub fn col_cols(&self) -> usize {
        self.h_out * self.w_out
    }
    /// Values in the weight: `c_out * c_in * k_h * k_w`.
    pub fn weight_len(&self) -> usize {
        self.c_out * self.col_rows()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_follows_padding_and_stride() {
        // (28 + 2 - 3) / 1 + 1 = 28: "same" padding.
        let g = Conv2dGeometry::new([1, 1, 28, 28], 32, [3, 3], 1, 1).unwrap();
        assert_eq!((g.h_out(), g.w_out()), (28, 28));
        // (7 + 0 - 3) / 2 + 1 = 3.
        let g = Conv2dGeometry::new([2, 3, 7, 8], 4, [3, 2], 2, 0).unwrap();
        assert_eq!((g.h_out(), g.w_out()), (3, 4));
        assert_eq!(g.col_rows(), 18);
    }

    #[test]
    fn kernel_larger_than_padded_input_is_rejected() {
        let err = Conv2dGeometry::new([1, 1, 2, 2], 1, [5, 5], 1, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "conv2d: invalid geometry: kernel 5x5 does not fit a 2x2 input with padding 1"
        );
    }

    #[test]
    fn zero_stride_and_channels_are_rejected() {
        assert!(Conv2dGeometry::new([1, 1, 5, 5], 1, [3, 3], 0, 0).is_err());
        assert!(Conv2dGeometry::new([1, 0, 5, 5], 1, [3, 3], 1, 0).is_err());
        assert!(Conv2dGeometry::new([1, 1, 5, 5], 0, [3, 3], 1, 0).is_err());
    }

    #[test]
    fn overflowing_sizes_are_rejected() {
        assert!(Conv2dGeometry::new([usize::MAX / 2, 4, 8, 8], 1, [1, 1], 1, 0).is_err());
    }
}
