//! The fused convolution + ReLU + 2x2 max-pool against the layer-by-layer chain it replaces:
//! bit-identical forward values, window choices and gradients, on random shapes (proptest),
//! with coarse values too (so ties and all-negative windows happen often), with any thread
//! count.

use proptest::prelude::*;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::{Conv2dGeometry, NO_WINNER};

/// Values in [-1, 1); with `coarse`, rounded to quarters so equal values are common.
fn random_vec(len: usize, seed: u64, coarse: bool) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|_| {
            let v = tensor::unit_f32(rng.next_u32()) * 2.0 - 1.0;
            if coarse {
                (v * 4.0).round() / 4.0
            } else {
                v
            }
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Geometries whose convolution output is at least 2x2, with batches over several blocks.
fn geometry() -> impl Strategy<Value = Conv2dGeometry> {
    (
        1usize..=19,
        1usize..=4,
        1usize..=5,
        2usize..=13,
        2usize..=13,
        1usize..=4,
        1usize..=4,
        1usize..=2,
        0usize..=2,
    )
        .prop_filter_map(
            "the convolution output must hold a 2x2 window",
            |(n, c_in, c_out, h, w, k_h, k_w, s, p)| {
                Conv2dGeometry::new([n, c_in, h, w], c_out, [k_h, k_w], s, p)
                    .ok()
                    .filter(|g| g.h_out() >= 2 && g.w_out() >= 2)
            },
        )
}

/// Geometries the direct convolution takes with AVX-512 (stride 1, a square kernel): any
/// channel count (whole and partial groups of 6 and vectors of 16), outputs up to 21 wide
/// (two vectors of columns), small batches.
fn direct_geometry() -> impl Strategy<Value = Conv2dGeometry> {
    (
        1usize..=5,
        1usize..=6,
        1usize..=70,
        2usize..=18,
        2usize..=18,
        1usize..=5,
        0usize..=2,
    )
        .prop_filter_map(
            "the convolution output must hold a 2x2 window",
            |(n, c_in, c_out, h, w, k, p)| {
                Conv2dGeometry::new([n, c_in, h, w], c_out, [k, k], 1, p)
                    .ok()
                    .filter(|g| g.h_out() >= 2 && g.w_out() >= 2)
            },
        )
}

/// What a path computes: pooled values, its window choices (argmax indices for the chain,
/// codes for the fused kernels), then dL/d input, weight and bias.
struct Outputs<K> {
    pooled: Vec<f32>,
    choice: Vec<K>,
    gi: Vec<f32>,
    gw: Vec<f32>,
    gb: Vec<f32>,
}

struct Case {
    g: Conv2dGeometry,
    x: Vec<f32>,
    wt: Vec<f32>,
    b: Vec<f32>,
    grad_pooled: Vec<f32>,
}

impl Case {
    fn new(g: Conv2dGeometry, seed: u64, coarse: bool) -> Self {
        let pooled = g.n() * tensor::conv_pool_image_len(&g).unwrap();
        Self {
            x: random_vec(g.n() * g.input_image_len(), seed, coarse),
            wt: random_vec(g.weight_len(), seed ^ 2, coarse),
            b: random_vec(g.c_out(), seed ^ 3, coarse),
            grad_pooled: random_vec(pooled, seed ^ 4, false),
            g,
        }
    }

    fn pooled_len(&self) -> usize {
        self.grad_pooled.len()
    }

    /// The chain: conv -> relu -> pool forward, then pool -> relu -> conv backward.
    fn chain(&self) -> Outputs<u32> {
        let g = &self.g;
        let conv_len = g.n() * g.output_image_len();
        let mut conv = vec![f32::NAN; conv_len];
        tensor::conv2d_forward(&mut conv, &self.x, &self.wt, &self.b, g).unwrap();
        let mut relu = vec![f32::NAN; conv_len];
        tensor::relu_forward(&mut relu, &conv).unwrap();
        let mut pooled = vec![f32::NAN; self.pooled_len()];
        let mut argmax = vec![0u32; self.pooled_len()];
        let planes = g.n() * g.c_out();
        tensor::maxpool2x2_forward(
            &mut pooled,
            &mut argmax,
            &relu,
            planes,
            g.h_out(),
            g.w_out(),
        )
        .unwrap();

        let mut grad_relu = vec![f32::NAN; conv_len];
        tensor::maxpool2x2_backward(
            &mut grad_relu,
            &self.grad_pooled,
            &argmax,
            planes,
            g.h_out(),
            g.w_out(),
        )
        .unwrap();
        let mut grad_conv = vec![f32::NAN; conv_len];
        tensor::relu_backward(&mut grad_conv, &grad_relu, &conv).unwrap();
        let mut gi = vec![f32::NAN; self.x.len()];
        let mut gw = vec![0.5; self.wt.len()];
        let mut gb = vec![0.5; g.c_out()];
        tensor::conv2d_backward(
            Some(&mut gi),
            &mut gw,
            &mut gb,
            &grad_conv,
            &self.x,
            &self.wt,
            g,
        )
        .unwrap();
        Outputs {
            pooled,
            choice: argmax,
            gi,
            gw,
            gb,
        }
    }

    /// The fused kernels.
    fn fused(&self) -> Outputs<u8> {
        let g = &self.g;
        let mut pooled = vec![f32::NAN; self.pooled_len()];
        let mut codes = vec![255u8; self.pooled_len()];
        tensor::conv2d_relu_pool_forward(&mut pooled, &mut codes, &self.x, &self.wt, &self.b, g)
            .unwrap();
        let mut gi = vec![f32::NAN; self.x.len()];
        let mut gw = vec![0.5; self.wt.len()];
        let mut gb = vec![0.5; g.c_out()];
        tensor::conv2d_relu_pool_backward(
            Some(&mut gi),
            &mut gw,
            &mut gb,
            &self.grad_pooled,
            &codes,
            &self.x,
            &self.wt,
            g,
        )
        .unwrap();
        Outputs {
            pooled,
            choice: codes,
            gi,
            gw,
            gb,
        }
    }
}

/// The argmax index (within its plane) that a window code stands for.
fn code_to_index(code: u8, p: usize, g: &Conv2dGeometry) -> u32 {
    let pw = g.w_out() / 2;
    let (oy, ox) = (p / pw, p % pw);
    let (dy, dx) = (usize::from(code >> 1), usize::from(code & 1));
    ((2 * oy + dy) * g.w_out() + 2 * ox + dx) as u32
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let chain = case.chain();
    let fused = case.fused();
    prop_assert_eq!(bits(&fused.pooled), bits(&chain.pooled));
    let plane_len = (case.g.h_out() / 2) * (case.g.w_out() / 2);
    for (i, (&code, &value)) in fused.choice.iter().zip(&fused.pooled).enumerate() {
        prop_assert!(code <= NO_WINNER, "code {} at {}", code, i);
        if value > 0.0 {
            // Where the ReLU let the gradient through, the window choice is the chain's.
            prop_assert_eq!(code_to_index(code, i % plane_len, &case.g), chain.choice[i]);
        } else {
            prop_assert_eq!(code, NO_WINNER);
        }
    }
    prop_assert_eq!(bits(&fused.gi), bits(&chain.gi));
    prop_assert_eq!(bits(&fused.gw), bits(&chain.gw));
    prop_assert_eq!(bits(&fused.gb), bits(&chain.gb));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn fused_conv_relu_pool_is_bit_identical_to_the_chain(g in geometry(), seed in any::<u64>(), coarse in any::<bool>()) {
        check(&Case::new(g, seed, coarse))?;
    }

    #[test]
    fn the_direct_convolution_forward_is_bit_identical_to_the_chain(g in direct_geometry(), seed in any::<u64>(), coarse in any::<bool>()) {
        check(&Case::new(g, seed, coarse))?;
    }

    #[test]
    fn fused_conv_relu_pool_is_bit_identical_with_one_thread(g in geometry(), seed in any::<u64>()) {
        let case = Case::new(g, seed, true);
        let many = case.fused();
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| case.fused());
        prop_assert_eq!(bits(&one.pooled), bits(&many.pooled));
        prop_assert_eq!(one.choice, many.choice);
        prop_assert_eq!(bits(&one.gi), bits(&many.gi));
        prop_assert_eq!(bits(&one.gw), bits(&many.gw));
        prop_assert_eq!(bits(&one.gb), bits(&many.gb));
    }

    #[test]
    fn the_direct_convolution_forward_is_bit_identical_with_one_thread(g in direct_geometry(), seed in any::<u64>()) {
        let case = Case::new(g, seed, false);
        let many = case.fused();
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| case.fused());
        prop_assert_eq!(bits(&one.pooled), bits(&many.pooled));
        prop_assert_eq!(one.choice, many.choice);
    }
}

