//! `eval --serve`: the real binary on an ephemeral port, spoken to over plain TCP. The page and
//! the model; digits drawn as strokes and as PNG; every kind of bad request answered 4xx and
//! followed by a good answer; stalled clients; a load test; Ctrl-C; and a real browser
//! (Debian's chromium, driven by chromedriver) drawing with pointer events.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;

use common::{scratch, KillMatching};
use serde_json::{json, Value};

/// A seed model trained once for all tests of this file through the library the `train`
/// command uses: 2 epochs over 12,000 synthetic digits.
fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = scratch("model").join("model.json");
        let spec = nn::ModelSpec::seed();
        let mut net = spec.build(1).unwrap();
        let mut sgd = nn::Sgd::new(0.05, 0.9, 0.0).unwrap();
        let data = datagen::generate(datagen::Style::Strokes, 1, 0, 12_000);
        for epoch in 0..2 {
            let order = engine::epoch_order(data.len(), 1, epoch);
            engine::train_epoch(&mut net, &mut sgd, &data, &order, 64, |_| 0.05, |_, _| {})
                .unwrap();
        }
        let mut meta = serde_json::Map::new();
        meta.insert("seed".into(), 1.into());
        meta.insert("style".into(), "strokes".into());
        meta.insert("data".into(), "synthetic".into());
        meta.insert(
            "data_description".into(),
            "12,000 synthetic strokes digits".into(),
        );
        meta.insert("test_accuracy".into(), 0.9.into());
        let saved = nn::SavedModel::new(&spec, &net, meta);
        std::fs::write(&path, saved.to_json().unwrap()).unwrap();
        path
    })
}

/// A running `digits-eval --serve 127.0.0.1:0`, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Vec<String>,
}

impl Server {
    fn start() -> Self {
        Self::start_on("127.0.0.1:0", &[])
    }

    fn start_on(addr: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_digits-eval"))
            .args(["--model", model().to_str().unwrap(), "--serve", addr])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stdout = Vec::new();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server exited before printing its URL")
                .unwrap();
            stdout.push(line.clone());
            if let Some(rest) = line.strip_prefix("serving on http://") {
                let host = rest.split('/').next().unwrap();
                break host.parse().unwrap();
            }
        };
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            addr,
            stdout,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answer: status, header text, body.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends `raw` as it is and reads the whole answer (the server closes after each).
fn exchange(addr: SocketAddr, raw: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(raw).unwrap();
    read_answer(&mut s)
}

/// Reads one answer: up to the end of the stream, or of the body when the answer gives its
/// Content-Length (chromedriver keeps connections open).
fn read_answer(s: &mut TcpStream) -> Answer {
    let mut all = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(end) = all.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&all[..end]).to_string();
            let length = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            if length.is_some_and(|n| all.len() >= end + 4 + n) {
                break;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&chunk[..n]),
        }
    }
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&all)));
    let head = String::from_utf8_lossy(&all[..end]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        head,
        body: all[end + 4..].to_vec(),
    }
}

fn get(addr: SocketAddr, path: &str) -> Answer {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
    )
}

fn post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Answer {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    exchange(addr, &raw)
}

/// A 7 as two strokes (bar, then stem) and a 0 as one loop, in a 1000x1000 drawing.
fn seven() -> Vec<Vec<[f64; 2]>> {
    let bar = (0..=10)
        .map(|i| [280.0 + 44.0 * f64::from(i), 230.0])
        .collect();
    let stem = (0..=12)
        .map(|i| {
            let t = f64::from(i) / 12.0;
            [720.0 - 260.0 * t, 230.0 + 560.0 * t]
        })
        .collect();
    vec![bar, stem]
}

fn zero() -> Vec<Vec<[f64; 2]>> {
    let ring = (0..=40)
        .map(|i| {
            let a = std::f64::consts::TAU * f64::from(i) / 40.0;
            [500.0 + 210.0 * a.sin(), 500.0 - 300.0 * a.cos()]
        })
        .collect();
    vec![ring]
}

