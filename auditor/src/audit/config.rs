//! What the audit is told: its configuration, where each line came from, and the window and
//! hour span those define.

use crate::scan::FieldNames;
use crate::time::hour_of;

/// What the audit needs to know before the first record.
#[derive(Debug, Clone)]
pub struct Config {
    /// The field names to read.
    pub fields: FieldNames,
    /// Start of the window (seconds, inclusive); events before it only count as present.
    pub from: Option<i64>,
    /// End of the window (seconds, exclusive); events at or after it only count as present.
    pub to: Option<i64>,
    /// Percent lost from which a row is a warning.
    pub warn_percent: f64,
    /// Percent lost from which a row is an error.
    pub error_percent: f64,
    /// Names of the topics the input comes from, indexed by [`Origin::topic`]; empty for files,
    /// where rows carry no topic and there is no per-topic silence.
    pub topics: Vec<String>,
    /// Most hours a report may span (`--max-hours`). With only `--from` (or only `--to`),
    /// events further than this after it (before it) are bad input "out of window".
    pub max_hours: u32,
    /// Most (host, run) groups kept; lines of further ones are bad input "too many runs".
    pub max_runs: usize,
    /// Most records with `dt` `-` kept waiting for the next time; further ones are bad input
    /// "incomplete without time" at once.
    pub max_pending: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            fields: FieldNames::default(),
            from: None,
            to: None,
            warn_percent: 0.5,
            error_percent: 2.0,
            topics: Vec::new(),
            max_hours: 744,
            max_runs: 100_000,
            max_pending: 100_000,
        }
    }
}

impl Config {
    /// The window the rows cover.
    pub(crate) fn window(&self) -> Window {
        Window {
            from: self.from,
            to: self.to,
        }
    }

    /// The times events may have to be counted at all: with only one side of the window
    /// given, `max_hours` from it; otherwise unbounded (the command line refuses a window
    /// longer than `max_hours`, and an input spanning more without one).
    pub(crate) fn admitted(&self) -> Window {
        let reach = i64::from(self.max_hours) * 3600;
        match (self.from, self.to) {
            (Some(from), None) => Window {
                from: None,
                to: Some(from.saturating_add(reach)),
            },
            (None, Some(to)) => Window {
                from: Some(to.saturating_sub(reach)),
                to: None,
            },
            _ => Window {
                from: None,
                to: None,
            },
        }
    }
}

/// Where a line came from: names bad input precisely and ties state to Kafka partitions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin {
    /// Index of the source returned by [`crate::Auditor::add_source`].
    pub source: u32,
    /// Line number (files, from 1) or offset (Kafka).
    pub position: u64,
    /// Index into [`Config::topics`] (0 for files).
    pub topic: u16,
    /// Kafka partition (-1 for files).
    pub partition: i32,
    /// Kafka message time in seconds, used to place records whose `dt` is `-`.
    pub timestamp: Option<i64>,
}

impl Origin {
    /// The partition the line came from.
    #[inline]
    pub(crate) fn partition_id(&self) -> PartitionId {
        PartitionId {
            topic: self.topic,
            partition: self.partition,
        }
    }
}

/// What a Kafka message carries beside its body: edgeship's `edgeship.run` and
/// `edgeship.sequence` record headers (`docs/records.md`). They win over the body's fields, so
/// a format without a run field (the seed's, varnishkafka's) is still audited per (host, run).
/// Lines from files have none ([`Headers::default`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Headers<'a> {
    /// The `edgeship.run` header's value.
    pub run: Option<&'a [u8]>,
    /// The `edgeship.sequence` header, read as a decimal number.
    pub sequence: Option<u64>,
}

/// A Kafka partition as the audit knows it: the topic by its index in [`Config::topics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionId {
    /// Index into [`Config::topics`].
    pub topic: u16,
    /// Partition number (-1 for files).
    pub partition: i32,
}

/// The `--from`/`--to` window in seconds (start inclusive, end exclusive); either side may be
/// open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) from: Option<i64>,
    pub(crate) to: Option<i64>,
}

impl Window {
    /// Whether an event at `time` counts in the rows (outside it, it only counts as present).
    #[inline]
    pub(crate) fn contains(self, time: i64) -> bool {
        self.from.is_none_or(|from| time >= from) && self.to.is_none_or(|to| time < to)
    }

    /// The first hour of the window, when it has a start.
    pub(crate) fn first_hour(self) -> Option<i64> {
        self.from.map(hour_of)
    }

    /// The last hour of the window, when it has an end.
    pub(crate) fn last_hour(self) -> Option<i64> {
        self.to.map(|t| hour_of(t - 1))
    }
}

/// A range of hours since the epoch, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourSpan {
    /// The first hour.
    pub first: i64,
    /// The last hour (inclusive).
    pub last: i64,
}

impl HourSpan {
    /// How many hours it covers (saturating).
    pub fn hours(self) -> i64 {
        self.last.saturating_sub(self.first).saturating_add(1)
    }

    /// Whether `hour` lies in it.
    pub(crate) fn contains(self, hour: i64) -> bool {
        hour >= self.first && hour <= self.last
    }

    /// The span also covering `hour`.
    pub(crate) fn widened(self, hour: i64) -> Self {
        Self {
            first: self.first.min(hour),
            last: self.last.max(hour),
        }
    }
}
