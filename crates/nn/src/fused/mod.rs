//! A fused implementation of the seed-network pattern
//! `conv(1 -> F, k x k, stride 1, pad 0) -> relu -> maxpool2x2 -> flatten -> dense(classes)`
//! for training and inference, computing what the generic [`Sequential`] path computes
//! (up to float rounding) many times faster.
//!
//! Why it is fast:
//! - the convolution is direct (no im2col): 8 filters per vector, each pixel broadcast once
//!   and shared by the four window positions of a pool window, with bias, ReLU and max-pool
//!   applied while the values are in registers; only the pooled values and which window
//!   position won are stored;
//! - only the pool winners (a quarter of the conv outputs) get a gradient: the backward
//!   pass routes each pooled gradient to its winner with a mask inside the same register
//!   loop as the forward pass, and never forms a conv-sized gradient map (with AVX-512, a
//!   hand-written kernel picks each filter's winning pixels with a permute instead, one
//!   multiply-add per tap rather than four);
//! - the dense layer and the loss run per chunk of samples with the chunk's activations in
//!   cache, and nothing is allocated per step: every buffer lives in a reused workspace.
//!
//! Determinism: a batch is cut into chunks of [`CHUNK`] samples (a constant, never derived
//! from the thread count); threads take the chunks as they come, each summing its own gradients,
//! loss and correct count; the driver then adds the chunks up in chunk order on one thread.
//! Results are therefore bit-identical for any number of threads, and for any instruction
//! set (see [`Isa`]).
//!
//! # Example: one training step, then inference
//! ```
//! use nn::{FusedSeed, Images, ModelSpec, Sgd};
//! # fn main() -> nn::Result<()> {
//! let spec = ModelSpec::seed();
//! let mut model = spec.build(42)?;
//! let mut fused = FusedSeed::new(&spec).expect("the seed network has the fused pattern");
//! let mut sgd = Sgd::new(0.05, 0.9, 0.0)?;
//! let pixels = vec![128u8; 4 * 28 * 28];
//! let labels = [3, 1, 4, 1];
//!
//! // Same as zero_grad + forward + softmax_cross_entropy + backward on `model`:
//! let stats = fused.train_step(&mut model, Images::Bytes(&pixels), &labels)?;
//! sgd.step(&mut model);
//! assert!(stats.loss > 0.0);
//!
//! let mut logits = vec![0.0; 4 * 10];
//! fused.load_params(&model)?;
//! fused.infer_into(&mut logits, Images::Bytes(&pixels))?;
//! # Ok(())
//! # }
//! ```

#[cfg(target_arch = "x86_64")]
mod avx512;
mod isa;
mod kernels;
mod layout;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::loss::Objective;
use crate::sequential::Sequential;
use crate::spec::ModelSpec;

pub use isa::Isa;
use isa::{Job, Sizes};
use kernels::LANES;
use layout::{Chunk, Dims, Params};

/// `total[i] += part[i]`.
fn add_into(total: &mut [f32], part: &[f32]) {
    for (t, p) in total.iter_mut().zip(part) {
        *t += p;
    }
}

/// Runs `work(i, &mut items[i])` for every item, in parallel over rayon's pool.
///
/// Which thread computes an item never changes its result, so any schedule gives the same
/// bits. The schedule is chosen for latency: with one pool thread (or one item) the items
/// run in order on the calling thread; from inside the pool, rayon splits them; from outside
/// the pool (the usual training loop), see [`share_items`].
fn for_each_chunk<T: Send>(items: &mut [T], work: impl Fn(usize, &mut T) + Sync) {
    let threads = rayon::current_num_threads();
    if items.len() == 1 || threads == 1 {
        items.iter_mut().enumerate().for_each(|(i, t)| work(i, t));
    } else if rayon::current_thread_index().is_some() {
        items
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, t)| work(i, t));
    } else {
        share_items(items, threads, work);
    }
}

