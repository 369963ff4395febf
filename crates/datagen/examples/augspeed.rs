//! CPU time of `Augment::apply_bytes` per image, on the images of an IDX directory (its
//! test pair: real images, whose blank regions matter) or on a synthetic 28x28 image: a
//! fixed number of calls on one thread, so `perf stat` or `time` over the whole run gives
//! a figure that machine load disturbs less than wall time. Prints the least and the
//! median wall time per image over ten passes of the loop.
//!
//! ```text
//! cargo run --release -p datagen --example augspeed -- [basic|elastic] [CALLS] [IDX-DIR]
//! ```

use datagen::{idx, Augment};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "basic".into());
    let aug = match kind.as_str() {
        "basic" => Augment::default(),
        "elastic" => Augment::with_elastic(),
        other => {
            eprintln!("augspeed: unknown kind {other:?} (basic or elastic)");
            std::process::exit(2)
        }
    };
    let calls: usize = match args.next().map(|c| c.parse()) {
        None => 100_000,
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            eprintln!("augspeed: calls: {e}");
            std::process::exit(2)
        }
    };
    let (pixels, rows, cols, source) = match args.next() {
        Some(dir) => match idx::load_split(&dir, idx::Split::Test) {
            Ok(set) => {
                let (rows, cols) = (set.rows(), set.cols());
                let pixels: Vec<u8> = (0..set.len()).flat_map(|i| set.image(i).to_vec()).collect();
                (pixels, rows, cols, format!("the test images of {dir}"))
            }
            Err(e) => {
                eprintln!("augspeed: {dir}: {e}");
                std::process::exit(1)
            }
        },
        None => (
            (0..784u32).map(|i| (i * 97 % 256) as u8).collect(),
            28,
            28,
            "a synthetic 28x28 image".into(),
        ),
    };
    let len = rows * cols;
    let count = pixels.len() / len;
    let mut out = vec![0.0f32; len];
    let mut sum = 0.0f32;
    // Ten passes of calls / 10 images: the least is the figure least disturbed by load.
    let pass = (calls / 10).max(1);
    let mut times: Vec<f64> = (0..10)
        .map(|r| {
            let t = Instant::now();
            for i in r * pass..(r + 1) * pass {
                let image = &pixels[(i % count) * len..][..len];
                aug.apply_bytes(&mut out, black_box(image), rows, cols, 7, i as u64);
                sum += out[len / 2];
            }
            t.elapsed().as_secs_f64() / pass as f64 * 1e6
        })
        .collect();
    black_box(sum);
    times.sort_by(f64::total_cmp);
    println!(
        "{kind}: 10 x {pass} calls on {source}: least {:.3} us an image, median {:.3} \
         (wall of the loop)",
        times[0],
        (times[4] + times[5]) / 2.0
    );
}
