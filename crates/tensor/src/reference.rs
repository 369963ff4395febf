//! Slow, obvious loop versions of every kernel: the oracle for tests and the baseline for
//! benchmarks. Each takes plain slices and returns freshly allocated results; none is
//! parallel, blocked or clever. Callers pass consistent sizes (these functions index and
//! panic otherwise: they are for tests).

use crate::geometry::Conv2dGeometry;

/// `a[m, k] · b[k, n]`, accumulated in `f64`.
pub fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                s += f64::from(a[i * k + p]) * f64::from(b[p * n + j]);
            }
            out[i * n + j] = s as f32;
        }
    }
    out
}

/// Transposes a row-major `[rows, cols]` matrix.
pub fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
    out
}

/// The input pixel a convolution tap reads, or `None` in the padding.
fn tap(g: &Conv2dGeometry, oy: usize, ox: usize, ki: usize, kj: usize) -> Option<(usize, usize)> {
    let iy = (oy * g.stride() + ki).checked_sub(g.pad())?;
    let ix = (ox * g.stride() + kj).checked_sub(g.pad())?;
    (iy < g.h_in() && ix < g.w_in()).then_some((iy, ix))
}

/// Direct convolution: `out[b, co, oy, ox] = bias[co] + Σ_{ci, ki, kj} weight[co, ci, ki, kj]
/// · input[b, ci, oy·s + ki - p, ox·s + kj - p]` (0 in the padding), summed in `f64`.
pub fn conv2d_forward(input: &[f32], weight: &[f32], bias: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    let [n, c_out, h_out, w_out] = g.output_shape();
    let [_, c_in, h_in, w_in] = g.input_shape();
    let (k_h, k_w) = (g.k_h(), g.k_w());
    let mut out = vec![0.0; n * c_out * h_out * w_out];
    for b in 0..n {
        for co in 0..c_out {
            for oy in 0..h_out {
                for ox in 0..w_out {
                    let mut s = f64::from(bias[co]);
                    for ci in 0..c_in {
                        for ki in 0..k_h {
                            for kj in 0..k_w {
                                if let Some((iy, ix)) = tap(g, oy, ox, ki, kj) {
                                    let x = input[((b * c_in + ci) * h_in + iy) * w_in + ix];
                                    let wt = weight[((co * c_in + ci) * k_h + ki) * k_w + kj];
                                    s += f64::from(x) * f64::from(wt);
                                }
                            }
                        }
                    }
                    out[((b * c_out + co) * h_out + oy) * w_out + ox] = s as f32;
                }
            }
        }
    }
    out
}

