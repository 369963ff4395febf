//! [`Sequential`]: a chain of layers run in order.

use tensor::Tensor;

use crate::error::{Error, Result};
use crate::layer::{cached, Fusion, Layer, Param};
use crate::spec::ModelSpec;

/// Layers applied one after another. Parameters are named `{index}.{layer}.{param}`, e.g.
/// `0.conv.weight` or `4.dense.bias`: stable names for optimisers and model files.
///
/// A convolution followed by a ReLU and a 2x2 max-pool runs fused in [`forward`],
/// [`backward`] and [`infer`] (see `tensor::conv2d_relu_pool_forward`): the results are
/// bit-identical to running the three layers one by one, with a fraction of the memory
/// traffic. [`forward_trace`] always runs layer by layer, since it shows every layer's output.
///
/// One exception, in training only: a fused 3x3 convolution that `tensor::WinogradConv` takes
/// (stride 1, input and output channels multiples of 16, an even output, as the LeNet-style
/// second convolution) trains by Winograd's F(2x2, 3x3) in [`forward`] and in its input
/// gradient, and its weight gradient sums over the pool's winners alone
/// (`tensor::conv2d_relu_pool_backward_winograd`). Those differ from the layers' by rounding;
/// their order is fixed, so training stays bit-identical for any thread count and any CPU.
/// [`infer`] keeps the layers' bits.
///
/// [`forward`]: Sequential::forward
/// [`backward`]: Sequential::backward
/// [`infer`]: Sequential::infer
/// [`forward_trace`]: Sequential::forward_trace
#[derive(Debug)]
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
    spec: Option<ModelSpec>,
    plan: Vec<Step>,
}

/// One step of the execution plan.
#[derive(Debug)]
enum Step {
    /// Layer `i` on its own.
    Layer(usize),
    /// Layers `conv`, `conv + 1`, `conv + 2`: a convolution, a ReLU and a 2x2 max-pool.
    ConvReluPool(ConvBlock),
}

/// The training state of a fused convolution + ReLU + pool step.
#[derive(Debug)]
struct ConvBlock {
    /// Index of the convolution layer.
    conv: usize,
    /// Whether the last `forward` ran fused (else the three layers hold their own caches).
    fused: bool,
    /// The convolution's input, kept for backward (buffer reused from step to step).
    input: Option<Tensor>,
    /// Per pooled value, which window position won (see `tensor::NO_WINNER`).
    codes: Vec<u8>,
    /// Whether the last fused `forward` ran as Winograd's (then so does the input gradient).
    winograd: bool,
}

/// The execution plan of `layers`: fused steps where a convolution, a ReLU and a 2x2 max-pool
/// follow each other, single layers elsewhere (everywhere when `fuse` is false).
fn plan(layers: &[Box<dyn Layer>], fuse: bool) -> Vec<Step> {
    let mut steps = Vec::with_capacity(layers.len());
    let mut i = 0;
    while i < layers.len() {
        let kinds = layers[i..].iter().take(3).map(|l| l.fusion());
        if fuse
            && layers[i].as_conv2d().is_some()
            && kinds.eq([Fusion::Conv, Fusion::Relu, Fusion::MaxPool2x2])
        {
            steps.push(Step::ConvReluPool(ConvBlock {
                conv: i,
                fused: false,
                input: None,
                codes: Vec::new(),
                winograd: false,
            }));
            i += 3;
        } else {
            steps.push(Step::Layer(i));
            i += 1;
        }
    }
    steps
}

impl ConvBlock {
    /// The three layers' training forward, fused when the shapes allow (the pool needs a
    /// convolution output of at least 2x2; smaller ones run layer by layer, which reports the
    /// error as it would unfused). Keeps what backward needs.
    fn forward(&mut self, layers: &mut [Box<dyn Layer>], x: Input<'_>) -> Result<Tensor> {
        let c = self.conv;
        match run_fused(conv_at(layers, c)?, x.get(), &mut self.codes, true)? {
            Some((y, winograd)) => {
                self.winograd = winograd;
                match x {
                    Input::Owned(x) => self.input = Some(x),
                    Input::Borrowed(x) => crate::layers::cache_copy(&mut self.input, x),
                }
                self.fused = true;
                Ok(y)
            }
            None => {
                self.fused = false;
                let y = x.forward(&mut *layers[c])?;
                let y = layers[c + 1].forward_owned(y)?;
                layers[c + 2].forward_owned(y)
            }
        }
    }

