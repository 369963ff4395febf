//! `digits-eval --report`: the page's structure parsed as a browser parses it, every image
//! and chart checked, nothing fetched, its size bounded, and a real headless Chromium
//! drawing it at desktop and phone widths.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod common;

use base64::Engine as _;
use common::{scratch, KillMatching};
use scraper::{Html, Selector};

/// Sections the page must have, by id (the same list as `html_report::SECTIONS`).
const SECTIONS: [&str; 8] = [
    "curves",
    "classes",
    "confusion",
    "mistakes",
    "calibration",
    "filters",
    "features",
    "model",
];

/// The largest page we accept for the seed network (the issue allows "a few MB").
const MAX_BYTES: usize = 1 << 20;

/// A seed network trained for two short epochs, with the history `train` records, plus a
/// calibration object; or the same weights with no history at all. Written to a directory
/// of its own for each test (`name`), as tests run at the same time.
fn model(with_history: bool, name: &str) -> PathBuf {
    static TRAINED: OnceLock<(nn::SavedModel, Vec<serde_json::Value>)> = OnceLock::new();
    let (saved, history) = TRAINED.get_or_init(|| {
        let spec = nn::ModelSpec::seed();
        let mut net = spec.build(1).unwrap();
        let mut sgd = nn::Sgd::new(0.05, 0.9, 0.0).unwrap();
        let data = datagen::generate(datagen::Style::Strokes, 1, 0, 2000);
        let test = datagen::generate(
            datagen::Style::Strokes,
            1,
            engine::SYNTHETIC_TEST_START,
            500,
        );
        let mut history = Vec::new();
        for epoch in 0..2 {
            let order = engine::epoch_order(data.len(), 1, epoch);
            let lr = 0.05 / (1 + epoch) as f32;
            let stats =
                engine::train_epoch(&mut net, &mut sgd, &data, &order, 64, |_| lr, |_, _| {})
                    .unwrap();
            let acc = engine::evaluate(&net, &test, 500, 10).unwrap().accuracy;
            history.push(serde_json::json!({
                "epoch": epoch + 1, "lr": lr, "loss": stats.loss,
                "train_accuracy": stats.accuracy, "val_accuracy": null, "test_accuracy": acc,
                "seconds": 0.1, "images_per_second": 20000.0,
            }));
        }
        (
            nn::SavedModel::new(&spec, &net, serde_json::Map::new()),
            history,
        )
    });
    let dir = scratch(name);
    let mut saved = saved.clone();
    saved.meta.insert("seed".into(), 1.into());
    saved.meta.insert("style".into(), "strokes".into());
    if with_history {
        saved.meta.insert("arch".into(), "seed".into());
        saved.meta.insert("optimizer".into(), "sgd".into());
        saved.meta.insert("history".into(), history.clone().into());
        saved.meta.insert(
            "calibration".into(),
            serde_json::json!({"temperature": 1.25, "ece_after": 0.004}),
        );
    }
    let path = dir.join("model.json");
    std::fs::write(&path, saved.to_json().unwrap()).unwrap();
    path
}

/// Runs `digits-eval --report` on `model` and returns the page.
fn report(model: &Path, name: &str) -> (PathBuf, String) {
    let out_path = model.with_file_name(name);
    let out = Command::new(env!("CARGO_BIN_EXE_digits-eval"))
        .args(["--model"])
        .arg(model)
        .args([
            "--count",
            "1500",
            "--worst",
            "8",
            "--samples",
            "2",
            "--report",
        ])
        .arg(&out_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "eval --report failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wrote "), "{stdout}");
    assert!(
        stderr.is_empty(),
        "no progress bar off a terminal: {stderr:?}"
    );
    let page = std::fs::read_to_string(&out_path).unwrap();
    (out_path, page)
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

