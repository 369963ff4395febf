//! The direct convolution against the im2col chain `conv2d_forward -> relu_forward
//! (-> maxpool2x2_forward)`: the same bits, on random shapes and on the LeNet-style layers,
//! into channels-last and channels-first destinations. On a CPU without AVX-512 the direct
//! convolution declines (`DirectConv::new` is `None`) and the tests check only that.

mod common;

use common::{bits, chain, padded_hwc, random_vec};
use proptest::prelude::*;
use tensor::{Conv2dGeometry, Dest, DirectConv, DirectInputGrad};

/// Runs one case both ways and compares bits, into a channels-last destination with a
/// border (as the next layer's padded input) and into a channels-first one.
fn check(
    c_in: usize,
    c_out: usize,
    [h, w]: [usize; 2],
    k: usize,
    pad: usize,
    pool: bool,
    seed: u64,
) {
    let dims = [c_in, h, w];
    let image = random_vec(c_in * h * w, seed);
    let weight: Vec<f32> = random_vec(c_out * c_in * k * k, seed + 1)
        .iter()
        .map(|v| v * 0.5)
        .collect();
    let bias = random_vec(c_out, seed + 2);
    let Some(direct) = DirectConv::new(&weight, &bias, dims, k, pad, pool) else {
        assert!(!DirectConv::supported(), "declined on a CPU with AVX-512");
        return;
    };
    let (want, [c, oh, ow]) = chain(&image, &weight, &bias, dims, k, pad, pool);
    assert_eq!(direct.output_dims(), (oh, ow));
    let input = padded_hwc(&image, dims, pad);
    let mut scratch = Vec::new();

    // Channels first, as a dense layer reads the flattened features.
    let mut first = vec![f32::NAN; c * oh * ow];
    let dest = Dest {
        codes: None,
        data: &mut first,
        offset: 0,
        row: ow,
        col: 1,
        channel: oh * ow,
    };
    direct.run(&input, &mut scratch, dest);
    assert_eq!(
        bits(&first),
        bits(&want),
        "channels first: {c_in}->{c_out} {h}x{w} k{k} p{pad} pool {pool}"
    );

    // Channels last with a 2-pixel border that must stay untouched.
    let (bw, border) = (ow + 4, 2);
    let mut last = vec![-7.0f32; (oh + 4) * bw * c];
    let dest = Dest {
        codes: None,
        data: &mut last,
        offset: (border * bw + border) * c,
        row: bw * c,
        col: c,
        channel: 1,
    };
    direct.run(&input, &mut scratch, dest);
    for y in 0..oh + 4 {
        for x in 0..bw {
            for ch in 0..c {
                let got = last[(y * bw + x) * c + ch];
                let inside =
                    (border..oh + border).contains(&y) && (border..ow + border).contains(&x);
                let expect = if inside {
                    want[(ch * oh + y - border) * ow + x - border]
                } else {
                    -7.0
                };
                assert_eq!(
                    got.to_bits(),
                    expect.to_bits(),
                    "channels last at ({y}, {x}, {ch})"
                );
            }
        }
    }
}

#[test]
fn the_lenet_style_layers_match_the_im2col_chain() {
    check(1, 32, [28, 28], 3, 1, true, 1);
    check(32, 64, [14, 14], 3, 1, true, 2);
}

#[test]
fn awkward_sizes_match_the_im2col_chain() {
    // Odd outputs (the pool drops a row and a column), no padding, wide kernels, rows
    // narrower than a tile, several channel groups (3 and 4 vectors, 96 = 2 x 48), no pool.
    check(1, 16, [5, 5], 3, 0, true, 3);
    check(3, 48, [9, 11], 5, 2, true, 4);
    check(2, 96, [7, 6], 3, 1, false, 5);
    check(4, 128, [13, 3], 1, 0, true, 6);
    check(5, 16, [2, 2], 2, 0, false, 7);
    check(1, 32, [31, 30], 4, 0, true, 8);
}

