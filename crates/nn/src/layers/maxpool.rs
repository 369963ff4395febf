//! 2x2 max pooling.

use tensor::Tensor;

use crate::error::{Error, Result};
use crate::layer::{cached, Fusion, Layer};

/// 2x2 max pooling with stride 2 (an odd last row or column is dropped). Caches the argmax of
/// every window so backward routes each gradient to the value that won.
#[derive(Debug, Clone, Default)]
pub struct MaxPool2x2 {
    cache: Option<(Vec<usize>, Vec<u32>)>,
}

impl MaxPool2x2 {
    /// A 2x2 max-pool layer.
    pub fn new() -> Self {
        Self::default()
    }

    fn check(shape: &[usize]) -> Result<(usize, usize, usize, usize)> {
        match *shape {
            [n, c, h, w] if h >= 2 && w >= 2 => Ok((n, c, h, w)),
            _ => Err(Error::InputShape {
                layer: "pool",
                expected: "[n, c, h, w] with h, w >= 2".into(),
                got: shape.to_vec(),
            }),
        }
    }

    fn pool(x: &Tensor) -> Result<(Tensor, Vec<u32>)> {
        let (n, c, h, w) = Self::check(x.shape())?;
        let mut y = Tensor::zeros(vec![n, c, h / 2, w / 2]);
        let mut argmax = vec![0u32; y.len()];
        tensor::maxpool2x2_forward(y.data_mut(), &mut argmax, x.data(), n * c, h, w)?;
        Ok((y, argmax))
    }
}

impl Layer for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "pool"
    }

    /// # Shapes
    /// input `[n, c, h, w]` -> output `[n, c, h / 2, w / 2]`.
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let (y, argmax) = Self::pool(x)?;
        self.cache = Some((x.shape().to_vec(), argmax));
        Ok(y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let (shape, argmax) = cached(&self.cache, "pool")?;
        let (n, c, h, w) = Self::check(shape)?;
        grad_out.expect_shape("pool backward", &[n, c, h / 2, w / 2])?;
        let mut gi = Tensor::zeros(shape.clone());
        tensor::maxpool2x2_backward(gi.data_mut(), grad_out.data(), argmax, n * c, h, w)?;
        Ok(gi)
    }

    fn infer(&self, x: &Tensor) -> Result<Tensor> {
        Ok(Self::pool(x)?.0)
    }

    fn fusion(&self) -> Fusion {
        Fusion::MaxPool2x2
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let mut batched = vec![1];
        batched.extend_from_slice(input);
        let (_, c, h, w) = Self::check(&batched)?;
        Ok(vec![c, h / 2, w / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxpool_routes_gradient_to_argmax() {
        let mut p = MaxPool2x2::new();
        // One 2x4 plane: windows [1 5 / 0 3] and [2 0 / 4 9]... laid out row-major.
        let x = Tensor::from_vec(
            vec![1, 1, 2, 4],
            vec![1.0, 5.0, 2.0, 0.0, 0.0, 3.0, 4.0, 9.0],
        )
        .unwrap();
        assert_eq!(p.forward(&x).unwrap().data(), &[5.0, 9.0]);
        let g = Tensor::from_vec(vec![1, 1, 1, 2], vec![10.0, 20.0]).unwrap();
        assert_eq!(
            p.backward(&g).unwrap().data(),
            &[0.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0]
        );
    }

    #[test]
    fn maxpool_rejects_flat_input() {
        let err = MaxPool2x2::new()
            .infer(&Tensor::zeros(vec![2, 10]))
            .unwrap_err();
        assert!(err.to_string().starts_with("pool: expected input"), "{err}");
    }
}
