//! Matrix multiply, with the transposed variants that backward passes need.
//!
//! Every function computes `out[m, n] (=|+=) op(a)[m, k] · op(b)[k, n]` on row-major slices.
//! The arithmetic is done by `matrixmultiply`'s packed SIMD micro-kernels (AVX/FMA chosen at
//! run time, so the binary runs on any x86-64), except `a · bᵀ` (the `_nt` variants, a dense
//! layer's forward pass), which takes dot products of rows as they lie (`panel`'s dot tiles):
//! no packing of the weight, which at small batches costs more than the product. Large products are split over rayon into
//! fixed blocks of output rows (or, for products of few rows, of output columns): a block's
//! size never depends on the thread count, and each
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
/// Output columns per parallel task when a product has at most [`ROW_BLOCK`] rows (a dense
/// layer on one batch). Fixed, like [`ROW_BLOCK`].
const COL_BLOCK: usize = 64;

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

/// [`matmul_nt_into`] on the calling thread only, with the same bits: for products too
/// small to be worth waking other threads (one image through a dense layer), or callers
/// that are already running in parallel.
///
/// # Errors
/// [`crate::Error::BufferLength`] when a slice length does not match `m`, `k`, `n`.
pub fn matmul_nt_serial_into(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<()> {
    let op = "matmul_nt_serial";
    check_len(op, "out", out.len(), m * n)?;
    check_len(op, "a", a.len(), m * k)?;
    check_len(op, "b", b.len(), k * n)?;
    if m > 0 && n > 0 {
        crate::panel::gemm_nt_dots((out, n), (a, k), (b, k), [m, k, n]);
    }
    Ok(())
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
    if let (Layout::Plain, Layout::Transposed) = (a_layout, b_layout) {
        gemm_nt(out, a, b, [m, k, n], accumulate);
        return Ok(());
    }
    let macs = m.saturating_mul(k).saturating_mul(n);
    if macs < PARALLEL_MACS || (m <= ROW_BLOCK && n <= COL_BLOCK) {
        gemm_rows(out, a, a_layout, b, b_layout, [m, k, n], 0, m, accumulate);
    } else if m > ROW_BLOCK {
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
    } else {
        gemm_cols(out, a, a_layout, b, b_layout, [m, k, n], accumulate);
    }
    Ok(())
}

/// `out (=|+=) a · bᵀ` with both operands row-major along `k`: dot products without packing
/// (see `panel::gemm_nt_dots`; a dense layer's forward pass reads its weight as it lies, which
/// at batch 1 costs a fraction of packing it). Parallel over fixed blocks of [`ROW_BLOCK`]
/// output rows, or of [`COL_BLOCK`] output columns when there are few rows; every value is
/// one dot product in one fixed order, so the split never changes a bit.
fn gemm_nt(out: &mut [f32], a: &[f32], b: &[f32], [m, k, n]: [usize; 3], accumulate: bool) {
    // The product of output rows row0.. and columns col0..col0 + cols into `dst` (stride
    // `ld`), added to what is there with `accumulate`.
    let block = |dst: &mut [f32], ld: usize, row0: usize, rows: usize, col0: usize, cols: usize| {
        let a_rows = &a[row0 * k..(row0 + rows) * k];
        let b_rows = &b[col0 * k..(col0 + cols) * k];
        if accumulate {
            let mut tmp = vec![0.0f32; rows * cols];
            crate::panel::gemm_nt_dots((&mut tmp, cols), (a_rows, k), (b_rows, k), [rows, k, cols]);
            for (d, t) in dst.chunks_mut(ld).zip(tmp.chunks_exact(cols)) {
                d[..cols].iter_mut().zip(t).for_each(|(d, t)| *d += t);
            }
        } else {
            crate::panel::gemm_nt_dots((dst, ld), (a_rows, k), (b_rows, k), [rows, k, cols]);
        }
    };
    let macs = m.saturating_mul(k).saturating_mul(n);
    if macs < PARALLEL_MACS || (m <= ROW_BLOCK && n <= COL_BLOCK) {
        block(out, n, 0, m, 0, n);
    } else if m > ROW_BLOCK {
        out.par_chunks_mut(ROW_BLOCK * n)
            .enumerate()
            .for_each(|(i, rows)| block(rows, n, i * ROW_BLOCK, rows.len() / n, 0, n));
    } else {
        in_column_blocks(out, [m, n], accumulate, |buf, col0, cols| {
            block(buf, cols, 0, m, col0, cols)
        });
    }
}

/// Few rows, many columns (a dense layer on one batch): fixed blocks of [`COL_BLOCK`] output
/// columns run in parallel, each into its own `[m, cols]` buffer, copied back afterwards.
/// Every output value is still summed over `k` by one task in one fixed order.
fn gemm_cols(
    out: &mut [f32],
    a: &[f32],
    a_layout: Layout,
    b: &[f32],
    b_layout: Layout,
    [m, k, n]: [usize; 3],
    accumulate: bool,
) {
    let (rsa, csa) = match a_layout {
        Layout::Plain => (k, 1),
        Layout::Transposed => (1, m),
    };
    in_column_blocks(out, [m, n], accumulate, |buf, col0, cols| {
        // Column `col0` of op(b) starts at `col0` (plain, [k, n]) or `col0 * k` ([n, k]).
        let (b_cols, rsb, csb) = match b_layout {
            Layout::Plain => (&b[col0..], n, 1),
            Layout::Transposed => (&b[col0 * k..], 1, k),
        };
        sgemm_checked(
            [m, k, cols],
            (a, rsa, csa),
            (b_cols, rsb, csb),
            (buf, cols),
            accumulate,
        );
    });
}

/// Runs `product(buf, col0, cols)` in parallel for fixed blocks of [`COL_BLOCK`] columns of
/// `out [m, n]`, each into its own `[m, cols]` buffer (holding `out`'s values with
/// `accumulate`, zeros otherwise), then copies the blocks back in order.
fn in_column_blocks(
    out: &mut [f32],
    [m, n]: [usize; 2],
    accumulate: bool,
    product: impl Fn(&mut [f32], usize, usize) + Sync,
) {
    let blocks: Vec<(usize, Vec<f32>)> = (0..n.div_ceil(COL_BLOCK))
        .into_par_iter()
        .map(|block| {
            let col0 = block * COL_BLOCK;
            let cols = COL_BLOCK.min(n - col0);
            let mut buf = vec![0.0f32; m * cols];
            if accumulate {
                for (dst, src) in buf.chunks_exact_mut(cols).zip(out.chunks_exact(n)) {
                    dst.copy_from_slice(&src[col0..col0 + cols]);
                }
            }
            product(&mut buf, col0, cols);
            (col0, buf)
        })
        .collect();
    for (col0, buf) in &blocks {
        let cols = buf.len() / m;
        for (dst, src) in out.chunks_exact_mut(n).zip(buf.chunks_exact(cols)) {
            dst[*col0..col0 + cols].copy_from_slice(src);
        }
    }
}

/// `c[rows, cols] (=|+=) a · b` through matrixmultiply, each operand given as (slice, row
/// stride, column stride) (`c` as (slice, row stride) with unit column stride). Panics unless
/// every index the product touches lies inside its slice, which is what makes the call sound.
fn sgemm_checked(
    [rows, k, cols]: [usize; 3],
    (a, rsa, csa): (&[f32], usize, usize),
    (b, rsb, csb): (&[f32], usize, usize),
    (c, rsc): (&mut [f32], usize),
    accumulate: bool,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..rows {
                c[r * rsc..r * rsc + cols].fill(0.0);
            }
        }
        return;
    }
    let last = |r: usize, rs: usize, cl: usize, cs: usize| (r - 1) * rs + (cl - 1) * cs;
    assert!(last(rows, rsa, k, csa) < a.len(), "sgemm: a out of bounds");
    assert!(last(k, rsb, cols, csb) < b.len(), "sgemm: b out of bounds");
    assert!(last(rows, rsc, cols, 1) < c.len(), "sgemm: c out of bounds");
    let beta = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: the asserts above check that the largest index matrixmultiply forms from each
    // pointer and its strides, (rows - 1) * row stride + (cols - 1) * column stride (all
    // strides are non-negative), lies inside that operand's slice, so every read of `a` and
    // `b` and every write of `c` is in bounds. `c` is a `&mut` borrow, so it aliases neither
    // `a` nor `b`. With beta == 0 matrixmultiply never reads C, so stale or NaN values in `c`
    // are overwritten, not propagated.
    unsafe {
        matrixmultiply::sgemm(
            rows,
            k,
            cols,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            rsc as isize,
            1,
        );
    }
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
    // Row and column strides of the logical operands, and where row `row0` of `op(a)` starts.
    let (a_offset, rsa, csa) = match a_layout {
        Layout::Plain => (row0 * k, k, 1),
        Layout::Transposed => (row0, 1, m),
    };
    let (rsb, csb) = match b_layout {
        Layout::Plain => (n, 1),
        Layout::Transposed => (1, k),
    };
    sgemm_checked(
        [rows, k, n],
        (&a[a_offset..], rsa, csa),
        (b, rsb, csb),
        (out_rows, n),
        accumulate,
    );
}
