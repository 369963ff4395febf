//! Downloads from a server this test runs on 127.0.0.1 (never the internet): success, a
//! cache hit with the server gone, mirror fallback, a checksum mismatch, a truncated
//! transfer, no server at all; the cache is checked after each. And Debian's Fashion-MNIST
//! files against the built-in checksums, in place and served.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use datasets::{fetch, md5_hex, Event, Named, Options, Remote};

/// What the server answers for one path.
#[derive(Clone)]
enum Reply {
    /// 200 with these bytes.
    File(Vec<u8>),
    /// 200 announcing the whole length, then half the bytes and a closed connection.
    Truncated(Vec<u8>),
}

struct Server {
    url: String,
    replies: Arc<Mutex<HashMap<String, Reply>>>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    port: u16,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let replies: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, n, s) = (replies.clone(), requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    n.fetch_add(1, Ordering::SeqCst);
                    serve(stream, &r);
                }
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}"),
            replies,
            requests,
            stop,
            thread: Some(thread),
            port,
        }
    }

    fn set(&self, path: &str, reply: Reply) {
        self.replies.lock().unwrap().insert(path.to_string(), reply);
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Stops the server and closes its port: later connections are refused.
    fn stop(mut self) -> String {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.thread.take().unwrap().join().unwrap();
        self.url.clone()
    }
}

fn serve(mut stream: TcpStream, replies: &Mutex<HashMap<String, Reply>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    // Skip the headers.
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
    }
    let reply = replies.lock().unwrap().get(&path).cloned();
    let _ = match reply {
        Some(Reply::File(bytes)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            );
            stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(&bytes))
        }
        Some(Reply::Truncated(bytes)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            );
            stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(&bytes[..bytes.len() / 2]))
        }
        None => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A made-up data set of four files (gzip of 200 kB of noise each, so the download shows
/// progress) with their checksums, served under `/<file>`.
fn toy(name: &'static str) -> (Named, Vec<Vec<u8>>) {
    let names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    let mut contents = Vec::new();
    let files = names.map(|file| {
        let mut state = 0x9e37_79b9u32 ^ file.len() as u32 ^ (file.as_bytes()[1] as u32) << 8;
        let raw: Vec<u8> = (0..200_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let gz = gz.finish().unwrap();
        let r = Remote {
            file,
            md5_gz: leak(md5_hex(&gz)),
            md5_raw: leak(md5_hex(&raw)),
        };
        contents.push(gz);
        r
    });
    (
        Named {
            name,
            files,
            mirrors: &[],
            system_dirs: &[],
            source: "the test",
        },
        contents,
    )
}

fn serve_all(server: &Server, set: &Named, contents: &[Vec<u8>]) {
    for (r, c) in set.files.iter().zip(contents) {
        server.set(&format!("/{}", r.file), Reply::File(c.clone()));
    }
}

fn cache(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("digits-datasets-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn options(cache: &Path, mirrors: &[&str]) -> Options {
    let mut o = Options::in_dir(cache);
    o.mirrors = Some(mirrors.iter().map(|s| s.to_string()).collect());
    o.system_dirs = false;
    o.timeout = std::time::Duration::from_secs(10);
    o
}

/// The files in the cache directory of `set`, sorted (temporary files included).
fn listing(cache: &Path, set: &Named) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache.join(set.name))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn run(set: &Named, options: &Options) -> (datasets::Result<PathBuf>, Vec<String>) {
    let mut events = Vec::new();
    let r = fetch(set, options, &mut |e: Event<'_>| events.push(e.to_string()));
    (r, events)
}

fn sorted_names(set: &Named) -> Vec<String> {
    let mut v: Vec<String> = set.files.iter().map(|r| r.file.to_string()).collect();
    v.sort();
    v
}

#[test]
fn download_then_cache_hit_with_the_server_gone() {
    let (set, contents) = toy("toy-ok");
    let server = Server::start();
    serve_all(&server, &set, &contents);
    let dir = cache("ok");
    let (r, events) = run(&set, &options(&dir, &[&server.url]));
    let got = r.unwrap();
    assert_eq!(got, dir.join("toy-ok"));
    assert_eq!(
        listing(&dir, &set),
        sorted_names(&set),
        "no temporary file left"
    );
    for (r, c) in set.files.iter().zip(&contents) {
        assert_eq!(&std::fs::read(got.join(r.file)).unwrap(), c);
    }
    assert!(events
        .iter()
        .any(|e| e.contains("downloading") && e.contains("bytes)")));
    assert!(
        events
            .iter()
            .any(|e| e.contains(" of ") && e.contains("%)")),
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| e.ends_with("checksum ok")).count(),
        4
    );
    assert_eq!(server.requests(), 4);

    let gone = server.stop();
    let (r, events) = run(&set, &options(&dir, &[&gone]));
    assert_eq!(r.unwrap(), got);
    assert_eq!(events.len(), 4);
    assert!(
        events.iter().all(|e| e.ends_with("cached, checksum ok")),
        "{events:?}"
    );
    assert_eq!(listing(&dir, &set), sorted_names(&set));
}

#[test]
fn the_next_mirror_is_tried_when_one_fails() {
    let (set, contents) = toy("toy-fallback");
    let dead = Server::start().stop();
    let empty = Server::start(); // answers 404 for everything
    let good = Server::start();
    serve_all(&good, &set, &contents);
    let dir = cache("fallback");
    let (r, events) = run(&set, &options(&dir, &[&dead, &empty.url, &good.url]));
    r.unwrap();
    assert_eq!(listing(&dir, &set), sorted_names(&set));
    let failed: Vec<&String> = events
        .iter()
        .filter(|e| e.contains("trying the next mirror"))
        .collect();
    assert_eq!(failed.len(), 8, "{events:?}");
    assert!(failed.iter().any(|e| e.contains("404")), "{failed:?}");
}

#[test]
fn a_checksum_mismatch_names_the_file_and_keeps_nothing() {
    let (set, contents) = toy("toy-mismatch");
    let server = Server::start();
    serve_all(&server, &set, &contents);
    let mut bad = contents[2].clone();
    let n = bad.len();
    bad[n / 2] ^= 1;
    server.set("/t10k-images-idx3-ubyte.gz", Reply::File(bad));
    let dir = cache("mismatch");
    let (r, _) = run(&set, &options(&dir, &[&server.url]));
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("t10k-images-idx3-ubyte.gz of toy-mismatch"),
        "{e}"
    );
    assert!(e.contains("fails its checksum"), "{e}");
    assert!(!e.contains('\n'));
    // The two files before it are in the cache, checked; the bad one is not, nor a part.
    assert_eq!(
        listing(&dir, &set),
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    );
    // Fixed on the server: the next run fetches only what is missing.
    serve_all(&server, &set, &contents);
    let before = server.requests();
    let (r, events) = run(&set, &options(&dir, &[&server.url]));
    r.unwrap();
    assert_eq!(server.requests() - before, 2);
    assert_eq!(events.iter().filter(|e| e.contains("cached")).count(), 2);
}

#[test]
fn a_truncated_transfer_keeps_nothing() {
    let (set, contents) = toy("toy-truncated");
    let server = Server::start();
    serve_all(&server, &set, &contents);
    server.set(
        "/train-images-idx3-ubyte.gz",
        Reply::Truncated(contents[0].clone()),
    );
    let dir = cache("truncated");
    let (r, _) = run(&set, &options(&dir, &[&server.url]));
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("cannot download train-images-idx3-ubyte.gz of toy-truncated"),
        "{e}"
    );
    assert!(
        e.contains("transfer broke") || e.contains("truncated"),
        "{e}"
    );
    assert!(listing(&dir, &set).is_empty(), "{:?}", listing(&dir, &set));
}

