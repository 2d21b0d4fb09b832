//! JSON lines: one object per row (`"kind":"row"`), per hour's roll-up (`"kind":"rollup"`),
//! per finding (`"kind"` its name, e.g. `"no_heartbeat"`) and per bad-input reason
//! (`"kind":"bad_input"`). Strings are escaped as JSON requires, and every control or
//! invisible character a terminal could act on as `\uXXXX` too.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::escape::needs_escape;
use super::{BadCount, Finding, Report, Rollup, Row};
use crate::time::{format_hour, format_time};

impl Report {
    /// Writes one JSON object per line: rows (`"kind":"row"`), roll-ups (`"kind":"rollup"`)
    /// after each hour's rows, and bad-input counts (`"kind":"bad_input"`) at the end.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        let mut line = JsonLine::default();
        for rollup in &self.hours {
            for row in self.rows_of_hour(rollup.hour) {
                row_object(&mut line, row);
                line.write_to(out)?;
            }
            rollup_object(&mut line, rollup);
            line.write_to(out)?;
        }
        for finding in &self.findings {
            finding_object(&mut line, finding);
            line.write_to(out)?;
        }
        for bad in &self.bad_input {
            bad_input_object(&mut line, bad);
            line.write_to(out)?;
        }
        Ok(())
    }
}

fn row_object(line: &mut JsonLine, row: &Row) {
    line.start("row");
    line.string("hour", Some(&format_hour(row.hour)));
    line.string("topic", row.topic.as_deref());
    line.string("hostname", row.hostname.as_deref());
    line.string("run", row.run.as_deref());
    line.string("status", Some(row.status.name()));
    line.integer("sequence_min", row.sequence_min.map(i128::from));
    line.integer("sequence_max", row.sequence_max.map(i128::from));
    line.count("count_actual", row.count_actual);
    line.count("count_expected", row.count_expected);
    line.integer("count_different", Some(i128::from(row.count_different)));
    line.count("count_duplicate", row.count_duplicate);
    line.count("count_null_sequence", row.count_null_sequence);
    line.count("count_incomplete", row.count_incomplete);
    line.count("count_lost", row.count_lost);
    line.float("percent_lost", row.percent_lost);
    line.count("count_shipper_lost", row.count_shipper_lost);
}

fn finding_object(line: &mut JsonLine, finding: &Finding) {
    line.start(finding.kind.name());
    line.string(
        "hour",
        Some(&format_hour(crate::time::hour_of(finding.since))),
    );
    line.string("hostname", Some(&finding.hostname));
    line.string("run", finding.run.as_deref());
    line.string("next_run", finding.next_run.as_deref());
    line.string("status", Some(finding.status.name()));
    line.string("since", Some(&format_time(finding.since)));
    line.string("until", finding.until.map(format_time).as_deref());
    line.integer("seconds", finding.seconds().map(i128::from));
    line.integer("sequence_last", finding.sequence.map(i128::from));
    line.integer("interval_seconds", finding.interval.map(i128::from));
    line.integer("spool_records", finding.pending.map(i128::from));
    line.string("message", Some(&finding.describe()));
}

fn rollup_object(line: &mut JsonLine, rollup: &Rollup) {
    line.start("rollup");
    line.string("hour", Some(&format_hour(rollup.hour)));
    line.string("status", Some(rollup.status.name()));
    line.count("hosts", rollup.hosts);
    line.count("rows_warning", rollup.rows_warning);
    line.count("rows_error", rollup.rows_error);
    line.count("rows_silent", rollup.rows_silent);
    line.count("count_actual", rollup.count_actual);
    line.count("count_expected", rollup.count_expected);
    line.count("count_duplicate", rollup.count_duplicate);
    line.count("count_null_sequence", rollup.count_null_sequence);
    line.count("count_incomplete", rollup.count_incomplete);
    line.count("count_lost", rollup.count_lost);
    line.float("percent_lost", rollup.percent_lost);
    line.count("count_shipper_lost", rollup.count_shipper_lost);
}

fn bad_input_object(line: &mut JsonLine, bad: &BadCount) {
    line.start("bad_input");
    line.string("reason", Some(bad.reason.name()));
    line.count("count", bad.count);
    line.string("first_at", Some(&bad.first_at));
}

/// One JSON object being written, member after member, into a reused buffer.
#[derive(Default)]
struct JsonLine {
    text: String,
}

impl JsonLine {
    /// Starts a new object with its `kind`.
    fn start(&mut self, kind: &str) {
        self.text.clear();
        self.text.push_str("{\"kind\":\"");
        self.text.push_str(kind);
        self.text.push('"');
    }

    fn name(&mut self, name: &str) {
        self.text.push_str(",\"");
        self.text.push_str(name);
        self.text.push_str("\":");
    }

    /// A string member; `None` is `null`.
    fn string(&mut self, name: &str, value: Option<&str>) {
        self.name(name);
        match value {
            Some(s) => json_string(&mut self.text, s),
            None => self.text.push_str("null"),
        }
    }

    /// An integer member; `None` is `null`.
    fn integer(&mut self, name: &str, value: Option<i128>) {
        self.name(name);
        match value {
            Some(n) => {
                let _ = write!(self.text, "{n}");
            }
            None => self.text.push_str("null"),
        }
    }

    fn count(&mut self, name: &str, value: u64) {
        self.integer(name, Some(i128::from(value)));
    }

    /// A number member; not-a-number and infinities are `null`.
    fn float(&mut self, name: &str, value: f64) {
        self.name(name);
        if value.is_finite() {
            let _ = write!(self.text, "{value}");
        } else {
            self.text.push_str("null");
        }
    }

    /// Closes the object and writes it as one line.
    fn write_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        self.text.push('}');
        writeln!(out, "{}", self.text)
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // Every character the table escapes is in the Basic Multilingual Plane: one `\u`.
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
