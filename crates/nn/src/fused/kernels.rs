//! The per-chunk kernels of the fused seed network, written once over 8-lane `[f32; 8]`
//! vectors (one lane per filter, or per class-sum lane) and compiled for each instruction set
//! by [`super::isa`].
//!
//! Every kernel spells out its arithmetic as IEEE operations in a fixed order: products and
//! sums are `mul_add` (one rounding), maxima are comparisons, horizontal sums follow one
//! fixed tree. The compiler may vectorise that but never reorder it, so the AVX-512, AVX2
//! and portable builds of the same kernel give bit-identical results (the portable build
//! is slow where `mul_add` has no hardware instruction, but it is exact).
//!
//! Shapes (sizes from [`Dims`]; `F8 = groups * 8` padded filters, `P = hp * wp`):
//! - image `x: [h, w]`;
//! - conv weight `[groups][k * k][8]`, bias `[groups][8]`;
//! - pooled activations and codes `act, codes: [groups][P][8]` (per sample);
//! - dense weight `[classes][groups * P * 8]`, logits `[classes]` (per sample).
//!
//! Each kernel takes a const size (`KC` for the kernel side, `CC` for the classes) that is
//! either the seed network's (so loops unroll and accumulators live in registers) or 0 (read
//! the size from `Dims` at run time). Both forms do the same operations in the same order.

use super::layout::{Chunk, Dims, Params};
use super::Images;
use crate::loss::{Objective, UNIFORM};

/// Lanes of one vector: filters computed together.
pub(crate) const LANES: usize = 8;
/// Code of a pooled value that the ReLU cut (no gradient flows back).
pub(crate) const NONE: f32 = 4.0;
/// Largest kernel side whose accumulators are kept in a fixed local array.
const MAX_KC: usize = 5;

type V = [f32; LANES];

#[inline(always)]
fn splat(x: f32) -> V {
    [x; LANES]
}

#[inline(always)]
fn load(s: &[f32], at: usize) -> V {
    let mut v = [0.0; LANES];
    v.copy_from_slice(&s[at..at + LANES]);
    v
}

#[inline(always)]
fn store(s: &mut [f32], at: usize, v: V) {
    s[at..at + LANES].copy_from_slice(&v);
}

/// `a * b + c` per lane, rounded once.
#[inline(always)]
fn fma(a: V, b: V, c: V) -> V {
    let mut r = [0.0; LANES];
    for l in 0..LANES {
        r[l] = a[l].mul_add(b[l], c[l]);
    }
    r
}

#[inline(always)]
fn add(a: V, b: V) -> V {
    let mut r = [0.0; LANES];
    for l in 0..LANES {
        r[l] = a[l] + b[l];
    }
    r
}

/// `a[l]` where `code[l] == q`, else 0.
#[inline(always)]
fn select_eq(code: V, q: f32, a: V) -> V {
    let mut r = [0.0; LANES];
    for l in 0..LANES {
        r[l] = if code[l] == q { a[l] } else { 0.0 };
    }
    r
}

/// Sum of the lanes in a fixed tree: `((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7))`.
#[inline(always)]
fn hsum(v: V) -> f32 {
    let a = [v[0] + v[4], v[1] + v[5], v[2] + v[6], v[3] + v[7]];
    let b = [a[0] + a[2], a[1] + a[3]];
    b[0] + b[1]
}

/// `R` rows of at least `len` vectors each, read with one bounds check per access (`v <
/// len`, which LLVM drops inside a `0..len` loop) instead of one per row: plain slice
/// indexing in a tile loop compares every load's index with its row's length.
#[derive(Clone, Copy)]
struct Rows<'a, const R: usize> {
    rows: [&'a [V]; R],
    len: usize,
}

impl<'a, const R: usize> Rows<'a, R> {
    /// Row `r` is the first `len * LANES` values of `row(r)` (panics if they are fewer).
    #[inline(always)]
    fn new(row: impl Fn(usize) -> &'a [f32], len: usize) -> Self {
        let rows = std::array::from_fn(|r| &row(r)[..len * LANES].as_chunks::<LANES>().0[..len]);
        Self { rows, len }
    }