#[test]
fn no_server_says_how_to_give_the_files_by_hand() {
    let (set, _) = toy("toy-gone");
    let gone = Server::start().stop();
    let dir = cache("gone");
    let (r, _) = run(&set, &options(&dir, &[&gone]));
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("cannot download train-images-idx3-ubyte.gz of toy-gone"),
        "{e}"
    );
    assert!(e.contains("use --data idx:DIR"), "{e}");
    assert!(!e.contains('\n'));
    assert!(listing(&dir, &set).is_empty());
}

#[test]
fn a_damaged_cached_file_is_replaced() {
    let (set, contents) = toy("toy-damaged");
    let server = Server::start();
    serve_all(&server, &set, &contents);
    let dir = cache("damaged");
    run(&set, &options(&dir, &[&server.url])).0.unwrap();
    let path = dir.join("toy-damaged").join("t10k-labels-idx1-ubyte.gz");
    std::fs::write(&path, b"damaged").unwrap();
    let (r, events) = run(&set, &options(&dir, &[&server.url]));
    r.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), contents[3]);
    assert_eq!(events.iter().filter(|e| e.contains("cached")).count(), 3);
}

const DEBIAN: &str = "/usr/share/datasets/fashion-mnist";

/// Debian's Fashion-MNIST files, or None (skipped with a note; in CI, where `.ci/run`
/// installs the package, their absence fails).
fn debian_files() -> Option<Vec<Vec<u8>>> {
    let set = datasets::FASHION_MNIST;
    if !Path::new(DEBIAN).join(set.files[0].file).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {DEBIAN} is missing (apt-get install dataset-fashion-mnist)"
        );
        eprintln!("note: skipped: {DEBIAN} is missing (apt-get install dataset-fashion-mnist)");
        return None;
    }
    Some(
        set.files
            .iter()
            .map(|r| std::fs::read(Path::new(DEBIAN).join(r.file)).unwrap())
            .collect(),
    )
}

#[test]
fn debians_fashion_mnist_passes_the_built_in_checksums_in_place() {
    if debian_files().is_none() {
        return;
    }
    let dir = cache("debian");
    let mut o = Options::in_dir(&dir);
    o.mirrors = Some(Vec::new()); // no download possible
    let set = datasets::FASHION_MNIST;
    let (r, events) = run(&set, &o);
    assert_eq!(r.unwrap(), Path::new(DEBIAN));
    assert_eq!(events, [format!("using the checked files in {DEBIAN}")]);
    assert!(!dir.exists(), "nothing written to the cache");
}

#[test]
fn debians_fashion_mnist_served_from_127_0_0_1_passes_and_is_cached() {
    let Some(contents) = debian_files() else {
        return;
    };
    let set = datasets::FASHION_MNIST;
    let server = Server::start();
    serve_all(&server, &set, &contents);
    let dir = cache("debian-served");
    let (r, events) = run(&set, &options(&dir, &[&server.url]));
    assert_eq!(r.unwrap(), dir.join("fashion-mnist"));
    assert_eq!(
        events.iter().filter(|e| e.ends_with("checksum ok")).count(),
        4
    );
    assert_eq!(listing(&dir, &set), sorted_names(&set));
    let gone = server.stop();
    let (r, events) = run(&set, &options(&dir, &[&gone]));
    r.unwrap();
    assert!(events.iter().all(|e| e.contains("cached")), "{events:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
