//! Sweeps of awkward inputs: every view returns `Ok` or a typed error and never panics.

use viz::{Error, Panel};

const AWKWARD: [f32; 7] = [
    0.0,
    -1.0,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::MAX,
    f32::MIN_POSITIVE,
];

#[test]
fn maps_of_every_small_size_and_length_draw_or_report_a_length_error() {
    for len in 0..=13 {
        let map: Vec<f32> = (0..len).map(|i| AWKWARD[i % AWKWARD.len()]).collect();
        for h in 0..=4 {
            for w in 0..=4 {
                let matches = h * w == len;
                for result in [
                    viz::ascii(&map, h, w),
                    viz::ascii_scaled(&map, h, w),
                    viz::side_by_side(&[Panel::new("t", &map, h, w)], 1),
                    viz::grid(&[Panel::scaled("", &map, h, w); 3], 2, 0),
                ] {
                    match result {
                        Ok(art) => {
                            assert!(matches, "{h}x{w} accepted {len} values");
                            assert!(art.is_empty() || art.ends_with('\n'));
                        }
                        Err(Error::MapLength {
                            h: eh,
                            w: ew,
                            len: el,
                            ..
                        }) => {
                            assert!(!matches);
                            assert_eq!((eh, ew, el), (h, w, len));
                        }
                        Err(e) => panic!("unexpected error {e}"),
                    }
                }
            }
        }
    }
}

#[test]
fn prob_bars_accept_any_values_and_reject_mismatched_names() {
    let names = ["a", "", "ccc", "d\te", "é"];
    for n_names in 0..=names.len() {
        for n_probs in 0..=names.len() {
            let probs: Vec<f32> = AWKWARD.iter().copied().cycle().take(n_probs).collect();
            for width in [0, 1, 7] {
                for label in [None, Some(0), Some(n_probs)] {
                    let result = viz::prob_bars(&names[..n_names], &probs, width, label);
                    let ok = n_names == n_probs && label.is_none_or(|l| l < n_probs);
                    assert_eq!(
                        result.is_ok(),
                        ok,
                        "{n_names} names, {n_probs} probs, {label:?}"
                    );
                    if let Ok(bars) = result {
                        assert_eq!(bars.lines().count(), n_probs);
                    }
                }
            }
        }
    }
}

#[test]
fn confusion_tables_of_every_small_size_draw_or_report_a_size_error() {
    let names = ["a", "bb", "ccc", "dddd"];
    for k in 0..=names.len() {
        for len in 0..=17 {
            let matrix: Vec<usize> = (0..len).map(|i| [0, 1, usize::MAX][i % 3]).collect();
            match viz::confusion_table(&names[..k], &matrix) {
                Ok(table) => {
                    assert_eq!(len, k * k);
                    let lines = if k == 0 { 0 } else { k + 2 };
                    assert_eq!(table.lines().count(), lines);
                }
                Err(e) => assert_eq!(
                    e,
                    Error::MatrixSize {
                        op: "confusion_table",
                        k,
                        len
                    }
                ),
            }
        }
    }
}