/// Gradients of a convolution: `(grad_input, grad_weight, grad_bias)` for upstream
/// `grad_out`, by scattering each output's gradient over the taps that produced it.
pub fn conv2d_backward(
    grad_out: &[f32],
    input: &[f32],
    weight: &[f32],
    g: &Conv2dGeometry,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let [n, c_out, h_out, w_out] = g.output_shape();
    let [_, c_in, h_in, w_in] = g.input_shape();
    let (k_h, k_w) = (g.k_h(), g.k_w());
    let mut gi = vec![0.0f64; input.len()];
    let mut gw = vec![0.0f64; weight.len()];
    let mut gb = vec![0.0f64; c_out];
    for b in 0..n {
        for co in 0..c_out {
            for oy in 0..h_out {
                for ox in 0..w_out {
                    let go = f64::from(grad_out[((b * c_out + co) * h_out + oy) * w_out + ox]);
                    gb[co] += go;
                    for ci in 0..c_in {
                        for ki in 0..k_h {
                            for kj in 0..k_w {
                                if let Some((iy, ix)) = tap(g, oy, ox, ki, kj) {
                                    let xi = ((b * c_in + ci) * h_in + iy) * w_in + ix;
                                    let wi = ((co * c_in + ci) * k_h + ki) * k_w + kj;
                                    gi[xi] += go * f64::from(weight[wi]);
                                    gw[wi] += go * f64::from(input[xi]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let to32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
    (to32(gi), to32(gw), to32(gb))
}

/// The im2col matrix of one image, built tap by tap from the definition.
pub fn im2col(image: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    let (h_out, w_out) = (g.h_out(), g.w_out());
    let mut col = vec![0.0; g.col_rows() * g.col_cols()];
    for ci in 0..g.c_in() {
        for ki in 0..g.k_h() {
            for kj in 0..g.k_w() {
                let row = (ci * g.k_h() + ki) * g.k_w() + kj;
                for oy in 0..h_out {
                    for ox in 0..w_out {
                        if let Some((iy, ix)) = tap(g, oy, ox, ki, kj) {
                            col[row * h_out * w_out + oy * w_out + ox] =
                                image[(ci * g.h_in() + iy) * g.w_in() + ix];
                        }
                    }
                }
            }
        }
    }
    col
}

/// 2x2 stride-2 max-pool of `[planes, h, w]`: `(out, argmax)`, first maximum in row-major
/// order on ties.
pub fn maxpool2x2_forward(
    input: &[f32],
    planes: usize,
    h: usize,
    w: usize,
) -> (Vec<f32>, Vec<u32>) {
    let (h_out, w_out) = (h / 2, w / 2);
    let mut out = Vec::with_capacity(planes * h_out * w_out);
    let mut argmax = Vec::with_capacity(planes * h_out * w_out);
    for p in 0..planes {
        for oy in 0..h_out {
            for ox in 0..w_out {
                let mut best: Option<(f32, usize)> = None;
                for dy in 0..2 {
                    for dx in 0..2 {
                        let idx = (2 * oy + dy) * w + 2 * ox + dx;
                        let v = input[p * h * w + idx];
                        if best.is_none_or(|(b, _)| v > b) {
                            best = Some((v, idx));
                        }
                    }
                }
                let (v, idx) = best.expect("a 2x2 window has values");
                out.push(v);
                argmax.push(idx as u32);
            }
        }
    }
    (out, argmax)
}

/// Max-pool gradient: each window's `grad_out` goes to its argmax, everything else is 0.
pub fn maxpool2x2_backward(
    grad_out: &[f32],
    argmax: &[u32],
    planes: usize,
    h: usize,
    w: usize,
) -> Vec<f32> {
    let out_len = (h / 2) * (w / 2);
    let mut gi = vec![0.0; planes * h * w];
    for p in 0..planes {
        for i in 0..out_len {
            gi[p * h * w + argmax[p * out_len + i] as usize] += grad_out[p * out_len + i];
        }
    }
    gi
}

/// `max(x, 0)`.
pub fn relu(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect()
}

/// `grad_out` where `x > 0`, else 0.
pub fn relu_backward(grad_out: &[f32], x: &[f32]) -> Vec<f32> {
    grad_out
        .iter()
        .zip(x)
        .map(|(&g, &v)| if v > 0.0 { g } else { 0.0 })
        .collect()
}

/// Row-wise softmax computed in `f64` from the definition (max-shifted).
pub fn softmax_rows(logits: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let row = &logits[r * cols..(r + 1) * cols];
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let sum: f64 = row.iter().map(|&v| (f64::from(v) - max).exp()).sum();
        out.extend(
            row.iter()
                .map(|&v| ((f64::from(v) - max).exp() / sum) as f32),
        );
    }
    out
}

/// Row-wise log-softmax computed in `f64` from the definition.
pub fn log_softmax_rows(logits: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let row = &logits[r * cols..(r + 1) * cols];
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let lse = row
            .iter()
            .map(|&v| (f64::from(v) - max).exp())
            .sum::<f64>()
            .ln();
        out.extend(row.iter().map(|&v| (f64::from(v) - max - lse) as f32));
    }
    out
}

/// [`conv2d_backward`](crate::conv2d_backward) with the input gradient always computed
/// through the column matrix and `col2im`, never directly: the bits the direct input
/// gradient ([`DirectInputGrad`](crate::DirectInputGrad)) must reproduce. Same arguments and
/// results as `conv2d_backward`.
///
/// # Errors
/// As [`conv2d_backward`](crate::conv2d_backward).
pub fn conv2d_backward_columns(
    grad_input: Option<&mut [f32]>,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
    grad_out: &[f32],
    input: &[f32],
    weight: &[f32],
    g: &Conv2dGeometry,
) -> crate::Result<()> {
    let grads = (grad_input, grad_weight, grad_bias);
    crate::conv::backward_with(
        grads,
        grad_out,
        input,
        weight,
        g,
        crate::conv::Columns::Always,
    )
}
