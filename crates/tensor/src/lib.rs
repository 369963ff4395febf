//! Tensors and CPU kernels for the digits CNN.
//!
//! One concrete [`Tensor`] type (owned, contiguous, row-major `f32`, NCHW for images), a
//! [`Conv2dGeometry`] that holds every size of a convolution, and the kernels a small CNN
//! needs as free functions with forward and backward side by side: matrix multiply (with the
//! transposed variants), im2col convolution, 2x2 max-pool with argmax, ReLU and softmax.
//! Kernels take outputs first, then inputs, then sizes; they are parallel with rayon over
//! disjoint output chunks and give bit-identical results for any thread count. For
//! inference, [`DirectConv`] computes a convolution with its ReLU and pool one image at a
//! time without a column matrix (the same bits as the im2col chain), and [`WinogradConv`]
//! computes a pooled 3x3 convolution by Winograd's F(2x2, 3x3), for inference and for
//! training (its forward, input gradient and, with
//! [`conv2d_relu_pool_backward_winograd`], a weight gradient over the pool's winners: within
//! rounding of the chain, in a fixed order of its own). The
//! [`reference`](mod@reference) module holds slow loop versions of each kernel for tests and benchmarks.
//!
//! # Example: a convolution forward pass
//! ```
//! use tensor::{conv2d_forward, Conv2dGeometry, Tensor};
//! # fn main() -> tensor::Result<()> {
//! let g = Conv2dGeometry::new([2, 1, 28, 28], 8, [3, 3], 1, 0)?;
//! let input = Tensor::full(g.input_shape().to_vec(), 0.5);
//! let weight = Tensor::full(g.weight_shape().to_vec(), 0.1);
//! let bias = Tensor::zeros(vec![8]);
//! let mut out = Tensor::zeros(g.output_shape().to_vec());
//! conv2d_forward(out.data_mut(), input.data(), weight.data(), bias.data(), &g)?;
//! assert!((out.data()[0] - 0.45).abs() < 1e-6); // 9 taps of 0.5 * 0.1
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod activation;
mod conv;
mod conv_pool;
mod direct;
mod direct_pooled;
mod error;
mod geometry;
mod matmul;
mod panel;
mod pool;
pub mod reference;
mod tensor;
mod winograd;
mod winograd_train;

pub use activation::{log_softmax_rows_into, relu_backward, relu_forward, softmax_rows_into};
pub use conv::{col2im_add, conv2d_backward, conv2d_forward, im2col_into, GRAD_BLOCK};
pub use conv_pool::{
    conv2d_relu_pool_backward, conv2d_relu_pool_backward_winograd, conv2d_relu_pool_forward,
    conv_pool_image_len, NO_WINNER,
};
pub use direct::{Dest, DirectConv, DirectInputGrad};
pub use error::{Error, Result};
pub use geometry::Conv2dGeometry;
pub use matmul::{
    matmul_add, matmul_into, matmul_nt_add, matmul_nt_into, matmul_nt_serial_into, matmul_tn_add,
    matmul_tn_into,
};
pub use pool::{maxpool2x2_backward, maxpool2x2_forward};
pub use tensor::{argmax, unit_f32, Tensor};
pub use winograd::WinogradConv;

/// The instruction set the matrix-multiply panel kernels run with on this CPU: `avx512`,
/// `avx2+fma` or `portable` (detected once; every build gives the same bits).
pub fn panel_isa() -> &'static str {
    match panel::Kernel::detect() {
        panel::Kernel::Avx512 => "avx512",
        panel::Kernel::Avx2 => "avx2+fma",
        panel::Kernel::Portable => "portable",
    }
}