/// "70": the seven and the zero, each squeezed into one half of the drawing area.
fn seventy() -> Vec<Vec<[f64; 2]>> {
    let squeeze = |strokes: Vec<Vec<[f64; 2]>>, left: f64| -> Vec<Vec<[f64; 2]>> {
        strokes
            .into_iter()
            .map(|s| {
                s.into_iter()
                    .map(|[x, y]| [left + 0.4 * (x - 280.0), 200.0 + 0.6 * (y - 200.0)])
                    .collect()
            })
            .collect()
    };
    let mut out = squeeze(seven(), 60.0);
    out.extend(squeeze(zero(), 540.0));
    out
}

fn strokes_body(strokes: &[Vec<[f64; 2]>]) -> Vec<u8> {
    json!({"width": 1000, "height": 1000, "pen": 70, "strokes": strokes})
        .to_string()
        .into_bytes()
}

/// The same drawing as a PNG of 200x200, dark ink on white, rendered by the generator's pen.
fn strokes_png(strokes: &[Vec<[f64; 2]>]) -> Vec<u8> {
    let side = 200usize;
    let k = side as f64 / 1000.0;
    let mut ink = vec![0.0f32; side * side];
    for s in strokes {
        let pts: Vec<(f32, f32)> = s
            .iter()
            .map(|p| ((p[0] * k) as f32, (p[1] * k) as f32))
            .collect();
        datagen::draw_stroke(&mut ink, side, side, &pts, 7.0, 0.5);
    }
    let bytes: Vec<u8> = ink
        .iter()
        .map(|&c| (255.0 * (1.0 - c)).round() as u8)
        .collect();
    let img = image::GrayImage::from_raw(side as u32, side as u32, bytes).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// `a` is a confident answer naming `digit`.
fn assert_answer(a: &Answer, digit: usize) {
    let want = engine::DIGIT_NAMES[digit];
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["class"], want, "verdict {}", v["verdict"]);
    assert_eq!(v["top"], want);
    assert_eq!(v["verdict"], want);
    let probs = v["probabilities"].as_array().unwrap();
    assert_eq!(probs.len(), 10);
    let sum: f64 = probs.iter().map(|p| p.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-3, "{sum}");
    for key in ["input", "saliency"] {
        let rows = v[key].as_array().unwrap();
        assert_eq!(rows.len(), 28, "{key}");
        assert!(
            rows.iter().all(|r| r.as_array().unwrap().len() == 28),
            "{key}"
        );
    }
    // The seed network: all 8 maps after ReLU (26x26) and after pooling (13x13).
    let maps = v["maps"].as_array().unwrap();
    assert_eq!(maps.len(), 2);
    assert_eq!(maps[0]["name"], "after ReLU");
    assert_eq!(maps[1]["name"], "after pooling");
    for (m, side) in maps.iter().zip([26, 13]) {
        assert_eq!(m["channels"], 8);
        let data = m["data"].as_array().unwrap();
        assert_eq!(data.len(), 8);
        assert_eq!(data[0].as_array().unwrap().len(), side);
    }
    // Ink is where the network looks: the input has some, the saliency is not all zero.
    let total = |key: &str| -> f64 {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap())
            .map(|x| x.as_f64().unwrap())
            .sum()
    };
    assert!(total("input") > 20.0 && total("saliency") > 0.0);
}

