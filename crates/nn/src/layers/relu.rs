//! Rectified linear unit.

use tensor::Tensor;

use crate::error::Result;
use crate::layer::{cached, Fusion, Layer};

/// `max(x, 0)` element-wise. Caches its output: `y > 0` exactly where `x > 0`, which is all
/// backward needs.
#[derive(Debug, Clone, Default)]
pub struct Relu {
    output: Option<Tensor>,
}

impl Relu {
    /// A ReLU layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Layer for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    /// # Shapes
    /// any shape -> the same shape.
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let y = self.infer(x)?;
        super::cache_copy(&mut self.output, &y);
        Ok(y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let y = cached(&self.output, "relu")?;
        grad_out.expect_shape("relu backward", y.shape())?;
        let mut gi = Tensor::zeros(y.shape().to_vec());
        tensor::relu_backward(gi.data_mut(), grad_out.data(), y.data())?;
        Ok(gi)
    }

    fn infer(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = Tensor::zeros(x.shape().to_vec());
        tensor::relu_forward(y.data_mut(), x.data())?;
        Ok(y)
    }

    fn fusion(&self) -> Fusion {
        Fusion::Relu
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_zeroes_negatives_and_blocks_their_gradient() {
        let mut r = Relu::new();
        let x = Tensor::from_vec(vec![4], vec![-2.0, -0.0, 0.5, 3.0]).unwrap();
        assert_eq!(r.forward(&x).unwrap().data(), &[0.0, 0.0, 0.5, 3.0]);
        let g = Tensor::from_vec(vec![4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        // d max(x, 0)/dx = 1 for x > 0, 0 otherwise (0 at x = 0, as in PyTorch).
        assert_eq!(r.backward(&g).unwrap().data(), &[0.0, 0.0, 3.0, 4.0]);
    }
}
