//! Seeded shuffling.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The visiting order of `n` samples in epoch `epoch` for run seed `seed`: a Fisher-Yates
/// shuffle driven by a ChaCha8 stream keyed by both, so every epoch has its own order and
/// a run can be replayed from its seed alone.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // A separate stream per epoch: independent orders, no dependence on earlier epochs.
    rng.set_stream(epoch.wrapping_add(1));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        // Lemire's multiply-shift: an unbiased-enough index in 0..=i for n < 2^32.
        let j = ((u64::from(rng.next_u32()) * (i as u64 + 1)) >> 32) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_order_is_a_seeded_permutation() {
        let a = epoch_order(1000, 3, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(1000, 3, 0));
        assert_ne!(a, epoch_order(1000, 3, 1));
        assert_ne!(a, epoch_order(1000, 4, 0));
    }
}
