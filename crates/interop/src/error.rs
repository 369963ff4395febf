//! Errors of exporting and importing models.

/// What can go wrong turning a model into another format or reading one back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model itself (spec or parameters) is not a network.
    #[error(transparent)]
    Nn(#[from] nn::Error),
    /// The safetensors container is damaged or not safetensors at all.
    #[error("not a valid safetensors file: {source}")]
    Safetensors {
        /// What the safetensors reader found.
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// A `__metadata__` entry we wrote does not parse back.
    #[error("safetensors metadata '{key}' is not valid: {source}")]
    Metadata {
        /// The metadata key.
        key: &'static str,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A PyTorch state_dict names layers by index only: it needs a spec to say what they are.
    #[error("this looks like a PyTorch state_dict (names like '{example}'): give the architecture its layer indices follow (eval --arch / train --arch, e.g. seed or conv8x3,relu,pool2,flatten,dense10)")]
    NeedArch {
        /// One of the file's tensor names.
        example: String,
    },
    /// The file names its own spec and the caller asked for another.
    #[error("the file holds a '{file}' network but the architecture given is '{given}'")]
    ArchMismatch {
        /// The spec in the file.
        file: String,
        /// The spec asked for.
        given: String,
    },
    /// A parameter the spec needs is not in the file.
    #[error("tensor '{name}' (for {param}, shape {shape:?}) is missing")]
    MissingTensor {
        /// The name looked for in the file.
        name: String,
        /// Our parameter it would fill.
        param: String,
        /// The shape it must have.
        shape: Vec<usize>,
    },
    /// A tensor is not 32-bit float.
    #[error("tensor '{name}' is {dtype}, expected F32 (save it with .float() first)")]
    Dtype {
        /// The tensor's name in the file.
        name: String,
        /// Its dtype as safetensors names it (F64, F16, BF16, I64...).
        dtype: String,
    },
    /// A tensor's shape does not fit the spec.
    #[error("tensor '{name}' has shape {got:?}, the architecture needs {expected:?} for {param}")]
    Shape {
        /// The tensor's name in the file.
        name: String,
        /// Our parameter it would fill.
        param: String,
        /// The shape the spec needs.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    /// The file holds a tensor the spec has no place for.
    #[error("tensor '{name}' has no place in the architecture{}", why.as_ref().map(|w| format!(" ({w})")).unwrap_or_default())]
    UnexpectedTensor {
        /// The tensor's name in the file.
        name: String,
        /// What the spec has at that index, when that says why.
        why: Option<String>,
    },
    /// The parameters do not match the checksum written with them.
    #[error(
        "parameter checksum mismatch (stored {stored}, computed {computed}): the file is damaged"
    )]
    Checksum {
        /// The checksum in the file's metadata.
        stored: String,
        /// The checksum of the parameters read.
        computed: String,
    },
    /// ONNX export of a network that has no operator at all.
    #[error("the network has no layer to export")]
    Empty,
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl From<safetensors::SafeTensorError> for Error {
    fn from(source: safetensors::SafeTensorError) -> Self {
        Self::Safetensors { source }
    }
}