#[test]
fn shapes_it_cannot_take_are_declined() {
    let w = vec![0.0; 10 * 9];
    assert!(
        DirectConv::new(&w, &[0.0; 10], [1, 8, 8], 3, 1, false).is_none(),
        "10 channels"
    );
    let w = vec![0.0; 16 * 9];
    assert!(
        DirectConv::new(&w, &[0.0; 16], [1, 2, 2], 3, 0, false).is_none(),
        "kernel past the image"
    );
    assert!(
        DirectConv::new(&w, &[0.0; 16], [1, 3, 3], 3, 0, true).is_none(),
        "1x1 output and a pool"
    );
    assert!(
        DirectConv::new(&w[1..], &[0.0; 16], [1, 8, 8], 3, 0, false).is_none(),
        "short weight"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_shapes_match_the_im2col_chain(
        c_in in 1usize..6,
        vectors in 1usize..6,
        h in 2usize..20,
        w in 2usize..34,
        k in 1usize..5,
        pad in 0usize..3,
        pool in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let (hp, wp) = (h + 2 * pad, w + 2 * pad);
        prop_assume!(hp >= k && wp >= k);
        prop_assume!(!pool || (hp - k + 1 >= 2 && wp - k + 1 >= 2));
        check(c_in, vectors * 16, [h, w], k, pad, pool, seed);
    }

    #[test]
    fn random_input_gradients_match_col2im(
        c_in in 1usize..40,
        c_out in 1usize..40,
        h in 1usize..18,
        w in 1usize..40,
        k in 1usize..5,
        pad in 0usize..4,
        seed in 0u64..1000,
    ) {
        prop_assume!(pad < k && h + 2 * pad >= k && w + 2 * pad >= k);
        check_input_grad(c_in, c_out, [h, w], k, pad, seed);
    }
}

/// The input gradient both ways: through the column matrix (panel product, col2im) and
/// `DirectInputGrad` reading the output gradient in place; the same bits.
fn check_input_grad(
    c_in: usize,
    c_out: usize,
    [h, w]: [usize; 2],
    k: usize,
    pad: usize,
    seed: u64,
) {
    let g = Conv2dGeometry::new([1, c_in, h, w], c_out, [k, k], 1, pad).unwrap();
    let weight = random_vec(g.weight_len(), seed);
    let input = random_vec(g.input_image_len(), seed + 1);
    // Coarse gradients with zeros, as a pool's backward leaves them.
    let grad_out: Vec<f32> = random_vec(g.output_image_len(), seed + 2)
        .iter()
        .map(|v| {
            if *v < 0.0 {
                0.0
            } else {
                (v * 8.0).round() / 8.0 - 0.4
            }
        })
        .collect();
    let Some(direct) = DirectInputGrad::new(&weight, c_out, [c_in, h, w], k, pad) else {
        assert!(!DirectConv::supported(), "declined on a CPU with AVX-512");
        return;
    };
    let mut want = vec![f32::NAN; input.len()];
    let (mut gw, mut gb) = (vec![0.0; weight.len()], vec![0.0; c_out]);
    let grads = (&mut gw[..], &mut gb[..]);
    tensor::reference::conv2d_backward_columns(
        Some(&mut want),
        grads.0,
        grads.1,
        &grad_out,
        &input,
        &weight,
        &g,
    )
    .unwrap();
    // The batch backward takes the direct path here: the same bits again.
    let mut batch = vec![f32::NAN; input.len()];
    tensor::conv2d_backward(
        Some(&mut batch),
        &mut gw,
        &mut gb,
        &grad_out,
        &input,
        &weight,
        &g,
    )
    .unwrap();

    let (ho, wo) = (g.h_out(), g.w_out());
    assert_eq!(direct.grad_dims(), (ho, wo));
    let mut got = vec![f32::NAN; input.len()];
    direct.run(&grad_out, ho * wo, &mut got);
    // Planes further apart (images side by side), with NaN between them that must not be read.
    let wide = ho * wo + 5;
    let mut spread = vec![f32::NAN; c_out * wide];
    for (dst, src) in spread
        .chunks_exact_mut(wide)
        .zip(grad_out.chunks_exact(ho * wo))
    {
        dst[..ho * wo].copy_from_slice(src);
    }
    let mut apart = vec![f32::NAN; input.len()];
    direct.run(&spread, wide, &mut apart);
    assert_eq!(bits(&apart), bits(&got), "planes apart");
    assert_eq!(
        bits(&got),
        bits(&want),
        "input gradient: {c_in}->{c_out} {h}x{w} k{k} p{pad}"
    );
    assert_eq!(
        bits(&batch),
        bits(&want),
        "batch input gradient: {c_in}->{c_out} {h}x{w} k{k} p{pad}"
    );
}

#[test]
fn the_input_gradient_matches_col2im() {
    check_input_grad(32, 64, [14, 14], 3, 1, 11);
    check_input_grad(16, 8, [5, 9], 3, 0, 12);
    check_input_grad(48, 16, [7, 3], 5, 2, 13);
    check_input_grad(32, 3, [16, 31], 2, 1, 14);
    check_input_grad(5, 7, [4, 40], 4, 3, 15);
    check_input_grad(1, 1, [1, 1], 1, 0, 16);
}

#[test]
fn input_gradients_it_cannot_take_are_declined() {
    let w = vec![0.0; 4 * 16 * 9];
    assert!(
        DirectInputGrad::new(&w, 4, [16, 8, 8], 3, 3).is_none(),
        "padding past the kernel"
    );
    assert!(
        DirectInputGrad::new(&w[1..], 4, [16, 8, 8], 3, 1).is_none(),
        "short weight"
    );
}

#[test]
fn batch_input_gradients_match_col2im_across_blocks() {
    // 11 images: a block of 8 and a partial one, the padded gradient reused within a block.
    for (c_in, c_out, h, w, k, pad) in [(32, 64, 14, 14, 3, 1), (16, 5, 6, 9, 3, 2)] {
        let g = Conv2dGeometry::new([11, c_in, h, w], c_out, [k, k], 1, pad).unwrap();
        let weight = random_vec(g.weight_len(), 21);
        let input = random_vec(11 * g.input_image_len(), 22);
        let grad_out = random_vec(11 * g.output_image_len(), 23);
        let run = |columns: bool| {
            let mut gi = vec![f32::NAN; input.len()];
            let (mut gw, mut gb) = (vec![0.0; weight.len()], vec![0.0; c_out]);
            let f = if columns {
                tensor::reference::conv2d_backward_columns
            } else {
                tensor::conv2d_backward
            };
            f(
                Some(&mut gi),
                &mut gw,
                &mut gb,
                &grad_out,
                &input,
                &weight,
                &g,
            )
            .unwrap();
            [gi, gw, gb].map(|v| bits(&v))
        };
        assert_eq!(run(false), run(true), "{c_in}->{c_out} {h}x{w} k{k} p{pad}");
    }
}
