//! Every fast kernel against the slow reference in `tensor::reference`, on random shapes
//! (proptest) and on a deterministic sweep of small and awkward sizes. Outputs are pre-filled
//! with NaN so a value the kernel forgets to write, or writes out of place, shows up.

use proptest::prelude::*;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::{reference, Conv2dGeometry};

const REL_TOL: f32 = 1e-4;

fn random_vec(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|_| tensor::unit_f32(rng.next_u32()) * 2.0 - 1.0)
        .collect()
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = REL_TOL * w.abs().max(1.0);
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: got {g}, want {w} (tolerance {tol})"
        );
    }
}

fn single_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(f)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn check_matmuls(m: usize, k: usize, n: usize, seed: u64) {
    let a = random_vec(m * k, seed);
    let b = random_vec(k * n, seed + 1);
    let want = reference::matmul(&a, &b, m, k, n);
    let at = reference::transpose(&a, m, k);
    let bt = reference::transpose(&b, k, n);

    let mut out = vec![f32::NAN; m * n];
    tensor::matmul_into(&mut out, &a, &b, m, k, n).unwrap();
    assert_close("matmul", &out, &want);
    let mut out = vec![f32::NAN; m * n];
    tensor::matmul_tn_into(&mut out, &at, &b, m, k, n).unwrap();
    assert_close("matmul_tn", &out, &want);
    let mut out = vec![f32::NAN; m * n];
    tensor::matmul_nt_into(&mut out, &a, &bt, m, k, n).unwrap();
    assert_close("matmul_nt", &out, &want);
    // The serial variant gives the same bits as the parallel one.
    let mut serial = vec![f32::NAN; m * n];
    tensor::matmul_nt_serial_into(&mut serial, &a, &bt, m, k, n).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&serial), bits(&out), "matmul_nt_serial {m}x{k}x{n}");

    // The accumulating variants add onto what is there.
    let base = random_vec(m * n, seed + 2);
    let want_acc: Vec<f32> = base.iter().zip(&want).map(|(x, y)| x + y).collect();
    for (name, f) in [
        (
            "matmul_add",
            tensor::matmul_add
                as fn(&mut [f32], &[f32], &[f32], usize, usize, usize) -> tensor::Result<()>,
        ),
        ("matmul_tn_add", tensor::matmul_tn_add),
        ("matmul_nt_add", tensor::matmul_nt_add),
    ] {
        let (lhs, rhs) = match name {
            "matmul_tn_add" => (&at, &b),
            "matmul_nt_add" => (&a, &bt),
            _ => (&a, &b),
        };
        let mut out = base.clone();
        f(&mut out, lhs, rhs, m, k, n).unwrap();
        assert_close(name, &out, &want_acc);
    }
}

#[test]
fn matmul_sweep_of_small_and_awkward_sizes() {
    for m in 0..=12 {
        for k in 0..=12 {
            for n in 0..=12 {
                check_matmuls(m, k, n, (m * 169 + k * 13 + n) as u64);
            }
        }
    }
    for (m, k, n) in [
        (17, 257, 3),
        (257, 17, 65),
        (129, 300, 70),
        (1, 1352, 10),
        (64, 1352, 10),
        // Few rows, many columns, large: the column-block parallel path (last block partial).
        (64, 3136, 130),
        // One image through the LeNet-style dense layer (column blocks in parallel).
        (1, 3136, 128),
    ] {
        check_matmuls(m, k, n, 7);
    }
}

#[test]
fn matmul_rejects_wrong_lengths() {
    let mut out = vec![0.0; 4];
    let err = tensor::matmul_into(&mut out, &[0.0; 3], &[0.0; 4], 2, 2, 2).unwrap_err();
    assert_eq!(err.to_string(), "matmul: a must hold 4 values, got 3");
}

