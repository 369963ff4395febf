//! The synthetic digit generator: determinism, labels, value ranges, MNIST framing, allograph
//! coverage, thread-count independence and a golden picture of a few fixed samples.

use datagen::{
    allographs, generate, label_of, sample, sample_allograph_into, sample_into, to_byte, Style,
    IMAGE_LEN, IMAGE_SIDE,
};
use proptest::prelude::*;

/// "Ink" for the framing checks: a pixel brighter than 0.05. The boxes are checked at 0 as well:
/// the renderer's coverage reaches exactly 0 at the pen's outer edge, so even the faintest ink
/// stays inside the 20x20 box.
const INK: f32 = 0.05;

/// Where MNIST puts the centre of mass, with pixel centres at 0..=27 (measured on real MNIST:
/// every digit's intensity-weighted mean coordinate lies in [13.5, 14.5]).
const CENTRE: f32 = 14.0;

fn ascii(img: &[f32]) -> String {
    img.chunks(IMAGE_SIDE)
        .map(|row| {
            row.iter()
                .map(|&v| match v {
                    v if v >= 0.7 => '#',
                    v if v >= 0.4 => '*',
                    v if v >= 0.1 => '+',
                    _ => '.',
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn centre_of_mass(img: &[f32]) -> (f32, f32) {
    let (mut m, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (i, &v) in img.iter().enumerate() {
        m += v;
        mx += v * (i % IMAGE_SIDE) as f32;
        my += v * (i / IMAGE_SIDE) as f32;
    }
    (mx / m, my / m)
}

/// `(width, height)` of the box around pixels brighter than `threshold`.
fn ink_box(img: &[f32], threshold: f32) -> (usize, usize) {
    let (mut x0, mut x1, mut y0, mut y1) = (IMAGE_SIDE, 0, IMAGE_SIDE, 0);
    for (i, _) in img.iter().enumerate().filter(|(_, &v)| v > threshold) {
        let (x, y) = (i % IMAGE_SIDE, i / IMAGE_SIDE);
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    (x1 + 1 - x0, y1 + 1 - y0)
}

#[test]
fn same_seed_and_index_give_the_same_bits() {
    for style in Style::ALL {
        for index in [0, 1, 9, 12_345, u64::MAX] {
            let (a, la) = sample(style, 77, index);
            let (b, lb) = sample(style, 77, index);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!((bits(&a), la), (bits(&b), lb), "{style} {index}");
        }
    }
}

#[test]
fn different_index_or_seed_gives_a_different_image() {
    for style in Style::ALL {
        let base = sample(style, 5, 40).0;
        assert_ne!(
            base,
            sample(style, 5, 50).0,
            "{style}: next index, same label"
        );
        assert_ne!(base, sample(style, 6, 40).0, "{style}: other seed");
    }
}

#[test]
fn label_is_index_mod_ten_and_any_10k_range_is_balanced() {
    assert_eq!(
        (0..12).map(label_of).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    );
    assert_eq!(label_of(u64::MAX), 5);
    for start in [0, 3, 123_457, u64::MAX - 20_000] {
        let mut counts = [0usize; 10];
        for i in 0..10_000 {
            counts[usize::from(label_of(start + i))] += 1;
        }
        assert_eq!(counts, [1000; 10], "start {start}");
    }
    // `generate` labels follow the same rule.
    let set = generate(Style::Segments, 1, 7, 10_000);
    assert_eq!(set.class_counts(10), vec![1000; 10]);
    assert_eq!(set.label(0), 7);
}

#[test]
fn every_image_is_finite_in_the_unit_range_and_reaches_one() {
    let mut img = vec![0.0; IMAGE_LEN];
    for style in Style::ALL {
        for index in 0..300 {
            let label = sample_into(style, 3, index, &mut img);
            assert_eq!(label, label_of(index));
            assert!(img.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
            let max = img.iter().fold(0.0f32, |a, &b| a.max(b));
            assert!((max - 1.0).abs() < 1e-6, "{style} {index}: max {max}");
        }
    }
}

#[test]
fn strokes_are_framed_like_mnist() {
    let mut img = vec![0.0; IMAGE_LEN];
    for index in 0..2000 {
        sample_into(Style::Strokes, 11, index, &mut img);
        // Centre of mass: within half a pixel of MNIST's centre (the shift is by whole pixels).
        let (cx, cy) = centre_of_mass(&img);
        assert!(
            (cx - CENTRE).abs() <= 0.5 + 1e-3 && (cy - CENTRE).abs() <= 0.5 + 1e-3,
            "{index}: centre of mass ({cx}, {cy})"
        );
        // The ink fits a 20x20 box and fills it on its long side, as in every real MNIST digit.
        for threshold in [0.0, INK] {
            let (w, h) = ink_box(&img, threshold);
            assert!(
                w <= 20 && h <= 20 && w.max(h) == 20,
                "{index}: box of ink > {threshold}: {w}x{h}"
            );
        }
        // The background is exactly 0: every 3x3 corner block is empty (as in real MNIST).
        for (x0, y0) in [(0, 0), (25, 0), (0, 25), (25, 25)] {
            for y in y0..y0 + 3 {
                for x in x0..x0 + 3 {
                    assert_eq!(img[y * IMAGE_SIDE + x], 0.0, "{index}: pixel ({x}, {y})");
                }
            }
        }
    }
}

#[test]
fn a_one_is_fitted_by_its_height_and_stays_narrow() {
    // Real MNIST 1s are 20 pixels tall and on average about 10 wide; only a bold 1 leaning
    // hard comes out as wide as it is tall.
    let mut img = vec![0.0; IMAGE_LEN];
    let (mut widths, mut tall) = (0, 0);
    for k in 0..200 {
        sample_into(Style::Strokes, 2, 10 * k + 1, &mut img);
        let (w, h) = ink_box(&img, INK);
        widths += w;
        tall += usize::from(h >= 19 && w < h);
    }
    let mean = widths as f32 / 200.0;
    assert!((7.0..12.0).contains(&mean), "mean width of a one {mean}");
    assert!(tall >= 196, "{tall} of 200 ones are taller than wide");
}

/// Width of the ink (pixels brighter than [`INK`]) in the top five rows of the ink box.
fn top_width(img: &[f32]) -> usize {
    let row_has_ink = |y: usize| {
        img[y * IMAGE_SIDE..(y + 1) * IMAGE_SIDE]
            .iter()
            .any(|&v| v > INK)
    };
    let Some(y0) = (0..IMAGE_SIDE).find(|&y| row_has_ink(y)) else {
        return 0;
    };
    let xs: Vec<usize> = (y0..(y0 + 5).min(IMAGE_SIDE))
        .flat_map(|y| (0..IMAGE_SIDE).filter(move |&x| img[y * IMAGE_SIDE + x] > INK))
        .collect();
    xs.iter()
        .max()
        .map_or(0, |&hi| hi + 1 - xs.iter().min().unwrap())
}

#[test]
fn a_flagged_one_keeps_a_short_flag_and_a_seven_a_long_bar() {
    // A 1's flag is drawn after undoing the hand's slant, so it never stretches into a 7's
    // bar: the two were the generator's most frequent confusion.
    let mut img = vec![0.0; IMAGE_LEN];
    let (mut ones, mut sevens) = (Vec::new(), Vec::new());
    for k in 0..200u64 {
        sample_allograph_into(3, 10 * k + 1, 1, 1 + (k % 2) as usize, &mut img);
        ones.push(top_width(&img));
        sample_allograph_into(3, 10 * k + 7, 7, (k % 5) as usize, &mut img);
        sevens.push(top_width(&img));
    }
    let max_one = *ones.iter().max().unwrap();
    assert!(
        max_one <= 12,
        "a flagged 1 is {max_one} pixels wide at the top"
    );
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f32 / v.len() as f32;
    let (one, seven) = (mean(&ones), mean(&sevens));
    assert!(seven > 2.0 * one, "top widths: 1s {one}, 7s {seven}");
}

#[test]
fn segments_have_a_faint_noisy_background() {
    let (img, _) = sample(Style::Segments, 1, 8);
    let faint = img.iter().filter(|&&v| v > 0.0 && v < 0.15).count();
    let bright = img.iter().filter(|&&v| v > 0.7).count();
    assert!(faint > 300, "{faint} faint pixels");
    assert!(bright > 20, "{bright} bright pixels");
}

#[test]
fn every_allograph_of_every_digit_is_drawn() {
    // `sample_allograph_into` draws the same random stream as `sample_into`, so the allograph
    // a sample used is the one that reproduces it bit for bit.
    let mut seen: Vec<Vec<bool>> = (0..10).map(|d| vec![false; allographs(d)]).collect();
    let mut img = vec![0.0; IMAGE_LEN];
    let mut forced = vec![0.0; IMAGE_LEN];
    // 1,500 samples: 150 per digit, so an allograph drawn 1 time in 20 is missed with odds of
    // about 1 in 2,000.
    for index in 0..1500 {
        let label = sample_into(Style::Strokes, 4, index, &mut img);
        let hits: Vec<usize> = (0..allographs(label))
            .filter(|&a| {
                sample_allograph_into(4, index, label, a, &mut forced);
                forced == img
            })
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "index {index}: matched by allographs {hits:?}"
        );
        seen[usize::from(label)][hits[0]] = true;
    }
    for (digit, forms) in seen.iter().enumerate() {
        assert!(
            forms.iter().all(|&s| s),
            "digit {digit}: allographs drawn {forms:?}"
        );
    }
}

#[test]
fn allographs_of_a_digit_look_different() {
    let mut a = vec![0.0; IMAGE_LEN];
    let mut b = vec![0.0; IMAGE_LEN];
    for label in 0..10u8 {
        for form in 1..allographs(label) {
            sample_allograph_into(8, 3, label, 0, &mut a);
            sample_allograph_into(8, 3, label, form, &mut b);
            let diff: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
            assert!(
                diff > 5.0,
                "digit {label}: allographs 0 and {form} differ by {diff}"
            );
        }
    }
}

#[test]
fn out_of_range_label_and_allograph_wrap_instead_of_panicking() {
    let mut a = vec![0.0; IMAGE_LEN];
    let mut b = vec![0.0; IMAGE_LEN];
    sample_allograph_into(1, 2, 13, 7, &mut a);
    sample_allograph_into(1, 2, 3, 7 % allographs(3), &mut b);
    assert_eq!(a, b);
}

#[test]
#[should_panic(expected = "28x28")]
fn sample_into_rejects_a_wrong_buffer() {
    sample_into(Style::Strokes, 1, 1, &mut [0.0; 10]);
}

#[test]
fn generate_matches_sample_and_ignores_the_thread_count() {
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| generate(Style::Strokes, 21, 1000, 3000))
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one, three);
    assert_eq!((one.len(), one.rows(), one.cols()), (3000, 28, 28));
    for i in [0, 1, 1234, 2999] {
        let (img, label) = sample(Style::Strokes, 21, 1000 + i as u64);
        let bytes: Vec<u8> = img.iter().map(|&v| to_byte(v)).collect();
        assert_eq!((one.image(i), one.label(i)), (&bytes[..], label));
    }
    assert!(generate(Style::Segments, 1, 0, 0).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_seed_and_index_give_a_valid_repeatable_image(seed: u64, index: u64) {
        for style in Style::ALL {
            let (a, label) = sample(style, seed, index);
            prop_assert_eq!(label, label_of(index));
            prop_assert!(a.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
            prop_assert_eq!(&a, &sample(style, seed, index).0);
        }
    }
}

#[test]
fn golden_strokes() {
    // A looped 2, a 5 written in one stroke and an S-stroke 8: look at them when they change,
    // they must read clearly as their digits.
    let expected = [
        // sample(Strokes, 2024, 2)
        r"
............................
............................
............................
............................
..................+**+......
................+*###*......
..............+*#####*......
.........++**########*......
........*###########*.......
........*#######*###+.......
........*####**+###*........
........+***###+###*........
.........*#########+........
........*##########+........
.......*#####*####*.........
......+####*++####*.........
......*###*..+#####*+.......
......####+..+#######+......
......###*...*########*+....
......####+.+###*+*####*....
......*###***###+.+*###*....
......+########*....++*+....
.......+######*+............
........+****+..............
............................
............................
............................
............................",
        // sample(Strokes, 2024, 15)
        r"
............................
............................
............................
............................
..........+*+...............
.........+###*++............
.........+#####**++.........
.........+#########****+....
.........+##*+*########*....
.........*##+..+**#####*....
.........*##+.....++++++....
.........*##+...............
.........*##+...............
.........*##**+.............
.........*#####*+...........
.........+***####*+.........
....+++......+*###*+........
....*#*+.......+*###+.......
....*##*+........*##*+......
.....*###*++++....*##*......
.....+*#######***++##*......
.......+*############*......
.........++****######+......
...............++**++.......
............................
............................
............................
............................",
        // sample(Strokes, 2024, 38)
        r"
............................
............................
............................
............................
............................
............................
............+**####*+.......
..........+##########*......
.........+###**+++*###+.....
..........###*.....###*.....
..........+###*.+*#####.....
............*########*+.....
.........+*#######*+........
.......*######*####*+.......
.....*#####*+...*####+......
...+####*+........*###+.....
...###+............+##+.....
...##..............+##*.....
...##+............+###+.....
...*##+.........+####+......
....*##*+.....+#####+.......
.....*###*++*#####*.........
......+#########*...........
........+*###*+.............
............................
............................
............................
............................",
    ];
    for (index, want) in [2u64, 15, 38].into_iter().zip(expected) {
        let (img, _) = sample(Style::Strokes, 2024, index);
        assert_eq!(
            ascii(&img),
            want.trim_start(),
            "sample {index}:\n{}",
            ascii(&img)
        );
    }
}

#[test]
fn golden_segments() {
    let expected = r"
............................
............................
............................
.......+++..................
.......+**+...+++...........
......+*#*+...+**+..........
......+*#*+...*#*+..........
......+*#*+...*#*+..........
......+*#*+...+##+..........
......+*#*+...+##+..........
......+*#*+...+##+..........
......+*#*....+##+..........
......+##*++++*##+..........
......+#####**###+..........
......+*#########+..........
.......++++++**##+..........
.............++##+..........
..............+##+..........
..............+##+..........
..............+*#*..........
..............+*#*+.........
..............+*#*+.........
..............+***+.........
...............+++..........
............................
............................
............................
............................";
    let (img, _) = sample(Style::Segments, 2024, 4);
    assert_eq!(ascii(&img), expected.trim_start(), "\n{}", ascii(&img));
}