/// Runs the items on the calling thread (outside the pool) and on up to `threads - 1` pool
/// workers, each taking the next item not yet taken until none is left.
///
/// A worker that was asleep takes tens of microseconds to start, about what one item of a
/// training step costs: taking items as they come lets the calling thread do the work of a
/// late worker instead of waiting for it (a fixed split would wait). When it runs out of
/// items the calling thread spins until the workers have returned instead of sleeping on
/// the scope's latch, which would cost it another wake-up.
fn share_items<T: Send>(items: &mut [T], threads: usize, work: impl Fn(usize, &mut T) + Sync) {
    let helpers = (threads - 1).min(items.len() - 1);
    let queue = Mutex::new(items.iter_mut().enumerate());
    let returned = AtomicUsize::new(0);
    let run = || loop {
        // A `let` statement, so the lock is released before the work.
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
        let Some((i, t)) = next else { break };
        work(i, t);
    };
    rayon::in_place_scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| {
                // Counts the helper as returned even when `work` panics (the scope then
                // re-raises the panic), so the wait below always ends.
                let _returned = Returned(&returned);
                run();
            });
        }
        run();
        let mut spins = 0u32;
        while returned.load(Ordering::Acquire) < helpers {
            // Spin briefly, then poll with yields: on a busy machine a helper may be waiting
            // for this very core, and an idle core returns from a yield at once.
            if spins < 100 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    });
}

/// Adds one to a counter when dropped.
struct Returned<'a>(&'a AtomicUsize);

impl Drop for Returned<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Samples per chunk: the unit of parallel work and of every partial sum. A constant, so
/// the summation order, and with it every result, is the same on any number of threads.
/// 16 gives a batch of 64 four chunks (two per core on two cores), while a chunk's
/// activations (16 x 5.4 KB for the seed network) stay in the core's L2 cache.
pub const CHUNK: usize = 16;

/// A batch of images for [`FusedSeed`], image after image, each `h * w` values.
#[derive(Debug, Clone, Copy)]
pub enum Images<'a> {
    /// Values already in [0, 1].
    Unit(&'a [f32]),
    /// Bytes; pixel `p` is taken as `p / 255` (as `datagen::to_unit` does).
    Bytes(&'a [u8]),
    /// The images `indices` of a byte dataset `bytes` (all images back to back), followed
    /// by those of a second one, `extra`: a shuffled batch without copying it first.
    Gather {
        /// Every image of the dataset, back to back.
        bytes: &'a [u8],
        /// Images numbered after those of `bytes` (e.g. outliers mixed into each batch);
        /// empty when there are none.
        extra: &'a [u8],
        /// Which images make the batch, in order.
        indices: &'a [usize],
    },
    /// Images made on demand, e.g. augmented ones: each is written by the worker thread
    /// that uses it, straight into its workspace (no batch buffer, no separate pass).
    Computed(ComputedImages<'a>),
}

/// A batch of images that a function writes on demand (see [`Images::Computed`]).
#[derive(Clone, Copy)]
pub struct ComputedImages<'a> {
    /// `fill(s, dst)` writes image `s` of the batch into `dst` (`h * w` values in [0, 1]).
    fill: &'a (dyn Fn(usize, &mut [f32]) + Sync),
    /// Index of the first image (a sub-batch of a chunk starts past 0).
    start: usize,
    /// Number of images.
    len: usize,
}

impl<'a> ComputedImages<'a> {
    /// `len` images, image `s` written by `fill(s, dst)` into `dst` (`h * w` values in
    /// [0, 1], every value). `fill` runs on the worker threads, once per image and step, and
    /// must give the same values wherever it runs (a pure function of `s`) for results to be
    /// the same for any thread count.
    pub fn new(len: usize, fill: &'a (dyn Fn(usize, &mut [f32]) + Sync)) -> Self {
        Self {
            fill,
            start: 0,
            len,
        }
    }

    /// Writes image `s` (local to this range) into `dst`.
    #[inline]
    pub(crate) fn fill(&self, s: usize, dst: &mut [f32]) {
        (self.fill)(self.start + s, dst);
    }
}

impl std::fmt::Debug for ComputedImages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputedImages")
            .field("start", &self.start)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<'a> Images<'a> {
    /// The bytes of image `i` of a gathered batch's sources (`bytes`, then `extra`).
    #[inline(always)]
    pub(crate) fn gathered(bytes: &'a [u8], extra: &'a [u8], i: usize, len: usize) -> &'a [u8] {
        let first = bytes.len() / len;
        if i < first {
            &bytes[i * len..(i + 1) * len]
        } else {
            &extra[(i - first) * len..(i - first + 1) * len]
        }
    }

    /// Number of images, or `None` when the data is not a whole number of `image_len`
    /// images or an index is out of range.
    fn count(&self, image_len: usize) -> Option<usize> {
        match *self {
            Images::Unit(v) => (v.len() % image_len == 0).then_some(v.len() / image_len),
            Images::Bytes(b) => (b.len() % image_len == 0).then_some(b.len() / image_len),
            Images::Gather {
                bytes,
                extra,
                indices,
            } => {
                if bytes.len() % image_len != 0 {
                    return None;
                }
                let available = (bytes.len() + extra.len()) / image_len;
                indices
                    .iter()
                    .all(|&i| i < available)
                    .then_some(indices.len())
            }
            Images::Computed(c) => Some(c.len),
        }
    }

    fn len_desc(&self) -> Vec<usize> {
        match *self {
            Images::Unit(v) => vec![v.len()],
            Images::Bytes(b) => vec![b.len()],
            Images::Gather {
                bytes,
                extra,
                indices,
            } => vec![bytes.len(), extra.len(), indices.len()],
            Images::Computed(c) => vec![c.len],
        }
    }

    /// Images `start..start + len`.
    fn range(&self, start: usize, len: usize, image_len: usize) -> Images<'a> {
        let values = start * image_len..(start + len) * image_len;
        match *self {
            Images::Unit(v) => Images::Unit(&v[values]),
            Images::Bytes(b) => Images::Bytes(&b[values]),
            Images::Gather {
                bytes,
                extra,
                indices,
            } => Images::Gather {
                bytes,
                extra,
                indices: &indices[start..start + len],
            },
            Images::Computed(c) => {
                assert!(start + len <= c.len, "computed images: range past the end");
                Images::Computed(ComputedImages {
                    start: c.start + start,
                    len,
                    ..c
                })
            }
        }
    }
}

