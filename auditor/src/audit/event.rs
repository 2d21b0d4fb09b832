//! One line to one event: scans the wanted fields, checks them, and fills the run key the
//! line belongs to. A line that is neither a record nor a heartbeat gets its [`BadReason`].

use super::config::Headers;
use super::key::RunKey;
use crate::report::BadReason;
use crate::scan::{self, Field, FieldNames, Fields, Matcher, Value};
use crate::time::TimeParser;

/// What a well-formed line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A request record.
    Record(Record),
    /// A heartbeat.
    Heartbeat(Heartbeat),
}

impl Event {
    /// The event's own time; `None` for a record Varnish forced complete.
    pub(crate) fn time(&self) -> Option<i64> {
        match self {
            Event::Record(record) => record.time,
            Event::Heartbeat(heartbeat) => Some(heartbeat.time),
        }
    }
}

/// The fields of a request record the audit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    /// Its number; `None` when the sequence is null.
    pub(crate) sequence: Option<u64>,
    /// Its time; `None` when Varnish forced it complete (`dt` `-`).
    pub(crate) time: Option<i64>,
}

/// The fields of a heartbeat the audit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Heartbeat {
    pub(crate) time: i64,
    /// `sequence_start`, when given.
    pub(crate) start: Option<u64>,
    /// `sequence_last`; `None` before the run's first record.
    pub(crate) last: Option<u64>,
    /// `final`: written at a clean stop, after the producer flushed.
    pub(crate) is_final: bool,
    /// `interval_seconds`, when given.
    pub(crate) interval: Option<u64>,
    /// The sum of the loss counters the heartbeat carries ([`LOSS_COUNTERS`]); `None` when it
    /// carries none of them.
    pub(crate) lost: Option<u64>,
    /// `spool_records`: records waiting in the shipper's disk spool, pending rather than lost;
    /// `None` when absent.
    pub(crate) spool_records: Option<u64>,
}

/// The heartbeat's counters of loss the shipper saw but could not number (`docs/records.md`):
/// before numbering, then after it. Totals since the run started, never reset.
pub(crate) const LOSS_COUNTERS: [&str; 8] = [
    "log_overruns",
    "transactions_lost",
    "queue_full_drops",
    "delivery_failed",
    "produce_errors",
    "undelivered_at_exit",
    "spool_dropped",
    "spool_lost",
];

/// The slots of a heartbeat's other fields, after the loss counters'.
const FINAL_SLOT: usize = LOSS_COUNTERS.len();
const INTERVAL_SLOT: usize = LOSS_COUNTERS.len() + 1;
const SPOOL_SLOT: usize = LOSS_COUNTERS.len() + 2;
const HEARTBEAT_SLOTS: usize = LOSS_COUNTERS.len() + 3;

/// The matcher of the heartbeat-only fields: the loss counters, `final`, `interval_seconds`,
/// `spool_records`.
fn heartbeat_matcher() -> Matcher {
    let mut names: Vec<(&str, usize)> = LOSS_COUNTERS.iter().copied().zip(0..).collect();
    names.push(("final", FINAL_SLOT));
    names.push(("interval_seconds", INTERVAL_SLOT));
    names.push(("spool_records", SPOOL_SLOT));
    Matcher::of(&names)
}

/// Reads lines into events, with the buffers and caches that keep that allocation-free.
#[derive(Debug)]
pub(crate) struct LineReader {
    matcher: Matcher,
    /// Heartbeats are rare: their own fields are looked for in a second pass over the line,
    /// so that the per-record scan compares each key with the record's names only.
    heartbeat_matcher: Matcher,
    time: TimeParser,
    key: RunKey,
    unescaped: Vec<u8>,
}

impl LineReader {
    /// A reader of the configured field names.
    pub(crate) fn new(fields: &FieldNames) -> Self {
        Self {
            matcher: Matcher::new(fields),
            heartbeat_matcher: heartbeat_matcher(),
            time: TimeParser::new(),
            key: RunKey::new(),
            unescaped: Vec::new(),
        }
    }

    /// The run key of the last line read successfully.
    #[inline]
    pub(crate) fn run_key(&self) -> &RunKey {
        &self.key
    }

