//! The arithmetic: per (host, run, hour) counts, missing numbers placed in hours, silence.
//!
//! Records are folded one at a time into per-run state whose size depends on the gaps and
//! hours seen, never on the number of records: an [`IntervalSet`] of present numbers and one
//! small [`HourStats`] per hour. Everything that needs the whole window (which numbers are
//! missing, where the heartbeats put the ends of a run, which hosts fell silent) is worked out
//! once in [`Auditor::finish`].

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::intervals::{IntervalSet, Span};
use crate::report::{BadCount, BadReason, Report, Rollup, Row, RowKind, Status, Totals};
use crate::scan::{self, Field, FieldNames, Fields, Matcher, Value};
use crate::time::{hour_of, TimeParser};

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
        }
    }
}

/// Where a line came from: names bad input precisely and ties state to Kafka partitions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin {
    /// Index of the source returned by [`Auditor::add_source`].
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

/// The last heartbeat-reported number of an hour, with when it was first and last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Anchor {
    last: u64,
    first_time: i64,
    last_time: i64,
}

/// Counts of one run in one hour. Counters cover events inside the window only; the heartbeat
/// anchors and heartbeat history are kept for every hour read, since they place missing
/// numbers and define silence at the window's edges.
#[derive(Debug, Clone)]
struct HourStats {
    hour: i64,
    events: u64,
    actual: u64,
    duplicate: u64,
    null_sequence: u64,
    incomplete: u64,
    min: u64,
    max: u64,
    /// Topics (bits) with an event inside the window in this hour.
    topics_alive: u64,
    /// Topics (bits) with a heartbeat in this hour, inside the window or not.
    topics_heartbeat: u64,
    low: Option<Anchor>,
    high: Option<Anchor>,
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
            min: u64::MAX,
            max: 0,
            topics_alive: 0,
            topics_heartbeat: 0,
            low: None,
            high: None,
        }
    }

    fn anchor(&mut self, last: u64, time: i64) {
        let fresh = Anchor {
            last,
            first_time: time,
            last_time: time,
        };
        match &mut self.low {
            Some(a) if a.last == last => widen(a, time),
            Some(a) if a.last < last => {}
            _ => self.low = Some(fresh),
        }
        match &mut self.high {
            Some(a) if a.last == last => widen(a, time),
            Some(a) if a.last > last => {}
            _ => self.high = Some(fresh),
        }
    }
}

fn widen(a: &mut Anchor, time: i64) {
    a.first_time = a.first_time.min(time);
    a.last_time = a.last_time.max(time);
}

/// State of one (host, run).
#[derive(Debug)]
struct RunState {
    host: u32,
    run: Option<Box<str>>,
    present: IntervalSet,
    hours: Vec<HourStats>,
    cursor: usize,
    last_time: Option<i64>,
    /// The run-start heartbeat (`sequence_last` null): its `sequence_start` and time.
    start: Option<(u64, i64)>,
    topics: u64,
    /// Kafka partitions this run's events came from, to forget them when a partition moves to
    /// another auditor of the consumer group.
    origins: Vec<(u16, i32)>,
}

impl RunState {
    #[inline]
    fn hour_mut(&mut self, hour: i64) -> &mut HourStats {
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

    #[inline]
    fn note_origin(&mut self, origin: &Origin) {
        let key = (origin.topic, origin.partition);
        if self.origins.last() != Some(&key) && !self.origins.contains(&key) {
            self.origins.push(key);
        }
        self.topics |= topic_bit(origin.topic);
    }
}

#[inline]
fn topic_bit(topic: u16) -> u64 {
    1u64 << (topic & 63)
}

/// What a well-formed line is.
enum Event {
    Record {
        sequence: Option<u64>,
        time: Option<i64>,
    },
    Heartbeat {
        time: i64,
        start: Option<u64>,
        last: Option<u64>,
    },
}

/// Per-reason counts of bad lines, with the first place each reason was seen.
#[derive(Debug, Default, Clone)]
struct BadInput {
    counts: BTreeMap<BadReason, (u64, u32, u64)>,
}

/// What [`Auditor::footprint`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// (host, run) groups.
    pub runs: usize,
    /// Intervals of present numbers over all runs (inner gaps plus one per run).
    pub spans: usize,
    /// (run, hour) entries.
    pub hours: usize,
}

