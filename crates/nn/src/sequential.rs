//! [`Sequential`]: a chain of layers run in order.

use tensor::Tensor;

use crate::error::Result;
use crate::layer::{Layer, Param};
use crate::spec::ModelSpec;

/// Layers applied one after another. Parameters are named `{index}.{layer}.{param}`, e.g.
/// `0.conv.weight` or `4.dense.bias`: stable names for optimisers and model files.
#[derive(Debug)]
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
    spec: Option<ModelSpec>,
}

impl Sequential {
    /// A chain of `layers`. The first layer is told its input needs no gradient.
    pub fn new(mut layers: Vec<Box<dyn Layer>>) -> Self {
        if let Some(first) = layers.first_mut() {
            first.set_input_grad(false);
        }
        Self { layers, spec: None }
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
        let mut layers = self.layers.iter_mut();
        let Some(first) = layers.next() else {
            return Ok(x.clone());
        };
        let mut y = first.forward(x)?;
        for layer in layers {
            y = layer.forward(&y)?;
        }
        Ok(y)
    }

    /// Backward through every layer in reverse, accumulating parameter gradients. Returns
    /// the gradient for the network input (empty: the first layer skips it).
    ///
    /// # Errors
    /// [`crate::Error::BackwardBeforeForward`] without a forward; shape errors.
    pub fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let mut g = grad_out.clone();
        for layer in self.layers.iter_mut().rev() {
            g = layer.backward(&g)?;
        }
        Ok(g)
    }

    /// Evaluation forward: no caching, usable from several threads on a shared model.
    ///
    /// # Errors
    /// The first layer error.
    pub fn infer(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = x.clone();
        for layer in &self.layers {
            y = layer.infer(&y)?;
        }
        Ok(y)
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
