//! Tests of the whole pipeline, step by step, on pages drawn from the generator's digits.

use super::*;
use crate::frame::centre_of_mass;
use crate::{sample, Style};
use proptest::prelude::*;

/// Digit `index` of the test stream, 28x28 with ink 1 on 0.
fn digit(index: u64) -> Vec<f32> {
    sample(Style::Strokes, 7, index).0
}

/// `img` (28x28) scaled to `side x side` by bilinear interpolation.
fn upscale(img: &[f32], side: usize) -> Vec<f32> {
    let k = IMAGE_SIDE as f32 / side as f32;
    let at = |x: isize, y: isize| {
        let (x, y) = (x.clamp(0, 27) as usize, y.clamp(0, 27) as usize);
        img[y * IMAGE_SIDE + x]
    };
    let mut out = vec![0.0; side * side];
    for y in 0..side {
        let v = (y as f32 + 0.5) * k - 0.5;
        let (y0, fy) = (v.floor() as isize, v - v.floor());
        for x in 0..side {
            let u = (x as f32 + 0.5) * k - 0.5;
            let (x0, fx) = (u.floor() as isize, u - u.floor());
            let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
            let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
            out[y * side + x] = top * (1.0 - fy) + bottom * fy;
        }
    }
    out
}

/// A `w x h` page of paper level `paper` with `ink` (bright on 0, `side x side`) pasted at
/// `(x, y)` in ink colour `pen`.
fn page_with(
    ink: &[f32],
    side: usize,
    w: usize,
    h: usize,
    at: (usize, usize),
    paper: f32,
    pen: f32,
) -> Vec<f32> {
    let mut page = vec![paper; w * h];
    for y in 0..side {
        for x in 0..side {
            let v = ink[y * side + x];
            page[(at.1 + y) * w + at.0 + x] = paper + (pen - paper) * v;
        }
    }
    page
}

fn run(data: &[f32], w: usize, h: usize) -> Prepared {
    prepare(
        &Page::new(w, h, Channels::Gray, data).unwrap(),
        &Options::default(),
    )
}

/// Mean absolute difference of two 28x28 images, at the best whole-pixel shift of `a` by at
/// most one pixel each way: whole-pixel centring can land either side of a half pixel.
fn distance(a: &[f32], b: &[f32]) -> f32 {
    let side = IMAGE_SIDE as isize;
    let at = |x: isize, y: isize| {
        if (0..side).contains(&x) && (0..side).contains(&y) {
            a[(y * side + x) as usize]
        } else {
            0.0
        }
    };
    let mut best = f32::INFINITY;
    for (dx, dy) in (-1..=1).flat_map(|dx| (-1..=1).map(move |dy| (dx, dy))) {
        let d: f32 = (0..IMAGE_LEN as isize)
            .map(|i| (at(i % side + dx, i / side + dy) - b[i as usize]).abs())
            .sum();
        best = best.min(d / IMAGE_LEN as f32);
    }
    best
}

#[test]
fn polarity_dark_on_light_and_light_on_dark_give_the_same_image() {
    let big = upscale(&digit(3), 200);
    let dark = run(&page_with(&big, 200, 200, 200, (0, 0), 0.92, 0.1), 200, 200);
    let light = run(&page_with(&big, 200, 200, 200, (0, 0), 0.02, 0.9), 200, 200);
    assert!(dark.diagnostics.inverted);
    assert!(!light.diagnostics.inverted);
    assert_eq!(dark.diagnostics.concern, None);
    assert!(distance(&dark.pixels, &light.pixels) < 0.01);
}

#[test]
fn a_digit_scaled_up_comes_back_close_to_the_original() {
    // Upscaled 28 -> 200 by bilinear interpolation and back: the generator's framing is
    // MNIST's, so the pipeline should land on nearly the same pixels. The two blurs cost
    // most where ink is dense: the 2 here, looped with its loop filling the bowl, comes back
    // 0.052 apart (the other digits 0.007-0.034).
    for index in 0..10 {
        let original = digit(index);
        let big = upscale(&original, 200);
        let back = run(&page_with(&big, 200, 200, 200, (0, 0), 1.0, 0.0), 200, 200);
        let d = distance(&back.pixels, &original);
        assert!(d < 0.06, "digit {index}: mean difference {d}");
    }
}

