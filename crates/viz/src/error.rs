//! The error type of the `viz` crate.

/// Everything a view can reject. Every variant names the view (`op`) and carries the sizes it
/// was given, so the message alone says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A map does not hold exactly `h * w` values.
    #[error("{op}: map {index}: expected {h}x{w} values, got {len}")]
    MapLength {
        /// The view that checked.
        op: &'static str,
        /// Which map (panel) of the call; 0 for views that draw a single map.
        index: usize,
        /// The height the caller gave.
        h: usize,
        /// The width the caller gave.
        w: usize,
        /// The number of values in the map.
        len: usize,
    },
    /// There is not exactly one name per value.
    #[error("{op}: got {names} names for {values} values")]
    NameCount {
        /// The view that checked.
        op: &'static str,
        /// The number of names.
        names: usize,
        /// The number of values (classes).
        values: usize,
    },
    /// A confusion matrix does not hold `k * k` counts for `k` class names.
    #[error("{op}: expected a {k}x{k} matrix for {k} names, got {len} counts")]
    MatrixSize {
        /// The view that checked.
        op: &'static str,
        /// The number of class names.
        k: usize,
        /// The number of counts given.
        len: usize,
    },
    /// A class index is not below the number of classes.
    #[error("{op}: class {index} is out of range for {len} classes")]
    ClassOutOfRange {
        /// The view that checked.
        op: &'static str,
        /// The index given.
        index: usize,
        /// The number of classes.
        len: usize,
    },
    /// A chart was given nothing to draw (no finite point, no non-empty bin).
    #[error("{op}: nothing to draw")]
    EmptyChart {
        /// The chart that checked.
        op: &'static str,
    },
    /// An image with a side of zero, or too large to encode.
    #[error("{op}: cannot encode a {h}x{w} image")]
    ImageSize {
        /// The encoder that checked.
        op: &'static str,
        /// The height given.
        h: usize,
        /// The width given.
        w: usize,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that `map` holds exactly `h * w` values (an overflowing `h * w` never matches).
pub(crate) fn check_map(
    op: &'static str,
    index: usize,
    map: &[f32],
    h: usize,
    w: usize,
) -> Result<()> {
    if h.checked_mul(w) == Some(map.len()) {
        Ok(())
    } else {
        Err(Error::MapLength {
            op,
            index,
            h,
            w,
            len: map.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_carry_the_sizes() {
        let e = check_map("ascii", 0, &[0.0; 5], 2, 3).unwrap_err();
        assert_eq!(e.to_string(), "ascii: map 0: expected 2x3 values, got 5");
        let e = Error::NameCount {
            op: "prob_bars",
            names: 9,
            values: 10,
        };
        assert_eq!(e.to_string(), "prob_bars: got 9 names for 10 values");
        let e = Error::MatrixSize {
            op: "confusion_table",
            k: 3,
            len: 8,
        };
        assert_eq!(
            e.to_string(),
            "confusion_table: expected a 3x3 matrix for 3 names, got 8 counts"
        );
        let e = Error::ClassOutOfRange {
            op: "prob_bars",
            index: 10,
            len: 10,
        };
        assert_eq!(
            e.to_string(),
            "prob_bars: class 10 is out of range for 10 classes"
        );
    }

    #[test]
    fn overflowing_sizes_are_a_mismatch_not_a_panic() {
        let e = check_map("ascii", 0, &[], usize::MAX, 2).unwrap_err();
        assert!(matches!(
            e,
            Error::MapLength {
                h: usize::MAX,
                w: 2,
                len: 0,
                ..
            }
        ));
    }
}
