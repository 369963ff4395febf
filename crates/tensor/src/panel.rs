//! Matrix multiply on packed panels: the convolution's products `weight · col` (forward) and
//! `weightᵀ · grad_out` (backward to the input); and dot-product tiles without packing
//! ([`gemm_nt_dots`]) for the weight gradient and the dense layer's `x · weightᵀ`.
//!
//! `c[m, n] = a[m, k] · b[k, n]` with
//! - `a` packed by [`pack_a`] into panels of [`MR`] rows: `a[(i / MR) * k * MR + kk * MR + i % MR]`
//!   (rows past `m` are zero);
//! - `b` in panels of [`NR`] columns: `b[(j / NR) * k * NR + kk * NR + j % NR]`. The
//!   convolution writes its column matrix straight into this layout (no separate packing
//!   pass); [`pack_b`] packs a row-major matrix. Columns past `n` in the last panel may hold
//!   anything: column `j` of `c` reads only column `j` of `b`, and columns past `n` are never
//!   stored.
//!
//! Every value is one chain of fused multiply-adds in ascending `k` starting from `+0.0`:
//! `acc = fma(a[i, kk], b[kk, j], acc)`. The AVX-512 kernel (8 rows x 16, 32 or 48 columns per
//! tile, up to 24 vector accumulators), the AVX2 kernel (8 x 16) and the portable loop (a software fma
//! where the CPU has none) all compute exactly that, so they give bit-identical results and
//! the instruction set is chosen at run time (the binary runs on any x86-64).

use std::sync::OnceLock;

/// Rows per panel of `a` (and per register tile).
pub(crate) const MR: usize = 8;
/// Columns per panel of `b`.
pub(crate) const NR: usize = 16;

/// The instruction set of the panel kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// Plain Rust with `f32::mul_add`.
    Portable,
    /// x86-64 AVX2 with FMA.
    Avx2,
    /// x86-64 AVX-512 F.
    Avx512,
}

impl Kernel {
    /// Every kernel, fastest first.
    #[cfg(test)]
    pub(crate) const ALL: [Kernel; 3] = [Kernel::Avx512, Kernel::Avx2, Kernel::Portable];

    /// Whether this CPU can run `self`.
    pub(crate) fn is_supported(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                Kernel::Avx2.is_supported() && std::arch::is_x86_feature_detected!("avx512f")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest kernel this CPU supports (detected once).
    pub(crate) fn detect() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| {
            [Kernel::Avx512, Kernel::Avx2]
                .into_iter()
                .find(|k| k.is_supported())
                .unwrap_or(Kernel::Portable)
        })
    }
}

/// Length of `b` in panels for `k` rows and `n` columns.
pub(crate) fn b_len(k: usize, n: usize) -> usize {
    n.div_ceil(NR) * k * NR
}

/// Packs `a [m, k]` (row-major; with `transposed`, `a` is stored as `[k, m]`) into `dst` as
/// panels of [`MR`] rows, zero-padded to a whole panel.
pub(crate) fn pack_a(dst: &mut Vec<f32>, a: &[f32], transposed: bool, m: usize, k: usize) {
    dst.clear();
    dst.resize(m.div_ceil(MR) * k * MR, 0.0);
    if k == 0 {
        return;
    }
    for (p, panel) in dst.chunks_exact_mut(k * MR).enumerate() {
        for (kk, lanes) in panel.chunks_exact_mut(MR).enumerate() {
            for (r, v) in lanes.iter_mut().enumerate().take(m - p * MR) {
                let i = p * MR + r;
                *v = if transposed {
                    a[kk * m + i]
                } else {
                    a[i * k + kk]
                };
            }
        }
    }
}

