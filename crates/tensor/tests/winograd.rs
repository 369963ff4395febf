//! Winograd's F(2x2, 3x3) convolution with ReLU and pool: the AVX-512 kernel against the plain
//! scalar reference (the same bits, on random shapes, with NaN and -0.0 in the input), and
//! both against the im2col chain `conv2d_forward -> relu_forward -> maxpool2x2_forward`
//! (within rounding: `1e-5` of the sum of the absolute products, plus `1e-6`); its window
//! codes; the training batch forward and the input gradient against the layers' fused
//! forward and backward.

mod common;

use common::{bits, padded_hwc, random_vec};
use proptest::prelude::*;
use tensor::{Conv2dGeometry, Dest, WinogradConv, NO_WINNER};

/// The im2col chain `[c_out, ho / 2, wo / 2]` (`common::chain`), and for each pooled value the largest sum of
/// absolute products (with the bias) over its window: the scale of its rounding.
fn chain_with_scale(
    image: &[f32],
    weight: &[f32],
    bias: &[f32],
    [c_in, h, w]: [usize; 3],
    pad: usize,
) -> (Vec<f32>, Vec<f32>) {
    let c_out = bias.len();
    let (out, [_, ph, pw]) = common::chain(image, weight, bias, [c_in, h, w], 3, pad, true);
    let at = |ci: usize, y: isize, x: isize| -> f32 {
        let (y, x) = (y - pad as isize, x - pad as isize);
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            0.0
        } else {
            image[(ci * h + y as usize) * w + x as usize]
        }
    };
    let mut scale = vec![0.0f32; out.len()];
    for co in 0..c_out {
        for py in 0..ph {
            for px in 0..pw {
                let mut most = 0.0f32;
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let (y, x) = ((2 * py + dy) as isize, (2 * px + dx) as isize);
                    let mut s = bias[co].abs();
                    for ci in 0..c_in {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let wv = weight[((co * c_in + ci) * 3 + ky) * 3 + kx];
                                s += (wv * at(ci, y + ky as isize, x + kx as isize)).abs();
                            }
                        }
                    }
                    most = most.max(s);
                }
                scale[(co * ph + py) * pw + px] = most;
            }
        }
    }
    (out, scale)
}

/// Runs `conv` and its reference into a channels-first destination and into a channels-last
/// one with a border (as the next layer's padded input); returns the channels-first output.
fn run_both(conv: &WinogradConv, input: &[f32], what: &str) -> Vec<f32> {
    let (c, (oh, ow)) = (conv.c_out(), conv.output_dims());
    let mut got = vec![f32::NAN; c * oh * ow];
    let mut want = vec![f32::NAN; c * oh * ow];
    let mut scratch = Vec::new();
    let cf = |data| Dest {
        data,
        codes: None,
        offset: 0,
        row: ow,
        col: 1,
        channel: oh * ow,
    };
    conv.run(input, &mut scratch, cf(&mut got));
    conv.run_reference(input, cf(&mut want));
    assert_eq!(bits(&got), bits(&want), "{what}: channels first");
    // With window codes: the same values, and the same codes from both.
    let (mut got_coded, mut want_coded) = (vec![f32::NAN; got.len()], vec![f32::NAN; got.len()]);
    let (mut got_codes, mut want_codes) = (vec![9u8; got.len()], vec![9u8; got.len()]);
    let coded = |data, codes| Dest {
        data,
        codes: Some(codes),
        offset: 0,
        row: ow,
        col: 1,
        channel: oh * ow,
    };
    conv.run(input, &mut scratch, coded(&mut got_coded, &mut got_codes));
    conv.run_reference(input, coded(&mut want_coded, &mut want_codes));
    assert_eq!(bits(&got_coded), bits(&got), "{what}: values with codes");
    assert_eq!(
        bits(&want_coded),
        bits(&got),
        "{what}: reference values with codes"
    );
    assert_eq!(got_codes, want_codes, "{what}: window codes");
    for (&v, &k) in got.iter().zip(&got_codes) {
        assert!(k <= NO_WINNER, "{what}: code {k}");
        assert_eq!(k == NO_WINNER, v == 0.0, "{what}: code {k} for {v}");
    }
    // Channels last with a one-value border, as the next convolution's padded input: the
    // border must stay as it was.
    let (hp, wp) = (oh + 2, ow + 2);
    let mut got_last = vec![-7.0f32; hp * wp * c];
    let mut want_last = got_last.clone();
    let cl = |data| Dest {
        data,
        codes: None,
        offset: (wp + 1) * c,
        row: wp * c,
        col: c,
        channel: 1,
    };
    conv.run(input, &mut scratch, cl(&mut got_last));
    conv.run_reference(input, cl(&mut want_last));
    assert_eq!(bits(&got_last), bits(&want_last), "{what}: channels last");
    for y in 0..hp {
        for x in 0..wp {
            for ch in 0..c {
                let v = got_last[(y * wp + x) * c + ch];
                if y == 0 || x == 0 || y == hp - 1 || x == wp - 1 {
                    assert_eq!(v, -7.0, "{what}: border written at ({y}, {x}, {ch})");
                } else {
                    let cf_v = got[(ch * oh + y - 1) * ow + x - 1];
                    assert_eq!(v.to_bits(), cf_v.to_bits(), "{what}: layouts differ");
                }
            }
        }
    }
    got
}

