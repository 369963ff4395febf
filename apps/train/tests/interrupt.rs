//! Ctrl-C: the first SIGINT finishes the current step, writes a checkpoint and exits with
//! status 130; resuming from it gives the model an uninterrupted run gives.
// See: issue #9 (interrupt handling).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("digits-train-int-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn args(out: &Path) -> Vec<String> {
    [
        "--epochs",
        "3",
        "--train-size",
        "20000",
        "--test-size",
        "500",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

#[test]
fn issue_9_ctrl_c_checkpoints_and_resume_matches_an_uninterrupted_run() {
    let dir = scratch("sigint");
    let (straight, resumed) = (dir.join("straight.json"), dir.join("resumed.json"));
    let status = Command::new(env!("CARGO_BIN_EXE_digits-train"))
        .args(args(&straight))
        .output()
        .unwrap();
    assert!(status.status.success());

    let mut child = Command::new(env!("CARGO_BIN_EXE_digits-train"))
        .args(args(&resumed))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt as soon as the first epoch is reported: the run is then in epoch 2.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("epoch 1/3") {
            break;
        }
    }
    // SAFETY: kill(2) with a live child's pid and SIGINT has no memory-safety preconditions.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        // The run finished before the signal arrived: nothing to resume; the model must
        // still be the uninterrupted one.
        println!("the run ended before the interrupt arrived");
        assert_eq!(
            std::fs::read(&straight).unwrap(),
            std::fs::read(&resumed).unwrap()
        );
        return;
    }
    println!("{stderr}");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted in epoch") || stderr.contains("interrupted after epoch"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let checkpoint = dir.join("resumed.ckpt.json");
    assert!(checkpoint.exists(), "no checkpoint: {stderr}");
    assert!(!resumed.exists(), "an interrupted run wrote a model");

    // The checkpoint alone restores every setting, --out included.
    let out = Command::new(env!("CARGO_BIN_EXE_digits-train"))
        .args(["--resume", checkpoint.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&straight).unwrap(),
        std::fs::read(&resumed).unwrap(),
        "resumed model differs from the uninterrupted one"
    );
    assert!(!checkpoint.exists(), "the finished run left its checkpoint");
}