/// Packs row-major `b [k, n]` (row stride `ldb`) into `dst` (length [`b_len`]) as panels of
/// [`NR`] columns; the last panel's extra columns are zeroed.
pub(crate) fn pack_b(dst: &mut [f32], b: &[f32], ldb: usize, k: usize, n: usize) {
    if k == 0 {
        return;
    }
    for (p, panel) in dst.chunks_exact_mut(k * NR).enumerate() {
        let j0 = p * NR;
        let w = NR.min(n - j0);
        for (kk, lanes) in panel.chunks_exact_mut(NR).enumerate() {
            let row = &b[kk * ldb + j0..kk * ldb + j0 + w];
            if w == NR {
                // A fixed-size copy compiles to a few vector moves, not a memcpy call.
                lanes.copy_from_slice(&row[..NR]);
            } else {
                lanes[..w].copy_from_slice(row);
                lanes[w..].fill(0.0);
            }
        }
    }
}

/// Index in a `b` in panels of `k` rows of row `r`, column `p`.
#[inline(always)]
pub(crate) fn at(k: usize, r: usize, p: usize) -> usize {
    (p / NR) * k * NR + r * NR + p % NR
}

/// Writes `src` (values of row `r`, columns `p..p + src.len()`) into a `b` in panels of `k`
/// rows: contiguous runs within each panel.
#[inline]
pub(crate) fn put_run(b: &mut [f32], k: usize, r: usize, mut p: usize, mut src: &[f32]) {
    while !src.is_empty() {
        let lane = p % NR;
        let take = (NR - lane).min(src.len());
        let at = at(k, r, p);
        if take == NR {
            // A fixed-size copy compiles to a few moves instead of a call.
            b[at..at + NR].copy_from_slice(&src[..NR]);
        } else {
            b[at..at + take].copy_from_slice(&src[..take]);
        }
        src = &src[take..];
        p += take;
    }
}

/// Like [`put_run`] with `len` zeros.
#[inline]
pub(crate) fn put_zeros(b: &mut [f32], k: usize, r: usize, mut p: usize, mut len: usize) {
    while len > 0 {
        let lane = p % NR;
        let take = (NR - lane).min(len);
        let at = at(k, r, p);
        b[at..at + take].fill(0.0);
        len -= take;
        p += take;
    }
}

/// `c[m, n] = a · b` (`c` row-major with row stride `ldc`; every value of the `m x n` block is
/// written, nothing else), `a` from [`pack_a`], `b` in panels (see the module docs).
///
/// # Panics
/// When a slice is shorter than the sizes say.
pub(crate) fn gemm(c: &mut [f32], ldc: usize, a: &[f32], b: &[f32], [m, k, n]: [usize; 3]) {
    gemm_with(Kernel::detect(), c, ldc, a, b, [m, k, n]);
}

