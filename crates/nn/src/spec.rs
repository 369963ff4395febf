//! Model specs: which layers, in which order, for which input; the named presets; the shape
//! arithmetic that checks a spec before anything is allocated. The `--arch` grammar is in
//! `arch.rs`, the model file in `model_file.rs`.

use std::fmt;

use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::layers::{
    conv2d::Conv2d, conv2d::Conv2dConfig, dense::Dense, dropout::Dropout, flatten::Flatten,
    maxpool::MaxPool2x2, relu::Relu,
};
use crate::sequential::Sequential;

/// One layer of a [`ModelSpec`]. Input sizes are not stored: they follow from the spec's
/// input shape and the layers before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// [`Conv2d`] with square kernels.
    Conv2d {
        /// Output channels.
        filters: usize,
        /// Kernel side.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        padding: usize,
    },
    /// [`Relu`].
    Relu,
    /// [`MaxPool2x2`].
    MaxPool2x2,
    /// [`Flatten`].
    Flatten,
    /// [`Dense`] with this many outputs.
    Dense {
        /// Output features.
        units: usize,
    },
    /// [`Dropout`] with this drop probability (identity in evaluation).
    Dropout {
        /// Probability of zeroing a value in training, in `[0, 1)`.
        rate: f32,
    },
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LayerSpec::Conv2d {
                filters,
                kernel,
                stride,
                padding,
            } => {
                write!(f, "Conv2D {filters}@{kernel}x{kernel}")?;
                if stride != 1 {
                    write!(f, " stride {stride}")?;
                }
                if padding != 0 {
                    write!(f, " pad {padding}")?;
                }
                Ok(())
            }
            LayerSpec::Relu => f.write_str("ReLU"),
            LayerSpec::MaxPool2x2 => f.write_str("MaxPool2x2"),
            LayerSpec::Flatten => f.write_str("Flatten"),
            LayerSpec::Dense { units } => write!(f, "Dense {units}"),
            LayerSpec::Dropout { rate } => write!(f, "Dropout {rate}"),
        }
    }
}

/// A network described as data: the per-sample input shape `[c, h, w]` and the layers.
///
/// ```
/// # fn main() -> nn::Result<()> {
/// let spec = nn::ModelSpec::seed();
/// assert_eq!(spec.to_string(), "Conv2D 8@3x3 -> ReLU -> MaxPool2x2 -> Flatten -> Dense 10");
/// let model = spec.build(42)?;
/// assert_eq!(model.param_count(), 8 * 9 + 8 + 1352 * 10 + 10);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Shape of one input sample, `[channels, height, width]`.
    pub input: [usize; 3],
    /// The layers, in order.
    pub layers: Vec<LayerSpec>,
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{layer}")?;
        }
        Ok(())
    }
}

impl ModelSpec {
    /// The seed network for 28x28 gray images (the original demo's):
    /// Conv 8@3x3 (valid) -> ReLU -> MaxPool2x2 -> Flatten (1352) -> Dense 10.
    pub fn seed() -> Self {
        Self {
            input: [1, 28, 28],
            layers: vec![
                LayerSpec::Conv2d {
                    filters: 8,
                    kernel: 3,
                    stride: 1,
                    padding: 0,
                },
                LayerSpec::Relu,
                LayerSpec::MaxPool2x2,
                LayerSpec::Flatten,
                LayerSpec::Dense { units: 10 },
            ],
        }
    }

    /// The LeNet-style network of the benchmarks: Conv 32@3x3 pad 1 -> ReLU -> MaxPool2x2 ->
    /// Conv 64@3x3 pad 1 -> ReLU -> MaxPool2x2 -> Flatten (3136) -> Dense 128 -> ReLU -> Dense 10.
    pub fn lenet() -> Self {
        let conv = |filters| LayerSpec::Conv2d {
            filters,
            kernel: 3,
            stride: 1,
            padding: 1,
        };
        Self {
            input: [1, 28, 28],
            layers: vec![
                conv(32),
                LayerSpec::Relu,
                LayerSpec::MaxPool2x2,
                conv(64),
                LayerSpec::Relu,
                LayerSpec::MaxPool2x2,
                LayerSpec::Flatten,
                LayerSpec::Dense { units: 128 },
                LayerSpec::Relu,
                LayerSpec::Dense { units: 10 },
            ],
        }
    }