fn check(c_in: usize, c_out: usize, [h, w]: [usize; 2], pad: usize, seed: u64) {
    let dims = [c_in, h, w];
    let image = random_vec(c_in * h * w, seed);
    let weight: Vec<f32> = random_vec(c_out * c_in * 9, seed + 1)
        .iter()
        .map(|v| v * 0.5)
        .collect();
    let bias = random_vec(c_out, seed + 2);
    let conv = WinogradConv::new(&weight, &bias, dims, pad).expect("a layer it takes");
    let what = format!("{c_in}->{c_out} at {h}x{w}, pad {pad}");
    let got = run_both(&conv, &padded_hwc(&image, dims, pad), &what);
    let (want, scale) = chain_with_scale(&image, &weight, &bias, dims, pad);
    assert_eq!(got.len(), want.len(), "{what}: output size");
    for (i, ((&g, &d), &s)) in got.iter().zip(&want).zip(&scale).enumerate() {
        assert!(
            (g - d).abs() <= 1e-5 * s + 1e-6,
            "{what}: value {i}: winograd {g}, chain {d}, scale {s}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn winograd_is_within_rounding_of_the_chain_and_the_kernel_gives_the_reference_bits(
        c_in in 1usize..=3,
        c_out in 1usize..=5,
        half_h in 1usize..=8,
        half_w in 1usize..=8,
        pad in 0usize..=2,
        seed in 0u64..1000,
    ) {
        // The convolution output is (h + 2 pad - 2): even, at least 2.
        let (h, w) = (2 * half_h + 2 - 2 * pad.min(half_h), 2 * half_w + 2 - 2 * pad.min(half_w));
        let pad = pad.min(half_h).min(half_w);
        check(16 * c_in, 16 * c_out, [h, w], pad, seed);
    }
}

#[test]
fn the_lenet_style_second_layer_is_within_rounding_of_the_chain() {
    check(32, 64, [14, 14], 1, 11);
}

#[test]
fn nan_and_negative_zero_give_the_reference_bits() {
    let (c_in, c_out, h, w, pad) = (16, 32, 6, 8, 1);
    let mut image = random_vec(c_in * h * w, 5);
    image[3] = f32::NAN;
    image[40] = -0.0;
    image[c_in * h * w - 1] = f32::INFINITY;
    let weight = random_vec(c_out * c_in * 9, 6);
    let mut bias = random_vec(c_out, 7);
    bias[0] = -0.0;
    let conv = WinogradConv::new(&weight, &bias, [c_in, h, w], pad).unwrap();
    let got = run_both(&conv, &padded_hwc(&image, [c_in, h, w], pad), "NaN");
    // NaN and infinite sums become 0 at the ReLU, as `max(v, 0)` gives; nothing is NaN.
    assert!(got.iter().all(|v| !v.is_nan() && *v >= 0.0));
}

#[test]
fn layers_it_does_not_take_are_declined() {
    let ok = |c_in: usize, c_out: usize, h: usize, w: usize, pad: usize| {
        WinogradConv::new(
            &vec![0.1; c_out * c_in * 9],
            &vec![0.0; c_out],
            [c_in, h, w],
            pad,
        )
        .is_some()
    };
    assert!(ok(32, 64, 14, 14, 1));
    assert!(ok(16, 16, 2, 2, 1));
    assert!(!ok(8, 64, 14, 14, 1), "input channels not a multiple of 16");
    assert!(
        !ok(32, 40, 14, 14, 1),
        "output channels not a multiple of 16"
    );
    assert!(!ok(32, 64, 13, 14, 1), "odd convolution output");
    assert!(!ok(32, 64, 1, 1, 0), "no output");
    assert!(!ok(16, 16, 0, 0, 2), "an empty image");
    assert!(
        WinogradConv::new(&[0.1; 10], &[0.0; 16], [16, 4, 4], 0).is_none(),
        "weight length"
    );
    assert!(
        WinogradConv::new(&[], &[], [16, 4, 4], 0).is_none(),
        "no channels"
    );
}

/// A batch of `n` channels-first images, weights and biases for `c_in -> c_out` at `h x w`.
fn layer(
    n: usize,
    [c_in, c_out]: [usize; 2],
    [h, w]: [usize; 2],
    seed: u64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let input = random_vec(n * c_in * h * w, seed);
    let weight: Vec<f32> = random_vec(c_out * c_in * 9, seed + 1)
        .iter()
        .map(|v| v * 0.3)
        .collect();
    (input, weight, random_vec(c_out, seed + 2))
}

/// `forward_batch` on `n` images: each image as `run` computes it alone (any thread count),
/// within rounding of `conv2d_relu_pool_forward`, with codes naming a position whose exact
/// value is within rounding of the window's maximum.
fn check_batch(n: usize, [c_in, c_out]: [usize; 2], [h, w]: [usize; 2], pad: usize, seed: u64) {
    let what = format!("{n} x {c_in}->{c_out} at {h}x{w}, pad {pad}");
    let (input, weight, bias) = layer(n, [c_in, c_out], [h, w], seed);
    let g = Conv2dGeometry::new([n, c_in, h, w], c_out, [3, 3], 1, pad).unwrap();
    let conv = WinogradConv::for_geometry(&weight, &bias, &g).expect("a layer it takes");
    let out_len = tensor::conv_pool_image_len(&g).unwrap();
    let batch = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (mut out, mut codes) = (vec![f32::NAN; n * out_len], vec![9u8; n * out_len]);
        pool.install(|| conv.forward_batch(&mut out, &mut codes, &input))
            .unwrap();
        (out, codes)
    };
    let (out, codes) = batch(1);
    let (out3, codes3) = batch(3);
    assert_eq!(bits(&out3), bits(&out), "{what}: 3 threads");
    assert_eq!(codes3, codes, "{what}: 3 threads' codes");
    let (mut exact, mut exact_codes) = (vec![0.0; n * out_len], vec![0u8; n * out_len]);
    tensor::conv2d_relu_pool_forward(&mut exact, &mut exact_codes, &input, &weight, &bias, &g)
        .unwrap();
    let in_len = c_in * h * w;
    for i in 0..n {
        let image = &input[i * in_len..(i + 1) * in_len];
        let alone = run_both(&conv, &padded_hwc(image, [c_in, h, w], pad), &what);
        assert_eq!(
            bits(&alone),
            bits(&out[i * out_len..(i + 1) * out_len]),
            "{what}: image {i}"
        );
        let (conv_out, [_, ho, wo]) =
            common::chain(image, &weight, &bias, [c_in, h, w], 3, pad, false);
        let (_, scale) = chain_with_scale(image, &weight, &bias, [c_in, h, w], pad);
        let (ph, pw) = (ho / 2, wo / 2);
        for (v, &scale) in scale.iter().enumerate() {
            let (co, py, px) = (v / (ph * pw), v / pw % ph, v % pw);
            let at = i * out_len + v;
            let tol = 1e-5 * scale + 1e-6;
            assert!((out[at] - exact[at]).abs() <= tol, "{what}: value {at}");
            let k = codes[at];
            if k == NO_WINNER {
                assert!(
                    exact[at] <= tol,
                    "{what}: value {at} has no winner but {}",
                    exact[at]
                );
            } else {
                let (dy, dx) = (usize::from(k) / 2, usize::from(k) % 2);
                let named = conv_out[(co * ho + 2 * py + dy) * wo + 2 * px + dx];
                assert!(
                    (named - exact[at]).abs() <= 2.0 * tol,
                    "{what}: code {k} of value {at} names {named}, the maximum is {}",
                    exact[at]
                );
            }
        }
    }
}

