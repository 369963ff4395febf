//! Matrix multiply, with the transposed variants that backward passes need.
//!
//! Every function computes `out[m, n] (=|+=) op(a)[m, k] · op(b)[k, n]` on row-major slices.
//! The arithmetic is done by `matrixmultiply`'s packed SIMD micro-kernels (AVX/FMA chosen at
//! run time, so the binary runs on any x86-64). Large products are split over rayon into
//! fixed blocks of output rows: a block's size never depends on the thread count, and each
//! output value is summed over `k` by one task in one fixed order, so results are
//! bit-identical whatever the number of threads.

use rayon::prelude::*;

use crate::error::{check_len, Result};

/// Output rows per parallel task. Fixed (never derived from the thread count) so the split,
/// and therefore every rounding, is the same on any machine load.
const ROW_BLOCK: usize = 64;
/// Below this many multiply-adds a product runs on the calling thread: handing it to rayon
/// would cost more than it saves.
const PARALLEL_MACS: usize = 1 << 18;

/// How a matrix is stored relative to the logical operand.
#[derive(Clone, Copy)]
enum Layout {
    /// Stored as the logical `[rows, cols]`.
    Plain,
    /// Stored transposed, as `[cols, rows]`.
    Transposed,
}

/// `out[m, n] = a[m, k] · b[k, n]`.
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice length does not match `m`, `k`, `n`.
///
/// ```
/// # fn main() -> tensor::Result<()> {
/// let a = [1.0, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [5.0, 6.0, 7.0, 8.0]; // [[5, 6], [7, 8]]
/// let mut out = [0.0; 4];
/// tensor::matmul_into(&mut out, &a, &b, 2, 2, 2)?;
/// assert_eq!(out, [19.0, 22.0, 43.0, 50.0]);
/// # Ok(())
/// # }
/// ```
pub fn matmul_into(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<()> {
    gemm(
        "matmul",
        out,
        a,
        Layout::Plain,
        b,
        Layout::Plain,
        [m, k, n],
        false,
    )
}

/// `out[m, n] += a[m, k] · b[k, n]` (accumulates).
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice length does not match `m`, `k`, `n`.
pub fn matmul_add(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<()> {
    gemm(
        "matmul",
        out,
        a,
        Layout::Plain,
        b,
        Layout::Plain,
        [m, k, n],
        true,
    )
}

/// `out[m, n] = aᵀ · b` where `a` is stored `[k, m]` and `b` is `[k, n]`.
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice length does not match `m`, `k`, `n`.
pub fn matmul_tn_into(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<()> {
    gemm(
        "matmul_tn",
        out,
        a,
        Layout::Transposed,
        b,
        Layout::Plain,
        [m, k, n],
        false,
    )
}

/// `out[m, n] += aᵀ · b` where `a` is stored `[k, m]` and `b` is `[k, n]` (accumulates).
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice length does not match `m`, `k`, `n`.
pub fn matmul_tn_add(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<()> {
    gemm(
        "matmul_tn",
        out,
        a,
        Layout::Transposed,
        b,
        Layout::Plain,
        [m, k, n],
        true,
    )
}

/// `out[m, n] = a · bᵀ` where `a` is `[m, k]` and `b` is stored `[n, k]`.
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice length does not match `m`, `k`, `n`.
pub fn matmul_nt_into(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<()> {
    gemm(
        "matmul_nt",
        out,
        a,
        Layout::Plain,
        b,
        Layout::Transposed,
        [m, k, n],
        false,
    )
}

/// `out[m, n] += a · bᵀ` where `a` is `[m, k]` and `b` is stored `[n, k]` (accumulates).
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice length does not match `m`, `k`, `n`.
pub fn matmul_nt_add(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<()> {
    gemm(
        "matmul_nt",
        out,
        a,
        Layout::Plain,
        b,
        Layout::Transposed,
        [m, k, n],
        true,
    )
}

#[allow(clippy::too_many_arguments)]
fn gemm(
    op: &'static str,
    out: &mut [f32],
    a: &[f32],
    a_layout: Layout,
    b: &[f32],
    b_layout: Layout,
    [m, k, n]: [usize; 3],
    accumulate: bool,
) -> Result<()> {
    check_len(op, "out", out.len(), m * n)?;
    check_len(op, "a", a.len(), m * k)?;
    check_len(op, "b", b.len(), k * n)?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    let macs = m.saturating_mul(k).saturating_mul(n);
    if macs < PARALLEL_MACS || m <= ROW_BLOCK {
        gemm_rows(out, a, a_layout, b, b_layout, [m, k, n], 0, m, accumulate);
    } else {
        out.par_chunks_mut(ROW_BLOCK * n)
            .enumerate()
            .for_each(|(block, out_rows)| {
                let row0 = block * ROW_BLOCK;
                let rows = out_rows.len() / n;
                gemm_rows(
                    out_rows,
                    a,
                    a_layout,
                    b,
                    b_layout,
                    [m, k, n],
                    row0,
                    rows,
                    accumulate,
                );
            });
    }
    Ok(())
}

/// Computes output rows `row0..row0 + rows` into `out_rows` (`rows * n` values).
#[allow(clippy::too_many_arguments)]
fn gemm_rows(
    out_rows: &mut [f32],
    a: &[f32],
    a_layout: Layout,
    b: &[f32],
    b_layout: Layout,
    [m, k, n]: [usize; 3],
    row0: usize,
    rows: usize,
    accumulate: bool,
) {
    debug_assert_eq!(out_rows.len(), rows * n);
    debug_assert!(row0 + rows <= m);
    if k == 0 {
        if !accumulate {
            out_rows.fill(0.0);
        }
        return;
    }
    // Row and column strides of the logical operands, and where row `row0` of `op(a)` starts.
    let (a_offset, rsa, csa) = match a_layout {
        Layout::Plain => (row0 * k, k, 1),
        Layout::Transposed => (row0, 1, m),
    };
    let (rsb, csb) = match b_layout {
        Layout::Plain => (n, 1),
        Layout::Transposed => (1, k),
    };
    let a_rows = &a[a_offset..];
    let beta = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: every index matrixmultiply forms is in bounds of the three slices:
    // - `a_rows` starts at logical row `row0` of op(a); the largest index read is
    //   (rows - 1) * rsa + (k - 1) * csa, which for the plain layout is
    //   (row0 + rows - 1) * k + k - 1 - row0 * k < m * k - row0 * k = a_rows.len(), and for the
    //   transposed layout is row0 + rows - 1 + (k - 1) * m - row0 < k * m - row0 = a_rows.len()
    //   (both because row0 + rows <= m, checked above, and a.len() == m * k, checked by gemm);
    // - `b` is read at (k - 1) * rsb + (n - 1) * csb = k * n - 1 < b.len() in both layouts;
    // - `out_rows` is written at (rows - 1) * n + n - 1 < out_rows.len() = rows * n;
    // - the three slices are distinct borrows (`out_rows` is `&mut`), so C aliases neither A nor B.
    // With beta == 0 matrixmultiply never reads C, so NaN-filled outputs are overwritten.
    unsafe {
        matrixmultiply::sgemm(
            rows,
            k,
            n,
            1.0,
            a_rows.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            out_rows.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Single-threaded product for kernels that already run one task per image: `out (=|+=)
/// op(a) · op(b)` with `a_t`/`b_t` saying whether `a`/`b` are stored transposed. Callers
/// guarantee the slice lengths (checked here only in debug builds).
pub(crate) fn gemm_serial(
    out: &mut [f32],
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    [m, k, n]: [usize; 3],
    accumulate: bool,
) {
    assert!(
        out.len() == m * n && a.len() == m * k && b.len() == k * n,
        "gemm_serial sizes"
    );
    if m == 0 || n == 0 {
        return;
    }
    let layout = |t| if t { Layout::Transposed } else { Layout::Plain };
    gemm_rows(
        out,
        a,
        layout(a_t),
        b,
        layout(b_t),
        [m, k, n],
        0,
        m,
        accumulate,
    );
}
