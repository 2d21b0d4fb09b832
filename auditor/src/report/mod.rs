//! The audit's result: rows, roll-ups, bad-input counts and totals.
//!
//! These are the words both sides of the report share: the arithmetic (the `audit` module)
//! fills them, and the renderings below (`table`, `json`, `csv`, each an `impl Report` with
//! one `write_*` method) write them out. Nothing here knows how the numbers were worked out.

mod csv;
mod escape;
mod finding;
mod json;
mod table;

pub use escape::escape_name;
pub use finding::{Finding, FindingKind};

/// Why a line was not counted as a record or heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BadReason {
    /// Empty or blank line.
    EmptyLine,
    /// Not a JSON object (syntax error, truncated line, an array...).
    NotJson,
    /// No host field.
    MissingHostname,
    /// The host field is not a string.
    HostnameNotString,
    /// A record without the sequence field.
    MissingSequence,
    /// A sequence that is not an unsigned integer.
    SequenceNotNumber,
    /// No time field.
    MissingDt,
    /// A time that is neither a timestamp nor `-`.
    DtNotTimestamp,
    /// A run field that is neither a string nor null.
    RunNotString,
    /// A heartbeat whose `sequence_last`/`sequence_start` is missing or not a number.
    HeartbeatBadSequence,
    /// A record with `dt` `-` and no other time to place it by (or more such records waiting
    /// for a time than [`crate::Config::max_pending`]).
    NoTime,
    /// A line longer than [`crate::input::MAX_LINE`] bytes (a member without newlines): skipped
    /// up to the next newline.
    LineTooLong,
    /// An event more than `--max-hours` after `--from` (or before `--to`) when only one of them
    /// is given: not counted, so that one far-off date cannot make a row per hour up to it.
    OutOfWindow,
    /// A line of a new (host, run) beyond [`crate::Config::max_runs`]: not counted.
    TooManyRuns,
}

impl BadReason {
    /// Every reason, in report order.
    pub const ALL: [BadReason; 14] = [
        BadReason::EmptyLine,
        BadReason::NotJson,
        BadReason::MissingHostname,
        BadReason::HostnameNotString,
        BadReason::MissingSequence,
        BadReason::SequenceNotNumber,
        BadReason::MissingDt,
        BadReason::DtNotTimestamp,
        BadReason::RunNotString,
        BadReason::HeartbeatBadSequence,
        BadReason::NoTime,
        BadReason::LineTooLong,
        BadReason::OutOfWindow,
        BadReason::TooManyRuns,
    ];

    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            BadReason::EmptyLine => "empty_line",
            BadReason::NotJson => "not_json",
            BadReason::MissingHostname => "missing_hostname",
            BadReason::HostnameNotString => "hostname_not_a_string",
            BadReason::MissingSequence => "missing_sequence",
            BadReason::SequenceNotNumber => "sequence_not_a_number",
            BadReason::MissingDt => "missing_dt",
            BadReason::DtNotTimestamp => "dt_not_a_timestamp",
            BadReason::RunNotString => "run_not_a_string",
            BadReason::HeartbeatBadSequence => "heartbeat_bad_sequence",
            BadReason::NoTime => "incomplete_without_time",
            BadReason::LineTooLong => "line_too_long",
            BadReason::OutOfWindow => "out_of_window",
            BadReason::TooManyRuns => "too_many_runs",
        }
    }
}

/// How a row came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// Counts of one (host, run, hour).
    Group,
    /// A host or topic with heartbeat history and nothing in this hour.
    Silent,
}

/// The verdict of a row or an hour, in increasing severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Loss below the warning threshold.
    Ok,
    /// Loss at or above `--warn`.
    Warning,
    /// Loss at or above `--error`.
    Error,
    /// Heartbeats before this hour and nothing in it.
    Silent,
}

impl Status {
    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Error => "error",
            Status::Silent => "silent",
        }
    }
}

/// One (host, run, hour) row, or a silent host or topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Counts or silence.
    pub kind: RowKind,
    /// Hours since the epoch.
    pub hour: i64,
    /// The host; `None` for a silent topic.
    pub hostname: Option<String>,
    /// The run; `None` for records without a run field.
    pub run: Option<String>,
    /// The topic(s) the rows' events came from; `None` for files.
    pub topic: Option<String>,
    /// Smallest sequence number in the hour.
    pub sequence_min: Option<u64>,
    /// Largest sequence number in the hour.
    pub sequence_max: Option<u64>,
    /// Records with a sequence number.
    pub count_actual: u64,
    /// Distinct numbers present plus numbers lost.
    pub count_expected: u64,
    /// Expected minus actual (negative: more records than expected).
    pub count_different: i64,
    /// Records whose number had already been seen.
    pub count_duplicate: u64,
    /// Records whose sequence is null.
    pub count_null_sequence: u64,
    /// Records Varnish forced complete (`dt` `-`).
    pub count_incomplete: u64,
    /// Expected minus distinct.
    pub count_lost: u64,
    /// Lost as a percentage of expected.
    pub percent_lost: f64,
    /// Loss the shipper saw but could not number: the increase, in this hour, of its
    /// heartbeats' loss counters (`log_overruns`, `transactions_lost`, `queue_full_drops`,
    /// `delivery_failed`, `produce_errors`, `undelivered_at_exit`, `spool_dropped`, `spool_lost`). Beside
    /// `count_lost`, never added to it.
    pub count_shipper_lost: u64,
    /// The verdict.
    pub status: Status,
}

