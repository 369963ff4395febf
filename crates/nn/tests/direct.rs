//! `DirectNet::exact` against `Sequential::infer`: the same logits to the bit, for several
//! networks, batch sizes that cut chunks unevenly, and 1 or 3 threads. `DirectNet::new`, whose
//! pooled 3x3 convolutions run as Winograd's: within rounding of the layers, and the same bits
//! for any batch size and thread count. On a CPU without AVX-512 both decline every network,
//! and the tests check only that.

use nn::{DirectNet, ModelSpec, Sequential};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::Tensor;

fn images(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Half the pixels blank, as in a digit, so that ReLUs and pools see zeros and ties.
    (0..n * 28 * 28)
        .map(|_| {
            let w = rng.next_u32();
            if w & 1 == 0 {
                0
            } else {
                (w >> 24) as u8
            }
        })
        .collect()
}

fn layer_logits(model: &Sequential, bytes: &[u8]) -> Vec<f32> {
    let n = bytes.len() / (28 * 28);
    let x = Tensor::from_vec(
        vec![n, 1, 28, 28],
        bytes.iter().map(|&p| f32::from(p) / 255.0).collect(),
    )
    .unwrap();
    model.infer(&x).unwrap().data().to_vec()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Network `arch` built from `seed` and packed by `pack`; `None` (checked to be right) on a
/// CPU without AVX-512.
fn packed(
    arch: &str,
    seed: u64,
    pack: fn(&Sequential) -> Option<DirectNet>,
) -> Option<(Sequential, DirectNet)> {
    let model = ModelSpec::parse(arch).unwrap().build(seed).unwrap();
    let Some(net) = pack(&model) else {
        assert!(
            !tensor::DirectConv::supported(),
            "{arch}: declined on a CPU with AVX-512"
        );
        return None;
    };
    Some((model, net))
}

fn check(arch: &str, seed: u64) {
    let Some((model, net)) = packed(arch, seed, DirectNet::exact) else {
        return;
    };
    let classes = net.classes();
    for n in [1, 5, 32, 71] {
        let bytes = images(n, seed + n as u64);
        let want = layer_logits(&model, &bytes);
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut got = vec![f32::NAN; n * classes];
            pool.install(|| net.infer_into(&mut got, &bytes)).unwrap();
            assert_eq!(
                bits(&got),
                bits(&want),
                "{arch}: {n} images, {threads} threads"
            );
            // Values already in f32, as the picture path passes them.
            let values: Vec<f32> = bytes.iter().map(|&p| f32::from(p) / 255.0).collect();
            let mut from_values = vec![f32::NAN; n * classes];
            pool.install(|| net.infer_values_into(&mut from_values, &values))
                .unwrap();
            assert_eq!(bits(&from_values), bits(&want), "{arch}: {n} f32 images");
        }
    }
}

/// `DirectNet::new` of `arch`, which must run some convolution as Winograd's: logits within
/// `1e-4` (relative to the largest) of the layers', and the same bits for 1 image at a time,
/// 71 at once, and 1 or 3 threads.
fn check_winograd(arch: &str, seed: u64) {
    let Some((model, net)) = packed(arch, seed, DirectNet::new) else {
        return;
    };
    assert!(net.uses_winograd(), "{arch}: no Winograd layer");
    assert!(
        !DirectNet::exact(&model).unwrap().uses_winograd(),
        "{arch}: exact"
    );
    let classes = net.classes();
    let n = 71;
    let bytes = images(n, seed);
    let want = layer_logits(&model, &bytes);
    let largest = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let mut reference = None;
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut got = vec![f32::NAN; n * classes];
        pool.install(|| net.infer_into(&mut got, &bytes)).unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * largest,
                "{arch}: logit {i}: {g} against the layers' {w}"
            );
        }
        let mut one_by_one = vec![f32::NAN; n * classes];
        for (out, image) in one_by_one
            .chunks_exact_mut(classes)
            .zip(bytes.chunks_exact(28 * 28))
        {
            pool.install(|| net.infer_into(out, image)).unwrap();
        }
        assert_eq!(
            bits(&one_by_one),
            bits(&got),
            "{arch}: one by one, {threads} threads"
        );
        let first = reference.get_or_insert_with(|| bits(&got));
        assert_eq!(*first, bits(&got), "{arch}: {threads} threads");
    }
}

#[test]
fn winograd_layers_are_within_rounding_of_the_layers_and_the_same_for_any_batch_or_thread_count() {
    check_winograd("lenet", 1);
    check_winograd("lenet", 2);
    check_winograd(
        "conv16x5p2,relu,pool2,conv32x3,relu,pool2,flatten,dense10",
        3,
    );
}

#[test]
fn the_lenet_style_network_gives_the_layer_path_bits() {
    check("lenet", 1);
    check("lenet", 2);
}

#[test]
fn other_conv_networks_give_the_layer_path_bits() {
    // No pool after a convolution, dropout between layers, a wide kernel, two hidden layers,
    // 48 and 16 filters, a convolution straight into the flatten.
    check("conv16x3p1,relu,dropout0.25,conv48x5p2,relu,pool2,flatten,dense64,relu,dense32,relu,dropout0.5,dense10", 3);
    check("conv32x5,relu,pool2,conv16x3,relu,flatten,dense10", 4);
    // Every convolution pooled, with other paddings and kernels, and odd maps whose pool
    // drops a row and a column.
    check(
        "conv16x5p2,relu,pool2,conv32x3,relu,pool2,flatten,dense10",
        5,
    );
    check(
        "conv32x3,relu,pool2,conv48x3p1,relu,pool2,flatten,dense16,relu,dense10",
        6,
    );
}

#[test]
fn networks_without_the_pattern_are_declined() {
    for arch in [
        "seed",                                // 8 filters
        "conv16x3s2,relu,flatten,dense10",     // stride 2
        "conv16x3,pool2,relu,flatten,dense10", // pool before the ReLU
        "conv16x3,relu,flatten,dense10,relu",  // ends in a ReLU
        "flatten,dense64,relu,dense10",        // no convolution
    ] {
        let model = ModelSpec::parse(arch).unwrap().build(1).unwrap();
        assert!(DirectNet::new(&model).is_none(), "{arch}");
    }
}

#[test]
fn wrong_lengths_are_errors() {
    let model = ModelSpec::lenet().build(1).unwrap();
    let Some(net) = DirectNet::new(&model) else {
        return;
    };
    let mut logits = vec![0.0; 10];
    assert!(net.infer_into(&mut logits, &[0; 28 * 28 - 1]).is_err());
    assert!(net.infer_into(&mut logits, &[0; 2 * 28 * 28]).is_err());
    assert!(net.infer_into(&mut [], &[]).is_ok());
}