/// [`gemm`] with a given kernel, which must be supported (see [`Kernel::is_supported`]).
pub(crate) fn gemm_with(
    kernel: Kernel,
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    b: &[f32],
    [m, k, n]: [usize; 3],
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        kernel.is_supported(),
        "panel kernel {kernel:?} not supported"
    );
    assert!(
        a.len() >= m.div_ceil(MR) * k * MR,
        "panel gemm: a too short"
    );
    assert!(b.len() >= b_len(k, n), "panel gemm: b too short");
    assert!(
        c.len() >= (m - 1) * ldc + n && ldc >= n,
        "panel gemm: c too short"
    );
    if k == 0 {
        for i in 0..m {
            c[i * ldc..i * ldc + n].fill(0.0);
        }
        return;
    }
    let panels = n.div_ceil(NR);
    let mut tile = [0.0f32; MR * WIDEST * NR];
    let mut jp = 0;
    while jp < panels {
        // AVX-512 takes up to three panels (48 columns) at a time; the others one.
        let take = match kernel {
            Kernel::Avx512 => WIDEST.min(panels - jp),
            _ => 1,
        };
        let width = take * NR;
        let b_tile = &b[jp * k * NR..(jp + take) * k * NR];
        for (ip, a_panel) in a.chunks_exact(k * MR).take(m.div_ceil(MR)).enumerate() {
            let rows = MR.min(m - ip * MR);
            let cols = width.min(n - jp * NR);
            let at = ip * MR * ldc + jp * NR;
            // A whole AVX-512 tile goes straight from the registers into `c`; the others
            // through `tile`, then its valid rows and columns (row stride `width`).
            if kernel == Kernel::Avx512 && rows == MR && cols == width {
                #[cfg(target_arch = "x86_64")]
                {
                    assert!(at + (MR - 1) * ldc + width <= c.len(), "panel gemm: tile");
                    let out = &mut c[at..];
                    // SAFETY: the CPU has AVX-512 F (`kernel.is_supported()` was asserted);
                    // `a_panel` holds k * MR values, `b_tile` take * k * NR, and `out` MR rows
                    // of `width` values at stride `ldc` (asserted above).
                    unsafe {
                        match take {
                            3 => x86::tile_avx512::<3>(a_panel, b_tile, k, out, ldc),
                            2 => x86::tile_avx512::<2>(a_panel, b_tile, k, out, ldc),
                            _ => x86::tile_avx512::<1>(a_panel, b_tile, k, out, ldc),
                        }
                    }
                    continue;
                }
            }
            match (kernel, take) {
                // SAFETY (all four): `kernel.is_supported()` was asserted above, so the CPU
                // has AVX-512 F (and AVX2 and FMA); `a_panel` holds k * MR values, `b_tile`
                // take * k * NR, and `tile` MR * WIDEST * NR.
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx512, 3) => unsafe {
                    x86::tile_avx512::<3>(a_panel, b_tile, k, &mut tile, width)
                },
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx512, 2) => unsafe {
                    x86::tile_avx512::<2>(a_panel, b_tile, k, &mut tile, width)
                },
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx512, _) => unsafe {
                    x86::tile_avx512::<1>(a_panel, b_tile, k, &mut tile, width)
                },
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx2, _) => unsafe { x86::tile_avx2(a_panel, b_tile, k, &mut tile) },
                _ => tile_portable(a_panel, b_tile, k, &mut tile),
            }
            for r in 0..rows {
                let at = at + r * ldc;
                c[at..at + cols].copy_from_slice(&tile[r * width..r * width + cols]);
            }
        }
        jp += take;
    }
}

/// Most panels one AVX-512 tile covers.
const WIDEST: usize = 3;

/// Lanes of the running sums of [`gemm_nt_dots`].
pub(crate) const DOT_LANES: usize = 16;

/// `c[m, n] = a[m, k] · b[n, k]ᵀ` for row-major `a` and `b` (row strides `lda`, `ldb`), `c`
/// row-major with row stride `ldc`: each value a dot product of a row of `a` and a row of
/// `b`, with no packing (the rows are read as they lie). For the convolution's weight
/// gradient `grad_out[c_out, ld] · col[ckk, ld]ᵀ`, whose long `k` makes packing costly, and
/// for a dense layer's forward pass `x · weightᵀ`.
///
/// Order of the arithmetic (the same for every kernel and tile shape, so a value never
/// depends on how many rows `a` has): both rows are taken as zero-padded to a multiple of 16;
/// lane `l` of 16 accumulates `a[i, p] * b[j, p]` for `p = l, l + 16, ...` in ascending
/// order with fused multiply-adds from `+0.0`; the 16 lanes are then added in the tree
/// `l + 8`, `l + 4`, `l + 2`, `l + 1`, as in `sum_in_lanes`.
///
/// # Panics
/// When a slice is shorter than the sizes say.
pub(crate) fn gemm_nt_dots(
    (c, ldc): (&mut [f32], usize),
    (a, lda): (&[f32], usize),
    (b, ldb): (&[f32], usize),
    [m, k, n]: [usize; 3],
) {
    gemm_nt_dots_with(Kernel::detect(), (c, ldc), (a, lda), (b, ldb), [m, k, n]);
}

