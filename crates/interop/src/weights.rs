//! The network's parameters as a `.safetensors` file, and `.safetensors` files read back:
//! ours, or a PyTorch `nn.Sequential` state_dict.
//!
//! # Our files
//! Every parameter under its [`nn::Sequential`] name (`0.conv.weight`, `4.dense.bias`...),
//! F32, and in `__metadata__`: `format` (`digits`), `digits.spec` (the [`nn::ModelSpec`] as
//! JSON), `class_names` (a JSON array), `digits.checksum` (the parameters' checksum, verified
//! on reading) and `digits.meta` (the model file's `meta` as JSON).
//!
//! # PyTorch state_dicts
//! `safetensors.torch.save_file(net.state_dict(), "net.safetensors")` for an `nn.Sequential`
//! names each parameter `<index>.weight` / `<index>.bias`, the index counting every module
//! (ReLU, MaxPool2d, Flatten and Dropout too). Given the same layers as a spec, index `i`
//! maps onto our layer `i`:
//!
//! | PyTorch module at index `i` | our layer `i` | tensors |
//! |---|---|---|
//! | `nn.Conv2d(C, F, K, stride=S, padding=P)` | `conv<F>x<K>[s<S>][p<P>]` | `i.weight` `[F, C, K, K]` -> `i.conv.weight`, `i.bias` `[F]` -> `i.conv.bias` |
//! | `nn.Linear(IN, OUT)` | `dense<OUT>` | `i.weight` `[OUT, IN]` -> `i.dense.weight`, `i.bias` `[OUT]` -> `i.dense.bias` |
//! | `nn.ReLU()`, `nn.MaxPool2d(2)`, `nn.Flatten()`, `nn.Dropout(p)` | `relu`, `pool2`, `flatten`, `dropout<p>` | none |
//!
//! Both layouts are PyTorch's own (`[out, in, kh, kw]`, `[out, in]`; flatten in C-H-W order),
//! so no tensor is transposed. A missing tensor, an extra one, a wrong shape or a dtype other
//! than F32 is an error naming the tensor.

use std::collections::{BTreeMap, HashMap};

use nn::{params_checksum, LayerSpec, ModelSpec, SavedModel, TensorData, FORMAT_VERSION};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use crate::error::{Error, Result};

/// The `format` metadata value of our files.
pub const FORMAT: &str = "digits";