#[test]
fn page_and_model_are_served() {
    let server = Server::start();
    assert!(server.stdout.iter().any(|l| l.contains("Conv2D 8@3x3")));
    assert!(server
        .stdout
        .iter()
        .any(|l| l.contains("13,610 parameters")));
    let page = get(server.addr, "/");
    assert_eq!(page.status, 200);
    assert!(page.head.contains("text/html"));
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("<canvas id=\"pad\"") && html.contains("/app.js"));
    // Nothing comes from elsewhere: no absolute URL to another host in the page.
    for asset in ["/", "/app.js", "/style.css"] {
        let a = get(server.addr, asset);
        assert_eq!(a.status, 200, "{asset}");
        let text = String::from_utf8(a.body).unwrap();
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{asset}"
        );
    }
    let css = String::from_utf8(get(server.addr, "/style.css").body).unwrap();
    assert!(css.contains("touch-action: none"));
    let m = get(server.addr, "/api/model");
    assert_eq!(m.status, 200);
    let v = m.json();
    assert_eq!(v["class_names"].as_array().unwrap().len(), 10);
    assert_eq!(v["parameters"], 8 * 9 + 8 + 1352 * 10 + 10);
    assert_eq!(
        v["architecture"],
        "Conv2D 8@3x3 -> ReLU -> MaxPool2x2 -> Flatten -> Dense 10"
    );
    assert_eq!(v["spec"]["input"], json!([1, 28, 28]));
    assert_eq!(
        v["meta"]["data_description"],
        "12,000 synthetic strokes digits"
    );
    assert_eq!(v["filters"]["count"], 8);
    assert_eq!(v["filters"]["data"].as_array().unwrap().len(), 8);
    assert_eq!(v["filters"]["data"][0].as_array().unwrap().len(), 3);
    // The page links to the model's report, served from memory.
    let report = get(server.addr, "/report");
    assert_eq!(report.status, 200);
    assert!(report.head.contains("text/html"));
    let html = String::from_utf8(report.body).unwrap();
    assert!(html.contains("<svg") && html.contains("data:image/png;base64,"));
}

#[test]
fn drawn_digits_are_recognised_as_strokes_and_as_png() {
    let server = Server::start();
    for (strokes, want) in [(seven(), 7), (zero(), 0)] {
        assert_answer(
            &post(
                server.addr,
                "/api/strokes",
                "application/json",
                &strokes_body(&strokes),
            ),
            want,
        );
        assert_answer(
            &post(
                server.addr,
                "/api/predict",
                "image/png",
                &strokes_png(&strokes),
            ),
            want,
        );
    }
    // A blank drawing is an honest "no digit", with the network's guess still named.
    let blank = post(
        server.addr,
        "/api/strokes",
        "application/json",
        &strokes_body(&[]),
    );
    assert_eq!(blank.status, 200);
    let v = blank.json();
    assert!(v["class"].is_null());
    assert!(v["top"].is_string());
    assert_eq!(v["verdict"], "no digit: blank image");
    assert_eq!(v["digits"], json!([]));
    assert!(v["number"].is_null());
    // A number: each digit read on its own, left to right, as `--image --json` gives them.
    let a = post(
        server.addr,
        "/api/strokes",
        "application/json",
        &strokes_body(&seventy()),
    );
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["verdict"], "no digit: several marks side by side", "{v}");
    assert_eq!(v["digits"][0]["class"], "Seven", "{v}");
    assert_eq!(v["digits"][1]["class"], "Zero", "{v}");
    assert_eq!(v["number"], "70", "{v}");
}

/// A 60-byte PNG that declares 100,000 x 100,000 pixels (10 gigapixels): a header and the
/// start of a compressed stream that would unpack into gigabytes of zeros.
fn bomb_png() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let encoder = png::Encoder::new(&mut out, 100_000, 100_000);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_chunk(png::chunk::IDAT, &[0x78, 0x9c, 0x62, 0x00, 0x00])
            .unwrap();
    }
    out
}

