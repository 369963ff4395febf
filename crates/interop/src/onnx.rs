//! The network as an ONNX model (opset 13, IR version 7), written with our own small protobuf encoder (`proto.rs`).
//!
//! | our layer | ONNX operator |
//! |---|---|
//! | `Conv2d` | `Conv` (kernel_shape, strides, pads), weight `[F, C, K, K]`, bias `[F]` |
//! | `Relu` | `Relu` |
//! | `MaxPool2x2` | `MaxPool` 2x2, stride 2 (floor, as ours) |
//! | `Flatten` | `Flatten` (axis 1) |
//! | `Dense` | `Gemm` with `transB = 1` (weight `[out, in]`, PyTorch's layout) |
//! | `Dropout` | left out (identity at inference) |
//!
//! The graph's input is `image`, float `[N, C, H, W]` (gray 28x28 for our networks) with a
//! dynamic batch `N`; its outputs are `logits` `[N, classes]` and `probabilities`
//! (`Softmax` over the classes, of `logits / T` when the model carries a calibration
//! temperature `T`). A model trained on deskewed digits (`meta.deskew`) deskews `image` in
//! the graph first, as `datagen::deskew` does (moments with `ReduceSum`, the shear as a
//! `MatMul` with a triangle kernel), so a client feeds it the prepared image as it is.

use nn::{LayerSpec, SavedModel};

use crate::error::{Error, Result};
use crate::proto::Message;

/// The ONNX IR version written.
pub const IR_VERSION: i64 = 7;
/// The ONNX operator-set version written.
pub const OPSET: i64 = 13;

/// What an input image must be, in words: stored in the model's metadata as
/// `preprocessing` so a user of the ONNX file prepares pictures as we do.
pub const PREPROCESSING: &str = "input 'image' is float32 [N, 1, 28, 28], values in [0, 1]: 0 is the background, 1 is full ink (light ink on dark, as MNIST; a byte p becomes p / 255). Pictures are prepared as MNIST was: gray, dark-on-light inverted, cropped to the ink, the long side scaled to 20 pixels keeping the aspect, pasted so the centre of mass is at (14, 14) (datagen::preprocess::prepare does this)";

// TensorProto.DataType.FLOAT and INT64
const FLOAT: i64 = 1;
const INT64: i64 = 7;
// AttributeProto.AttributeType
const ATTR_INT: i64 = 2;
const ATTR_INTS: i64 = 7;

/// The calibration temperature in a model's meta for the network run on one image as it is:
/// `meta.calibration.one_view_temperature` when the model is judged on several test-time
/// views (its `temperature` was fitted on their mean, and would leave one view
/// over-confident), else `meta.calibration.temperature` (an object) or a flat
/// `"calibration.temperature"` key; only a finite value above zero counts.
pub fn temperature(saved: &SavedModel) -> Option<f32> {
    let calibration = saved.meta.get("calibration");
    let nested = calibration
        .and_then(|c| c.get("one_view_temperature"))
        .or_else(|| calibration.and_then(|c| c.get("temperature")));
    let flat = saved.meta.get("calibration.temperature");
    let t = nested.or(flat)?.as_f64()? as f32;
    (t.is_finite() && t > 0.0).then_some(t)
}

fn attr_int(name: &str, v: i64) -> Message {
    let mut a = Message::new();
    a.string(1, name).int(3, v).int(20, ATTR_INT);
    a
}

fn attr_ints(name: &str, vs: &[i64]) -> Message {
    let mut a = Message::new();
    a.string(1, name).ints(8, vs).int(20, ATTR_INTS);
    a
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str, attrs: &[Message]) -> Message {
    let mut n = Message::new();
    for i in inputs {
        n.string(1, i);
    }
    n.string(2, output).string(3, name).string(4, op);
    for a in attrs {
        n.message(5, a);
    }
    n
}

fn initializer(name: &str, shape: &[usize], data: &[f32]) -> Message {
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensor(name, shape, FLOAT, &raw)
}

/// An int64 initializer (axes and shapes).
fn initializer_i64(name: &str, data: &[i64]) -> Message {
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensor(name, &[data.len()], INT64, &raw)
}

fn tensor(name: &str, shape: &[usize], data_type: i64, raw: &[u8]) -> Message {
    let mut t = Message::new();
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    t.ints(1, &dims).int(2, data_type).string(8, name);
    t.bytes(9, raw);
    t
}