#[test]
fn crop_finds_a_digit_in_the_corner_of_a_large_noisy_page_with_a_gradient() {
    let original = digit(4);
    let big = upscale(&original, 120);
    let (w, h) = (640, 480);
    let mut page = page_with(&big, 120, w, h, (12, 340), 0.85, 0.15);
    // A gradient from left to right and bottom to top, and noise of deviation 0.02.
    let mut s = 12345u32;
    for (i, v) in page.iter_mut().enumerate() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let noise = (s % 1000) as f32 / 1000.0 - 0.5;
        *v += 0.1 * (i % w) as f32 / w as f32 - 0.05 * (i / w) as f32 / h as f32 + 0.07 * noise;
    }
    let out = run(&page, w, h);
    let d = &out.diagnostics;
    assert_eq!(d.concern, None, "{d:?}");
    let b = d.ink_box.unwrap();
    assert!(
        b.x >= 12 && b.y >= 340 && b.x + b.width <= 132 && b.y + b.height <= 460,
        "{b:?}"
    );
    let clean = run(
        &page_with(&big, 120, 120, 120, (0, 0), 0.85, 0.15),
        120,
        120,
    );
    assert!(distance(&out.pixels, &clean.pixels) < 0.02);
}

#[test]
fn crop_ignores_isolated_specks() {
    let big = upscale(&digit(1), 100);
    let mut page = page_with(&big, 100, 300, 300, (100, 100), 1.0, 0.0);
    for &(x, y) in &[(5, 5), (290, 20), (20, 280), (250, 250)] {
        page[y * 300 + x] = 0.0;
        page[y * 300 + x + 1] = 0.0;
    }
    let with = run(&page, 300, 300);
    let without = run(
        &page_with(&big, 100, 300, 300, (100, 100), 1.0, 0.0),
        300,
        300,
    );
    assert_eq!(with.diagnostics.specks, 4);
    assert_eq!(with.diagnostics.ink_box, without.diagnostics.ink_box);
    assert!(distance(&with.pixels, &without.pixels) < 0.005);
}

#[test]
fn centring_puts_the_centre_of_mass_within_half_a_pixel_of_14() {
    for index in 0..20 {
        let big = upscale(&digit(index), 90);
        let x = 10 + (index as usize * 37) % 200;
        let y = 10 + (index as usize * 53) % 150;
        let out = run(&page_with(&big, 90, 300, 250, (x, y), 0.9, 0.1), 300, 250);
        let (cx, cy) = centre_of_mass(&out.pixels);
        assert!(
            (cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5,
            "digit {index}: ({cx}, {cy})"
        );
        let peak = out.pixels.iter().copied().fold(0.0, f32::max);
        assert_eq!(peak, 1.0);
    }
}

#[test]
fn long_side_of_the_ink_becomes_20_pixels() {
    // A 30 x 120 dark bar: 120 rows become 20, 30 columns become 5.
    let (w, h) = (200, 200);
    let page: Vec<f32> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            if (50..80).contains(&x) && (40..160).contains(&y) {
                0.0
            } else {
                1.0
            }
        })
        .collect();
    let out = run(&page, w, h);
    let rows = out
        .pixels
        .chunks(IMAGE_SIDE)
        .filter(|r| r.iter().any(|&v| v > 0.0))
        .count();
    let cols = (0..IMAGE_SIDE)
        .filter(|&x| (0..IMAGE_SIDE).any(|y| out.pixels[y * IMAGE_SIDE + x] > 0.0))
        .count();
    assert_eq!((rows, cols), (20, 5));
    assert!((out.diagnostics.aspect - 0.25).abs() < 1e-6);
}

