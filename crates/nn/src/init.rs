//! Fan-in scaled initialisation from a seeded generator.

use rand::RngCore;
use tensor::Tensor;

/// PyTorch's default for convolution and dense layers (Kaiming-uniform with `a = sqrt(5)`,
/// which reduces to this): weights and biases uniform in `[-1/sqrt(fan_in), 1/sqrt(fan_in))`.
/// Every value takes one 32-bit word of `rng`, so a seed fixes every weight.
pub fn fan_in_uniform(shape: Vec<usize>, fan_in: usize, rng: &mut dyn RngCore) -> Tensor {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    Tensor::uniform(shape, -bound, bound, || rng.next_u32())
}