/// [`gemm_nt_dots`] with a given kernel, which must be supported.
pub(crate) fn gemm_nt_dots_with(
    kernel: Kernel,
    (c, ldc): (&mut [f32], usize),
    (a, lda): (&[f32], usize),
    (b, ldb): (&[f32], usize),
    [m, k, n]: [usize; 3],
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(kernel.is_supported(), "dot kernel {kernel:?} not supported");
    assert!(lda >= k && ldb >= k && ldc >= n, "dot gemm: strides");
    assert!(a.len() >= (m - 1) * lda + k, "dot gemm: a too short");
    assert!(b.len() >= (n - 1) * ldb + k, "dot gemm: b too short");
    assert!(c.len() >= (m - 1) * ldc + n, "dot gemm: c too short");
    if kernel == Kernel::Avx512 && m >= 4 && n >= 6 {
        // 24 of AVX-512's 32 registers accumulate, fed by 10 vector reads (4 of `a`, 6 of
        // `b`) where a 4 x 4 tile makes 16 products from 8 and a 2 x 12 tile 24 from 14 (the
        // convolution's weight gradient, 64 rows of gradients against 288 rows of its
        // column matrix, ran 6-9% faster than with 2 x 12). The tile shape changes no
        // bit: every value still sums its own lanes in order.
        dot_tiles::<4, 6>(kernel, (c, ldc), (a, lda), (b, ldb), [m, k, n]);
    } else if kernel == Kernel::Avx512 && m >= 2 && n >= 24 {
        // Two or three rows of `a`: 2 x 12, each value of `a` read feeding 12 products.
        dot_tiles::<2, 12>(kernel, (c, ldc), (a, lda), (b, ldb), [m, k, n]);
    } else if m >= 4 {
        dot_tiles::<4, 4>(kernel, (c, ldc), (a, lda), (b, ldb), [m, k, n]);
    } else {
        dot_tiles::<1, 8>(kernel, (c, ldc), (a, lda), (b, ldb), [m, k, n]);
    }
}

/// [`gemm_nt_dots_with`] in tiles of `MA` rows of `a` by `MB` rows of `b`.
fn dot_tiles<const MA: usize, const MB: usize>(
    kernel: Kernel,
    (c, ldc): (&mut [f32], usize),
    (a, lda): (&[f32], usize),
    (b, ldb): (&[f32], usize),
    [m, k, n]: [usize; 3],
) {
    // The lane sums of every tile of one column of tiles (MB rows of `b` against all of `a`),
    // carried from one block of k to the next.
    let tiles = m.div_ceil(MA);
    let mut lanes = vec![[0.0f32; DOT_LANES]; tiles * MA * MB];
    for j0 in (0..n).step_by(MB) {
        // Rows past the end repeat the last row; their results are not stored.
        let b_rows: [&[f32]; MB] = std::array::from_fn(|t| &b[(j0 + t).min(n - 1) * ldb..][..k]);
        if k == 0 {
            lanes.fill([0.0; DOT_LANES]);
        }
        // Blocks of DOT_K_BLOCK along k (a multiple of the lane count, so every lane still
        // adds its products in ascending order): the MB rows of `b` stay in L1 while the
        // rows of `a` stream past, instead of every tile streaming all its rows from L2.
        for k0 in (0..k).step_by(DOT_K_BLOCK) {
            let kb = DOT_K_BLOCK.min(k - k0);
            let carry = k0 > 0;
            let b_part: [&[f32]; MB] = std::array::from_fn(|t| &b_rows[t][k0..k0 + kb]);
            for (tile, lanes) in lanes.chunks_exact_mut(MA * MB).enumerate() {
                let i0 = tile * MA;
                let a_part: [&[f32]; MA] =
                    std::array::from_fn(|t| &a[(i0 + t).min(m - 1) * lda + k0..][..kb]);
                match kernel {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `kernel.is_supported()` was asserted, so the CPU has AVX-512 F;
                    // every row holds kb values and `lanes` MA * MB arrays.
                    Kernel::Avx512 => unsafe {
                        x86::dots_avx512(&a_part, &b_part, kb, lanes, carry)
                    },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as above, with AVX2 and FMA.
                    Kernel::Avx2 => unsafe { dots_avx2(&a_part, &b_part, kb, lanes, carry) },
                    _ => dots_body(&a_part, &b_part, kb, lanes, carry),
                }
            }
        }
        for (tile, lanes) in lanes.chunks_exact(MA * MB).enumerate() {
            let i0 = tile * MA;
            for (ti, row) in lanes.chunks_exact(MB).enumerate().take(m - i0) {
                for (tj, l) in row.iter().enumerate().take(n - j0) {
                    c[(i0 + ti) * ldc + j0 + tj] = reduce_lanes(l);
                }
            }
        }
    }
}

