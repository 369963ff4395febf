//! Which implementation runs a network: the fused seed-network kernels, or the layers one
//! by one. Chosen in one place so a run can say which it took and a setting can force either.

use std::fmt;
use std::str::FromStr;

use nn::{FusedSeed, Sequential};

use crate::error::{Error, Result};

/// How to run a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecPath {
    /// The fused seed-network kernels when the network has the seed pattern (conv, ReLU,
    /// 2x2 max-pool, flatten, dense) and takes the data's image size; else layer by layer.
    #[default]
    Auto,
    /// The fused seed-network kernels; an error for any other network.
    Fused,
    /// Every layer's own `forward` and `backward` (in `nn::layers`): slower, the same
    /// mathematics. Edit a layer and this path shows the effect.
    Layers,
}

impl ExecPath {
    /// Every path, as named on the command line.
    pub const ALL: [ExecPath; 3] = [ExecPath::Auto, ExecPath::Fused, ExecPath::Layers];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ExecPath::Auto => "auto",
            ExecPath::Fused => "fused",
            ExecPath::Layers => "layers",
        }
    }

    /// The fused implementation of `model` for `[1, rows, cols]` images, when this path
    /// takes it.
    ///
    /// # Errors
    /// [`Error::Invalid`] for [`ExecPath::Fused`] on a network without the seed pattern.
    pub fn fused_for(
        self,
        model: &Sequential,
        rows: usize,
        cols: usize,
    ) -> Result<Option<FusedSeed>> {
        let fits =
            || FusedSeed::for_model(model).filter(|f| f.input_and_classes().0 == [1, rows, cols]);
        match self {
            ExecPath::Layers => Ok(None),
            ExecPath::Auto => Ok(fits()),
            ExecPath::Fused => fits().map(Some).ok_or_else(|| {
                Error::Invalid(
                    "the fused path runs only the seed pattern (conv, ReLU, 2x2 max-pool, flatten, dense) on its own image size; use auto or layers".into(),
                )
            }),
        }
    }

    /// What runs, in words, with the instruction set: `fused seed kernels, avx512`,
    /// `layer by layer, avx512 panels and direct convolutions` (with AVX-512, for a network
    /// whose convolutions run directly, see `nn::DirectNet`) or `layer by layer, avx2+fma
    /// panels`.
    ///
    /// # Errors
    /// As [`ExecPath::fused_for`].
    pub fn describe(self, model: &Sequential, rows: usize, cols: usize) -> Result<String> {
        Ok(match self.fused_for(model, rows, cols)? {
            Some(f) => format!("fused seed kernels, {}", f.isa()),
            None if nn::DirectNet::new(model).is_some() => format!(
                "layer by layer, {} panels and direct convolutions",
                tensor::panel_isa()
            ),
            None => format!("layer by layer, {} panels", tensor::panel_isa()),
        })
    }
}

impl fmt::Display for ExecPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExecPath {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| Error::Invalid(format!("exec path '{s}' is not auto, fused or layers")))
    }
}
