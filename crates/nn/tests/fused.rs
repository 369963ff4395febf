//! The fused seed network against the generic `Sequential` path (the oracle), its
//! instruction sets and size specialisations against each other (bit for bit), and its
//! results against the thread count (bit for bit).

use nn::{
    softmax_cross_entropy, softmax_cross_entropy_with, FusedSeed, Images, Isa, LayerSpec,
    ModelSpec, Objective, Sequential, Sgd, CHUNK,
};
use proptest::prelude::*;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::Tensor;

/// A spec of the fused pattern with the given sizes.
fn spec(h: usize, w: usize, filters: usize, kernel: usize, classes: usize) -> ModelSpec {
    ModelSpec {
        input: [1, h, w],
        layers: vec![
            LayerSpec::Conv2d {
                filters,
                kernel,
                stride: 1,
                padding: 0,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2x2,
            LayerSpec::Flatten,
            LayerSpec::Dense { units: classes },
        ],
    }
}

/// `n` random images in [0, 1) and labels below `classes`, about one in six of them
/// [`nn::UNIFORM`] (an outlier-exposure sample, trained towards the uniform distribution).
fn batch(spec: &ModelSpec, n: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let [_, h, w] = spec.input;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = (0..n * h * w)
        .map(|_| tensor::unit_f32(rng.next_u32()))
        .collect();
    let labels = (0..n)
        .map(|_| match rng.next_u32() as usize % (classes + 2) {
            l if l < classes => l,
            _ => nn::UNIFORM,
        })
        .collect();
    (x, labels)
}

fn tensor_of(spec: &ModelSpec, x: &[f32]) -> Tensor {
    let [c, h, w] = spec.input;
    Tensor::from_vec(vec![x.len() / (h * w), c, h, w], x.to_vec()).unwrap()
}

fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = rel * (w.abs() + scale) + 1e-7;
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: fused {g}, generic {w} (tolerance {tol})"
        );
    }
}

/// `true` when a conv output is within 1e-5 of the ReLU kink or a 2x2 pool window's two
/// largest positive values are within 1e-5 of each other.
fn near_kink(model: &Sequential, spec: &ModelSpec, x: &[f32]) -> bool {
    let trace = model.forward_trace(&tensor_of(spec, x)).unwrap();
    let conv = &trace[0];
    if conv.data().iter().any(|v| v.abs() < 1e-5) {
        return true;
    }
    let &[_, _, h, w] = conv.shape() else {
        return true;
    };
    conv.data().chunks_exact(h * w).any(|plane| {
        (0..h / 2).any(|oy| {
            (0..w / 2).any(|ox| {
                let mut v = [0.0f32; 4];
                for (k, (dy, dx)) in [(0, 0), (0, 1), (1, 0), (1, 1)].into_iter().enumerate() {
                    v[k] = plane[(2 * oy + dy) * w + 2 * ox + dx].max(0.0);
                }
                v.sort_by(|a, b| b.total_cmp(a));
                v[0] > 0.0 && v[0] - v[1] < 1e-5
            })
        })
    })
}

fn grads(model: &Sequential) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    model.visit_params_ref(&mut |name, p| out.push((name.to_owned(), p.grad.data().to_vec())));
    out
}

fn param_bytes(model: &Sequential) -> Vec<u8> {
    let mut bytes = Vec::new();
    model.visit_params_ref(&mut |_, p| {
        for v in p.value.data() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    });
    bytes
}

/// The generic step's loss, correct count and gradients (model gradients are left set).
fn generic_step(
    model: &mut Sequential,
    spec: &ModelSpec,
    x: &[f32],
    labels: &[usize],
) -> (f32, usize) {
    generic_step_with(model, spec, x, labels, Objective::Uniform)
}

/// [`generic_step`] minimising `objective`.
fn generic_step_with(
    model: &mut Sequential,
    spec: &ModelSpec,
    x: &[f32],
    labels: &[usize],
    objective: Objective,
) -> (f32, usize) {
    model.zero_grad();
    let logits = model.forward(&tensor_of(spec, x)).unwrap();
    let out = softmax_cross_entropy_with(&logits, labels, objective).unwrap();
    model.backward(&out.grad_logits).unwrap();
    let pred = logits.argmax_rows().unwrap();
    let correct = pred.iter().zip(labels).filter(|(p, l)| p == l).count();
    (out.loss, correct)
}

