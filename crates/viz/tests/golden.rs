//! Golden tests: every view compared with its exact expected text.
//!
//! Expected grids are raw-string literals that start on the line after the opening quote (the
//! helper drops that first newline), so they read exactly as they print.

use viz::Panel;

/// Compares two multi-line strings; on mismatch prints both row by row, marking differing rows
/// with `!`, then fails. A leading `'\n'` in `expected` is ignored.
#[track_caller]
fn assert_grid_eq(got: &str, expected: &str) {
    let expected = expected.strip_prefix('\n').unwrap_or(expected);
    if got == expected {
        return;
    }
    let got_lines: Vec<&str> = got.split('\n').collect();
    let expected_lines: Vec<&str> = expected.split('\n').collect();
    let mut report = String::from("grids differ (row: got | expected)\n");
    for r in 0..got_lines.len().max(expected_lines.len()) {
        let g = got_lines.get(r).copied().unwrap_or("<none>");
        let e = expected_lines.get(r).copied().unwrap_or("<none>");
        let mark = if g == e { ' ' } else { '!' };
        report.push_str(&format!("{mark}{r:>3}: {g:?} | {e:?}\n"));
    }
    panic!("{report}");
}

#[test]
fn threshold_edges_draw_as_the_demo_ramp() {
    // 0.1f32, 0.4f32 and 0.7f32 are the first values of their glyph; values just below are not.
    let map = [
        0.0, 0.099, 0.1, 0.399, //
        0.4, 0.699, 0.7, 1.0, //
    ];
    let got = viz::ascii(&map, 2, 4).unwrap();
    assert_grid_eq(
        &got,
        r"
..++
**##
",
    );
}

#[test]
fn ascii_draws_an_image_one_character_per_pixel() {
    // A 5x6 "seven": a bright top bar and a fading diagonal stroke over a faint background.
    let image = [
        0.02, 0.95, 0.95, 0.95, 0.95, 0.03, //
        0.01, 0.04, 0.02, 0.30, 0.80, 0.00, //
        0.00, 0.03, 0.15, 0.75, 0.05, 0.02, //
        0.04, 0.05, 0.55, 0.20, 0.01, 0.00, //
        0.00, 0.45, 0.12, 0.00, 0.03, 0.01, //
    ];
    let got = viz::ascii(&image, 5, 6).unwrap();
    assert_grid_eq(
        &got,
        r"
.####.
...+#.
..+#..
..*+..
.*+...
",
    );
}

#[test]
fn ascii_scaled_draws_a_feature_map_relative_to_its_maximum() {
    // Maximum 8.0: 0.8 -> 0.1 '+', 3.2 -> 0.4 '*', 5.6 -> 0.7 '#', 0.79 -> 0.099 '.'.
    let feature = [
        0.0, 0.79, 0.8, 3.2, //
        5.6, 8.0, 0.0, 0.0, //
    ];
    let got = viz::ascii_scaled(&feature, 2, 4).unwrap();
    assert_grid_eq(
        &got,
        r"
..+*
##..
",
    );
}

#[test]
fn side_by_side_shows_the_eval_layout() {
    // The eval app's row in miniature: the input, two ReLU maps and two pooled maps. Titles are
    // wider than the small maps, so they widen their panels; shorter maps are padded below.
    let input = [
        0.0, 0.9, 0.9, 0.0, //
        0.0, 0.0, 0.9, 0.0, //
        0.0, 0.5, 0.0, 0.0, //
        0.0, 0.5, 0.0, 0.0, //
    ];
    let relu0 = [0.0, 2.0, 2.0, 0.5, 0.0, 0.0];
    let relu1 = [0.0; 6];
    let pool0 = [2.0, 0.5];
    let pool1 = [0.0, 0.0];
    let panels = [
        Panel::new("Input", &input, 4, 4),
        Panel::scaled("ReLU 0", &relu0, 2, 3),
        Panel::scaled("ReLU 1", &relu1, 2, 3),
        Panel::scaled("Pool 0", &pool0, 1, 2),
        Panel::scaled("Pool 1", &pool1, 1, 2),
    ];
    let got = viz::side_by_side(&panels, 2).unwrap();
    assert_grid_eq(
        &got,
        r"
Input  ReLU 0  ReLU 1  Pool 0  Pool 1
.##.   .##     ...     #+      ..
..#.   +..     ...
.*..
.*..
",
    );
}