/// Folds lines into audit state; [`Auditor::finish`] turns it into a [`Report`].
#[derive(Debug)]
pub struct Auditor {
    config: Config,
    matcher: Matcher,
    time: TimeParser,
    sources: Vec<String>,
    hosts: Vec<Box<str>>,
    host_index: FxHashMap<Box<[u8]>, u32>,
    runs: Vec<Option<RunState>>,
    run_index: FxHashMap<Box<[u8]>, u32>,
    key: Vec<u8>,
    last_key: Vec<u8>,
    last_run: Option<u32>,
    unescaped: Vec<u8>,
    bad: BadInput,
    totals: Totals,
    last_time: Option<i64>,
    /// Records with `dt` `-` seen before any time: placed at the next time seen.
    pending: Vec<(u32, Option<u64>, Origin)>,
}

impl Auditor {
    /// An auditor with empty state.
    pub fn new(config: Config) -> Self {
        Self {
            matcher: Matcher::new(&config.fields),
            config,
            time: TimeParser::new(),
            sources: Vec::new(),
            hosts: Vec::new(),
            host_index: FxHashMap::default(),
            runs: Vec::new(),
            run_index: FxHashMap::default(),
            key: Vec::with_capacity(128),
            last_key: Vec::with_capacity(128),
            last_run: None,
            unescaped: Vec::new(),
            bad: BadInput::default(),
            totals: Totals::default(),
            last_time: None,
            pending: Vec::new(),
        }
    }

    /// Registers an input (a file name, `topic[partition]`) and returns its index for
    /// [`Origin::source`].
    pub fn add_source(&mut self, name: impl Into<String>) -> u32 {
        self.sources.push(name.into());
        (self.sources.len() - 1) as u32
    }

    /// The size of the state kept: it grows with runs, gaps and hours, never with records.
    pub fn footprint(&self) -> Footprint {
        let live = self.runs.iter().flatten();
        Footprint {
            runs: live.clone().count(),
            spans: live.clone().map(|r| r.present.span_count()).sum(),
            hours: live.map(|r| r.hours.len()).sum(),
        }
    }

    /// Totals so far (lines, records, heartbeats, bad lines).
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    fn bad(&mut self, reason: BadReason, origin: &Origin) {
        self.totals.bad += 1;
        let entry = self
            .bad
            .counts
            .entry(reason)
            .or_insert((0, origin.source, origin.position));
        entry.0 += 1;
    }

    fn in_window(&self, time: i64) -> bool {
        self.config.from.is_none_or(|from| time >= from)
            && self.config.to.is_none_or(|to| time < to)
    }

    /// Folds one line (without its newline) into the audit.
    pub fn ingest(&mut self, line: &[u8], origin: &Origin) {
        self.totals.lines += 1;
        let mut fields = Fields::default();
        if self.matcher.scan(line, &mut fields).is_err() {
            let reason = if line.iter().all(u8::is_ascii_whitespace) {
                BadReason::EmptyLine
            } else {
                BadReason::NotJson
            };
            self.bad(reason, origin);
            return;
        }
        match self.classify(&fields) {
            Ok(event) => self.apply(event, origin),
            Err(reason) => self.bad(reason, origin),
        }
    }