    /// The three layers' backward (fused if the last forward was).
    fn backward(&mut self, layers: &mut [Box<dyn Layer>], grad_out: &Tensor) -> Result<Tensor> {
        let c = self.conv;
        if !self.fused {
            let g = layers[c + 2].backward(grad_out)?;
            let g = layers[c + 1].backward_owned(g)?;
            return layers[c].backward_owned(g);
        }
        let input = cached(&self.input, "conv")?;
        let conv = conv_at_mut(layers, c)?;
        let g = conv.geometry(input.shape())?;
        grad_out.expect_shape("conv-relu-pool backward", &pooled_shape(&g))?;
        let (weight, bias, input_grad) = conv.parts_mut();
        let mut grad_input = Tensor::zeros(if input_grad {
            input.shape().to_vec()
        } else {
            vec![0]
        });
        let backward = match self.winograd {
            true => tensor::conv2d_relu_pool_backward_winograd,
            false => tensor::conv2d_relu_pool_backward,
        };
        backward(
            input_grad.then_some(grad_input.data_mut()),
            weight.grad.data_mut(),
            bias.grad.data_mut(),
            grad_out.data(),
            &self.codes,
            input.data(),
            weight.value.data(),
            &g,
        )?;
        Ok(grad_input)
    }

    /// The three layers' evaluation forward (fused when the shapes allow), without caching.
    fn infer(&self, layers: &[Box<dyn Layer>], x: &Tensor) -> Result<Tensor> {
        let c = self.conv;
        match run_fused(conv_at(layers, c)?, x, &mut Vec::new(), false)? {
            Some((y, _)) => Ok(y),
            None => {
                let y = layers[c].infer(x)?;
                let y = layers[c + 1].infer(&y)?;
                layers[c + 2].infer(&y)
            }
        }
    }
}

/// A step's input: the caller's batch (borrowed), or the previous step's output, which the
/// step may keep for its backward pass or reshape without a copy.
enum Input<'a> {
    Borrowed(&'a Tensor),
    Owned(Tensor),
}

impl Input<'_> {
    fn get(&self) -> &Tensor {
        match self {
            Input::Borrowed(x) => x,
            Input::Owned(x) => x,
        }
    }

    /// `layer`'s training forward on this input.
    fn forward(self, layer: &mut dyn Layer) -> Result<Tensor> {
        match self {
            Input::Borrowed(x) => layer.forward(x),
            Input::Owned(x) => layer.forward_owned(x),
        }
    }
}

/// `pool(relu(conv(x)))` in one pass, with the window codes in `codes`, and whether it ran
/// as Winograd's; `None` when the convolution output is smaller than the 2x2 window. With
/// `winograd`, a layer that [`tensor::WinogradConv`] takes runs as Winograd's (training's
/// forward); otherwise, and for every other layer, as the layers compute it, to the bit.
fn run_fused(
    conv: &crate::Conv2d,
    x: &Tensor,
    codes: &mut Vec<u8>,
    winograd: bool,
) -> Result<Option<(Tensor, bool)>> {
    let g = conv.geometry(x.shape())?;
    if g.h_out() < 2 || g.w_out() < 2 {
        return Ok(None);
    }
    let (weight, bias) = conv.values();
    let mut y = Tensor::zeros(pooled_shape(&g));
    codes.resize(y.len(), 0);
    if winograd {
        if let Some(fast) = tensor::WinogradConv::for_geometry(weight.data(), bias.data(), &g) {
            fast.forward_batch(y.data_mut(), codes, x.data())?;
            return Ok(Some((y, true)));
        }
    }
    tensor::conv2d_relu_pool_forward(
        y.data_mut(),
        codes,
        x.data(),
        weight.data(),
        bias.data(),
        &g,
    )?;
    Ok(Some((y, false)))
}

/// `[n, c_out, h_out / 2, w_out / 2]`.
fn pooled_shape(g: &tensor::Conv2dGeometry) -> Vec<usize> {
    vec![g.n(), g.c_out(), g.h_out() / 2, g.w_out() / 2]
}

fn not_a_conv(i: usize) -> Error {
    Error::InvalidConfig {
        reason: format!("layer {i} of a fused step is not a convolution"),
    }
}

fn conv_at(layers: &[Box<dyn Layer>], i: usize) -> Result<&crate::Conv2d> {
    layers[i].as_conv2d().ok_or_else(|| not_a_conv(i))
}

fn conv_at_mut(layers: &mut [Box<dyn Layer>], i: usize) -> Result<&mut crate::Conv2d> {
    layers[i].as_conv2d_mut().ok_or_else(|| not_a_conv(i))
}

impl Sequential {
    /// A chain of `layers`. The first layer is told its input needs no gradient.
    pub fn new(mut layers: Vec<Box<dyn Layer>>) -> Self {
        if let Some(first) = layers.first_mut() {
            first.set_input_grad(false);
        }
        let plan = plan(&layers, true);
        Self {
            layers,
            spec: None,
            plan,
        }
    }

