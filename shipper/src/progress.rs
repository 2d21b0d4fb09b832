//! Where the run is, for the metrics server: the next sequence number to assign and when the
//! broker last acknowledged a record. Written once per batch and once per delivery report
//! with relaxed stores; read at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

/// The run's position, shared between the rendering thread and the metrics server.
#[derive(Debug, Default)]
pub struct Progress {
    next_sequence: AtomicU64,
    last_delivery_micros: AtomicU64,
}

impl Progress {
    /// The next sequence number to assign (set once per batch).
    pub fn set_next_sequence(&self, next: u64) {
        self.next_sequence.store(next, Ordering::Relaxed);
    }

    /// The next sequence number to assign.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence.load(Ordering::Relaxed)
    }

    /// A record was acknowledged at `unix_micros`.
    pub fn delivered_at(&self, unix_micros: u64) {
        self.last_delivery_micros
            .fetch_max(unix_micros, Ordering::Relaxed);
    }

    /// When the broker last acknowledged a record (microseconds since the Unix epoch), if it
    /// ever did in this run.
    pub fn last_delivery_micros(&self) -> Option<u64> {
        Some(self.last_delivery_micros.load(Ordering::Relaxed)).filter(|&micros| micros != 0)
    }
}