#[test]
fn the_training_forward_is_each_image_alone_within_rounding_of_the_fused_layers() {
    check_batch(5, [32, 64], [14, 14], 1, 21);
    check_batch(3, [16, 32], [6, 8], 0, 22);
    check_batch(2, [16, 16], [4, 6], 2, 23);
    // No images: nothing to do.
    let g = Conv2dGeometry::new([0, 16, 4, 4], 16, [3, 3], 1, 1).unwrap();
    let conv = WinogradConv::for_geometry(&[0.1; 16 * 16 * 9], &[0.0; 16], &g).unwrap();
    conv.forward_batch(&mut [], &mut [], &[]).unwrap();
}

#[test]
fn the_training_forward_reports_buffers_that_do_not_fit() {
    let g = Conv2dGeometry::new([2, 16, 4, 4], 16, [3, 3], 1, 1).unwrap();
    let conv = WinogradConv::for_geometry(&[0.1; 16 * 16 * 9], &[0.0; 16], &g).unwrap();
    let input = vec![0.5; 2 * 16 * 16];
    let (mut out, mut codes) = (vec![0.0; 2 * 16 * 4], vec![0u8; 2 * 16 * 4]);
    conv.forward_batch(&mut out, &mut codes, &input).unwrap();
    assert!(conv
        .forward_batch(&mut out[1..], &mut codes, &input)
        .is_err());
    assert!(conv
        .forward_batch(&mut out, &mut codes[1..], &input)
        .is_err());
    assert!(conv
        .forward_batch(&mut out, &mut codes, &input[1..])
        .is_err());
    let grad = WinogradConv::input_grad(&[0.1; 16 * 16 * 9], 16, [16, 4, 4], 1).unwrap();
    assert!(
        grad.forward_batch(&mut out, &mut codes, &input).is_err(),
        "no pool"
    );
    // Strides, kernels and biases it does not take.
    let other = |stride: usize, k: usize| {
        Conv2dGeometry::new([2, 16, 8, 8], 16, [k, k], stride, 1).unwrap()
    };
    assert!(WinogradConv::for_geometry(&[0.1; 16 * 16 * 9], &[0.0; 16], &other(2, 3)).is_none());
    assert!(WinogradConv::for_geometry(&[0.1; 16 * 16 * 25], &[0.0; 16], &other(1, 5)).is_none());
    assert!(WinogradConv::for_geometry(&[0.1; 16 * 16 * 9], &[0.0; 8], &other(1, 3)).is_none());
}

