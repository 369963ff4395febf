//! Data for the digits CNN: a seeded pseudo-MNIST digit generator and an in-memory
//! [`Dataset`] of `u8` images.
//!
//! # Example
//!
//! ```
//! use datagen::{generate, sample, Style};
//!
//! let (pixels, label) = sample(Style::Strokes, 42, 7);
//! assert_eq!((pixels.len(), label), (datagen::IMAGE_LEN, 7));
//! assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)));
//!
//! // 100 images, 10 of each digit, the same bytes on every run.
//! let train = generate("strokes".parse::<Style>()?, 1, 0, 100);
//! assert_eq!(train.class_counts(10), vec![10; 10]);
//! # Ok::<(), datagen::ParseStyleError>(())
//! ```
//!
//! # The handwriting style
//!
//! [`Style::Strokes`] writes each digit with one of a few *allographs* (ways of writing it),
//! picked with weights that roughly follow how often real MNIST writers use them:
//!
//! | digit | allographs ([`allographs`] counts them; [`sample_allograph_into`] picks one) |
//! |---|---|
//! | 0 | closed oval (overshooting its start), open oval |
//! | 1 | bare stroke, short flag, flag and foot, bold stroke |
//! | 2 | cornered base, looped base, Z-shaped, curly (round turn into a rising base), small head on a long neck |
//! | 3 | round top, flat (Z) top over one bowl |
//! | 4 | open, closed |
//! | 5 | bar lifted, one stroke, bowl swinging into a long tail, detached flag |
//! | 6 | curved stem and closed loop, open loop, straight stem |
//! | 7 | plain, crossbar, serif, curved stem, hooked top |
//! | 8 | S-stroke, two stacked loops, mirrored S-stroke, S-stroke with an open top |
//! | 9 | straight tail, tail curving back to the left, head open at its upper right, stem drawn on its own from the top, angular head |
//!
//! Every sample then gets its own slant, rotation, proportions, knot jitter, moderate elastic
//! bend and pen width (log-normal, as measured on real MNIST strokes), and is framed as MNIST
//! was: the ink fitted to a 20x20 box keeping its aspect, the centre of mass at the image
//! centre. [`gallery`] sets synthetic digits beside real ones for a side-by-side look.
#![deny(missing_docs)]

mod allographs;
mod augment;
mod dataset;
mod deskew;
mod error;
mod frame;
mod gallery;
mod generate;
pub mod idx;
mod nondigit;
mod path;
pub mod preprocess;
mod render;
mod rng;
mod segments;
mod strokes;
mod style;
mod warp;

pub use allographs::allographs;
pub use augment::Augment;
pub use dataset::{to_byte, to_unit, Dataset};
pub use deskew::{deskew, deskew_bytes, slant};
pub use error::{Error, Result};
pub use gallery::{gallery, GalleryRow};
pub use generate::{
    generate, label_of, sample, sample_allograph_into, sample_into, IMAGE_LEN, IMAGE_SIDE,
};
pub use nondigit::{nondigit_into, nondigits, NonDigit, KINDS as NONDIGIT_KINDS};
pub use render::draw_stroke;
pub use style::{ParseStyleError, Style};