    /// Validates the fields and builds the run key (host, run) in `self.key`.
    fn classify(&mut self, fields: &Fields<'_>) -> Result<Event, BadReason> {
        self.key.clear();
        match fields[Field::Hostname as usize] {
            Value::Str(raw, false) => self.key.extend_from_slice(raw),
            Value::Str(raw, true) => {
                self.unescaped.clear();
                scan::unescape(raw, &mut self.unescaped).map_err(|_| BadReason::NotJson)?;
                self.key.extend_from_slice(&self.unescaped);
            }
            Value::Absent => return Err(BadReason::MissingHostname),
            _ => return Err(BadReason::HostnameNotString),
        }
        // The host and run are separated by a NUL (never in a host name); a second byte tells
        // "no run field" from an empty run.
        self.key.push(0);
        match fields[Field::Run as usize] {
            Value::Str(raw, escaped) => {
                self.key.push(1);
                if escaped {
                    self.unescaped.clear();
                    scan::unescape(raw, &mut self.unescaped).map_err(|_| BadReason::NotJson)?;
                    self.key.extend_from_slice(&self.unescaped);
                } else {
                    self.key.extend_from_slice(raw);
                }
            }
            Value::Absent | Value::Null => self.key.push(0),
            _ => return Err(BadReason::RunNotString),
        }
        let time = match fields[Field::Dt as usize] {
            Value::Str(b"-", _) => None,
            Value::Str(raw, _) => Some(self.time.parse(raw).ok_or(BadReason::DtNotTimestamp)?),
            Value::Absent => return Err(BadReason::MissingDt),
            _ => return Err(BadReason::DtNotTimestamp),
        };
        if fields[Field::Heartbeat as usize] == Value::True {
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
            let start = number(fields[Field::SequenceStart as usize])
                .ok_or(BadReason::HeartbeatBadSequence)?;
            return Ok(Event::Heartbeat { time, start, last });
        }
        let sequence = match fields[Field::Sequence as usize] {
            Value::Num(token) => Some(scan::unsigned(token).ok_or(BadReason::SequenceNotNumber)?),
            Value::Null => None,
            Value::Absent => return Err(BadReason::MissingSequence),
            _ => return Err(BadReason::SequenceNotNumber),
        };
        Ok(Event::Record { sequence, time })
    }

    /// The run for the key in `self.key`, created on first sight.
    #[inline]
    fn run_for_key(&mut self) -> u32 {
        if let Some(run) = self.last_run {
            if self.key == self.last_key {
                return run;
            }
        }
        let run = match self.run_index.get(self.key.as_slice()) {
            Some(&run) => run,
            None => self.create_run(),
        };
        self.last_key.clear();
        self.last_key.extend_from_slice(&self.key);
        self.last_run = Some(run);
        run
    }

