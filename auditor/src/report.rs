//! The audit's result and its three renderings: a readable table, JSON lines and CSV.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::audit::BadReason;
use crate::time::format_hour;

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
    /// Bad lines per reason.
    pub bad_input: Vec<BadCount>,
    /// What was read.
    pub totals: Totals,
}

impl Report {
    /// The worst status of any row (`Ok` when there are none).
    pub fn worst(&self) -> Status {
        self.rows
            .iter()
            .map(|r| r.status)
            .max()
            .unwrap_or(Status::Ok)
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

    /// Writes the readable table: rows per hour followed by the hour's roll-up.
    pub fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        let with_topic = self.rows.iter().any(|r| r.topic.is_some());
        let header = [
            "hour", "topic", "hostname", "run", "status", "seq_min", "seq_max", "actual",
            "expected", "lost", "%lost", "dup", "null", "incompl", "diff",
        ];
        let mut table: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
        let mut rollup_lines: Vec<(usize, String)> = Vec::new();
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        for rollup in &self.hours {
            for row in self.rows_of_hour(rollup.hour) {
                table.push(vec![
                    format_hour(row.hour),
                    row.topic.clone().unwrap_or_else(|| "-".into()),
                    row.hostname.clone().unwrap_or_else(|| "*".into()),
                    row.run.clone().unwrap_or_else(|| "-".into()),
                    row.status.name().to_uppercase(),
                    opt(row.sequence_min),
                    opt(row.sequence_max),
                    row.count_actual.to_string(),
                    row.count_expected.to_string(),
                    row.count_lost.to_string(),
                    format!("{:.3}", row.percent_lost),
                    row.count_duplicate.to_string(),
                    row.count_null_sequence.to_string(),
                    row.count_incomplete.to_string(),
                    row.count_different.to_string(),
                ]);
            }
            let mut line = String::new();
            let _ = write!(
                line,
                "== {} {}: {} hosts, expected {}, actual {}, lost {} ({:.3}%), duplicates {}, \
                 null {}, incomplete {}; rows warning {}, error {}, silent {}",
                format_hour(rollup.hour),
                rollup.status.name().to_uppercase(),
                rollup.hosts,
                rollup.count_expected,
                rollup.count_actual,
                rollup.count_lost,
                rollup.percent_lost,
                rollup.count_duplicate,
                rollup.count_null_sequence,
                rollup.count_incomplete,
                rollup.rows_warning,
                rollup.rows_error,
                rollup.rows_silent,
            );
            rollup_lines.push((table.len(), line));
        }
        let columns: Vec<usize> = (0..header.len())
            .filter(|&c| c != 1 || with_topic)
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|c| table.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        let mut rollups = rollup_lines.iter().peekable();
        for (i, cells) in table.iter().enumerate() {
            let mut line = String::new();
            for (n, &c) in columns.iter().enumerate() {
                if n > 0 {
                    line.push_str("  ");
                }
                // Text columns align left, counts right.
                if c <= 4 {
                    let _ = write!(line, "{:<w$}", cells[c], w = widths[c]);
                } else {
                    let _ = write!(line, "{:>w$}", cells[c], w = widths[c]);
                }
            }
            writeln!(out, "{}", line.trim_end())?;
            while let Some((at, text)) = rollups.peek() {
                if *at != i + 1 {
                    break;
                }
                writeln!(out, "{text}")?;
                rollups.next();
            }
        }
        if self.rows.is_empty() {
            writeln!(out, "(no records or heartbeats in the window)")?;
        }
        for bad in &self.bad_input {
            writeln!(
                out,
                "bad input: {} lines {} (first at {})",
                bad.count,
                bad.reason.name(),
                bad.first_at
            )?;
        }
        Ok(())
    }

