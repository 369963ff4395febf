//! 2-d convolution layer.

use rand::RngCore;
use tensor::{Conv2dGeometry, Tensor};

use crate::error::{Error, Result};
use crate::init::fan_in_uniform;
use crate::layer::{cached, Fusion, Layer, Param};

/// Sizes of a [`Conv2d`] layer (the input channel count comes from the previous layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Number of filters (output channels).
    pub filters: usize,
    /// Side of the square kernel.
    pub kernel: usize,
    /// Stride along both axes.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
}

impl Default for Conv2dConfig {
    /// The seed network's convolution: 8 filters of 3x3, stride 1, no padding.
    fn default() -> Self {
        Self {
            filters: 8,
            kernel: 3,
            stride: 1,
            padding: 0,
        }
    }
}

/// A 2-d convolution with bias: `weight [c_out, c_in, k, k]`, `bias [c_out]`.
#[derive(Debug, Clone)]
pub struct Conv2d {
    c_in: usize,
    config: Conv2dConfig,
    weight: Param,
    bias: Param,
    input: Option<Tensor>,
    input_grad: bool,
}

impl Conv2d {
    /// A convolution over `c_in` channels with fan-in scaled random weights drawn from `rng`
    /// (weight first, then bias).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when a size is zero.
    ///
    /// ```
    /// use nn::{Conv2d, Conv2dConfig, Layer};
    /// use rand::SeedableRng;
    /// # fn main() -> nn::Result<()> {
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    /// let conv = Conv2d::new(1, Conv2dConfig::default(), &mut rng)?;
    /// let y = conv.infer(&tensor::Tensor::zeros(vec![2, 1, 28, 28]))?;
    /// assert_eq!(y.shape(), &[2, 8, 26, 26]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(c_in: usize, config: Conv2dConfig, rng: &mut dyn RngCore) -> Result<Self> {
        let Conv2dConfig {
            filters,
            kernel,
            stride,
            ..
        } = config;
        if c_in == 0 || filters == 0 || kernel == 0 || stride == 0 {
            return Err(Error::InvalidConfig {
                reason: format!(
                    "conv2d needs positive channels ({c_in}), filters ({filters}), kernel ({kernel}) and stride ({stride})"
                ),
            });
        }
        let fan_in = c_in * kernel * kernel;
        let weight = fan_in_uniform(vec![filters, c_in, kernel, kernel], fan_in, rng);
        let bias = fan_in_uniform(vec![filters], fan_in, rng);
        Ok(Self {
            c_in,
            config,
            weight: Param::new(weight),
            bias: Param::new(bias),
            input: None,
            input_grad: true,
        })
    }

    /// The layer's sizes.
    pub fn config(&self) -> Conv2dConfig {
        self.config
    }

    /// The weight and bias parameters, and whether backward must compute dL/d input.
    pub(crate) fn parts_mut(&mut self) -> (&mut Param, &mut Param, bool) {
        (&mut self.weight, &mut self.bias, self.input_grad)
    }

    /// The weight and bias values.
    pub(crate) fn values(&self) -> (&Tensor, &Tensor) {
        (&self.weight.value, &self.bias.value)
    }

    /// The geometry of this convolution on a batch of `shape` `[n, c_in, h, w]`.
    pub(crate) fn geometry(&self, shape: &[usize]) -> Result<Conv2dGeometry> {
        let bad = || Error::InputShape {
            layer: "conv",
            expected: format!(
                "[n, {}, h, w] with h, w >= {} - 2 * padding",
                self.c_in, self.config.kernel
            ),
            got: shape.to_vec(),
        };
        let &[n, c, h, w] = shape else {
            return Err(bad());
        };
        if c != self.c_in {
            return Err(bad());
        }
        let k = self.config.kernel;
        Conv2dGeometry::new(
            [n, c, h, w],
            self.config.filters,
            [k, k],
            self.config.stride,
            self.config.padding,
        )
        .map_err(|_| bad())
    }
}