/// The deskewing a model was trained with (`meta.deskew`, the largest shear that straightens
/// a digit's slant), when it is a finite number above zero.
pub fn deskew(saved: &SavedModel) -> Option<f32> {
    let d = saved.meta.get("deskew")?.as_f64()? as f32;
    (d.is_finite() && d > 0.0).then_some(d)
}

/// The nodes and initializers that deskew `image` (`[N, 1, h, w]`) into `deskewed` as
/// `datagen::deskew` does: the slant `s = cov(x, y) / var(y)` of the ink, clamped to
/// `±max_shear`, and row `y` moved by `s * (y - ȳ)` pixels, sampled linearly between columns
/// (as a product with the triangle kernel `relu(1 - |i - x - shift|)`, so opset 13 needs no
/// resampling operator). A blank image (no ink) stays blank.
fn deskew_graph(h: usize, w: usize, max_shear: f32) -> (Vec<Message>, Vec<Message>) {
    let f = |v: usize| v as f32;
    let xs: Vec<f32> = (0..w).map(f).collect();
    let ys: Vec<f32> = (0..h).map(f).collect();
    // (i - x) for source column i (rows of the kernel) and output column x.
    let ix: Vec<f32> = (0..w)
        .flat_map(|i| (0..w).map(move |x| i as f32 - x as f32))
        .collect();
    let inits = vec![
        initializer("deskew.xs", &[1, 1, 1, w], &xs),
        initializer("deskew.ys", &[1, 1, h, 1], &ys),
        initializer("deskew.ys5", &[1, 1, h, 1, 1], &ys),
        initializer("deskew.ix", &[1, 1, 1, w, w], &ix),
        initializer("deskew.tiny", &[], &[1e-12]),
        initializer("deskew.one", &[], &[1.0]),
        initializer("deskew.min", &[], &[-max_shear]),
        initializer("deskew.max", &[], &[max_shear]),
        initializer_i64("deskew.axes", &[2, 3]),
        initializer_i64("deskew.per_image", &[-1, 1, 1, 1, 1]),
        initializer_i64("deskew.rows", &[-1, 1, h as i64, 1, w as i64]),
        initializer_i64("deskew.image", &[-1, 1, h as i64, w as i64]),
    ];
    let sum = |name: &str, input: &str, output: &str| {
        node(
            "ReduceSum",
            name,
            &[input, "deskew.axes"],
            output,
            &[attr_int("keepdims", 1)],
        )
    };
    let op =
        |op: &str, name: &str, inputs: &[&str], output: &str| node(op, name, inputs, output, &[]);
    let nodes = vec![
        // Mass and centre of mass (a blank image's mass is the tiny floor: centre 0, slant 0).
        sum("deskew_mass", "image", "deskew.m0"),
        op(
            "Max",
            "deskew_floor",
            &["deskew.m0", "deskew.tiny"],
            "deskew.m",
        ),
        op("Mul", "deskew_ix", &["image", "deskew.xs"], "deskew.wx"),
        sum("deskew_sx", "deskew.wx", "deskew.sx"),
        op("Div", "deskew_mx", &["deskew.sx", "deskew.m"], "deskew.mx"),
        op("Mul", "deskew_iy", &["image", "deskew.ys"], "deskew.wy"),
        sum("deskew_sy", "deskew.wy", "deskew.sy"),
        op("Div", "deskew_my", &["deskew.sy", "deskew.m"], "deskew.my"),
        // cov(x, y) and var(y) of the ink.
        op("Sub", "deskew_dx", &["deskew.xs", "deskew.mx"], "deskew.dx"),
        op("Sub", "deskew_dy", &["deskew.ys", "deskew.my"], "deskew.dy"),
        op("Mul", "deskew_idy", &["image", "deskew.dy"], "deskew.wdy"),
        op(
            "Mul",
            "deskew_idxdy",
            &["deskew.wdy", "deskew.dx"],
            "deskew.wdxdy",
        ),
        sum("deskew_cov", "deskew.wdxdy", "deskew.cov"),
        op(
            "Mul",
            "deskew_idydy",
            &["deskew.wdy", "deskew.dy"],
            "deskew.wdydy",
        ),
        sum("deskew_var0", "deskew.wdydy", "deskew.var0"),
        op(
            "Max",
            "deskew_var",
            &["deskew.var0", "deskew.tiny"],
            "deskew.var",
        ),
        op(
            "Div",
            "deskew_slant",
            &["deskew.cov", "deskew.var"],
            "deskew.s0",
        ),
        op(
            "Clip",
            "deskew_clamp",
            &["deskew.s0", "deskew.min", "deskew.max"],
            "deskew.s",
        ),
        // Each row's shift, then the triangle kernel over (row, source column, column).
        op(
            "Reshape",
            "deskew_s5",
            &["deskew.s", "deskew.per_image"],
            "deskew.s5",
        ),
        op(
            "Reshape",
            "deskew_my5",
            &["deskew.my", "deskew.per_image"],
            "deskew.my5",
        ),
        op(
            "Sub",
            "deskew_dy5",
            &["deskew.ys5", "deskew.my5"],
            "deskew.dy5",
        ),
        op(
            "Mul",
            "deskew_shift",
            &["deskew.s5", "deskew.dy5"],
            "deskew.shift",
        ),
        op(
            "Sub",
            "deskew_d",
            &["deskew.ix", "deskew.shift"],
            "deskew.d",
        ),
        op("Abs", "deskew_abs", &["deskew.d"], "deskew.ad"),
        op(
            "Sub",
            "deskew_tri",
            &["deskew.one", "deskew.ad"],
            "deskew.t0",
        ),
        op("Relu", "deskew_kernel", &["deskew.t0"], "deskew.k"),
        op(
            "Reshape",
            "deskew_rows",
            &["image", "deskew.rows"],
            "deskew.r",
        ),
        op(
            "MatMul",
            "deskew_shear",
            &["deskew.r", "deskew.k"],
            "deskew.out",
        ),
        op(
            "Reshape",
            "deskew_image",
            &["deskew.out", "deskew.image"],
            "deskewed",
        ),
    ];
    (nodes, inits)
}

