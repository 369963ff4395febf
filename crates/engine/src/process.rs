//! Process settings shared by the `train` and `eval` commands.

/// Prepares a command-line process: call it first thing in `main`, before any other thread
/// exists. Restores SIGPIPE's default action, so a closed pipe (`eval | head`) ends the
/// process quietly, and asks the C allocator to keep freed memory for reuse (glibc only; see
/// `keep_freed_memory` in the source).
pub fn setup_process() {
    restore_sigpipe();
    keep_freed_memory();
}

/// Lets a closed pipe (`eval | head`) end the process quietly, as it does for other
/// command-line tools, instead of making `print!` panic. Rust ignores SIGPIPE by default.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists; it only resets
    // the disposition of SIGPIPE to the default action, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Asks the C allocator to keep freed memory for reuse instead of handing it back to the
/// operating system. Call it once, at the start of a program that trains layer by layer.
///
/// Each step of the layer-by-layer path frees and reallocates the same multi-megabyte
/// activations. With glibc's defaults the freed top of the heap goes back to the kernel
/// and is faulted in (and zeroed by the kernel) again on the next step: about 7% of a
/// LeNet-style training step on one thread, measured. Here allocations below 32 MiB come
/// from the heap and up to 256 MiB of free heap is kept. The peak memory is unchanged: the
/// same buffers are reused. Elsewhere than on glibc this does nothing.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes two tuning parameters of glibc's allocator, which
    // takes its own lock; it is called with valid option constants and values.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeping_freed_memory_leaves_allocation_working() {
        super::keep_freed_memory();
        let big = vec![1.0f32; 4 << 20];
        assert_eq!(big.iter().sum::<f32>(), (4 << 20) as f32);
    }
}