#[test]
fn large_matmul_is_bit_identical_with_one_thread_and_many() {
    // Large enough to take the parallel path (more than one row block).
    let (m, k, n) = (300, 200, 90);
    let a = random_vec(m * k, 1);
    let b = random_vec(k * n, 2);
    let mut many = vec![0.0; m * n];
    tensor::matmul_into(&mut many, &a, &b, m, k, n).unwrap();
    let one = single_thread(|| {
        let mut out = vec![0.0; m * n];
        tensor::matmul_into(&mut out, &a, &b, m, k, n).unwrap();
        out
    });
    assert_eq!(bits(&one), bits(&many));
}

#[test]
fn wide_matmul_nt_add_is_bit_identical_with_one_thread_and_many() {
    // At most one row block but many columns: the column-block parallel path, accumulating,
    // with `b` stored transposed as a dense layer's weight is.
    let (m, k, n) = (64, 3136, 130);
    let a = random_vec(m * k, 3);
    let bt = random_vec(n * k, 4);
    let start = random_vec(m * n, 5);
    let mut many = start.clone();
    tensor::matmul_nt_add(&mut many, &a, &bt, m, k, n).unwrap();
    let one = single_thread(|| {
        let mut out = start.clone();
        tensor::matmul_nt_add(&mut out, &a, &bt, m, k, n).unwrap();
        out
    });
    assert_eq!(bits(&one), bits(&many));
}

/// Random convolution geometries in the ranges of the foundation issue.
fn geometry() -> impl Strategy<Value = Conv2dGeometry> {
    (
        1usize..=8,
        1usize..=4,
        1usize..=4,
        1usize..=12,
        1usize..=12,
        1usize..=5,
        1usize..=5,
        1usize..=2,
        0usize..=2,
    )
        .prop_filter_map(
            "kernel must fit the padded input",
            |(n, c_in, c_out, h, w, k_h, k_w, s, p)| {
                Conv2dGeometry::new([n, c_in, h, w], c_out, [k_h, k_w], s, p).ok()
            },
        )
}

/// "Same" convolutions (stride 1, kernel 2 pad + 1), which im2col copies as shifted planes.
fn same_geometry() -> impl Strategy<Value = Conv2dGeometry> {
    (
        1usize..=10,
        1usize..=3,
        1usize..=3,
        1usize..=12,
        1usize..=12,
        0usize..=2,
    )
        .prop_filter_map(
            "kernel must fit the padded input",
            |(n, c_in, c_out, h, w, p)| {
                Conv2dGeometry::new([n, c_in, h, w], c_out, [2 * p + 1, 2 * p + 1], 1, p).ok()
            },
        )
}

fn conv_forward_fast(x: &[f32], wt: &[f32], b: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    let mut out = vec![f32::NAN; g.n() * g.output_image_len()];
    tensor::conv2d_forward(&mut out, x, wt, b, g).unwrap();
    out
}

