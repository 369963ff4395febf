//! HTTP/1.1 on one connection: read one request within the limits, write one answer, close.
//!
//! The request line and header lines are parsed by `httparse`; everything about the socket
//! (deadlines, sizes, closing) is decided here. Every answer closes the connection, so a
//! client can never hold a worker between requests.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::limits::{
    BODY_DEADLINE, HEADER_DEADLINE, MAX_BODY, MAX_HEAD, MAX_HEADERS, WRITE_TIMEOUT,
};

/// One request, read in full.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The body (empty without one).
    pub body: Vec<u8>,
}

/// One answer.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra header lines, such as `Allow`.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// `value` as JSON with `status`.
    pub fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: value.to_string().into_bytes(),
        }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::json(status, &json!({ "error": message.into() }))
    }

    /// A compiled-in file.
    pub fn asset(content_type: &'static str, body: &'static str) -> Self {
        Self {
            status: 200,
            content_type,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    /// Adds a header line.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The reason phrase of the codes this server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Why no request came: the client left without a word (no answer), or an answer to send.
#[derive(Debug)]
pub enum Refused {
    /// The connection closed (or timed out) before a byte of a request.
    Silent,
    /// Answer this and close.
    Answer(Response),
}

/// Least time a worker gives a connection it takes from the queue to show its request.
const QUEUED_GRACE: Duration = Duration::from_millis(100);

/// Time left until `deadline`, or a 408 once it has passed.
fn left(deadline: Instant) -> Result<Duration, Refused> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(Refused::Answer(Response::error(
            408,
            "request timeout: the request did not arrive in time",
        ))),
    }
}

/// Reads into `buf` once, waiting no later than `deadline`; `Ok(0)` at the end of the stream.
fn read_some(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<usize, Refused> {
    loop {
        stream
            .set_read_timeout(Some(left(deadline)?))
            .map_err(|_| Refused::Silent)?;
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // Loop: `left` turns an expired deadline into 408.
                continue;
            }
            Err(_) => return Err(Refused::Silent),
        }
    }
}

/// Reads one request from `stream` within [`HEADER_DEADLINE`] of `accepted` for the header
/// (time spent waiting for a worker counts) and [`BODY_DEADLINE`] for the body, refusing an
/// oversized header (431) or body (413, decided from `Content-Length` before any of the body
/// is read).
pub fn read_request(stream: &mut TcpStream, accepted: Instant) -> Result<Request, Refused> {
    // A request that waited its whole deadline in the queue still gets a moment to be read:
    // it may be sitting complete in the socket.
    let head_deadline = (accepted + HEADER_DEADLINE).max(Instant::now() + QUEUED_GRACE);
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = match read_some(stream, &mut chunk, head_deadline) {
            Err(Refused::Answer(_)) if buf.is_empty() => return Err(Refused::Silent),
            other => other?,
        };
        if n == 0 {
            return Err(if buf.is_empty() {
                Refused::Silent
            } else {
                Refused::Answer(Response::error(400, "the request ended inside its header"))
            });
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = find(&buf[from..], b"\r\n\r\n") {
            break from + at + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(Refused::Answer(Response::error(
                431,
                format!("request header longer than {} KiB", MAX_HEAD >> 10),
            )));
        }
    };
    if head_end > MAX_HEAD {
        return Err(Refused::Answer(Response::error(
            431,
            format!("request header longer than {} KiB", MAX_HEAD >> 10),
        )));
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&buf[..head_end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Refused::Answer(Response::error(
                400,
                "malformed request header",
            )))
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refused::Answer(Response::error(
                431,
                format!("more than {MAX_HEADERS} header lines"),
            )))
        }
        Err(e) => {
            return Err(Refused::Answer(Response::error(
                400,
                format!("malformed request: {e}"),
            )))
        }
    }
    let method = parsed.method.unwrap_or_default().to_string();
    let target = parsed.path.unwrap_or_default();
    let path = target
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string();
    let mut length: Option<usize> = None;
    let mut expect_continue = false;
    for h in parsed.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Refused::Answer(Response::error(
                411,
                "chunked bodies are not accepted: send the body with a Content-Length",
            )));
        }
        if h.name.eq_ignore_ascii_case("expect") {
            expect_continue = h.value.eq_ignore_ascii_case(b"100-continue");
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    Refused::Answer(Response::error(400, "Content-Length is not a number"))
                })?;
            let value = usize::try_from(value).unwrap_or(usize::MAX);
            if length.is_some_and(|l| l != value) {
                return Err(Refused::Answer(Response::error(
                    400,
                    "two different Content-Length headers",
                )));
            }
            length = Some(value);
        }
    }
    let length = match length {
        Some(n) => n,
        None if method == "POST" || method == "PUT" => {
            return Err(Refused::Answer(Response::error(
                411,
                "a POST needs a Content-Length",
            )))
        }
        None => 0,
    };
    if length > MAX_BODY {
        return Err(Refused::Answer(Response::error(
            413,
            format!(
                "the body is {length} bytes; at most {} MiB are accepted",
                MAX_BODY >> 20
            ),
        )));
    }
    let mut body = buf.split_off(head_end);
    body.truncate(length);
    if body.len() < length && expect_continue {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let body_deadline = Instant::now() + BODY_DEADLINE;
    body.reserve_exact(length - body.len());
    while body.len() < length {
        let want = (length - body.len()).min(chunk.len());
        let n = read_some(stream, &mut chunk[..want], body_deadline)?;
        if n == 0 {
            return Err(Refused::Answer(Response::error(
                400,
                format!("the body ended after {} of {length} bytes", body.len()),
            )));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Request { method, path, body })
}

/// Where `needle` starts in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Writes `response` (headers that keep the page self-contained and uncached) and closes the
/// connection, reading off what the client still sends for a moment so the answer is not
/// lost to a reset.
pub fn respond(mut stream: TcpStream, response: &Response) {
    if write(&mut stream, response, WRITE_TIMEOUT).is_err() {
        return;
    }
    // Linger briefly: closing with unread bytes would reset the connection and could drop
    // the answer (413 before the body, for one).
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 8192];
    let mut drained = 0usize;
    while drained < (1 << 20) {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Writes a short `response` and closes at once, without lingering: for the accepting
/// thread, which must not wait on any client.
pub fn refuse(mut stream: TcpStream, response: &Response) {
    let _ = write(&mut stream, response, Duration::from_millis(200));
}

/// Writes the status line, headers and body, then ends the sending side.
fn write(stream: &mut TcpStream, response: &Response, timeout: Duration) -> std::io::Result<()> {
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()?;
    stream.shutdown(Shutdown::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_locates_the_end_of_the_header() {
        assert_eq!(find(b"GET / HTTP/1.1\r\n\r\nbody", b"\r\n\r\n"), Some(14));
        assert_eq!(find(b"GET / HTTP/1.1\r\n", b"\r\n\r\n"), None);
    }

    #[test]
    fn every_status_sent_has_a_reason() {
        for s in [200, 400, 404, 405, 408, 411, 413, 415, 422, 431, 500, 503] {
            assert!(!reason(s).is_empty(), "{s}");
        }
    }
}
