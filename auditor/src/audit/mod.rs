//! The arithmetic: per (host, run, hour) counts, missing numbers placed in hours, silence.
//!
//! Records are folded one at a time into per-run state whose size depends on the gaps and
//! hours seen, never on the number of records: an [`IntervalSet`](crate::intervals::IntervalSet)
//! of present numbers and one small count per hour. Everything that needs the whole window
//! (which numbers are missing, where the heartbeats put the ends of a run, which hosts fell
//! silent) is worked out once in [`Auditor::finish`].
//!
//! This module is the ingestion: [`Auditor`] folds lines (`event` reads them) into the runs
//! (`runs` interns their names and attributes run-less records to runs by time, `state` is
//! what each keeps, `beats` what its heartbeats said). At the end, `losses` works out what
//! each run is missing, `silence` which hosts and topics went quiet, `findings` what the
//! heartbeats say about each run's end and the gaps between runs, and `rows` turns that into
//! the [`Report`].

mod bad;
mod beats;
mod config;
mod event;
mod findings;
mod key;
mod losses;
mod rows;
mod runs;
mod silence;
mod state;

pub use config::{Config, Headers, HourSpan, Origin, PartitionId};

use bad::BadInput;
use config::Window;
use event::{Event, Heartbeat, LineReader, Record};
use runs::Runs;
use state::topic_bit;

use crate::report::{BadReason, Report, Totals};
use crate::time::hour_of;

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

/// A record with `dt` `-` seen before any time: placed at the next time seen.
#[derive(Debug, Clone, Copy)]
struct Pending {
    run: u32,
    sequence: Option<u64>,
    origin: Origin,
}

/// A record with the time it is counted at.
#[derive(Debug, Clone, Copy)]
struct Placed<'a> {
    run: u32,
    sequence: Option<u64>,
    time: i64,
    /// Varnish forced it complete: its time is borrowed from a neighbour, not its own.
    incomplete: bool,
    origin: &'a Origin,
}

/// Folds lines into audit state; [`Auditor::finish`] turns it into a [`Report`].
#[derive(Debug)]
pub struct Auditor {
    config: Config,
    window: Window,
    /// Where events are counted at all (see [`Config::admitted`]).
    admitted: Window,
    lines: LineReader,
    runs: Runs,
    bad: BadInput,
    totals: Totals,
    /// Time of the last complete record or heartbeat of any run.
    last_time: Option<i64>,
    /// The newest time of an event inside the window: where the audited window ends when
    /// `--to` does not say.
    newest: Option<i64>,
    pending: Vec<Pending>,
}

impl Auditor {
    /// An auditor with empty state.
    pub fn new(config: Config) -> Self {
        Self {
            lines: LineReader::new(&config.fields),
            window: config.window(),
            admitted: config.admitted(),
            runs: Runs::new(config.max_runs),
            config,
            bad: BadInput::default(),
            totals: Totals::default(),
            last_time: None,
            newest: None,
            pending: Vec::new(),
        }
    }

    /// Registers an input (a file name, `topic[partition]`) and returns its index for
    /// [`Origin::source`].
    pub fn add_source(&mut self, name: impl Into<String>) -> u32 {
        self.bad.add_source(name.into())
    }

