//! Audits that are right across restarts for any format (issue 12): the run and sequence
//! from Kafka record headers, run boundaries inferred from files, and what the heartbeats
//! say (runs that ended without a final heartbeat, unread windows, the shipper's loss
//! counters, no heartbeat since T).
// Helpers here are test code too: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{audit_binary, json_objects};
use edgeship_testkit::records::{base_time, final_heartbeat, heartbeat, record};
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::tansu::Tansu;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

const HOST: &str = "cp1001";
const RUN_A: &str = "20250601T120000Z-0000000a";
/// Run B starts at 12:30:02, one second after run A's last heartbeat.
const RUN_B: &str = "20250601T123002Z-0000000b";

/// One message as the shipper would produce it: body, run header, sequence header, time.
struct Message {
    value: String,
    run: &'static str,
    sequence: Option<u64>,
    time: i64,
}

/// How run A stops.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// SIGTERM: a final heartbeat at 12:30:01.
    Clean,
    /// SIGKILL: its last heartbeat is the periodic one at 12:29:50.
    Killed,
}

/// A restart of cp1001 with the seed's format (hostname, sequence, dt, no run field): run A
/// ships 0..1799 from 12:00:01, one a second, heartbeats every 10 s; run B starts at 12:30:02
/// and ships 0..1499 again from 0, its first three requests stamped a second before its start
/// (a `dt` of the request's start), then stops cleanly at 12:55.
fn restart(stop: Stop) -> Vec<Message> {
    let t0 = base_time();
    let mut out = Vec::new();
    let mut push = |value: String, run, sequence, time| {
        out.push(Message {
            value,
            run,
            sequence,
            time,
        })
    };
    push(heartbeat(HOST, RUN_A, t0, None), RUN_A, None, t0);
    for s in 0..1800u64 {
        let time = t0 + 1 + s as i64;
        push(record(HOST, None, s, time), RUN_A, Some(s), time);
        if time % 10 == 0 && time < t0 + 1800 {
            push(heartbeat(HOST, RUN_A, time, Some(s)), RUN_A, None, time);
        }
    }
    if stop == Stop::Clean {
        let end = t0 + 1801;
        push(
            final_heartbeat(HOST, RUN_A, end, Some(1799)),
            RUN_A,
            None,
            end,
        );
    }
    let b0 = t0 + 1802;
    push(heartbeat(HOST, RUN_B, b0, None), RUN_B, None, b0);
    for s in 0..1500u64 {
        let time = if s < 3 { b0 - 1 } else { b0 + s as i64 };
        push(record(HOST, None, s, time), RUN_B, Some(s), time.max(b0));
        if time % 10 == 0 {
            push(heartbeat(HOST, RUN_B, time, Some(s)), RUN_B, None, time);
        }
    }
    let end = b0 + 1500;
    push(
        final_heartbeat(HOST, RUN_B, end, Some(1499)),
        RUN_B,
        None,
        end,
    );
    out
}

fn audit(args: &[&str]) -> Output {
    audit_binary(args)
}

fn audit_file(path: &Path) -> Output {
    audit(&["--output", "json", path.to_str().unwrap()])
}

fn file_of(scratch: &ScratchDir, lines: impl IntoIterator<Item = String>) -> PathBuf {
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    scratch.write("records.json", text).unwrap()
}

fn objects(output: &Output, kind: &str) -> Vec<Value> {
    json_objects(output, kind)
}

/// The audit of a file holding the messages of [`restart`], whose runs must come out exact.
fn audit_restart_file(stop: Stop) -> Output {
    let scratch = ScratchDir::new("audit-runs").unwrap();
    let file = file_of(&scratch, restart(stop).into_iter().map(|m| m.value));
    let out = audit_file(&file);
    assert_both_runs_exact(&out);
    out
}

fn column(rows: &[Value], name: &str) -> u64 {
    rows.iter().map(|r| r[name].as_u64().unwrap()).sum()
}

/// Both runs' rows are exact: every record counted in its own run, nothing lost or
/// duplicated, no run-less group.
fn assert_both_runs_exact(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rows = objects(output, "row");
    assert!(
        rows.iter().all(|r| r["run"] == RUN_A || r["run"] == RUN_B),
        "{rows:?} {stderr}"
    );
    let of =
        |run: &str| -> Vec<Value> { rows.iter().filter(|r| r["run"] == run).cloned().collect() };
    assert_eq!(column(&of(RUN_A), "count_actual"), 1800, "{rows:?}");
    assert_eq!(column(&of(RUN_B), "count_actual"), 1500, "{rows:?}");
    assert_eq!(column(&rows, "count_lost"), 0, "{rows:?}");
    assert_eq!(column(&rows, "count_duplicate"), 0, "{rows:?}");
}

