//! 2-d convolution by im2col + matrix multiply, forward and backward.
//!
//! Shapes (see [`Conv2dGeometry`]):
//! - input `[n, c_in, h_in, w_in]`, weight `[c_out, c_in, k_h, k_w]`, bias `[c_out]`;
//! - output `[n, c_out, h_out, w_out]`;
//! - one image's column matrix `col: [c_in * k_h * k_w, h_out * w_out]`.
//!
//! Forward per image: `out_img[c_out, hw] = weight[c_out, ckk] · col[ckk, hw] + bias`.
//! Backward per image: `grad_weight += grad_out_img · colᵀ`, `grad_bias += Σ_hw grad_out_img`,
//! `grad_col = weightᵀ · grad_out_img`, then `col2im` adds `grad_col` into `grad_input`.
//!
//! Parallelism is over images (rayon, disjoint output chunks). The weight and bias gradients
//! are sums over the batch: each fixed block of [`GRAD_BLOCK`] images sums into its own
//! partial buffer, then the partials are added in block order. Neither the blocks nor the
//! order depend on the thread count, so the result is bit-identical with 1 or 64 threads.

use rayon::prelude::*;

use crate::error::{check_len, Result};
use crate::geometry::Conv2dGeometry;
use crate::matmul::gemm_serial;

/// Images per partial weight-gradient sum (fixed so the summation order never changes).
pub const GRAD_BLOCK: usize = 8;

/// Unfolds one image `[c_in, h_in, w_in]` into `col: [c_in * k_h * k_w, h_out * w_out]`:
/// row `(c, ki, kj)`, column `(oy, ox)` holds `image[c, oy * stride + ki - pad, ox * stride +
/// kj - pad]`, or 0 where that falls in the padding. Every value of `col` is written.
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice does not fit the geometry.
pub fn im2col_into(col: &mut [f32], image: &[f32], g: &Conv2dGeometry) -> Result<()> {
    check_len("im2col", "col", col.len(), g.col_rows() * g.col_cols())?;
    check_len("im2col", "image", image.len(), g.input_image_len())?;
    im2col(col, image, g);
    Ok(())
}

/// Folds `col` back onto one image, **accumulating**: the reverse of [`im2col_into`], where
/// each column value is added to the input pixel it was read from (padding is dropped).
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice does not fit the geometry.
pub fn col2im_add(image: &mut [f32], col: &[f32], g: &Conv2dGeometry) -> Result<()> {
    check_len("col2im", "col", col.len(), g.col_rows() * g.col_cols())?;
    check_len("col2im", "image", image.len(), g.input_image_len())?;
    col2im(image, col, g);
    Ok(())
}

/// The valid output columns `ox` of one kernel column `kj`: those whose input column
/// `ox * stride + kj - pad` lies inside `0..w_in`, as a half-open range.
fn valid_range(
    k: usize,
    pad: usize,
    stride: usize,
    len_in: usize,
    len_out: usize,
) -> (usize, usize) {
    // ox * stride + k >= pad  <=>  ox >= ceil((pad - k) / stride)
    let lo = if k >= pad {
        0
    } else {
        (pad - k).div_ceil(stride)
    };
    // ox * stride + k - pad < len_in  <=>  ox * stride < len_in + pad - k
    let hi = if len_in + pad <= k {
        0
    } else {
        ((len_in + pad - k).div_ceil(stride)).min(len_out)
    };
    (lo.min(hi), hi)
}

