//! Model specs (which layers, in which order) and model files (a spec plus named parameters).

use std::collections::BTreeMap;
use std::fmt;

use rand::SeedableRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tensor::Tensor;

use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::layers::{
    conv2d::Conv2d, conv2d::Conv2dConfig, dense::Dense, dropout::Dropout, flatten::Flatten,
    maxpool::MaxPool2x2, relu::Relu,
};
use crate::sequential::Sequential;

/// The model-file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

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

    /// A spec by name: `"seed"` or `"lenet"`.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "seed" => Some(Self::seed()),
            "lenet" => Some(Self::lenet()),
            _ => None,
        }
    }

    /// A spec from `--arch`: a name (`seed`, `lenet`) or a comma-separated list of layers for
    /// 28x28 gray input, checked for shape errors:
    ///
    /// | token | layer |
    /// |---|---|
    /// | `conv<F>x<K>[s<S>][p<P>]` | convolution, F filters of KxK, stride S (1), padding P (0) |
    /// | `relu` | ReLU |
    /// | `pool2` | 2x2 max-pool |
    /// | `flatten` | flatten to a vector |
    /// | `dense<N>` | dense layer with N outputs |
    /// | `dropout<R>` | dropout with rate R in [0, 1) |
    ///
    /// ```
    /// # fn main() -> nn::Result<()> {
    /// let spec = nn::ModelSpec::parse("conv16x5p2,relu,pool2,flatten,dense64,relu,dropout0.25,dense10")?;
    /// assert_eq!(spec.classes()?, 10);
    /// assert!(nn::ModelSpec::parse("conv16x5,relu,dense10").is_err()); // dense needs flatten
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] naming the first token that is not understood (and why), or the
    /// first layer whose input does not fit.
    pub fn parse(text: &str) -> Result<Self> {
        if let Some(spec) = Self::by_name(text.trim()) {
            return Ok(spec);
        }
        let layers = text
            .split(',')
            .enumerate()
            .map(|(i, token)| {
                parse_layer(token.trim()).map_err(|why| Error::InvalidSpec {
                    reason: format!("token {} '{}': {why}", i + 1, token.trim()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let spec = Self {
            input: [1, 28, 28],
            layers,
        };
        spec.classes()?;
        Ok(spec)
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
                    let (ph, pw) = (h.saturating_add(2 * padding), w.saturating_add(2 * padding));
                    if kernel > ph || kernel > pw {
                        return Err(invalid(format!(
                            "a {kernel}x{kernel} kernel does not fit a {h}x{w} input with padding {padding}"
                        )));
                    }
                    name("conv", "weight", vec![filters, c, kernel, kernel]);
                    name("conv", "bias", vec![filters]);
                    vec![
                        filters,
                        (ph - kernel) / stride + 1,
                        (pw - kernel) / stride + 1,
                    ]
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

/// One `--arch` token as a layer, or why not.
fn parse_layer(token: &str) -> std::result::Result<LayerSpec, String> {
    let number = |digits: &str, what: &str| -> std::result::Result<usize, String> {
        match digits.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "{what} must be a positive whole number, got '{digits}'"
            )),
        }
    };
    match token {
        "relu" => return Ok(LayerSpec::Relu),
        "pool2" | "maxpool2" => return Ok(LayerSpec::MaxPool2x2),
        "flatten" => return Ok(LayerSpec::Flatten),
        "" => return Err("empty layer (two commas in a row?)".into()),
        _ => {}
    }
    if let Some(rest) = token.strip_prefix("conv") {
        let usage = "expected conv<filters>x<kernel>[s<stride>][p<padding>], e.g. conv32x3p1";
        let (filters, rest) = rest.split_once('x').ok_or(usage)?;
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (kernel, mut rest) = rest.split_at(end);
        let (mut stride, mut padding) = (1, 0);
        while !rest.is_empty() {
            let (key, tail) = rest.split_at(1);
            let end = tail
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(tail.len());
            let (value, tail) = tail.split_at(end);
            match key {
                "s" => stride = number(value, "stride")?,
                "p" => {
                    padding = value
                        .parse::<usize>()
                        .map_err(|_| format!("padding must be a whole number, got '{value}'"))?
                }
                _ => return Err(usage.into()),
            }
            rest = tail;
        }
        return Ok(LayerSpec::Conv2d {
            filters: number(filters, "filters")?,
            kernel: number(kernel, "kernel")?,
            stride,
            padding,
        });
    }
    if let Some(units) = token.strip_prefix("dense") {
        return Ok(LayerSpec::Dense {
            units: number(units, "units")?,
        });
    }
    if let Some(rate) = token.strip_prefix("dropout") {
        return match rate.parse::<f32>() {
            Ok(r) if (0.0..1.0).contains(&r) => Ok(LayerSpec::Dropout { rate: r }),
            _ => Err(format!(
                "dropout rate must be a number in [0, 1), got '{rate}'"
            )),
        };
    }
    Err("unknown layer: expected conv<F>x<K>[s<S>][p<P>], relu, pool2, flatten, dense<N> or dropout<R>".into())
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
///
/// Every file carries a checksum of its parameters (FNV-1a 64 over names, shapes and value
/// bits), computed afresh whenever the model is serialised and verified by
/// [`SavedModel::build`], so a file damaged on disk is refused rather than loaded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SavedModel {
    /// [`FORMAT_VERSION`] at the time of writing.
    pub format_version: u32,
    /// The network's layers.
    pub spec: ModelSpec,
    /// The checksum read from a file (or computed by [`SavedModel::new`]); serialisation
    /// always writes the checksum of the current `params`.
    #[serde(default)]
    pub checksum: Option<String>,
    /// Every parameter under its [`Sequential`] name (`0.conv.weight`, ...).
    pub params: BTreeMap<String, TensorData>,
    /// What produced the weights; free-form.
    #[serde(default)]
    pub meta: serde_json::Map<String, serde_json::Value>,
}

impl Serialize for SavedModel {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("SavedModel", 5)?;
        st.serialize_field("format_version", &self.format_version)?;
        st.serialize_field("spec", &self.spec)?;
        st.serialize_field("checksum", &params_checksum(&self.params))?;
        st.serialize_field("params", &self.params)?;
        st.serialize_field("meta", &self.meta)?;
        st.end()
    }
}

/// FNV-1a 64 of every parameter's name, shape and value bits, in name order, as
/// `fnv1a64:` and 16 hex digits.
pub fn params_checksum(params: &BTreeMap<String, TensorData>) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for (name, t) in params {
        eat(name.as_bytes());
        eat(&[0]);
        for &d in &t.shape {
            eat(&(d as u64).to_le_bytes());
        }
        for v in &t.data {
            eat(&v.to_bits().to_le_bytes());
        }
    }
    format!("fnv1a64:{h:016x}")
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
            checksum: Some(params_checksum(&params)),
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
    /// [`Error::ParamShape`], [`Error::NonFiniteParam`] or [`Error::Checksum`]: never a
    /// panic.
    pub fn build(&self) -> Result<Sequential> {
        // Check names, shapes and lengths against the spec before allocating the network: a
        // file must not make us allocate more than it holds.
        let expected = self.spec.param_shapes()?;
        for (name, shape) in &expected {
            let stored = self
                .params
                .get(name)
                .ok_or_else(|| Error::MissingParam { name: name.clone() })?;
            if &stored.shape != shape || stored.data.len() != shape.iter().product::<usize>() {
                return Err(Error::ParamShape {
                    name: name.clone(),
                    expected: shape.clone(),
                    got: stored.shape.clone(),
                });
            }
        }
        if let Some(extra) = self
            .params
            .keys()
            .find(|k| !expected.iter().any(|(n, _)| n == *k))
        {
            return Err(Error::UnexpectedParam {
                name: extra.clone(),
            });
        }
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
        let computed = params_checksum(&self.params);
        match &self.checksum {
            Some(stored) if *stored == computed => {}
            stored => {
                return Err(Error::Checksum {
                    stored: stored.clone().unwrap_or_else(|| "none".into()),
                    computed,
                })
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