/// Every `<svg>...</svg>` of the raw text (the page never nests them).
fn raw_svgs(page: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").expect("an <svg> is closed") + start + 6;
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

fn check_self_contained(doc: &Html, page: &str) {
    assert!(select(doc, "script").is_empty(), "no script at all");
    assert!(select(doc, "link").is_empty(), "no <link>");
    assert!(select(doc, "iframe, object, embed, video, audio, source").is_empty());
    for el in select(doc, "*") {
        for (attr, value) in el.value().attrs() {
            if matches!(
                attr,
                "src" | "href" | "xlink:href" | "action" | "poster" | "srcset"
            ) {
                assert!(
                    value.starts_with("data:image/png;base64,") || value.starts_with('#'),
                    "external reference {attr}={value:.80}"
                );
            }
            assert!(!attr.starts_with("on"), "no event handler: {attr}");
        }
    }
    for style in select(doc, "style") {
        let css = style.text().collect::<String>();
        assert!(
            !css.contains("url(") && !css.contains("@import") && !css.contains("@font-face"),
            "style fetches nothing"
        );
    }
    // Outside the data URIs and the SVG namespace name, no address at all.
    let mut text = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    while let Some(at) = text.find("data:image/png;base64,") {
        let end = text[at..].find('"').unwrap() + at;
        text.replace_range(at..end, "");
    }
    for needle in ["http://", "https://", "//", "file:"] {
        assert!(!text.contains(needle), "{needle} in the page");
    }
}

fn check_images(doc: &Html) -> usize {
    let imgs = select(doc, "img");
    for img in &imgs {
        let src = img.value().attr("src").unwrap();
        let data = src.strip_prefix("data:image/png;base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a PNG header");
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).expect("PNG data decodes");
        assert!(info.width > 0 && info.height > 0);
        assert!(
            img.value().attr("alt").is_some(),
            "every image has alt text"
        );
    }
    imgs.len()
}

#[test]
fn report_is_one_self_contained_page_with_every_section() {
    let model = model(true, "structure");
    let (_, page) = report(&model, "report.html");
    assert!(page.len() < MAX_BYTES, "{} bytes", page.len());
    let doc = Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    // The parser does report errors (so the line above can fail).
    assert!(!Html::parse_document("<p>a</b></td>").errors.is_empty());
    for id in SECTIONS {
        let section = select(&doc, &format!("section#{id}"));
        assert_eq!(section.len(), 1, "section {id}");
        assert!(
            !select(&doc, &format!("section#{id} h2")).is_empty(),
            "{id} has a heading"
        );
        assert_eq!(
            select(&doc, &format!("nav a[href='#{id}']")).len(),
            1,
            "nav links {id}"
        );
    }
    // Every SVG is well-formed XML with a title.
    let svgs = raw_svgs(&page);
    for svg in &svgs {
        let xml = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg:.200}"));
        assert_eq!(xml.root_element().tag_name().name(), "svg");
        assert!(xml.root_element().attribute("viewBox").is_some());
    }
    assert_eq!(svgs.len(), select(&doc, "svg").len());
    // Loss, accuracy and learning-rate charts; per class, confusion, reliability.
    assert_eq!(select(&doc, "#curves svg").len(), 3);
    for id in ["classes", "confusion", "calibration"] {
        assert_eq!(select(&doc, &format!("#{id} svg")).len(), 1, "{id}");
    }
    // The accuracy chart names its series.
    let curves = select(&doc, "#curves")[0].html();
    assert!(curves.contains(">train</text>") && curves.contains(">test</text>"));
    // 100 confusion cells, each with a tooltip.
    assert_eq!(select(&doc, "#confusion svg g > title").len(), 100);
    // Images: 8 mistakes, 8 filters, 2 traced inputs each with 8 + 8 maps.
    assert_eq!(select(&doc, "#mistakes .card img").len(), 8);
    assert_eq!(
        select(&doc, "#mistakes .card li").len(),
        24,
        "top-3 of each"
    );
    assert_eq!(select(&doc, "#filters img").len(), 8);
    assert_eq!(select(&doc, "#features .trace").len(), 2);
    assert_eq!(select(&doc, "#features .maps img").len(), 2 * (8 + 8));
    assert_eq!(check_images(&doc), 8 + 8 + 2 * (1 + 16));
    check_self_contained(&doc, &page);
    // Facts of the model.
    let facts = select(&doc, "#model")[0].text().collect::<String>();
    assert!(facts.contains("13,610"), "parameter count");
    assert!(facts.contains("fnv1a64:"), "checksum");
    assert!(facts.contains("Conv2D 8@3x3"), "architecture");
    let calib = select(&doc, "#calibration")[0].text().collect::<String>();
    assert!(
        calib.contains("temperature") && calib.contains("1.25"),
        "stored calibration"
    );
    assert!(calib.contains("Expected calibration error"));
}

