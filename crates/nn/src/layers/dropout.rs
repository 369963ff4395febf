//! Dropout.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::{unit_f32, Tensor};

use crate::error::{Error, Result};
use crate::layer::{cached, Layer};

/// Inverted dropout: in training each value is zeroed with probability `rate` and the rest
/// are scaled by `1 / (1 - rate)`; in evaluation (`infer`) it is the identity.
///
/// The mask of a training step is drawn from a ChaCha8 stream keyed by the run's seed, the
/// layer's position and the step number, all given by [`Layer::set_step`], so a run is
/// reproducible from its seed and a resumed run draws exactly the masks an uninterrupted one
/// would (whatever seed initialised the weights).
#[derive(Debug, Clone)]
pub struct Dropout {
    rate: f32,
    salt: u64,
    seed: u64,
    step: u64,
    mask: Option<Vec<f32>>,
}

impl Dropout {
    /// Dropout with probability `rate` in `[0, 1)`; `salt` tells this layer's masks from
    /// those of other dropout layers of the same network (e.g. its position).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when `rate` is outside `[0, 1)`.
    pub fn new(rate: f32, salt: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::InvalidConfig {
                reason: format!("dropout rate must be in [0, 1), got {rate}"),
            });
        }
        Ok(Self {
            rate,
            salt,
            seed: 0,
            step: 0,
            mask: None,
        })
    }

    /// The drop probability.
    pub fn rate(&self) -> f32 {
        self.rate
    }
}

impl Layer for Dropout {
    fn name(&self) -> &'static str {
        "dropout"
    }

    /// # Shapes
    /// any shape -> the same shape.
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ self.salt);
        rng.set_stream(self.step);
        let keep = 1.0 - self.rate;
        let scale = 1.0 / keep;
        let mask: Vec<f32> = (0..x.len())
            .map(|_| {
                if unit_f32(rng.next_u32()) < keep {
                    scale
                } else {
                    0.0
                }
            })
            .collect();
        let mut y = x.clone();
        y.data_mut()
            .iter_mut()
            .zip(&mask)
            .for_each(|(v, m)| *v *= m);
        self.mask = Some(mask);
        Ok(y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let mask = cached(&self.mask, "dropout")?;
        if grad_out.len() != mask.len() {
            return Err(Error::InputShape {
                layer: "dropout",
                expected: format!("a gradient of {} values", mask.len()),
                got: grad_out.shape().to_vec(),
            });
        }
        let mut g = grad_out.clone();
        g.data_mut().iter_mut().zip(mask).for_each(|(v, m)| *v *= m);
        Ok(g)
    }

    fn infer(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }

    fn set_step(&mut self, seed: u64, step: u64) {
        self.seed = seed;
        self.step = step;
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_is_identity_in_eval_and_rescales_in_training() {
        let mut d = Dropout::new(0.5, 3).unwrap();
        let x = Tensor::full(vec![1, 1000], 1.0);
        assert_eq!(d.infer(&x).unwrap(), x);
        let y = d.forward(&x).unwrap();
        // Kept values are scaled by 1 / (1 - 0.5) = 2, so the mean stays near 1.
        assert!(y.data().iter().all(|&v| v == 0.0 || v == 2.0));
        let mean = y.data().iter().sum::<f32>() / 1000.0;
        assert!((mean - 1.0).abs() < 0.1, "{mean}");
        // The gradient goes through the same mask.
        let g = d.backward(&Tensor::full(vec![1, 1000], 1.0)).unwrap();
        assert_eq!(g, y);
    }

    #[test]
    fn dropout_mask_depends_on_seed_salt_and_step_only() {
        let x = Tensor::full(vec![1, 64], 1.0);
        let mut a = Dropout::new(0.25, 9).unwrap();
        let mut b = Dropout::new(0.25, 9).unwrap();
        a.set_step(1, 5);
        b.set_step(1, 5);
        assert_eq!(a.forward(&x).unwrap(), b.forward(&x).unwrap());
        b.set_step(1, 6);
        assert_ne!(a.forward(&x).unwrap(), b.forward(&x).unwrap());
        b.set_step(2, 5);
        assert_ne!(a.forward(&x).unwrap(), b.forward(&x).unwrap());
    }

    #[test]
    fn dropout_rejects_rate_of_one() {
        assert!(Dropout::new(1.0, 0).is_err());
    }
}
