//! One file per layer kind.

pub mod conv2d;
pub mod dense;
pub mod flatten;
pub mod maxpool;
pub mod relu;
