//! Helpers the inference convolutions' tests share: random values, bit patterns, the im2col
//! chain and the padded channels-last copy the convolutions read.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::Conv2dGeometry;

pub fn random_vec(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|_| tensor::unit_f32(rng.next_u32()) * 2.0 - 1.0)
        .collect()
}

pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `[c, h, w]` (channels first) of the im2col chain for one image.
pub fn chain(
    image: &[f32],
    weight: &[f32],
    bias: &[f32],
    [c_in, h, w]: [usize; 3],
    k: usize,
    pad: usize,
    pool: bool,
) -> (Vec<f32>, [usize; 3]) {
    let g = Conv2dGeometry::new([1, c_in, h, w], bias.len(), [k, k], 1, pad).unwrap();
    let mut conv = vec![f32::NAN; g.output_image_len()];
    tensor::conv2d_forward(&mut conv, image, weight, bias, &g).unwrap();
    let mut relu = vec![f32::NAN; conv.len()];
    tensor::relu_forward(&mut relu, &conv).unwrap();
    let (c, ho, wo) = (bias.len(), g.h_out(), g.w_out());
    if !pool {
        return (relu, [c, ho, wo]);
    }
    let mut out = vec![f32::NAN; c * (ho / 2) * (wo / 2)];
    let mut arg = vec![0u32; out.len()];
    tensor::maxpool2x2_forward(&mut out, &mut arg, &relu, c, ho, wo).unwrap();
    (out, [c, ho / 2, wo / 2])
}

/// The image `[c, h, w]` padded and channels last.
pub fn padded_hwc(image: &[f32], [c, h, w]: [usize; 3], pad: usize) -> Vec<f32> {
    let wp = w + 2 * pad;
    let mut out = vec![0.0; (h + 2 * pad) * wp * c];
    for ci in 0..c {
        for y in 0..h {
            for x in 0..w {
                out[((y + pad) * wp + x + pad) * c + ci] = image[(ci * h + y) * w + x];
            }
        }
    }
    out
}
