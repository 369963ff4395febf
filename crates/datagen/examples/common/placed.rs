//! Where a 28x28 digit lands on a rendered page, shared by the `render_pages` and
//! `render_paper` examples so that both put every digit at the same size and place.

use datagen::Dataset;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Side of a page in pixels.
pub const PAGE: u32 = 200;

/// One digit scaled onto the page: page pixel `(px, py)` reads the image at
/// `((px + 0.5 - left) / k - 0.5, (py + 0.5 - top) / k - 0.5)`.
pub struct Placed {
    img: Vec<f32>,
    rows: usize,
    cols: usize,
    k: f32,
    left: f32,
    top: f32,
}

/// Places image `i` of `data`: its ink (pixels > 0) 40 to 180 pixels tall, a box wider than
/// tall capped to fit the page, at a random position. Takes three draws from `rng`; `None`
/// (and no draw) for an image without ink.
pub fn place(data: &Dataset, i: usize, rng: &mut ChaCha8Rng) -> Option<Placed> {
    let (rows, cols) = (data.rows(), data.cols());
    let img = data.image_f32(i);
    let ink: Vec<(usize, usize)> = (0..rows * cols)
        .filter(|&p| img[p] > 0.0)
        .map(|p| (p % cols, p / cols))
        .collect();
    if ink.is_empty() {
        return None;
    }
    let x0 = ink.iter().map(|p| p.0).min().unwrap_or(0) as f32;
    let x1 = ink.iter().map(|p| p.0).max().unwrap_or(0) as f32 + 1.0;
    let y0 = ink.iter().map(|p| p.1).min().unwrap_or(0) as f32;
    let y1 = ink.iter().map(|p| p.1).max().unwrap_or(0) as f32 + 1.0;
    let height: f32 = rng.random_range(40..=180) as f32;
    let k = (height / (y1 - y0)).min(180.0 / (x1 - x0));
    let left = rng.random_range(0.0..=(PAGE as f32 - k * (x1 - x0)).max(0.0)) - k * x0;
    let top = rng.random_range(0.0..=(PAGE as f32 - k * (y1 - y0)).max(0.0)) - k * y0;
    Some(Placed {
        img,
        rows,
        cols,
        k,
        left,
        top,
    })
}

impl Placed {
    /// The ink (0 paper, 1 ink) at page pixel `(px, py)`: bilinear between the image's pixel
    /// centres, so a page looks like a scan of a digit written at that size.
    pub fn ink(&self, px: u32, py: u32) -> f32 {
        let at = |x: isize, y: isize| -> f32 {
            if (0..self.cols as isize).contains(&x) && (0..self.rows as isize).contains(&y) {
                self.img[y as usize * self.cols + x as usize]
            } else {
                0.0
            }
        };
        let u = (px as f32 + 0.5 - self.left) / self.k - 0.5;
        let v = (py as f32 + 0.5 - self.top) / self.k - 0.5;
        let (ux, vy) = (u.floor(), v.floor());
        let (fx, fy) = (u - ux, v - vy);
        let (ux, vy) = (ux as isize, vy as isize);
        let t = at(ux, vy) * (1.0 - fx) + at(ux + 1, vy) * fx;
        let b = at(ux, vy + 1) * (1.0 - fx) + at(ux + 1, vy + 1) * fx;
        t * (1.0 - fy) + b * fy
    }
}