/// A `ValueInfoProto` for a float tensor whose first dimension is the symbolic batch `N`.
fn value_info(name: &str, rest: &[usize], doc: &str) -> Message {
    let mut shape = Message::new();
    let mut batch = Message::new();
    batch.string(2, "N");
    shape.message(1, &batch);
    for &d in rest {
        let mut dim = Message::new();
        dim.int(1, d as i64);
        shape.message(1, &dim);
    }
    let mut tensor = Message::new();
    tensor.int(1, FLOAT).message(2, &shape);
    let mut ty = Message::new();
    ty.message(1, &tensor);
    let mut v = Message::new();
    v.string(1, name).message(2, &ty).string(3, doc);
    v
}

fn entry(key: &str, value: &str) -> Message {
    let mut e = Message::new();
    e.string(1, key).string(2, value);
    e
}

/// The model as the bytes of an `.onnx` file, with `class_names` (one per output), the
/// preprocessing contract, the spec and the calibration temperature (if any) in its
/// `metadata_props`.
///
/// # Errors
/// [`Error::Nn`] when the spec is not a valid network or a parameter is missing or
/// mis-shaped; [`Error::Empty`] for a network without operators.
pub fn encode(saved: &SavedModel, class_names: &[String]) -> Result<Vec<u8>> {
    let spec = &saved.spec;
    let classes = spec.classes()?;
    let param = |name: &str| -> Result<&nn::TensorData> {
        saved
            .params
            .get(name)
            .ok_or_else(|| nn::Error::MissingParam { name: name.into() }.into())
    };
    let expected = spec.param_shapes()?;
    for (name, shape) in &expected {
        let t = param(name)?;
        if &t.shape != shape || t.data.len() != shape.iter().product::<usize>() {
            return Err(nn::Error::ParamShape {
                name: name.clone(),
                expected: shape.clone(),
                got: t.shape.clone(),
            }
            .into());
        }
    }

    let mut graph = Message::new();
    let mut nodes: Vec<(String, Message)> = Vec::new();
    let mut inits = Vec::new();
    let mut current = "image".to_string();
    let deskew = deskew(saved);
    if let Some(max_shear) = deskew {
        let [_, h, w] = spec.input;
        let (ds_nodes, ds_inits) = deskew_graph(h, w, max_shear);
        nodes.extend(ds_nodes.into_iter().map(|n| ("deskew".to_string(), n)));
        inits.extend(ds_inits);
        current = "deskewed".to_string();
    }
    let mut pending: Option<(String, String, Vec<String>, Vec<Message>)> = None;
    // Each layer's node is built once its output name is known: the last one writes `logits`.
    let mut flush = |pending: &mut Option<(String, String, Vec<String>, Vec<Message>)>,
                     output: &str| {
        if let Some((op, name, inputs, attrs)) = pending.take() {
            let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            nodes.push((name.clone(), node(&op, &name, &refs, output, &attrs)));
        }
    };
    for (i, layer) in spec.layers.iter().enumerate() {
        let (op, attrs, params): (&str, Vec<Message>, Vec<String>) = match *layer {
            LayerSpec::Conv2d {
                kernel,
                stride,
                padding,
                ..
            } => {
                let (k, s, p) = (kernel as i64, stride as i64, padding as i64);
                (
                    "Conv",
                    vec![
                        attr_ints("kernel_shape", &[k, k]),
                        attr_ints("strides", &[s, s]),
                        attr_ints("pads", &[p, p, p, p]),
                    ],
                    vec![format!("{i}.conv.weight"), format!("{i}.conv.bias")],
                )
            }
            LayerSpec::Relu => ("Relu", vec![], vec![]),
            LayerSpec::MaxPool2x2 => (
                "MaxPool",
                vec![
                    attr_ints("kernel_shape", &[2, 2]),
                    attr_ints("strides", &[2, 2]),
                ],
                vec![],
            ),
            LayerSpec::Flatten => ("Flatten", vec![attr_int("axis", 1)], vec![]),
            LayerSpec::Dense { .. } => (
                "Gemm",
                vec![attr_int("transB", 1)],
                vec![format!("{i}.dense.weight"), format!("{i}.dense.bias")],
            ),
            LayerSpec::Dropout { .. } => continue,
        };
        // The node before this one writes what this one reads.
        flush(&mut pending, &current);
        let output = format!("{i}.{}", op.to_lowercase());
        for p in &params {
            let t = param(p)?;
            inits.push(initializer(p, &t.shape, &t.data));
        }
        let mut inputs = vec![current.clone()];
        inputs.extend(params);
        pending = Some((op.to_string(), format!("{i}_{op}"), inputs, attrs));
        current = output;
    }
    if pending.is_none() {
        return Err(Error::Empty);
    }
    flush(&mut pending, "logits");
    let temperature = temperature(saved);
    if let Some(t) = temperature {
        inits.push(initializer("temperature", &[], &[t]));
        nodes.push((
            "calibrate".into(),
            node(
                "Div",
                "calibrate",
                &["logits", "temperature"],
                "calibrated_logits",
                &[],
            ),
        ));
    }
    let softmax_in = if temperature.is_some() {
        "calibrated_logits"
    } else {
        "logits"
    };
    nodes.push((
        "softmax".into(),
        node(
            "Softmax",
            "softmax",
            &[softmax_in],
            "probabilities",
            &[attr_int("axis", 1)],
        ),
    ));

    for (_, n) in &nodes {
        graph.message(1, n);
    }
    graph.string(2, "digits");
    for t in &inits {
        graph.message(5, t);
    }
    graph.string(10, &format!("{spec}"));
    let [c, h, w] = spec.input;
    graph.message(
        11,
        &value_info(
            "image",
            &[c, h, w],
            "gray images, 0 background to 1 ink; see metadata 'preprocessing'",
        ),
    );
    graph.message(
        12,
        &value_info("logits", &[classes], "one score per class, before softmax"),
    );
    graph.message(
        12,
        &value_info(
            "probabilities",
            &[classes],
            "softmax of the logits (divided by the calibration temperature when there is one)",
        ),
    );

    let mut opset = Message::new();
    opset.string(1, "").int(2, OPSET);
    let mut model = Message::new();
    model
        .int(1, IR_VERSION)
        .string(2, "digits")
        .string(3, env!("CARGO_PKG_VERSION"))
        .int(5, 1)
        .string(
            6,
            &format!("digits CNN ({spec}), {classes} classes; see metadata_props"),
        )
        .message(7, &graph)
        .message(8, &opset);
    let names_json = serde_json::to_string(class_names).map_err(|source| Error::Metadata {
        key: "class_names",
        source,
    })?;
    let spec_json = serde_json::to_string(spec).map_err(|source| Error::Metadata {
        key: "digits.spec",
        source,
    })?;
    model.message(14, &entry("class_names", &names_json));
    model.message(14, &entry("preprocessing", PREPROCESSING));
    model.message(14, &entry("digits.spec", &spec_json));
    if let Some(t) = temperature {
        model.message(14, &entry("calibration.temperature", &t.to_string()));
    }
    if let Some(d) = deskew {
        model.message(14, &entry("digits.deskew", &d.to_string()));
    }
    Ok(model.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::tests::{parse, Value};

    fn saved(meta: serde_json::Value) -> SavedModel {
        let spec = nn::ModelSpec::parse("conv4x3p1,relu,pool2,flatten,dropout0.5,dense10").unwrap();
        let model = spec.build(3).unwrap();
        SavedModel::new(&spec, &model, meta.as_object().unwrap().clone())
    }

    fn strings(msg: &[u8], field: u32) -> Vec<String> {
        parse(msg)
            .into_iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, v)| match v {
                Value::Len(b) => String::from_utf8(b).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn field(msg: &[u8], field: u32) -> Vec<Vec<u8>> {
        parse(msg)
            .into_iter()
            .filter(|(f, _)| *f == field)
            .filter_map(|(_, v)| match v {
                Value::Len(b) => Some(b),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn graph_has_one_node_per_layer_but_dropout_then_softmax() {
        let names: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        let bytes = encode(&saved(serde_json::json!({})), &names).unwrap();
        let top = parse(&bytes);
        assert_eq!(top[0], (1, Value::Varint(7)), "ir_version first");
        let graph = &field(&bytes, 7)[0];
        let ops: Vec<String> = field(graph, 1)
            .iter()
            .map(|n| strings(n, 4)[0].clone())
            .collect();
        assert_eq!(
            ops,
            ["Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Softmax"]
        );
        let outputs: Vec<String> = field(graph, 1)
            .iter()
            .map(|n| strings(n, 2)[0].clone())
            .collect();
        // Topologically sorted: every node reads the image, an initializer or an earlier output.
        let nodes = field(graph, 1);
        let inits: Vec<String> = field(graph, 5)
            .iter()
            .map(|t| strings(t, 8)[0].clone())
            .collect();
        for (k, n) in nodes.iter().enumerate() {
            for input in strings(n, 1) {
                assert!(
                    input == "image" || inits.contains(&input) || outputs[..k].contains(&input),
                    "node {k} reads {input}, written by no earlier node"
                );
            }
        }
        assert_eq!(outputs[4], "logits");
        assert_eq!(outputs[5], "probabilities");
        let inits: Vec<String> = field(graph, 5)
            .iter()
            .map(|t| strings(t, 8)[0].clone())
            .collect();
        assert_eq!(
            inits,
            [
                "0.conv.weight",
                "0.conv.bias",
                "5.dense.weight",
                "5.dense.bias"
            ]
        );
        let opset = &field(&bytes, 8)[0];
        assert_eq!(parse(opset)[1], (2, Value::Varint(13)));
        let meta: Vec<(String, String)> = field(&bytes, 14)
            .iter()
            .map(|e| (strings(e, 1)[0].clone(), strings(e, 2)[0].clone()))
            .collect();
        assert_eq!(meta[0].0, "class_names");
        assert!(meta[0].1.starts_with("[\"c0\",\"c1\""));
        assert!(meta.iter().any(|(k, _)| k == "preprocessing"));
        assert!(!meta.iter().any(|(k, _)| k == "calibration.temperature"));
    }

    #[test]
    fn a_calibration_temperature_divides_the_logits_and_is_recorded() {
        let names: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let s = saved(serde_json::json!({"calibration": {"temperature": 1.5}}));
        assert_eq!(temperature(&s), Some(1.5));
        // A model judged on several views exports the temperature of one view.
        let views = serde_json::json!({"calibration": {
            "temperature": 0.6, "views": 9, "one_view_temperature": 1.3}});
        assert_eq!(temperature(&saved(views)), Some(1.3));
        let bytes = encode(&s, &names).unwrap();
        let graph = &field(&bytes, 7)[0];
        let ops: Vec<String> = field(graph, 1)
            .iter()
            .map(|n| strings(n, 4)[0].clone())
            .collect();
        assert_eq!(&ops[4..], ["Gemm", "Div", "Softmax"]);
        let meta: Vec<String> = field(&bytes, 14)
            .iter()
            .map(|e| strings(e, 1)[0].clone())
            .collect();
        assert!(meta.contains(&"calibration.temperature".to_string()));
        let flat = saved(serde_json::json!({"calibration.temperature": 2.0}));
        assert_eq!(temperature(&flat), Some(2.0));
        let bad = saved(serde_json::json!({"calibration": {"temperature": -1.0}}));
        assert_eq!(temperature(&bad), None);
    }

    #[test]
    fn a_missing_parameter_is_an_error_not_a_panic() {
        let mut s = saved(serde_json::json!({}));
        s.params.remove("5.dense.bias");
        let e = encode(&s, &[]).unwrap_err();
        assert!(e.to_string().contains("5.dense.bias"), "{e}");
    }
}