/// What one [`FusedSeed::train_step`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Mean cross-entropy over the batch.
    pub loss: f32,
    /// Samples whose largest logit (the first, on ties) is their label.
    pub correct: usize,
}

/// The fused seed network: training steps and inference for any [`ModelSpec`] of the form
/// `Conv2d(filters, kernel, stride 1, padding 0) -> Relu -> MaxPool2x2 -> Flatten -> Dense`
/// on one-channel images. It holds a copy of the parameters in its own layout and reusable
/// workspaces; the [`Sequential`] built from the same spec stays the owner of the
/// parameters (and of their gradients, which [`Sgd`](crate::Sgd) applies).
#[derive(Debug, Clone)]
pub struct FusedSeed {
    dims: Dims,
    isa: Isa,
    sizes: Sizes,
    params: Params,
    chunks: Vec<Chunk>,
}

impl FusedSeed {
    /// The fused network for `spec`, or `None` when `spec` does not have the pattern (then
    /// use the generic [`Sequential`] path). Uses the fastest instruction set of this CPU.
    pub fn new(spec: &ModelSpec) -> Option<Self> {
        let dims = Dims::from_spec(spec)?;
        Some(Self {
            dims,
            isa: Isa::detect(),
            sizes: Sizes::of(&dims),
            params: Params::zeros(&dims),
            chunks: Vec::new(),
        })
    }

