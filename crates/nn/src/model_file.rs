//! Model files: a spec, named parameters with their checksum, and free-form metadata, as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tensor::Tensor;

use crate::error::{Error, Result};
use crate::sequential::Sequential;
use crate::spec::ModelSpec;

/// The model-file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

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
