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
//! Parallelism is over fixed blocks of images (rayon, disjoint output chunks); within a block
//! the images' column matrices sit side by side so each block makes one wide product, in
//! per-thread scratch buffers reused across calls. The weight and bias gradients
//! are sums over the batch: each fixed block of [`GRAD_BLOCK`] images sums into its own
//! partial buffer, then the partials are added in block order. Neither the blocks nor the
//! order depend on the thread count, so the result is bit-identical with 1 or 64 threads.
//!
//! The products run on the kernels of `panel` (AVX-512, AVX2 or portable, bit-identical):
//! the forward product, with im2col writing the column matrix straight into the kernel's
//! panels, and `weightᵀ · grad_out` on packed panels; the weight gradient as dot-product
//! tiles along the long axis, with no packing. For "same" convolutions (stride 1, kernel
//! `2 pad + 1`) each row of the column matrix is a shifted copy of an input plane.

use std::cell::RefCell;

use rayon::prelude::*;

use crate::direct::DirectInputGrad;
use crate::error::{check_len, Result};
use crate::geometry::Conv2dGeometry;
use crate::panel;

/// Images per partial weight-gradient sum (fixed so the summation order never changes).
pub const GRAD_BLOCK: usize = 8;
/// Images per forward task, whose column matrices are multiplied as one wide product.
pub(crate) const FWD_BLOCK: usize = 8;

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
    im2col_strided(col, g.col_cols(), image, g);
}