    /// Turns fused execution of convolution + ReLU + pool on (the default) or off. Off, every
    /// layer runs on its own: slower, with the same results to the bit. For tests and
    /// benchmarks that compare the two; the next `backward` needs a new `forward`.
    pub fn set_fusion(&mut self, on: bool) {
        self.plan = plan(&self.layers, on);
    }

    /// Records the spec this chain was built from (see [`Sequential::spec`]).
    pub(crate) fn with_spec(mut self, spec: ModelSpec) -> Self {
        self.spec = Some(spec);
        self
    }

    /// The spec this chain was built from by [`ModelSpec::build`] (or a model file), `None`
    /// for a chain assembled by hand. Lets callers pick a specialised implementation, such
    /// as [`FusedSeed`](crate::FusedSeed), for the same network.
    pub fn spec(&self) -> Option<&ModelSpec> {
        self.spec.as_ref()
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// Training forward through every layer, caching for backward.
    ///
    /// # Errors
    /// The first layer error, e.g. [`crate::Error::InputShape`].
    pub fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let Self { layers, plan, .. } = self;
        let mut y: Option<Tensor> = None;
        for step in plan.iter_mut() {
            // Each step after the first owns its input: a layer that keeps it for backward,
            // or only reshapes it, copies nothing.
            let input = y.take().map_or(Input::Borrowed(x), Input::Owned);
            y = Some(match step {
                Step::Layer(i) => input.forward(&mut *layers[*i])?,
                Step::ConvReluPool(block) => block.forward(layers, input)?,
            });
        }
        Ok(y.unwrap_or_else(|| x.clone()))
    }

    /// Backward through every layer in reverse, accumulating parameter gradients. Returns
    /// the gradient for the network input (empty: the first layer skips it).
    ///
    /// # Errors
    /// [`crate::Error::BackwardBeforeForward`] without a forward; shape errors.
    pub fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let Self { layers, plan, .. } = self;
        let mut g: Option<Tensor> = None;
        for step in plan.iter_mut().rev() {
            g = Some(match (step, g.take()) {
                (Step::Layer(i), Some(grad)) => layers[*i].backward_owned(grad)?,
                (Step::Layer(i), None) => layers[*i].backward(grad_out)?,
                (Step::ConvReluPool(block), grad) => {
                    block.backward(layers, grad.as_ref().unwrap_or(grad_out))?
                }
            });
        }
        Ok(g.unwrap_or_else(|| grad_out.clone()))
    }

    /// Evaluation forward: no caching, usable from several threads on a shared model.
    ///
    /// # Errors
    /// The first layer error.
    pub fn infer(&self, x: &Tensor) -> Result<Tensor> {
        let mut y: Option<Tensor> = None;
        for step in &self.plan {
            let input = y.as_ref().unwrap_or(x);
            y = Some(match step {
                Step::Layer(i) => self.layers[*i].infer(input)?,
                Step::ConvReluPool(block) => block.infer(&self.layers, input)?,
            });
        }
        Ok(y.unwrap_or_else(|| x.clone()))
    }

    /// Evaluation forward that keeps every layer's output, in layer order (the last one is
    /// the network output). This is how feature maps "after ReLU" and "after pooling" are
    /// obtained for display.
    ///
    /// # Errors
    /// The first layer error.
    pub fn forward_trace(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let mut outs: Vec<Tensor> = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let y = layer.infer(outs.last().unwrap_or(x))?;
            outs.push(y);
        }
        Ok(outs)
    }

    /// Calls `f` on every parameter with its full name (`0.conv.weight`, ...), in layer order.
    pub fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let kind = layer.name();
            layer.visit_params(&mut |name, p| f(&format!("{i}.{kind}.{name}"), p));
        }
    }

    /// Calls `f` on every parameter with its full name, read-only.
    pub fn visit_params_ref(&self, f: &mut dyn FnMut(&str, &Param)) {
        for (i, layer) in self.layers.iter().enumerate() {
            let kind = layer.name();
            layer.visit_params_ref(&mut |name, p| f(&format!("{i}.{kind}.{name}"), p));
        }
    }

    /// Tells every layer the run's seed and the number of the training step about to run
    /// (see [`Layer::set_step`]): dropout masks are keyed on them.
    pub fn set_step(&mut self, seed: u64, step: u64) {
        for layer in &mut self.layers {
            layer.set_step(seed, step);
        }
    }

    /// Resets every parameter gradient to zero.
    pub fn zero_grad(&mut self) {
        self.visit_params(&mut |_, p| p.grad.fill_zero());
    }

    /// Total number of trainable values.
    pub fn param_count(&self) -> usize {
        let mut count = 0;
        self.visit_params_ref(&mut |_, p| count += p.value.len());
        count
    }
}