#[test]
fn side_by_side_at_the_eval_sizes_has_one_title_line_and_the_tallest_height() {
    let input = vec![0.5; 28 * 28];
    let relu = vec![1.0; 26 * 26];
    let pool = vec![1.0; 13 * 13];
    let panels = [
        Panel::new("Input", &input, 28, 28),
        Panel::scaled("ReLU 0", &relu, 26, 26),
        Panel::scaled("ReLU 1", &relu, 26, 26),
        Panel::scaled("Pool 0", &pool, 13, 13),
        Panel::scaled("Pool 1", &pool, 13, 13),
    ];
    let got = viz::side_by_side(&panels, 2).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 1 + 28);
    let full = format!(
        "{}  {}  {}  {}  {}",
        "*".repeat(28),
        "#".repeat(26),
        "#".repeat(26),
        "#".repeat(13),
        "#".repeat(13)
    );
    assert_eq!(lines[1], full);
    assert_eq!(lines[13], full);
    assert_eq!(
        lines[14],
        format!("{}  {}  {}", "*".repeat(28), "#".repeat(26), "#".repeat(26))
    );
    assert_eq!(lines[27], "*".repeat(28));
    assert_eq!(lines[28], "*".repeat(28));
}

#[test]
fn grid_draws_a_gallery_in_rows() {
    #[rustfmt::skip]
    let zero = [
        0.9, 0.9, 0.9,
        0.9, 0.0, 0.9,
        0.9, 0.9, 0.9,
    ];
    #[rustfmt::skip]
    let one = [
        0.0, 0.9, 0.0,
        0.0, 0.9, 0.0,
        0.0, 0.9, 0.0,
    ];
    #[rustfmt::skip]
    let seven = [
        0.9, 0.9, 0.9,
        0.0, 0.0, 0.6,
        0.0, 0.3, 0.0,
    ];
    let panels = [
        Panel::new("0", &zero, 3, 3),
        Panel::new("0", &zero, 3, 3),
        Panel::new("1", &one, 3, 3),
        Panel::new("1", &one, 3, 3),
        Panel::new("7", &seven, 3, 3),
    ];
    let got = viz::grid(&panels, 2, 1).unwrap();
    assert_grid_eq(
        &got,
        r"
0   0
### ###
#.# #.#
### ###

1   1
.#. .#.
.#. .#.
.#. .#.

7
###
..*
.+.
",
    );
}

#[test]
fn prob_bars_mark_the_prediction_and_the_label() {
    let names = [
        "Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine",
    ];
    let probs = [
        0.001, 0.002, 0.010, 0.004, 0.0, 0.003, 0.0, 0.973, 0.005, 0.002,
    ];
    let got = viz::prob_bars(&names, &probs, 20, Some(7)).unwrap();
    assert_grid_eq(
        &got,
        r"
Zero  0.001 ....................
One   0.002 ....................
Two   0.010 ....................
Three 0.004 ....................
Four  0.000 ....................
Five  0.003 ....................
Six   0.000 ....................
Seven 0.973 ###################. <- predicted, label
Eight 0.005 ....................
Nine  0.002 ....................
",
    );
}

#[test]
fn prob_bars_show_a_wrong_prediction() {
    let got = viz::prob_bars(&["one", "seven"], &[0.62, 0.38], 10, Some(1)).unwrap();
    assert_grid_eq(
        &got,
        r"
one   0.620 ######.... <- predicted
seven 0.380 ####...... <- label
",
    );
}

#[test]
fn confusion_table_brackets_the_diagonal_and_ends_rows_with_recall() {
    let names = ["zero", "one", "two"];
    #[rustfmt::skip]
    let matrix = [
        5, 0, 1,
        0, 7, 0,
        1, 0, 3,
    ];
    let got = viz::confusion_table(&names, &matrix).unwrap();
    assert_grid_eq(
        &got,
        r"
true\pred  zero   one   two  recall
zero         [5]    0     1   0.833
one           0    [7]    0   1.000
two           1     0    [3]  0.750
total         6     7     4   0.882
",
    );
}

#[test]
fn confusion_table_for_ten_digits() {
    let names = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    let mut matrix = [0usize; 100];
    for i in 0..10 {
        matrix[i * 10 + i] = 90 + i;
    }
    matrix[7 * 10 + 1] = 12; // sevens read as ones
    matrix[4 * 10 + 9] = 3; // fours read as nines
    let got = viz::confusion_table(&names, &matrix).unwrap();
    assert_grid_eq(
        &got,
        r"
true\pred    0    1    2    3    4    5    6    7    8    9  recall
0          [90]   0    0    0    0    0    0    0    0    0   1.000
1            0  [91]   0    0    0    0    0    0    0    0   1.000
2            0    0  [92]   0    0    0    0    0    0    0   1.000
3            0    0    0  [93]   0    0    0    0    0    0   1.000
4            0    0    0    0  [94]   0    0    0    0    3   0.969
5            0    0    0    0    0  [95]   0    0    0    0   1.000
6            0    0    0    0    0    0  [96]   0    0    0   1.000
7            0   12    0    0    0    0    0  [97]   0    0   0.890
8            0    0    0    0    0    0    0    0  [98]   0   1.000
9            0    0    0    0    0    0    0    0    0  [99]  1.000
total       90  103   92   93   94   95   96   97   98  102   0.984
",
    );
}

#[test]
#[should_panic(expected = "!  1: \"#.\" | \"##\"")]
fn assert_grid_eq_reports_the_differing_row() {
    assert_grid_eq(".#\n#.\n", "\n.#\n##\n");
}
