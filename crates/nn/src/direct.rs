//! Image-by-image inference for convolutional networks: [`DirectNet`].

use std::sync::Mutex;

use rayon::prelude::*;
use tensor::{Dest, DirectConv, WinogradConv};

use crate::error::{Error, Result};
use crate::sequential::Sequential;
use crate::spec::LayerSpec;

/// Images whose dense layers run together (and the unit of parallel work).
const CHUNK: usize = 32;

/// A dense layer and whether a ReLU follows it.
#[derive(Debug, Clone)]
struct DenseStep {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
    relu: bool,
}

/// One convolution (with its ReLU and pool): Winograd's where it takes the layer, else the
/// direct one.
#[derive(Debug, Clone)]
enum ConvStep {
    Direct(DirectConv),
    Winograd(WinogradConv),
}

impl ConvStep {
    fn c_in(&self) -> usize {
        match self {
            ConvStep::Direct(c) => c.c_in(),
            ConvStep::Winograd(c) => c.c_in(),
        }
    }

    fn c_out(&self) -> usize {
        match self {
            ConvStep::Direct(c) => c.c_out(),
            ConvStep::Winograd(c) => c.c_out(),
        }
    }

    fn pad(&self) -> usize {
        match self {
            ConvStep::Direct(c) => c.pad(),
            ConvStep::Winograd(c) => c.pad(),
        }
    }

    fn padded_dims(&self) -> (usize, usize) {
        match self {
            ConvStep::Direct(c) => c.padded_dims(),
            ConvStep::Winograd(c) => c.padded_dims(),
        }
    }

    fn padded_len(&self) -> usize {
        let (hp, wp) = self.padded_dims();
        hp * wp * self.c_in()
    }

    fn output_dims(&self) -> (usize, usize) {
        match self {
            ConvStep::Direct(c) => c.output_dims(),
            ConvStep::Winograd(c) => c.output_dims(),
        }
    }

    fn run(&self, input: &[f32], scratch: &mut Vec<f32>, dest: Dest<'_>) {
        match self {
            ConvStep::Direct(c) => c.run(input, scratch, dest),
            ConvStep::Winograd(c) => c.run(input, scratch, dest),
        }
    }
}

/// Buffers of one worker.
#[derive(Debug, Default)]
struct Workspace {
    /// Each convolution's padded channels-last input (borders stay zero).
    padded: Vec<Vec<f32>>,
    scratch: Vec<f32>,
    /// `[chunk, features]`, then the dense layers' outputs in turn.
    a: Vec<f32>,
    b: Vec<f32>,
}

/// Inference for convolutional networks other than the seed one, image by image through
/// [`tensor::DirectConv`] and [`tensor::WinogradConv`]: no column matrices, no per-layer
/// tensors, nothing allocated per call once the workspaces have grown.
///
/// Takes the networks whose layers read (dropout anywhere, as it is the identity in
/// evaluation)
/// `(conv(stride 1, filters a multiple of 16) -> relu [-> maxpool2x2])+ -> flatten ->
/// (dense [-> relu])* -> dense`, such as the LeNet-style preset. Each image goes through the
/// convolutions alone (each one's output is written straight into the next one's padded input,
/// and the last one's into the image's row of flattened features); then the dense layers run
/// on a chunk of 32 images at once.
///
/// [`DirectNet::new`] runs each pooled 3x3 convolution that [`tensor::WinogradConv`] takes
/// (input and output channels in whole vectors of 16, even output sides: the LeNet-style
/// second convolution) as Winograd's F(2x2, 3x3), with 2.25 times fewer multiply-adds; its
/// logits then differ from [`Sequential::infer`]'s by rounding (within `1e-4` of the largest
/// logit in the tests). [`DirectNet::exact`] keeps every convolution direct, and its logits
/// are **bit-identical** to [`Sequential::infer`]: the direct convolution gives the im2col
/// chain's bits (see [`tensor::DirectConv`]), and the dense layers call the same dot product
/// kernel ([`tensor::matmul_nt_serial_into`] is [`tensor::matmul_nt_into`] on one thread) and
/// add the bias the same way. Either way each image's logits depend on that image alone and
/// follow one fixed order of operations, so the batch size and thread count change nothing.
///
/// ```
/// use nn::{DirectNet, ModelSpec};
/// # fn main() -> nn::Result<()> {
/// let model = ModelSpec::lenet().build(7)?;
/// // `None` on a CPU without AVX-512: use `Sequential::infer` there.
/// if let Some(net) = DirectNet::new(&model) {
///     let mut logits = vec![0.0; 2 * 10];
///     net.infer_into(&mut logits, &[0u8; 2 * 28 * 28])?;
///     assert!(logits.iter().all(|v| v.is_finite()));
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct DirectNet {
    rows: usize,
    cols: usize,
    convs: Vec<ConvStep>,
    features: usize,
    dense: Vec<DenseStep>,
    classes: usize,
    /// Reused workspaces, one taken per running chunk.
    spare: Mutex<Vec<Workspace>>,
}

