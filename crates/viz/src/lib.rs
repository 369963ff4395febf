//! Views for the digits CNN. In a terminal: images and feature maps as ASCII art, class
//! probabilities as bars, and a confusion matrix as a table. On a page: SVG charts
//! ([`svg`]: line charts, a confusion heat map, bars, a reliability diagram) and maps as PNG
//! images ([`raster`]). Everything draws plain `f32` (or count) slices in row-major order, and
//! the crate knows nothing about tensors or networks: the caller hands over the slices. The
//! ASCII views return a `String` whose lines each end with `'\n'`, so they work in any
//! terminal, log or test; pixels use the demo's ramp ([`ramp`]): `.` below 0.1, `+` from 0.1,
//! `*` from 0.4 and `#` from 0.7. Every view checks its sizes and returns a typed [`Error`]
//! instead of panicking.
//!
//! # Example: an image next to a feature map, then the prediction
//!
//! ```
//! use viz::Panel;
//!
//! fn main() -> Result<(), viz::Error> {
//!     // A 4x4 "one" and a 2x2 feature map with activations of any size.
//!     let image = [
//!         0.0, 0.0, 0.9, 0.0, //
//!         0.0, 0.3, 0.9, 0.0, //
//!         0.0, 0.0, 0.9, 0.0, //
//!         0.0, 0.0, 0.5, 0.0, //
//!     ];
//!     let feature = [0.0, 4.0, 1.0, 2.0];
//!     let art = viz::side_by_side(
//!         &[Panel::new("Input", &image, 4, 4), Panel::scaled("ReLU 0", &feature, 2, 2)],
//!         2,
//!     )?;
//!     assert_eq!(
//!         art,
//!         "Input  ReLU 0\n\
//!          ..#.   .#\n\
//!          .+#.   +*\n\
//!          ..#.\n\
//!          ..*.\n"
//!     );
//!
//!     let bars = viz::prob_bars(&["zero", "one"], &[0.1, 0.9], 10, Some(1))?;
//!     assert_eq!(bars, "zero 0.100 #.........\none  0.900 #########. <- predicted, label\n");
//!     Ok(())
//! }
//! ```
#![deny(missing_docs)]

mod ascii;
mod bars;
mod confusion;
mod error;
mod panels;
pub mod raster;
pub mod svg;

pub use ascii::{ascii, ascii_scaled, ramp};
pub use bars::prob_bars;
pub use confusion::confusion_table;
pub use error::{Error, Result};
pub use panels::{grid, side_by_side, Panel};