/// The input gradient's layer: the AVX-512 kernel gives the reference bits; the Winograd
/// backward gives the same bits on 1 and 3 threads, and is within rounding of the layers'
/// backward (input, weight and bias gradients).
fn check_input_grad(
    n: usize,
    [c_in, c_out]: [usize; 2],
    [h, w]: [usize; 2],
    pad: usize,
    seed: u64,
) {
    let what = format!("input gradient, {n} x {c_in}->{c_out} at {h}x{w}, pad {pad}");
    let (input, weight, bias) = layer(n, [c_in, c_out], [h, w], seed);
    let g = Conv2dGeometry::new([n, c_in, h, w], c_out, [3, 3], 1, pad).unwrap();
    let grad_conv = WinogradConv::input_grad(&weight, c_out, [c_in, h, w], pad).expect("taken");
    assert_eq!(
        (grad_conv.c_in(), grad_conv.c_out()),
        (c_out, c_in),
        "{what}: channels"
    );
    // The kernel against the reference on a random padded gradient, into a destination with
    // one spare value around it.
    let (gh, gw) = (g.h_out(), g.w_out());
    let gp = grad_conv.pad();
    let go = random_vec(c_out * gh * gw, seed + 5);
    let padded = padded_hwc(&go, [c_out, gh, gw], gp);
    let dest = |data| Dest {
        data,
        codes: None,
        offset: 1,
        row: w,
        col: 1,
        channel: h * w,
    };
    let (mut got, mut want) = (
        vec![-7.0f32; c_in * h * w + 2],
        vec![-7.0f32; c_in * h * w + 2],
    );
    grad_conv.run(&padded, &mut Vec::new(), dest(&mut got));
    grad_conv.run_reference(&padded, dest(&mut want));
    assert_eq!(bits(&got), bits(&want), "{what}: kernel against reference");
    assert_eq!(
        (got[0], got[got.len() - 1]),
        (-7.0, -7.0),
        "{what}: written outside"
    );
    assert!(
        got[1..got.len() - 1].iter().all(|v| v.is_finite()),
        "{what}: every value written"
    );

    let out_len = tensor::conv_pool_image_len(&g).unwrap();
    let (mut pooled, mut codes) = (vec![0.0; n * out_len], vec![0u8; n * out_len]);
    tensor::conv2d_relu_pool_forward(&mut pooled, &mut codes, &input, &weight, &bias, &g).unwrap();
    let grad_pooled = random_vec(n * out_len, seed + 6);
    let backward =
        |winograd: bool, input: &[f32], weight: &[f32], grad_pooled: &[f32], threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut gi = vec![f32::NAN; input.len()];
            let (mut gw, mut gb) = (vec![0.5f32; weight.len()], vec![0.25f32; c_out]);
            let f = match winograd {
                true => tensor::conv2d_relu_pool_backward_winograd,
                false => tensor::conv2d_relu_pool_backward,
            };
            pool.install(|| {
                f(
                    Some(&mut gi),
                    &mut gw,
                    &mut gb,
                    grad_pooled,
                    &codes,
                    input,
                    weight,
                    &g,
                )
            })
            .unwrap();
            (gi, gw, gb)
        };
    let (gi, gw, gb) = backward(true, &input, &weight, &grad_pooled, 1);
    let (gi3, gw3, gb3) = backward(true, &input, &weight, &grad_pooled, 3);
    assert_eq!(bits(&gi3), bits(&gi), "{what}: input gradient, 3 threads");
    assert_eq!(bits(&gw3), bits(&gw), "{what}: weight gradient, 3 threads");
    assert_eq!(bits(&gb3), bits(&gb), "{what}: bias gradient, 3 threads");
    let (exact_gi, exact_gw, exact_gb) = backward(false, &input, &weight, &grad_pooled, 1);
    // The scale of each value's rounding: the same sums over absolute values.
    let abs = |v: &[f32]| v.iter().map(|x| x.abs()).collect::<Vec<_>>();
    let (scale_gi, scale_gw, scale_gb) =
        backward(false, &abs(&input), &abs(&weight), &abs(&grad_pooled), 1);
    let near = |got: &[f32], want: &[f32], scale: &[f32], name: &str| {
        for (i, ((&a, &b), &s)) in got.iter().zip(want).zip(scale).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * s + 1e-6,
                "{what}: {name} {i}: {a} against {b}"
            );
        }
    };
    near(&gi, &exact_gi, &scale_gi, "input gradient");
    near(&gw, &exact_gw, &scale_gw, "weight gradient");
    near(&gb, &exact_gb, &scale_gb, "bias gradient");
    // Without an input gradient, the weight and bias gradients are the same.
    let (mut gw2, mut gb2) = (vec![0.5f32; weight.len()], vec![0.25f32; c_out]);
    tensor::conv2d_relu_pool_backward_winograd(
        None,
        &mut gw2,
        &mut gb2,
        &grad_pooled,
        &codes,
        &input,
        &weight,
        &g,
    )
    .unwrap();
    assert_eq!(bits(&gw2), bits(&gw), "{what}: weight gradient alone");
    assert_eq!(bits(&gb2), bits(&gb), "{what}: bias gradient alone");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn the_winograd_backward_is_within_rounding_of_the_layers(
        c_in in 1usize..=3,
        c_out in 1usize..=3,
        half_h in 1usize..=7,
        half_w in 1usize..=7,
        pad in 0usize..=2,
        n in 1usize..=3,
        seed in 0u64..1000,
    ) {
        // Even input sides; a convolution output of at least 2x2.
        let (h, w) = (2 * half_h + 2, 2 * half_w + 2);
        check_input_grad(n, [16 * c_in, 16 * c_out], [h, w], pad, seed);
    }
}

#[test]
fn the_lenet_style_second_layer_backward_is_within_rounding_of_the_layers() {
    // 19 images: three blocks of the weight gradient's partial sums.
    check_input_grad(19, [32, 64], [14, 14], 1, 31);
}

#[test]
fn input_gradients_it_does_not_take_are_declined() {
    let ok = |c_in: usize, c_out: usize, h: usize, w: usize, pad: usize| {
        WinogradConv::input_grad(&vec![0.1; c_out * c_in * 9], c_out, [c_in, h, w], pad).is_some()
    };
    assert!(ok(32, 64, 14, 14, 1));
    assert!(ok(16, 16, 4, 4, 0));
    assert!(!ok(8, 64, 14, 14, 1), "input channels not a multiple of 16");
    assert!(
        !ok(32, 40, 14, 14, 1),
        "output channels not a multiple of 16"
    );
    assert!(!ok(32, 64, 13, 14, 1), "odd input side");
    assert!(!ok(16, 16, 4, 4, 3), "padding past the kernel");
    assert!(
        WinogradConv::input_grad(&[0.1; 10], 16, [16, 4, 4], 1).is_none(),
        "weight length"
    );
}
