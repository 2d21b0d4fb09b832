//! One line to one event: scans the wanted fields, checks them, and fills the run key the
//! line belongs to. A line that is neither a record nor a heartbeat gets its [`BadReason`].

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
}

/// Reads lines into events, with the buffers and caches that keep that allocation-free.
#[derive(Debug)]
pub(crate) struct LineReader {
    matcher: Matcher,
    time: TimeParser,
    key: RunKey,
    unescaped: Vec<u8>,
}

impl LineReader {
    /// A reader of the configured field names.
    pub(crate) fn new(fields: &FieldNames) -> Self {
        Self {
            matcher: Matcher::new(fields),
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

    /// Reads one line (without its newline).
    pub(crate) fn read(&mut self, line: &[u8]) -> Result<Event, BadReason> {
        let mut fields = Fields::default();
        if self.matcher.scan(line, &mut fields).is_err() {
            return Err(if line.iter().all(u8::is_ascii_whitespace) {
                BadReason::EmptyLine
            } else {
                BadReason::NotJson
            });
        }
        self.fill_key(&fields)?;
        let time = match fields[Field::Dt as usize] {
            Value::Str(b"-", _) => None,
            Value::Str(raw, _) => Some(self.time.parse(raw).ok_or(BadReason::DtNotTimestamp)?),
            Value::Absent => return Err(BadReason::MissingDt),
            _ => return Err(BadReason::DtNotTimestamp),
        };
        if fields[Field::Heartbeat as usize] == Value::True {
            return heartbeat(&fields, time);
        }
        let sequence = match fields[Field::Sequence as usize] {
            Value::Num(token) => Some(scan::unsigned(token).ok_or(BadReason::SequenceNotNumber)?),
            Value::Null => None,
            Value::Absent => return Err(BadReason::MissingSequence),
            _ => return Err(BadReason::SequenceNotNumber),
        };
        Ok(Event::Record(Record { sequence, time }))
    }

    /// Checks the host and run fields and builds the run key from them.
    fn fill_key(&mut self, fields: &Fields<'_>) -> Result<(), BadReason> {
        let host = match fields[Field::Hostname as usize] {
            Value::Str(raw, false) => raw,
            Value::Str(raw, true) => unescaped(raw, &mut self.unescaped)?,
            Value::Absent => return Err(BadReason::MissingHostname),
            _ => return Err(BadReason::HostnameNotString),
        };
        self.key.set_host(host);
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

/// The heartbeat of a line marked as one.
fn heartbeat(fields: &Fields<'_>, time: Option<i64>) -> Result<Event, BadReason> {
    let time = time.ok_or(BadReason::DtNotTimestamp)?;
    let number = |v: Value<'_>| match v {
        Value::Num(token) => scan::unsigned(token).map(Some),
        Value::Null | Value::Absent => Some(None),
        _ => None,
    };
    let last = match fields[Field::SequenceLast as usize] {
        Value::Absent => return Err(BadReason::HeartbeatBadSequence),
        v => number(v).ok_or(BadReason::HeartbeatBadSequence)?,
    };
    let start =
        number(fields[Field::SequenceStart as usize]).ok_or(BadReason::HeartbeatBadSequence)?;
    Ok(Event::Heartbeat(Heartbeat { time, start, last }))
}