    /// Vector `v` of row `r`.
    #[inline(always)]
    fn get(&self, r: usize, v: usize) -> V {
        assert!(v < self.len);
        // SAFETY: every row holds exactly `len` vectors (sliced so in `new`) and `v < len`.
        unsafe { *self.rows[r].get_unchecked(v) }
    }
}

#[inline(always)]
fn size(konst: usize, dynamic: usize) -> usize {
    if konst > 0 {
        konst
    } else {
        dynamic
    }
}

/// Max and argmax of four window positions per lane (first wins ties, row-major window
/// order, as `tensor::maxpool2x2_forward`), then the ReLU: a maximum that is not positive
/// becomes 0 with code [`NONE`].
#[inline(always)]
fn pool4(acc: &[V; 4]) -> (V, V) {
    let mut m = acc[0];
    let mut code = [0.0; LANES];
    for (q, a) in acc.iter().enumerate().skip(1) {
        for l in 0..LANES {
            if a[l] > m[l] {
                m[l] = a[l];
                code[l] = q as f32;
            }
        }
    }
    for l in 0..LANES {
        // Written as "not positive" so a NaN maximum is cut as well (ReLU's mask is x > 0).
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(m[l] > 0.0) {
            m[l] = 0.0;
            code[l] = NONE;
        }
    }
    (m, code)
}

/// Writes sample `s` of `images` into `dst` as values in [0, 1] (bytes `p` become `p / 255`,
/// exactly as `datagen::to_unit` computes it). Returns whether every value is finite (always
/// for bytes; float images are checked).
#[inline(always)]
fn fill_image(dst: &mut [f32], images: &Images<'_>, s: usize) -> bool {
    let len = dst.len();
    let bytes = match *images {
        Images::Unit(v) => {
            dst.copy_from_slice(&v[s * len..(s + 1) * len]);
            // No early exit, so that it vectorises.
            return dst.iter().fold(true, |ok, v| ok & v.is_finite());
        }
        Images::Computed(c) => {
            c.fill(s, dst);
            return dst.iter().fold(true, |ok, v| ok & v.is_finite());
        }
        Images::Bytes(b) => &b[s * len..(s + 1) * len],
        Images::Gather {
            bytes,
            extra,
            indices,
        } => Images::gathered(bytes, extra, indices[s], len),
    };
    for (d, &p) in dst.iter_mut().zip(bytes) {
        *d = byte_to_unit(p);
    }
    true
}

/// Reads one byte of every cache line of a gathered batch before converting it. A shuffled
/// batch is scattered over the whole dataset, so its images are usually not in cache; these
/// loads do not depend on each other, so the CPU overlaps their misses instead of taking
/// them one image at a time during the conversion.
#[inline(always)]
fn touch_images(images: &Images<'_>, n: usize, image_len: usize) {
    if let Images::Gather {
        bytes,
        extra,
        indices,
    } = *images
    {
        let mut sum = 0u8;
        for &i in &indices[..n] {
            let image = Images::gathered(bytes, extra, i, image_len);
            for at in (0..image_len).step_by(64) {
                sum = sum.wrapping_add(image[at]);
            }
        }
        std::hint::black_box(sum);
    }
}

/// `p / 255` rounded to `f32`, without a division: the `f64` product rounds to the same
/// `f32` for every byte (checked exhaustively by a test), and multiplies vectorise cheaply
/// where divides do not.
#[inline(always)]
fn byte_to_unit(p: u8) -> f32 {
    (f64::from(p) * (1.0 / 255.0)) as f32
}