fn im2col(col: &mut [f32], image: &[f32], g: &Conv2dGeometry) {
    let (h_in, w_in, h_out, w_out) = (g.h_in(), g.w_in(), g.h_out(), g.w_out());
    let (stride, pad) = (g.stride(), g.pad());
    let hw = h_out * w_out;
    let mut rows = col.chunks_exact_mut(hw);
    for c in 0..g.c_in() {
        let plane = &image[c * h_in * w_in..(c + 1) * h_in * w_in];
        for ki in 0..g.k_h() {
            let (oy_lo, oy_hi) = valid_range(ki, pad, stride, h_in, h_out);
            for kj in 0..g.k_w() {
                let (ox_lo, ox_hi) = valid_range(kj, pad, stride, w_in, w_out);
                let row = rows.next().expect("col has c_in * k_h * k_w rows");
                for (oy, out_row) in row.chunks_exact_mut(w_out).enumerate() {
                    if oy < oy_lo || oy >= oy_hi {
                        out_row.fill(0.0);
                        continue;
                    }
                    let iy = oy * stride + ki - pad;
                    let src = &plane[iy * w_in..(iy + 1) * w_in];
                    out_row[..ox_lo].fill(0.0);
                    out_row[ox_hi..].fill(0.0);
                    if ox_lo == ox_hi {
                        continue;
                    }
                    if stride == 1 {
                        let ix0 = ox_lo + kj - pad;
                        out_row[ox_lo..ox_hi].copy_from_slice(&src[ix0..ix0 + ox_hi - ox_lo]);
                    } else {
                        for ox in ox_lo..ox_hi {
                            out_row[ox] = src[ox * stride + kj - pad];
                        }
                    }
                }
            }
        }
    }
}

fn col2im(image: &mut [f32], col: &[f32], g: &Conv2dGeometry) {
    let (h_in, w_in, h_out, w_out) = (g.h_in(), g.w_in(), g.h_out(), g.w_out());
    let (stride, pad) = (g.stride(), g.pad());
    let hw = h_out * w_out;
    let mut rows = col.chunks_exact(hw);
    for c in 0..g.c_in() {
        let plane = &mut image[c * h_in * w_in..(c + 1) * h_in * w_in];
        for ki in 0..g.k_h() {
            let (oy_lo, oy_hi) = valid_range(ki, pad, stride, h_in, h_out);
            for kj in 0..g.k_w() {
                let (ox_lo, ox_hi) = valid_range(kj, pad, stride, w_in, w_out);
                let row = rows.next().expect("col has c_in * k_h * k_w rows");
                for oy in oy_lo..oy_hi {
                    let iy = oy * stride + ki - pad;
                    let dst = &mut plane[iy * w_in..(iy + 1) * w_in];
                    let src = &row[oy * w_out..(oy + 1) * w_out];
                    for ox in ox_lo..ox_hi {
                        dst[ox * stride + kj - pad] += src[ox];
                    }
                }
            }
        }
    }
}

/// Convolution forward: `out = conv(input, weight) + bias` for the whole batch.
///
/// Shapes: `out [n, c_out, h_out, w_out]`, `input [n, c_in, h_in, w_in]`,
/// `weight [c_out, c_in, k_h, k_w]`, `bias [c_out]`. Every value of `out` is written.
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice does not fit the geometry.
///
/// ```
/// use tensor::{conv2d_forward, Conv2dGeometry};
/// # fn main() -> tensor::Result<()> {
/// // One 3x3 image, one 2x2 filter of ones, bias 0.5: each output sums a 2x2 window.
/// let g = Conv2dGeometry::new([1, 1, 3, 3], 1, [2, 2], 1, 0)?;
/// let input = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
/// let mut out = [0.0; 4];
/// conv2d_forward(&mut out, &input, &[1.0; 4], &[0.5], &g)?;
/// assert_eq!(out, [12.5, 16.5, 24.5, 28.5]);
/// # Ok(())
/// # }
/// ```
pub fn conv2d_forward(
    out: &mut [f32],
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    g: &Conv2dGeometry,
) -> Result<()> {
    check_len(
        "conv2d_forward",
        "out",
        out.len(),
        g.n() * g.output_image_len(),
    )?;
    check_len(
        "conv2d_forward",
        "input",
        input.len(),
        g.n() * g.input_image_len(),
    )?;
    check_len("conv2d_forward", "weight", weight.len(), g.weight_len())?;
    check_len("conv2d_forward", "bias", bias.len(), g.c_out())?;
    if g.n() == 0 {
        return Ok(());
    }
    let (ckk, hw) = (g.col_rows(), g.col_cols());
    out.par_chunks_mut(g.output_image_len())
        .zip(input.par_chunks(g.input_image_len()))
        .for_each_init(
            || vec![0.0f32; ckk * hw],
            |col, (out_img, image)| {
                im2col(col, image, g);
                gemm_serial(
                    out_img,
                    weight,
                    false,
                    col,
                    false,
                    [g.c_out(), ckk, hw],
                    false,
                );
                for (row, &b) in out_img.chunks_exact_mut(hw).zip(bias) {
                    row.iter_mut().for_each(|v| *v += b);
                }
            },
        );
    Ok(())
}