/// The unread window between the runs: from run A's last heartbeat to run B's first.
fn assert_unread_window(output: &Output, seconds: i64) {
    let windows = objects(output, "unread_window");
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(windows[0]["run"], RUN_A);
    assert_eq!(windows[0]["next_run"], RUN_B);
    assert_eq!(windows[0]["seconds"], seconds);
    assert_eq!(windows[0]["status"], "warning");
}

fn produce_with_headers(tansu: &Tansu, topic: &str, messages: &[Message]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", tansu.bootstrap())
        .set("linger.ms", "20")
        .create()
        .unwrap();
    for m in messages {
        let sequence = m.sequence.map(|n| n.to_string());
        let mut headers = OwnedHeaders::new().insert(Header {
            key: "edgeship.run",
            value: Some(m.run),
        });
        if let Some(sequence) = &sequence {
            headers = headers.insert(Header {
                key: "edgeship.sequence",
                value: Some(sequence.as_str()),
            });
        }
        let record = BaseRecord::to(topic)
            .key(HOST)
            .payload(&m.value)
            .headers(headers)
            .timestamp(m.time * 1000);
        common::send(&producer, record);
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

#[test]
fn kafka_headers_attribute_a_format_without_run_to_both_runs_exactly() {
    let messages = restart(Stop::Clean);
    let tansu = Tansu::start().expect("tansu starts (run scripts/setup if it is missing)");
    tansu.create_topic("seed", 1).unwrap();
    produce_with_headers(&tansu, "seed", &messages);
    let brokers = tansu.bootstrap();
    let out = audit(&["--brokers", &brokers, "--topic", "seed", "--output", "json"]);
    assert_both_runs_exact(&out);
    // The runs came from the headers: nothing had to be inferred.
    assert!(objects(&out, "inferred_run_boundary").is_empty());
    assert!(objects(&out, "ended_without_final").is_empty());
    assert_unread_window(&out, 1);
    assert_eq!(out.status.code(), Some(1), "the unread window is a warning");
}

#[test]
fn a_sequence_reset_in_a_file_is_an_inferred_run_boundary_not_loss() {
    let out = audit_restart_file(Stop::Clean);
    let boundaries = objects(&out, "inferred_run_boundary");
    assert_eq!(boundaries.len(), 1, "{boundaries:?}");
    assert_eq!(boundaries[0]["run"], RUN_A);
    assert_eq!(boundaries[0]["next_run"], RUN_B);
    assert_eq!(boundaries[0]["sequence_last"], 0);
    assert_eq!(boundaries[0]["status"], "ok");
    assert_unread_window(&out, 1);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_killed_run_ended_without_a_final_heartbeat_and_left_an_unread_window() {
    let out = audit_restart_file(Stop::Killed);
    let ended = objects(&out, "ended_without_final");
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["run"], RUN_A);
    assert_eq!(ended[0]["since"], "2025-06-01T12:29:50Z");
    assert_eq!(ended[0]["sequence_last"], 1789);
    assert_eq!(ended[0]["status"], "warning");
    // From the last periodic heartbeat, 12:29:50, to run B's first, 12:30:02.
    assert_unread_window(&out, 12);
    assert!(
        objects(&out, "no_heartbeat").is_empty(),
        "B stopped cleanly"
    );
    assert_eq!(out.status.code(), Some(1));
    let scratch = ScratchDir::new("audit-runs").unwrap();
    let file = file_of(&scratch, restart(Stop::Killed).into_iter().map(|m| m.value));
    let table = String::from_utf8(audit(&[file.to_str().unwrap()]).stdout).unwrap();
    assert!(
        table.contains("ended without a final heartbeat") && table.contains("unread window"),
        "{table}"
    );
}

/// A heartbeat `line` whose `log_overruns` value 0 is replaced by `value`: a number, or `0`
/// followed by more JSON fields (`0,"name":value`).
fn with_fields(line: String, value: &str) -> String {
    line.replacen(
        "\"log_overruns\":0",
        &format!("\"log_overruns\":{value}"),
        1,
    )
}

/// A heartbeat of cp1001's run A at `time` with `overruns` log overruns so far.
fn heartbeat_with_overruns(time: i64, last: u64, overruns: u64) -> String {
    with_fields(
        heartbeat(HOST, RUN_A, time, Some(last)),
        &overruns.to_string(),
    )
}

#[test]
fn increases_of_the_heartbeat_loss_counters_are_reported_per_hour_beside_sequence_loss() {
    let t0 = base_time();
    let mut lines = vec![heartbeat(HOST, RUN_A, t0, None)];
    // Two hours, one record a second, a heartbeat every 10 s; the overrun counter goes to 5
    // in the first hour and to 40 in the second.
    for s in 0..7190u64 {
        let time = t0 + 1 + s as i64;
        lines.push(record(HOST, Some(RUN_A), s, time));
        if time % 10 == 0 {
            let overruns = if time < t0 + 1200 {
                0
            } else if time < t0 + 4800 {
                5
            } else {
                40
            };
            lines.push(heartbeat_with_overruns(time, s, overruns));
        }
    }
    lines.push(
        final_heartbeat(HOST, RUN_A, t0 + 7195, Some(7189)).replacen(
            "\"log_overruns\":0",
            "\"log_overruns\":40",
            1,
        ),
    );
    let scratch = ScratchDir::new("audit-runs").unwrap();
    let out = audit_file(&file_of(&scratch, lines));
    let rows = objects(&out, "row");
    let shipper: Vec<u64> = rows
        .iter()
        .map(|r| r["count_shipper_lost"].as_u64().unwrap())
        .collect();
    assert_eq!(shipper, [5, 35], "{rows:?}");
    // Never netted into the sequence loss.
    assert_eq!(column(&rows, "count_lost"), 0);
    // Any shipper-counted loss is at least a warning (an overrun's size in requests is
    // unknown: 5 of about 3,600 could be thousands of requests); 35 of about 3,635 is about
    // 1 %: between --warn and --error.
    let statuses: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["warning", "warning"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn records_the_spool_dropped_or_lost_are_shipper_counted_loss() {
    let t0 = base_time();
    let mut lines = vec![heartbeat(HOST, RUN_A, t0, None)];
    // Numbers 0..100 assigned, 10..=16 dropped by a full spool (7), the rest delivered; 2 of an
    // earlier run's records found damaged in the spool.
    for s in (0..100u64).filter(|s| !(10..=16).contains(s)) {
        lines.push(record(HOST, Some(RUN_A), s, t0 + 1 + s as i64 / 10));
    }
    let last = final_heartbeat(HOST, RUN_A, t0 + 20, Some(99));
    lines.push(with_fields(last, "0,\"spool_dropped\":7,\"spool_lost\":2"));
    let scratch = ScratchDir::new("audit-spool").unwrap();
    let out = audit_file(&file_of(&scratch, lines));
    let rows = objects(&out, "row");
    assert_eq!(column(&rows, "count_shipper_lost"), 9, "{rows:?}");
    assert_eq!(column(&rows, "count_lost"), 7, "{rows:?}");
}

#[test]
fn records_waiting_in_the_spool_at_the_last_heartbeat_are_flagged_pending() {
    let t0 = base_time();
    let with_spool =
        |line: String, records: u64| with_fields(line, &format!("0,\"spool_records\":{records}"));
    // Numbers 0..50 arrived; the heartbeat knows 0..=59: 10 wait in the spool.
    let mut lines = vec![heartbeat(HOST, RUN_A, t0, None)];
    for s in 0..50u64 {
        lines.push(record(HOST, Some(RUN_A), s, t0 + 1));
    }
    lines.push(with_spool(heartbeat(HOST, RUN_A, t0 + 10, Some(59)), 10));
    let scratch = ScratchDir::new("audit-spool-pending").unwrap();
    let out = audit_file(&file_of(&scratch, lines.clone()));
    let pending = objects(&out, "spool_pending");
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["spool_records"], 10, "{pending:?}");
    assert_eq!(pending[0]["sequence_last"], 59, "{pending:?}");
    assert_eq!(pending[0]["status"], "warning", "{pending:?}");
    // Once the spool drained and its records arrived, nothing is pending.
    for s in 50..60u64 {
        lines.push(record(HOST, Some(RUN_A), s, t0 + 11));
    }
    lines.push(with_spool(heartbeat(HOST, RUN_A, t0 + 20, Some(59)), 0));
    let out = audit_file(&file_of(&scratch, lines));
    assert!(objects(&out, "spool_pending").is_empty());
    assert_eq!(column(&objects(&out, "row"), "count_lost"), 0);
}

/// cp1001's heartbeats stop at 12:20 without a final one, `interval` seconds apart, while
/// cp1002 ships on until 12:40 (the same hour: no silent row).
fn stalled_host(interval: Option<u64>) -> Vec<String> {
    let t0 = base_time();
    let with_interval = |line: String| match interval {
        Some(i) => line.replacen(
            "\"final\":false",
            &format!("\"final\":false,\"interval_seconds\":{i}"),
            1,
        ),
        None => line,
    };
    let mut lines = Vec::new();
    for (host, until) in [(HOST, 1200), ("cp1002", 2400)] {
        lines.push(with_interval(heartbeat(host, RUN_A, t0, None)));
        for s in 0..until as u64 {
            let time = t0 + 1 + s as i64;
            lines.push(record(host, Some(RUN_A), s, time));
            if time % 10 == 0 && time < t0 + until {
                lines.push(with_interval(heartbeat(host, RUN_A, time, Some(s))));
            }
        }
    }
    lines
}

#[test]
fn a_run_whose_heartbeats_stop_before_the_window_ends_is_no_heartbeat_since_an_error() {
    let scratch = ScratchDir::new("audit-runs").unwrap();
    let out = audit_file(&file_of(&scratch, stalled_host(None)));
    assert!(objects(&out, "row").iter().all(|r| r["status"] == "ok"));
    let stalled = objects(&out, "no_heartbeat");
    assert_eq!(stalled.len(), 1, "{stalled:?}");
    assert_eq!(stalled[0]["hostname"], HOST);
    assert_eq!(stalled[0]["since"], "2025-06-01T12:19:50Z");
    assert_eq!(stalled[0]["until"], "2025-06-01T12:40:00Z");
    assert_eq!(stalled[0]["interval_seconds"], 10);
    assert_eq!(stalled[0]["status"], "error");
    assert_eq!(out.status.code(), Some(2));

    // A window ending at 12:20:05 ends before the heartbeats were due: no finding.
    let path = file_of(&scratch, stalled_host(None));
    let out = audit(&[
        "--output",
        "json",
        "--to",
        "2025-06-01T12:20:05Z",
        path.to_str().unwrap(),
    ]);
    assert!(objects(&out, "no_heartbeat").is_empty());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Heartbeats that say they come every 1200 s are not overdue by 12:40.
    let out = audit_file(&file_of(&scratch, stalled_host(Some(1200))));
    assert!(objects(&out, "no_heartbeat").is_empty());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn help_says_which_findings_are_warnings_and_which_errors() {
    let out = audit(&["--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let codes = text.split("Exit codes").nth(1).unwrap();
    let (warning, error) = codes.split_once("2 an error").unwrap();
    assert!(
        warning.contains("ended without") && warning.contains("unread window"),
        "{codes}"
    );
    assert!(error.contains("no heartbeat since"), "{codes}");
    assert!(text.contains("--kafka-config") && text.contains("EDGESHIP_AUDIT_KAFKA_"));
}

#[test]
fn records_before_the_first_heartbeat_of_an_input_that_begins_mid_run_join_that_run() {
    // An hourly file: run A's records 100..299 from 12:10, its first heartbeat in the file
    // (periodic, sequence_last 149) after fifty of them.
    let t0 = base_time() + 600;
    let mut lines = Vec::new();
    for s in 100..300u64 {
        let time = t0 + s as i64 - 100;
        if s == 150 {
            lines.push(heartbeat(HOST, RUN_A, time, Some(149)));
        }
        lines.push(record(HOST, None, s, time));
    }
    lines.push(final_heartbeat(HOST, RUN_A, t0 + 200, Some(299)));
    let scratch = ScratchDir::new("audit-runs").unwrap();
    let out = audit_file(&file_of(&scratch, lines));
    let rows = objects(&out, "row");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["run"], RUN_A);
    assert_eq!(rows[0]["count_actual"], 200);
    assert_eq!(rows[0]["count_lost"], 0);
    assert_eq!(out.status.code(), Some(0));
}
