//! One file per layer kind.

pub mod conv2d;
pub mod dense;
pub mod dropout;
pub mod flatten;
pub mod maxpool;
pub mod relu;

/// Stores a copy of `x` in a backward cache, reusing the cached buffer when the shape is
/// unchanged (the usual case from one step to the next) instead of allocating a new one.
pub(crate) fn cache_copy(slot: &mut Option<tensor::Tensor>, x: &tensor::Tensor) {
    match slot {
        Some(cached) if cached.shape() == x.shape() => {
            cached.data_mut().copy_from_slice(x.data());
        }
        _ => *slot = Some(x.clone()),
    }
}
