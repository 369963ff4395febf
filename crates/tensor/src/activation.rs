//! Element-wise and row-wise activations: ReLU and a numerically stable softmax.

use rayon::prelude::*;

use crate::error::{check_len, Result};

/// Values per parallel task for element-wise kernels.
const ELEM_BLOCK: usize = 1 << 14;

/// `out = max(input, 0)`, element-wise.
///
/// # Errors
/// [`crate::Error::BufferLength`] when the slices differ in length.
///
/// ```
/// # fn main() -> tensor::Result<()> {
/// let mut out = [0.0; 3];
/// tensor::relu_forward(&mut out, &[-1.0, 0.0, 2.5])?;
/// assert_eq!(out, [0.0, 0.0, 2.5]);
/// # Ok(())
/// # }
/// ```
pub fn relu_forward(out: &mut [f32], input: &[f32]) -> Result<()> {
    check_len("relu_forward", "out", out.len(), input.len())?;
    out.par_chunks_mut(ELEM_BLOCK)
        .zip(input.par_chunks(ELEM_BLOCK))
        .for_each(|(o, x)| {
            for (o, &x) in o.iter_mut().zip(x) {
                *o = if x > 0.0 { x } else { 0.0 };
            }
        });
    Ok(())
}

/// `grad_input = grad_out` where `input > 0`, else 0 (the gradient at exactly 0 is taken as
/// 0, as in PyTorch).
///
/// # Errors
/// [`crate::Error::BufferLength`] when the slices differ in length.
pub fn relu_backward(grad_input: &mut [f32], grad_out: &[f32], input: &[f32]) -> Result<()> {
    check_len("relu_backward", "grad_out", grad_out.len(), input.len())?;
    check_len("relu_backward", "grad_input", grad_input.len(), input.len())?;
    grad_input
        .par_chunks_mut(ELEM_BLOCK)
        .zip(grad_out.par_chunks(ELEM_BLOCK))
        .zip(input.par_chunks(ELEM_BLOCK))
        .for_each(|((gi, go), x)| {
            for ((gi, &go), &x) in gi.iter_mut().zip(go).zip(x) {
                *gi = if x > 0.0 { go } else { 0.0 };
            }
        });
    Ok(())
}

/// Softmax of each row of `logits [rows, cols]` into `out`: `exp(x - max) / Σ exp(x - max)`.
/// Subtracting the row maximum keeps `exp` from overflowing for any finite input.
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice does not hold `rows * cols` values.
///
/// ```
/// # fn main() -> tensor::Result<()> {
/// let mut p = [0.0; 2];
/// tensor::softmax_rows_into(&mut p, &[1000.0, 1000.0], 1, 2)?;
/// assert_eq!(p, [0.5, 0.5]);
/// # Ok(())
/// # }
/// ```
pub fn softmax_rows_into(out: &mut [f32], logits: &[f32], rows: usize, cols: usize) -> Result<()> {
    check_len("softmax", "logits", logits.len(), rows * cols)?;
    check_len("softmax", "out", out.len(), rows * cols)?;
    if cols == 0 {
        return Ok(());
    }
    for (o, x) in out.chunks_exact_mut(cols).zip(logits.chunks_exact(cols)) {
        softmax_row(o, x);
    }
    Ok(())
}

/// Softmax of one row; returns `ln Σ exp(x - max)` so callers can form log-probabilities.
pub(crate) fn softmax_row(out: &mut [f32], x: &[f32]) -> f32 {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v - max).exp();
        sum += *o;
    }
    let inv = 1.0 / sum;
    out.iter_mut().for_each(|o| *o *= inv);
    sum.ln()
}

/// Log-softmax of one row: `out = x - max - ln Σ exp(x - max)`.
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice does not hold `rows * cols` values.
pub fn log_softmax_rows_into(
    out: &mut [f32],
    logits: &[f32],
    rows: usize,
    cols: usize,
) -> Result<()> {
    check_len("log_softmax", "logits", logits.len(), rows * cols)?;
    check_len("log_softmax", "out", out.len(), rows * cols)?;
    if cols == 0 {
        return Ok(());
    }
    for (o, x) in out.chunks_exact_mut(cols).zip(logits.chunks_exact(cols)) {
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = x.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
        for (o, &v) in o.iter_mut().zip(x) {
            *o = v - max - lse;
        }
    }
    Ok(())
}
