//! Which instruction set the fused kernels run with, detected at run time.
//!
//! The kernels of [`super::kernels`] are compiled three times from one source: inside
//! functions with `#[target_feature(enable = "avx512f,avx512vl,...")]`, with
//! `#[target_feature(enable = "avx2,fma")]`, and without any (portable). The binary therefore
//! runs on any x86-64 (no `-C target-cpu=native`) and uses the best set the CPU has. Because
//! the kernels spell out every rounding (see [`super::kernels`]), all builds give
//! bit-identical results; they differ in speed only. The AVX-512 build also calls the
//! hand-written kernels of [`super::avx512`] where they give the same bits faster.

use std::fmt;

use super::kernels::{infer_chunk, train_chunk};
use super::layout::{Chunk, Dims, Params};
use super::Images;
use crate::loss::Objective;

/// An instruction set the fused kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust, any CPU. Exact but slow where the CPU has no fused multiply-add (it is
    /// then done in software).
    Portable,
    /// x86-64 AVX2 with FMA (Intel Haswell, AMD Zen and later).
    Avx2,
    /// x86-64 AVX-512 F/VL on 256-bit vectors: AVX2's arithmetic with 32 registers and
    /// broadcasting loads.
    Avx512,
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2+fma",
            Isa::Avx512 => "avx512",
        })
    }
}

impl Isa {
    /// Every set, fastest first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Portable];

    /// Whether this CPU can run the kernels built for `self`.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                Isa::Avx2.is_supported()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest set this CPU supports.
    pub fn detect() -> Isa {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.is_supported())
            .unwrap_or(Isa::Portable)
    }
}

/// Whether the kernels run with the seed network's sizes as constants (3x3 kernel, 10
/// classes) or read every size at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sizes {
    Seed,
    Dynamic,
}

impl Sizes {
    pub fn of(d: &Dims) -> Self {
        if d.k == 3 && d.classes == 10 {
            Sizes::Seed
        } else {
            Sizes::Dynamic
        }
    }
}

/// One chunk's work, dispatched on the instruction set and sizes.
pub(crate) enum Job<'a, 'b> {
    Train {
        images: &'a Images<'b>,
        labels: &'a [usize],
        inv_n: f32,
        /// The loss's aim for outliers and margin for digits.
        objective: Objective,
    },
    Infer {
        images: &'a Images<'b>,
        logits: &'a mut [f32],
    },
}

/// `AVX512` may only be `true` when the CPU has AVX-512 F and VL.
#[inline(always)]
fn run_job<const AVX512: bool>(
    job: Job<'_, '_>,
    sizes: Sizes,
    ch: &mut Chunk,
    p: &Params,
    d: &Dims,
) {
    match (job, sizes) {
        (
            Job::Train {
                images,
                labels,
                inv_n,
                objective,
            },
            Sizes::Seed,
        ) => train_chunk::<3, 10, AVX512>(ch, p, d, images, labels, inv_n, objective),
        (
            Job::Train {
                images,
                labels,
                inv_n,
                objective,
            },
            Sizes::Dynamic,
        ) => train_chunk::<0, 0, AVX512>(ch, p, d, images, labels, inv_n, objective),
        (Job::Infer { images, logits }, Sizes::Seed) => {
            infer_chunk::<3, 10>(logits, ch, p, d, images)
        }
        (Job::Infer { images, logits }, Sizes::Dynamic) => {
            infer_chunk::<0, 0>(logits, ch, p, d, images)
        }
    }
}

fn run_portable(job: Job<'_, '_>, sizes: Sizes, ch: &mut Chunk, p: &Params, d: &Dims) {
    run_job::<false>(job, sizes, ch, p, d);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2(job: Job<'_, '_>, sizes: Sizes, ch: &mut Chunk, p: &Params, d: &Dims) {
    run_job::<false>(job, sizes, ch, p, d);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn run_avx512(job: Job<'_, '_>, sizes: Sizes, ch: &mut Chunk, p: &Params, d: &Dims) {
    run_job::<true>(job, sizes, ch, p, d);
}

/// Runs `job` on `ch` with the kernels built for `isa`.
///
/// Panics if `isa` is not supported by this CPU: callers only pass a set they checked with
/// [`Isa::is_supported`] (the driver checks when the set is chosen).
pub(crate) fn run(isa: Isa, job: Job<'_, '_>, sizes: Sizes, ch: &mut Chunk, p: &Params, d: &Dims) {
    assert!(isa.is_supported(), "fused kernels: {isa} is not supported");
    match isa {
        Isa::Portable => run_portable(job, sizes, ch, p, d),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `run_avx2` only needs the CPU to have AVX2 and FMA, which the assert above
        // checked at run time (`is_x86_feature_detected!`).
        Isa::Avx2 => unsafe { run_avx2(job, sizes, ch, p, d) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `run_avx512` needs AVX-512 F and VL, AVX2 and FMA, checked by the assert.
        Isa::Avx512 => unsafe { run_avx512(job, sizes, ch, p, d) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("only the portable set is supported off x86-64"),
    }
}
