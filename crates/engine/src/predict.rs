//! Classifying batches of byte images with whichever implementation fits the model.

use nn::{DirectNet, FusedSeed, Images, Sequential};

use crate::exec::ExecPath;
use tensor::Tensor;

use crate::error::{Error, Result};

/// Logits for batches of `u8` images (`p / 255` in [0, 1]) from a model: through
/// [`FusedSeed`] when the model has the seed pattern (the fast path), through
/// [`DirectNet`] for the other convolutional networks it takes (without the layers' column
/// matrices; its Winograd convolutions give the layers' logits within rounding, the others
/// the same bits), through its layers otherwise. Buffers are reused between
/// calls.
#[derive(Debug)]
pub struct Predictor<'m> {
    model: &'m Sequential,
    fused: Option<FusedSeed>,
    direct: Option<DirectNet>,
    rows: usize,
    cols: usize,
    classes: usize,
    pixels: Vec<f32>,
    /// Most images run through the layers at once (bounds the activations' memory).
    chunk: usize,
}

/// Activation values the layer-by-layer path holds for one chunk of images, at most: 4M
/// floats (16 MB) per layer output, so that evaluating a LeNet-style network on 1,000
/// images at once does not hold 100 MB of first-layer maps.
const CHUNK_VALUES: usize = 4 << 20;

/// Images per chunk for `model`: [`CHUNK_VALUES`] over its largest per-image layer output.
fn chunk_for(model: &Sequential) -> usize {
    let widest = model
        .spec()
        .and_then(|s| s.shapes().ok())
        .and_then(|shapes| shapes.iter().map(|s| s.iter().product::<usize>()).max())
        .unwrap_or(1 << 14);
    (CHUNK_VALUES / widest.max(1)).max(1)
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
        let direct = match (&fused, exec) {
            (None, ExecPath::Auto) => DirectNet::new(model)
                .filter(|d| d.input() == (rows, cols) && d.classes() == classes),
            _ => None,
        };
        Ok(Self {
            model,
            fused,
            direct,
            rows,
            cols,
            classes,
            pixels: Vec::new(),
            chunk: chunk_for(model),
        })
    }

    /// `true` when the fused seed-network path is in use.
    pub fn is_fused(&self) -> bool {
        self.fused.is_some()
    }

    /// Which implementation runs: `fused seed-network`, `direct convolution` or
    /// `layer-by-layer`.
    pub fn path_name(&self) -> &'static str {
        match (&self.fused, &self.direct) {
            (Some(_), _) => "fused seed-network",
            (None, Some(d)) if d.uses_winograd() => "direct and Winograd convolution",
            (None, Some(_)) => "direct convolution",
            (None, None) => "layer-by-layer",
        }
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
        if let Some(d) = &self.direct {
            d.infer_into(logits, images)?;
            return Ok(());
        }
        // Chunk by chunk: every image's logits are the same whatever the chunk (each is
        // computed on its own), and the activations stay small.
        for (part, out) in images
            .chunks(self.chunk * len)
            .zip(logits.chunks_mut(self.chunk * self.classes))
        {
            let m = part.len() / len;
            self.pixels.clear();
            self.pixels
                .extend(part.iter().map(|&p| datagen::to_unit(p)));
            let x = Tensor::from_vec(vec![m, 1, self.rows, self.cols], self.pixels.clone())?;
            let y = self.model.infer(&x)?;
            if y.shape() != [m, self.classes] {
                return Err(Error::Invalid(format!(
                    "the model gives {:?} outputs for {m} images, expected {} classes",
                    y.shape(),
                    self.classes
                )));
            }
            out.copy_from_slice(y.data());
        }
        Ok(())
    }
}
