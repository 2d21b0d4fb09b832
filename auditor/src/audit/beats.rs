//! What one run's heartbeats said, beyond the sequence anchors: when they began and stopped,
//! whether the run stopped cleanly (a `final` heartbeat), its interval, and the running total
//! of its loss counters, whose increases are loss the shipper saw but could not number.

use super::event::Heartbeat;

/// One heartbeat as the run-level findings need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Beat {
    /// Its `dt`.
    pub(crate) time: i64,
    /// Its `sequence_last`.
    pub(crate) sequence_last: Option<u64>,
    /// Its `spool_records`: records pending in the shipper's spool.
    pub(crate) spool_records: Option<u64>,
}

/// The heartbeats of one run, summed up.
#[derive(Debug, Clone, Default)]
pub(crate) struct Beats {
    /// The earliest heartbeat.
    pub(crate) first: Option<Beat>,
    /// The latest heartbeat.
    pub(crate) last: Option<Beat>,
    /// A `final` heartbeat was seen: the run stopped cleanly.
    pub(crate) ended: bool,
    /// The latest `interval_seconds` given.
    pub(crate) interval: Option<u64>,
    /// The loss counters' total at the latest heartbeat that carried them: the base of the
    /// next increase.
    lost_total: Option<u64>,
}

impl Beats {
    /// Notes a heartbeat; returns by how much its loss counters grew since the previous one.
    ///
    /// The first heartbeat seen of a run that started before the input did only sets the base
    /// (what its counters hold happened before); a run-start heartbeat (`sequence_last` null)
    /// counts from zero. A heartbeat older than the latest (files given out of order) changes
    /// no total.
    pub(crate) fn note(&mut self, heartbeat: &Heartbeat) -> u64 {
        let beat = Beat {
            time: heartbeat.time,
            sequence_last: heartbeat.last,
            spool_records: heartbeat.spool_records,
        };
        if self.first.is_none_or(|f| beat.time < f.time) {
            self.first = Some(beat);
        }
        self.ended |= heartbeat.is_final;
        let newest = self.last.is_none_or(|l| beat.time >= l.time);
        if !newest {
            return 0;
        }
        self.last = Some(beat);
        if heartbeat.interval.is_some() {
            self.interval = heartbeat.interval;
        }
        let Some(lost) = heartbeat.lost else {
            return 0;
        };
        let base = match self.lost_total {
            Some(total) => total,
            None if heartbeat.last.is_none() => 0,
            None => lost,
        };
        self.lost_total = Some(lost);
        lost.saturating_sub(base)
    }

    /// Whether any heartbeat was seen.
    pub(crate) fn any(&self) -> bool {
        self.last.is_some()
    }
}
