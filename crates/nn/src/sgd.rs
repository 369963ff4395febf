//! Stochastic gradient descent with momentum and weight decay.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::optim::{PARALLEL_VALUES, UPDATE_CHUNK};
use crate::sequential::Sequential;

/// SGD with PyTorch's semantics: `g = grad + weight_decay * w`, `v = momentum * v + g`,
/// `w -= lr * v` (with `v = g` on the first step), or `w -= lr * (g + momentum * v)` with
/// Nesterov momentum. The velocity is kept per named parameter.
///
/// ```
/// # fn main() -> nn::Result<()> {
/// let sgd = nn::Sgd::new(0.05, 0.9, 0.0)?;
/// assert_eq!(sgd.lr(), 0.05);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    nesterov: bool,
    velocity: BTreeMap<String, Vec<f32>>,
}

impl Sgd {
    /// An optimiser with learning rate `lr`, momentum and L2 weight decay.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when `lr` is not finite and positive, or momentum is outside
    /// `[0, 1)`, or weight decay is negative or not finite.
    pub fn new(lr: f32, momentum: f32, weight_decay: f32) -> Result<Self> {
        check_lr_and_decay(lr, weight_decay)?;
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::InvalidConfig {
                reason: format!("momentum must be in [0, 1), got {momentum}"),
            });
        }
        Ok(Self {
            lr,
            momentum,
            weight_decay,
            nesterov: false,
            velocity: BTreeMap::new(),
        })
    }

    /// Switches Nesterov momentum on or off.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when Nesterov is asked for without momentum.
    pub fn with_nesterov(mut self, nesterov: bool) -> Result<Self> {
        if nesterov && self.momentum == 0.0 {
            return Err(Error::InvalidConfig {
                reason: "nesterov needs a momentum above 0".into(),
            });
        }
        self.nesterov = nesterov;
        Ok(self)
    }

    /// Replaces the per-parameter velocity (when resuming from a checkpoint).
    pub(crate) fn set_velocity(&mut self, velocity: BTreeMap<String, Vec<f32>>) {
        self.velocity = velocity;
    }

    /// The learning rate.
    pub fn lr(&self) -> f32 {
        self.lr
    }

    /// Changes the learning rate (for schedules).
    pub fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    /// Applies one update to every parameter of `model` from its accumulated gradient.
    /// Gradients are left as they are: call [`Sequential::zero_grad`] before the next batch.
    pub fn step(&mut self, model: &mut Sequential) {
        let (lr, mu, wd, nesterov) = (self.lr, self.momentum, self.weight_decay, self.nesterov);
        let velocity = &mut self.velocity;
        model.visit_params(&mut |name, p| {
            let w = p.value.data_mut();
            let g = p.grad.data();
            if mu == 0.0 {
                for (w, &g) in w.iter_mut().zip(g) {
                    *w -= lr * (g + wd * *w);
                }
                return;
            }
            let v = velocity
                .entry(name.to_owned())
                .or_insert_with(|| vec![0.0; g.len()]);
            let update = |w: &mut [f32], g: &[f32], v: &mut [f32]| {
                for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                    let g = g + wd * *w;
                    *v = mu * *v + g;
                    *w -= lr * if nesterov { g + mu * *v } else { *v };
                }
            };
            // Each value is updated on its own, so splitting a large parameter (a
            // LeNet-style dense weight: 400k values, 5 MB of weights, gradients and velocity
            // per step) between threads changes no bit.
            if w.len() >= PARALLEL_VALUES {
                w.par_chunks_mut(UPDATE_CHUNK)
                    .zip(g.par_chunks(UPDATE_CHUNK))
                    .zip(v.par_chunks_mut(UPDATE_CHUNK))
                    .for_each(|((w, g), v)| update(w, g, v));
            } else {
                update(w, g, v);
            }
        });
    }
}

/// The settings every optimiser shares: a positive finite learning rate and a non-negative
/// finite weight decay.
pub(crate) fn check_lr_and_decay(lr: f32, weight_decay: f32) -> Result<()> {
    if !(lr.is_finite() && lr > 0.0) {
        return Err(Error::InvalidConfig {
            reason: format!("learning rate must be a positive number, got {lr}"),
        });
    }
    if !(weight_decay.is_finite() && weight_decay >= 0.0) {
        return Err(Error::InvalidConfig {
            reason: format!("weight decay must be zero or positive, got {weight_decay}"),
        });
    }
    Ok(())
}

impl crate::optim::Optimizer for Sgd {
    fn step(&mut self, model: &mut Sequential) {
        Sgd::step(self, model);
    }

    fn lr(&self) -> f32 {
        self.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    fn state(&self) -> crate::optim::OptimizerState {
        crate::optim::OptimizerState::Sgd {
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            nesterov: self.nesterov,
            velocity: crate::optim::pack(&self.velocity),
        }
    }
}
