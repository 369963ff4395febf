//! Sizes, parameter layout and per-chunk workspaces of the fused seed network.
//!
//! The fused kernels compute 8 filters at once (one [`LANES`]-wide vector per image position),
//! so their activations are stored position-major: `act[g][p][l]` for filter `f = g * 8 + l`
//! of group `g` at pooled position `p` (HWC). The generic [`Dense`](crate::Dense) layer sees
//! the flattened CHW order `f * positions + p`; the dense weight is permuted once per step when
//! it is copied in, and its gradient permuted back when it is copied out. Filters are padded
//! to a multiple of 8 with zero weights, zero bias and zero dense weights: padded lanes compute
//! zeros and their gradients are dropped.

use super::kernels::LANES;
use crate::spec::{LayerSpec, ModelSpec};

/// Sizes of a network `conv(1 -> filters, k x k, stride 1, pad 0) -> relu -> maxpool2x2 ->
/// flatten -> dense(classes)` on `h x w` images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    /// Image rows.
    pub h: usize,
    /// Image columns.
    pub w: usize,
    /// Kernel side.
    pub k: usize,
    /// Convolution filters.
    pub filters: usize,
    /// Filter groups of [`LANES`]: `filters.div_ceil(LANES)`.
    pub groups: usize,
    /// Pooled rows: `(h - k + 1) / 2`.
    pub hp: usize,
    /// Pooled columns: `(w - k + 1) / 2`.
    pub wp: usize,
    /// Dense outputs.
    pub classes: usize,
}

impl Dims {
    /// The sizes of `spec` when it has the fused pattern and every size is positive.
    pub fn from_spec(spec: &ModelSpec) -> Option<Self> {
        let [c, h, w] = spec.input;
        let &[LayerSpec::Conv2d {
            filters,
            kernel: k,
            stride: 1,
            padding: 0,
        }, LayerSpec::Relu, LayerSpec::MaxPool2x2, LayerSpec::Flatten, LayerSpec::Dense { units: classes }] =
            spec.layers.as_slice()
        else {
            return None;
        };
        if c != 1 || filters == 0 || classes == 0 || k == 0 || k > h || k > w {
            return None;
        }
        // Conv output sides; the pool drops an odd last row or column.
        let (h_out, w_out) = (h - k + 1, w - k + 1);
        let (hp, wp) = (h_out / 2, w_out / 2);
        if hp == 0 || wp == 0 {
            return None;
        }
        Some(Self {
            h,
            w,
            k,
            filters,
            groups: filters.div_ceil(LANES),
            hp,
            wp,
            classes,
        })
    }

    /// Pixels of one image.
    pub fn image_len(&self) -> usize {
        self.h * self.w
    }

    /// Kernel taps: `k * k`.
    pub fn taps(&self) -> usize {
        self.k * self.k
    }

    /// Pooled positions per filter.
    pub fn positions(&self) -> usize {
        self.hp * self.wp
    }

    /// Values of one sample's pooled activations in the fused (padded, HWC) layout.
    pub fn features(&self) -> usize {
        self.groups * self.positions() * LANES
    }

    /// Inputs of the dense layer in the generic layout: `filters * positions`.
    pub fn dense_inputs(&self) -> usize {
        self.filters * self.positions()
    }

    /// Index in the fused layout of generic feature `f * positions + p`.
    pub fn fused_feature(&self, f: usize, p: usize) -> usize {
        ((f / LANES) * self.positions() + p) * LANES + f % LANES
    }
}

/// The four parameters in the fused layout.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    /// `[groups][taps][LANES]`: tap `t = ki * k + kj` of filter `g * 8 + l`.
    pub conv_w: Vec<f32>,
    /// `[groups][LANES]`.
    pub conv_b: Vec<f32>,
    /// `[classes][features]` in the fused feature order.
    pub dense_w: Vec<f32>,
    /// `[classes]`.
    pub dense_b: Vec<f32>,
}

impl Params {
    /// All-zero parameters (padding lanes stay zero forever).
    pub fn zeros(d: &Dims) -> Self {
        Self {
            conv_w: vec![0.0; d.groups * d.taps() * LANES],
            conv_b: vec![0.0; d.groups * LANES],
            dense_w: vec![0.0; d.classes * d.features()],
            dense_b: vec![0.0; d.classes],
        }
    }

    /// Copies the conv weight `[filters, 1, k, k]` in.
    pub fn set_conv_weight(&mut self, d: &Dims, weight: &[f32]) {
        let taps = d.taps();
        for (f, w) in weight.chunks_exact(taps).enumerate() {
            let (g, l) = (f / LANES, f % LANES);
            for (t, &v) in w.iter().enumerate() {
                self.conv_w[(g * taps + t) * LANES + l] = v;
            }
        }
    }

    /// Copies the conv bias `[filters]` in.
    pub fn set_conv_bias(&mut self, bias: &[f32]) {
        self.conv_b[..bias.len()].copy_from_slice(bias);
    }

    /// Copies the dense weight `[classes, filters * positions]` (generic order) in.
    pub fn set_dense_weight(&mut self, d: &Dims, weight: &[f32]) {
        let (features, positions) = (d.features(), d.positions());
        for (row, dst) in weight
            .chunks_exact(d.dense_inputs())
            .zip(self.dense_w.chunks_exact_mut(features))
        {
            for (f, src) in row.chunks_exact(positions).enumerate() {
                let (g, l) = (f / LANES, f % LANES);
                let base = g * positions * LANES + l;
                for (p, &v) in src.iter().enumerate() {
                    dst[base + p * LANES] = v;
                }
            }
        }
    }
}

/// Everything one chunk of at most [`CHUNK`](super::CHUNK) samples writes: its scratch
/// buffers and its partial sums (gradients, loss, correct count), which the driver adds up
/// in chunk order.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// Images in [0, 1], `[samples][h * w]`.
    pub x: Vec<f32>,
    /// Pooled activations `[samples][features]`; after the dense backward, their gradients.
    pub act: Vec<f32>,
    /// Which of the 4 window positions won each pooled value (0..4, as f32), or
    /// [`NONE`](super::kernels::NONE) when the ReLU cut it.
    pub codes: Vec<f32>,
    /// Logits `[samples][classes]`; after the loss, dL/dlogits.
    pub logits: Vec<f32>,
    /// Partial conv weight gradient, fused layout.
    pub grad_conv_w: Vec<f32>,
    /// Partial conv bias gradient, fused layout.
    pub grad_conv_b: Vec<f32>,
    /// Partial dense weight gradient, fused layout.
    pub grad_dense_w: Vec<f32>,
    /// Partial dense bias gradient.
    pub grad_dense_b: Vec<f32>,
    /// Sum of the samples' cross-entropies.
    pub loss: f64,
    /// Samples whose largest logit is their label.
    pub correct: usize,
}

impl Chunk {
    /// Buffers for `samples` samples of `d`.
    pub fn new(d: &Dims, samples: usize) -> Self {
        let p = Params::zeros(d);
        Self {
            x: vec![0.0; samples * d.image_len()],
            act: vec![0.0; samples * d.features()],
            codes: vec![0.0; samples * d.features()],
            logits: vec![0.0; samples * d.classes],
            grad_conv_w: p.conv_w,
            grad_conv_b: p.conv_b,
            grad_dense_w: p.dense_w,
            grad_dense_b: p.dense_b,
            loss: 0.0,
            correct: 0,
        }
    }
}