/// Convolution + bias + ReLU + 2x2 max-pool of one image for every filter group.
///
/// For each pooled position the four window positions `q = (dy, dx)` are computed one after
/// the other with the filter taps in registers; for each `q` the taps are added in
/// `(ki, kj)` row-major order, starting from the bias. Pool and ReLU follow before anything
/// is stored.
#[inline(always)]
fn conv_pool<const KC: usize, const CODES: bool>(
    act: &mut [f32],
    codes: &mut [f32],
    x: &[f32],
    p: &Params,
    d: &Dims,
) {
    let k = size(KC, d.k);
    let (w, taps, positions) = (d.w, k * k, d.positions());
    for g in 0..d.groups {
        let wbase = g * taps * LANES;
        let mut wreg = [[0.0f32; LANES]; MAX_KC * MAX_KC];
        if KC > 0 {
            for (t, r) in wreg.iter_mut().enumerate().take(taps) {
                *r = load(&p.conv_w, wbase + t * LANES);
            }
        }
        let bias = load(&p.conv_b, g * LANES);
        for py in 0..d.hp {
            for px in 0..d.wp {
                let base = 2 * py * w + 2 * px;
                let window = &x[base..base + k * w + k + 1];
                let mut acc = [bias; 4];
                for (q, a) in acc.iter_mut().enumerate() {
                    let corner = (q / 2) * w + q % 2;
                    for ki in 0..k {
                        // One bounds check per row: `kj < k == row.len()` needs none.
                        let row = &window[corner + ki * w..][..k];
                        for (kj, &pixel) in row.iter().enumerate() {
                            let t = ki * k + kj;
                            let wt = if KC > 0 {
                                wreg[t]
                            } else {
                                load(&p.conv_w, wbase + t * LANES)
                            };
                            *a = fma(splat(pixel), wt, *a);
                        }
                    }
                }
                let (m, code) = pool4(&acc);
                let at = (g * positions + py * d.wp + px) * LANES;
                store(act, at, m);
                if CODES {
                    store(codes, at, code);
                }
            }
        }
    }
}

/// `logits[s][c] = bias[c] + hsum(Σ_v act[s][v] · weight[c][v])` for samples `0..n`, where
/// the sum over vectors `v` runs in order in one 8-lane accumulator per `(s, c)`. Tiles of
/// 4 samples x 5 classes share their loads; the arithmetic of each `(s, c)` does not depend
/// on the tiling.
#[inline(always)]
fn dense_forward<const CC: usize>(logits: &mut [f32], act: &[f32], p: &Params, d: &Dims, n: usize) {
    let classes = size(CC, d.classes);
    let mut s0 = 0;
    while s0 + 4 <= n {
        dense_forward_rows::<CC, 4>(logits, act, p, d, s0, classes);
        s0 += 4;
    }
    while s0 < n {
        dense_forward_rows::<CC, 1>(logits, act, p, d, s0, classes);
        s0 += 1;
    }
}

#[inline(always)]
fn dense_forward_rows<const CC: usize, const SB: usize>(
    logits: &mut [f32],
    act: &[f32],
    p: &Params,
    d: &Dims,
    s0: usize,
    classes: usize,
) {
    let mut c0 = 0;
    if CC > 0 {
        while c0 + 5 <= classes {
            dense_forward_tile::<SB, 5>(logits, act, p, d, s0, c0, classes);
            c0 += 5;
        }
    }
    while c0 < classes {
        dense_forward_tile::<SB, 1>(logits, act, p, d, s0, c0, classes);
        c0 += 1;
    }
}

#[inline(always)]
#[allow(clippy::needless_range_loop)] // acc[s][c] indexing states the tile plainly
fn dense_forward_tile<const SB: usize, const CB: usize>(
    logits: &mut [f32],
    act: &[f32],
    p: &Params,
    d: &Dims,
    s0: usize,
    c0: usize,
    classes: usize,
) {
    let features = d.features();
    let vectors = features / LANES;
    let xs = Rows::<SB>::new(|s| &act[(s0 + s) * features..], vectors);
    let ws = Rows::<CB>::new(|c| &p.dense_w[(c0 + c) * features..], vectors);
    let mut acc = [[[0.0f32; LANES]; CB]; SB];
    for v in 0..vectors {
        let x: [V; SB] = std::array::from_fn(|s| xs.get(s, v));
        for c in 0..CB {
            let wv = ws.get(c, v);
            for s in 0..SB {
                acc[s][c] = fma(x[s], wv, acc[s][c]);
            }
        }
    }
    // One bounds check for the whole tile: with a possible panic between the stores, LLVM
    // kept a copy of every accumulator in memory, stored on each step of the loop above.
    let out = &mut logits[s0 * classes + c0..][..(SB - 1) * classes + CB];
    for s in 0..SB {
        for c in 0..CB {
            out[s * classes + c] = hsum(acc[s][c]) + p.dense_b[c0 + c];
        }
    }
}