impl Row {
    pub(crate) fn silent(
        hour: i64,
        hostname: Option<String>,
        run: Option<String>,
        topic: Option<String>,
    ) -> Self {
        Self {
            kind: RowKind::Silent,
            hour,
            hostname,
            run,
            topic,
            sequence_min: None,
            sequence_max: None,
            count_actual: 0,
            count_expected: 0,
            count_different: 0,
            count_duplicate: 0,
            count_null_sequence: 0,
            count_incomplete: 0,
            count_lost: 0,
            percent_lost: 0.0,
            count_shipper_lost: 0,
            status: Status::Silent,
        }
    }
}

/// The roll-up of one hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    /// Hours since the epoch.
    pub hour: i64,
    /// Distinct hosts with a row.
    pub hosts: u64,
    /// Rows with status warning.
    pub rows_warning: u64,
    /// Rows with status error.
    pub rows_error: u64,
    /// Silent hosts and topics.
    pub rows_silent: u64,
    /// Sum over the hour's rows.
    pub count_actual: u64,
    /// Sum over the hour's rows.
    pub count_expected: u64,
    /// Sum over the hour's rows.
    pub count_lost: u64,
    /// Sum over the hour's rows.
    pub count_duplicate: u64,
    /// Sum over the hour's rows.
    pub count_null_sequence: u64,
    /// Sum over the hour's rows.
    pub count_incomplete: u64,
    /// Lost as a percentage of expected, over the hour.
    pub percent_lost: f64,
    /// Sum over the hour's rows.
    pub count_shipper_lost: u64,
    /// The worst of the rows' statuses and the hour's own percentage.
    pub status: Status,
}

impl Rollup {
    pub(crate) fn empty(hour: i64) -> Self {
        Self {
            hour,
            hosts: 0,
            rows_warning: 0,
            rows_error: 0,
            rows_silent: 0,
            count_actual: 0,
            count_expected: 0,
            count_lost: 0,
            count_duplicate: 0,
            count_null_sequence: 0,
            count_incomplete: 0,
            percent_lost: 0.0,
            count_shipper_lost: 0,
            status: Status::Ok,
        }
    }
}

/// How many lines were rejected for one reason, and where the first one was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCount {
    /// Why.
    pub reason: BadReason,
    /// How many lines.
    pub count: u64,
    /// `file:line` or `topic[partition]:offset` of the first.
    pub first_at: String,
}

/// What was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Lines or messages read.
    pub lines: u64,
    /// Request records among them.
    pub records: u64,
    /// Heartbeats among them.
    pub heartbeats: u64,
    /// Lines rejected (see the bad-input counts).
    pub bad: u64,
}

/// The result of an audit.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Rows sorted by hour, topic, host, run.
    pub rows: Vec<Row>,
    /// One roll-up per hour with rows.
    pub hours: Vec<Rollup>,
    /// What the heartbeats say about runs, by host and time.
    pub findings: Vec<Finding>,
    /// Bad lines per reason.
    pub bad_input: Vec<BadCount>,
    /// What was read.
    pub totals: Totals,
}

impl Report {
    /// The worst status of any row or finding (`Ok` when there are none).
    pub fn worst(&self) -> Status {
        let rows = self.rows.iter().map(|r| r.status);
        let findings = self.findings.iter().map(|f| f.status);
        rows.chain(findings).max().unwrap_or(Status::Ok)
    }

    /// The rows of one hour. Rows are sorted by hour first, so this is a binary search: a
    /// linear filter per hour made writing a report quadratic in the hours it spans (found by
    /// the `audit_record` fuzz target: one record dated 40 years ahead, 350,000 silent hours,
    /// took minutes).
    fn rows_of_hour(&self, hour: i64) -> &[Row] {
        let start = self.rows.partition_point(|row| row.hour < hour);
        let length = self.rows[start..].partition_point(|row| row.hour == hour);
        &self.rows[start..start + length]
    }
}
