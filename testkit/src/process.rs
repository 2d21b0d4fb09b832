//! What the guards of started servers share: waiting until a freshly started process answers
//! (or fails with its log's tail when it exits or takes too long), and that tail.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// The last 20 lines of the log at `path` (empty if it cannot be read), for failure messages.
pub(crate) fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// How to wait for one started server.
pub(crate) struct Readiness<'a> {
    /// Its name in messages.
    pub(crate) name: &'a str,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Its log, whose tail a failure shows.
    pub(crate) log: &'a Path,
    /// How long it may take.
    pub(crate) timeout: Duration,
    /// The pause between two probes.
    pub(crate) pause: Duration,
}

impl Readiness<'_> {
    /// Probes with `answers` until it holds; fails if `child` exits first or the timeout
    /// passes.
    pub(crate) fn wait(
        &self,
        child: &mut Child,
        mut answers: impl FnMut() -> bool,
    ) -> io::Result<()> {
        let Readiness {
            name,
            addr,
            log,
            timeout,
            pause,
        } = *self;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "{name} exited with {status} before it answered on {addr}: {}",
                    log_tail(log)
                )));
            }
            if answers() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{name} did not answer on {addr} within {timeout:?}: {}",
                        log_tail(log)
                    ),
                ));
            }
            std::thread::sleep(pause);
        }
    }
}
