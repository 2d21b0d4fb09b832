//! Helpers shared by the auditor's test binaries: (sequence, time) streams and running the
//! library audit. The records and heartbeats themselves come from `edgeship_testkit::records`.
// Helpers here are test code too: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]
// Each test binary uses a different subset of these helpers, and `pub` here is for the
// sibling modules of one test crate, not an API.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

use edgeship_audit::time::hour_of;
use edgeship_audit::{Auditor, Config, Origin, Report, Row, RowKind};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseProducer, BaseRecord};
use serde_json::Value;

/// Runs the `edgeship-audit` binary with `args`.
pub fn audit_binary(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgeship-audit"))
        .args(args)
        .output()
        .unwrap()
}

/// The objects of one `kind` in a JSON report on standard output.
pub fn json_objects(output: &Output, kind: &str) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|o| o["kind"] == kind)
        .collect()
}

/// Sends `record`, letting deliveries drain and retrying while librdkafka's queue is full.
pub fn send<K: ToBytes + ?Sized, P: ToBytes + ?Sized>(
    producer: &BaseProducer,
    mut record: BaseRecord<'_, K, P>,
) {
    loop {
        match producer.send(record) {
            Ok(()) => break,
            Err((_, returned)) => {
                producer.poll(Duration::from_millis(50));
                record = returned;
            }
        }
    }
    producer.poll(Duration::ZERO);
}

/// Audits `lines` with the default configuration.
pub fn audit(lines: &[String]) -> Report {
    audit_with(Config::default(), lines)
}

/// Audits `lines` as one file.
pub fn audit_with(config: Config, lines: &[String]) -> Report {
    let mut auditor = Auditor::new(config);
    let source = auditor.add_source("test");
    for (i, line) in lines.iter().enumerate() {
        let origin = Origin {
            source,
            position: i as u64 + 1,
            topic: 0,
            partition: -1,
            timestamp: None,
        };
        auditor.ingest(line.as_bytes(), &origin);
    }
    auditor.finish()
}

/// The count rows of one host.
pub fn rows_of<'a>(report: &'a Report, host: &str) -> Vec<&'a Row> {
    report
        .rows
        .iter()
        .filter(|r| r.kind == RowKind::Group && r.hostname.as_deref() == Some(host))
        .collect()
}

/// Lost numbers per hour over all of a host's rows.
pub fn lost_by_hour(report: &Report, host: &str) -> BTreeMap<i64, u64> {
    let mut out = BTreeMap::new();
    for row in rows_of(report, host) {
        *out.entry(row.hour).or_default() += row.count_lost;
    }
    out
}

/// Records per hour of a list of (sequence, time) pairs.
pub fn per_hour(items: &[(u64, i64)]) -> BTreeMap<i64, u64> {
    let mut out = BTreeMap::new();
    for &(_, t) in items {
        *out.entry(hour_of(t)).or_default() += 1;
    }
    out
}

/// Sum of a column over rows.
pub fn sum(rows: &[&Row], column: impl Fn(&Row) -> u64) -> u64 {
    rows.iter().map(|r| column(r)).sum()
}

/// (sequence, time) of `count` records from `first`, `per_second` of them each second from
/// `start`.
pub fn stream(first: u64, count: u64, start: i64, per_second: u64) -> Vec<(u64, i64)> {
    (0..count)
        .map(|i| (first + i, start + (i / per_second) as i64))
        .collect()
}