/// Logits, named gradients, loss and correct count of one fused step.
type FusedOutputs = (Vec<f32>, Vec<(String, Vec<f32>)>, f32, usize);

/// Logits and gradients of one fused step with `isa` and, optionally, sizes read at run time.
fn fused_outputs(
    spec: &ModelSpec,
    seed: u64,
    x: &[f32],
    labels: &[usize],
    isa: Isa,
    dynamic: bool,
) -> FusedOutputs {
    fused_outputs_with(spec, seed, x, labels, isa, dynamic, Objective::Uniform)
}

/// [`fused_outputs`] minimising `objective`.
fn fused_outputs_with(
    spec: &ModelSpec,
    seed: u64,
    x: &[f32],
    labels: &[usize],
    isa: Isa,
    dynamic: bool,
    objective: Objective,
) -> FusedOutputs {
    let mut model = spec.build(seed).unwrap();
    let mut fused = FusedSeed::new(spec).unwrap();
    fused.set_isa(isa).unwrap();
    if dynamic {
        fused.force_dynamic_sizes();
    }
    let classes = spec.classes().unwrap();
    let stats = fused
        .train_step_with(&mut model, Images::Unit(x), labels, objective)
        .unwrap();
    let mut logits = vec![f32::NAN; labels.len() * classes];
    fused.infer_into(&mut logits, Images::Unit(x)).unwrap();
    (logits, grads(&model), stats.loss, stats.correct)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Inference logits match `Sequential::infer` on the seed network for any batch size,
    /// multiples of the chunk or not.
    #[test]
    fn fused_logits_match_generic_infer(n in 1usize..=130, seed in 0u64..1000) {
        let spec = ModelSpec::seed();
        let model = spec.build(seed).unwrap();
        let (x, _) = batch(&spec, n, 10, seed + 1);
        let want = model.infer(&tensor_of(&spec, &x)).unwrap();
        let mut fused = FusedSeed::new(&spec).unwrap();
        fused.load_params(&model).unwrap();
        let mut got = vec![f32::NAN; n * 10];
        fused.infer_into(&mut got, Images::Unit(&x)).unwrap();
        assert_close("logits", &got, want.data(), 1e-4);
    }

    /// One training step gives the generic path's loss, correct count and gradients.
    #[test]
    fn fused_step_matches_generic_backward(n in 1usize..=130, seed in 0u64..1000) {
        let spec = ModelSpec::seed();
        let (x, labels) = batch(&spec, n, 10, seed + 1);
        let mut generic = spec.build(seed).unwrap();
        // Both paths compute the same function, but where a conv output sits within float
        // rounding of the ReLU kink, or two pool candidates within rounding of each other,
        // their different (equally valid) summation orders can pick a different branch and
        // route a whole gradient elsewhere. Such inputs say nothing about either path.
        prop_assume!(!near_kink(&generic, &spec, &x));
        let (loss, correct) = generic_step(&mut generic, &spec, &x, &labels);
        let mut model = spec.build(seed).unwrap();
        // Stale gradients must be overwritten, not added to.
        model.visit_params(&mut |_, p| p.grad.data_mut().fill(1.0));
        let mut fused = FusedSeed::new(&spec).unwrap();
        let stats = fused.train_step(&mut model, Images::Unit(&x), &labels).unwrap();
        // Relative to the loss, with a floor: a confident batch's loss (one image at 0.0007)
        // is a difference of nearly equal logits, whose rounding does not shrink with it.
        prop_assert!((stats.loss - loss).abs() <= 1e-5 * loss.abs() + 1e-6, "loss {} vs {}", stats.loss, loss);
        prop_assert_eq!(stats.correct, correct);
        for ((name, got), (_, want)) in grads(&model).iter().zip(grads(&generic)) {
            assert_close(name, got, &want, 1e-4);
        }
    }

    /// With energy margins (both active on a fresh network, whose log-sum-exps sit near
    /// ln 10: under the digits' margin of 6, over the outliers' of 0) one step gives the
    /// generic path's loss and gradients too, and every instruction set the portable bits.
    #[test]
    fn fused_energy_step_matches_generic_backward(n in 1usize..=130, seed in 0u64..1000) {
        let spec = ModelSpec::seed();
        let (x, labels) = batch(&spec, n, 10, seed + 1);
        let mut generic = spec.build(seed).unwrap();
        prop_assume!(!near_kink(&generic, &spec, &x));
        let (loss, correct) = generic_step_with(&mut generic, &spec, &x, &labels, Objective::ENERGY);
        let plain = spec.build(seed).unwrap().forward(&tensor_of(&spec, &x)).unwrap();
        let uniform = softmax_cross_entropy(&plain, &labels).unwrap().loss;
        prop_assert!(loss > uniform, "the margins add to the loss: {} vs {}", loss, uniform);
        let portable = fused_outputs_with(&spec, seed, &x, &labels, Isa::Portable, false, Objective::ENERGY);
        prop_assert!((portable.2 - loss).abs() <= 1e-5 * loss.abs() + 1e-6, "loss {} vs {}", portable.2, loss);
        prop_assert_eq!(portable.3, correct);
        for ((name, got), (_, want)) in portable.1.iter().zip(grads(&generic)) {
            assert_close(name, got, &want, 1e-4);
        }
        for isa in Isa::ALL.into_iter().filter(|i| i.is_supported()) {
            let other = fused_outputs_with(&spec, seed, &x, &labels, isa, false, Objective::ENERGY);
            for ((name, a), (_, b)) in other.1.iter().zip(&portable.1) {
                prop_assert_eq!(bits(a), bits(b), "{} {}", isa, name);
            }
            prop_assert_eq!(other.2.to_bits(), portable.2.to_bits());
        }
    }

    /// Random shapes (filters 1..12, kernels 1..5, odd sizes, any class count): every
    /// instruction set and the run-time-size kernels give bit-identical results to the
    /// portable build, and all of them match the generic path.
    #[test]
    fn every_instruction_set_matches_portable_bit_for_bit(
        filters in 1usize..=12,
        kernel in 1usize..=5,
        extra_h in 1usize..=12,
        extra_w in 1usize..=12,
        classes in 1usize..=12,
        n in 1usize..=40,
        seed in 0u64..1000,
    ) {
        let spec = spec(kernel + extra_h, kernel + extra_w, filters, kernel, classes);
        let (x, labels) = batch(&spec, n, classes, seed + 1);
        let portable = fused_outputs(&spec, seed, &x, &labels, Isa::Portable, true);
        for isa in Isa::ALL.into_iter().filter(|i| i.is_supported()) {
            for dynamic in [false, true] {
                let other = fused_outputs(&spec, seed, &x, &labels, isa, dynamic);
                prop_assert_eq!(bits(&other.0), bits(&portable.0), "{} logits", isa);
                for ((name, a), (_, b)) in other.1.iter().zip(&portable.1) {
                    prop_assert_eq!(bits(a), bits(b), "{} {}", isa, name);
                }
                prop_assert_eq!(other.2.to_bits(), portable.2.to_bits());
                prop_assert_eq!(other.3, portable.3);
            }
        }
        let mut generic = spec.build(seed).unwrap();
        generic_step(&mut generic, &spec, &x, &labels);
        let want = generic.infer(&tensor_of(&spec, &x)).unwrap();
        assert_close("logits", &portable.0, want.data(), 1e-4);
        for ((name, got), (_, want)) in portable.1.iter().zip(grads(&generic)) {
            assert_close(name, got, &want, 1e-4);
        }
    }
}