/// The `weight` and `bias` values of layer `layer`.
fn params(model: &Sequential, layer: usize) -> Option<(Vec<f32>, Vec<f32>)> {
    let (mut weight, mut bias) = (None, None);
    model
        .layers()
        .get(layer)?
        .visit_params_ref(&mut |name, p| match name {
            "weight" => weight = Some(p.value.data().to_vec()),
            "bias" => bias = Some(p.value.data().to_vec()),
            _ => {}
        });
    Some((weight?, bias?))
}

impl DirectNet {
    /// Packs `model` (its spec says what it is), or `None` when its layers do not have the
    /// pattern above, its input is not one gray channel, or this CPU has no
    /// AVX-512. Pooled 3x3 convolutions that [`WinogradConv`] takes run as Winograd's.
    pub fn new(model: &Sequential) -> Option<Self> {
        Self::build(model, true)
    }

    /// [`DirectNet::new`] with every convolution direct: logits bit-identical to
    /// [`Sequential::infer`].
    pub fn exact(model: &Sequential) -> Option<Self> {
        Self::build(model, false)
    }

    /// Whether some convolution runs as Winograd's (then the logits differ from the layers'
    /// by rounding).
    pub fn uses_winograd(&self) -> bool {
        self.convs
            .iter()
            .any(|c| matches!(c, ConvStep::Winograd(_)))
    }

    fn build(model: &Sequential, winograd: bool) -> Option<Self> {
        let spec = model.spec()?;
        let [c, rows, cols] = spec.input;
        if c != 1 || model.layers().len() != spec.layers.len() {
            return None;
        }
        // Layer indices without the dropouts (identities here).
        let steps: Vec<(usize, &LayerSpec)> = spec
            .layers
            .iter()
            .enumerate()
            .filter(|(_, l)| !matches!(l, LayerSpec::Dropout { .. }))
            .collect();
        let mut at = 0;
        let mut convs = Vec::new();
        let [mut c_in, mut h, mut w] = [1, rows, cols];
        while let Some(&(
            i,
            &LayerSpec::Conv2d {
                kernel,
                stride,
                padding,
                ..
            },
        )) = steps.get(at)
        {
            if stride != 1 || !matches!(steps.get(at + 1), Some((_, LayerSpec::Relu))) {
                return None;
            }
            let pool = matches!(steps.get(at + 2), Some((_, LayerSpec::MaxPool2x2)));
            let (weight, bias) = params(model, i)?;
            // Winograd's where it takes the layer (its pool windows are then the direct
            // convolution's, as the convolution output's sides are even), on the CPUs where
            // the direct convolution runs; else the direct one.
            let fast = (winograd && pool && kernel == 3 && DirectConv::supported())
                .then(|| WinogradConv::new(&weight, &bias, [c_in, h, w], padding))
                .flatten();
            let conv = match fast {
                Some(f) => ConvStep::Winograd(f),
                None => ConvStep::Direct(DirectConv::new(
                    &weight,
                    &bias,
                    [c_in, h, w],
                    kernel,
                    padding,
                    pool,
                )?),
            };
            (c_in, (h, w)) = (conv.c_out(), conv.output_dims());
            convs.push(conv);
            at += if pool { 3 } else { 2 };
        }
        if convs.is_empty() || !matches!(steps.get(at), Some((_, LayerSpec::Flatten))) {
            return None;
        }
        at += 1;
        let features = c_in * h * w;
        let mut dense: Vec<DenseStep> = Vec::new();
        let mut inputs = features;
        while let Some(&(i, &LayerSpec::Dense { units })) = steps.get(at) {
            let (weight, bias) = params(model, i)?;
            if weight.len() != units * inputs || bias.len() != units {
                return None;
            }
            let relu = matches!(steps.get(at + 1), Some((_, LayerSpec::Relu)));
            dense.push(DenseStep {
                weight,
                bias,
                inputs,
                outputs: units,
                relu,
            });
            inputs = units;
            at += if relu { 2 } else { 1 };
        }
        // Every layer taken, and the last one a dense layer without a ReLU after it.
        if at != steps.len() || dense.last().is_none_or(|d| d.relu) {
            return None;
        }
        Some(Self {
            rows,
            cols,
            convs,
            features,
            dense,
            classes: inputs,
            spare: Mutex::new(Vec::new()),
        })
    }

