//! CSV (RFC 4180): a header, then rows, roll-ups and findings told apart by the `kind`
//! column. Bad input is not in it (the command line reports it on stderr). Host and run names
//! are escaped as in the table ([`escape_name`]) and then quoted when they need it.

use std::io::{self, Write};

use super::{escape_name, Finding, Report, Rollup, Row};
use crate::time::{format_hour, format_time, hour_of};

impl Report {
    /// Writes CSV with a header: rows and roll-ups, then findings (`kind` column, the
    /// finding's name); bad input goes to stderr.
    pub fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(
            out,
            "kind,hour,topic,hostname,run,status,sequence_min,sequence_max,count_actual,\
             count_expected,count_different,count_duplicate,count_null_sequence,count_incomplete,\
             count_lost,percent_lost,count_shipper_lost,next_run,since,until,seconds,sequence_last"
        )?;
        for rollup in &self.hours {
            for row in self.rows_of_hour(rollup.hour) {
                write_row(out, row)?;
            }
            write_rollup(out, rollup)?;
        }
        for finding in &self.findings {
            write_finding(out, finding)?;
        }
        Ok(())
    }
}

fn write_row(out: &mut impl Write, row: &Row) -> io::Result<()> {
    let opt = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
    writeln!(
        out,
        "row,{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},,,,,",
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
        row.count_shipper_lost,
    )
}

fn write_rollup(out: &mut impl Write, rollup: &Rollup) -> io::Result<()> {
    writeln!(
        out,
        "rollup,{},,,,{},,,{},{},{},{},{},{},{},{},{},,,,,",
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
        rollup.count_shipper_lost,
    )
}

fn write_finding(out: &mut impl Write, finding: &Finding) -> io::Result<()> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    writeln!(
        out,
        "{},{},,{},{},{},,,,,,,,,,,,{},{},{},{},{}",
        finding.kind.name(),
        format_hour(hour_of(finding.since)),
        csv(&finding.hostname),
        csv(finding.run.as_deref().unwrap_or("")),
        finding.status.name(),
        csv(finding.next_run.as_deref().unwrap_or("")),
        format_time(finding.since),
        opt(finding.until.map(format_time)),
        opt(finding.seconds().map(|s| s.to_string())),
        opt(finding.sequence.map(|n| n.to_string())),
    )
}

/// A field escaped as the table escapes names, then quoted when it holds a comma, quote or
/// line break (RFC 4180; after escaping, no line break is left, but the rule stays whole).
fn csv(field: &str) -> String {
    let field = escape_name(field);
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.into_owned()
    }
}