#[test]
fn a_thin_pen_on_a_large_page_is_thickened() {
    // A one-pixel ring ("zero") 300 pixels tall: at 20/300 it would be a faint hairline.
    let (w, h) = (400, 400);
    let mut page = vec![1.0f32; w * h];
    for t in 0..4000 {
        let a = t as f32 / 4000.0 * std::f32::consts::TAU;
        let (x, y) = (200.0 + 100.0 * a.cos(), 200.0 + 150.0 * a.sin());
        page[y as usize * w + x as usize] = 0.0;
    }
    let out = run(&page, w, h);
    let d = &out.diagnostics;
    assert!(d.stroke < 0.2 && d.thickened > 5, "{d:?}");
    assert_eq!(d.concern, None);
    // The ring's top stroke is now solid ink a couple of pixels thick.
    let column: Vec<f32> = (0..IMAGE_SIDE)
        .map(|y| out.pixels[y * IMAGE_SIDE + 14])
        .collect();
    assert!(
        column.iter().filter(|&&v| v > 0.5).count() >= 3,
        "{column:?}"
    );
}

#[test]
fn a_blank_page_and_a_noisy_blank_page_are_blank() {
    let (w, h) = (120, 90);
    let mut s = 99u32;
    let noisy: Vec<f32> = (0..w * h)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            0.8 + 0.1 * ((s % 1000) as f32 / 1000.0 - 0.5)
        })
        .collect();
    for page in [vec![1.0; w * h], vec![0.0; w * h], noisy] {
        let out = run(&page, w, h);
        assert_eq!(out.diagnostics.concern, Some(Concern::Blank));
        assert!(out.pixels.iter().all(|&v| v == 0.0));
    }
}

#[test]
fn a_solid_block_two_digits_and_a_long_line_are_no_digit() {
    let (w, h) = (200, 100);
    let draw = |f: &dyn Fn(usize, usize) -> bool| -> Vec<f32> {
        (0..w * h)
            .map(|i| if f(i % w, i / w) { 0.0 } else { 1.0 })
            .collect()
    };
    let block = draw(&|x, y| (60..130).contains(&x) && (20..80).contains(&y));
    assert_eq!(
        run(&block, w, h).diagnostics.concern,
        Some(Concern::SolidBlock)
    );
    let line = draw(&|x, y| (20..180).contains(&x) && (48..53).contains(&y));
    assert_eq!(run(&line, w, h).diagnostics.concern, Some(Concern::TooWide));

    let one = upscale(&digit(1), 80);
    let seven = upscale(&digit(7), 80);
    let mut two = page_with(&one, 80, w, h, (10, 10), 1.0, 0.0);
    for y in 0..80 {
        for x in 0..80 {
            two[(10 + y) * w + 100 + x] -= seven[y * 80 + x];
        }
    }
    let d = run(&two, w, h).diagnostics;
    assert_eq!(d.concern, Some(Concern::SideBySide), "{d:?}");
    assert_eq!(d.components, 2);
}

