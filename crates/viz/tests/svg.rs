//! The SVG charts as a reader and an XML parser see them: every chart is well-formed XML, and
//! the words and numbers it shows (every `<text>`, in order) are exactly the expected ones.

use viz::raster::{png, Scale};
use viz::svg::{
    confusion_heatmap, line_chart, percent_bars, reliability_diagram, LineChart, ReliabilityBin,
    Series, ValueFormat,
};

/// Parses `svg` as XML (panicking with the parser's message) and returns the text of every
/// `<text>` element in document order.
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    assert!(root.attribute("viewBox").is_some());
    assert!(
        root.children().any(|c| c.has_tag_name("title")),
        "a title for screen readers"
    );
    assert!(
        !doc.descendants().any(|n| n.attribute("id").is_some()),
        "no ids: many charts share one page"
    );
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

#[test]
fn line_chart_shows_ticks_axis_labels_and_legend() {
    let train = [(1.0, 0.90), (2.0, 0.95), (3.0, 0.97)];
    let test = [(1.0, 0.91), (2.0, f64::NAN), (3.0, 0.96)];
    let svg = line_chart(&LineChart {
        title: "Accuracy",
        x_label: "epoch",
        y_label: "accuracy",
        series: &[
            Series {
                name: "train",
                points: &train,
            },
            Series {
                name: "test",
                points: &test,
            },
        ],
        x_integer: true,
        y_from_zero: false,
        y_format: ValueFormat::Percent,
    })
    .unwrap();
    assert_eq!(
        texts(&svg),
        [
            "90%", "92%", "94%", "96%", "98%", // y ticks
            "1", "2", "3", // x ticks
            "epoch", "accuracy", // axis labels
            "train", "test", // legend
        ]
    );
    // One dot per finite point, each with its tooltip; the NaN is left out.
    assert_eq!(svg.matches("<circle").count(), 5);
    assert!(svg.contains("<title>test: epoch 3, 96.00%</title>"));
}

#[test]
fn heatmap_labels_rows_and_columns_and_writes_every_nonzero_count() {
    let svg = confusion_heatmap(&["cat", "dog"], &[8, 2, 0, 10]).unwrap();
    assert_eq!(
        texts(&svg),
        [
            "predicted class",
            "true class",
            "cat", // column
            "cat", // row
            "dog",
            "dog",
            "8",
            "2",
            "10",
            "0%",
            "100.0%",
            "recognised, share of the true class",
            "0%",
            "20.0%",
            "taken for another class",
        ]
    );
    assert!(svg.contains("<title>cat taken for dog: 2 of 10 (20.00%)</title>"));
}

#[test]
fn names_that_look_like_markup_stay_text() {
    let names = ["<script>", "a&b", "\"q\""];
    let svg = confusion_heatmap(&names, &[1, 0, 0, 0, 1, 0, 0, 0, 1]).unwrap();
    assert!(!svg.contains("<script>"));
    let t = texts(&svg);
    assert!(t.contains(&"<script>".to_string()) && t.contains(&"a&b".to_string()));
    let bars = percent_bars(
        "t",
        &names,
        &[Some(1.0), Some(0.5), None],
        &[String::new(), String::new(), String::new()],
    )
    .unwrap();
    assert!(texts(&bars).contains(&"\"q\"".to_string()));
}

#[test]
fn percent_bars_and_reliability_diagram_are_labelled() {
    let svg = percent_bars(
        "Accuracy per class",
        &["Zero", "One"],
        &[Some(0.985), Some(0.9)],
        &["100 images".into(), "98 images".into()],
    )
    .unwrap();
    assert_eq!(
        texts(&svg),
        [
            "0%",
            "25%",
            "50%",
            "75%",
            "100%",
            "Zero",
            "98.50%",
            "100 images",
            "One",
            "90.00%",
            "98 images"
        ]
    );
    let bins = [
        ReliabilityBin {
            lo: 0.6,
            hi: 0.8,
            count: 4,
            confidence: 0.7,
            accuracy: 0.5,
        },
        ReliabilityBin {
            lo: 0.8,
            hi: 1.0,
            count: 96,
            confidence: 0.97,
            accuracy: 0.98,
        },
    ];
    let t = texts(&reliability_diagram(&bins).unwrap());
    assert_eq!(
        t[..12],
        ["0%", "0%", "20%", "20%", "40%", "40%", "60%", "60%", "80%", "80%", "100%", "100%"]
    );
    assert_eq!(
        t[12..],
        [
            "confidence (top probability)",
            "accuracy",
            "accuracy",
            "mean confidence",
            "perfectly calibrated"
        ]
    );
}

#[test]
fn png_images_have_the_map_size_and_decode() {
    let map: Vec<f32> = (0..28 * 28).map(|i| (i % 28) as f32 / 27.0).collect();
    for scale in [Scale::Ink { max: 1.0 }, Scale::Diverging { max_abs: 1.0 }] {
        let bytes = png(&map, 28, 28, scale).unwrap();
        let reader = ::png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        assert_eq!((reader.info().width, reader.info().height), (28, 28));
    }
}
