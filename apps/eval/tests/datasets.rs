//! `--data fashion-mnist` through the real binary: downloaded from a mirror this test runs on
//! 127.0.0.1 (Debian's copy of the files, which must pass the built-in checksums), cached,
//! then used offline; and the one-line error when no mirror answers. Never the internet.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DEBIAN: &str = "/usr/share/datasets/fashion-mnist";

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("digits-eval-data-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Serves the files of `dir` on 127.0.0.1 for `connections` requests, then stops.
fn serve(dir: &'static str, connections: usize) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let thread = std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let mut stream: TcpStream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let name = line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
            }
            let body = std::fs::read(Path::new(dir).join(&name)).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(&body));
        }
    });
    (url, thread)
}

fn eval(cache: &Path, mirror: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_digits-eval"))
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .env("DIGITS_DATA_MIRROR", mirror)
        .output()
        .unwrap()
}

fn model(dir: &Path) -> PathBuf {
    let spec = nn::ModelSpec::seed();
    let net = spec.build(1).unwrap();
    let path = dir.join("model.json");
    std::fs::write(
        &path,
        nn::SavedModel::new(&spec, &net, Default::default())
            .to_json()
            .unwrap(),
    )
    .unwrap();
    path
}

#[test]
fn fashion_mnist_by_name_downloads_once_then_works_offline() {
    if !Path::new(DEBIAN).join("t10k-images-idx3-ubyte.gz").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {DEBIAN} is missing"
        );
        eprintln!("note: skipped: {DEBIAN} is missing (apt-get install dataset-fashion-mnist)");
        return;
    }
    let dir = scratch("fashion");
    let cache = dir.join("cache");
    let m = model(&dir);
    let m = m.to_str().unwrap();
    let (url, server) = serve(DEBIAN, 4);
    let args = [
        "--model",
        m,
        "--data",
        "fashion-mnist",
        "--classes",
        "fashion",
        "--count",
        "200",
        "--samples",
        "0",
    ];
    let out = eval(&cache, &url, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    server.join().unwrap();
    for name in ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        assert!(
            stderr.contains(&format!("fashion-mnist: {name}: downloading {url}{name}")),
            "{stderr}"
        );
        assert!(cache.join("digits/fashion-mnist").join(name).is_file());
    }
    assert_eq!(stderr.matches("checksum ok").count(), 4, "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("fashion-mnist test files in"), "{stdout}");
    assert!(stdout.contains("200 test images"), "{stdout}");

    // The server is gone (it took its 4 connections): the cache serves.
    let out = eval(&cache, &url, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("cached, checksum ok").count(), 4, "{stderr}");
    assert!(!stderr.contains("downloading"));
}

#[test]
fn no_mirror_is_a_one_line_error_saying_how_to_give_the_files() {
    let dir = scratch("nomirror");
    let m = model(&dir);
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/", l.local_addr().unwrap().port())
    };
    let out = eval(
        &dir.join("cache"),
        &dead,
        &[
            "--model",
            m.to_str().unwrap(),
            "--data",
            "mnist",
            "--count",
            "10",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    let error = stderr.trim_end();
    assert!(
        error.contains("--data mnist: cannot download train-images-idx3-ubyte.gz of mnist"),
        "{error}"
    );
    assert!(error.contains("use --data idx:DIR"), "{error}");
    assert!(
        std::fs::read_dir(dir.join("cache/digits/mnist"))
            .unwrap()
            .next()
            .is_none(),
        "nothing left in the cache"
    );
}