#[test]
fn bad_requests_get_4xx_and_the_server_keeps_serving() {
    let server = Server::start();
    let addr = server.addr;
    let png = strokes_png(&seven());
    let over = format!(
        "POST /api/predict HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        64 << 20
    );
    let long_header = format!("GET / HTTP/1.1\r\nX-Long: {}\r\n\r\n", "a".repeat(20_000));
    let many_headers = format!("GET / HTTP/1.1\r\n{}\r\n", "X-A: b\r\n".repeat(60));
    let chunked = "POST /api/predict HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let raw = |s: &str| s.as_bytes().to_vec();
    let post_raw = |path: &str, body: &[u8]| {
        let mut r = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("empty body", post_raw("/api/predict", b""), 400),
        (
            "garbage",
            post_raw("/api/predict", b"\x00\x01garbage, not a picture"),
            415,
        ),
        (
            "truncated PNG",
            post_raw("/api/predict", &png[..png.len() / 2]),
            400,
        ),
        (
            "decompression-bomb PNG header",
            post_raw("/api/predict", &bomb_png()),
            413,
        ),
        (
            "decompression-bomb PGM header",
            post_raw("/api/predict", b"P5\n100000 100000\n255\n\x00\x00"),
            413,
        ),
        ("body over the limit", raw(&over), 413),
        (
            "wrong method (DELETE)",
            raw("DELETE /api/model HTTP/1.1\r\nHost: t\r\n\r\n"),
            405,
        ),
        (
            "wrong method (GET a POST route)",
            raw("GET /api/predict HTTP/1.1\r\n\r\n"),
            405,
        ),
        (
            "unknown path",
            raw("GET /nothing/here HTTP/1.1\r\n\r\n"),
            404,
        ),
        (
            "/../ traversal",
            raw("GET /../../../etc/passwd HTTP/1.1\r\n\r\n"),
            404,
        ),
        (
            "encoded traversal",
            raw("GET /%2e%2e/%2e%2e/Cargo.toml HTTP/1.1\r\n\r\n"),
            404,
        ),
        (
            "model file by name",
            raw("GET /model.json HTTP/1.1\r\n\r\n"),
            404,
        ),
        ("not HTTP", raw("HELLO THERE\r\n\r\n"), 400),
        (
            "POST without Content-Length",
            raw("POST /api/strokes HTTP/1.1\r\n\r\n"),
            411,
        ),
        ("chunked body", raw(chunked), 411),
        ("header over 16 KiB", raw(&long_header), 431),
        ("60 header lines", raw(&many_headers), 431),
        (
            "body shorter than its Content-Length",
            raw("POST /api/predict HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
            400,
        ),
        ("strokes: not JSON", post_raw("/api/strokes", b"{nope"), 400),
        (
            "strokes: wrong shape",
            post_raw(
                "/api/strokes",
                br#"{"width": 10, "height": 10, "pen": 1, "strokes": [[1, 2]]}"#,
            ),
            400,
        ),
        (
            "strokes: pen too wide",
            post_raw(
                "/api/strokes",
                br#"{"width": 10, "height": 10, "pen": 9, "strokes": []}"#,
            ),
            400,
        ),
    ];
    let good = strokes_body(&seven());
    for (what, request, want) in &cases {
        let a = if *what == "body shorter than its Content-Length" {
            // Send it and close our side: the body ends early.
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            s.write_all(request).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            read_answer(&mut s)
        } else {
            exchange(addr, request)
        };
        let body = a.json();
        println!("{what}: {} {}", a.status, body["error"]);
        assert_eq!(a.status, *want, "{what}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {body}"
        );
        assert!(a.head.contains("application/json"), "{what}");
        assert_answer(&post(addr, "/api/strokes", "application/json", &good), 7);
    }
    // Half a header, then nothing: answered 408 once the header deadline passes.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: te").unwrap();
    let a = read_answer(&mut s);
    println!("half a header, stalled: {} {}", a.status, a.json()["error"]);
    assert_eq!(a.status, 408);
    assert_answer(&post(addr, "/api/strokes", "application/json", &good), 7);
}

#[test]
fn forty_stalled_clients_do_not_stop_a_good_request() {
    let server = Server::start();
    let stalled: Vec<TcpStream> = (0..40)
        .map(|i| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            if i % 2 == 0 {
                s.write_all(b"POST /api/strokes HTTP/1.1\r\nContent-Le")
                    .unwrap();
            }
            s
        })
        .collect();
    let good = post(
        server.addr,
        "/api/strokes",
        "application/json",
        &strokes_body(&zero()),
    );
    assert_answer(&good, 0);
    // The stalled clients were still held open when the good answer came.
    for s in &stalled {
        s.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let e = (&*s).read(&mut byte).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        s.set_nonblocking(false).unwrap();
    }
    // Then each is closed: 408 for half a header, silence for none.
    for (i, mut s) in stalled.into_iter().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        if i % 2 == 0 {
            assert!(
                all.starts_with(b"HTTP/1.1 408"),
                "{:?}",
                String::from_utf8_lossy(&all)
            );
        } else {
            assert!(all.is_empty());
        }
    }
}

