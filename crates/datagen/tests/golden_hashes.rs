//! Golden hashes of the generator's output: every byte `generate` and `nondigits` make, and
//! every f32 bit `sample_into`, `nondigit_into` and `draw_stroke` write, for a few seeds and
//! index ranges (also ones that wrap past `u64::MAX`).
//!
//! The constants were computed from the generator before it was optimised (main at 52b42f2),
//! and those of the handwriting style and the non-digits (whose two-digit pictures draw it)
//! re-recorded once on 2026-12-02, when the looped 2's loop was made larger on purpose
//! (issue 19; the segments style and the pen kept theirs). The scanned style's were recorded
//! when it was added on 2026-12-03 (the strokes kept theirs), and the non-digits' re-recorded
//! that day, when they gained printed letters and narrow, larger silhouettes (issue 15).
//! Every figure in the README depends on these images: a speed-up must keep them exactly, so
//! any change of a single bit here is a failure, not something to re-record.

use datagen::{draw_stroke, generate, nondigit_into, nondigits, sample_into, Style, IMAGE_LEN};

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn floats(&mut self, values: &[f32]) {
        for v in values {
            self.bytes(&v.to_bits().to_le_bytes());
        }
    }
}

/// The hash of a data set's images and labels.
fn set_hash(set: &datagen::Dataset) -> u64 {
    let mut h = Fnv::new();
    for i in 0..set.len() {
        h.bytes(set.image(i));
    }
    h.bytes(set.labels());
    h.0
}

#[test]
fn generate_bytes_match_the_golden_hashes() {
    let cases: [(Style, u64, u64, usize, u64); 6] = [
        (Style::Strokes, 1, 0, 1000, 0xed75_4888_e029_41e0),
        (Style::Strokes, 7, 123_456_789, 500, 0x8ace_f2c7_c07a_4a32),
        (
            Style::Strokes,
            2024,
            u64::MAX - 250,
            500,
            0x2edb_fad2_6114_85b1,
        ),
        (Style::Scanned, 1, 0, 1000, 0x8fa6_0533_884d_c635),
        (Style::Segments, 1, 0, 500, 0x44ce_8b7d_6e51_b0ef),
        (
            Style::Segments,
            9,
            1_000_000_000,
            500,
            0x3401_c602_f066_80af,
        ),
    ];
    let got: Vec<String> = cases
        .iter()
        .map(|&(style, seed, start, count, _)| {
            let h = set_hash(&generate(style, seed, start, count));
            format!("generate({style}, {seed}, {start}, {count}): {h:#018x}")
        })
        .collect();
    let want: Vec<String> = cases
        .iter()
        .map(|&(style, seed, start, count, h)| {
            format!("generate({style}, {seed}, {start}, {count}): {h:#018x}")
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn nondigit_bytes_match_the_golden_hashes() {
    let cases: [(u64, u64, usize, u64); 2] = [
        (1, 0, 1000, 0xd95d_c046_3d3d_e604),
        (3, 5_000_000_000_000, 600, 0x04c1_3627_ce71_c165),
    ];
    let line = |seed: u64, start: u64, count: usize, h: u64| {
        format!("nondigits({seed}, {start}, {count}): {h:#018x}")
    };
    let got: Vec<String> = cases
        .iter()
        .map(|&(seed, start, count, _)| {
            line(seed, start, count, set_hash(&nondigits(seed, start, count)))
        })
        .collect();
    let want: Vec<String> = cases
        .iter()
        .map(|&(seed, start, count, h)| line(seed, start, count, h))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn float_bits_match_the_golden_hashes() {
    let mut img = vec![0.0f32; IMAGE_LEN];
    let mut hashes = Vec::new();
    for style in Style::ALL {
        let mut h = Fnv::new();
        for index in 0..300u64 {
            let label = sample_into(style, 42, index * 7919, &mut img);
            h.floats(&img);
            h.bytes(&[label]);
        }
        hashes.push(h.0);
    }
    let mut h = Fnv::new();
    for index in 0..300u64 {
        let kind = nondigit_into(11, index * 104_729, &mut img);
        h.floats(&img);
        h.bytes(&[kind as u8]);
    }
    hashes.push(h.0);
    // The public pen on a canvas that is not square, strokes partly off it, and a dot.
    let mut h = Fnv::new();
    let (w, ht) = (37, 23);
    let mut canvas = vec![0.0f32; w * ht];
    let strokes: [&[(f32, f32)]; 4] = [
        &[(3.2, 4.7), (30.1, 17.9), (12.5, 20.2), (-5.0, 3.0)],
        &[(18.0, 11.0)],
        &[(36.5, -2.0), (40.0, 30.0), (20.25, 11.75)],
        &[(1.0, 1.0), (1.0, 1.0), (8.0, 1.5)],
    ];
    for (k, pts) in strokes.iter().enumerate() {
        draw_stroke(
            &mut canvas,
            w,
            ht,
            pts,
            0.6 + 0.7 * k as f32,
            0.3 + 0.4 * k as f32,
        );
        h.floats(&canvas);
    }
    hashes.push(h.0);
    let want: [u64; 5] = [
        0x570d_64c5_99bf_f4aa,
        0x01f2_9e7a_830d_fde2,
        0x649e_aa45_f43b_ed99,
        0x903d_f1df_b8ec_850d,
        0x2fcb_c6a4_e4e7_3a92,
    ];
    assert_eq!(
        hashes
            .iter()
            .map(|h| format!("{h:#018x}"))
            .collect::<Vec<_>>(),
        want.iter()
            .map(|h| format!("{h:#018x}"))
            .collect::<Vec<_>>(),
        "segments, strokes, scanned, non-digits, draw_stroke"
    );
}