    fn create_run(&mut self) -> u32 {
        let split = self
            .key
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.key.len());
        let host_bytes = &self.key[..split];
        let host = match self.host_index.get(host_bytes) {
            Some(&host) => host,
            None => {
                let id = self.hosts.len() as u32;
                self.hosts.push(
                    String::from_utf8_lossy(host_bytes)
                        .into_owned()
                        .into_boxed_str(),
                );
                self.host_index.insert(host_bytes.into(), id);
                id
            }
        };
        let run = match self.key.get(split + 1..) {
            Some([1, name @ ..]) => {
                Some(String::from_utf8_lossy(name).into_owned().into_boxed_str())
            }
            _ => None,
        };
        let id = self.runs.len() as u32;
        self.runs.push(Some(RunState {
            host,
            run,
            present: IntervalSet::new(),
            hours: Vec::new(),
            cursor: 0,
            last_time: None,
            start: None,
            topics: 0,
            origins: Vec::new(),
        }));
        self.run_index.insert(self.key.as_slice().into(), id);
        id
    }

    fn apply(&mut self, event: Event, origin: &Origin) {
        let run_id = self.run_for_key();
        match event {
            Event::Record { sequence, time: dt } => {
                self.totals.records += 1;
                // A record Varnish forced complete has no time of its own: place it at the
                // message time, else next to the previous record of its run.
                let incomplete = dt.is_none();
                let time = dt
                    .or(origin.timestamp)
                    .or_else(|| {
                        self.runs[run_id as usize]
                            .as_ref()
                            .and_then(|r| r.last_time)
                    })
                    .or(self.last_time);
                match time {
                    Some(t) => {
                        self.place_pending(t);
                        self.record(run_id, sequence, t, incomplete, origin);
                    }
                    None => self.pending.push((run_id, sequence, *origin)),
                }
            }
            Event::Heartbeat { time, start, last } => {
                self.totals.heartbeats += 1;
                self.place_pending(time);
                self.last_time = Some(time);
                let in_window = self.in_window(time);
                let Some(run) = self.runs[run_id as usize].as_mut() else {
                    return;
                };
                run.note_origin(origin);
                let bit = topic_bit(origin.topic);
                let hour = run.hour_mut(hour_of(time));
                hour.topics_heartbeat |= bit;
                if in_window {
                    hour.events += 1;
                    hour.topics_alive |= bit;
                }
                match (last, start) {
                    (Some(last), _) => hour.anchor(last, time),
                    (None, Some(start)) => {
                        if run.start.is_none_or(|(_, t)| time < t) {
                            run.start = Some((start, time));
                        }
                    }
                    (None, None) => {}
                }
            }
        }
    }

    fn place_pending(&mut self, time: i64) {
        if self.pending.is_empty() {
            return;
        }
        for (run, sequence, origin) in std::mem::take(&mut self.pending) {
            self.record(run, sequence, time, true, &origin);
        }
    }

    #[inline]
    fn record(
        &mut self,
        run_id: u32,
        sequence: Option<u64>,
        time: i64,
        incomplete: bool,
        origin: &Origin,
    ) {
        let in_window = self.in_window(time);
        if !incomplete {
            self.last_time = Some(time);
        }
        let Some(run) = self.runs[run_id as usize].as_mut() else {
            return;
        };
        run.note_origin(origin);
        if !incomplete {
            run.last_time = Some(time);
        }
        let new = sequence.map(|n| run.present.insert(n, time));
        let hour = run.hour_mut(hour_of(time));
        if !in_window {
            return;
        }
        hour.events += 1;
        hour.topics_alive |= topic_bit(origin.topic);
        if incomplete {
            hour.incomplete += 1;
        }
        match (sequence, new) {
            (Some(n), Some(new)) => {
                hour.actual += 1;
                hour.duplicate += u64::from(!new);
                hour.min = hour.min.min(n);
                hour.max = hour.max.max(n);
            }
            _ => hour.null_sequence += 1,
        }
    }

    /// Forgets every run that took events from `topic`/`partition`: used when the consumer
    /// group moves the partition to another auditor, which will then report those hosts.
    pub fn forget_partition(&mut self, topic: u16, partition: i32) {
        let key = (topic, partition);
        let mut forgotten = Vec::new();
        for (id, slot) in self.runs.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|r| r.origins.contains(&key)) {
                *slot = None;
                forgotten.push(id as u32);
            }
        }
        self.run_index.retain(|_, id| !forgotten.contains(id));
        self.last_run = None;
        self.pending.retain(|(run, _, _)| !forgotten.contains(run));
    }

    /// Works out the rows, roll-ups and bad-input counts.
    pub fn finish(mut self) -> Report {
        if !self.pending.is_empty() {
            for (_, _, origin) in std::mem::take(&mut self.pending) {
                self.bad(BadReason::NoTime, &origin);
            }
        }
        let window = self.span_hours();
        let mut rows = Vec::new();
        // Per host: hour -> (alive topics, heartbeat topics, latest run seen that hour).
        let mut liveness: BTreeMap<u32, BTreeMap<i64, (u64, u64, u32)>> = BTreeMap::new();
        let mut topic_liveness: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
        for (id, run) in self.runs.iter().enumerate() {
            let Some(run) = run else { continue };
            let lost = losses(run, self.config.from, self.config.to);
            let mut lost_iter = lost.iter().peekable();
            let mut emit = |hour: i64, stats: Option<&HourStats>, lost: u64| {
                let Some((first, last)) = window else { return };
                if hour < first || hour > last {
                    return;
                }
                if stats.is_none_or(|s| s.events == 0) && lost == 0 {
                    return;
                }
                rows.push(self.group_row(run, hour, stats, lost));
            };
            for stats in &run.hours {
                while let Some(&&(hour, n)) = lost_iter.peek() {
                    if hour >= stats.hour {
                        break;
                    }
                    emit(hour, None, n);
                    lost_iter.next();
                }
                let n = match lost_iter.peek() {
                    Some(&&(hour, n)) if hour == stats.hour => {
                        lost_iter.next();
                        n
                    }
                    _ => 0,
                };
                emit(stats.hour, Some(stats), n);
            }
            for &(hour, n) in lost_iter {
                emit(hour, None, n);
            }
            let host = liveness.entry(run.host).or_default();
            for stats in &run.hours {
                let e = host.entry(stats.hour).or_insert((0, 0, id as u32));
                e.0 |= stats.topics_alive;
                e.1 |= stats.topics_heartbeat;
                e.2 = id as u32;
                let t = topic_liveness.entry(stats.hour).or_insert((0, 0));
                t.0 |= stats.topics_alive;
                t.1 |= stats.topics_heartbeat;
            }
        }
        if let Some((first, last)) = window {
            self.silent_rows(&liveness, &topic_liveness, first, last, &mut rows);
        }
        rows.sort_by(|a, b| {
            (a.hour, &a.topic, &a.hostname, &a.run).cmp(&(b.hour, &b.topic, &b.hostname, &b.run))
        });
        let hours = rollups(&rows, &self.config);
        let bad_input = self
            .bad
            .counts
            .iter()
            .map(|(&reason, &(count, source, position))| BadCount {
                reason,
                count,
                first_at: format!(
                    "{}:{}",
                    self.sources
                        .get(source as usize)
                        .map_or("?", String::as_str),
                    position
                ),
            })
            .collect();
        Report {
            rows,
            hours,
            bad_input,
            totals: self.totals,
        }
    }

    /// The hours the report will cover, first and last (inclusive): the `--from`/`--to`
    /// window where given, else from the earliest to the latest hour with any event. Every
    /// host with a heartbeat history gets a row for each silent hour in it, so callers bound
    /// it before calling [`Auditor::finish`].
    pub fn span_hours(&self) -> Option<(i64, i64)> {
        let mut seen: Option<(i64, i64)> = None;
        for run in self.runs.iter().flatten() {
            for h in run.hours.iter().filter(|h| h.events > 0) {
                seen = Some(seen.map_or((h.hour, h.hour), |(a, b)| (a.min(h.hour), b.max(h.hour))));
            }
        }
        let first = self.config.from.map(hour_of).or(seen.map(|s| s.0))?;
        let last = self
            .config
            .to
            .map(|t| hour_of(t - 1))
            .or(seen.map(|s| s.1))?;
        (first <= last).then_some((first, last))
    }

    fn topic_names(&self, mask: u64) -> Option<String> {
        if self.config.topics.is_empty() {
            return None;
        }
        let names: Vec<&str> = self
            .config
            .topics
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & topic_bit(*i as u16) != 0)
            .map(|(_, n)| n.as_str())
            .collect();
        Some(names.join(","))
    }

    fn group_row(&self, run: &RunState, hour: i64, stats: Option<&HourStats>, lost: u64) -> Row {
        let (actual, duplicate) = stats.map_or((0, 0), |s| (s.actual, s.duplicate));
        let distinct = actual - duplicate;
        // Numbers near both ends of the u64 range can leave more missing numbers than a u64
        // holds: the counts saturate rather than overflow.
        let expected = distinct.saturating_add(lost);
        let percent_lost = percent(lost, expected);
        let status = if lost > 0 && percent_lost >= self.config.error_percent {
            Status::Error
        } else if lost > 0 && percent_lost >= self.config.warn_percent {
            Status::Warning
        } else {
            Status::Ok
        };
        Row {
            kind: RowKind::Group,
            hour,
            hostname: Some(self.hosts[run.host as usize].to_string()),
            run: run.run.as_deref().map(str::to_string),
            topic: self.topic_names(run.topics),
            sequence_min: stats.filter(|s| s.actual > 0).map(|s| s.min),
            sequence_max: stats.filter(|s| s.actual > 0).map(|s| s.max),
            count_actual: actual,
            count_expected: expected,
            count_different: (i128::from(expected) - i128::from(actual))
                .clamp(i128::from(i64::MIN), i128::from(i64::MAX))
                as i64,
            count_duplicate: duplicate,
            count_null_sequence: stats.map_or(0, |s| s.null_sequence),
            count_incomplete: stats.map_or(0, |s| s.incomplete),
            count_lost: lost,
            percent_lost,
            status,
        }
    }

    fn silent_rows(
        &self,
        liveness: &BTreeMap<u32, BTreeMap<i64, (u64, u64, u32)>>,
        topic_liveness: &BTreeMap<i64, (u64, u64)>,
        first: i64,
        last: i64,
        rows: &mut Vec<Row>,
    ) {
        let topic_count = self.config.topics.len().clamp(1, 64);
        for (&host, hours) in liveness {
            for topic in 0..topic_count as u16 {
                let bit = topic_bit(topic);
                let Some(since) = hours.iter().find(|(_, v)| v.1 & bit != 0).map(|(&h, _)| h)
                else {
                    continue;
                };
                for hour in (since + 1).max(first)..=last {
                    if hours.get(&hour).is_some_and(|v| v.0 & bit != 0) {
                        continue;
                    }
                    // Name the run the host was last heard from in this topic.
                    let run = hours
                        .range(..hour)
                        .rev()
                        .find(|(_, v)| (v.0 | v.1) & bit != 0)
                        .and_then(|(_, v)| self.runs[v.2 as usize].as_ref());
                    rows.push(Row::silent(
                        hour,
                        Some(self.hosts[host as usize].to_string()),
                        run.and_then(|r| r.run.as_deref().map(str::to_string)),
                        self.topic_names(bit),
                    ));
                }
            }
        }
        if self.config.topics.is_empty() {
            return;
        }
        for topic in 0..topic_count as u16 {
            let bit = topic_bit(topic);
            let Some(since) = topic_liveness
                .iter()
                .find(|(_, v)| v.1 & bit != 0)
                .map(|(&h, _)| h)
            else {
                continue;
            };
            for hour in (since + 1).max(first)..=last {
                if topic_liveness.get(&hour).is_none_or(|v| v.0 & bit == 0) {
                    rows.push(Row::silent(hour, None, None, self.topic_names(bit)));
                }
            }
        }
    }
}

