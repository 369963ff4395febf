//! Errors of fetching a data set.

use std::path::PathBuf;

/// Why a data set could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No mirror could be reached or gave the file.
    #[error("cannot download {file} of {set} ({tried}): to give the files by hand, download the four files of {set} (from {source_page}) into a directory DIR and use --data idx:DIR")]
    Unreachable {
        /// The data set.
        set: &'static str,
        /// The file.
        file: &'static str,
        /// Each URL tried and why it failed, joined.
        tried: String,
        /// Where the files are published.
        source_page: &'static str,
    },
    /// A file arrived complete but is not the published file.
    #[error("{file} of {set} from {url} fails its checksum (md5 {got}, published {expected}); nothing was kept")]
    Checksum {
        /// The data set.
        set: &'static str,
        /// The file.
        file: &'static str,
        /// Where it came from.
        url: String,
        /// The published MD5.
        expected: &'static str,
        /// The MD5 of what arrived.
        got: String,
    },
    /// The cache cannot be written or read.
    #[error("cache {path}: {source}")]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Neither `XDG_CACHE_HOME` nor `HOME` says where the cache is.
    #[error("no cache directory: set XDG_CACHE_HOME or HOME, or use idx:DIR")]
    NoCacheDir,
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