#[test]
fn past_the_connection_cap_the_answer_is_503_at_once() {
    // The server holds 128 connections at once (64 being read by workers, 64 waiting); 160
    // silent clients leave 32 to be refused with 503 at once (which 32 depends on the
    // kernel's accept order).
    let server = Server::start();
    let clients: Vec<TcpStream> = (0..160)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    let mut refused = 0;
    for mut s in clients {
        // The refused get their answer at once, the held ones are closed silently once the
        // header deadline passes.
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        if !all.is_empty() {
            let text = String::from_utf8_lossy(&all);
            assert!(text.starts_with("HTTP/1.1 503"), "{text}");
            assert!(
                text.contains("Retry-After") && text.contains("busy"),
                "{text}"
            );
            refused += 1;
        }
    }
    println!("160 silent clients: {refused} refused with 503");
    assert_eq!(refused, 32);
    // Once they are gone the server answers again.
    assert_eq!(get(server.addr, "/api/model").status, 200);
}

#[test]
fn load_32_clients_a_few_hundred_requests_no_errors() {
    let server = Server::start();
    let addr = server.addr;
    let (clients, each) = (32, 10);
    let bodies = [strokes_body(&seven()), strokes_body(&zero())];
    let png = strokes_png(&seven());
    // One client alone first: the round trip the page sees while drawing.
    let mut alone: Vec<Duration> = (0..20)
        .map(|_| {
            let t = Instant::now();
            let a = post(addr, "/api/strokes", "application/json", &bodies[0]);
            assert_eq!(a.status, 200);
            t.elapsed()
        })
        .collect();
    alone.sort();
    println!(
        "one client: strokes round trip p50 {:.1} ms, max {:.1} ms over 20 requests",
        alone[10].as_secs_f64() * 1e3,
        alone[19].as_secs_f64() * 1e3
    );
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (bodies, png) = (bodies.clone(), png.clone());
            std::thread::spawn(move || {
                let mut times = Vec::new();
                for i in 0..each {
                    let t = Instant::now();
                    let a = match (c + i) % 4 {
                        0 => post(addr, "/api/predict", "image/png", &png),
                        1 => get(addr, "/api/model"),
                        k => post(addr, "/api/strokes", "application/json", &bodies[k % 2]),
                    };
                    times.push(t.elapsed());
                    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
                }
                times
            })
        })
        .collect();
    let mut times: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let wall = start.elapsed();
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "load: {} requests from {clients} clients in {:.2} s: {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms (whole-process, shared machine)",
        times.len(),
        wall.as_secs_f64(),
        times.len() as f64 / wall.as_secs_f64(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    );
    assert_eq!(times.len(), clients * each);
}

