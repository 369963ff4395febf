//! Flatten: per-sample feature maps to one vector.

use tensor::Tensor;

use crate::error::{Error, Result};
use crate::layer::{cached, Layer};

/// Reshapes `[n, d1, d2, ...]` to `[n, d1 * d2 * ...]`; backward reshapes the gradient back.
#[derive(Debug, Clone, Default)]
pub struct Flatten {
    input_shape: Option<Vec<usize>>,
}

impl Flatten {
    /// A flatten layer.
    pub fn new() -> Self {
        Self::default()
    }

    fn flat_shape(shape: &[usize]) -> Result<Vec<usize>> {
        match shape {
            [n, rest @ ..] if !rest.is_empty() => Ok(vec![*n, rest.iter().product()]),
            _ => Err(Error::InputShape {
                layer: "flatten",
                expected: "[n, ...] with at least 2 dimensions".into(),
                got: shape.to_vec(),
            }),
        }
    }
}

impl Layer for Flatten {
    fn name(&self) -> &'static str {
        "flatten"
    }

    /// # Shapes
    /// input `[n, c, h, w]` -> output `[n, c * h * w]`.
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        self.forward_owned(x.clone())
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        self.backward_owned(grad_out.clone())
    }

    /// The input itself, reshaped (no copy).
    fn forward_owned(&mut self, x: Tensor) -> Result<Tensor> {
        let shape = Self::flat_shape(x.shape())?;
        self.input_shape = Some(x.shape().to_vec());
        Ok(x.reshape(shape)?)
    }

    /// The gradient itself, reshaped (no copy).
    fn backward_owned(&mut self, grad_out: Tensor) -> Result<Tensor> {
        let shape = cached(&self.input_shape, "flatten")?;
        grad_out.expect_shape("flatten backward", &Self::flat_shape(shape)?)?;
        Ok(grad_out.reshape(shape.clone())?)
    }

    fn infer(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone().reshape(Self::flat_shape(x.shape())?)?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(vec![input.iter().product()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_keeps_batch_and_restores_shape_in_backward() {
        let mut f = Flatten::new();
        let x = Tensor::zeros(vec![2, 8, 13, 13]);
        assert_eq!(f.forward(&x).unwrap().shape(), &[2, 1352]);
        assert_eq!(
            f.backward(&Tensor::zeros(vec![2, 1352])).unwrap().shape(),
            &[2, 8, 13, 13]
        );
    }
}
