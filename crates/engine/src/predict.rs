//! Classifying batches of byte images with whichever implementation fits the model.

use nn::{FusedSeed, Images, Sequential};

use crate::exec::ExecPath;
use tensor::Tensor;

use crate::error::{Error, Result};

/// Logits for batches of `u8` images (`p / 255` in [0, 1]) from a model: through
/// [`FusedSeed`] when the model has the seed pattern (the fast path), through its layers
/// otherwise. Buffers are reused between calls.
#[derive(Debug)]
pub struct Predictor<'m> {
    model: &'m Sequential,
    fused: Option<FusedSeed>,
    rows: usize,
    cols: usize,
    classes: usize,
    pixels: Vec<f32>,
}

impl<'m> Predictor<'m> {
    /// A predictor for `rows x cols` gray images and `classes` outputs.
    ///
    /// # Errors
    /// [`Error::Nn`] when the fused path cannot take the model's parameters.
    pub fn new(model: &'m Sequential, rows: usize, cols: usize, classes: usize) -> Result<Self> {
        Self::with_path(model, rows, cols, classes, ExecPath::Auto)
    }

    /// A predictor that runs `model` the way `exec` says.
    ///
    /// # Errors
    /// As [`Predictor::new`], and [`ExecPath::Fused`] for a network without the seed pattern.
    pub fn with_path(
        model: &'m Sequential,
        rows: usize,
        cols: usize,
        classes: usize,
        exec: ExecPath,
    ) -> Result<Self> {
        let fused = match exec.fused_for(model, rows, cols)? {
            Some(mut f) if f.input_and_classes().1 == classes => {
                f.load_params(model)?;
                Some(f)
            }
            _ => None,
        };
        Ok(Self {
            model,
            fused,
            rows,
            cols,
            classes,
            pixels: Vec::new(),
        })
    }

    /// `true` when the fused seed-network path is in use.
    pub fn is_fused(&self) -> bool {
        self.fused.is_some()
    }

    /// Writes the logits `[n, classes]` of the `n` images in `images` (back to back) into
    /// `logits`, resizing it.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `images` is not a whole number of images or the model's output
    /// is not `[n, classes]`; layer errors.
    pub fn logits_into(&mut self, logits: &mut Vec<f32>, images: &[u8]) -> Result<()> {
        let len = self.rows * self.cols;
        if len == 0 || !images.len().is_multiple_of(len) {
            return Err(Error::Invalid(format!(
                "{} bytes are not whole {}x{} images",
                images.len(),
                self.rows,
                self.cols
            )));
        }
        let n = images.len() / len;
        logits.resize(n * self.classes, 0.0);
        if let Some(f) = self.fused.as_mut() {
            f.infer_into(logits, Images::Bytes(images))?;
            return Ok(());
        }
        self.pixels.clear();
        self.pixels
            .extend(images.iter().map(|&p| datagen::to_unit(p)));
        let x = Tensor::from_vec(vec![n, 1, self.rows, self.cols], self.pixels.clone())?;
        let y = self.model.infer(&x)?;
        if y.shape() != [n, self.classes] {
            return Err(Error::Invalid(format!(
                "the model gives {:?} outputs for {n} images, expected {} classes",
                y.shape(),
                self.classes
            )));
        }
        logits.copy_from_slice(y.data());
        Ok(())
    }
}