#[test]
fn ctrl_c_stops_cleanly_and_other_addresses_warn() {
    let mut server = Server::start_on("0.0.0.0:0", &[]);
    assert_eq!(get(server.addr, "/api/model").status, 200);
    let status = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut stderr = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("warning: serving on 0.0.0.0:"), "{stderr}");
    // A bad address is a one-line error.
    let out = Command::new(env!("CARGO_BIN_EXE_digits-eval"))
        .args([
            "--model",
            model().to_str().unwrap(),
            "--serve",
            "not-an-address",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--serve"), "{err}");
}

// ---- a real browser ---------------------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver command to chromedriver (plain HTTP on loopback); the answer's `value`.
fn wd(driver: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string).unwrap_or_default();
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {driver}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let a = exchange(driver, raw.as_bytes());
    let v = a.json();
    assert_eq!(a.status, 200, "{method} {path}: {v}");
    v["value"].clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = text.bytes().filter(|&c| c != b'=' && c != b'\n').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= u32::from(value(c)) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// One browser window on the page.
struct Browser {
    driver: SocketAddr,
    session: String,
}

impl Browser {
    fn open(driver: SocketAddr, page: &str, profile: &Path, phone: bool) -> Self {
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars", format!("--user-data-dir={}", profile.display()),
                if phone { "--window-size=390,1700" } else { "--window-size=1280,1400" },
            ],
        });
        if phone {
            options["mobileEmulation"] = json!({
                "deviceMetrics": {"width": 390, "height": 1700, "pixelRatio": 2.0, "touch": true}
            });
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options
        }}});
        let v = wd(driver, "POST", "/session", Some(&caps));
        let session = v["sessionId"].as_str().unwrap().to_string();
        let b = Self { driver, session };
        b.cmd("POST", "url", Some(&json!({ "url": page })));
        // The model panel is filled once /api/model has answered.
        b.wait_for(
            "return document.querySelectorAll('#filters canvas').length",
            |v| v.as_u64() == Some(8),
        );
        b
    }

    fn cmd(&self, method: &str, what: &str, body: Option<&Value>) -> Value {
        wd(
            self.driver,
            method,
            &format!("/session/{}/{what}", self.session),
            body,
        )
    }

    fn script(&self, js: &str) -> Value {
        self.cmd(
            "POST",
            "execute/sync",
            Some(&json!({"script": js, "args": []})),
        )
    }

    fn wait_for(&self, js: &str, done: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.script(js);
            if done(&v) {
                return v;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {js}: last {v}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn element(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    /// Draws `strokes` (in the 1000x1000 drawing space) on the pad with real pointer events:
    /// down, moves, up for each stroke, as a mouse or a finger.
    /// Clicks Clear and waits until the page shows neither a digit nor a number.
    fn clear(&self) {
        let clear = self.element("#clear");
        self.cmd("POST", &format!("element/{clear}/click"), Some(&json!({})));
        self.wait_for(
            "const v = document.getElementById('verdict'); return v.dataset.class + v.dataset.number",
            |v| v == "",
        );
    }

    fn draw(&self, strokes: &[Vec<[f64; 2]>], pointer: &str) {
        let pad = self.element("#pad");
        let rect = self.cmd("GET", &format!("element/{pad}/rect"), None);
        let (w, h) = (
            rect["width"].as_f64().unwrap(),
            rect["height"].as_f64().unwrap(),
        );
        let at = |p: &[f64; 2]| {
            let x = ((p[0] / 1000.0 - 0.5) * w).round() as i64;
            let y = ((p[1] / 1000.0 - 0.5) * h).round() as i64;
            (x, y)
        };
        let mut actions = Vec::new();
        for s in strokes {
            let (x, y) = at(&s[0]);
            actions.push(json!({"type": "pointerMove", "origin": {ELEMENT: pad}, "x": x, "y": y, "duration": 0}));
            actions.push(json!({"type": "pointerDown", "button": 0}));
            for p in &s[1..] {
                let (x, y) = at(p);
                actions.push(json!({"type": "pointerMove", "origin": {ELEMENT: pad}, "x": x, "y": y, "duration": 16}));
            }
            actions.push(json!({"type": "pointerUp", "button": 0}));
            actions.push(json!({"type": "pause", "duration": 50}));
        }
        let body = json!({"actions": [{
            "type": "pointer", "id": pointer, "parameters": {"pointerType": pointer},
            "actions": actions,
        }]});
        self.cmd("POST", "actions", Some(&body));
        self.cmd("DELETE", "actions", None);
    }

    fn screenshot(&self, path: &Path) {
        let v = self.cmd("GET", "screenshot", None);
        std::fs::write(path, base64_decode(v.as_str().unwrap())).unwrap();
        println!("screenshot: {}", path.display());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let raw = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            self.session
        );
        if let Ok(mut s) = TcpStream::connect(self.driver) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = s.write_all(raw.as_bytes());
            let _ = read_answer(&mut s);
        }
    }
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_real_browser_draws_a_seven_and_a_zero_and_sees_the_answer() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install -y chromium chromium-driver"
        );
        eprintln!("skipped: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install -y chromium chromium-driver)");
        return;
    }
    let server = Server::start();
    let page = format!("http://{}/", server.addr);
    let port = free_port();
    let driver_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let until = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(driver_addr).is_err() {
        assert!(Instant::now() < until, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for (layout, phone, pointer) in [("desktop", false, "mouse"), ("phone", true, "touch")] {
        let profile = scratch(&format!("chromium-{layout}"));
        let _browser_processes = KillMatching(profile.display().to_string());
        let b = Browser::open(driver_addr, &page, &profile, phone);
        for (strokes, digit, name) in [(seven(), 7, "seven"), (zero(), 0, "zero")] {
            b.draw(&strokes, pointer);
            let want = engine::DIGIT_NAMES[digit];
            let shown = b.wait_for(
                "return [document.getElementById('verdict').dataset.class, document.getElementById('verdict-line').textContent, document.querySelectorAll('#maps canvas').length]",
                |v| v[0] == want,
            );
            println!("{layout}, {name} drawn with {pointer} events: the page shows {shown}");
            assert_eq!(shown[2], 16, "8 maps after ReLU and 8 after pooling");
            b.screenshot(&shots.join(format!("serve-{layout}-{name}.png")));
            b.clear();
        }
        // A number drawn: the page shows what it spells, and each digit.
        b.draw(&seventy(), pointer);
        let shown = b.wait_for(
            "return [document.getElementById('verdict').dataset.number, document.getElementById('verdict').textContent, document.getElementById('verdict-line').textContent]",
            |v| v[0] == "70",
        );
        println!("{layout}, 70 drawn with {pointer} events: the page shows {shown}");
        assert_eq!(shown[1], "70");
        // A bar per digit, not ten bars for the whole picture.
        let bars = b.wait_for(
            "return Array.from(document.querySelectorAll('#bars .name')).map(e => e.textContent)",
            |v| v.as_array().is_some_and(|a| a.len() == 2),
        );
        assert_eq!(bars, json!(["1: Seven", "2: Zero"]));
        assert!(
            shown[2]
                .as_str()
                .unwrap()
                .starts_with("The number 70: Seven "),
            "{shown}"
        );
        b.screenshot(&shots.join(format!("serve-{layout}-seventy.png")));
        b.clear();
        // A photo chosen with the page's file picker takes the /api/predict path.
        let photo = profile.join("seven.png");
        std::fs::write(&photo, strokes_png(&seven())).unwrap();
        let input = b.element("#file");
        b.cmd(
            "POST",
            &format!("element/{input}/value"),
            Some(&json!({"text": photo.to_str().unwrap()})),
        );
        let shown = b.wait_for(
            "return [document.getElementById('verdict').dataset.class, document.getElementById('photo').hidden]",
            |v| v[0] == engine::DIGIT_NAMES[7],
        );
        assert_eq!(shown[1], false, "the photo is shown on the drawing area");
        println!("{layout}, a photo of a seven chosen in the page: {shown}");
        b.screenshot(&shots.join(format!("serve-{layout}-photo.png")));
    }
}