/// The seed sizes compiled in and read at run time agree bit for bit, on every set.
#[test]
fn seed_sizes_compiled_in_match_sizes_read_at_run_time() {
    let spec = ModelSpec::seed();
    let (x, labels) = batch(&spec, 37, 10, 5);
    let reference = fused_outputs(&spec, 3, &x, &labels, Isa::Portable, true);
    for isa in Isa::ALL.into_iter().filter(|i| i.is_supported()) {
        let got = fused_outputs(&spec, 3, &x, &labels, isa, false);
        assert_eq!(bits(&got.0), bits(&reference.0), "{isa} logits");
        for ((name, a), (_, b)) in got.1.iter().zip(&reference.1) {
            assert_eq!(bits(a), bits(b), "{isa} {name}");
        }
    }
}

/// A NaN pixel (possible in float images) is cut by the pool or the ReLU in the forward
/// pass (a NaN never compares larger), but poisons the conv weight gradient: its products with the zero gradients
/// of the window positions that did not win are NaN. The AVX-512 kernel that skips those
/// products must not be used for such a chunk: every set gives the same gradients (the same
/// bits, and NaN in the same places).
#[test]
fn a_nan_pixel_gives_the_same_gradients_on_every_set() {
    let spec = ModelSpec::seed();
    let (mut x, labels) = batch(&spec, 2 * CHUNK + 3, 10, 5);
    // NaN pixels in the first and second chunks; the third is finite.
    x[3 * 784 + 10 * 28 + 12] = f32::NAN;
    x[(CHUNK + 2) * 784 + 5 * 28 + 20] = f32::NAN;
    let mut reference = None;
    for isa in Isa::ALL.into_iter().filter(|i| i.is_supported()) {
        let mut model = spec.build(3).unwrap();
        let mut fused = FusedSeed::new(&spec).unwrap();
        fused.set_isa(isa).unwrap();
        let stats = fused
            .train_step(&mut model, Images::Unit(&x), &labels)
            .unwrap();
        // NaN payloads may differ between hardware and software multiply-adds.
        let got: Vec<(String, Vec<Option<u32>>)> = grads(&model)
            .into_iter()
            .map(|(name, g)| {
                let bits = g.iter().map(|v| (!v.is_nan()).then_some(v.to_bits()));
                (name, bits.collect())
            })
            .collect();
        assert!(
            got[0].1.iter().all(|v| v.is_none()),
            "{isa}: the conv weight gradient is NaN"
        );
        let got = (got, stats.loss.to_bits(), stats.correct);
        match &reference {
            None => reference = Some(got),
            Some(r) => assert_eq!(&got, r, "{isa} differs from {}", Isa::ALL[0]),
        }
    }
}

