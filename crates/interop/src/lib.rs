//! Models that travel: a digits network written as ONNX (for onnxruntime, OpenCV, browsers)
//! or as safetensors (for PyTorch, candle, burn), and safetensors files read back, ours or a
//! PyTorch `nn.Sequential` state_dict mapped onto a spec.
//!
//! # Example
//! ```
//! # fn main() -> Result<(), interop::Error> {
//! let spec = nn::ModelSpec::seed();
//! let saved = nn::SavedModel::new(&spec, &spec.build(1)?, Default::default());
//! let names: Vec<String> = (0..10).map(|d| d.to_string()).collect();
//!
//! let onnx = interop::onnx::encode(&saved, &names)?; // opset 13, input `image` [N, 1, 28, 28]
//! assert!(!onnx.is_empty());
//!
//! let file = interop::weights::encode(&saved, &names)?;
//! let (back, _) = interop::weights::decode(&file, None)?;
//! assert_eq!(back.params, saved.params); // bit for bit
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod error;
pub mod onnx;
mod proto;
pub mod weights;

pub use error::{Error, Result};
