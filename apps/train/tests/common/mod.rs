//! What the tests of the `digits-train` binary share: scratch directories, running the
//! binary, and the one-line-error check.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("digits-train-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary, ready to take arguments.
pub fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_digits-train"))
}

/// Runs the binary with `args` (and `RAYON_NUM_THREADS` when `threads` is given).
pub fn train<S: AsRef<std::ffi::OsStr>>(args: &[S], threads: Option<usize>) -> Output {
    let mut cmd = command();
    cmd.args(args);
    if let Some(t) = threads {
        cmd.env("RAYON_NUM_THREADS", t.to_string());
    }
    cmd.output().unwrap()
}

/// Runs the binary and returns its stdout, failing the test on a non-zero exit.
pub fn run_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = train(args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts a failed run: non-zero exit, exactly one line on stderr containing `needle`, no
/// panic.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr:?}"
    );
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A quick run: 1 epoch of 1,000 synthetic images, tested on 200, written to `out`.
pub fn small_run(out: &Path) -> Vec<String> {
    [
        "--epochs",
        "1",
        "--train-size",
        "1000",
        "--test-size",
        "200",
        "--out",
    ]
    .map(String::from)
    .into_iter()
    .chain([out.display().to_string()])
    .collect()
}
