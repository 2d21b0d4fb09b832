//! CSV: a header, then rows and roll-ups told apart by the `kind` column. Bad input is not in
//! it (the command line reports it on stderr).

use std::io::{self, Write};

use super::{Report, Rollup, Row};
use crate::time::format_hour;

impl Report {
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
                write_row(out, row)?;
            }
            write_rollup(out, rollup)?;
        }
        Ok(())
    }
}

fn write_row(out: &mut impl Write, row: &Row) -> io::Result<()> {
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
    )
}

fn write_rollup(out: &mut impl Write, rollup: &Rollup) -> io::Result<()> {
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
    )
}

/// A field quoted when it holds a comma, quote or line break.
fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}