/// Softmax cross-entropy of each row of `logits` against its label, exactly as
/// [`crate::softmax_cross_entropy_with`] computes it for `objective`: the rows become
/// dL/dlogits `(softmax - onehot) * inv_n` (`(softmax - 1/classes) * inv_n` for a
/// [`UNIFORM`] label), or with energy margins `(1 + k) softmax * inv_n -
/// onehot * inv_n` (`k softmax * inv_n` for an outlier, see `Objective::margin`); returns the
/// sum of the rows' losses (in `f64`) and the number of rows whose first largest logit is
/// the label.
#[inline(always)]
fn softmax_rows(
    logits: &mut [f32],
    labels: &[usize],
    classes: usize,
    inv_n: f32,
    objective: Objective,
) -> (f64, usize) {
    let (mut total, mut correct) = (0.0f64, 0usize);
    for (row, &label) in logits.chunks_exact_mut(classes).zip(labels) {
        if tensor::argmax(row) == label {
            correct += 1;
        }
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if label == UNIFORM && objective == Objective::Uniform {
            // Outlier exposure: the target is uniform (see `crate::loss::UNIFORM`).
            let sum: f32 = row.iter().map(|&x| (x - max).exp()).sum();
            total += crate::loss::row_loss(row, label, max, sum);
            let inv = 1.0 / sum;
            let share = inv_n / classes as f32;
            for v in row.iter_mut() {
                *v = (((*v - max).exp() * inv) * inv_n) - share;
            }
            continue;
        }
        // Cross-entropy for a digit, plus the objective's energy margin (none for
        // `Objective::Uniform`); an outlier under energy margins has its margin alone.
        let shifted_label = (label != UNIFORM).then(|| row[label] - max);
        let mut sum = 0.0f32;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        let inv = 1.0 / sum;
        let (margin, k) = objective
            .margin(label, max + sum.ln())
            .unwrap_or((0.0, 0.0));
        total += margin;
        let scale = if shifted_label.is_some() { 1.0 + k } else { k };
        for v in row.iter_mut() {
            *v = (*v * inv) * (scale * inv_n);
        }
        if let Some(shifted) = shifted_label {
            total += f64::from(sum.ln() - shifted);
            row[label] -= inv_n;
        }
    }
    (total, correct)
}

/// Dense backward over the chunk, one 8-feature vector `v` at a time:
/// - `grad_w[c][v] = Σ_s dl[s][c] · act[s][v]` (samples in order, from 0);
/// - then `act[s][v]` is overwritten by `Σ_c dl[s][c] · weight[c][v]` (classes in order).
///
/// The bias gradient is `Σ_s dl[s][c]`. With the classes compiled in, `VB` vectors are done
/// together (each broadcast of `dl[s][c]` then feeds `VB` multiply-adds); `VB = 2` needs
/// AVX-512's 32 registers to keep its 20 accumulators in registers.
#[inline(always)]
fn dense_backward<const CC: usize, const VB: usize>(
    ch: &mut Chunk,
    p: &Params,
    d: &Dims,
    n: usize,
) {
    let classes = size(CC, d.classes);
    let features = d.features();
    let dl = &ch.logits[..n * classes];
    for (c, gb) in ch.grad_dense_b.iter_mut().enumerate() {
        *gb = 0.0;
        for s in 0..n {
            *gb += dl[s * classes + c];
        }
    }
    if CC > 0 {
        let vectors = features / LANES;
        let mut v = 0;
        while v + VB <= vectors {
            dense_backward_cols::<CC, VB>(ch, p, d, n, v);
            v += VB;
        }
        while v < vectors {
            dense_backward_cols::<CC, 1>(ch, p, d, n, v);
            v += 1;
        }
        return;
    }
    for v in (0..features).step_by(LANES) {
        for c in 0..classes {
            let mut a = [0.0f32; LANES];
            for s in 0..n {
                a = fma(
                    splat(dl[s * classes + c]),
                    load(&ch.act, s * features + v),
                    a,
                );
            }
            store(&mut ch.grad_dense_w, c * features + v, a);
        }
        for s in 0..n {
            let mut a = [0.0f32; LANES];
            for c in 0..classes {
                a = fma(
                    splat(dl[s * classes + c]),
                    load(&p.dense_w, c * features + v),
                    a,
                );
            }
            store(&mut ch.act, s * features + v, a);
        }
    }
}

