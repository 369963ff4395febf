//! MNIST and Fashion-MNIST by name: the four IDX files downloaded once from the canonical
//! mirrors (with a fallback list), each checked against its published MD5, written
//! atomically into a cache (`$XDG_CACHE_HOME/digits`, else `~/.cache/digits`) and used from
//! there offline ever after. Where a system package holds the files (Debian's
//! `dataset-fashion-mnist`), they are checked and used in place.
//!
//! The result is a directory that [`datagen::idx`](https://docs.rs/datagen) reads; this crate
//! knows nothing of images, only of files, checksums and mirrors.
//!
//! # Example
//! ```no_run
//! # fn main() -> Result<(), datasets::Error> {
//! let options = datasets::Options::from_env()?; // the cache, DIGITS_DATA_MIRROR
//! let dir = datasets::fetch(&datasets::MNIST, &options, &mut |event| eprintln!("{event}"))?;
//! // dir holds train-images-idx3-ubyte.gz and the other three, checked.
//! # let _ = dir;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod catalog;
mod error;
mod fetch;

pub use catalog::{by_name, Named, Remote, ALL, FASHION_MNIST, MNIST};
pub use error::{Error, Result};
pub use fetch::{fetch, md5_hex, Event, Options, MIRROR_ENV};
