//! The state kept per (host, run): present numbers, per-hour counts and the heartbeats'
//! anchors. Its size grows with gaps and hours, never with records.

use super::beats::Beats;
use super::config::{Origin, PartitionId};
use crate::intervals::IntervalSet;

/// The bit of a topic index in the 64-bit topic masks (at most 64 topics are audited together).
#[inline]
pub(crate) fn topic_bit(topic: u16) -> u64 {
    1u64 << (topic & 63)
}

/// The last heartbeat-reported number of an hour, with when it was first and last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub(crate) last: u64,
    pub(crate) first_time: i64,
    pub(crate) last_time: i64,
}

impl Anchor {
    fn widen(&mut self, time: i64) {
        self.first_time = self.first_time.min(time);
        self.last_time = self.last_time.max(time);
    }
}

/// Counts of one run in one hour. Counters cover events inside the window only; the heartbeat
/// anchors and heartbeat history are kept for every hour read, since they place missing
/// numbers and define silence at the window's edges.
#[derive(Debug, Clone)]
pub(crate) struct HourStats {
    pub(crate) hour: i64,
    pub(crate) events: u64,
    pub(crate) actual: u64,
    pub(crate) duplicate: u64,
    pub(crate) null_sequence: u64,
    pub(crate) incomplete: u64,
    /// Increases of the heartbeats' loss counters: loss the shipper saw but could not number.
    pub(crate) shipper_lost: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    /// Topics (bits) with an event inside the window in this hour.
    pub(crate) topics_alive: u64,
    /// Topics (bits) with a heartbeat in this hour, inside the window or not.
    pub(crate) topics_heartbeat: u64,
    /// The lowest number the hour's heartbeats reported as last.
    pub(crate) low: Option<Anchor>,
    /// The highest number the hour's heartbeats reported as last.
    pub(crate) high: Option<Anchor>,
}

impl HourStats {
    fn new(hour: i64) -> Self {
        Self {
            hour,
            events: 0,
            actual: 0,
            duplicate: 0,
            null_sequence: 0,
            incomplete: 0,
            shipper_lost: 0,
            min: u64::MAX,
            max: 0,
            topics_alive: 0,
            topics_heartbeat: 0,
            low: None,
            high: None,
        }
    }

    /// Notes a heartbeat's `sequence_last` reported at `time`.
    pub(crate) fn anchor(&mut self, last: u64, time: i64) {
        let fresh = Anchor {
            last,
            first_time: time,
            last_time: time,
        };
        match &mut self.low {
            Some(a) if a.last == last => a.widen(time),
            Some(a) if a.last < last => {}
            _ => self.low = Some(fresh),
        }
        match &mut self.high {
            Some(a) if a.last == last => a.widen(time),
            Some(a) if a.last > last => {}
            _ => self.high = Some(fresh),
        }
    }
}

/// The run-start heartbeat (`sequence_last` null): the run's first number and when it said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunStart {
    pub(crate) sequence_start: u64,
    pub(crate) time: i64,
}

/// State of one (host, run).
#[derive(Debug)]
pub(crate) struct RunState {
    /// Index of the host name.
    pub(crate) host: u32,
    /// The run identifier; `None` for records without a run field.
    pub(crate) run: Option<Box<str>>,
    pub(crate) present: IntervalSet,
    /// Sorted by hour.
    pub(crate) hours: Vec<HourStats>,
    /// Index in `hours` of the hour last touched: consecutive records usually share it.
    cursor: usize,
    /// Time of the run's last complete record, to place the next incomplete one.
    pub(crate) last_time: Option<i64>,
    /// The earliest run-start heartbeat.
    pub(crate) start: Option<RunStart>,
    /// Topics (bits) this run's events came from.
    pub(crate) topics: u64,
    /// Kafka partitions this run's events came from, to forget them when a partition moves to
    /// another auditor of the consumer group.
    pub(crate) origins: Vec<PartitionId>,
    /// What its heartbeats said.
    pub(crate) beats: Beats,
    /// Records without a run were attributed to it by their times (files: no headers).
    pub(crate) inferred: bool,
}

impl RunState {
    /// An empty run of host index `host`.
    pub(crate) fn new(host: u32, run: Option<Box<str>>) -> Self {
        Self {
            host,
            run,
            present: IntervalSet::new(),
            hours: Vec::new(),
            cursor: 0,
            last_time: None,
            start: None,
            topics: 0,
            origins: Vec::new(),
            beats: Beats::default(),
            inferred: false,
        }
    }

    /// The counts of `hour`, created on first use.
    #[inline]
    pub(crate) fn hour_mut(&mut self, hour: i64) -> &mut HourStats {
        let at = match self.hours.get(self.cursor) {
            Some(h) if h.hour == hour => self.cursor,
            _ => match self.hours.binary_search_by_key(&hour, |h| h.hour) {
                Ok(at) => at,
                Err(at) => {
                    self.hours.insert(at, HourStats::new(hour));
                    at
                }
            },
        };
        self.cursor = at;
        &mut self.hours[at]
    }

    /// Remembers the partition and topic of an event of this run.
    #[inline]
    pub(crate) fn note_origin(&mut self, origin: &Origin) {
        let key = origin.partition_id();
        if self.origins.last() != Some(&key) && !self.origins.contains(&key) {
            self.origins.push(key);
        }
        self.topics |= topic_bit(origin.topic);
    }

    /// Notes a run-start heartbeat, keeping the earliest.
    pub(crate) fn note_start(&mut self, sequence_start: u64, time: i64) {
        if self.start.is_none_or(|s| time < s.time) {
            self.start = Some(RunStart {
                sequence_start,
                time,
            });
        }
    }
}
