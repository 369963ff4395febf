//! Model specs (which layers, in which order) and model files (a spec plus named parameters).

use std::collections::BTreeMap;
use std::fmt;

use rand::SeedableRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tensor::Tensor;

use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::layers::{
    conv2d::Conv2d, conv2d::Conv2dConfig, dense::Dense, flatten::Flatten, maxpool::MaxPool2x2,
    relu::Relu,
};
use crate::sequential::Sequential;

/// The model-file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// One layer of a [`ModelSpec`]. Input sizes are not stored: they follow from the spec's
/// input shape and the layers before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The mission's seed network for 28x28 gray images:
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

    /// A spec by name: `"seed"`.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "seed" => Some(Self::seed()),
            _ => None,
        }
    }

    /// Per-sample output shape of every layer, in order.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] naming the first layer that cannot take its input.
    pub fn shapes(&self) -> Result<Vec<Vec<usize>>> {
        // Building with any seed checks the shapes; weights are irrelevant here.
        let model = self.build(0)?;
        let mut shape = self.input.to_vec();
        let mut shapes = Vec::with_capacity(self.layers.len());
        for layer in model.layers() {
            shape = layer.output_shape(&shape)?;
            shapes.push(shape.clone());
        }
        Ok(shapes)
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
            };
            shape = layer.output_shape(&shape).map_err(invalid)?;
            layers.push(layer);
        }
        Ok(Sequential::new(layers))
    }
}

/// A parameter as stored in a model file: its shape and its values.
///
/// Values are written as the exact decimal of their `f64` widening, so reading them back
/// gives the same `f32` bits; NaN is written as `null` (JSON has no NaN) and read back as NaN,
/// which loading then rejects with [`Error::NonFiniteParam`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorData {
    /// The shape.
    pub shape: Vec<usize>,
    /// The values, row-major.
    #[serde(serialize_with = "write_values", deserialize_with = "read_values")]
    pub data: Vec<f32>,
}

fn write_values<S: Serializer>(values: &[f32], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(|&v| {
        if v.is_finite() {
            Some(f64::from(v))
        } else {
            None
        }
    }))
}

fn read_values<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<f32>, D::Error> {
    let raw: Vec<Option<f64>> = Vec::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|v| v.map_or(f32::NAN, |x| x as f32))
        .collect())
}

/// A model file: format version, spec, named parameters and free-form metadata (what data,
/// seed and settings produced the weights, and how well they did).
///
/// ```
/// # fn main() -> nn::Result<()> {
/// let spec = nn::ModelSpec::seed();
/// let model = spec.build(7)?;
/// let saved = nn::SavedModel::new(&spec, &model, Default::default());
/// let json = saved.to_json()?;
/// let loaded = nn::SavedModel::from_json(&json)?;
/// let again = loaded.build()?;
/// assert_eq!(again.param_count(), model.param_count());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// [`FORMAT_VERSION`] at the time of writing.
    pub format_version: u32,
    /// The network's layers.
    pub spec: ModelSpec,
    /// Every parameter under its [`Sequential`] name (`0.conv.weight`, ...).
    pub params: BTreeMap<String, TensorData>,
    /// What produced the weights; free-form.
    #[serde(default)]
    pub meta: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct VersionProbe {
    format_version: u64,
}

impl SavedModel {
    /// Captures `model`'s current parameters with its `spec` and `meta`.
    pub fn new(
        spec: &ModelSpec,
        model: &Sequential,
        meta: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let mut params = BTreeMap::new();
        model.visit_params_ref(&mut |name, p| {
            params.insert(
                name.to_owned(),
                TensorData {
                    shape: p.value.shape().to_vec(),
                    data: p.value.data().to_vec(),
                },
            );
        });
        Self {
            format_version: FORMAT_VERSION,
            spec: spec.clone(),
            params,
            meta,
        }
    }

    /// The model file as JSON text.
    ///
    /// # Errors
    /// [`Error::Json`] if serialisation fails (it does not for well-formed models).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Parses a model file, checking the format version first.
    ///
    /// # Errors
    /// [`Error::Json`] for text that is not a model file (truncated, wrong structure),
    /// [`Error::UnsupportedVersion`] for another format version.
    pub fn from_json(text: &str) -> Result<Self> {
        let probe: VersionProbe = serde_json::from_str(text)?;
        if probe.format_version != u64::from(FORMAT_VERSION) {
            return Err(Error::UnsupportedVersion {
                found: probe.format_version,
                supported: FORMAT_VERSION,
            });
        }
        Ok(serde_json::from_str(text)?)
    }

    /// Rebuilds the network from the spec and assigns every stored parameter.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`], [`Error::MissingParam`], [`Error::UnexpectedParam`],
    /// [`Error::ParamShape`] or [`Error::NonFiniteParam`]: never a panic.
    pub fn build(&self) -> Result<Sequential> {
        let mut model = self.spec.build(0)?;
        let mut first_error: Option<Error> = None;
        let mut used = 0usize;
        model.visit_params(&mut |name, p| {
            if first_error.is_some() {
                return;
            }
            let Some(stored) = self.params.get(name) else {
                first_error = Some(Error::MissingParam {
                    name: name.to_owned(),
                });
                return;
            };
            used += 1;
            if stored.shape != p.value.shape() || stored.data.len() != p.value.len() {
                first_error = Some(Error::ParamShape {
                    name: name.to_owned(),
                    expected: p.value.shape().to_vec(),
                    got: stored.shape.clone(),
                });
                return;
            }
            if let Some(index) = stored.data.iter().position(|v| !v.is_finite()) {
                first_error = Some(Error::NonFiniteParam {
                    name: name.to_owned(),
                    index,
                });
                return;
            }
            p.value.data_mut().copy_from_slice(&stored.data);
        });
        if let Some(e) = first_error {
            return Err(e);
        }
        if used != self.params.len() {
            let mut known = Vec::new();
            model.visit_params_ref(&mut |name, _| known.push(name.to_owned()));
            if let Some(extra) = self.params.keys().find(|k| !known.contains(k)) {
                return Err(Error::UnexpectedParam {
                    name: extra.clone(),
                });
            }
        }
        Ok(model)
    }
}

/// Convenience: a tensor from stored data.
impl TryFrom<&TensorData> for Tensor {
    type Error = Error;
    fn try_from(t: &TensorData) -> Result<Tensor> {
        Ok(Tensor::from_vec(t.shape.clone(), t.data.clone())?)
    }
}