    /// Writes one JSON object per line: rows (`"kind":"row"`), roll-ups (`"kind":"rollup"`)
    /// after each hour's rows, and bad-input counts (`"kind":"bad_input"`) at the end.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        let mut line = String::with_capacity(512);
        for rollup in &self.hours {
            for row in self.rows_of_hour(rollup.hour) {
                line.clear();
                line.push_str("{\"kind\":\"row\"");
                json_field(
                    &mut line,
                    "hour",
                    &JsonValue::Str(Some(&format_hour(row.hour))),
                );
                json_field(&mut line, "topic", &JsonValue::Str(row.topic.as_deref()));
                json_field(
                    &mut line,
                    "hostname",
                    &JsonValue::Str(row.hostname.as_deref()),
                );
                json_field(&mut line, "run", &JsonValue::Str(row.run.as_deref()));
                json_field(
                    &mut line,
                    "status",
                    &JsonValue::Str(Some(row.status.name())),
                );
                json_field(
                    &mut line,
                    "sequence_min",
                    &JsonValue::Int(row.sequence_min.map(i128::from)),
                );
                json_field(
                    &mut line,
                    "sequence_max",
                    &JsonValue::Int(row.sequence_max.map(i128::from)),
                );
                for (name, value) in row_counts(row) {
                    json_field(&mut line, name, &JsonValue::Int(Some(value)));
                }
                json_field(
                    &mut line,
                    "percent_lost",
                    &JsonValue::Float(row.percent_lost),
                );
                line.push('}');
                writeln!(out, "{line}")?;
            }
            line.clear();
            line.push_str("{\"kind\":\"rollup\"");
            json_field(
                &mut line,
                "hour",
                &JsonValue::Str(Some(&format_hour(rollup.hour))),
            );
            json_field(
                &mut line,
                "status",
                &JsonValue::Str(Some(rollup.status.name())),
            );
            for (name, value) in rollup_counts(rollup) {
                json_field(&mut line, name, &JsonValue::Int(Some(value)));
            }
            json_field(
                &mut line,
                "percent_lost",
                &JsonValue::Float(rollup.percent_lost),
            );
            line.push('}');
            writeln!(out, "{line}")?;
        }
        for bad in &self.bad_input {
            line.clear();
            line.push_str("{\"kind\":\"bad_input\"");
            json_field(
                &mut line,
                "reason",
                &JsonValue::Str(Some(bad.reason.name())),
            );
            json_field(
                &mut line,
                "count",
                &JsonValue::Int(Some(i128::from(bad.count))),
            );
            json_field(&mut line, "first_at", &JsonValue::Str(Some(&bad.first_at)));
            line.push('}');
            writeln!(out, "{line}")?;
        }
        Ok(())
    }

    /// Writes CSV with a header: rows and roll-ups (`kind` column); bad input goes to stderr.
    pub fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(
            out,
            "kind,hour,topic,hostname,run,status,sequence_min,sequence_max,count_actual,\
             count_expected,count_different,count_duplicate,count_null_sequence,count_incomplete,\
             count_lost,percent_lost"
        )?;
        for rollup in &self.hours {
            for row in self.rows_of_hour(rollup.hour) {
                let opt = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
                writeln!(
                    out,
                    "row,{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    format_hour(row.hour),
                    csv(row.topic.as_deref().unwrap_or("")),
                    csv(row.hostname.as_deref().unwrap_or("")),
                    csv(row.run.as_deref().unwrap_or("")),
                    row.status.name(),
                    opt(row.sequence_min),
                    opt(row.sequence_max),
                    row.count_actual,
                    row.count_expected,
                    row.count_different,
                    row.count_duplicate,
                    row.count_null_sequence,
                    row.count_incomplete,
                    row.count_lost,
                    row.percent_lost,
                )?;
            }
            writeln!(
                out,
                "rollup,{},,,,{},,,{},{},{},{},{},{},{},{}",
                format_hour(rollup.hour),
                rollup.status.name(),
                rollup.count_actual,
                rollup.count_expected,
                rollup.count_expected as i128 - rollup.count_actual as i128,
                rollup.count_duplicate,
                rollup.count_null_sequence,
                rollup.count_incomplete,
                rollup.count_lost,
                rollup.percent_lost,
            )?;
        }
        Ok(())
    }
}

fn row_counts(row: &Row) -> [(&'static str, i128); 7] {
    [
        ("count_actual", i128::from(row.count_actual)),
        ("count_expected", i128::from(row.count_expected)),
        ("count_different", i128::from(row.count_different)),
        ("count_duplicate", i128::from(row.count_duplicate)),
        ("count_null_sequence", i128::from(row.count_null_sequence)),
        ("count_incomplete", i128::from(row.count_incomplete)),
        ("count_lost", i128::from(row.count_lost)),
    ]
}

fn rollup_counts(r: &Rollup) -> [(&'static str, i128); 10] {
    [
        ("hosts", i128::from(r.hosts)),
        ("rows_warning", i128::from(r.rows_warning)),
        ("rows_error", i128::from(r.rows_error)),
        ("rows_silent", i128::from(r.rows_silent)),
        ("count_actual", i128::from(r.count_actual)),
        ("count_expected", i128::from(r.count_expected)),
        ("count_duplicate", i128::from(r.count_duplicate)),
        ("count_null_sequence", i128::from(r.count_null_sequence)),
        ("count_incomplete", i128::from(r.count_incomplete)),
        ("count_lost", i128::from(r.count_lost)),
    ]
}

enum JsonValue<'a> {
    Str(Option<&'a str>),
    Int(Option<i128>),
    Float(f64),
}

fn json_field(out: &mut String, name: &str, value: &JsonValue<'_>) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
    match value {
        JsonValue::Str(None) | JsonValue::Int(None) => out.push_str("null"),
        JsonValue::Str(Some(s)) => json_string(out, s),
        JsonValue::Int(Some(n)) => {
            let _ = write!(out, "{n}");
        }
        JsonValue::Float(f) if f.is_finite() => {
            let _ = write!(out, "{f}");
        }
        JsonValue::Float(_) => out.push_str("null"),
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}
