//! Fault injection: `train` killed with SIGKILL at random moments never leaves a damaged
//! model. After every kill the model file is either the previous model or the new one,
//! complete and loadable (the save writes a temporary file, flushes it and renames it).
// See: issue #9 (atomic, durable saves).

mod common;

use std::path::Path;

use common::scratch;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 40;

fn command(out: &Path, seed: u64) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_digits-train"));
    cmd.args([
        "--epochs",
        "2",
        "--train-size",
        "2000",
        "--test-size",
        "200",
        // No outlier pool to draw: the writes of the model file are what this test is
        // about, and the pool only lengthens every run.
        "--outliers",
        "0",
        "--seed",
    ])
    .arg(seed.to_string())
    .arg("--out")
    .arg(out)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

/// xorshift64*: the test's own delays, reproducible from a fixed seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn issue_9_sigkill_at_random_moments_never_damages_the_model() {
    let dir = scratch("kill");
    let model = dir.join("model.json");
    // The two models the file may legitimately hold: one per seed, from complete runs. The
    // delays below scale with the shortest of three complete runs (the first run of a
    // process on a cold machine is the slowest, and the training may be fast), so most runs
    // are killed on a fast machine and a slow one alike.
    let mut reference = Vec::new();
    let mut full_run = Duration::MAX;
    for seed in [1, 2, 1] {
        let path = dir.join(format!("ref{seed}.json"));
        let started = Instant::now();
        assert!(command(&path, seed).status().unwrap().success());
        full_run = full_run.min(started.elapsed());
        if reference.len() < 2 {
            reference.push(std::fs::read(&path).unwrap());
        }
    }
    std::fs::write(&model, &reference[0]).unwrap();

    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let (mut killed, mut finished, mut replaced) = (0, 0, 0);
    for run in 0..RUNS {
        let seed = 1 + (run as u64 % 2);
        let before = std::fs::read(&model).unwrap();
        let mut child = command(&model, seed).spawn().unwrap();
        // Anywhere from the start to well past the shortest whole run.
        let delay = full_run.mul_f64((next(&mut state) % 1400) as f64 / 1000.0);
        std::thread::sleep(delay);
        match child.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success(), "run {run} failed on its own: {status}");
                finished += 1;
            }
            None => {
                child.kill().unwrap();
                child.wait().unwrap();
                killed += 1;
            }
        }
        let after = std::fs::read(&model).unwrap();
        assert!(
            after == reference[0] || after == reference[1],
            "run {run}: the model file is neither complete model ({} bytes)",
            after.len()
        );
        let saved = nn::SavedModel::from_json(std::str::from_utf8(&after).unwrap()).unwrap();
        saved.build().unwrap();
        if after != before {
            replaced += 1;
        }
    }
    println!("{RUNS} runs: {killed} killed, {finished} finished, {replaced} replaced the model");
    // Not a timing check: it only makes sure the test killed runs at all (a test whose
    // delays all came too late would prove nothing).
    assert!(
        killed >= RUNS / 4,
        "only {killed} of {RUNS} runs were killed: the delays are too long"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
