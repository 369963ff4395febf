//! The [`Layer`] trait and the [`Param`] it exposes to optimisers and model files.

use tensor::Tensor;

use crate::error::Result;

/// A trainable tensor and the gradient accumulated for it since the last
/// [`Sequential::zero_grad`](crate::Sequential::zero_grad).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The current value.
    pub value: Tensor,
    /// dL/d value, summed over every `backward` since the last reset.
    pub grad: Tensor,
}

impl Param {
    /// A parameter with the given value and a zero gradient of the same shape.
    pub fn new(value: Tensor) -> Self {
        let grad = Tensor::zeros(value.shape().to_vec());
        Self { value, grad }
    }
}

/// Which built-in layer a [`Layer`] is, for the patterns [`Sequential`](crate::Sequential)
/// runs fused: a convolution, a ReLU and a 2x2 max-pool in a row run as one pass
/// (bit-identical to running them one by one, with less memory traffic). Layers that keep the
/// default, [`Fusion::None`], always run on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fusion {
    /// Not part of any fused pattern.
    None,
    /// [`Conv2d`](crate::Conv2d) (which also answers [`Layer::as_conv2d`]).
    Conv,
    /// [`Relu`](crate::Relu).
    Relu,
    /// [`MaxPool2x2`](crate::MaxPool2x2).
    MaxPool2x2,
}

/// One step of a network, with an explicit forward and backward pass.
///
/// - [`forward`](Layer::forward) computes the output and caches what `backward` needs (ReLU
///   its output, max-pool its argmax, convolution and dense their input, flatten the input
///   shape);
/// - [`backward`](Layer::backward) takes dL/d output, returns dL/d input and **adds** dL/d
///   parameter to each parameter's `grad`;
/// - [`infer`](Layer::infer) computes the same output as `forward` without caching, so a
///   shared model can serve several threads;
/// - [`visit_params`](Layer::visit_params) hands each parameter to a closure under a stable
///   name (`"weight"`, `"bias"`): optimisers, parameter counts and model files all use it.
pub trait Layer: Send + Sync + std::fmt::Debug {
    /// A short name for display and parameter names: `conv`, `relu`, `pool`, `flatten`,
    /// `dense`.
    fn name(&self) -> &'static str;

    /// Forward pass for training: computes the output and caches what backward needs.
    ///
    /// # Errors
    /// [`crate::Error::InputShape`] when the input does not fit the layer.
    fn forward(&mut self, x: &Tensor) -> Result<Tensor>;

    /// Backward pass: returns dL/d input for `grad_out` = dL/d output and accumulates
    /// parameter gradients.
    ///
    /// # Errors
    /// [`crate::Error::BackwardBeforeForward`] without a cached forward;
    /// [`crate::Error::Tensor`] when `grad_out` does not match the cached output's shape.
    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor>;

    /// [`forward`](Layer::forward) on an input the caller gives away, for layers that keep
    /// their input for backward or can reshape it in place: no copy. The same result.
    ///
    /// # Errors
    /// Those of [`forward`](Layer::forward).
    fn forward_owned(&mut self, x: Tensor) -> Result<Tensor> {
        self.forward(&x)
    }

    /// [`backward`](Layer::backward) on a gradient the caller gives away. The same result.
    ///
    /// # Errors
    /// Those of [`backward`](Layer::backward).
    fn backward_owned(&mut self, grad_out: Tensor) -> Result<Tensor> {
        self.backward(&grad_out)
    }

    /// Forward pass without caching (evaluation).
    ///
    /// # Errors
    /// [`crate::Error::InputShape`] when the input does not fit the layer.
    fn infer(&self, x: &Tensor) -> Result<Tensor>;

    /// Calls `f` on each parameter with its name. Layers without parameters do nothing.
    fn visit_params(&mut self, _f: &mut dyn FnMut(&str, &mut Param)) {}

    /// Calls `f` on each parameter with its name, read-only.
    fn visit_params_ref(&self, _f: &mut dyn FnMut(&str, &Param)) {}

    /// Tells the layer the run's seed and the number of the training step about to run
    /// (0-based, counted over the whole run). Layers with randomness in training (dropout) key
    /// their draws on both, so runs are reproducible and resumable; the others ignore them.
    fn set_step(&mut self, _seed: u64, _step: u64) {}

    /// Tells the layer whether its `backward` must compute dL/d input. The first layer of a
    /// network does not need it; skipping it saves work. Defaults to needed.
    fn set_input_grad(&mut self, _needed: bool) {}

    /// Which built-in layer this is (see [`Fusion`]). Defaults to [`Fusion::None`].
    fn fusion(&self) -> Fusion {
        Fusion::None
    }

    /// This layer as a [`Conv2d`](crate::Conv2d), if it is one (for fused execution).
    fn as_conv2d(&self) -> Option<&crate::Conv2d> {
        None
    }

    /// This layer as a mutable [`Conv2d`](crate::Conv2d), if it is one.
    fn as_conv2d_mut(&mut self) -> Option<&mut crate::Conv2d> {
        None
    }

    /// Shape of one sample's output for one sample's input shape (no batch dimension).
    ///
    /// # Errors
    /// [`crate::Error::InputShape`] when the layer cannot take that input.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>>;
}

/// Takes the value cached by `forward`, or says backward came first.
pub(crate) fn cached<'a, T>(cache: &'a Option<T>, layer: &'static str) -> Result<&'a T> {
    cache
        .as_ref()
        .ok_or(crate::Error::BackwardBeforeForward { layer })
}
