//! The error type of the `datagen` crate.

use std::path::PathBuf;

/// Everything that can go wrong while making or loading a data set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A data set was assembled from parts that do not fit together.
    #[error("dataset: {reason}")]
    InvalidDataset {
        /// What does not fit, in words.
        reason: String,
    },
    /// A file could not be opened or read.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An IDX file is malformed, or does not hold what the loader needs.
    #[error("{}: at byte {offset}: {reason}", path.display())]
    Idx {
        /// The file.
        path: PathBuf,
        /// Where in the (decompressed) file the problem is, in bytes from its start.
        offset: u64,
        /// What is wrong, in words.
        reason: String,
    },
    /// An IDX directory lacks a file that a split needs.
    #[error("no {name}[.gz] in {}", dir.display())]
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
        /// The canonical name of the missing file, without `.gz`.
        name: &'static str,
    },
    /// An IDX images file and its labels file declare different counts.
    #[error(
        "{} declares {image_count} images but {} declares {label_count} labels",
        images.display(),
        labels.display()
    )]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// How many images its header declares.
        image_count: usize,
        /// The labels file.
        labels: PathBuf,
        /// How many labels its header declares.
        label_count: usize,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