/// Values of `k` per block of [`dot_tiles`]: 2 KB of each row.
const DOT_K_BLOCK: usize = 512;

/// The fixed tree of [`gemm_nt_dots`] (and of `sum_in_lanes`): lanes `l` and `l + 8`, then
/// `+ 4`, `+ 2`, `+ 1`.
pub(crate) fn reduce_lanes(l: &[f32; DOT_LANES]) -> f32 {
    let mut v = *l;
    let mut half = DOT_LANES / 2;
    while half > 0 {
        for i in 0..half {
            v[i] += v[i + half];
        }
        half /= 2;
    }
    v[0]
}

/// The lane sums of one tile in plain Rust: `lanes[ti * MB + tj][l]`, starting from the
/// sums in `lanes` with `carry` (the tile's earlier blocks of k), else from zero.
#[inline(always)]
fn dots_body<const MA: usize, const MB: usize>(
    a: &[&[f32]; MA],
    b: &[&[f32]; MB],
    k: usize,
    lanes: &mut [[f32; DOT_LANES]],
    carry: bool,
) {
    if !carry {
        lanes.fill([0.0; DOT_LANES]);
    }
    let mut p = 0;
    while p < k {
        let take = DOT_LANES.min(k - p);
        let chunk = |row: &[f32]| {
            let mut v = [0.0f32; DOT_LANES];
            v[..take].copy_from_slice(&row[p..p + take]);
            v
        };
        let av: [[f32; DOT_LANES]; MA] = std::array::from_fn(|t| chunk(a[t]));
        let bv: [[f32; DOT_LANES]; MB] = std::array::from_fn(|t| chunk(b[t]));
        for (ti, x) in av.iter().enumerate() {
            for (tj, y) in bv.iter().enumerate() {
                let acc = &mut lanes[ti * MB + tj];
                for l in 0..DOT_LANES {
                    acc[l] = x[l].mul_add(y[l], acc[l]);
                }
            }
        }
        p += DOT_LANES;
    }
}

/// [`dots_body`] compiled for AVX2 with FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dots_avx2<const MA: usize, const MB: usize>(
    a: &[&[f32]; MA],
    b: &[&[f32]; MB],
    k: usize,
    lanes: &mut [[f32; DOT_LANES]],
    carry: bool,
) {
    dots_body(a, b, k, lanes, carry);
}

