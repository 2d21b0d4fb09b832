//! The audit read from Kafka: a real tansu broker with two datacenter topics, records produced
//! keyed by host with their request time as message time.

// Helpers here are test code too: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use edgeship_audit::time::HOUR;
use edgeship_testkit::random::SplitMix64;
use edgeship_testkit::records::{base_time, final_heartbeat, heartbeat, record};
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::tansu::Tansu;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

const EQIAD: &str = "eqiad.webrequest_text";
const CODFW: &str = "codfw.webrequest_text";

/// One generated message: topic, key, value, message time (ms).
struct Message {
    topic: &'static str,
    key: String,
    value: String,
    millis: i64,
}

/// Six hosts per datacenter over three hours (12:00 to 15:00), one record every two seconds,
/// heartbeats every minute, 1 % of the records lost and 0.2 % delivered twice.
fn stream_of_two_datacenters() -> Vec<Message> {
    let t0 = base_time();
    let mut rng = SplitMix64::new(42);
    let mut out = Vec::new();
    for (topic, prefix) in [(EQIAD, 1000), (CODFW, 2000)] {
        for h in 1..=6 {
            let host = format!("cp{}", prefix + h);
            let run = format!("20250601T120000Z-{:08x}", prefix + h);
            let mut push = |value: String, time: i64, rng: &mut SplitMix64| {
                // Produced a little after the request ended, as the shipper does.
                let millis = time * 1000 + rng.below(900) as i64;
                out.push(Message {
                    topic,
                    key: host.clone(),
                    value,
                    millis,
                });
            };
            push(heartbeat(&host, &run, t0, None), t0, &mut rng);
            let count: u64 = 3 * 1800 - 30;
            for s in 0..count {
                let time = t0 + 1 + 2 * s as i64;
                if time % 60 == 0 {
                    push(
                        heartbeat(&host, &run, time, s.checked_sub(1)),
                        time,
                        &mut rng,
                    );
                }
                let roll = rng.below(1000);
                if roll < 10 {
                    continue;
                }
                let line = record(&host, Some(&run), s, time);
                if roll < 12 {
                    push(line.clone(), time, &mut rng);
                }
                push(line, time, &mut rng);
            }
            let end = t0 + 3 * HOUR - 30;
            push(
                final_heartbeat(&host, &run, end, Some(count - 1)),
                end,
                &mut rng,
            );
        }
    }
    // Hosts produce side by side: a partition holds their messages in time order.
    out.sort_by_key(|m| m.millis);
    out
}

fn produce(tansu: &Tansu, messages: &[Message]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", tansu.bootstrap())
        .set("linger.ms", "20")
        .set("compression.type", "snappy")
        .create()
        .unwrap();
    for m in messages {
        let record = BaseRecord::to(m.topic)
            .key(&m.key)
            .payload(&m.value)
            .timestamp(m.millis);
        common::send(&producer, record);
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

fn broker_with(topics: &[&str]) -> Tansu {
    let tansu = Tansu::start().expect("tansu starts (run scripts/setup if it is missing)");
    for topic in topics {
        tansu.create_topic(topic, 3).unwrap();
    }
    tansu
}

fn audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgeship-audit"))
        .args(args)
        .output()
        .unwrap()
}

/// A file in `scratch` holding the same messages, one line each, in the order produced.
fn file_of(scratch: &ScratchDir, messages: &[Message], name: &str) -> PathBuf {
    let mut text = String::new();
    for m in messages {
        text.push_str(&m.value);
        text.push('\n');
    }
    scratch
        .write(&format!("{name}.json"), text)
        .expect("write a test file")
}

/// Rows of a JSON report keyed by (hostname, run, hour), without the topic (files have none).
fn rows(output: &Output) -> BTreeMap<(String, String, String), Value> {
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut row: Value = serde_json::from_str(line).unwrap();
        if row["kind"] != "row" {
            continue;
        }
        let key = (
            row["hostname"].as_str().unwrap_or("").to_string(),
            row["run"].as_str().unwrap_or("").to_string(),
            row["hour"].as_str().unwrap().to_string(),
        );
        row.as_object_mut().unwrap().remove("topic");
        assert!(out.insert(key.clone(), row).is_none(), "{key:?} twice");
    }
    out
}