/// [`dense_backward`] of the `VB` vectors from vector `v0` on, for `CC > 0` classes.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // acc[c][b] indexing states the tile plainly
fn dense_backward_cols<const CC: usize, const VB: usize>(
    ch: &mut Chunk,
    p: &Params,
    d: &Dims,
    n: usize,
    v0: usize,
) {
    let features = d.features();
    let at = v0 * LANES;
    let dl = ch.logits[..n * CC].as_chunks::<CC>().0;
    // The sample rows and class rows of these vectors, sliced once: the loops then have no
    // bounds checks, whose early exits would make LLVM keep the accumulators in memory.
    let rows = |data: &[f32], r: usize| -> [V; VB] {
        let row = &data[r * features + at..][..VB * LANES];
        std::array::from_fn(|b| load(row, b * LANES))
    };
    let mut acc = [[[0.0f32; LANES]; VB]; CC];
    for (s, dls) in dl.iter().enumerate() {
        let xs = rows(&ch.act, s);
        for c in 0..CC {
            let g = splat(dls[c]);
            for b in 0..VB {
                acc[c][b] = fma(g, xs[b], acc[c][b]);
            }
        }
    }
    for (c, a) in acc.iter().enumerate() {
        let out = &mut ch.grad_dense_w[c * features + at..][..VB * LANES];
        for (b, v) in a.iter().enumerate() {
            store(out, b * LANES, *v);
        }
    }
    let ws: [[V; VB]; CC] = std::array::from_fn(|c| rows(&p.dense_w, c));
    for (s, dls) in dl.iter().enumerate() {
        let mut a = [[0.0f32; LANES]; VB];
        for c in 0..CC {
            let g = splat(dls[c]);
            for b in 0..VB {
                a[b] = fma(g, ws[c][b], a[b]);
            }
        }
        let out = &mut ch.act[s * features + at..][..VB * LANES];
        for (b, v) in a.iter().enumerate() {
            store(out, b * LANES, *v);
        }
    }
}

/// Conv backward over the chunk: `grad_w[g][t] = Σ_s Σ_p Σ_q x[pixel(p, q, t)] · gq`, where
/// `gq` is the pooled gradient routed to the window position `q` that won (0 elsewhere and
/// where the ReLU cut), summed over samples, positions and `q` in order; `grad_b[g] = Σ`
/// of the routed gradients. It costs what the forward pass costs (36 multiply-adds per
/// pooled position for a 3x3 kernel, three in four of them by a masked zero).
///
/// Selecting each lane's winning pixel first (one multiply-add per tap) cuts that by up to
/// 4x, but LLVM turns the per-lane selects into shuffles that cost more than they save: the
/// AVX-512 build uses the hand-written `vpermt2ps` twin [`super::avx512::conv_backward_3x3`]
/// (same bits) for 3x3 kernels instead.
#[inline(always)]
fn conv_backward<const KC: usize>(ch: &mut Chunk, d: &Dims, n: usize) {
    let k = size(KC, d.k);
    let (w, taps, positions, features, image_len) =
        (d.w, k * k, d.positions(), d.features(), d.image_len());
    if KC == 0 {
        ch.grad_conv_w.fill(0.0);
    }
    for g in 0..d.groups {
        let wbase = g * taps * LANES;
        let mut acc = [[0.0f32; LANES]; MAX_KC * MAX_KC];
        let mut bacc = [0.0f32; LANES];
        for s in 0..n {
            let x = &ch.x[s * image_len..(s + 1) * image_len];
            for py in 0..d.hp {
                for px in 0..d.wp {
                    let at = s * features + (g * positions + py * d.wp + px) * LANES;
                    let dp = load(&ch.act, at);
                    let code = load(&ch.codes, at);
                    let gq = [
                        select_eq(code, 0.0, dp),
                        select_eq(code, 1.0, dp),
                        select_eq(code, 2.0, dp),
                        select_eq(code, 3.0, dp),
                    ];
                    bacc = add(bacc, add(add(gq[0], gq[1]), add(gq[2], gq[3])));
                    let base = 2 * py * w + 2 * px;
                    let window = &x[base..base + k * w + k + 1];
                    for (q, g) in gq.iter().enumerate() {
                        let corner = (q / 2) * w + q % 2;
                        for ki in 0..k {
                            let row = &window[corner + ki * w..][..k];
                            for (kj, &pixel) in row.iter().enumerate() {
                                let t = ki * k + kj;
                                let v = splat(pixel);
                                if KC > 0 {
                                    acc[t] = fma(v, *g, acc[t]);
                                } else {
                                    let at = wbase + t * LANES;
                                    let sum = fma(v, *g, load(&ch.grad_conv_w, at));
                                    store(&mut ch.grad_conv_w, at, sum);
                                }
                            }
                        }
                    }
                }
            }
        }
        if KC > 0 {
            for (t, a) in acc.iter().enumerate().take(taps) {
                store(&mut ch.grad_conv_w, wbase + t * LANES, *a);
            }
        }
        store(&mut ch.grad_conv_b, g * LANES, bacc);
    }
}