fn conv_backward_fast(
    go: &[f32],
    x: &[f32],
    wt: &[f32],
    g: &Conv2dGeometry,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut gi = vec![f32::NAN; x.len()];
    let mut gw = vec![0.0; wt.len()];
    let mut gb = vec![0.0; g.c_out()];
    tensor::conv2d_backward(Some(&mut gi), &mut gw, &mut gb, go, x, wt, g).unwrap();
    (gi, gw, gb)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn matmul_matches_reference(m in 0usize..40, k in 0usize..40, n in 0usize..40, seed in any::<u64>()) {
        check_matmuls(m, k, n, seed);
    }

    #[test]
    fn im2col_matches_reference(g in geometry(), seed in any::<u64>()) {
        let image = random_vec(g.input_image_len(), seed);
        let mut col = vec![f32::NAN; g.col_rows() * g.col_cols()];
        tensor::im2col_into(&mut col, &image, &g).unwrap();
        prop_assert_eq!(bits(&col), bits(&reference::im2col(&image, &g)));
    }

    #[test]
    fn same_conv_im2col_and_conv_match_reference(g in same_geometry(), seed in any::<u64>()) {
        let image = random_vec(g.input_image_len(), seed);
        let mut col = vec![f32::NAN; g.col_rows() * g.col_cols()];
        tensor::im2col_into(&mut col, &image, &g).unwrap();
        prop_assert_eq!(bits(&col), bits(&reference::im2col(&image, &g)));
        let x = random_vec(g.n() * g.input_image_len(), seed ^ 1);
        let wt = random_vec(g.weight_len(), seed ^ 2);
        let b = random_vec(g.c_out(), seed ^ 3);
        assert_close("conv2d_forward", &conv_forward_fast(&x, &wt, &b, &g), &reference::conv2d_forward(&x, &wt, &b, &g));
        let go = random_vec(g.n() * g.output_image_len(), seed ^ 4);
        let (gi, gw, gb) = conv_backward_fast(&go, &x, &wt, &g);
        let (ri, rw, rb) = reference::conv2d_backward(&go, &x, &wt, &g);
        assert_close("grad_input", &gi, &ri);
        assert_close("grad_weight", &gw, &rw);
        assert_close("grad_bias", &gb, &rb);
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col(g in geometry(), seed in any::<u64>()) {
        // <im2col(x), c> == <x, col2im(c)> for every x and c.
        let x = random_vec(g.input_image_len(), seed);
        let c = random_vec(g.col_rows() * g.col_cols(), seed ^ 1);
        let col = reference::im2col(&x, &g);
        let mut back = vec![0.0; x.len()];
        tensor::col2im_add(&mut back, &c, &g).unwrap();
        let lhs: f64 = col.iter().zip(&c).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
        prop_assert!((lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0), "{} vs {}", lhs, rhs);
    }

    #[test]
    fn conv2d_forward_matches_reference(g in geometry(), seed in any::<u64>()) {
        let x = random_vec(g.n() * g.input_image_len(), seed);
        let wt = random_vec(g.weight_len(), seed ^ 2);
        let b = random_vec(g.c_out(), seed ^ 3);
        assert_close("conv2d_forward", &conv_forward_fast(&x, &wt, &b, &g), &reference::conv2d_forward(&x, &wt, &b, &g));
    }

    #[test]
    fn conv2d_backward_matches_reference(g in geometry(), seed in any::<u64>()) {
        let x = random_vec(g.n() * g.input_image_len(), seed);
        let wt = random_vec(g.weight_len(), seed ^ 2);
        let go = random_vec(g.n() * g.output_image_len(), seed ^ 4);
        let (gi, gw, gb) = conv_backward_fast(&go, &x, &wt, &g);
        let (ri, rw, rb) = reference::conv2d_backward(&go, &x, &wt, &g);
        assert_close("grad_input", &gi, &ri);
        assert_close("grad_weight", &gw, &rw);
        assert_close("grad_bias", &gb, &rb);
    }

    #[test]
    fn conv2d_backward_accumulates_parameter_gradients(g in geometry(), seed in any::<u64>()) {
        let x = random_vec(g.n() * g.input_image_len(), seed);
        let wt = random_vec(g.weight_len(), seed ^ 2);
        let go = random_vec(g.n() * g.output_image_len(), seed ^ 4);
        let (_, rw, rb) = reference::conv2d_backward(&go, &x, &wt, &g);
        let mut gw = vec![1.0; wt.len()];
        let mut gb = vec![1.0; g.c_out()];
        tensor::conv2d_backward(None, &mut gw, &mut gb, &go, &x, &wt, &g).unwrap();
        let plus_one = |v: &[f32]| v.iter().map(|x| x + 1.0).collect::<Vec<_>>();
        assert_close("grad_weight", &gw, &plus_one(&rw));
        assert_close("grad_bias", &gb, &plus_one(&rb));
    }

    #[test]
    fn conv2d_is_bit_identical_with_one_thread(g in geometry(), seed in any::<u64>()) {
        let x = random_vec(g.n() * g.input_image_len(), seed);
        let wt = random_vec(g.weight_len(), seed ^ 2);
        let b = random_vec(g.c_out(), seed ^ 3);
        let go = random_vec(g.n() * g.output_image_len(), seed ^ 4);
        let many = (conv_forward_fast(&x, &wt, &b, &g), conv_backward_fast(&go, &x, &wt, &g));
        let one = single_thread(|| (conv_forward_fast(&x, &wt, &b, &g), conv_backward_fast(&go, &x, &wt, &g)));
        prop_assert_eq!(bits(&one.0), bits(&many.0));
        prop_assert_eq!(bits(&one.1 .0), bits(&many.1 .0));
        prop_assert_eq!(bits(&one.1 .1), bits(&many.1 .1));
        prop_assert_eq!(bits(&one.1 .2), bits(&many.1 .2));
    }

    #[test]
    fn maxpool_matches_reference(planes in 0usize..=32, h in 2usize..=12, w in 2usize..=12, seed in any::<u64>()) {
        let x = random_vec(planes * h * w, seed);
        let out_len = planes * (h / 2) * (w / 2);
        let mut out = vec![f32::NAN; out_len];
        let mut am = vec![u32::MAX; out_len];
        tensor::maxpool2x2_forward(&mut out, &mut am, &x, planes, h, w).unwrap();
        let (ro, ra) = reference::maxpool2x2_forward(&x, planes, h, w);
        prop_assert_eq!(bits(&out), bits(&ro));
        prop_assert_eq!(&am, &ra);

        let go = random_vec(out_len, seed ^ 5);
        let mut gi = vec![f32::NAN; x.len()];
        tensor::maxpool2x2_backward(&mut gi, &go, &am, planes, h, w).unwrap();
        prop_assert_eq!(bits(&gi), bits(&reference::maxpool2x2_backward(&go, &ra, planes, h, w)));
    }

    #[test]
    fn relu_matches_reference(len in 0usize..40_000, seed in any::<u64>()) {
        let x = random_vec(len, seed);
        let mut out = vec![f32::NAN; len];
        tensor::relu_forward(&mut out, &x).unwrap();
        prop_assert_eq!(bits(&out), bits(&reference::relu(&x)));
        let go = random_vec(len, seed ^ 6);
        let mut gi = vec![f32::NAN; len];
        tensor::relu_backward(&mut gi, &go, &x).unwrap();
        prop_assert_eq!(bits(&gi), bits(&reference::relu_backward(&go, &x)));
    }

    #[test]
    fn softmax_matches_reference(rows in 0usize..10, cols in 1usize..12, scale in 0.1f32..100.0, seed in any::<u64>()) {
        let x: Vec<f32> = random_vec(rows * cols, seed).iter().map(|v| v * scale).collect();
        let mut out = vec![f32::NAN; rows * cols];
        tensor::softmax_rows_into(&mut out, &x, rows, cols).unwrap();
        assert_close("softmax", &out, &reference::softmax_rows(&x, rows, cols));
        let mut logp = vec![f32::NAN; rows * cols];
        tensor::log_softmax_rows_into(&mut logp, &x, rows, cols).unwrap();
        assert_close("log_softmax", &logp, &reference::log_softmax_rows(&x, rows, cols));
    }
}

#[test]
fn maxpool_floor_drops_odd_edge_and_routes_gradient_to_argmax() {
    // 3x3 plane: the last row and column are dropped; the window max is 5 at index 4.
    let x = [1.0, 2.0, 9.0, 3.0, 5.0, 9.0, 9.0, 9.0, 9.0];
    let (mut out, mut am) = ([0.0], [0u32]);
    tensor::maxpool2x2_forward(&mut out, &mut am, &x, 1, 3, 3).unwrap();
    assert_eq!((out[0], am[0]), (5.0, 4));
    let mut gi = [f32::NAN; 9];
    tensor::maxpool2x2_backward(&mut gi, &[2.0], &am, 1, 3, 3).unwrap();
    assert_eq!(gi, [0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn maxpool_rejects_plane_smaller_than_window() {
    let err = tensor::maxpool2x2_forward(&mut [], &mut [], &[0.0], 1, 1, 1).unwrap_err();
    assert!(
        err.to_string().contains("smaller than the 2x2 window"),
        "{err}"
    );
}

#[test]
fn softmax_is_stable_for_huge_logits() {
    let mut p = [0.0; 3];
    tensor::softmax_rows_into(&mut p, &[1e30, 0.0, -1e30], 1, 3).unwrap();
    assert_eq!(p, [1.0, 0.0, 0.0]);
}