/// Percent of `part` in `whole`, 0 when `whole` is 0.
pub(crate) fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}

/// A known (number, time) point that places missing numbers: the time to use when it is the
/// upper neighbour (`below`) and when it is the lower one (`above`). They differ for heartbeat
/// anchors: a reported last number was assigned by the first report of it, and the next number
/// after the last report of it.
#[derive(Debug, Clone, Copy)]
struct Point {
    number: i128,
    below: i64,
    above: i64,
}

/// Missing numbers of a run, counted per hour of the window, sorted by hour.
fn losses(run: &RunState, from: Option<i64>, to: Option<i64>) -> Vec<(i64, u64)> {
    let spans: Vec<Span> = run.present.spans();
    let mut points: Vec<Point> = Vec::with_capacity(spans.len() * 2 + run.hours.len() * 2 + 1);
    for s in &spans {
        points.push(Point {
            number: i128::from(s.start),
            below: s.start_time,
            above: s.start_time,
        });
        points.push(Point {
            number: i128::from(s.end),
            below: s.end_time,
            above: s.end_time,
        });
    }
    // The expected range: what arrived, widened by what the heartbeats say was assigned.
    let mut low: Option<i128> = spans.first().map(|s| i128::from(s.start));
    let mut high: Option<i128> = spans.last().map(|s| i128::from(s.end));
    for anchor in run.hours.iter().flat_map(|h| [h.low, h.high]).flatten() {
        points.push(Point {
            number: i128::from(anchor.last),
            below: anchor.first_time,
            above: anchor.last_time,
        });
        let next = i128::from(anchor.last) + 1;
        low = Some(low.map_or(next, |l| l.min(next)));
        high = Some(high.map_or(i128::from(anchor.last), |h| h.max(i128::from(anchor.last))));
    }
    if let Some((start, time)) = run.start {
        let start = i128::from(start);
        points.push(Point {
            number: start - 1,
            below: time,
            above: time,
        });
        low = Some(low.map_or(start, |l| l.min(start)));
    }
    let (Some(low), Some(high)) = (low, high) else {
        return Vec::new();
    };
    points.sort_by_key(|p| p.number);
    points.dedup_by(|later, kept| {
        if later.number == kept.number {
            kept.below = kept.below.min(later.below);
            kept.above = kept.above.max(later.above);
            true
        } else {
            false
        }
    });
    let mut lost: BTreeMap<i64, u64> = BTreeMap::new();
    let mut next = low;
    let mut place = |gap_start: i128, gap_end: i128| {
        place_gap(&points, gap_start, gap_end, from, to, &mut lost);
    };
    for s in &spans {
        let start = i128::from(s.start);
        if start > next {
            place(next, start - 1);
        }
        next = next.max(i128::from(s.end) + 1);
    }
    if next <= high {
        place(next, high);
    }
    lost.into_iter().collect()
}

