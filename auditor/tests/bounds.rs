//! The auditor's memory bounds (issue 12, item 10): a far-off date with a one-sided window,
//! a line without end, and more runs or pending records than the limits.
// Helpers here are test code too: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{audit_binary, audit_with, json_objects, stream};
use edgeship_audit::{BadReason, Config};
use edgeship_testkit::records::{base_time, final_heartbeat, heartbeat, record};
use edgeship_testkit::scratch::ScratchDir;
use serde_json::Value;

const RUN: &str = "20250601T115959Z-0a0a0a0a";

/// One host over two hours, cleanly stopped: 7,190 records.
fn one_host() -> String {
    let t0 = base_time();
    let mut out = heartbeat("cp1001", RUN, t0, None) + "\n";
    for (s, t) in stream(0, 7190, t0 + 1, 1) {
        out.push_str(&record("cp1001", Some(RUN), s, t));
        out.push('\n');
    }
    out.push_str(&final_heartbeat("cp1001", RUN, t0 + 7195, Some(7189)));
    out.push('\n');
    out
}

fn run(args: &[&str]) -> Output {
    audit_binary(args)
}

fn json(output: &Output, kind: &str) -> Vec<Value> {
    json_objects(output, kind)
}

fn bad_count(output: &Output, reason: &str) -> u64 {
    json(output, "bad_input")
        .iter()
        .filter(|b| b["reason"] == reason)
        .map(|b| b["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn from_alone_and_a_record_dated_9999_is_out_of_window_not_a_row_per_hour() {
    let scratch = ScratchDir::new("audit-bounds").unwrap();
    let mut text = one_host();
    text.push_str(
        r#"{"hostname":"cp1001","sequence":7190,"dt":"9999-12-31T23:00:00Z","run":"20250601T115959Z-0a0a0a0a"}"#,
    );
    text.push('\n');
    let path = scratch.write("far.json", text).unwrap();
    let started = Instant::now();
    let out = run(&[
        "--output",
        "json",
        "--from",
        "2025-06-01T12",
        path.to_str().unwrap(),
    ]);
    assert!(started.elapsed() < Duration::from_secs(30), "bounded work");
    assert_eq!(bad_count(&out, "out_of_window"), 1);
    let rows = json(&out, "row");
    assert_eq!(rows.len(), 2, "the two hours of records, none up to 9999");
    assert_eq!(out.status.code(), Some(1), "bad input is a warning");

    // The same with only --to: events more than --max-hours before it are out of window.
    let out = run(&[
        "--output",
        "json",
        "--to",
        "2025-06-01T14",
        "--max-hours",
        "1",
        path.to_str().unwrap(),
    ]);
    assert!(
        bad_count(&out, "out_of_window") > 3000,
        "the 12:00 hour and the far record"
    );

    // A window longer than --max-hours is refused before anything is read.
    let out = run(&[
        "--from",
        "2025-06-01",
        "--to",
        "2025-09-01",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-hours 744"));
}

#[test]
fn a_gzip_member_without_newlines_is_one_line_too_long_and_the_rest_is_read() {
    let scratch = ScratchDir::new("audit-bounds").unwrap();
    let text = one_host();
    let half = &text[..text.len() / 2];
    let head = &half[..=half.rfind('\n').unwrap()];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(head.as_bytes()).unwrap();
    // 17 MiB without a newline: over the 16 MiB cap.
    gz.write_all(&vec![b'x'; 17 << 20]).unwrap();
    gz.write_all(b"\n").unwrap();
    gz.write_all(&text.as_bytes()[head.len()..]).unwrap();
    let path = scratch.write("long.gz", gz.finish().unwrap()).unwrap();
    let out = run(&["--output", "json", path.to_str().unwrap()]);
    assert_eq!(bad_count(&out, "line_too_long"), 1);
    let rows = json(&out, "row");
    let actual: u64 = rows
        .iter()
        .map(|r| r["count_actual"].as_u64().unwrap())
        .sum();
    assert_eq!(actual, 7190, "every record around the long line is read");
    assert!(rows.iter().all(|r| r["count_lost"] == 0));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn runs_and_pending_records_beyond_the_limits_are_bad_input_not_memory() {
    let t0 = base_time();
    let mut lines = Vec::new();
    for host in 0..10 {
        lines.push(record(&format!("cp{host}"), Some(RUN), 0, t0));
    }
    let config = Config {
        max_runs: 4,
        ..Config::default()
    };
    let report = audit_with(config, &lines);
    let too_many: u64 = report
        .bad_input
        .iter()
        .filter(|b| b.reason == BadReason::TooManyRuns)
        .map(|b| b.count)
        .sum();
    assert_eq!(too_many, 6);
    assert_eq!(report.rows.len(), 4);

    // Records Varnish forced complete with no time yet wait for one, up to the limit.
    let forced = |s: u64| format!(r#"{{"hostname":"cp1","sequence":{s},"dt":"-","run":"{RUN}"}}"#);
    let lines: Vec<String> = (0..10).map(forced).collect();
    let config = Config {
        max_pending: 3,
        ..Config::default()
    };
    let report = audit_with(config, &lines);
    assert_eq!(
        report.totals.bad, 10,
        "7 at once, 3 at the end: none had a time"
    );
}
