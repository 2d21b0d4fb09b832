//! Raw HTTP/1.1 exchanges over a plain `TcpStream`: any bytes out (malformed request lines,
//! repeated or oddly cased headers, pipelined requests, upgrades), the whole answer back.
//! For tests that need requests an HTTP client library would refuse to send.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Sends `bytes` on a new connection and reads until the server closes the connection or
/// `patience` passes without a byte (then returns what arrived: a piped connection may stay
/// open). Send `Connection: close` to get the answer promptly.
pub fn exchange(addr: SocketAddr, bytes: &[u8], patience: Duration) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, patience)?;
    stream.set_read_timeout(Some(patience))?;
    stream.write_all(bytes)?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(answer),
            Ok(read) => answer.extend_from_slice(&chunk[..read]),
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(answer)
            }
            Err(error) => return Err(error),
        }
    }
}

/// The status code of the first answer in `answer` (`HTTP/1.x NNN ...`), if it has one.
pub fn status(answer: &[u8]) -> Option<u16> {
    let rest = answer.strip_prefix(b"HTTP/1.")?.get(2..5)?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::status;

    #[test]
    fn status_reads_the_first_status_line_only() {
        assert_eq!(status(b"HTTP/1.1 404 Not Found\r\n\r\n"), Some(404));
        assert_eq!(status(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(status(b"HTTP/1.1 2"), None);
        assert_eq!(status(b"garbage"), None);
        assert_eq!(status(b""), None);
    }
}