/// Places the missing numbers `gap_start..=gap_end` in hours by interpolating the time
/// between the known points around (and inside) the gap.
fn place_gap(
    points: &[Point],
    gap_start: i128,
    gap_end: i128,
    from: Option<i64>,
    to: Option<i64>,
    lost: &mut BTreeMap<i64, u64>,
) {
    let first_at_or_after = points.partition_point(|p| p.number < gap_start);
    let Some(mut lower) = first_at_or_after.checked_sub(1).map(|i| points[i]) else {
        return;
    };
    let mut next = first_at_or_after;
    let mut start = gap_start;
    while start <= gap_end {
        let upper = points.get(next).copied().unwrap_or(lower);
        let end = if upper.number >= start {
            upper.number.min(gap_end)
        } else {
            gap_end
        };
        place_segment(lower, upper, start, end, from, to, lost);
        start = end + 1;
        lower = upper;
        next += 1;
    }
}

/// Counts the numbers `start..=end`, which lie between the points `lower` and `upper`, into
/// hours. The interpolated time is monotonic in the number, so the numbers of one hour are
/// contiguous and each hour's share is found by binary search rather than number by number.
fn place_segment(
    lower: Point,
    upper: Point,
    start: i128,
    end: i128,
    from: Option<i64>,
    to: Option<i64>,
    lost: &mut BTreeMap<i64, u64>,
) {
    let (t1, t2) = (i128::from(lower.above), i128::from(upper.below));
    let span = upper.number - lower.number;
    let time = |n: i128| -> i64 {
        if span <= 0 {
            return lower.above;
        }
        (t1 + ((t2 - t1) * (n - lower.number)).div_euclid(span)) as i64
    };
    // Outside the window maps to sentinels that sort before and after every hour.
    let bucket = |n: i128| -> i64 {
        let t = time(n);
        if from.is_some_and(|f| t < f) {
            i64::MIN
        } else if to.is_some_and(|e| t >= e) {
            i64::MAX
        } else {
            hour_of(t)
        }
    };
    let mut n = start;
    while n <= end {
        let b = bucket(n);
        let (mut lo, mut hi) = (n, end);
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            if bucket(mid) == b {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        if b != i64::MIN && b != i64::MAX {
            let missing = lost.entry(b).or_default();
            *missing = missing.saturating_add(((lo - n) as u64).saturating_add(1));
        }
        n = lo + 1;
    }
}

/// One roll-up per hour over the rows of that hour.
fn rollups(rows: &[Row], config: &Config) -> Vec<Rollup> {
    let mut out: Vec<Rollup> = Vec::new();
    let mut hosts_seen: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for row in rows {
        if out.last().is_none_or(|r| r.hour != row.hour) {
            out.push(Rollup::empty(row.hour));
            hosts_seen.clear();
        }
        let Some(r) = out.last_mut() else { continue };
        if let Some(host) = row.hostname.as_deref() {
            if hosts_seen.insert(host) {
                r.hosts += 1;
            }
        }
        match row.status {
            Status::Ok => {}
            Status::Warning => r.rows_warning += 1,
            Status::Error => r.rows_error += 1,
            Status::Silent => r.rows_silent += 1,
        }
        r.count_actual += row.count_actual;
        r.count_expected = r.count_expected.saturating_add(row.count_expected);
        r.count_lost = r.count_lost.saturating_add(row.count_lost);
        r.count_duplicate += row.count_duplicate;
        r.count_null_sequence += row.count_null_sequence;
        r.count_incomplete += row.count_incomplete;
        r.status = r.status.max(row.status);
    }
    for r in &mut out {
        r.percent_lost = percent(r.count_lost, r.count_expected);
        let by_total = if r.count_lost > 0 && r.percent_lost >= config.error_percent {
            Status::Error
        } else if r.count_lost > 0 && r.percent_lost >= config.warn_percent {
            Status::Warning
        } else {
            Status::Ok
        };
        r.status = r.status.max(by_total);
    }
    out
}