    /// Reads one line (without its newline), the message's `headers` winning over the body's
    /// run and sequence.
    pub(crate) fn read(&mut self, line: &[u8], headers: &Headers<'_>) -> Result<Event, BadReason> {
        let mut fields = Fields::default();
        if self.matcher.scan(line, &mut fields).is_err() {
            return Err(if line.iter().all(u8::is_ascii_whitespace) {
                BadReason::EmptyLine
            } else {
                BadReason::NotJson
            });
        }
        self.fill_key(&fields, headers.run)?;
        let time = match fields[Field::Dt as usize] {
            Value::Str(b"-", _) => None,
            Value::Str(raw, _) => Some(self.time.parse(raw).ok_or(BadReason::DtNotTimestamp)?),
            Value::Absent => return Err(BadReason::MissingDt),
            _ => return Err(BadReason::DtNotTimestamp),
        };
        if fields[Field::Heartbeat as usize] == Value::True {
            let mut extra = [Value::Absent; HEARTBEAT_SLOTS];
            self.heartbeat_matcher
                .scan(line, &mut extra)
                .map_err(|_| BadReason::NotJson)?;
            return heartbeat(&fields, &extra, time);
        }
        if let Some(sequence) = headers.sequence {
            return Ok(Event::Record(Record {
                sequence: Some(sequence),
                time,
            }));
        }
        let sequence = match fields[Field::Sequence as usize] {
            Value::Num(token) => Some(scan::unsigned(token).ok_or(BadReason::SequenceNotNumber)?),
            Value::Null => None,
            Value::Absent => return Err(BadReason::MissingSequence),
            _ => return Err(BadReason::SequenceNotNumber),
        };
        Ok(Event::Record(Record { sequence, time }))
    }

    /// Checks the host and run fields and builds the run key from them (the run from the
    /// `edgeship.run` header when the message has one).
    fn fill_key(&mut self, fields: &Fields<'_>, run: Option<&[u8]>) -> Result<(), BadReason> {
        let host = match fields[Field::Hostname as usize] {
            Value::Str(raw, false) => raw,
            Value::Str(raw, true) => unescaped(raw, &mut self.unescaped)?,
            Value::Absent => return Err(BadReason::MissingHostname),
            _ => return Err(BadReason::HostnameNotString),
        };
        self.key.set_host(host);
        if let Some(run) = run {
            self.key.set_run(run);
            return Ok(());
        }
        match fields[Field::Run as usize] {
            Value::Str(raw, false) => self.key.set_run(raw),
            Value::Str(raw, true) => self.key.set_run(unescaped(raw, &mut self.unescaped)?),
            Value::Absent | Value::Null => self.key.set_no_run(),
            _ => return Err(BadReason::RunNotString),
        }
        Ok(())
    }
}

/// The bytes of a string value with escapes, decoded into `scratch`.
fn unescaped<'a>(raw: &[u8], scratch: &'a mut Vec<u8>) -> Result<&'a [u8], BadReason> {
    scratch.clear();
    scan::unescape(raw, scratch).map_err(|_| BadReason::NotJson)?;
    Ok(scratch)
}

/// A number that may be null or absent; `None` when it is something else.
fn optional_number(value: Value<'_>) -> Option<Option<u64>> {
    match value {
        Value::Num(token) => scan::unsigned(token).map(Some),
        Value::Null | Value::Absent => Some(None),
        _ => None,
    }
}

/// The heartbeat of a line marked as one, `extra` holding its heartbeat-only fields.
fn heartbeat(
    fields: &Fields<'_>,
    extra: &[Value<'_>],
    time: Option<i64>,
) -> Result<Event, BadReason> {
    let time = time.ok_or(BadReason::DtNotTimestamp)?;
    let number = optional_number;
    let last = match fields[Field::SequenceLast as usize] {
        Value::Absent => return Err(BadReason::HeartbeatBadSequence),
        v => number(v).ok_or(BadReason::HeartbeatBadSequence)?,
    };
    let start =
        number(fields[Field::SequenceStart as usize]).ok_or(BadReason::HeartbeatBadSequence)?;
    // A counter that is not a number is read as absent: the heartbeat's sequence numbers,
    // which the loss arithmetic needs, are still good.
    let counters = extra[..LOSS_COUNTERS.len()]
        .iter()
        .filter_map(|&v| optional_number(v).flatten());
    let lost = counters.fold(None, |sum: Option<u64>, n| {
        Some(sum.unwrap_or(0).saturating_add(n))
    });
    Ok(Event::Heartbeat(Heartbeat {
        time,
        start,
        last,
        is_final: extra[FINAL_SLOT] == Value::True,
        interval: optional_number(extra[INTERVAL_SLOT]).flatten(),
        lost,
        spool_records: optional_number(extra[SPOOL_SLOT]).flatten(),
    }))
}