fn train_20_fused_steps(threads: usize) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(train_20_fused_steps_here)
}

/// 20 steps on the calling thread's rayon context.
fn train_20_fused_steps_here() -> Vec<u8> {
    let spec = ModelSpec::seed();
    let mut model = spec.build(7).unwrap();
    let mut fused = FusedSeed::new(&spec).unwrap();
    let mut sgd = Sgd::new(0.05, 0.9, 1e-4).unwrap();
    for s in 0..20 {
        // Batches of 64 and, every fourth step, a batch that is not a multiple of CHUNK.
        let n = if s % 4 == 3 { 3 * CHUNK + 5 } else { 64 };
        let (x, labels) = batch(&spec, n, 10, 100 + s);
        fused
            .train_step(&mut model, Images::Unit(&x), &labels)
            .unwrap();
        sgd.step(&mut model);
    }
    param_bytes(&model)
}

#[test]
fn fused_training_is_bit_identical_with_1_2_and_3_threads() {
    let one = train_20_fused_steps(1);
    assert_eq!(one, train_20_fused_steps(2), "2 threads differ from 1");
    assert_eq!(one, train_20_fused_steps(3), "3 threads differ from 1");
}

/// From a thread outside any pool (how `train` runs), the calling thread computes a share
/// of the chunks itself and the global pool the rest: still the same bits.
#[test]
fn fused_training_from_outside_the_pool_matches_one_thread() {
    let outside = std::thread::spawn(train_20_fused_steps_here)
        .join()
        .unwrap();
    assert_eq!(outside, train_20_fused_steps(1));
}

/// 40 steps of SGD with momentum on the same batches: the fused losses stay within a small
/// tolerance of the generic path's (rounding differences grow slowly through training).
#[test]
fn fused_training_tracks_generic_losses() {
    let spec = ModelSpec::seed();
    let mut generic = spec.build(11).unwrap();
    let mut model = spec.build(11).unwrap();
    let mut fused = FusedSeed::new(&spec).unwrap();
    let (mut sgd_generic, mut sgd_fused) = (
        Sgd::new(0.05, 0.9, 0.0).unwrap(),
        Sgd::new(0.05, 0.9, 0.0).unwrap(),
    );
    for s in 0..40 {
        let (x, labels) = batch(&spec, 64, 10, 1000 + s);
        let (want, _) = generic_step(&mut generic, &spec, &x, &labels);
        sgd_generic.step(&mut generic);
        let got = fused
            .train_step(&mut model, Images::Unit(&x), &labels)
            .unwrap()
            .loss;
        sgd_fused.step(&mut model);
        assert!(
            (got - want).abs() <= 1e-3 * want.abs(),
            "step {s}: fused loss {got}, generic {want}"
        );
    }
}

