//! The readable table: aligned columns, the hour's roll-up line (`== `) after its rows, then
//! one line per finding (`!! `), then the bad-input counts.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{escape_name, Finding, Report, Rollup, Row};
use crate::time::format_hour;

/// The column titles.
const HEADER: [&str; 16] = [
    "hour", "topic", "hostname", "run", "status", "seq_min", "seq_max", "actual", "expected",
    "lost", "%lost", "dup", "null", "incompl", "diff", "shp_lost",
];

/// Columns up to this index hold text and align left; the counts after it align right.
const LAST_TEXT_COLUMN: usize = 4;

/// A roll-up line, printed after the table row it follows.
struct RollupLine {
    /// How many table lines (header included) come before it.
    after: usize,
    text: String,
}

impl Report {
    /// Writes the readable table: rows per hour followed by the hour's roll-up.
    pub fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        let mut table: Vec<Vec<String>> = vec![HEADER.iter().map(|s| s.to_string()).collect()];
        let mut rollup_lines: Vec<RollupLine> = Vec::new();
        for rollup in &self.hours {
            table.extend(self.rows_of_hour(rollup.hour).iter().map(row_cells));
            rollup_lines.push(RollupLine {
                after: table.len(),
                text: rollup_line(rollup),
            });
        }
        // The topic column (index 1) is shown only when some row has a topic.
        let with_topic = self.rows.iter().any(|r| r.topic.is_some());
        let columns: Vec<usize> = (0..HEADER.len())
            .filter(|&c| c != 1 || with_topic)
            .collect();
        write_aligned(out, &table, &columns, &rollup_lines)?;
        if self.rows.is_empty() {
            writeln!(out, "(no records or heartbeats in the window)")?;
        }
        for finding in &self.findings {
            writeln!(out, "{}", finding_line(finding))?;
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
}

/// The cells of one row, in [`HEADER`] order.
fn row_cells(row: &Row) -> Vec<String> {
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    vec![
        format_hour(row.hour),
        row.topic
            .as_deref()
            .map_or_else(|| "-".into(), |t| escape_name(t).into_owned()),
        row.hostname
            .as_deref()
            .map_or_else(|| "*".into(), |h| escape_name(h).into_owned()),
        row.run
            .as_deref()
            .map_or_else(|| "-".into(), |r| escape_name(r).into_owned()),
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
        row.count_shipper_lost.to_string(),
    ]
}

/// The line of one finding: `!!`, status, host, run, then what it means.
fn finding_line(finding: &Finding) -> String {
    format!(
        "!! {} {} run {}: {}",
        finding.status.name().to_uppercase(),
        escape_name(&finding.hostname),
        escape_name(finding.run.as_deref().unwrap_or("-")),
        escape_name(&finding.describe()),
    )
}

/// The line that sums up one hour.
fn rollup_line(rollup: &Rollup) -> String {
    let mut line = String::new();
    let _ = write!(
        line,
        "== {} {}: {} hosts, expected {}, actual {}, lost {} ({:.3}%), duplicates {}, \
         null {}, incomplete {}, shipper lost {}; rows warning {}, error {}, silent {}",
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
        rollup.count_shipper_lost,
        rollup.rows_warning,
        rollup.rows_error,
        rollup.rows_silent,
    );
    line
}

/// Writes the `columns` of the table's lines, padded to each column's widest cell, each
/// roll-up line after the row it follows.
fn write_aligned(
    out: &mut impl Write,
    table: &[Vec<String>],
    columns: &[usize],
    rollup_lines: &[RollupLine],
) -> io::Result<()> {
    let widths: Vec<usize> = (0..HEADER.len())
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
            if c <= LAST_TEXT_COLUMN {
                let _ = write!(line, "{:<w$}", cells[c], w = widths[c]);
            } else {
                let _ = write!(line, "{:>w$}", cells[c], w = widths[c]);
            }
        }
        writeln!(out, "{}", line.trim_end())?;
        while let Some(rollup) = rollups.peek() {
            if rollup.after != i + 1 {
                break;
            }
            writeln!(out, "{}", rollup.text)?;
            rollups.next();
        }
    }
    Ok(())
}