/// Convolution backward for the whole batch.
///
/// - `grad_input [n, c_in, h_in, w_in]` is **overwritten** with dL/d input when given (pass
///   `None` for a first layer, whose input needs no gradient);
/// - `grad_weight [c_out, c_in, k_h, k_w]` and `grad_bias [c_out]` **accumulate** (`+=`)
///   dL/d weight and dL/d bias summed over the batch;
/// - `grad_out [n, c_out, h_out, w_out]` is dL/d out; `input` and `weight` are the forward's.
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice does not fit the geometry.
pub fn conv2d_backward(
    grad_input: Option<&mut [f32]>,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
    grad_out: &[f32],
    input: &[f32],
    weight: &[f32],
    g: &Conv2dGeometry,
) -> Result<()> {
    let op = "conv2d_backward";
    let (in_len, out_len) = (g.input_image_len(), g.output_image_len());
    check_len(op, "grad_weight", grad_weight.len(), g.weight_len())?;
    check_len(op, "grad_bias", grad_bias.len(), g.c_out())?;
    check_len(op, "grad_out", grad_out.len(), g.n() * out_len)?;
    check_len(op, "input", input.len(), g.n() * in_len)?;
    check_len(op, "weight", weight.len(), g.weight_len())?;
    if let Some(gi) = grad_input.as_deref() {
        check_len(op, "grad_input", gi.len(), g.n() * in_len)?;
    }
    if g.n() == 0 {
        return Ok(());
    }
    let (c_out, ckk, hw) = (g.c_out(), g.col_rows(), g.col_cols());

    // One task per block of GRAD_BLOCK images; each returns its partial (grad_weight, grad_bias).
    let block_task = |grad_input_block: Option<&mut [f32]>, block: usize| {
        let first = block * GRAD_BLOCK;
        let last = (first + GRAD_BLOCK).min(g.n());
        let mut gw = vec![0.0f32; c_out * ckk];
        let mut gb = vec![0.0f32; c_out];
        let mut col = vec![0.0f32; ckk * hw];
        let mut grad_col = vec![
            0.0f32;
            if grad_input_block.is_some() {
                ckk * hw
            } else {
                0
            }
        ];
        let mut grad_input_block = grad_input_block;
        for i in first..last {
            let image = &input[i * in_len..(i + 1) * in_len];
            let go = &grad_out[i * out_len..(i + 1) * out_len];
            im2col(&mut col, image, g);
            // gw[c_out, ckk] += go[c_out, hw] · colᵀ  (col stored [ckk, hw])
            gemm_serial(&mut gw, go, false, &col, true, [c_out, hw, ckk], true);
            for (b, row) in gb.iter_mut().zip(go.chunks_exact(hw)) {
                *b += row.iter().sum::<f32>();
            }
            if let Some(gi) = grad_input_block.as_deref_mut() {
                // grad_col[ckk, hw] = weightᵀ · go, weight stored [c_out, ckk]
                gemm_serial(
                    &mut grad_col,
                    weight,
                    true,
                    go,
                    false,
                    [ckk, c_out, hw],
                    false,
                );
                let dst = &mut gi[(i - first) * in_len..(i - first + 1) * in_len];
                dst.fill(0.0);
                col2im(dst, &grad_col, g);
            }
        }
        (gw, gb)
    };

    let blocks = g.n().div_ceil(GRAD_BLOCK);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = match grad_input {
        Some(gi) => gi
            .par_chunks_mut(GRAD_BLOCK * in_len)
            .enumerate()
            .map(|(block, gi_block)| block_task(Some(gi_block), block))
            .collect(),
        None => (0..blocks)
            .into_par_iter()
            .map(|block| block_task(None, block))
            .collect(),
    };
    // Fixed-order reduction of the per-block partial sums.
    for (gw, gb) in &partials {
        grad_weight.iter_mut().zip(gw).for_each(|(d, s)| *d += s);
        grad_bias.iter_mut().zip(gb).for_each(|(d, s)| *d += s);
    }
    Ok(())
}
