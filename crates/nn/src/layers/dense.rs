//! Fully connected layer.

use rand::RngCore;
use tensor::Tensor;

use crate::error::{Error, Result};
use crate::init::fan_in_uniform;
use crate::layer::{cached, Layer, Param};

/// `y = x · weightᵀ + bias` with `weight [out, in]` (PyTorch's layout) and `bias [out]`.
#[derive(Debug, Clone)]
pub struct Dense {
    weight: Param,
    bias: Param,
    input: Option<Tensor>,
    input_grad: bool,
}

impl Dense {
    /// A dense layer from `inputs` to `outputs` features with fan-in scaled random weights
    /// drawn from `rng` (weight first, then bias).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when a size is zero.
    ///
    /// ```
    /// use nn::{Dense, Layer};
    /// use rand::SeedableRng;
    /// # fn main() -> nn::Result<()> {
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    /// let dense = Dense::new(1352, 10, &mut rng)?;
    /// let logits = dense.infer(&tensor::Tensor::zeros(vec![4, 1352]))?;
    /// assert_eq!(logits.shape(), &[4, 10]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(inputs: usize, outputs: usize, rng: &mut dyn RngCore) -> Result<Self> {
        if inputs == 0 || outputs == 0 {
            return Err(Error::InvalidConfig {
                reason: format!("dense needs positive sizes, got {inputs} -> {outputs}"),
            });
        }
        let weight = fan_in_uniform(vec![outputs, inputs], inputs, rng);
        let bias = fan_in_uniform(vec![outputs], inputs, rng);
        Ok(Self {
            weight: Param::new(weight),
            bias: Param::new(bias),
            input: None,
            input_grad: true,
        })
    }

    /// `(inputs, outputs)`.
    pub fn sizes(&self) -> (usize, usize) {
        let s = self.weight.value.shape();
        (s[1], s[0])
    }

    fn check(&self, shape: &[usize]) -> Result<usize> {
        let (inputs, _) = self.sizes();
        match *shape {
            [n, f] if f == inputs => Ok(n),
            _ => Err(Error::InputShape {
                layer: "dense",
                expected: format!("[n, {inputs}]"),
                got: shape.to_vec(),
            }),
        }
    }
}

impl Layer for Dense {
    fn name(&self) -> &'static str {
        "dense"
    }

    /// # Shapes
    /// input `[n, in]` -> output `[n, out]`.
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
        let x = cached(&self.input, "dense")?;
        let (inputs, outputs) = self.sizes();
        let n = self.check(x.shape())?;
        grad_out.expect_shape("dense backward", &[n, outputs])?;
        // grad_weight[out, in] += grad_outᵀ[out, n] · x[n, in]
        tensor::matmul_tn_add(
            self.weight.grad.data_mut(),
            grad_out.data(),
            x.data(),
            outputs,
            n,
            inputs,
        )?;
        // grad_bias[out] += Σ_n grad_out[n, out], rows added in batch order.
        if outputs > 0 {
            for row in grad_out.data().chunks_exact(outputs) {
                self.bias
                    .grad
                    .data_mut()
                    .iter_mut()
                    .zip(row)
                    .for_each(|(b, g)| *b += g);
            }
        }
        if !self.input_grad {
            return Ok(Tensor::zeros(vec![0]));
        }
        // grad_input[n, in] = grad_out[n, out] · weight[out, in]
        let mut gi = Tensor::zeros(vec![n, inputs]);
        tensor::matmul_into(
            gi.data_mut(),
            grad_out.data(),
            self.weight.value.data(),
            n,
            outputs,
            inputs,
        )?;
        Ok(gi)
    }

    fn infer(&self, x: &Tensor) -> Result<Tensor> {
        let n = self.check(x.shape())?;
        let (inputs, outputs) = self.sizes();
        let mut y = Tensor::zeros(vec![n, outputs]);
        tensor::matmul_nt_into(
            y.data_mut(),
            x.data(),
            self.weight.value.data(),
            n,
            inputs,
            outputs,
        )?;
        if outputs > 0 {
            for row in y.data_mut().chunks_exact_mut(outputs) {
                row.iter_mut()
                    .zip(self.bias.value.data())
                    .for_each(|(v, b)| *v += b);
            }
        }
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

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let mut batched = vec![1];
        batched.extend_from_slice(input);
        self.check(&batched)?;
        Ok(vec![self.sizes().1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn dense_computes_affine_map_and_its_gradients() {
        let mut d = Dense::new(2, 1, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0)).unwrap();
        d.visit_params(&mut |name, p| {
            let v: &[f32] = if name == "weight" {
                &[2.0, -1.0]
            } else {
                &[0.5]
            };
            p.value.data_mut().copy_from_slice(v);
        });
        // y = 2 * 3 - 1 * 4 + 0.5 = 2.5
        let x = Tensor::from_vec(vec![1, 2], vec![3.0, 4.0]).unwrap();
        assert_eq!(d.forward(&x).unwrap().data(), &[2.5]);
        // dy/dx = weight, dy/dw = x, dy/db = 1, all scaled by grad_out = 2.
        let gi = d
            .backward(&Tensor::from_vec(vec![1, 1], vec![2.0]).unwrap())
            .unwrap();
        assert_eq!(gi.data(), &[4.0, -2.0]);
        d.visit_params_ref(&mut |name, p| {
            let want: &[f32] = if name == "weight" {
                &[6.0, 8.0]
            } else {
                &[2.0]
            };
            assert_eq!(p.grad.data(), want, "{name}");
        });
    }

    #[test]
    fn dense_rejects_unflattened_input() {
        let d = Dense::new(1352, 10, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0)).unwrap();
        let err = d.infer(&Tensor::zeros(vec![1, 8, 13, 13])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dense: expected input [n, 1352], got [1, 8, 13, 13]"
        );
    }
}
