//! Pictures in, honest verdicts out: decode a photo, scan or drawing (PNG, JPEG, PGM/PPM),
//! prepare it the way MNIST was prepared ([`datagen::preprocess`]), run the network, and say
//! what it is, which pixels decided, or why there is no single digit in it.
//!
//! # Example
//! ```
//! use datagen::preprocess::{Channels, Page};
//! # fn main() -> Result<(), vision::Error> {
//! let model = nn::ModelSpec::seed().build(1)?;
//! // A white 40x60 page with a dark bar.
//! let mut gray = vec![1.0f32; 40 * 60];
//! for y in 10..50 {
//!     for x in 18..23 {
//!         gray[y * 40 + x] = 0.1;
//!     }
//! }
//! let page = Page::new(40, 60, Channels::Gray, &gray)?;
//! let r = vision::recognise(&model, &page, vision::DEFAULT_MIN_CONFIDENCE)?;
//! assert_eq!(r.probs.len(), 10);
//! assert_eq!(r.input.len(), 28 * 28);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod error;
mod picture;
mod recognise;

pub use error::{Error, Result};
pub use picture::{decode, read, Picture, MAX_FILE, MAX_PIXELS};
pub use recognise::{
    check_model, deskew_of, found, min_energy_of, recognise, recognise_number, recognise_with,
    temperature_of, views_of, Recognition, Settings, Verdict, DEFAULT_MIN_CONFIDENCE,
};
