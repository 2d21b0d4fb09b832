//! The `edgeship-audit` binary on generated files: exit codes, output formats, compressed and
//! standard input, configurable field names.
// Helpers here are test code too: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::stream;
use edgeship_testkit::random::SplitMix64;
use edgeship_testkit::records::{base_time, final_heartbeat, heartbeat, record};
use edgeship_testkit::scratch::ScratchDir;
use serde_json::Value;

const RUN: &str = "20250601T115959Z-0a0a0a0a";

fn audit_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_edgeship-audit"))
}

fn run(args: &[&str]) -> Output {
    audit_cmd().args(args).output().unwrap()
}

fn run_path(path: &Path, extra: &[&str]) -> Output {
    let mut cmd = audit_cmd();
    cmd.args(extra).arg(path);
    cmd.output().unwrap()
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Two hosts over two hours with heartbeats; `lose_every` drops every n-th record of cp1001.
fn two_hosts(lose_every: Option<u64>) -> String {
    let t0 = base_time();
    let mut out = String::new();
    for host in ["cp1001", "cp1002"] {
        out.push_str(&heartbeat(host, RUN, t0, None));
        out.push('\n');
        // 12:00:01 to 13:59:50, then the final heartbeat at 13:59:55.
        for (s, t) in stream(0, 7190, t0 + 1, 1) {
            if host == "cp1001" && lose_every.is_some_and(|n| s % n == 5) {
                continue;
            }
            out.push_str(&record(host, Some(RUN), s, t));
            out.push('\n');
        }
        out.push_str(&final_heartbeat(host, RUN, t0 + 7195, Some(7189)));
        out.push('\n');
    }
    out
}

#[test]
fn help_explains_the_command_and_its_exit_codes() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "Exit codes",
        "--brokers",
        "--topic",
        "--from",
        "--group",
        "--warn",
        "--output",
        "--field-run",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn a_clean_file_exits_zero_and_json_rows_carry_every_field() {
    let scratch = ScratchDir::new("audit-cli").expect("a scratch directory");
    let path = scratch
        .write("clean.json", two_hosts(None).as_bytes())
        .expect("write a test file");
    let out = run_path(&path, &["--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objects = json_lines(&out);
    let rows: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "row").collect();
    let rollups: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "rollup").collect();
    assert_eq!(rows.len(), 4, "two hosts, two hours");
    assert_eq!(rollups.len(), 2);
    let fields = [
        "hostname",
        "run",
        "hour",
        "topic",
        "status",
        "sequence_min",
        "sequence_max",
        "count_actual",
        "count_expected",
        "count_different",
        "count_duplicate",
        "count_null_sequence",
        "count_incomplete",
        "count_lost",
        "percent_lost",
    ];
    for row in &rows {
        for field in fields {
            assert!(row.get(field).is_some(), "row lacks {field}: {row}");
        }
        assert_eq!(row["status"], "ok");
        assert_eq!(row["run"], RUN);
        assert_eq!(row["topic"], Value::Null);
        assert_eq!(row["count_lost"], 0);
        let hour = row["hour"].as_str().unwrap();
        assert!(hour == "2025-06-01T12" || hour == "2025-06-01T13", "{hour}");
    }
    let total: u64 = rows
        .iter()
        .map(|r| r["count_actual"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2 * 7190);
}

#[test]
fn loss_between_the_thresholds_is_a_warning_and_above_them_an_error() {
    let scratch = ScratchDir::new("audit-cli").expect("a scratch directory");
    // 1 in 100 lost: 1 %, between --warn 0.5 and --error 2.
    let warn = scratch
        .write("warn.json", two_hosts(Some(100)).as_bytes())
        .expect("write a test file");
    let out = run_path(&warn, &["--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let statuses: Vec<String> = json_lines(&out)
        .iter()
        .filter(|o| o["kind"] == "row" && o["hostname"] == "cp1001")
        .map(|o| o["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["warning", "warning"]);
    // The same file with a lower error threshold is an error.
    assert_eq!(run_path(&warn, &["--error", "0.9"]).status.code(), Some(2));
    // 1 in 20 lost: 5 %.
    let error = scratch
        .write("error.json", two_hosts(Some(20)).as_bytes())
        .expect("write a test file");
    assert_eq!(run_path(&error, &[]).status.code(), Some(2));
}

#[test]
fn a_silent_host_exits_two() {
    let scratch = ScratchDir::new("audit-cli").expect("a scratch directory");
    let t0 = base_time();
    let mut text = String::new();
    for host in ["cp1001", "cp1002"] {
        text.push_str(&heartbeat(host, RUN, t0, None));
        text.push('\n');
    }
    // cp1001 stops at 12:50; cp1002 goes on until 13:59.
    for (s, t) in stream(0, 3000, t0 + 1, 1) {
        text.push_str(&record("cp1001", Some(RUN), s, t));
        text.push('\n');
    }
    for (s, t) in stream(0, 7000, t0 + 1, 1) {
        text.push_str(&record("cp1002", Some(RUN), s, t));
        text.push('\n');
    }
    let path = scratch
        .write("silent.json", text.as_bytes())
        .expect("write a test file");
    let out = run_path(&path, &["--output", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let silent: Vec<Value> = json_lines(&out)
        .into_iter()
        .filter(|o| o["status"] == "silent" && o["kind"] == "row")
        .collect();
    assert_eq!(silent.len(), 1);
    assert_eq!(silent[0]["hostname"], "cp1001");
    assert_eq!(silent[0]["hour"], "2025-06-01T13");
    // The table says it too.
    let table = String::from_utf8(run_path(&path, &[]).stdout).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.contains("cp1001") && l.contains("SILENT")),
        "{table}"
    );
}

#[test]
fn an_input_spanning_centuries_is_refused_not_reported_hour_by_hour() {
    // Found by the audit_record fuzz target: two heartbeats of one host far apart made a row
    // for every silent hour between them (gigabytes). Without a window the span is bounded.
    let scratch = ScratchDir::new("audit-cli").expect("a scratch directory");
    let t0 = base_time();
    let far = t0 + 2000 * 365 * 24 * 3600;
    let text = format!(
        "{}\n{}\n",
        heartbeat("cp1001", RUN, t0, None),
        heartbeat("cp1001", RUN, far, None)
    );
    let path = scratch
        .write("centuries.json", text.as_bytes())
        .expect("write a test file");
    let out = run_path(&path, &["--output", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("--max-hours 744"), "{stderr}");
    assert!(out.stdout.is_empty(), "no partial report");

    // With a window, the same input is audited (only the window's hours are rows).
    let out = run_path(
        &path,
        &[
            "--output",
            "json",
            "--from",
            "2025-06-01T11",
            "--to",
            "2025-06-01T14",
        ],
    );
    assert_ne!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And a raised limit is the operator's explicit choice (still refused here: too far).
    let out = run_path(&path, &["--max-hours", "1000"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn the_audit_that_cannot_run_exits_three_with_the_reason() {
    let out = run(&["/nonexistent/edgeship/records.json"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("/nonexistent/edgeship/records.json"),
        "{stderr}"
    );

    // A port nobody listens on: the broker is unreachable.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&[
        "--brokers",
        &format!("127.0.0.1:{port}"),
        "--topic",
        "x",
        "--timeout",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("cannot reach brokers"), "{stderr}");

    let out = run(&["--from", "yesterday", "x.json"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--from"));
}

#[test]
fn gzip_snappy_and_stdin_read_the_same_as_plain() {
    let scratch = ScratchDir::new("audit-cli").expect("a scratch directory");
    let text = two_hosts(Some(100));
    let plain = scratch
        .write("plain.json", text.as_bytes())
        .expect("write a test file");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let gzip = scratch
        .write("records.gz", gz.finish().unwrap())
        .expect("write a test file");
    let mut sz = snap::write::FrameEncoder::new(Vec::new());
    sz.write_all(text.as_bytes()).unwrap();
    let snappy = scratch
        .write("records.sz", sz.into_inner().unwrap())
        .expect("write a test file");
    let expected = run_path(&plain, &["--output", "json"]);
    assert_eq!(expected.status.code(), Some(1));
    for path in [&gzip, &snappy] {
        let got = run_path(path, &["--output", "json"]);
        assert_eq!(got.stdout, expected.stdout, "{}", path.display());
    }
    let mut child = audit_cmd()
        .args(["--output", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let gz_bytes = std::fs::read(&gzip).unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&gz_bytes));
    let got = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(got.stdout, expected.stdout, "stdin");
}

#[test]
fn csv_and_table_outputs_have_rows_and_hourly_rollups() {
    let scratch = ScratchDir::new("audit-cli").expect("a scratch directory");
    let path = scratch
        .write("records.json", two_hosts(None).as_bytes())
        .expect("write a test file");
    let csv = String::from_utf8(run_path(&path, &["--output", "csv"]).stdout).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "kind");
    assert!(header.contains(&"count_lost") && header.contains(&"percent_lost"));
    let body: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(body.iter().all(|r| r.len() == header.len()));
    assert_eq!(body.iter().filter(|r| r[0] == "row").count(), 4);
    assert_eq!(body.iter().filter(|r| r[0] == "rollup").count(), 2);
    let table = String::from_utf8(run_path(&path, &[]).stdout).unwrap();
    assert_eq!(
        table.lines().filter(|l| l.starts_with("== ")).count(),
        2,
        "{table}"
    );
    assert!(table.lines().next().unwrap().contains("hostname"));
}

#[test]
fn bad_lines_are_reported_on_stderr_and_in_json_and_make_a_warning() {
    let scratch = ScratchDir::new("audit-cli").expect("a scratch directory");
    let mut text = two_hosts(None);
    text.push_str("not json at all\n{\"hostname\":\"cp1001\",\"dt\":\"2025-06-01T12:00:00Z\"}\n");
    let path = scratch
        .write("bad.json", text.as_bytes())
        .expect("write a test file");
    let out = run_path(&path, &["--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(
        stderr.contains("not_json") && stderr.contains("missing_sequence"),
        "{stderr}"
    );
    let bad: Vec<Value> = json_lines(&out)
        .into_iter()
        .filter(|o| o["kind"] == "bad_input")
        .collect();
    assert_eq!(bad.len(), 2);
    assert!(bad.iter().all(|b| b["count"] == 1));
}

#[test]
fn field_names_are_configurable() {
    let scratch = ScratchDir::new("audit-cli").expect("a scratch directory");
    let mut rng = SplitMix64::new(1);
    let t0 = base_time();
    let mut text = String::new();
    let mut default_text = String::new();
    for s in 0..1000u64 {
        if rng.below(100) == 0 {
            continue;
        }
        let dt = edgeship_audit::time::format_time(t0 + s as i64);
        text.push_str(&format!(
            "{{\"host\":\"cp7\",\"seq\":{s},\"ts\":\"{dt}\",\"proc\":\"r1\"}}\n"
        ));
        default_text.push_str(&format!(
            "{{\"hostname\":\"cp7\",\"sequence\":{s},\"dt\":\"{dt}\",\"run\":\"r1\"}}\n"
        ));
    }
    let renamed = scratch
        .write("renamed.json", text.as_bytes())
        .expect("write a test file");
    let plain = scratch
        .write("plain.json", default_text.as_bytes())
        .expect("write a test file");
    let args = [
        "--output",
        "json",
        "--field-hostname",
        "host",
        "--field-sequence",
        "seq",
        "--field-dt",
        "ts",
        "--field-run",
        "proc",
    ];
    let got = run_path(&renamed, &args);
    let expected = run_path(&plain, &["--output", "json"]);
    assert_eq!(got.stdout, expected.stdout);
    assert!(json_lines(&got)
        .iter()
        .any(|o| o["count_lost"].as_u64().unwrap_or(0) > 0));
}
