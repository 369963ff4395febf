//! `--serve [ADDR]`: a local web page to draw a digit on (or drop a photo) and watch the
//! network see it, and the JSON API behind it ([`api`]), until Ctrl-C.
//!
//! The server cannot be knocked over or used to reach the disk:
//! - one thread accepts; a fixed pool of [`limits::WORKERS`] workers each reads one request
//!   and answers it; past [`limits::MAX_CONNECTIONS`] connections held at once, 503 at once;
//! - deadlines for the header and the body, a write timeout, a header and body limit (413
//!   from `Content-Length`, before the body is read), the picture decoder's own limits;
//! - at most as many requests as cores run the network at once ([`limits::Gate`]);
//! - the page is compiled in and the model loaded once: no request reads or writes a file.

mod api;
mod http;
mod limits;
mod strokes;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::flags::Cli;
use crate::loaded::Loaded;

use self::api::App;
use self::http::{Refused, Response};

/// How often the accepting thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(10);

/// Serves the page and the API on `addr` until Ctrl-C (or SIGTERM), then lets the workers
/// finish the requests they hold and returns.
pub fn run(cli: &Cli, m: Loaded, addr: SocketAddr) -> Result<()> {
    vision::check_model(&m.saved.spec)?;
    let listener =
        TcpListener::bind(addr).with_context(|| format!("--serve: cannot listen on {addr}"))?;
    let local = listener
        .local_addr()
        .context("--serve: reading the bound address")?;
    listener
        .set_nonblocking(true)
        .context("--serve: setting up the listening socket")?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // A second Ctrl-C while the workers finish stops at once.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .context("installing the Ctrl-C handler")?;
    }
    // As many at once as there are worker threads (`--threads`, else the cores), at most 8.
    let slots = rayon::current_num_threads().clamp(1, 8);
    println!("{}", m.describe(cli));
    let settings = m.verdict_settings(cli, true);
    // The page links to the model's report, drawn once now from its own test set.
    let (data, desc) = m.test_data(cli)?;
    let options = crate::html_report::Options {
        model_name: cli.model.display().to_string(),
        progress: true,
        ..Default::default()
    };
    let report = crate::html_report::render(&m, &data, &desc, &options)?;
    let app = Arc::new(App::new(m, settings, slots, report));
    if !local.ip().is_loopback() {
        eprintln!(
            "warning: serving on {local}, which other machines can reach; the default 127.0.0.1 keeps the page on this machine"
        );
    }
    let host = if local.ip().is_unspecified() {
        SocketAddr::new([127, 0, 0, 1].into(), local.port())
    } else {
        local
    };
    println!("serving on http://{host}/ (Ctrl-C stops)");

    // Connections accepted and not yet closed: counted here, not by the queue's room, so the
    // cap holds however many workers are ready.
    let held = Arc::new(AtomicUsize::new(0));
    let (queue, waiting) = mpsc::sync_channel::<(TcpStream, Instant)>(limits::MAX_CONNECTIONS);
    let waiting = Arc::new(Mutex::new(waiting));
    let workers = (0..limits::WORKERS)
        .map(|i| {
            let (app, waiting, held) = (Arc::clone(&app), Arc::clone(&waiting), Arc::clone(&held));
            thread::Builder::new()
                .name(format!("serve-{i}"))
                .spawn(move || loop {
                    let next = waiting
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .recv();
                    match next {
                        Ok((stream, accepted)) => {
                            serve_one(&app, stream, accepted);
                            held.fetch_sub(1, Ordering::SeqCst);
                        }
                        Err(_) => break,
                    }
                })
                .context("starting the server's workers")
        })
        .collect::<Result<Vec<_>>>()?;

    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(false).is_err() {
                    continue;
                }
                let busy = || {
                    Response::error(503, "the server is busy; try again in a moment")
                        .with("Retry-After", "1")
                };
                if held.load(Ordering::SeqCst) >= limits::MAX_CONNECTIONS {
                    http::refuse(stream, &busy());
                    continue;
                }
                held.fetch_add(1, Ordering::SeqCst);
                match queue.try_send((stream, Instant::now())) {
                    Ok(()) => {}
                    Err(TrySendError::Full((stream, _))) => {
                        held.fetch_sub(1, Ordering::SeqCst);
                        http::refuse(stream, &busy());
                    }
                    Err(TrySendError::Disconnected(_)) => break,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => thread::sleep(POLL),
            // Out of file descriptors or a connection reset before accept: wait, go on.
            Err(_) => thread::sleep(POLL),
        }
    }
    println!("stopping: finishing the requests in hand");
    drop(queue);
    for w in workers {
        let _ = w.join();
    }
    println!("stopped");
    Ok(())
}

/// Reads one request from `stream` (accepted at `accepted`, from when its deadlines count),
/// answers it and closes the connection.
fn serve_one(app: &App, mut stream: TcpStream, accepted: Instant) {
    let response = match http::read_request(&mut stream, accepted) {
        Ok(req) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app.handle(&req)))
            .unwrap_or_else(|_| Response::error(500, "internal error")),
        Err(Refused::Answer(r)) => r,
        Err(Refused::Silent) => return,
    };
    http::respond(stream, &response);
}
