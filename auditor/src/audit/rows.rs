//! The report's rows: one per (host, run, hour) with events or loss, one per silent host or
//! topic and hour, and a roll-up per hour, each with its status by the thresholds.

use std::collections::BTreeSet;

use super::config::{Config, HourSpan};
use super::losses::{losses, HourLoss};
use super::runs::Runs;
use super::silence::{Liveness, Silence};
use super::state::{topic_bit, HourStats, RunState};
use crate::report::{Rollup, Row, RowKind, Status};

/// The rows of every run and every silence in `span`, sorted by hour, topic, host and run.
pub(crate) fn rows(runs: &Runs, config: &Config, span: Option<HourSpan>) -> Vec<Row> {
    let Some(span) = span else {
        return Vec::new();
    };
    let mut builder = RowBuilder {
        runs,
        config,
        span,
        rows: Vec::new(),
    };
    for (_, run) in runs.live() {
        builder.add_run(run);
    }
    let liveness = Liveness::of(runs);
    // Files count as one topic (index 0), without a name.
    let topic_count = config.topics.len().clamp(1, 64);
    for silence in liveness.silent_hosts(topic_count, span) {
        builder.add_silence(silence);
    }
    // Files have no topics, so no topic can fall silent.
    if !config.topics.is_empty() {
        for silence in liveness.silent_topics(topic_count, span) {
            builder.add_silence(silence);
        }
    }
    let mut rows = builder.rows;
    rows.sort_by(|a, b| {
        (a.hour, &a.topic, &a.hostname, &a.run).cmp(&(b.hour, &b.topic, &b.hostname, &b.run))
    });
    rows
}

/// Collects rows, naming hosts, runs and topics.
struct RowBuilder<'a> {
    runs: &'a Runs,
    config: &'a Config,
    span: HourSpan,
    rows: Vec<Row>,
}

impl RowBuilder<'_> {
    /// The rows of one run: its hours merged with its losses, both sorted by hour.
    fn add_run(&mut self, run: &RunState) {
        let lost = losses(run, self.config.window());
        let mut lost_iter = lost.iter().copied().peekable();
        for stats in &run.hours {
            while let Some(loss) = lost_iter.next_if(|l| l.hour < stats.hour) {
                self.add_hour(run, loss.hour, None, loss.lost);
            }
            let n = lost_iter
                .next_if(|l| l.hour == stats.hour)
                .map_or(0, |l| l.lost);
            self.add_hour(run, stats.hour, Some(stats), n);
        }
        for HourLoss { hour, lost } in lost_iter {
            self.add_hour(run, hour, None, lost);
        }
    }

    /// The row of one hour of a run, if the hour is in the span and has events or loss.
    fn add_hour(&mut self, run: &RunState, hour: i64, stats: Option<&HourStats>, lost: u64) {
        if !self.span.contains(hour) {
            return;
        }
        if stats.is_none_or(|s| s.events == 0) && lost == 0 {
            return;
        }
        let row = self.group_row(run, hour, stats, lost);
        self.rows.push(row);
    }

    fn group_row(&self, run: &RunState, hour: i64, stats: Option<&HourStats>, lost: u64) -> Row {
        let (actual, duplicate) = stats.map_or((0, 0), |s| (s.actual, s.duplicate));
        let distinct = actual - duplicate;
        // Numbers near both ends of the u64 range can leave more missing numbers than a u64
        // holds: the counts saturate rather than overflow.
        let expected = distinct.saturating_add(lost);
        let percent_lost = percent(lost, expected);
        let shipper_lost = stats.map_or(0, |s| s.shipper_lost);
        Row {
            kind: RowKind::Group,
            hour,
            hostname: Some(self.runs.host_name(run.host).to_string()),
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
            count_shipper_lost: shipper_lost,
            status: status(self.config, lost, percent_lost).max(shipper_status(
                self.config,
                shipper_lost,
                expected,
            )),
        }
    }

    fn add_silence(&mut self, silence: Silence) {
        let row = Row::silent(
            silence.hour,
            silence
                .host
                .map(|host| self.runs.host_name(host).to_string()),
            silence
                .run
                .and_then(|id| self.runs.get(id))
                .and_then(|r| r.run.as_deref().map(str::to_string)),
            self.topic_names(topic_bit(silence.topic)),
        );
        self.rows.push(row);
    }

    /// The names of the topics in `mask`, comma-separated; `None` for files.
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
}

/// The status of `lost` numbers, `percent_lost` of those expected, by the thresholds.
fn status(config: &Config, lost: u64, percent_lost: f64) -> Status {
    if lost > 0 && percent_lost >= config.error_percent {
        Status::Error
    } else if lost > 0 && percent_lost >= config.warn_percent {
        Status::Warning
    } else {
        Status::Ok
    }
}

/// The status of `shipper_lost`, the increases of the shipper's loss counters, by the same
/// thresholds as sequence loss (as a percentage of all it should have shipped: `expected`, plus
/// those lost before they were numbered), and never better than a warning: `log_overruns`
/// counts overruns, not requests, and one overrun of the log ring can lose thousands of
/// requests (the fault suite's ring wrap: 2 overruns, 8,915 requests), so the percentage can
/// make a large loss look negligible.
fn shipper_status(config: &Config, shipper_lost: u64, expected: u64) -> Status {
    let percent_lost = percent(shipper_lost, expected.saturating_add(shipper_lost));
    match status(config, shipper_lost, percent_lost) {
        Status::Ok if shipper_lost > 0 => Status::Warning,
        by_percent => by_percent,
    }
}

/// Percent of `part` in `whole`, 0 when `whole` is 0.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}

/// One roll-up per hour over the rows of that hour (sorted by hour).
pub(crate) fn rollups(rows: &[Row], config: &Config) -> Vec<Rollup> {
    let mut out: Vec<Rollup> = Vec::new();
    let mut hosts_seen: BTreeSet<&str> = BTreeSet::new();
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
        r.count_shipper_lost = r.count_shipper_lost.saturating_add(row.count_shipper_lost);
        r.status = r.status.max(row.status);
    }
    for r in &mut out {
        r.percent_lost = percent(r.count_lost, r.count_expected);
        r.status = r
            .status
            .max(status(config, r.count_lost, r.percent_lost))
            .max(shipper_status(
                config,
                r.count_shipper_lost,
                r.count_expected,
            ));
    }
    out
}
