//! Layers, loss, optimiser and model files for the digits CNN.
//!
//! Each layer has an explicit forward pass (which caches what backward needs), a backward
//! pass (which returns the input gradient and accumulates parameter gradients, llm.c style),
//! and a non-caching `infer` for evaluation. [`Sequential`] chains them; [`ModelSpec`]
//! describes a chain as data and builds it (the seed network is
//! [`ModelSpec::seed`]); [`SavedModel`] is the JSON model file. Training is
//! forward -> [`softmax_cross_entropy`] -> backward -> [`Sgd::step`].
//!
//! # Example: one training step of the seed network
//! ```
//! use nn::{softmax_cross_entropy, ModelSpec, Sgd};
//! use tensor::Tensor;
//! # fn main() -> nn::Result<()> {
//! let mut model = ModelSpec::seed().build(42)?;
//! let mut sgd = Sgd::new(0.05, 0.9, 0.0)?;
//! let images = Tensor::full(vec![4, 1, 28, 28], 0.5);
//! let labels = [3, 1, 4, 1];
//!
//! model.zero_grad();
//! let logits = model.forward(&images)?;
//! let out = softmax_cross_entropy(&logits, &labels)?;
//! model.backward(&out.grad_logits)?;
//! sgd.step(&mut model);
//! assert!(out.loss > 0.0);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod arch;
mod direct;
mod error;
mod fused;
mod init;
mod layer;
mod layers;
mod loss;
mod model_file;
mod optim;
mod sequential;
mod sgd;
mod spec;

pub use direct::DirectNet;
pub use error::{Error, Result};
pub use fused::{ComputedImages, FusedSeed, Images, Isa, StepStats, CHUNK};
pub use init::fan_in_uniform;
pub use layer::{Fusion, Layer, Param};
pub use layers::conv2d::{Conv2d, Conv2dConfig};
pub use layers::dense::Dense;
pub use layers::dropout::Dropout;
pub use layers::flatten::Flatten;
pub use layers::maxpool::MaxPool2x2;
pub use layers::relu::Relu;
pub use loss::{softmax_cross_entropy, softmax_cross_entropy_with, LossOutput, Objective, UNIFORM};
pub use model_file::{params_checksum, SavedModel, TensorData, FORMAT_VERSION};
pub use optim::{Adam, Optimizer, OptimizerState};
pub use sequential::Sequential;
pub use sgd::Sgd;
pub use spec::{LayerSpec, ModelSpec, MAX_PARAMS};