#[test]
fn nan_in_a_window_behaves_as_in_the_chain() {
    // A NaN input makes its conv outputs NaN; the ReLU turns NaN into 0 before pooling in the
    // chain, and so must the fused kernel.
    let g = Conv2dGeometry::new([1, 1, 4, 4], 1, [1, 1], 1, 0).unwrap();
    let mut case = Case::new(g, 7, false);
    case.wt = vec![1.0];
    case.b = vec![0.0];
    case.x = vec![
        f32::NAN,
        0.5,
        -1.0,
        -2.0, //
        0.25,
        0.75,
        -3.0,
        f32::NAN, //
        1.0,
        1.0,
        0.0,
        0.0, //
        1.0,
        1.0,
        0.0,
        -0.0,
    ];
    check(&case).unwrap();
    let fused = case.fused();
    assert_eq!(fused.pooled, [0.75, 0.0, 1.0, 0.0]);
    assert_eq!(fused.choice, [3, NO_WINNER, 0, NO_WINNER]);
}

#[test]
fn fused_kernels_reject_outputs_smaller_than_the_window() {
    let g = Conv2dGeometry::new([1, 1, 3, 3], 1, [3, 3], 1, 0).unwrap();
    let err = tensor::conv2d_relu_pool_forward(&mut [], &mut [], &[0.0; 9], &[0.0; 9], &[0.0], &g)
        .unwrap_err();
    assert!(
        err.to_string().contains("smaller than the 2x2 pool window"),
        "{err}"
    );
    let g = Conv2dGeometry::new([1, 1, 4, 4], 1, [1, 1], 1, 0).unwrap();
    let err = tensor::conv2d_relu_pool_backward(
        None,
        &mut [0.0],
        &mut [0.0],
        &[0.0; 4],
        &[0, 1, 2, 5],
        &[0.0; 16],
        &[1.0],
        &g,
    )
    .unwrap_err();
    assert!(err.to_string().contains("window code 5"), "{err}");
}

#[test]
fn the_lenet_style_layers_are_bit_identical_to_the_chain() {
    // Both convolutions of the LeNet-style network at their own sizes: a 28-wide output
    // (two vectors of columns, the second 12 wide) and a 14-wide one, 32 and 64 channels
    // (groups of 6 with a smaller last one).
    for (seed, dims, c_out) in [(1, [3, 1, 28, 28], 32), (2, [2, 32, 14, 14], 64)] {
        let g = Conv2dGeometry::new(dims, c_out, [3, 3], 1, 1).unwrap();
        check(&Case::new(g, seed, false)).unwrap();
        check(&Case::new(g, seed + 10, true)).unwrap();
    }
}

#[test]
fn nan_in_the_direct_convolution_behaves_as_in_the_chain() {
    // NaN inputs poison every conv value whose window reaches them; the ReLU makes those 0.
    let g = Conv2dGeometry::new([2, 3, 9, 11], 16, [3, 3], 1, 1).unwrap();
    let mut case = Case::new(g, 5, false);
    for i in [0, 17, 40, 99, 250, 333, 590] {
        case.x[i] = f32::NAN;
    }
    check(&case).unwrap();
    assert!(case.fused().choice.contains(&NO_WINNER));
}
