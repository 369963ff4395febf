//! The error type of the `nn` crate.

/// Everything a layer, the loss, the optimiser or a model file can reject.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A kernel or shape check of the `tensor` crate failed.
    #[error(transparent)]
    Tensor(#[from] tensor::Error),
    /// `backward` was called without a `forward` before it.
    #[error("{layer}: backward called before forward")]
    BackwardBeforeForward {
        /// The layer's name.
        layer: &'static str,
    },
    /// A layer got an input whose shape it cannot take.
    #[error("{layer}: expected input {expected}, got {got:?}")]
    InputShape {
        /// The layer's name.
        layer: &'static str,
        /// What it takes, in words (e.g. `[n, 1, 28, 28]`).
        expected: String,
        /// The shape it got.
        got: Vec<usize>,
    },
    /// A label is not a valid class index.
    #[error("label {label} of sample {index} is not below the class count {classes}")]
    LabelOutOfRange {
        /// Position of the sample in the batch.
        index: usize,
        /// The label.
        label: usize,
        /// The number of classes (logits per sample).
        classes: usize,
    },
    /// The number of labels does not match the batch.
    #[error("{labels} labels for a batch of {batch}")]
    LabelCount {
        /// Labels given.
        labels: usize,
        /// Samples in the batch.
        batch: usize,
    },
    /// The loss came out NaN or infinite: training diverged.
    #[error("loss is not finite ({loss}): training diverged (try a lower learning rate)")]
    NonFiniteLoss {
        /// The value.
        loss: f32,
    },
    /// An optimiser or layer setting is out of range.
    #[error("invalid setting: {reason}")]
    InvalidConfig {
        /// What is wrong, in words.
        reason: String,
    },
    /// A model spec does not describe a network that can be built.
    #[error("invalid model spec: {reason}")]
    InvalidSpec {
        /// What is wrong, in words.
        reason: String,
    },
    /// A model file was written by an incompatible format version.
    #[error(
        "model format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u64,
        /// The version this build reads.
        supported: u32,
    },
    /// A parameter the spec needs is missing from a model file.
    #[error("model file has no parameter {name}")]
    MissingParam {
        /// The parameter's name, e.g. `0.conv.weight`.
        name: String,
    },
    /// A model file has a parameter the spec does not know.
    #[error("model file has a parameter {name} that the spec does not use")]
    UnexpectedParam {
        /// The parameter's name.
        name: String,
    },
    /// A parameter in a model file has the wrong shape.
    #[error("parameter {name}: expected shape {expected:?}, got {got:?}")]
    ParamShape {
        /// The parameter's name.
        name: String,
        /// The shape the spec implies.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    /// A parameter in a model file holds NaN or an infinity.
    #[error("parameter {name} holds a non-finite value at index {index}")]
    NonFiniteParam {
        /// The parameter's name.
        name: String,
        /// Position of the first bad value.
        index: usize,
    },
    /// A model file's parameters do not match its checksum: the file was damaged or edited.
    #[error("model file checksum {stored} does not match its parameters ({computed}): the file is damaged")]
    Checksum {
        /// The checksum in the file (`none` when it has none).
        stored: String,
        /// The checksum of the parameters as read.
        computed: String,
    },
    /// A model file is not valid JSON of the expected structure.
    #[error("model file is not valid JSON of a model")]
    Json(#[from] serde_json::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
