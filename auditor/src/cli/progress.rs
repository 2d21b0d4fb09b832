//! A one-line progress indicator on stderr, shown only on a terminal and only once the input
//! is large enough for the wait to be noticed.

use std::io::{self, Write};
use std::time::{Duration, Instant};

/// The indicator's state.
pub(super) struct Progress {
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
    shown: bool,
}

impl Progress {
    /// Bytes of files from which progress is worth showing.
    const LARGE_BYTES: u64 = 64 << 20;
    /// Kafka messages from which progress is worth showing.
    const LARGE_MESSAGES: u64 = 200_000;
    /// Least time between two updates.
    const EVERY: Duration = Duration::from_millis(500);

    /// An indicator that shows only when `enabled` (stderr is a terminal and not `--quiet`).
    pub(super) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            started: Instant::now(),
            last: None,
            shown: false,
        }
    }

    /// `count` Kafka messages read so far.
    pub(super) fn messages(&mut self, count: u64) {
        if !self.enabled || count < Self::LARGE_MESSAGES || !self.due() {
            return;
        }
        let line = self.rate(count);
        self.show(&line);
    }

    /// `lines` lines and `bytes` bytes of files read so far, of `total` bytes when the sizes
    /// are known.
    pub(super) fn bytes(&mut self, lines: u64, bytes: u64, total: Option<u64>) {
        let large = bytes >= Self::LARGE_BYTES || total.is_some_and(|t| t >= Self::LARGE_BYTES);
        if !self.enabled || !large || !self.due() {
            return;
        }
        let mut line = self.rate(lines);
        line.push_str(&format!(", {:.0} MiB", bytes as f64 / 1048576.0));
        if let Some(t) = total.filter(|&t| t > 0) {
            line.push_str(&format!(
                " of {:.0} MiB ({:.0}%)",
                t as f64 / 1048576.0,
                bytes as f64 / t as f64 * 100.0
            ));
        }
        self.show(&line);
    }

    /// Whether the last update is long enough ago; if so, this one counts as the last.
    fn due(&mut self) -> bool {
        if self.last.is_some_and(|l| l.elapsed() < Self::EVERY) {
            return false;
        }
        self.last = Some(Instant::now());
        true
    }

    fn rate(&self, count: u64) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        format!("{count} lines, {:.0}/s", count as f64 / seconds)
    }

    fn show(&mut self, line: &str) {
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[Kedgeship-audit: {line}");
        let _ = err.flush();
        self.shown = true;
    }

    /// Erases the indicator, if shown, before anything else is written to stderr.
    pub(super) fn clear(&mut self) {
        if self.shown {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}
