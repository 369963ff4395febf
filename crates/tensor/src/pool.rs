//! 2x2 max pooling with stride 2, forward (keeping the argmax) and backward.
//!
//! Shapes: input `[planes, h, w]` where `planes = n * c`, output `[planes, h / 2, w / 2]`
//! (floor: an odd last row or column is dropped, as in PyTorch). `argmax` has one entry per
//! output value: the index, within its input plane, of the value that won.

use rayon::prelude::*;

use crate::error::{check_len, Error, Result};

/// Planes per parallel task: enough work to amortise rayon's scheduling on 13x13 outputs.
const PLANE_BLOCK: usize = 16;

fn check_pool(op: &'static str, h: usize, w: usize) -> Result<(usize, usize)> {
    if h < 2 || w < 2 {
        return Err(Error::InvalidGeometry {
            op,
            reason: format!("a {h}x{w} input is smaller than the 2x2 window"),
        });
    }
    Ok((h / 2, w / 2))
}

/// Max-pool forward: `out[p, oy, ox] = max` of the 2x2 window at `(2 oy, 2 ox)` of plane `p`,
/// and `argmax[p, oy, ox]` = its index `iy * w + ix` within the plane. On ties the first value
/// in row-major order wins. Every value of `out` and `argmax` is written.
///
/// # Errors
/// [`Error::InvalidGeometry`] when `h` or `w` is below 2; [`Error::BufferLength`] when a slice
/// does not fit.
///
/// ```
/// # fn main() -> tensor::Result<()> {
/// let input = [1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 9.0, 8.0]; // one 2x4 plane
/// let (mut out, mut argmax) = ([0.0; 2], [0u32; 2]);
/// tensor::maxpool2x2_forward(&mut out, &mut argmax, &input, 1, 2, 4)?;
/// assert_eq!(out, [5.0, 9.0]);
/// assert_eq!(argmax, [1, 6]);
/// # Ok(())
/// # }
/// ```
pub fn maxpool2x2_forward(
    out: &mut [f32],
    argmax: &mut [u32],
    input: &[f32],
    planes: usize,
    h: usize,
    w: usize,
) -> Result<()> {
    let op = "maxpool2x2_forward";
    let (h_out, w_out) = check_pool(op, h, w)?;
    let (in_len, out_len) = (h * w, h_out * w_out);
    check_len(op, "input", input.len(), planes * in_len)?;
    check_len(op, "out", out.len(), planes * out_len)?;
    check_len(op, "argmax", argmax.len(), planes * out_len)?;
    if u32::try_from(in_len).is_err() {
        return Err(Error::InvalidGeometry {
            op,
            reason: format!("a {h}x{w} plane is too large for u32 indices"),
        });
    }
    if planes == 0 {
        return Ok(());
    }
    out.par_chunks_mut(PLANE_BLOCK * out_len)
        .zip(argmax.par_chunks_mut(PLANE_BLOCK * out_len))
        .zip(input.par_chunks(PLANE_BLOCK * in_len))
        .for_each(|((out, argmax), input)| {
            for ((o, a), x) in out
                .chunks_exact_mut(out_len)
                .zip(argmax.chunks_exact_mut(out_len))
                .zip(input.chunks_exact(in_len))
            {
                pool_plane(o, a, x, w, h_out, w_out);
            }
        });
    Ok(())
}

fn pool_plane(
    out: &mut [f32],
    argmax: &mut [u32],
    x: &[f32],
    w: usize,
    h_out: usize,
    w_out: usize,
) {
    for ((out, argmax), (oy, rows)) in out
        .chunks_exact_mut(w_out)
        .zip(argmax.chunks_exact_mut(w_out))
        .zip(x.chunks_exact(2 * w).take(h_out).enumerate())
    {
        let (r0, r1) = rows.split_at(w);
        let base = 2 * oy * w;
        for (ox, ((o, a), (top, bottom))) in out
            .iter_mut()
            .zip(argmax.iter_mut())
            .zip(r0.chunks_exact(2).zip(r1.chunks_exact(2)))
            .enumerate()
        {
            // Candidates in row-major order; a later one wins only if strictly greater.
            let c = 2 * ox;
            let (mut best, mut idx) = (top[0], base + c);
            if top[1] > best {
                (best, idx) = (top[1], base + c + 1);
            }
            if bottom[0] > best {
                (best, idx) = (bottom[0], base + w + c);
            }
            if bottom[1] > best {
                (best, idx) = (bottom[1], base + w + c + 1);
            }
            *o = best;
            *a = idx as u32;
        }
    }
}

/// Max-pool backward: `grad_input` is **overwritten** with zeros except at each window's
/// argmax, which receives that window's `grad_out`.
///
/// # Errors
/// [`Error::InvalidGeometry`] when `h` or `w` is below 2, or an argmax points outside its
/// plane; [`Error::BufferLength`] when a slice does not fit.
pub fn maxpool2x2_backward(
    grad_input: &mut [f32],
    grad_out: &[f32],
    argmax: &[u32],
    planes: usize,
    h: usize,
    w: usize,
) -> Result<()> {
    let op = "maxpool2x2_backward";
    let (h_out, w_out) = check_pool(op, h, w)?;
    let (in_len, out_len) = (h * w, h_out * w_out);
    check_len(op, "grad_input", grad_input.len(), planes * in_len)?;
    check_len(op, "grad_out", grad_out.len(), planes * out_len)?;
    check_len(op, "argmax", argmax.len(), planes * out_len)?;
    if let Some(&bad) = argmax.iter().find(|&&a| a as usize >= in_len) {
        return Err(Error::InvalidGeometry {
            op,
            reason: format!("argmax {bad} is outside a {h}x{w} plane"),
        });
    }
    if planes == 0 {
        return Ok(());
    }
    grad_input
        .par_chunks_mut(PLANE_BLOCK * in_len)
        .zip(grad_out.par_chunks(PLANE_BLOCK * out_len))
        .zip(argmax.par_chunks(PLANE_BLOCK * out_len))
        .for_each(|((gi, go), am)| {
            gi.fill(0.0);
            for ((gi, go), am) in gi
                .chunks_exact_mut(in_len)
                .zip(go.chunks_exact(out_len))
                .zip(am.chunks_exact(out_len))
            {
                for (&g, &a) in go.iter().zip(am) {
                    gi[a as usize] += g;
                }
            }
        });
    Ok(())
}