/// [`im2col`] into a wider matrix: row `r` of this image's column matrix goes to
/// `col[r * ld..r * ld + h_out * w_out]`, so several images can sit side by side.
fn im2col_strided(col: &mut [f32], ld: usize, image: &[f32], g: &Conv2dGeometry) {
    if is_same_conv(g) {
        same_conv_rows(image, g, |r, row| {
            let dst = &mut col[r * ld..r * ld + g.col_cols()];
            match row {
                SameRow::Zero => dst.fill(0.0),
                SameRow::Shifted {
                    src,
                    lo,
                    hi,
                    rows,
                    cols,
                    w,
                } => {
                    dst[..lo].fill(0.0);
                    dst[lo..hi].copy_from_slice(src);
                    dst[hi..].fill(0.0);
                    for p in padding_positions(rows, cols, w) {
                        dst[p] = 0.0;
                    }
                }
            }
        });
        return;
    }
    let (h_in, w_in, h_out, w_out) = (g.h_in(), g.w_in(), g.h_out(), g.w_out());
    let (stride, pad) = (g.stride(), g.pad());
    let hw = h_out * w_out;
    let mut r = 0;
    for c in 0..g.c_in() {
        let plane = &image[c * h_in * w_in..(c + 1) * h_in * w_in];
        for ki in 0..g.k_h() {
            let (oy_lo, oy_hi) = valid_range(ki, pad, stride, h_in, h_out);
            for kj in 0..g.k_w() {
                let (ox_lo, ox_hi) = valid_range(kj, pad, stride, w_in, w_out);
                let row = &mut col[r * ld..r * ld + hw];
                r += 1;
                for (oy, out_row) in row.chunks_exact_mut(w_out).enumerate() {
                    if oy < oy_lo || oy >= oy_hi {
                        out_row.fill(0.0);
                        continue;
                    }
                    let iy = oy * stride + ki - pad;
                    let src = &plane[iy * w_in..(iy + 1) * w_in];
                    zero_small(&mut out_row[..ox_lo]);
                    zero_small(&mut out_row[ox_hi..]);
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

/// Whether `g` is a "same" convolution: stride 1 and a `2 pad + 1` kernel, so the output has
/// the input's size and consecutive output positions, across row ends too, read consecutive
/// input positions: each row of the column matrix is the input plane shifted by a constant,
/// with the positions that fall in the padding set to zero.
fn is_same_conv(g: &Conv2dGeometry) -> bool {
    g.stride() == 1 && g.k_h() == 2 * g.pad() + 1 && g.k_w() == 2 * g.pad() + 1
}

/// One row of a "same" convolution's column matrix (see [`is_same_conv`]).
enum SameRow<'a> {
    /// Every value is zero (the tap reads only padding).
    Zero,
    /// Positions `lo..hi` hold `src` (the shifted plane), the rest zero; then, in output rows
    /// `rows`, the columns `cols` (which read the left or right padding) are zero too.
    Shifted {
        src: &'a [f32],
        lo: usize,
        hi: usize,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        w: usize,
    },
}

/// The positions a [`SameRow::Shifted`] row must zero after copying `src`.
fn padding_positions(
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    w: usize,
) -> impl Iterator<Item = usize> {
    rows.flat_map(move |y| (y * w + cols.start)..(y * w + cols.end))
}

/// Calls `emit(r, row)` for every row `r` of one image's column matrix when `g` is a "same"
/// convolution.
fn same_conv_rows(image: &[f32], g: &Conv2dGeometry, mut emit: impl FnMut(usize, SameRow<'_>)) {
    let (h, w, pad) = (g.h_in(), g.w_in(), g.pad());
    let hw = h * w;
    let mut r = 0;
    for c in 0..g.c_in() {
        let plane = &image[c * hw..(c + 1) * hw];
        for ki in 0..g.k_h() {
            // Output rows whose input row oy + ki - pad lies inside the image.
            let (rlo, rhi) = (
                pad.saturating_sub(ki),
                h.saturating_sub(ki.saturating_sub(pad)),
            );
            for kj in 0..g.k_w() {
                let row = r;
                r += 1;
                if rlo >= rhi {
                    emit(row, SameRow::Zero);
                    continue;
                }
                // Output position p reads plane[p + off] (when that is not padding).
                let off = (ki as isize - pad as isize) * w as isize + (kj as isize - pad as isize);
                let lo = (rlo * w).max((-off).max(0) as usize).min(rhi * w);
                let hi = (rhi * w).min((hw as isize - off).max(0) as usize).max(lo);
                // lo < hi implies lo + off >= 0 and hi + off <= hw.
                let src: &[f32] = if lo < hi {
                    &plane[(lo as isize + off) as usize..(hi as isize + off) as usize]
                } else {
                    &[]
                };
                // Columns reading the left (kj < pad) or right (kj > pad) padding.
                let cols = if kj < pad {
                    0..(pad - kj).min(w)
                } else {
                    w - (kj - pad).min(w)..w
                };
                emit(
                    row,
                    SameRow::Shifted {
                        src,
                        lo,
                        hi,
                        rows: rlo..rhi,
                        cols,
                        w,
                    },
                );
            }
        }
    }
}

/// [`im2col`] into a column matrix in panels (see [`crate::panel`]) of `g.col_rows()` rows:
/// this image's column `q` goes to column `p0 + q` of the panel matrix.
fn im2col_panels(dst: &mut [f32], p0: usize, image: &[f32], g: &Conv2dGeometry) {
    let k = g.col_rows();
    if is_same_conv(g) {
        same_conv_rows(image, g, |r, row| match row {
            SameRow::Zero => panel::put_zeros(dst, k, r, p0, g.col_cols()),
            SameRow::Shifted {
                src,
                lo,
                hi,
                rows,
                cols,
                w,
            } => {
                panel::put_zeros(dst, k, r, p0, lo);
                panel::put_run(dst, k, r, p0 + lo, src);
                panel::put_zeros(dst, k, r, p0 + hi, g.col_cols() - hi);
                for p in padding_positions(rows, cols, w) {
                    dst[panel::at(k, r, p0 + p)] = 0.0;
                }
            }
        });
        return;
    }
    let (h_in, w_in, h_out, w_out) = (g.h_in(), g.w_in(), g.h_out(), g.w_out());
    let (stride, pad) = (g.stride(), g.pad());
    let mut gathered = vec![0.0f32; if stride == 1 { 0 } else { w_out }];
    let mut r = 0;
    for c in 0..g.c_in() {
        let plane = &image[c * h_in * w_in..(c + 1) * h_in * w_in];
        for ki in 0..g.k_h() {
            let (oy_lo, oy_hi) = valid_range(ki, pad, stride, h_in, h_out);
            for kj in 0..g.k_w() {
                let (ox_lo, ox_hi) = valid_range(kj, pad, stride, w_in, w_out);
                for oy in 0..h_out {
                    let p = p0 + oy * w_out;
                    if oy < oy_lo || oy >= oy_hi || ox_lo == ox_hi {
                        panel::put_zeros(dst, k, r, p, w_out);
                        continue;
                    }
                    let iy = oy * stride + ki - pad;
                    let src = &plane[iy * w_in..(iy + 1) * w_in];
                    panel::put_zeros(dst, k, r, p, ox_lo);
                    let run = if stride == 1 {
                        let ix0 = ox_lo + kj - pad;
                        &src[ix0..ix0 + ox_hi - ox_lo]
                    } else {
                        for (v, ox) in gathered.iter_mut().zip(ox_lo..ox_hi) {
                            *v = src[ox * stride + kj - pad];
                        }
                        &gathered[..ox_hi - ox_lo]
                    };
                    panel::put_run(dst, k, r, p + ox_lo, run);
                    panel::put_zeros(dst, k, r, p + ox_hi, w_out - ox_hi);
                }
                r += 1;
            }
        }
    }
}

/// Zeroes a slice that is usually empty or one value long (the padding at a row's ends),
/// without the cost of a `memset` call for those.
#[inline(always)]
fn zero_small(s: &mut [f32]) {
    match s {
        [] => {}
        [v] => *v = 0.0,
        _ => s.fill(0.0),
    }
}

fn col2im(image: &mut [f32], col: &[f32], g: &Conv2dGeometry) {
    col2im_strided(image, col, g.col_cols(), g);
}

/// [`col2im`] from a wider matrix whose row `r` (for this image) is
/// `col[r * ld..r * ld + h_out * w_out]`.
fn col2im_strided(image: &mut [f32], col: &[f32], ld: usize, g: &Conv2dGeometry) {
    let (h_in, w_in, h_out, w_out) = (g.h_in(), g.w_in(), g.h_out(), g.w_out());
    let (stride, pad) = (g.stride(), g.pad());
    let hw = h_out * w_out;
    let mut r = 0;
    for c in 0..g.c_in() {
        let plane = &mut image[c * h_in * w_in..(c + 1) * h_in * w_in];
        for ki in 0..g.k_h() {
            let (oy_lo, oy_hi) = valid_range(ki, pad, stride, h_in, h_out);
            for kj in 0..g.k_w() {
                let (ox_lo, ox_hi) = valid_range(kj, pad, stride, w_in, w_out);
                let row = &col[r * ld..r * ld + hw];
                r += 1;
                if ox_lo == ox_hi {
                    continue;
                }
                for oy in oy_lo..oy_hi {
                    let iy = oy * stride + ki - pad;
                    let dst = &mut plane[iy * w_in..(iy + 1) * w_in];
                    let src = &row[oy * w_out + ox_lo..oy * w_out + ox_hi];
                    if stride == 1 {
                        let ix0 = ox_lo + kj - pad;
                        let dst = &mut dst[ix0..ix0 + src.len()];
                        dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
                    } else {
                        for (ox, s) in (ox_lo..ox_hi).zip(src) {
                            dst[ox * stride + kj - pad] += s;
                        }
                    }
                }
            }
        }
    }
}

/// The forward product of one block of images (at most [`FWD_BLOCK`], whole images of
/// `in_block`): their column matrices side by side make one wide product
/// `res[c_out, b * hw] = weight · col[ckk, b * hw]`, handed to `f` with its row stride
/// `ld = b * hw` (image `i`'s outputs are columns `i * hw..(i + 1) * hw`; no bias added).
/// `packed_weight` is the weight packed by [`packed_weight`].
pub(crate) fn with_block_product<R>(
    in_block: &[f32],
    packed_weight: &[f32],
    g: &Conv2dGeometry,
    f: impl FnOnce(&[f32], usize) -> R,
) -> R {
    let (c_out, ckk, hw, in_len) = (g.c_out(), g.col_rows(), g.col_cols(), g.input_image_len());
    let ld = in_block.len() / in_len * hw;
    let col_len = panel::b_len(ckk, ld);
    with_scratch(col_len + c_out * ld, |scratch| {
        let (col, res) = scratch.split_at_mut(col_len);
        for (i, image) in in_block.chunks_exact(in_len).enumerate() {
            im2col_panels(col, i * hw, image, g);
        }
        panel::gemm(res, ld, packed_weight, col, [c_out, ckk, ld]);
        f(res, ld)
    })
}

/// The convolution weight `[c_out, ckk]` packed for [`with_block_product`].
pub(crate) fn packed_weight(weight: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    let mut packed = Vec::new();
    panel::pack_a(&mut packed, weight, false, g.c_out(), g.col_rows());
    packed
}

thread_local! {
    /// Per-thread scratch for the batched column matrices, reused across calls so that the
    /// large buffers are neither allocated nor page-faulted in on every step.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` values of this thread's scratch buffer (contents unspecified: `f` must
/// write before it reads). Falls back to a fresh buffer if the scratch is already in use.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(aligned(&mut buf, len)),
        Err(_) => f(aligned(&mut Vec::new(), len)),
    })
}

/// `len` values of `buf` (grown as needed) starting at a 64-byte boundary: the kernels read
/// whole 64-byte vectors along rows whose length is a multiple of 16 values, and a vector
/// that straddles two cache lines costs two reads. (The LeNet-style second convolution's
/// weight gradient took about 14% longer on the 16-byte-aligned buffers the allocator hands
/// out, one thread, alternating in one process.)
pub(crate) fn aligned(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    const LANES: usize = 16;
    if buf.len() < len + LANES {
        buf.resize(len + LANES, 0.0);
    }
    let skip = buf.as_ptr().align_offset(64).min(LANES);
    &mut buf[skip..skip + len]
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
    let (hw, in_len, out_len) = (g.col_cols(), g.input_image_len(), g.output_image_len());
    let packed = packed_weight(weight, g);
    out.par_chunks_mut(FWD_BLOCK * out_len)
        .zip(input.par_chunks(FWD_BLOCK * in_len))
        .for_each(|(out_block, in_block)| {
            with_block_product(in_block, &packed, g, |res, ld| {
                for (i, out_img) in out_block.chunks_exact_mut(out_len).enumerate() {
                    for ((row, res_row), &b) in out_img
                        .chunks_exact_mut(hw)
                        .zip(res.chunks_exact(ld))
                        .zip(bias)
                    {
                        let src = &res_row[i * hw..(i + 1) * hw];
                        row.iter_mut().zip(src).for_each(|(o, &v)| *o = v + b);
                    }
                }
            });
        });
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
    let grads = (grad_input, grad_weight, grad_bias);
    backward_with(grads, grad_out, input, weight, g, Columns::WhereNeeded)
}

/// How the input gradient is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Columns {
    /// Directly where [`DirectInputGrad`] takes the layer, else through `grad_col`.
    WhereNeeded,
    /// Always through `grad_col` and `col2im` (the reference the direct path is tested on).
    Always,
}

/// [`conv2d_backward`], choosing how the input gradient is computed.
pub(crate) fn backward_with(
    (grad_input, grad_weight, grad_bias): (Option<&mut [f32]>, &mut [f32], &mut [f32]),
    grad_out: &[f32],
    input: &[f32],
    weight: &[f32],
    g: &Conv2dGeometry,
    columns: Columns,
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
    // The gradient of image `i` goes to column block `j` of the wide `go[c_out, b * hw]`.
    backward_blocks(
        (grad_input, grad_weight, grad_bias),
        input,
        weight,
        g,
        columns,
        |go_wide, ld, j, i| {
            let go = &grad_out[i * out_len..(i + 1) * out_len];
            let hw = g.col_cols();
            for (dst, src) in go_wide.chunks_exact_mut(ld).zip(go.chunks_exact(hw)) {
                dst[j * hw..(j + 1) * hw].copy_from_slice(src);
            }
        },
    );
    Ok(())
}

/// The body of the convolution backward pass, shared by [`conv2d_backward`] and the fused
/// [`crate::conv2d_relu_pool_backward`]: they differ only in how a block's gradient matrix
/// `go[c_out, b * hw]` is filled. `fill_go(go, ld, j, i)` writes image `i`'s dL/d conv output
/// into columns `j * hw..(j + 1) * hw` of every row of `go` (row stride `ld`), every value.
///
/// Sizes must have been checked by the caller.
pub(crate) fn backward_blocks(
    (grad_input, grad_weight, grad_bias): (Option<&mut [f32]>, &mut [f32], &mut [f32]),
    input: &[f32],
    weight: &[f32],
    g: &Conv2dGeometry,
    columns: Columns,
    fill_go: impl Fn(&mut [f32], usize, usize, usize) + Sync,
) {
    if g.n() == 0 {
        return;
    }
    let (c_out, ckk, hw) = (g.c_out(), g.col_rows(), g.col_cols());
    let in_len = g.input_image_len();
    // With AVX-512 and stride 1, the input gradient is computed directly (the same bits
    // without `grad_col` and `col2im`); otherwise from weightᵀ [ckk, c_out] in panels.
    let direct = match grad_input {
        Some(_) if columns == Columns::WhereNeeded && g.stride() == 1 && g.k_h() == g.k_w() => {
            DirectInputGrad::new(
                weight,
                c_out,
                [g.c_in(), g.h_in(), g.w_in()],
                g.k_h(),
                g.pad(),
            )
        }
        _ => None,
    };
    let mut packed_t = Vec::new();
    if grad_input.is_some() && direct.is_none() {
        panel::pack_a(&mut packed_t, weight, true, ckk, c_out);
    }

    // One task per block of GRAD_BLOCK images; each returns its partial (grad_weight, grad_bias).
    // Within a block the images sit side by side: `col[ckk, b * hw]`, `go[c_out, b * hw]`.
    let block_task = |mut grad_input_block: Option<&mut [f32]>, block: usize| {
        let first = block * GRAD_BLOCK;
        let last = (first + GRAD_BLOCK).min(g.n());
        let ld = (last - first) * hw;
        let mut gw = vec![0.0f32; c_out * ckk];
        let mut gb = vec![0.0f32; c_out];
        let (grad_col_len, go_panels_len) = match (&grad_input_block, &direct) {
            (Some(_), Some(_)) => (0, 0),
            (Some(_), None) => (ckk * ld, panel::b_len(c_out, ld)),
            (None, _) => (0, 0),
        };
        with_scratch(
            ckk * ld + c_out * ld + grad_col_len + go_panels_len,
            |scratch| {
                let (col, rest) = scratch.split_at_mut(ckk * ld);
                let (go_wide, rest) = rest.split_at_mut(c_out * ld);
                let (grad_col, go_panels) = rest.split_at_mut(grad_col_len);
                for i in first..last {
                    let j = i - first;
                    let image = &input[i * in_len..(i + 1) * in_len];
                    im2col_strided(&mut col[j * hw..], ld, image, g);
                    fill_go(go_wide, ld, j, i);
                }
                // gw[c_out, ckk] = go[c_out, b * hw] · colᵀ  (col stored [ckk, b * hw])
                panel::gemm_nt_dots((&mut gw, ckk), (go_wide, ld), (col, ld), [c_out, ld, ckk]);
                for (b, row) in gb.iter_mut().zip(go_wide.chunks_exact(ld)) {
                    *b = sum_in_lanes(row);
                }
                if let (Some(gi), Some(d)) = (grad_input_block.as_deref_mut(), &direct) {
                    // Straight from each image's columns of `go` (planes `ld` apart) to its
                    // input gradient.
                    for (j, dst) in gi.chunks_exact_mut(in_len).enumerate() {
                        d.run(&go_wide[j * hw..], ld, dst);
                    }
                } else if let Some(gi) = grad_input_block {
                    // grad_col[ckk, b * hw] = weightᵀ · go
                    panel::pack_b(go_panels, go_wide, ld, c_out, ld);
                    panel::gemm(grad_col, ld, &packed_t, go_panels, [ckk, c_out, ld]);
                    for (j, dst) in gi.chunks_exact_mut(in_len).enumerate() {
                        dst.fill(0.0);
                        col2im_strided(dst, &grad_col[j * hw..], ld, g);
                    }
                }
            },
        );
        (gw, gb)
    };

    // Fixed-order reduction of the per-block partial sums.
    for (gw, gb) in &per_grad_block(grad_input, in_len, g.n(), block_task) {
        grad_weight.iter_mut().zip(gw).for_each(|(d, s)| *d += s);
        grad_bias.iter_mut().zip(gb).for_each(|(d, s)| *d += s);
    }
}

/// `task(grad_input's block, block)` for each block of [`GRAD_BLOCK`] of the `n` images in
/// parallel, handed its own part of `grad_input` (`in_len` values an image) when there is
/// one; the tasks' partial sums in block order, for a fixed-order reduction.
pub(crate) fn per_grad_block<P: Send>(
    grad_input: Option<&mut [f32]>,
    in_len: usize,
    n: usize,
    task: impl Fn(Option<&mut [f32]>, usize) -> P + Sync,
) -> Vec<P> {
    match grad_input {
        Some(gi) => gi
            .par_chunks_mut(GRAD_BLOCK * in_len)
            .enumerate()
            .map(|(block, gi_block)| task(Some(gi_block), block))
            .collect(),
        None => (0..n.div_ceil(GRAD_BLOCK))
            .into_par_iter()
            .map(|block| task(None, block))
            .collect(),
    }
}

/// Lanes of [`sum_in_lanes`].
const SUM_LANES: usize = panel::DOT_LANES;

/// `Σ v` in a fixed order that vectorises: lane `l` adds `v[l], v[l + 16], ...` in order,
/// then the 16 lane sums are added in a fixed tree. (A plain left-to-right sum is one long
/// chain of dependent additions: several times slower on long rows.)
pub(crate) fn sum_in_lanes(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; SUM_LANES];
    let chunks = v.chunks_exact(SUM_LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    for (a, &x) in acc.iter_mut().zip(rest) {
        *a += x;
    }
    panel::reduce_lanes(&acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_slices_start_on_a_cache_line_and_keep_their_length() {
        for len in [0, 1, 17, 1000, 4096] {
            let mut buf = Vec::new();
            let s = aligned(&mut buf, len);
            assert_eq!(s.len(), len);
            assert_eq!(s.as_ptr() as usize % 64, 0, "len {len}");
        }
        with_scratch(300, |s| {
            assert_eq!(s.len(), 300);
            assert_eq!(s.as_ptr() as usize % 64, 0);
        });
    }

    #[test]
    fn sum_in_lanes_adds_every_value_in_its_documented_order() {
        for len in [0, 1, 15, 16, 17, 33, 100] {
            let v: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut lanes = [0.0f32; SUM_LANES];
            for (i, &x) in v.iter().enumerate() {
                lanes[i % SUM_LANES] += x;
            }
            // The tree: (0+8), (1+9), ... then (0+4), ... then (0+2), (1+3), then (0+1).
            let mut half = SUM_LANES / 2;
            while half > 0 {
                for l in 0..half {
                    lanes[l] += lanes[l + half];
                }
                half /= 2;
            }
            assert_eq!(sum_in_lanes(&v).to_bits(), lanes[0].to_bits(), "len {len}");
            let plain: f64 = v.iter().map(|&x| f64::from(x)).sum();
            assert!(
                (f64::from(sum_in_lanes(&v)) - plain).abs() < 1e-5,
                "len {len}"
            );
        }
    }
}