    /// The size of the state kept: it grows with runs, gaps and hours, never with records.
    pub fn footprint(&self) -> Footprint {
        let live = self.runs.live().map(|(_, run)| run);
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

    /// Counts a line the input could not deliver whole: longer than
    /// [`crate::input::MAX_LINE`].
    pub fn ingest_too_long(&mut self, origin: &Origin) {
        self.totals.lines += 1;
        self.bad(BadReason::LineTooLong, origin);
    }

    fn bad(&mut self, reason: BadReason, origin: &Origin) {
        self.totals.bad += 1;
        self.bad.count(reason, origin);
    }

    /// Folds one line (without its newline) into the audit.
    pub fn ingest(&mut self, line: &[u8], origin: &Origin) {
        self.ingest_message(line, origin, &Headers::default());
    }

    /// Folds one Kafka message's body into the audit, its `headers` winning over the body's
    /// run and sequence fields.
    pub fn ingest_message(&mut self, line: &[u8], origin: &Origin, headers: &Headers<'_>) {
        self.totals.lines += 1;
        match self.lines.read(line, headers) {
            Ok(event) => {
                if event.time().is_some_and(|t| !self.admitted.contains(t)) {
                    return self.bad(BadReason::OutOfWindow, origin);
                }
                let Some(run) = self.runs.id_for(self.lines.run_key()) else {
                    return self.bad(BadReason::TooManyRuns, origin);
                };
                match event {
                    Event::Record(record) => {
                        let run = self.runs.attribute(run, record.time, record.sequence);
                        self.record(run, record, origin);
                    }
                    Event::Heartbeat(heartbeat) => self.heartbeat(run, heartbeat, origin),
                }
            }
            Err(reason) => self.bad(reason, origin),
        }
    }

    /// A record: counted at its time, or placed by its neighbours' when it has none.
    fn record(&mut self, run: u32, record: Record, origin: &Origin) {
        self.totals.records += 1;
        let Record { sequence, time: dt } = record;
        // A record Varnish forced complete has no time of its own: place it at the message
        // time, else next to the previous record of its run.
        let time = dt
            .or(origin.timestamp)
            .or_else(|| self.runs.get(run).and_then(|r| r.last_time))
            .or(self.last_time);
        match time {
            Some(time) => {
                self.place_pending(time);
                self.count(Placed {
                    run,
                    sequence,
                    time,
                    incomplete: dt.is_none(),
                    origin,
                });
            }
            None if self.pending.len() >= self.config.max_pending => {
                self.bad(BadReason::NoTime, origin);
            }
            None => self.pending.push(Pending {
                run,
                sequence,
                origin: *origin,
            }),
        }
    }

    /// A heartbeat: liveness of its hour and topic, and the anchors that bound the run.
    fn heartbeat(&mut self, id: u32, heartbeat: Heartbeat, origin: &Origin) {
        let Heartbeat {
            time, start, last, ..
        } = heartbeat;
        self.totals.heartbeats += 1;
        self.place_pending(time);
        self.last_time = Some(time);
        let in_window = self.window.contains(time);
        if in_window {
            self.newest = self.newest.max(Some(time));
        }
        self.runs.adopt_unattributed(id, &heartbeat);
        self.runs.note_run_start(id, &heartbeat);
        let Some(run) = self.runs.get_mut(id) else {
            return;
        };
        run.note_origin(origin);
        let shipper_lost = run.beats.note(&heartbeat);
        let bit = topic_bit(origin.topic);
        let hour = run.hour_mut(hour_of(time));
        hour.topics_heartbeat |= bit;
        if in_window {
            hour.events += 1;
            hour.topics_alive |= bit;
            hour.shipper_lost = hour.shipper_lost.saturating_add(shipper_lost);
        }
        match (last, start) {
            (Some(last), _) => hour.anchor(last, time),
            (None, Some(start)) => run.note_start(start, time),
            (None, None) => {}
        }
    }

    fn place_pending(&mut self, time: i64) {
        if self.pending.is_empty() {
            return;
        }
        for pending in std::mem::take(&mut self.pending) {
            self.count(Placed {
                run: pending.run,
                sequence: pending.sequence,
                time,
                incomplete: true,
                origin: &pending.origin,
            });
        }
    }

    /// Counts a record in its run and hour.
    #[inline]
    fn count(&mut self, record: Placed<'_>) {
        let in_window = self.window.contains(record.time);
        if !record.incomplete {
            self.last_time = Some(record.time);
        }
        let Some(run) = self.runs.get_mut(record.run) else {
            return;
        };
        run.note_origin(record.origin);
        if !record.incomplete {
            run.last_time = Some(record.time);
        }
        let new = record.sequence.map(|n| run.present.insert(n, record.time));
        let hour = run.hour_mut(hour_of(record.time));
        if !in_window {
            return;
        }
        if !record.incomplete {
            self.newest = self.newest.max(Some(record.time));
        }
        hour.events += 1;
        hour.topics_alive |= topic_bit(record.origin.topic);
        if record.incomplete {
            hour.incomplete += 1;
        }
        match (record.sequence, new) {
            (Some(n), Some(new)) => {
                hour.actual += 1;
                hour.duplicate += u64::from(!new);
                hour.min = hour.min.min(n);
                hour.max = hour.max.max(n);
            }
            _ => hour.null_sequence += 1,
        }
    }

    /// Forgets every run that took events from `partition`: used when the consumer group
    /// moves the partition to another auditor, which will then report those hosts.
    pub fn forget_partition(&mut self, partition: PartitionId) {
        let forgotten = self.runs.forget_partition(partition);
        self.pending.retain(|p| !forgotten.contains(&p.run));
    }

    /// Works out the rows, roll-ups and bad-input counts.
    pub fn finish(mut self) -> Report {
        for pending in std::mem::take(&mut self.pending) {
            self.bad(BadReason::NoTime, &pending.origin);
        }
        let rows = rows::rows(&self.runs, &self.config, self.span_hours());
        let hours = rows::rollups(&rows, &self.config);
        let end = self.window.to.or(self.newest);
        Report {
            rows,
            hours,
            findings: findings::findings(&self.runs, self.window, end),
            bad_input: self.bad.counts(),
            totals: self.totals,
        }
    }

    /// The hours the report will cover: the `--from`/`--to` window where given, else from the
    /// earliest to the latest hour with any event. Every host with a heartbeat history gets a
    /// row for each silent hour in it, so callers bound it before calling [`Auditor::finish`].
    pub fn span_hours(&self) -> Option<HourSpan> {
        let seen = self.runs.event_hours();
        let first = self.window.first_hour().or(seen.map(|s| s.first))?;
        let last = self.window.last_hour().or(seen.map(|s| s.last))?;
        (first <= last).then_some(HourSpan { first, last })
    }
}