/// One 8 x 16 tile in plain Rust: `tile[r * NR + j] = Σ_kk a[kk * MR + r] * b[kk * NR + j]`.
fn tile_portable(a: &[f32], b: &[f32], k: usize, tile: &mut [f32]) {
    let mut acc = [[0.0f32; NR]; MR];
    for (av, bv) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(k) {
        for (row, &x) in acc.iter_mut().zip(av) {
            for (v, &y) in row.iter_mut().zip(bv) {
                *v = x.mul_add(y, *v);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        tile[r * NR..(r + 1) * NR].copy_from_slice(row);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{MR, NR};

    /// One 8 x (16 P) tile from `P` consecutive panels of `b` (starting at `b`, `k * NR`
    /// apart): `tile[r * ld + j]`, with 8 P zmm accumulators.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F; `a.len() >= k * MR`, `b.len() >= P * k * NR`,
    /// `ld >= P * NR` and `tile.len() >= (MR - 1) * ld + P * NR`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile_avx512<const P: usize>(
        a: &[f32],
        b: &[f32],
        k: usize,
        tile: &mut [f32],
        ld: usize,
    ) {
        assert!(
            ld >= P * NR && tile.len() >= (MR - 1) * ld + P * NR,
            "avx512 tile"
        );
        debug_assert!(a.len() >= k * MR && b.len() >= P * k * NR);
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [[_mm512_setzero_ps(); P]; MR];
        for kk in 0..k {
            // SAFETY: kk < k, so the 16 values at q * k * NR + kk * NR (q < P) lie inside b
            // (length >= P * k * NR), and the MR values at kk * MR inside a.
            unsafe {
                let mut x = [_mm512_setzero_ps(); P];
                for (q, x) in x.iter_mut().enumerate() {
                    *x = _mm512_loadu_ps(pb.add(q * k * NR + kk * NR));
                }
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*pa.add(kk * MR + r));
                    for (acc, &x) in acc.iter_mut().zip(&x) {
                        *acc = _mm512_fmadd_ps(av, x, *acc);
                    }
                }
            }
        }
        let out = tile.as_mut_ptr();
        for (r, acc) in acc.iter().enumerate() {
            for (q, &acc) in acc.iter().enumerate() {
                // SAFETY: r < MR and q < P, so the 16 values end within (MR - 1) * ld + P * NR
                // (asserted).
                unsafe { _mm512_storeu_ps(out.add(r * ld + q * NR), acc) };
            }
        }
    }

    /// The lane sums of one `MA x MB` tile of dot products with `MA * MB` zmm accumulators
    /// (see `gemm_nt_dots`): `lanes[ti * MB + tj][l]`, starting from the sums in `lanes` with
    /// `carry`, else from zero.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F; every row must hold at least `k` values; `lanes` must
    /// hold at least `MA * MB` arrays.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dots_avx512<const MA: usize, const MB: usize>(
        a: &[&[f32]; MA],
        b: &[&[f32]; MB],
        k: usize,
        lanes: &mut [[f32; 16]],
        carry: bool,
    ) {
        debug_assert!(a.iter().chain(b).all(|r| r.len() >= k));
        assert!(lanes.len() >= MA * MB, "dot tile lanes");
        let pa: [*const f32; MA] = std::array::from_fn(|t| a[t].as_ptr());
        let pb: [*const f32; MB] = std::array::from_fn(|t| b[t].as_ptr());
        let mut acc = [[_mm512_setzero_ps(); MB]; MA];
        if carry {
            for (ti, acc) in acc.iter_mut().enumerate() {
                for (tj, acc) in acc.iter_mut().enumerate() {
                    // SAFETY: each lane array holds 16 values (and there are MA * MB of them).
                    *acc = unsafe { _mm512_loadu_ps(lanes[ti * MB + tj].as_ptr()) };
                }
            }
        }
        // Whole vectors with plain loads (no mask to compute and move into a mask register
        // each step: 2-5% faster on the weight gradient's 4 x 6 tiles, alternating in one
        // process), then the last partial vector, whose lanes at or past k load as zero
        // (masked), as the padding the order defines.
        let whole = k / 16 * 16;
        let mut p = 0;
        while p < whole {
            // SAFETY: p + 16 <= k, inside every row.
            unsafe {
                let x: [__m512; MA] = std::array::from_fn(|t| _mm512_loadu_ps(pa[t].add(p)));
                // Each row of `b` loaded just before its products: a wide tile (MB = 12)
                // then needs MA + 1 registers besides its accumulators, not MA + MB.
                for (tj, &row) in pb.iter().enumerate() {
                    let y = _mm512_loadu_ps(row.add(p));
                    for (acc, &x) in acc.iter_mut().zip(&x) {
                        acc[tj] = _mm512_fmadd_ps(x, y, acc[tj]);
                    }
                }
            }
            p += 16;
        }
        if p < k {
            let mask: __mmask16 = (1u16 << (k - p)) - 1;
            // SAFETY: the mask enables only lanes p + l < k, inside every row.
            unsafe {
                let x: [__m512; MA] =
                    std::array::from_fn(|t| _mm512_maskz_loadu_ps(mask, pa[t].add(p)));
                for (tj, &row) in pb.iter().enumerate() {
                    let y = _mm512_maskz_loadu_ps(mask, row.add(p));
                    for (acc, &x) in acc.iter_mut().zip(&x) {
                        acc[tj] = _mm512_fmadd_ps(x, y, acc[tj]);
                    }
                }
            }
        }
        for (ti, acc) in acc.iter().enumerate() {
            for (tj, &v) in acc.iter().enumerate() {
                // SAFETY: each lane array holds 16 values (and there are MA * MB of them).
                unsafe { _mm512_storeu_ps(lanes[ti * MB + tj].as_mut_ptr(), v) };
            }
        }
    }

    /// One 8 x 16 tile from one panel of `b`: `tile[r * 16 + j]`, with 16 ymm accumulators.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `a.len() >= k * MR`, `b.len() >= k * NR`,
    /// `tile.len() >= MR * NR`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile_avx2(a: &[f32], b: &[f32], k: usize, tile: &mut [f32]) {
        debug_assert!(a.len() >= k * MR && b.len() >= k * NR && tile.len() >= MR * NR);
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [[_mm256_setzero_ps(); 2]; MR];
        for kk in 0..k {
            // SAFETY: kk < k, so the 16 values at kk * NR lie inside b and the MR values at
            // kk * MR inside a.
            unsafe {
                let x0 = _mm256_loadu_ps(pb.add(kk * NR));
                let x1 = _mm256_loadu_ps(pb.add(kk * NR + 8));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm256_set1_ps(*pa.add(kk * MR + r));
                    acc[0] = _mm256_fmadd_ps(av, x0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(av, x1, acc[1]);
                }
            }
        }
        let out = tile.as_mut_ptr();
        for (r, acc) in acc.iter().enumerate() {
            // SAFETY: r < MR, so r * 16 + 16 <= MR * NR <= the tile's length.
            unsafe {
                _mm256_storeu_ps(out.add(r * NR), acc[0]);
                _mm256_storeu_ps(out.add(r * NR + 8), acc[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        // A small deterministic generator (no RNG needed): values in [-1, 1).
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// `c = a · b` through the panels with every supported kernel; all must agree to the bit
    /// and with the plain sum of products (same fma chain).
    fn check(m: usize, k: usize, n: usize, seed: u32) -> Result<(), TestCaseError> {
        let a = values(m * k, seed);
        let b = values(k * n, seed ^ 0x55);
        let mut pa = Vec::new();
        pack_a(&mut pa, &a, false, m, k);
        // The transposed packing of aᵀ gives the same panels.
        let at: Vec<f32> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
        let mut pat = Vec::new();
        pack_a(&mut pat, &at, true, m, k);
        prop_assert_eq!(&pa, &pat);
        let mut pb = vec![f32::NAN; b_len(k, n)];
        pack_b(&mut pb, &b, n, k, n);
        let mut want = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0f32;
                for kk in 0..k {
                    acc = a[i * k + kk].mul_add(b[kk * n + j], acc);
                }
                want[i * n + j] = acc;
            }
        }
        let ldc = n + 3;
        for kernel in Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
            let mut c = vec![f32::NAN; m.max(1) * ldc];
            gemm_with(kernel, &mut c, ldc, &pa, &pb, [m, k, n]);
            for i in 0..m {
                let got: Vec<u32> = c[i * ldc..i * ldc + n]
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                let exp: Vec<u32> = want[i * n..(i + 1) * n]
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                prop_assert_eq!(got, exp, "{:?} row {}", kernel, i);
                // Nothing past column n is touched.
                prop_assert!(c[i * ldc + n..(i + 1) * ldc].iter().all(|v| v.is_nan()));
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn every_kernel_computes_the_same_fma_chain(m in 0usize..30, k in 0usize..40, n in 0usize..70, seed in any::<u32>()) {
            check(m, k, n, seed)?;
        }
    }

    /// `gemm_nt_dots` with every supported kernel against the documented order, spelled out.
    fn check_dots(m: usize, k: usize, n: usize, seed: u32) -> Result<(), TestCaseError> {
        let (lda, ldb) = (k + 2, k + 5);
        let a = values(m * lda, seed);
        let b = values(n * ldb, seed ^ 0x77);
        let mut want = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut lanes = [0.0f32; 16];
                for p in 0..k.div_ceil(16) * 16 {
                    let (x, y) = if p < k {
                        (a[i * lda + p], b[j * ldb + p])
                    } else {
                        (0.0, 0.0)
                    };
                    lanes[p % 16] = x.mul_add(y, lanes[p % 16]);
                }
                want[i * n + j] = reduce_lanes(&lanes);
            }
        }
        for kernel in Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
            let mut c = vec![f32::NAN; m * n];
            gemm_nt_dots_with(kernel, (&mut c, n), (&a, lda), (&b, ldb), [m, k, n]);
            let got: Vec<u32> = c.iter().map(|v| v.to_bits()).collect();
            let exp: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(got, exp, "{:?}", kernel);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn every_dot_kernel_follows_the_documented_order(m in 0usize..11, k in 0usize..70, n in 0usize..11, seed in any::<u32>()) {
            check_dots(m, k, n, seed)?;
        }

        #[test]
        fn wide_dot_tiles_follow_the_documented_order(m in 2usize..9, k in 0usize..100, n in 24usize..64, seed in any::<u32>()) {
            // AVX-512's 4 x 6 tiles (4 rows of `a` or more) and 2 x 12 tiles (2 or 3), with
            // partial last tiles in both directions.
            check_dots(m, k, n, seed)?;
        }
    }

    #[test]
    fn convolution_sizes() {
        check_dots(64, 1568, 288, 4).unwrap();
        check_dots(32, 6272, 9, 5).unwrap();
        // Several blocks of k with a partial, masked last one, for both tile shapes.
        check_dots(6, 1031, 5, 6).unwrap();
        check_dots(2, 1031, 9, 7).unwrap();
        check_dots(3, 1031, 37, 8).unwrap();
        check(64, 288, 100, 1).unwrap();
        check(288, 64, 200, 2).unwrap();
        check(32, 9, 784, 3).unwrap();
    }

    #[test]
    fn runs_land_in_their_panels() {
        let (k, n) = (3, 40);
        let mut b = vec![f32::NAN; b_len(k, n)];
        let row: Vec<f32> = (0..n).map(|j| j as f32).collect();
        for r in 0..k {
            put_run(&mut b, k, r, 0, &row[..13]);
            put_zeros(&mut b, k, r, 13, 5);
            put_run(&mut b, k, r, 18, &row[18..]);
        }
        let mut want = vec![f32::NAN; b_len(k, n)];
        let mut dense = vec![0.0; k * n];
        for r in 0..k {
            for j in 0..n {
                dense[r * n + j] = if (13..18).contains(&j) { 0.0 } else { j as f32 };
            }
        }
        pack_b(&mut want, &dense, n, k, n);
        // Compare the valid columns (pack_b zeroes the padding, the runs leave it).
        for p in 0..n.div_ceil(NR) {
            for r in 0..k {
                for lane in 0..NR.min(n - p * NR) {
                    let at = p * k * NR + r * NR + lane;
                    assert_eq!(b[at], want[at], "panel {p} row {r} lane {lane}");
                }
            }
        }
    }
}