#[test]
fn page_new_rejects_bad_sizes_and_values() {
    assert_eq!(
        Page::new(0, 5, Channels::Gray, &[]).unwrap_err(),
        Error::Empty {
            width: 0,
            height: 5
        }
    );
    let err = Page::new(2, 2, Channels::Rgb, &[0.0; 4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "preprocess: a 2x2 page of 3 channels needs 12 values, got 4"
    );
    assert_eq!(
        Page::new(1, 2, Channels::Gray, &[0.0, f32::NAN]).unwrap_err(),
        Error::NonFinite { index: 1 }
    );
    assert!(matches!(
        Page::new(usize::MAX, 2, Channels::Rgba, &[]).unwrap_err(),
        Error::Length {
            expected: usize::MAX,
            ..
        }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_page_gives_a_28x28_image_in_unit_range(
        w in 1usize..40,
        h in 1usize..40,
        alpha in any::<bool>(),
        seed in any::<u32>(),
    ) {
        let channels = if alpha { Channels::GrayAlpha } else { Channels::Gray };
        let mut s = seed.max(1);
        let data: Vec<f32> = (0..w * h * channels.count())
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                // Some values out of range on purpose: they are clamped.
                (s % 1200) as f32 / 1000.0 - 0.1
            })
            .collect();
        let out = prepare(&Page::new(w, h, channels, &data).unwrap(), &Options::default());
        prop_assert_eq!(out.pixels.len(), IMAGE_LEN);
        prop_assert!(out.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

/// A `w x h` page of paper 0.95 with dark (0.1) rectangles `(x0, x1, y0, y1)` drawn on it.
fn strokes(w: usize, h: usize, rects: &[(usize, usize, usize, usize)]) -> Vec<f32> {
    let mut page = vec![0.95f32; w * h];
    for &(x0, x1, y0, y1) in rects {
        for y in y0..y1 {
            for x in x0..x1 {
                page[y * w + x] = 0.1;
            }
        }
    }
    page
}

/// `page` with faint lines printed under its ink: rows `rows` and columns `cols`, each
/// `width` pixels, multiplying the paper by `shade` (ink stays as dark as it was).
fn ruled(
    page: &[f32],
    w: usize,
    rows: &[usize],
    cols: &[usize],
    width: usize,
    shade: f32,
) -> Vec<f32> {
    page.iter()
        .enumerate()
        .map(|(i, &v)| {
            let (x, y) = (i % w, i / w);
            let on = |at: &[usize], p: usize| at.iter().any(|&a| (a..a + width).contains(&p));
            if v > 0.5 && (on(rows, y) || on(cols, x)) {
                v * shade
            } else {
                v
            }
        })
        .collect()
}

#[test]
fn a_seven_on_ruled_paper_with_a_margin_reads_as_on_plain_paper() {
    let (w, h) = (200, 200);
    // A 7: its bar (rows 50..58) lies on a ruled line (rows 54, 55), its stem crosses three more.
    let plain = strokes(w, h, &[(60, 140, 50, 58), (128, 136, 50, 170)]);
    let rows: Vec<usize> = (0..6).map(|k| 24 + 30 * k).collect();
    let page = ruled(&plain, w, &rows, &[30], 2, 0.8);
    let lined = run(&page, w, h);
    let clean = run(&plain, w, h);
    let d = &lined.diagnostics;
    assert_eq!((d.horizontal_lines, d.vertical_lines), (6, 1), "{d:?}");
    assert_eq!(d.ink_box, clean.diagnostics.ink_box, "{d:?}");
    assert_eq!(d.concern, None);
    assert_eq!(d.ink_fraction, clean.diagnostics.ink_fraction, "{d:?}");
    assert!(distance(&lined.pixels, &clean.pixels) < 0.01);
    assert_eq!(
        clean.diagnostics.horizontal_lines + clean.diagnostics.vertical_lines,
        0
    );
}

#[test]
fn a_one_on_squared_paper_keeps_its_stroke() {
    let (w, h) = (160, 200);
    // A 1 as thin as the pen allows (3 pixels), crossing six rows of a 20-pixel grid, with a
    // column of the grid running beside it two pixels away (so it is not touching it).
    let plain = strokes(w, h, &[(80, 83, 40, 160)]);
    let grid: Vec<usize> = (0..10).map(|k| 5 + 20 * k).collect();
    let page = ruled(&plain, w, &grid, &grid[..8], 1, 0.45);
    let lined = run(&page, w, h);
    let clean = run(&plain, w, h);
    let d = &lined.diagnostics;
    assert_eq!((d.horizontal_lines, d.vertical_lines), (10, 8), "{d:?}");
    assert_eq!(d.ink_box, clean.diagnostics.ink_box, "{d:?}");
    // Every pixel of the stroke kept, no pixel of the grid left.
    assert_eq!(d.ink_fraction, clean.diagnostics.ink_fraction, "{d:?}");
    assert!(distance(&lined.pixels, &clean.pixels) < 0.01);
}

#[test]
fn a_lone_hairline_from_edge_to_edge_is_a_drawing_not_paper() {
    let (w, h) = (120, 150);
    let page = strokes(w, h, &[(60, 61, 0, 150)]);
    let d = run(&page, w, h).diagnostics;
    assert_eq!((d.horizontal_lines, d.vertical_lines), (0, 0));
    assert_eq!(
        d.ink_box,
        Some(InkBox {
            x: 60,
            y: 0,
            width: 1,
            height: 150
        })
    );
}

#[test]
fn an_empty_ruled_page_is_blank() {
    let (w, h) = (200, 150);
    let rows: Vec<usize> = (0..5).map(|k| 10 + 30 * k).collect();
    let page = ruled(&vec![0.95; w * h], w, &rows, &[25], 2, 0.7);
    let d = run(&page, w, h).diagnostics;
    assert_eq!((d.horizontal_lines, d.vertical_lines), (5, 1), "{d:?}");
    assert_eq!(d.concern, Some(Concern::Blank), "{d:?}");
}