/// The model's parameters as the bytes of a `.safetensors` file (see the module docs).
///
/// # Errors
/// [`Error::Nn`] when a parameter does not fit the spec; [`Error::Safetensors`] if the
/// container cannot be written.
pub fn encode(saved: &SavedModel, class_names: &[String]) -> Result<Vec<u8>> {
    let expected = saved.spec.param_shapes()?;
    let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape) in &expected {
        let t = saved
            .params
            .get(name)
            .ok_or_else(|| nn::Error::MissingParam { name: name.clone() })?;
        if &t.shape != shape || t.data.len() != shape.iter().product::<usize>() {
            return Err(nn::Error::ParamShape {
                name: name.clone(),
                expected: shape.clone(),
                got: t.shape.clone(),
            }
            .into());
        }
        let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes.push((name.clone(), shape.clone(), raw));
    }
    let views = bytes
        .iter()
        .map(|(name, shape, raw)| {
            Ok((
                name.as_str(),
                TensorView::new(Dtype::F32, shape.clone(), raw)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let json = |key: &'static str, v: &dyn erased::Json| {
        v.to_json()
            .map_err(|source| Error::Metadata { key, source })
    };
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    meta.insert("digits.spec".into(), json("digits.spec", &saved.spec)?);
    meta.insert("class_names".into(), json("class_names", &class_names)?);
    meta.insert("digits.checksum".into(), params_checksum(&saved.params));
    // The names go into the meta too, so a file read back and written again is the same file.
    let mut model_meta = saved.meta.clone();
    model_meta.insert("class_names".into(), class_names.into());
    meta.insert("digits.meta".into(), json("digits.meta", &model_meta)?);
    let mut file = safetensors::serialize(views, Some(meta))?;
    sort_header(&mut file)?;
    Ok(file)
}

/// Rewrites the JSON header with its keys in sorted order. The safetensors crate writes
/// `__metadata__` from a `HashMap`, whose order changes from run to run; sorted, the same
/// model gives the same bytes every time. Same keys and values in compact JSON: the same
/// length, so the padding and every offset stay as they are.
fn sort_header(file: &mut [u8]) -> Result<()> {
    let bad = |source| Error::Metadata {
        key: "__metadata__",
        source,
    };
    let n = u64::from_le_bytes(file[..8].try_into().expect("8 bytes")) as usize;
    let header = &file[8..8 + n];
    let text = std::str::from_utf8(header).expect("the crate writes UTF-8");
    let trimmed = text.trim_end();
    // serde_json's map is a BTreeMap (no preserve_order feature): keys come out sorted.
    let value: serde_json::Value = serde_json::from_str(trimmed).map_err(bad)?;
    let sorted = serde_json::to_string(&value).map_err(bad)?;
    assert_eq!(sorted.len(), trimmed.len(), "same JSON, same length");
    file[8..8 + sorted.len()].copy_from_slice(sorted.as_bytes());
    Ok(())
}

/// serde_json over a few concrete types without making `encode` generic.
mod erased {
    pub trait Json {
        fn to_json(&self) -> serde_json::Result<String>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> serde_json::Result<String> {
            serde_json::to_string(self)
        }
    }
}

/// Where the tensors of a file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Written by [`encode`]: names, spec and meta are ours.
    Digits,
    /// A PyTorch `nn.Sequential` state_dict, mapped onto a given spec.
    PyTorch,
}

/// Reads a `.safetensors` file into a model file: ours (the spec comes from the file; `arch`,
/// when given, must be the same), or a PyTorch `nn.Sequential` state_dict mapped onto `arch`
/// (see the module docs). The model's `meta` is ours as written, or
/// `{"imported_from": "pytorch"}` plus the file's own metadata under `safetensors_metadata`.
///
/// # Errors
/// [`Error::Safetensors`] for a damaged container; [`Error::NeedArch`] for a state_dict
/// without `arch`; [`Error::ArchMismatch`], [`Error::MissingTensor`], [`Error::Dtype`],
/// [`Error::Shape`], [`Error::UnexpectedTensor`], [`Error::Checksum`] naming the tensor.
pub fn decode(bytes: &[u8], arch: Option<&ModelSpec>) -> Result<(SavedModel, Origin)> {
    let (_, header) = SafeTensors::read_metadata(bytes)?;
    let file = SafeTensors::deserialize(bytes)?;
    let meta_map = header.metadata().clone().unwrap_or_default();
    let ours = meta_map.get("format").map(String::as_str) == Some(FORMAT)
        || meta_map.contains_key("digits.spec");
    let parse = |key: &'static str| -> Result<Option<serde_json::Value>> {
        meta_map
            .get(key)
            .map(|text| {
                serde_json::from_str(text).map_err(|source| Error::Metadata { key, source })
            })
            .transpose()
    };
    let (spec, origin) = if ours {
        let spec: ModelSpec = match parse("digits.spec")? {
            Some(v) => serde_json::from_value(v).map_err(|source| Error::Metadata {
                key: "digits.spec",
                source,
            })?,
            None => {
                return Err(Error::Metadata {
                    key: "digits.spec",
                    source: serde::de::Error::custom("missing"),
                })
            }
        };
        if let Some(given) = arch {
            if *given != spec {
                return Err(Error::ArchMismatch {
                    file: spec.to_string(),
                    given: given.to_string(),
                });
            }
        }
        (spec, Origin::Digits)
    } else {
        match arch {
            Some(a) => (a.clone(), Origin::PyTorch),
            None => {
                let mut names = file.names();
                names.sort();
                return Err(Error::NeedArch {
                    example: names.first().map(|s| s.to_string()).unwrap_or_default(),
                });
            }
        }
    };

    let mut params = BTreeMap::new();
    let mut used = Vec::new();
    for (param, shape) in spec.param_shapes()? {
        let source = match origin {
            Origin::Digits => param.clone(),
            Origin::PyTorch => pytorch_name(&param),
        };
        let view = file.tensor(&source).map_err(|_| Error::MissingTensor {
            name: source.clone(),
            param: param.clone(),
            shape: shape.clone(),
        })?;
        if view.dtype() != Dtype::F32 {
            return Err(Error::Dtype {
                name: source,
                dtype: view.dtype().to_string(),
            });
        }
        if view.shape() != shape.as_slice() {
            return Err(Error::Shape {
                name: source,
                param,
                expected: shape,
                got: view.shape().to_vec(),
            });
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        used.push(source);
        params.insert(param, TensorData { shape, data });
    }
    let mut names = file.names();
    names.sort();
    if let Some(extra) = names.into_iter().find(|n| !used.iter().any(|u| u == n)) {
        return Err(Error::UnexpectedTensor {
            name: extra.to_string(),
            why: why_unexpected(&spec, extra, origin),
        });
    }
    let computed = params_checksum(&params);
    if origin == Origin::Digits {
        if let Some(stored) = meta_map.get("digits.checksum") {
            if *stored != computed {
                return Err(Error::Checksum {
                    stored: stored.clone(),
                    computed,
                });
            }
        }
    }
    let mut meta = match (origin, parse("digits.meta")?) {
        (Origin::Digits, Some(serde_json::Value::Object(m))) => m,
        _ => serde_json::Map::new(),
    };
    if origin == Origin::PyTorch {
        meta.insert("imported_from".into(), "pytorch".into());
        let their: serde_json::Map<String, serde_json::Value> = meta_map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        meta.insert("safetensors_metadata".into(), their.into());
    }
    if let Some(names) = parse("class_names")? {
        meta.entry("class_names").or_insert(names);
    }
    Ok((
        SavedModel {
            format_version: FORMAT_VERSION,
            spec,
            checksum: Some(computed),
            params,
            meta,
        },
        origin,
    ))
}

/// `3.dense.weight` -> `3.weight`.
fn pytorch_name(param: &str) -> String {
    let mut parts = param.split('.');
    let index = parts.next().unwrap_or_default();
    let last = parts.next_back().unwrap_or_default();
    format!("{index}.{last}")
}

/// What the spec has where an unexpected tensor points, when that explains it.
fn why_unexpected(spec: &ModelSpec, name: &str, origin: Origin) -> Option<String> {
    let index: usize = name.split('.').next()?.parse().ok()?;
    match spec.layers.get(index) {
        None => Some(format!(
            "the architecture has {} layers, indices 0 to {}",
            spec.layers.len(),
            spec.layers.len().saturating_sub(1)
        )),
        Some(l @ (LayerSpec::Conv2d { .. } | LayerSpec::Dense { .. })) => (origin
            == Origin::PyTorch)
            .then(|| format!("layer {index} is {l}, which has only weight and bias")),
        Some(l) => Some(format!(
            "layer {index} of the architecture is {l}, which has no parameters"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> SavedModel {
        let spec = ModelSpec::seed();
        let net = spec.build(5).unwrap();
        let mut meta = serde_json::Map::new();
        meta.insert("seed".into(), 5.into());
        SavedModel::new(&spec, &net, meta)
    }

    fn names() -> Vec<String> {
        (0..10).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn our_files_round_trip_bit_exactly_with_spec_names_and_meta() {
        let saved = model();
        let bytes = encode(&saved, &names()).unwrap();
        let (back, origin) = decode(&bytes, None).unwrap();
        assert_eq!(origin, Origin::Digits);
        assert_eq!(back.spec, saved.spec);
        for (k, v) in &saved.params {
            let b = &back.params[k];
            assert_eq!(b.shape, v.shape);
            let bits = |d: &[f32]| d.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&b.data), bits(&v.data), "{k}");
        }
        assert_eq!(back.meta["seed"], 5);
        assert_eq!(back.meta["class_names"][3], "n3");
        back.build().unwrap();
        // And again, and from the read-back model: the same bytes (the header's order is fixed).
        assert_eq!(encode(&saved, &names()).unwrap(), bytes);
        assert_eq!(encode(&back, &names()).unwrap(), bytes);
    }

    #[test]
    fn a_flipped_weight_fails_the_checksum() {
        let bytes = encode(&model(), &names()).unwrap();
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 5] ^= 0x40;
        let e = decode(&bad, None).unwrap_err();
        assert!(matches!(e, Error::Checksum { .. }), "{e}");
    }

    #[test]
    fn our_file_with_another_arch_is_refused() {
        let bytes = encode(&model(), &names()).unwrap();
        let e = decode(&bytes, Some(&ModelSpec::lenet())).unwrap_err();
        assert!(e.to_string().contains("architecture given"), "{e}");
        assert!(decode(&bytes, Some(&ModelSpec::seed())).is_ok());
    }

    #[test]
    fn pytorch_names_map_onto_the_spec_indices() {
        assert_eq!(pytorch_name("0.conv.weight"), "0.weight");
        assert_eq!(pytorch_name("10.dense.bias"), "10.bias");
    }

    #[test]
    fn garbage_is_a_safetensors_error() {
        assert!(matches!(
            decode(b"not a safetensors file", None),
            Err(Error::Safetensors { .. })
        ));
        assert!(matches!(decode(&[], None), Err(Error::Safetensors { .. })));
    }
}