impl Layer for Conv2d {
    fn name(&self) -> &'static str {
        "conv"
    }

    /// # Shapes
    /// input `[n, c_in, h, w]` -> output `[n, filters, (h + 2p - k) / s + 1, (w + 2p - k) / s + 1]`.
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let y = self.infer(x)?;
        super::cache_copy(&mut self.input, x);
        Ok(y)
    }

    /// Keeps the input itself for backward (no copy).
    fn forward_owned(&mut self, x: Tensor) -> Result<Tensor> {
        let y = self.infer(&x)?;
        self.input = Some(x);
        Ok(y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let input = cached(&self.input, "conv")?;
        let g = self.geometry(input.shape())?;
        grad_out.expect_shape("conv backward", &g.output_shape())?;
        let mut grad_input = Tensor::zeros(if self.input_grad {
            input.shape().to_vec()
        } else {
            vec![0]
        });
        tensor::conv2d_backward(
            self.input_grad.then_some(grad_input.data_mut()),
            self.weight.grad.data_mut(),
            self.bias.grad.data_mut(),
            grad_out.data(),
            input.data(),
            self.weight.value.data(),
            &g,
        )?;
        Ok(grad_input)
    }

    fn infer(&self, x: &Tensor) -> Result<Tensor> {
        let g = self.geometry(x.shape())?;
        let mut y = Tensor::zeros(g.output_shape().to_vec());
        tensor::conv2d_forward(
            y.data_mut(),
            x.data(),
            self.weight.value.data(),
            self.bias.value.data(),
            &g,
        )?;
        Ok(y)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight", &mut self.weight);
        f("bias", &mut self.bias);
    }

    fn visit_params_ref(&self, f: &mut dyn FnMut(&str, &Param)) {
        f("weight", &self.weight);
        f("bias", &self.bias);
    }

    fn set_input_grad(&mut self, needed: bool) {
        self.input_grad = needed;
    }

    fn fusion(&self) -> Fusion {
        Fusion::Conv
    }

    fn as_conv2d(&self) -> Option<&Conv2d> {
        Some(self)
    }

    fn as_conv2d_mut(&mut self) -> Option<&mut Conv2d> {
        Some(self)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let mut batched = vec![1];
        batched.extend_from_slice(input);
        let g = self.geometry(&batched)?;
        Ok(g.output_shape()[1..].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn conv(c_in: usize, config: Conv2dConfig) -> Conv2d {
        Conv2d::new(c_in, config, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0)).unwrap()
    }

    #[test]
    fn conv_rejects_wrong_channel_count() {
        let c = conv(1, Conv2dConfig::default());
        let err = c.infer(&Tensor::zeros(vec![4, 3, 28, 28])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "conv: expected input [n, 1, h, w] with h, w >= 3 - 2 * padding, got [4, 3, 28, 28]"
        );
    }

    #[test]
    fn conv_backward_before_forward_is_an_error() {
        let mut c = conv(1, Conv2dConfig::default());
        let err = c.backward(&Tensor::zeros(vec![1, 8, 26, 26])).unwrap_err();
        assert_eq!(err.to_string(), "conv: backward called before forward");
    }

    #[test]
    fn conv_of_constant_image_with_unit_filter_sums_the_window() {
        // One 3x3 filter of ones, bias 0: each output is the sum of 9 inputs of 2.0 = 18.
        let mut c = conv(
            1,
            Conv2dConfig {
                filters: 1,
                ..Conv2dConfig::default()
            },
        );
        c.visit_params(&mut |name, p| {
            let v = if name == "weight" { 1.0 } else { 0.0 };
            p.value.data_mut().fill(v);
        });
        let y = c.infer(&Tensor::full(vec![1, 1, 5, 5], 2.0)).unwrap();
        assert_eq!(y.shape(), &[1, 1, 3, 3]);
        assert!(y.data().iter().all(|&v| v == 18.0));
    }

    #[test]
    fn init_bounds_follow_fan_in() {
        // fan_in = 1 * 3 * 3 = 9, so every value lies in [-1/3, 1/3).
        let c = conv(1, Conv2dConfig::default());
        c.visit_params_ref(&mut |_, p| {
            assert!(p.value.data().iter().all(|v| v.abs() <= 1.0 / 3.0));
        });
    }
}
