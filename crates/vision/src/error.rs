//! What can go wrong between a picture's bytes and a verdict.

/// Errors of this crate. Messages are one line and name the picture.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file or stream could not be read.
    #[error("reading {name}")]
    Io {
        /// The file as given, or `<stdin>`.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// More bytes than a picture may have.
    #[error("{name}: larger than {max_mib} MiB")]
    FileTooLarge {
        /// The picture's name.
        name: String,
        /// The limit in MiB.
        max_mib: u64,
    },
    /// The bytes are no picture in a format we read.
    #[error("{name}: not a PNG, JPEG or PGM/PPM picture")]
    NotAPicture {
        /// The picture's name.
        name: String,
    },
    /// A picture format we do not read.
    #[error("{name}: {format} pictures are not supported (PNG, JPEG or PGM/PPM)")]
    Unsupported {
        /// The picture's name.
        name: String,
        /// The format's usual extension, upper case.
        format: String,
    },
    /// The decoder refused the data.
    #[error("{name}: broken {format} picture: {reason}")]
    Broken {
        /// The picture's name.
        name: String,
        /// PNG, JPEG or PNM.
        format: &'static str,
        /// The decoder's words, on one line.
        reason: String,
    },
    /// The header declares more pixels than we decode.
    #[error("{name}: {width}x{height} pixels is too large (at most {max_megapixels} megapixels)")]
    TooLarge {
        /// The picture's name.
        name: String,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit.
        max_megapixels: u64,
    },
    /// The picture decodes to no pixels.
    #[error("{name}: the picture has no pixels")]
    Empty {
        /// The picture's name.
        name: String,
    },
    /// The model does not take 1x28x28 images.
    #[error("pictures need a model of 1x28x28 inputs, this one takes {c}x{h}x{w}")]
    WrongModelInput {
        /// Channels.
        c: usize,
        /// Height.
        h: usize,
        /// Width.
        w: usize,
    },
    /// Pixels that preprocessing refused.
    #[error(transparent)]
    Preprocess(#[from] datagen::preprocess::Error),
    /// Running the network failed.
    #[error(transparent)]
    Nn(#[from] nn::Error),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] tensor::Error),
    /// Averaging the test-time views failed (a view count a model may not have).
    #[error(transparent)]
    Views(#[from] engine::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