    /// `(rows, cols)` of the images it takes.
    pub fn input(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Outputs per image.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Writes the logits `[n, classes]` of the `n` byte images in `images` (back to back,
    /// pixel `p` taken as `p / 255`) into `logits`.
    ///
    /// # Errors
    /// [`Error::InputShape`] when `images` is not whole images or `logits` does not have
    /// `n * classes` values.
    pub fn infer_into(&self, logits: &mut [f32], images: &[u8]) -> Result<()> {
        self.infer_pixels(logits, images, |p| f32::from(p) / 255.0)
    }

    /// [`DirectNet::infer_into`] for images already in `f32` (as `Sequential::infer` takes
    /// them), e.g. preprocessed pictures.
    ///
    /// # Errors
    /// As [`DirectNet::infer_into`].
    pub fn infer_values_into(&self, logits: &mut [f32], images: &[f32]) -> Result<()> {
        self.infer_pixels(logits, images, |v| v)
    }

    fn infer_pixels<P: Copy + Sync, F: Fn(P) -> f32 + Copy + Sync>(
        &self,
        logits: &mut [f32],
        images: &[P],
        value: F,
    ) -> Result<()> {
        let len = self.rows * self.cols;
        let n = images.len() / len.max(1);
        if len == 0 || n * len != images.len() || logits.len() != n * self.classes {
            return Err(Error::InputShape {
                layer: "direct",
                expected: format!(
                    "whole {}x{} images and {} logits each",
                    self.rows, self.cols, self.classes
                ),
                got: vec![images.len(), logits.len()],
            });
        }
        if n <= CHUNK {
            // One chunk: on this thread (a single image should not wait for others to wake).
            let mut ws = self.take();
            self.chunk(&mut ws, logits, images, value)?;
            self.give(ws);
            return Ok(());
        }
        logits
            .par_chunks_mut(CHUNK * self.classes)
            .zip(images.par_chunks(CHUNK * len))
            .try_for_each(|(out, part)| {
                let mut ws = self.take();
                let r = self.chunk(&mut ws, out, part, value);
                self.give(ws);
                r
            })
    }

    fn take(&self) -> Workspace {
        let ws = self.spare.lock().ok().and_then(|mut s| s.pop());
        ws.unwrap_or_else(|| Workspace {
            padded: self
                .convs
                .iter()
                .map(|c| vec![0.0; c.padded_len()])
                .collect(),
            ..Workspace::default()
        })
    }

    fn give(&self, ws: Workspace) {
        if let Ok(mut s) = self.spare.lock() {
            s.push(ws);
        }
    }

    /// The logits of at most [`CHUNK`] images.
    fn chunk<P: Copy, F: Fn(P) -> f32 + Copy>(
        &self,
        ws: &mut Workspace,
        logits: &mut [f32],
        images: &[P],
        value: F,
    ) -> Result<()> {
        let len = self.rows * self.cols;
        let m = images.len() / len;
        ws.a.resize(m * self.features, 0.0);
        for (image, features) in images
            .chunks_exact(len)
            .zip(ws.a.chunks_exact_mut(self.features))
        {
            self.convolve(&mut ws.padded, &mut ws.scratch, image, value, features);
        }
        let (mut x, mut y) = (&mut ws.a, &mut ws.b);
        for d in &self.dense {
            y.resize(m * d.outputs, 0.0);
            tensor::matmul_nt_serial_into(y, x, &d.weight, m, d.inputs, d.outputs)?;
            for row in y.chunks_exact_mut(d.outputs) {
                row.iter_mut().zip(&d.bias).for_each(|(v, b)| *v += b);
                if d.relu {
                    row.iter_mut()
                        .for_each(|v| *v = if *v > 0.0 { *v } else { 0.0 });
                }
            }
            std::mem::swap(&mut x, &mut y);
        }
        logits.copy_from_slice(&x[..m * self.classes]);
        Ok(())
    }

    /// One image through the convolutions into its flattened features (channels first).
    fn convolve<P: Copy, F: Fn(P) -> f32>(
        &self,
        padded: &mut [Vec<f32>],
        scratch: &mut Vec<f32>,
        image: &[P],
        value: F,
        features: &mut [f32],
    ) {
        let first = &self.convs[0];
        let (p, (_, wp)) = (first.pad(), first.padded_dims());
        for (y, row) in image.chunks_exact(self.cols).enumerate() {
            let dst = &mut padded[0][(y + p) * wp + p..][..self.cols];
            dst.iter_mut().zip(row).for_each(|(d, &v)| *d = value(v));
        }
        for (l, conv) in self.convs.iter().enumerate() {
            let (oh, ow) = conv.output_dims();
            let (done, rest) = padded.split_at_mut(l + 1);
            let dest = match (rest.first_mut(), self.convs.get(l + 1)) {
                (Some(next_in), Some(next)) => {
                    let (c, p, (_, wp)) = (next.c_in(), next.pad(), next.padded_dims());
                    Dest {
                        codes: None,
                        data: next_in,
                        offset: (p * wp + p) * c,
                        row: wp * c,
                        col: c,
                        channel: 1,
                    }
                }
                _ => Dest {
                    codes: None,
                    data: &mut *features,
                    offset: 0,
                    row: ow,
                    col: 1,
                    channel: oh * ow,
                },
            };
            conv.run(&done[l], scratch, dest);
        }
    }
}