fn topics_of(output: &Output) -> BTreeMap<String, String> {
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "row")
        .map(|r| {
            (
                r["hostname"].as_str().unwrap().to_string(),
                r["topic"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn messages_read(output: &Output) -> u64 {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    let line = stderr
        .lines()
        .find(|l| l.contains(" messages from "))
        .unwrap_or_else(|| panic!("{stderr}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn kafka_and_files_agree_and_windows_and_groups_split_correctly() {
    let messages = stream_of_two_datacenters();
    let tansu = broker_with(&[EQIAD, CODFW]);
    produce(&tansu, &messages);
    let scratch = ScratchDir::new("audit-kafka").expect("a scratch directory");
    let file = file_of(&scratch, &messages, "all");
    let brokers = tansu.bootstrap();
    let kafka_args = [
        "--brokers",
        brokers.as_str(),
        "--topic",
        EQIAD,
        "--topic",
        CODFW,
        "--output",
        "json",
    ];

    // The whole stream: the same rows as from the file, each host under its own topic.
    let from_file = audit(&["--output", "json", file.to_str().unwrap()]);
    let from_kafka = audit(&kafka_args);
    assert_eq!(
        from_kafka.status.code(),
        from_file.status.code(),
        "{}",
        String::from_utf8_lossy(&from_kafka.stderr)
    );
    assert_eq!(messages_read(&from_kafka), messages.len() as u64);
    let expected = rows(&from_file);
    assert_eq!(expected.len(), 12 * 3, "twelve hosts, three hours");
    assert!(expected
        .values()
        .any(|r| r["count_lost"].as_u64().unwrap() > 0));
    assert!(expected
        .values()
        .any(|r| r["count_duplicate"].as_u64().unwrap() > 0));
    assert_eq!(rows(&from_kafka), expected);
    for (host, topic) in topics_of(&from_kafka) {
        let dc = if host.starts_with("cp1") {
            EQIAD
        } else {
            CODFW
        };
        assert_eq!(topic, dc, "{host}");
    }

    // A one-hour window: positioned by time, only that hour's rows, same as the file's.
    let window = ["--from", "2025-06-01T13", "--to", "2025-06-01T14"];
    let mut args = kafka_args.to_vec();
    args.extend(window);
    let windowed = audit(&args);
    let mut file_args = vec!["--output", "json", file.to_str().unwrap()];
    file_args.extend(window);
    let file_windowed = rows(&audit(&file_args));
    assert_eq!(file_windowed.len(), 12);
    assert!(file_windowed.keys().all(|k| k.2 == "2025-06-01T13"));
    assert_eq!(rows(&windowed), file_windowed);
    // tansu 0.6 answers offsets-for-times with the first offset, so against it the window
    // cannot be seen to shorten the read; the rows above show that it selects the records.
    assert!(messages_read(&windowed) > 0);

    // Explicit offsets: only the partitions named, each host's rows as from the whole stream.
    let mut eqiad_hosts = BTreeSet::new();
    for partition in 0..3 {
        let range = format!("{EQIAD}:{partition}:0");
        let out = audit(&[
            "--brokers",
            brokers.as_str(),
            "--topic",
            EQIAD,
            "--offsets",
            &range,
            "--output",
            "json",
        ]);
        let got = rows(&out);
        for (key, row) in &got {
            assert!(key.0.starts_with("cp1"), "{key:?} is not an eqiad host");
            assert_eq!(Some(row), expected.get(key));
            eqiad_hosts.insert(key.0.clone());
        }
    }
    assert_eq!(
        eqiad_hosts.len(),
        6,
        "the three partitions together hold every eqiad host"
    );

    // Two auditors in one consumer group: every host reported by exactly one of them.
    let spawn = || {
        let mut args = kafka_args.to_vec();
        args.extend(["--group", "edgeship-audit-test"]);
        Command::new(env!("CARGO_BIN_EXE_edgeship-audit"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // How the two split the partitions varies run to run; the union never does.
    let split = format!(
        "A: {}B: {}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let (rows_a, rows_b) = (rows(&a), rows(&b));
    let hosts = |r: &BTreeMap<(String, String, String), Value>| {
        r.keys().map(|k| k.0.clone()).collect::<BTreeSet<_>>()
    };
    assert!(
        hosts(&rows_a).is_disjoint(&hosts(&rows_b)),
        "a host reported twice: {:?} / {:?}\n{split}",
        hosts(&rows_a),
        hosts(&rows_b)
    );
    let mut union = rows_a;
    union.extend(rows_b);
    assert_eq!(union, expected, "{split}");
}

#[test]
fn a_datacenter_topic_that_goes_quiet_is_silent() {
    let tansu = broker_with(&["eqiad.quiet", "codfw.quiet"]);
    let t0 = base_time();
    let mut messages = Vec::new();
    // eqiad carries records and heartbeats for two hours; codfw only for the first.
    for (topic, host, hours) in [("eqiad.quiet", "cp1001", 2), ("codfw.quiet", "cp2001", 1)] {
        let run = format!("20250601T120000Z-{host}");
        for k in 0..hours * 60 {
            let time = t0 + k * 60;
            let last = (k as u64) * 10;
            messages.push(Message {
                topic,
                key: host.into(),
                value: heartbeat(host, &run, time, Some(last)),
                millis: time * 1000,
            });
            for s in 0..10 {
                let n = last + 1 + s;
                messages.push(Message {
                    topic,
                    key: host.into(),
                    value: record(host, Some(&run), n, time + s as i64),
                    millis: (time + s as i64) * 1000,
                });
            }
        }
    }
    produce(&tansu, &messages);
    let brokers = tansu.bootstrap();
    let out = audit(&[
        "--brokers",
        &brokers,
        "--topic",
        "eqiad.quiet",
        "--topic",
        "codfw.quiet",
        "--output",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let silent: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "row" && r["status"] == "silent")
        .collect();
    let described: BTreeSet<(String, String, String)> = silent
        .iter()
        .map(|r| {
            (
                r["hour"].as_str().unwrap().into(),
                r["topic"].as_str().unwrap().into(),
                r["hostname"].as_str().unwrap_or("*").into(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String, String)> = [
        (
            "2025-06-01T13".to_string(),
            "codfw.quiet".to_string(),
            "*".to_string(),
        ),
        (
            "2025-06-01T13".to_string(),
            "codfw.quiet".to_string(),
            "cp2001".to_string(),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(described, expected);
}