/// Forward, loss and backward of the `labels.len()` samples of `images` (indices local to
/// the chunk) into `ch`: its gradients, loss sum and correct count. `inv_n` is 1 / the whole
/// batch's size.
///
/// `AVX512` may only be `true` when the CPU has AVX-512 F and VL (it selects hand-written
/// kernels of [`super::avx512`]).
#[inline(always)]
pub(crate) fn train_chunk<const KC: usize, const CC: usize, const AVX512: bool>(
    ch: &mut Chunk,
    p: &Params,
    d: &Dims,
    images: &Images<'_>,
    labels: &[usize],
    inv_n: f32,
    objective: Objective,
) {
    let n = labels.len();
    let (image_len, features) = (d.image_len(), d.features());
    touch_images(images, n, image_len);
    let mut finite = true;
    for s in 0..n {
        let x = &mut ch.x[s * image_len..(s + 1) * image_len];
        finite &= fill_image(x, images, s);
        conv_pool::<KC, true>(
            &mut ch.act[s * features..(s + 1) * features],
            &mut ch.codes[s * features..(s + 1) * features],
            x,
            p,
            d,
        );
    }
    let classes = d.classes;
    dense_forward::<CC>(&mut ch.logits, &ch.act, p, d, n);
    let (loss, correct) = softmax_rows(
        &mut ch.logits[..n * classes],
        labels,
        classes,
        inv_n,
        objective,
    );
    ch.loss = loss;
    ch.correct = correct;
    if AVX512 {
        dense_backward::<CC, 2>(ch, p, d, n);
    } else {
        dense_backward::<CC, 1>(ch, p, d, n);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = finite;
    #[cfg(target_arch = "x86_64")]
    if AVX512 && KC == 3 && finite {
        // SAFETY: `AVX512` is only true in the AVX-512 build of this kernel, which runs only
        // on CPUs with AVX-512 F and VL (see `isa::run`); the images are finite, as the
        // selecting kernel requires for the same bits.
        unsafe { super::avx512::conv_backward_3x3(ch, d, n) };
        return;
    }
    conv_backward::<KC>(ch, d, n);
}

/// Logits `[n][classes]` of the `n` samples of `images` (indices local to the chunk).
#[inline(always)]
pub(crate) fn infer_chunk<const KC: usize, const CC: usize>(
    logits: &mut [f32],
    ch: &mut Chunk,
    p: &Params,
    d: &Dims,
    images: &Images<'_>,
) {
    let n = logits.len() / d.classes;
    let (image_len, features) = (d.image_len(), d.features());
    for s in 0..n {
        let x = &mut ch.x[s * image_len..(s + 1) * image_len];
        fill_image(x, images, s);
        conv_pool::<KC, false>(
            &mut ch.act[s * features..(s + 1) * features],
            &mut [],
            x,
            p,
            d,
        );
    }
    dense_forward::<CC>(logits, &ch.act, p, d, n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_to_unit_equals_division_for_every_byte() {
        for p in 0..=255u8 {
            assert_eq!(
                byte_to_unit(p).to_bits(),
                (f32::from(p) / 255.0).to_bits(),
                "{p}"
            );
        }
    }

    #[test]
    fn hsum_adds_in_its_documented_tree() {
        // Values chosen so that any other order rounds differently.
        let v = [1e8, 1.0, -1e8, 1.0, 3.0, 1.0, 5.0, 1.0];
        let want = ((1e8f32 + 3.0) + (-1e8f32 + 5.0)) + ((1.0f32 + 1.0) + (1.0 + 1.0));
        assert_eq!(hsum(v), want);
    }
}
