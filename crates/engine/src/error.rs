//! The error type of the `engine` crate.

/// What can stop a training or evaluation loop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A layer, the loss or the optimiser failed (for example a diverged loss).
    #[error(transparent)]
    Nn(#[from] nn::Error),
    /// A tensor could not be formed from a batch.
    #[error(transparent)]
    Tensor(#[from] tensor::Error),
    /// A setting is out of range.
    #[error("{0}")]
    Invalid(String),
    /// Training diverged at a known place.
    #[error("training diverged at step {step} of the epoch: {reason} (try a lower learning rate)")]
    Diverged {
        /// 1-based step within the epoch.
        step: usize,
        /// What went wrong: a loss that is not finite or explodes, or a parameter that is not
        /// finite.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