    /// The fused network for `model` when it was built from a spec with the fused pattern
    /// (see [`Sequential::spec`]), else `None`.
    ///
    /// ```
    /// # fn main() -> nn::Result<()> {
    /// let model = nn::ModelSpec::seed().build(1)?;
    /// assert!(nn::FusedSeed::for_model(&model).is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn for_model(model: &Sequential) -> Option<Self> {
        model.spec().and_then(Self::new)
    }

    /// The spec's per-sample input shape `[1, h, w]` and class count.
    pub fn input_and_classes(&self) -> ([usize; 3], usize) {
        ([1, self.dims.h, self.dims.w], self.dims.classes)
    }

    /// The instruction set the kernels run with.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Runs the kernels with `isa` from now on (tests compare the sets; results are
    /// bit-identical).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when this CPU does not support `isa`.
    pub fn set_isa(&mut self, isa: Isa) -> Result<()> {
        if !isa.is_supported() {
            return Err(Error::InvalidConfig {
                reason: format!("this CPU does not support the {isa} instruction set"),
            });
        }
        self.isa = isa;
        Ok(())
    }

    /// Makes the kernels read every size at run time even for the seed network's sizes,
    /// which they otherwise compile in (for tests: both give bit-identical results).
    #[doc(hidden)]
    pub fn force_dynamic_sizes(&mut self) {
        self.sizes = Sizes::Dynamic;
    }

    /// Copies `model`'s parameters in (for [`infer_into`](Self::infer_into);
    /// [`train_step`](Self::train_step) does it itself). Allocates nothing.
    ///
    /// # Errors
    /// [`Error::ParamShape`] when `model` was not built from this network's spec.
    pub fn load_params(&mut self, model: &Sequential) -> Result<()> {
        let d = self.dims;
        let layers = model.layers();
        let (conv_w, conv_b) = ([d.filters, 1, d.k, d.k], [d.filters]);
        let (dense_w, dense_b) = ([d.classes, d.dense_inputs()], [d.classes]);
        let shapes: [(usize, &str, &str, &[usize]); 4] = [
            (0, "conv", "weight", &conv_w),
            (0, "conv", "bias", &conv_b),
            (4, "dense", "weight", &dense_w),
            (4, "dense", "bias", &dense_b),
        ];
        if layers.len() != 5 || layers[0].name() != "conv" || layers[4].name() != "dense" {
            return Err(Error::ParamShape {
                name: "0.conv.weight".into(),
                expected: shapes[0].3.to_vec(),
                got: vec![],
            });
        }
        let mut error = None;
        let params = &mut self.params;
        for &(index, kind, name, expected) in &shapes {
            let mut found = false;
            layers[index].visit_params_ref(&mut |n, p| {
                if n != name {
                    return;
                }
                found = true;
                if p.value.shape() != expected {
                    error.get_or_insert(Error::ParamShape {
                        name: format!("{index}.{kind}.{name}"),
                        expected: expected.to_vec(),
                        got: p.value.shape().to_vec(),
                    });
                    return;
                }
                let v = p.value.data();
                match (index, name) {
                    (0, "weight") => params.set_conv_weight(&d, v),
                    (0, _) => params.set_conv_bias(v),
                    (_, "weight") => params.set_dense_weight(&d, v),
                    _ => params.dense_b.copy_from_slice(v),
                }
            });
            if !found {
                error.get_or_insert(Error::MissingParam {
                    name: format!("{index}.{kind}.{name}"),
                });
            }
        }
        error.map_or(Ok(()), Err)
    }

    /// Number of images in `images`, checked.
    fn batch_len(&self, images: &Images<'_>) -> Result<usize> {
        let d = &self.dims;
        images
            .count(d.image_len())
            .ok_or_else(|| Error::InputShape {
                layer: "fused",
                expected: format!("whole {}x{} images (indices within the data)", d.h, d.w),
                got: images.len_desc(),
            })
    }

    /// Makes sure there are workspaces for `chunks` chunks (allocates only when a batch is
    /// larger than any before).
    fn reserve(&mut self, chunks: usize) {
        while self.chunks.len() < chunks {
            self.chunks.push(Chunk::new(&self.dims, CHUNK));
        }
    }

    /// One training step on a batch: copies `model`'s parameters in, runs forward, softmax
    /// cross-entropy and backward, and **sets** (does not add to) the gradients of `model`'s
    /// four parameters. The result is what `model.zero_grad()`, `model.forward`,
    /// [`softmax_cross_entropy`](crate::softmax_cross_entropy) and `model.backward` give, up
    /// to float rounding; follow it with [`Sgd::step`](crate::Sgd::step).
    ///
    /// # Errors
    /// [`Error::InputShape`] for images that are not whole images of the spec's size or an
    /// empty batch, [`Error::LabelCount`], [`Error::LabelOutOfRange`], [`Error::ParamShape`]
    /// when `model` does not match the spec, and [`Error::NonFiniteLoss`] when training
    /// diverged (the gradients are then left as they were).
    pub fn train_step(
        &mut self,
        model: &mut Sequential,
        images: Images<'_>,
        labels: &[usize],
    ) -> Result<StepStats> {
        self.train_step_with(model, images, labels, Objective::Uniform)
    }

    /// [`train_step`](Self::train_step) minimising `objective`: what
    /// [`softmax_cross_entropy_with`](crate::softmax_cross_entropy_with) gives, up to float
    /// rounding.
    ///
    /// # Errors
    /// As [`train_step`](Self::train_step).
    pub fn train_step_with(
        &mut self,
        model: &mut Sequential,
        images: Images<'_>,
        labels: &[usize],
        objective: Objective,
    ) -> Result<StepStats> {
        let n = self.batch_len(&images)?;
        let classes = self.dims.classes;
        if n == 0 {
            return Err(Error::InputShape {
                layer: "fused",
                expected: "at least one image".into(),
                got: images.len_desc(),
            });
        }
        crate::loss::check_labels(labels, n, classes)?;
        self.load_params(model)?;
        let chunks = n.div_ceil(CHUNK);
        self.reserve(chunks);
        let (isa, sizes, d, params) = (self.isa, self.sizes, &self.dims, &self.params);
        let inv_n = 1.0 / n as f32;
        let work = |i: usize, ch: &mut Chunk| {
            let start = i * CHUNK;
            let len = CHUNK.min(n - start);
            let images = images.range(start, len, d.image_len());
            let job = Job::Train {
                images: &images,
                labels: &labels[start..start + len],
                inv_n,
                objective,
            };
            isa::run(isa, job, sizes, ch, params, d);
        };
        for_each_chunk(&mut self.chunks[..chunks], work);
        let used = &self.chunks[..chunks];
        let loss_sum: f64 = used.iter().map(|c| c.loss).fold(0.0, |a, b| a + b);
        let correct = used.iter().map(|c| c.correct).sum();
        let loss = (loss_sum / n as f64) as f32;
        if !loss.is_finite() {
            return Err(Error::NonFiniteLoss { loss });
        }
        self.write_grads(model, chunks);
        Ok(StepStats { loss, correct })
    }

    /// Adds the first `chunks` chunks' partial gradients in chunk order (into chunk 0's
    /// buffers, with contiguous adds) and writes the sums, in the generic layout, into
    /// `model`'s parameter gradients.
    fn write_grads(&mut self, model: &mut Sequential, chunks: usize) {
        let d = self.dims;
        let (first, rest) = self.chunks[..chunks].split_at_mut(1);
        let total = &mut first[0];
        for ch in rest.iter() {
            add_into(&mut total.grad_conv_w, &ch.grad_conv_w);
            add_into(&mut total.grad_conv_b, &ch.grad_conv_b);
            add_into(&mut total.grad_dense_w, &ch.grad_dense_w);
            add_into(&mut total.grad_dense_b, &ch.grad_dense_b);
        }
        let total = &*total;
        model.visit_params(&mut |name, p| {
            let grad = p.grad.data_mut();
            match name {
                "0.conv.weight" => {
                    let taps = d.taps();
                    for (f, gf) in grad.chunks_exact_mut(taps).enumerate() {
                        let (g, l) = (f / LANES, f % LANES);
                        for (t, out) in gf.iter_mut().enumerate() {
                            *out = total.grad_conv_w[(g * taps + t) * LANES + l];
                        }
                    }
                }
                "0.conv.bias" => grad.copy_from_slice(&total.grad_conv_b[..d.filters]),
                "4.dense.weight" => {
                    let (features, positions) = (d.features(), d.positions());
                    for (c, row) in grad.chunks_exact_mut(d.dense_inputs()).enumerate() {
                        let src = &total.grad_dense_w[c * features..(c + 1) * features];
                        for (f, gf) in row.chunks_exact_mut(positions).enumerate() {
                            let base = d.fused_feature(f, 0);
                            for (p, out) in gf.iter_mut().enumerate() {
                                *out = src[base + p * LANES];
                            }
                        }
                    }
                }
                "4.dense.bias" => grad.copy_from_slice(&total.grad_dense_b),
                _ => {}
            }
        });
    }

    /// Logits `[n, classes]` of a batch of `n` images with the parameters last copied in
    /// (by [`load_params`](Self::load_params) or [`train_step`](Self::train_step)). A batch
    /// of at most [`CHUNK`] images runs on the calling thread; larger ones in parallel.
    ///
    /// # Errors
    /// [`Error::InputShape`] when `images` are not whole images of the spec's size or
    /// `logits` does not hold `n * classes` values.
    pub fn infer_into(&mut self, logits: &mut [f32], images: Images<'_>) -> Result<()> {
        let n = self.batch_len(&images)?;
        let classes = self.dims.classes;
        if logits.len() != n * classes {
            return Err(Error::InputShape {
                layer: "fused",
                expected: format!("{n} x {classes} logits"),
                got: vec![logits.len()],
            });
        }
        if n == 0 {
            return Ok(());
        }
        let chunks = n.div_ceil(CHUNK);
        self.reserve(chunks);
        let (isa, sizes, d, params) = (self.isa, self.sizes, &self.dims, &self.params);
        let work = |i: usize, ch: &mut Chunk, logits: &mut [f32]| {
            let start = i * CHUNK;
            let images = images.range(start, logits.len() / classes, d.image_len());
            let job = Job::Infer {
                images: &images,
                logits,
            };
            isa::run(isa, job, sizes, ch, params, d);
        };
        if chunks == 1 || rayon::current_num_threads() == 1 {
            for (i, (ch, out)) in self.chunks[..chunks]
                .iter_mut()
                .zip(logits.chunks_mut(CHUNK * classes))
                .enumerate()
            {
                work(i, ch, out);
            }
        } else {
            self.chunks[..chunks]
                .par_iter_mut()
                .zip(logits.par_chunks_mut(CHUNK * classes))
                .enumerate()
                .for_each(|(i, (ch, out))| work(i, ch, out));
        }
        Ok(())
    }
}
