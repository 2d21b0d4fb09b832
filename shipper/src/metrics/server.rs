//! The metrics server's HTTP: one thread, one connection at a time, `GET /metrics` (and
//! `HEAD`) answered with the exposition, anything else with 404 or 405, every connection
//! closed after one answer. A scraper needs nothing more, and a hand-written loop over
//! `std::net` keeps an HTTP stack out of the daemon.
//!
//! A client that sends nothing or reads nothing is given up after [`CLIENT_TIMEOUT`], so one
//! stuck connection delays other scrapes by at most that, and never the pipeline: this thread
//! only reads the shared counters.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;

/// How long a client may take to send its request or read the answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause after a failed accept.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The most of a request that is read: a request line and a few headers.
const REQUEST_LIMIT: usize = 8192;

/// Answers connections on `listener` until the process ends.
pub fn serve(listener: &TcpListener, registry: &Registry) {
    for stream in listener.incoming() {
        match stream {
            // A client that goes away or stalls mid-answer is its own problem.
            Ok(stream) => {
                let _ = answer(stream, registry);
            }
            // A failed accept (a connection reset before it was taken, too many open files)
            // passes or persists; a pause keeps the latter from spinning a core.
            Err(_) => std::thread::sleep(ACCEPT_PAUSE),
        }
    }
}

/// Reads one request from `stream` and writes the answer.
fn answer(mut stream: TcpStream, registry: &Registry) -> std::io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let request = read_head(&mut stream)?;
    let response = respond(&request, registry);
    stream.write_all(&response)?;
    stream.flush()
}

/// Reads until the end of the request's head (an empty line), the limit, or the end of input.
fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut request = Vec::with_capacity(512);
    let mut chunk = [0_u8; 1024];
    while request.len() < REQUEST_LIMIT && !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        request.extend_from_slice(&chunk[..read]);
    }
    Ok(request)
}

/// The whole HTTP answer to `request`.
pub fn respond(request: &[u8], registry: &Registry) -> Vec<u8> {
    let line = request
        .split(|&byte| byte == b'\r' || byte == b'\n')
        .next()
        .unwrap_or_default();
    let mut words = line.split(|&byte| byte == b' ');
    let method = words.next().unwrap_or_default();
    let target = words.next().unwrap_or_default();
    let path = target
        .split(|&byte| byte == b'?')
        .next()
        .unwrap_or_default();
    if path != b"/metrics" {
        return plain("404 Not Found", "not found: metrics are at /metrics\n");
    }
    let head_only = match method {
        b"GET" => false,
        b"HEAD" => true,
        _ => return plain("405 Method Not Allowed", "only GET and HEAD\n"),
    };
    let mut body = String::with_capacity(16 * 1024);
    if prometheus_text::encode(&mut body, registry).is_err() {
        return plain(
            "500 Internal Server Error",
            "the metrics could not be encoded\n",
        );
    }
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        prometheus_text::CONTENT_TYPE,
        body.len()
    )
    .into_bytes();
    if !head_only {
        response.extend_from_slice(body.as_bytes());
    }
    response
}

fn plain(status: &str, text: &str) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        text.len()
    )
    .into_bytes();
    response.extend_from_slice(text.as_bytes());
    response
}