#[test]
fn a_model_without_history_says_so_instead_of_an_empty_chart() {
    let model = model(false, "bare");
    let (_, page) = report(&model, "bare.html");
    let doc = Html::parse_document(&page);
    assert!(select(&doc, "#curves svg").is_empty());
    let text = select(&doc, "#curves")[0].text().collect::<String>();
    assert!(text.contains("no training history"), "{text}");
    assert!(select(&doc, "#calibration")[0]
        .text()
        .collect::<String>()
        .contains("holds no calibration"));
}

#[test]
fn report_path_in_a_missing_directory_is_a_one_line_error_before_any_work() {
    let model = model(false, "bad-path");
    let out = Command::new(env!("CARGO_BIN_EXE_digits-eval"))
        .arg("--model")
        .arg(&model)
        .args(["--report", "/no/such/dir/report.html"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("/no/such/dir"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "nothing evaluated first"
    );
}

/// The browser, when there is one: `None` (with a note) outside CI, a failure in CI.
fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but /usr/bin/chromium is missing (apt-get install -y chromium)"
    );
    eprintln!("skipped: /usr/bin/chromium is missing (apt-get install -y chromium)");
    None
}

/// Draws `page` in headless Chromium at `width` x `height` and returns the screenshot.
fn screenshot(browser: &Path, page: &Path, width: u32, height: u32, out: &Path) -> Vec<u8> {
    let profile = out.with_extension("profile");
    let _ = std::fs::remove_dir_all(&profile);
    let _browser_processes = KillMatching(profile.display().to_string());
    let status = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", out.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        status.status.success() && out.exists(),
        "chromium failed: {}",
        String::from_utf8_lossy(&status.stderr)
            .lines()
            .filter(|l| !l.contains("dbus"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::read(out).unwrap()
}

/// Decodes a screenshot to RGB(A) rows.
fn pixels(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info, buf)
}

#[test]
fn chromium_draws_the_report_at_desktop_and_phone_widths() {
    let Some(browser) = chromium() else {
        return;
    };
    let model = model(true, "browser");
    let (page, _) = report(&model, "browser.html");
    // Kept for a person to look at when DIGITS_SCREENSHOTS names a directory.
    let keep = std::env::var_os("DIGITS_SCREENSHOTS").map(PathBuf::from);
    for (name, width) in [("desktop", 1200u32), ("phone", 390)] {
        let shot = model.with_file_name(format!("{name}.png"));
        let bytes = screenshot(&browser, &page, width, 3000, &shot);
        let (info, px) = pixels(&bytes);
        assert_eq!((info.width, info.height), (width, 3000), "{name}");
        let channels = info.color_type.samples();
        // The header band is dark navy; the page below is mostly light; charts draw in the
        // palette's blue. A page that failed to load or style is one flat colour.
        let at = |x: u32, y: u32| {
            let i = (y as usize * info.width as usize + x as usize) * channels;
            (px[i], px[i + 1], px[i + 2])
        };
        let header = at(width / 2, 8);
        assert!(
            header.0 < 60 && header.2 < 100,
            "{name}: header is dark, got {header:?}"
        );
        let mut distinct = std::collections::HashSet::new();
        let mut blue = 0usize;
        for chunk in px.chunks_exact(channels) {
            distinct.insert((chunk[0] >> 3, chunk[1] >> 3, chunk[2] >> 3));
            // Confusion-matrix and bar blues, the palette's #0072b2.
            if chunk[2] > 120 && chunk[0] < 80 && chunk[1] < 140 {
                blue += 1;
            }
        }
        assert!(
            distinct.len() > 200,
            "{name}: only {} colours",
            distinct.len()
        );
        assert!(blue > 2000, "{name}: charts drawn ({blue} blue pixels)");
        if let Some(dir) = &keep {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::copy(&shot, dir.join(format!("report-{name}.png"))).unwrap();
        }
    }
}
