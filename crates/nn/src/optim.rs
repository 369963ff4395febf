//! The [`Optimizer`] trait, [`Adam`] / AdamW, and optimiser state for checkpoints.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model_file::TensorData;
use crate::sequential::Sequential;
use crate::sgd::Sgd;

/// Parameters of at least this many values are updated by several threads (a LeNet-style
/// dense weight: 400k values; its weights, gradients and optimiser state are megabytes).
pub(crate) const PARALLEL_VALUES: usize = 1 << 16;
/// Values per parallel task of an update.
pub(crate) const UPDATE_CHUNK: usize = 1 << 14;

/// Something that updates a model's parameters from their accumulated gradients.
pub trait Optimizer: Send + std::fmt::Debug {
    /// Applies one update to every parameter of `model`.
    fn step(&mut self, model: &mut Sequential);
    /// The current learning rate.
    fn lr(&self) -> f32;
    /// Sets the learning rate (schedules call this before each step).
    fn set_lr(&mut self, lr: f32);
    /// Everything needed to continue exactly where this optimiser is (for checkpoints).
    fn state(&self) -> OptimizerState;
}

/// An optimiser's settings and running state, as stored in a checkpoint. Per-parameter
/// buffers are keyed by parameter name and stored bit-exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerState {
    /// [`Sgd`].
    Sgd {
        /// Learning rate.
        lr: f32,
        /// Momentum.
        momentum: f32,
        /// L2 weight decay.
        weight_decay: f32,
        /// Nesterov momentum.
        nesterov: bool,
        /// Velocity per parameter.
        velocity: BTreeMap<String, TensorData>,
    },
    /// [`Adam`].
    Adam {
        /// Learning rate.
        lr: f32,
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Denominator guard.
        eps: f32,
        /// Weight decay (L2 for Adam, decoupled for AdamW).
        weight_decay: f32,
        /// `true` for AdamW.
        decoupled: bool,
        /// Steps taken.
        t: u64,
        /// First moments per parameter.
        m: BTreeMap<String, TensorData>,
        /// Second moments per parameter.
        v: BTreeMap<String, TensorData>,
    },
}

impl OptimizerState {
    /// Rebuilds the optimiser.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when a setting is out of range.
    pub fn into_optimizer(self) -> Result<Box<dyn Optimizer>> {
        let unpack =
            |map: BTreeMap<String, TensorData>| map.into_iter().map(|(k, t)| (k, t.data)).collect();
        Ok(match self {
            OptimizerState::Sgd {
                lr,
                momentum,
                weight_decay,
                nesterov,
                velocity,
            } => {
                let mut sgd = Sgd::new(lr, momentum, weight_decay)?.with_nesterov(nesterov)?;
                sgd.set_velocity(unpack(velocity));
                Box::new(sgd)
            }
            OptimizerState::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
                t,
                m,
                v,
            } => {
                let mut adam = Adam::new(lr, beta1, beta2, eps, weight_decay, decoupled)?;
                adam.t = t;
                adam.m = unpack(m);
                adam.v = unpack(v);
                Box::new(adam)
            }
        })
    }
}

/// Stores per-parameter buffers bit-exactly.
pub(crate) fn pack(map: &BTreeMap<String, Vec<f32>>) -> BTreeMap<String, TensorData> {
    map.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                TensorData {
                    shape: vec![v.len()],
                    data: v.clone(),
                },
            )
        })
        .collect()
}

/// Adam (Kingma & Ba) with bias correction, or AdamW (decoupled weight decay, Loshchilov &
/// Hutter) — PyTorch's semantics for both:
/// `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g²`,
/// `w -= lr · (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`; Adam adds `wd · w` to `g`,
/// AdamW multiplies `w` by `1 - lr · wd` first.
///
/// ```
/// use nn::Optimizer;
/// # fn main() -> nn::Result<()> {
/// let adam = nn::Adam::new(1e-3, 0.9, 0.999, 1e-8, 0.01, true)?;
/// assert_eq!(adam.lr(), 1e-3);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled: bool,
    t: u64,
    m: BTreeMap<String, Vec<f32>>,
    v: BTreeMap<String, Vec<f32>>,
}

impl Adam {
    /// Adam (`decoupled = false`) or AdamW (`decoupled = true`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when `lr` or `eps` is not positive, a beta is outside `[0, 1)`
    /// or the weight decay is negative.
    pub fn new(
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        decoupled: bool,
    ) -> Result<Self> {
        let bad = |reason: String| Err(Error::InvalidConfig { reason });
        crate::sgd::check_lr_and_decay(lr, weight_decay)?;
        if !(0.0..1.0).contains(&beta1) || !(0.0..1.0).contains(&beta2) {
            return bad(format!(
                "adam betas must be in [0, 1), got {beta1} and {beta2}"
            ));
        }
        if !(eps.is_finite() && eps > 0.0) {
            return bad(format!("adam eps must be positive, got {eps}"));
        }
        Ok(Self {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            t: 0,
            m: BTreeMap::new(),
            v: BTreeMap::new(),
        })
    }
}

impl Optimizer for Adam {
    fn step(&mut self, model: &mut Sequential) {
        self.t += 1;
        let (lr, b1, b2, eps, wd, decoupled) = (
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            self.decoupled,
        );
        let c1 = 1.0 - b1.powi(self.t.min(i32::MAX as u64) as i32);
        let c2 = 1.0 - b2.powi(self.t.min(i32::MAX as u64) as i32);
        let (ms, vs) = (&mut self.m, &mut self.v);
        model.visit_params(&mut |name, p| {
            let w = p.value.data_mut();
            let g = p.grad.data();
            let m = ms
                .entry(name.to_owned())
                .or_insert_with(|| vec![0.0; g.len()]);
            let v = vs
                .entry(name.to_owned())
                .or_insert_with(|| vec![0.0; g.len()]);
            let update = |w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
                for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    let g = if decoupled {
                        *w *= 1.0 - lr * wd;
                        g
                    } else {
                        g + wd * *w
                    };
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *w -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                }
            };
            // Elementwise, so splitting a large parameter between threads changes no bit.
            if w.len() >= PARALLEL_VALUES {
                w.par_chunks_mut(UPDATE_CHUNK)
                    .zip(g.par_chunks(UPDATE_CHUNK))
                    .zip(m.par_chunks_mut(UPDATE_CHUNK))
                    .zip(v.par_chunks_mut(UPDATE_CHUNK))
                    .for_each(|(((w, g), m), v)| update(w, g, m, v));
            } else {
                update(w, g, m, v);
            }
        });
    }

    fn lr(&self) -> f32 {
        self.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    fn state(&self) -> OptimizerState {
        OptimizerState::Adam {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            decoupled: self.decoupled,
            t: self.t,
            m: pack(&self.m),
            v: pack(&self.v),
        }
    }
}
