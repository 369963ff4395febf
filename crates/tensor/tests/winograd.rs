//! Winograd's F(2x2, 3x3) convolution with ReLU and pool: the AVX-512 kernel against the plain
//! scalar reference (the same bits, on random shapes, with NaN and -0.0 in the input), and
//! both against the im2col chain `conv2d_forward -> relu_forward -> maxpool2x2_forward`
//! (within rounding: `1e-5` of the sum of the absolute products, plus `1e-6`).

mod common;

use common::{bits, padded_hwc, random_vec};
use proptest::prelude::*;
use tensor::{Dest, WinogradConv};

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
    assert!(
        WinogradConv::new(&[0.1; 10], &[0.0; 16], [16, 4, 4], 0).is_none(),
        "weight length"
    );
    assert!(
        WinogradConv::new(&[], &[], [16, 4, 4], 0).is_none(),
        "no channels"
    );
}
