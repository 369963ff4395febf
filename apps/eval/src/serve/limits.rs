//! What one client may cost the server: sizes, times, connections, and the gate in front of
//! the network.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Connection workers: each reads one request, answers it and closes. A stalled client holds
/// its connection for at most [`HEADER_DEADLINE`] from its arrival (or [`BODY_DEADLINE`] more
/// once its header is in).
pub const WORKERS: usize = 64;

/// Most connections held at once, being answered or waiting for a worker; past it the
/// server answers 503 at once and closes.
pub const MAX_CONNECTIONS: usize = 128;

/// Longest request header (request line and header lines), in bytes: past it, 431.
pub const MAX_HEAD: usize = 16 << 10;

/// Most header lines.
pub const MAX_HEADERS: usize = 48;

/// Largest body, in bytes: a longer `Content-Length` is answered 413 before any of the body
/// is read. Photos from phones fit.
pub const MAX_BODY: usize = 16 << 20;

/// Time from the connection to the end of the request header: a client that sends half a
/// header and stalls (or dribbles it) is answered 408 and closed after this.
pub const HEADER_DEADLINE: Duration = Duration::from_secs(5);

/// Time for the body once the header is in.
pub const BODY_DEADLINE: Duration = Duration::from_secs(30);

/// Longest a blocked write of the answer may wait for a client that does not read.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a request waits for the network before it is answered 503 (busy).
pub const BUSY_WAIT: Duration = Duration::from_secs(10);

/// Most strokes, and most points in all strokes together, in one drawing.
pub const MAX_STROKES: usize = 512;
/// See [`MAX_STROKES`].
pub const MAX_POINTS: usize = 20_000;

/// Largest drawing canvas side the page may claim, in its pixels.
pub const MAX_CANVAS: f64 = 8192.0;

/// At most this many requests run the network at once; the others wait their turn (up to
/// [`BUSY_WAIT`]). Bounds the CPU and memory of decoding and recognising.
pub struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A place in the [`Gate`], given back on drop.
pub struct Pass<'a>(&'a Gate);

impl Gate {
    /// A gate with `slots` places (at least one).
    pub fn new(slots: usize) -> Self {
        Self {
            free: Mutex::new(slots.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Waits up to `wait` for a place; `None` when the server stays busy that long.
    pub fn enter(&self, wait: Duration) -> Option<Pass<'_>> {
        let deadline = Instant::now() + wait;
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            free = self
                .freed
                .wait_timeout(free, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *free -= 1;
        Some(Pass(self))
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_admits_its_slots_and_times_out_past_them() {
        let gate = Gate::new(2);
        let a = gate.enter(Duration::ZERO).unwrap();
        let _b = gate.enter(Duration::ZERO).unwrap();
        assert!(gate.enter(Duration::from_millis(20)).is_none());
        drop(a);
        assert!(gate.enter(Duration::ZERO).is_some());
    }
}