    /// The names [`ModelSpec::by_name`] knows.
    pub const PRESETS: [&'static str; 2] = ["seed", "lenet"];

    /// A spec by name: `"seed"` or `"lenet"`.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "seed" => Some(Self::seed()),
            "lenet" => Some(Self::lenet()),
            _ => None,
        }
    }

    /// Per-sample output shape of every layer, in order.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] naming the first layer that cannot take its input.
    pub fn shapes(&self) -> Result<Vec<Vec<usize>>> {
        Ok(self.plan()?.into_iter().map(|p| p.output).collect())
    }

    /// Every parameter the network has, as `(name, shape)` in [`Sequential`] order
    /// (`0.conv.weight`, ...), worked out from the spec alone (nothing is allocated).
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] as for [`ModelSpec::build`].
    pub fn param_shapes(&self) -> Result<Vec<(String, Vec<usize>)>> {
        Ok(self.plan()?.into_iter().flat_map(|p| p.params).collect())
    }

    /// Shape arithmetic of the whole network, checked, without building anything: a spec
    /// from a file or the command line is validated here before any weight is allocated.
    fn plan(&self) -> Result<Vec<LayerPlan>> {
        let mut shape = self.input.to_vec();
        if shape.contains(&0) {
            return Err(Error::InvalidSpec {
                reason: format!("input shape {shape:?} has a zero dimension"),
            });
        }
        let mut plans = Vec::with_capacity(self.layers.len());
        let mut total: usize = 0;
        for (i, spec) in self.layers.iter().enumerate() {
            let invalid = |why: String| Error::InvalidSpec {
                reason: format!("layer {i} ({spec}): {why}"),
            };
            let mut params = Vec::new();
            let mut name = |kind: &str, param: &str, dims: Vec<usize>| {
                params.push((format!("{i}.{kind}.{param}"), dims))
            };
            let output = match *spec {
                LayerSpec::Conv2d {
                    filters,
                    kernel,
                    stride,
                    padding,
                } => {
                    let &[c, h, w] = shape.as_slice() else {
                        return Err(invalid(format!("needs a [c, h, w] input, got {shape:?}")));
                    };
                    if filters == 0 || kernel == 0 || stride == 0 {
                        return Err(invalid(
                            "filters, kernel and stride must be positive".into(),
                        ));
                    }
                    // The one place the output size is computed: the same geometry the
                    // kernels run with.
                    let g = tensor::Conv2dGeometry::new(
                        [1, c, h, w],
                        filters,
                        [kernel, kernel],
                        stride,
                        padding,
                    )
                    .map_err(|e| match e {
                        tensor::Error::InvalidGeometry { reason, .. } => invalid(reason),
                        other => invalid(other.to_string()),
                    })?;
                    name("conv", "weight", vec![filters, c, kernel, kernel]);
                    name("conv", "bias", vec![filters]);
                    vec![filters, g.h_out(), g.w_out()]
                }
                LayerSpec::Relu | LayerSpec::Dropout { .. } => shape.clone(),
                LayerSpec::MaxPool2x2 => match *shape.as_slice() {
                    [c, h, w] if h >= 2 && w >= 2 => vec![c, h / 2, w / 2],
                    _ => {
                        return Err(invalid(format!(
                            "needs a [c, h, w] input of at least 2x2, got {shape:?}"
                        )))
                    }
                },
                LayerSpec::Flatten => vec![shape
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(d))
                    .ok_or_else(|| invalid("too large".into()))?],
                LayerSpec::Dense { units } => {
                    let &[inputs] = shape.as_slice() else {
                        return Err(invalid(format!(
                            "needs a flat input (add flatten before it), got {shape:?}"
                        )));
                    };
                    if units == 0 {
                        return Err(invalid("units must be positive".into()));
                    }
                    name("dense", "weight", vec![units, inputs]);
                    name("dense", "bias", vec![units]);
                    vec![units]
                }
            };
            for (_, dims) in &params {
                let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
                total = match count.and_then(|c| total.checked_add(c)) {
                    Some(t) if t <= MAX_PARAMS => t,
                    _ => {
                        return Err(invalid(format!(
                            "the network would have more than {MAX_PARAMS} parameters"
                        )))
                    }
                };
            }
            if let LayerSpec::Dropout { rate } = *spec {
                if !(0.0..1.0).contains(&rate) {
                    return Err(invalid(format!(
                        "dropout rate must be in [0, 1), got {rate}"
                    )));
                }
            }
            shape = output.clone();
            plans.push(LayerPlan { output, params });
        }
        Ok(plans)
    }

    /// Number of classes: the size of the last layer's output.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] when the spec is invalid or does not end in a flat output.
    pub fn classes(&self) -> Result<usize> {
        match self.shapes()?.last().map(Vec::as_slice) {
            Some(&[k]) => Ok(k),
            other => Err(Error::InvalidSpec {
                reason: format!("the network must end in a flat output, got {other:?}"),
            }),
        }
    }

    /// Builds the network with fresh weights drawn from a ChaCha8 generator seeded with
    /// `seed` (layer by layer, weight before bias), so a seed fixes every initial value.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] naming the first layer whose input does not fit.
    pub fn build(&self, seed: u64) -> Result<Sequential> {
        // Validate every size (and the total) before allocating any weight.
        self.plan()?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut shape = self.input.to_vec();
        if shape.contains(&0) {
            return Err(Error::InvalidSpec {
                reason: format!("input shape {shape:?} has a zero dimension"),
            });
        }
        let mut layers: Vec<Box<dyn Layer>> = Vec::with_capacity(self.layers.len());
        for (i, spec) in self.layers.iter().enumerate() {
            let invalid = |e: Error| Error::InvalidSpec {
                reason: format!("layer {i} ({spec}): {e}"),
            };
            let layer: Box<dyn Layer> = match *spec {
                LayerSpec::Conv2d {
                    filters,
                    kernel,
                    stride,
                    padding,
                } => {
                    let c_in = match shape.as_slice() {
                        [c, _, _] => *c,
                        _ => {
                            return Err(invalid(Error::InvalidConfig {
                                reason: format!("needs a [c, h, w] input, got {shape:?}"),
                            }))
                        }
                    };
                    let config = Conv2dConfig {
                        filters,
                        kernel,
                        stride,
                        padding,
                    };
                    Box::new(Conv2d::new(c_in, config, &mut rng).map_err(invalid)?)
                }
                LayerSpec::Relu => Box::new(Relu::new()),
                LayerSpec::MaxPool2x2 => Box::new(MaxPool2x2::new()),
                LayerSpec::Flatten => Box::new(Flatten::new()),
                LayerSpec::Dense { units } => {
                    let inputs = match shape.as_slice() {
                        [f] => *f,
                        _ => {
                            return Err(invalid(Error::InvalidConfig {
                                reason: format!(
                                    "needs a flat input (add flatten before it), got {shape:?}"
                                ),
                            }))
                        }
                    };
                    Box::new(Dense::new(inputs, units, &mut rng).map_err(invalid)?)
                }
                // Each dropout layer gets its own mask stream, told apart by its position.
                LayerSpec::Dropout { rate } => Box::new(
                    Dropout::new(rate, 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1))
                        .map_err(invalid)?,
                ),
            };
            shape = layer.output_shape(&shape).map_err(invalid)?;
            layers.push(layer);
        }
        Ok(Sequential::new(layers).with_spec(self.clone()))
    }
}

/// Most parameters a network may have (256 Mi values, 1 GiB of `f32`): a spec asking for more
/// is refused before anything is allocated.
pub const MAX_PARAMS: usize = 1 << 28;

/// One layer's output shape and parameter shapes, from [`ModelSpec::plan`].
struct LayerPlan {
    output: Vec<usize>,
    params: Vec<(String, Vec<usize>)>,
}
