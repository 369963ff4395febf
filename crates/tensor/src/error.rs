//! The error type of the `tensor` crate.

/// Everything a tensor constructor, a shape check or a kernel's argument check can reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor or buffer does not have the shape an operation needs.
    #[error("{op}: expected shape {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// The operation that checked.
        op: &'static str,
        /// The shape it needed.
        expected: Vec<usize>,
        /// The shape it was given.
        got: Vec<usize>,
    },
    /// A tensor has a different number of dimensions than an operation needs.
    #[error("{op}: expected a {expected}-d tensor, got shape {got:?}")]
    RankMismatch {
        /// The operation that checked.
        op: &'static str,
        /// The number of dimensions it needed.
        expected: usize,
        /// The shape it was given.
        got: Vec<usize>,
    },
    /// The data does not hold exactly as many values as the shape says.
    #[error("shape {shape:?} holds {} values, got {len}", shape.iter().product::<usize>())]
    LengthMismatch {
        /// The shape.
        shape: Vec<usize>,
        /// The number of values given.
        len: usize,
    },
    /// A slice passed to a kernel does not have the length the geometry implies.
    #[error("{op}: {arg} must hold {expected} values, got {got}")]
    BufferLength {
        /// The kernel.
        op: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// The length the geometry implies.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A convolution or pooling geometry that produces no output or makes no sense.
    #[error("{op}: invalid geometry: {reason}")]
    InvalidGeometry {
        /// The operation.
        op: &'static str,
        /// Why, in words.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that a kernel argument has the length the geometry implies.
pub(crate) fn check_len(
    op: &'static str,
    arg: &'static str,
    buf: usize,
    expected: usize,
) -> Result<()> {
    if buf == expected {
        Ok(())
    } else {
        Err(Error::BufferLength {
            op,
            arg,
            expected,
            got: buf,
        })
    }
}