/// Bytes, gathered bytes and the same values as floats give the same result.
#[test]
fn byte_and_gathered_images_equal_their_float_values() {
    let spec = ModelSpec::seed();
    let model = spec.build(2).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let data: Vec<u8> = (0..50 * 784).map(|_| rng.next_u32() as u8).collect();
    let indices: Vec<usize> = (0..20).map(|i| (i * 7) % 50).collect();
    let gathered: Vec<u8> = indices
        .iter()
        .flat_map(|&i| data[i * 784..(i + 1) * 784].iter().copied())
        .collect();
    let floats: Vec<f32> = gathered.iter().map(|&p| f32::from(p) / 255.0).collect();
    let mut fused = FusedSeed::new(&spec).unwrap();
    fused.load_params(&model).unwrap();
    let run = |fused: &mut FusedSeed, images| {
        let mut logits = vec![0.0; 20 * 10];
        fused.infer_into(&mut logits, images).unwrap();
        bits(&logits)
    };
    let want = run(&mut fused, Images::Unit(&floats));
    assert_eq!(run(&mut fused, Images::Bytes(&gathered)), want);
    let gather = Images::Gather {
        bytes: &data,
        extra: &[],
        indices: &indices,
    };
    assert_eq!(run(&mut fused, gather), want);
    // The same images split over two sources, the second numbered after the first.
    let split = Images::Gather {
        bytes: &data[..30 * 784],
        extra: &data[30 * 784..],
        indices: &indices,
    };
    assert_eq!(run(&mut fused, split), want);
}

#[test]
fn only_the_fused_pattern_is_recognised() {
    assert!(FusedSeed::new(&ModelSpec::seed()).is_some());
    let mut padded = ModelSpec::seed();
    padded.layers[0] = LayerSpec::Conv2d {
        filters: 8,
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    assert!(FusedSeed::new(&padded).is_none());
    let mut rgb = ModelSpec::seed();
    rgb.input = [3, 28, 28];
    assert!(FusedSeed::new(&rgb).is_none());
    let mut deeper = ModelSpec::seed();
    deeper.layers.push(LayerSpec::Relu);
    assert!(FusedSeed::new(&deeper).is_none());
}

#[test]
fn bad_batches_are_typed_errors() {
    let spec = ModelSpec::seed();
    let mut model = spec.build(1).unwrap();
    let mut fused = FusedSeed::new(&spec).unwrap();
    let x = vec![0.5f32; 2 * 784];
    let err = fused
        .train_step(&mut model, Images::Unit(&x[..783]), &[1])
        .unwrap_err();
    assert!(
        err.to_string().starts_with("fused: expected input"),
        "{err}"
    );
    let err = fused
        .train_step(&mut model, Images::Unit(&x), &[1])
        .unwrap_err();
    assert_eq!(err.to_string(), "1 labels for a batch of 2");
    let err = fused
        .train_step(&mut model, Images::Unit(&x), &[1, 10])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "label 10 of sample 1 is not below the class count 10"
    );
    let gather = Images::Gather {
        bytes: &[0u8; 784],
        extra: &[],
        indices: &[0, 1],
    };
    assert!(fused.train_step(&mut model, gather, &[1, 2]).is_err());
    let past_extra = Images::Gather {
        bytes: &[0u8; 784],
        extra: &[0u8; 784],
        indices: &[0, 2],
    };
    assert!(fused.train_step(&mut model, past_extra, &[1, 2]).is_err());
    let other = spec_model_mismatch();
    assert!(fused.load_params(&other).is_err());
}

fn spec_model_mismatch() -> Sequential {
    spec(28, 28, 4, 3, 10).build(0).unwrap()
}

#[test]
fn diverged_training_is_reported_and_leaves_gradients_alone() {
    let spec = ModelSpec::seed();
    let mut model = spec.build(1).unwrap();
    model.visit_params(&mut |name, p| {
        if name == "4.dense.bias" {
            p.value.data_mut()[0] = f32::NAN;
        }
        p.grad.data_mut().fill(2.0);
    });
    let mut fused = FusedSeed::new(&spec).unwrap();
    let x = vec![0.5f32; 784];
    let err = fused
        .train_step(&mut model, Images::Unit(&x), &[3])
        .unwrap_err();
    assert!(matches!(err, nn::Error::NonFiniteLoss { .. }), "{err}");
    model.visit_params_ref(&mut |name, p| {
        assert!(p.grad.data().iter().all(|&g| g == 2.0), "{name}");
    });
}
