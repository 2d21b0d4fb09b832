//! Fault injection with librdkafka's mock cluster, on top of the real-broker tests in
//! `live.rs`: the broker goes away for 10 s while a real varnishd serves traffic; it answers
//! produce requests with retriable, then permanent errors; it acknowledges too late; and a
//! refused record makes the producer fatal. Each test runs the real `edgeship` binary on the
//! live log of its own varnishd (testkit), reads the topic back with a consumer, and checks
//! that every sequence number is accounted for: in the topic exactly once, or counted as
//! certainly failed, never both and never neither (a record counted as "maybe persisted"
//! may be either, and the late-acknowledgement test shows it landed).
//!
//! The mock cluster lives in this process (librdkafka's own broker threads); edgeship talks
//! to it over loopback like to any broker.

// clippy.toml lets tests unwrap; the helpers below are test code too (a panic is a failure
// with a message), which `allow-unwrap-in-tests` does not see outside `#[test]` functions.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    config_text, heartbeats, latest_statistics, raw_exchange, records, Edgeship, TopicReader, HOST,
    PATIENCE,
};
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::varnishd::Varnishd;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use serde_json::Value;

const TOPIC: &str = "webrequest_fault";

/// The JSON fields the auditor reads plus the URL, which tells the tests which request a
/// record is.
const FORMAT: &str = "%{@hostname}l %{@sequence!num}n %{Edgeship:run@run}x \
                      %{end:%FT%TZ@dt}t %{@uri_path}U %{@http_status}s";

/// What every test sets up: a mock cluster with the topic, a private varnishd, and the real
/// `edgeship` reading its live log and producing to the cluster. Fields drop in order: the
/// shipper is killed (if a test failed before stopping it) before its varnishd and broker go.
struct Fault {
    edgeship: Edgeship,
    varnishd: Varnishd,
    mock: MockCluster<'static, DefaultProducerContext>,
    bootstrap: String,
    dir: ScratchDir,
}

impl Fault {
    /// Starts everything with the configuration every test uses (statistics every second,
    /// the mock cluster as the broker) plus `extra` lines, and returns once edgeship reads
    /// the log: traffic sent earlier would not be read, as it starts at the log's tail.
    fn start(label: &str, extra: &[&str]) -> Fault {
        let mock = MockCluster::new(1).unwrap();
        mock.create_topic(TOPIC, 1, 1).unwrap();
        let bootstrap = mock.bootstrap_servers();
        let varnishd = Varnishd::start().unwrap();
        let dir =
            ScratchDir::new(&format!("shipper-test-faults-{label}")).expect("a scratch directory");
        let mut lines: Vec<String> = [
            "output = kafka",
            "sequence.number = 0",
            "log.level = 6",
            "log.kafka.msg.error = true",
            "log.statistics.interval = 1",
            &format!("kafka.metadata.broker.list = {bootstrap}"),
            &format!("kafka.topic = {TOPIC}"),
            // After the broker comes back, reconnect within a second rather than
            // librdkafka's default 10 s back-off, so the test stays short.
            "kafka.reconnect.backoff.max.ms = 1000",
        ]
        .iter()
        .map(|line| (*line).to_owned())
        .collect();
        lines.extend(extra.iter().map(|line| (*line).to_owned()));
        let config = dir
            .write("edgeship.conf", config_text(&dir, FORMAT, &lines))
            .expect("write a test file");
        let edgeship = Edgeship::start_live(&dir, "edgeship", &config, varnishd.workdir(), &[]);
        Fault {
            edgeship,
            varnishd,
            mock,
            bootstrap,
            dir,
        }
    }

    /// SIGTERM, as an init system stops it; the shutdown must be clean.
    fn stop_cleanly(&mut self) {
        let status = self.edgeship.terminate();
        assert!(
            status.success(),
            "exit {status}:\n{}",
            self.edgeship.stderr()
        );
    }

    /// Fails the test unless edgeship's log contains `needle`; `why` says what it is.
    fn assert_logged(&self, needle: &str, why: &str) {
        let log = self.edgeship.stderr();
        assert!(log.contains(needle), "{why}:\n{log}");
    }

    /// A consumer of the whole topic from its start.
    fn reader(&self) -> TopicReader {
        TopicReader::new(&self.bootstrap, TOPIC)
    }

    /// A consumer that has read the start heartbeat, so that what edgeship produces from
    /// here on is only what the test causes.
    fn reader_after_start_heartbeat(&self) -> TopicReader {
        let mut reader = self.reader();
        read_until(&mut reader, "the start heartbeat", |m| {
            m["heartbeat"] == Value::Bool(true)
        });
        reader
    }

    /// The statistics file `config_text` names.
    fn stats_path(&self) -> PathBuf {
        self.dir.path().join("stats.json")
    }

    /// The latest `{"edgeship":{...}}` statistics.
    fn stats(&self) -> Option<Value> {
        latest_statistics(&self.stats_path(), "edgeship")
    }

    /// How many Produce requests librdkafka has sent, from its latest `{ "kafka": ... }`
    /// statistics line (summed over brokers).
    fn produce_requests(&self) -> Option<u64> {
        let statistics = latest_statistics(&self.stats_path(), "kafka")?;
        let brokers = statistics["brokers"].as_object()?;
        Some(
            brokers
                .values()
                .map(|broker| broker["req"]["Produce"].as_u64().unwrap_or(0))
                .sum(),
        )
    }

    /// Waits until the statistics say `done`, and returns them.
    fn wait_for_stats(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(stats) = self.stats().filter(|stats| done(stats)) {
                return stats;
            }
            if let Some(status) = self.edgeship.try_status() {
                panic!(
                    "edgeship exited ({status}) while waiting for {what}:\n{}",
                    self.edgeship.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "statistics never showed {what}; last {:?}\n{}",
                self.stats(),
                self.edgeship.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// One GET to varnishd; panics unless it answers 200.
fn get(addr: SocketAddr, path: &str) {
    let status = raw_exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: faults.test\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 200, "varnishd answered {path} with {status}");
}

/// Reads until a message satisfies `until`; every message read must be JSON keyed by the
/// host name.
fn read_until(reader: &mut TopicReader, what: &str, until: impl Fn(&Value) -> bool) {
    reader.read_until(what, |messages| messages.iter().any(|m| until(&m.json)));
    for message in &reader.messages {
        assert_eq!(
            message.key.as_deref(),
            Some(HOST.as_bytes()),
            "keyed by host name"
        );
        assert!(
            serde_json::from_slice::<Value>(&message.payload).is_ok(),
            "not JSON: {:?}",
            String::from_utf8_lossy(&message.payload)
        );
    }
}

/// Reads until the final heartbeat, the last thing a run produces, and returns it.
fn read_to_final_heartbeat(reader: &mut TopicReader) -> Value {
    read_until(reader, "the final heartbeat", |m| {
        m["final"] == Value::Bool(true)
    });
    (*heartbeat_values(reader).last().unwrap()).clone()
}

/// The heartbeats read so far, in arrival order.
fn heartbeat_values(reader: &TopicReader) -> Vec<&Value> {
    heartbeats(&reader.messages).map(|m| &m.json).collect()
}

/// Request records by sequence number, each with how often it arrived.
fn records_by_sequence(reader: &TopicReader) -> BTreeMap<u64, Vec<&Value>> {
    let mut by_sequence: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for message in records(&reader.messages) {
        let sequence = message.json["sequence"].as_u64().expect("numeric sequence");
        by_sequence.entry(sequence).or_default().push(&message.json);
    }
    by_sequence
}

/// Each record's URL path by sequence number, checking that each arrived exactly once.
fn arrived_once<'a>(records: &BTreeMap<u64, Vec<&'a Value>>) -> BTreeMap<u64, &'a str> {
    records
        .iter()
        .map(|(sequence, copies)| {
            assert_eq!(
                copies.len(),
                1,
                "sequence {sequence} arrived {} times",
                copies.len()
            );
            (*sequence, copies[0]["uri_path"].as_str().unwrap())
        })
        .collect()
}

fn counter(object: &Value, name: &str) -> u64 {
    object[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name} in {object}"))
}

/// The final heartbeat's delivery counters, and every loss counter at zero.
fn assert_final_counts(
    last: &Value,
    produced: u64,
    delivered: u64,
    failed: u64,
    maybe_persisted: u64,
) {
    assert_eq!(counter(last, "records_produced"), produced, "{last}");
    assert_eq!(counter(last, "records_delivered"), delivered, "{last}");
    assert_eq!(counter(last, "delivery_failed"), failed, "{last}");
    assert_eq!(
        counter(last, "delivery_failed_maybe_persisted"),
        maybe_persisted,
        "{last}"
    );
    for name in NO_LOSS {
        assert_eq!(counter(last, name), 0, "{name} in {last}");
    }
}

/// The counters every test expects at zero: nothing lost on the way in or out.
const NO_LOSS: &[&str] = &[
    "queue_full_drops",
    "produce_errors",
    "log_overruns",
    "transactions_lost",
    "undelivered_at_exit",
];

#[test]
fn broker_down_for_ten_seconds_loses_and_duplicates_nothing() {
    // Heartbeats every second keep coming during the outage too; they must queue and land.
    let mut fault = Fault::start("down", &["edgeship.heartbeat.interval = 1"]);

    // Real HTTP traffic the whole time: before, during and after the outage.
    let stop_traffic = Arc::new(AtomicBool::new(false));
    let traffic = {
        let stop = Arc::clone(&stop_traffic);
        let addr = fault.varnishd.addr();
        std::thread::spawn(move || {
            let mut sent = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                get(addr, &format!("/down/{sent}"));
                sent += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            sent
        })
    };
    fault.wait_for_stats("records delivered before the outage", |s| {
        counter(s, "records_delivered") > 0
    });
    fault.mock.broker_down(1).unwrap();
    let down_at = Instant::now();
    // Requests served while the broker is away are read, numbered and queued, not delivered.
    let during = fault.wait_for_stats("records rendered during the outage", |s| {
        counter(s, "records_rendered") > counter(s, "records_delivered") + 100
    });
    std::thread::sleep(Duration::from_secs(10).saturating_sub(down_at.elapsed()));
    let before_up = fault.stats().unwrap();
    fault.mock.broker_up(1).unwrap();
    // The outage was real: deliveries stalled while reading went on.
    assert!(
        counter(&before_up, "records_delivered") < counter(&before_up, "records_rendered"),
        "nothing was held back during the outage: {before_up}"
    );
    let stalled_at = counter(&during, "records_delivered");
    assert!(
        counter(&before_up, "records_delivered") == stalled_at,
        "records were delivered while the broker was down: {during} then {before_up}"
    );
    std::thread::sleep(Duration::from_secs(2));
    stop_traffic.store(true, Ordering::Relaxed);
    let sent = traffic.join().unwrap();
    let drained = fault.wait_for_stats("every request read and delivered", |s| {
        counter(s, "records_rendered") >= sent
            && counter(s, "records_delivered") == counter(s, "records_rendered")
    });
    assert_eq!(counter(&drained, "records_rendered"), sent, "{drained}");
    fault.stop_cleanly();

    let mut reader = fault.reader();
    let last = read_to_final_heartbeat(&mut reader);
    let heartbeats = heartbeat_values(&reader);
    assert!(
        heartbeats.len() >= 10,
        "one heartbeat a second, outage included: {}",
        heartbeats.len()
    );
    assert_eq!(last["sequence_start"], 0);
    assert_eq!(last["sequence_last"], sent - 1);
    assert_final_counts(&last, sent, sent, 0, 0);

    // Every sequence number exactly once, and each is the request it should be: records are
    // numbered in the order varnishd completed them, which is the order they were sent.
    let records = records_by_sequence(&reader);
    let run = last["run"].as_str().unwrap();
    let duplicated: Vec<_> = records.iter().filter(|(_, r)| r.len() > 1).collect();
    assert!(duplicated.is_empty(), "duplicates: {duplicated:?}");
    assert_eq!(
        records.keys().copied().collect::<Vec<_>>(),
        (0..sent).collect::<Vec<_>>(),
        "sequence numbers in the topic"
    );
    for (sequence, copies) in &records {
        let record = copies[0];
        assert_eq!(record["uri_path"], format!("/down/{sequence}"));
        assert_eq!(record["hostname"], HOST);
        assert_eq!(record["run"], run);
        assert_eq!(record["http_status"], "200");
    }
    assert!(heartbeats.iter().all(|h| h["run"] == run));

    // The statistics file's last word agrees with the final heartbeat.
    let stats = fault.stats().unwrap();
    for name in [
        "records_produced",
        "records_delivered",
        "delivery_failed",
        "delivery_failed_maybe_persisted",
    ]
    .iter()
    .chain(NO_LOSS)
    {
        assert_eq!(stats[name], last[name], "{name}: {stats} vs {last}");
    }
}

#[test]
fn produce_errors_are_retried_or_counted_exactly() {
    // Only the start and the final heartbeat, so that every Produce request after the start
    // carries exactly the one record the test just sent, and each injected error hits it.
    let mut fault = Fault::start("errors", &["edgeship.heartbeat.interval = 3600"]);
    let mut reader = fault.reader_after_start_heartbeat();

    // Sends one request and waits until edgeship has the delivery report for its record, so
    // each record travels in a Produce request of its own.
    let mut settled = 0_u64;
    let mut one = |fault: &mut Fault, path: &str| {
        get(fault.varnishd.addr(), path);
        settled += 1;
        fault.wait_for_stats(&format!("the delivery report for {path}"), |s| {
            counter(s, "records_delivered")
                + counter(s, "delivery_failed")
                + counter(s, "delivery_failed_maybe_persisted")
                == settled
        })
    };

    use RDKafkaRespErr::*;
    // Retriable: a stale leader (metadata refresh, then retry), a broker-side timeout (retried
    // as "possibly persisted": the idempotent producer's sequence numbers keep the retry from
    // duplicating), too few in-sync replicas. One record meets all three and is delivered.
    fault.mock.request_errors(
        RDKafkaApiKey::Produce,
        &[
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        ],
    );
    let after_retries = one(&mut fault, "/retried/0");
    assert_eq!(
        counter(&after_retries, "records_delivered"),
        1,
        "{after_retries}"
    );
    assert_eq!(
        counter(&after_retries, "delivery_failed"),
        0,
        "{after_retries}"
    );

    // Permanent: the broker refuses the record. The idempotent producer bumps its epoch and
    // carries on; the record is lost and counted as certainly not persisted.
    fault.mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    one(&mut fault, "/refused/0");
    fault.mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED],
    );
    let after_refusals = one(&mut fault, "/refused/1");
    assert_eq!(
        counter(&after_refusals, "delivery_failed"),
        2,
        "{after_refusals}"
    );

    // And the producer is still fine afterwards.
    one(&mut fault, "/after/0");
    one(&mut fault, "/after/1");
    // Each injected error was met by a Produce request of its own: the start heartbeat, four
    // attempts for the retried record, one each for the others. Nothing else is produced
    // until shutdown, so librdkafka's count settles at exactly that.
    let deadline = Instant::now() + PATIENCE;
    let produce_requests = loop {
        match fault.produce_requests() {
            Some(count) if count >= 9 => break count,
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "librdkafka statistics never showed 9 Produce requests: {:?}",
                    fault.produce_requests()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert_eq!(produce_requests, 1 + 4 + 1 + 1 + 1 + 1);
    fault.stop_cleanly();
    fault.assert_logged("delivery failed", "log.kafka.msg.error logs each failure");

    let last = read_to_final_heartbeat(&mut reader);
    assert_final_counts(&last, 5, 3, 2, 0);
    assert_eq!(last["sequence_last"], 4, "{last}");

    // The topic holds exactly the delivered records, once each; the gaps are exactly the
    // refused ones, as many as the failure counters say.
    let records = records_by_sequence(&reader);
    let arrived = arrived_once(&records);
    assert_eq!(
        arrived,
        BTreeMap::from([(0, "/retried/0"), (3, "/after/0"), (4, "/after/1")])
    );
    let gaps: BTreeSet<u64> = (0..=4).filter(|s| !records.contains_key(s)).collect();
    assert_eq!(gaps, BTreeSet::from([1, 2]));
    assert_eq!(
        gaps.len() as u64,
        counter(&last, "delivery_failed") + counter(&last, "delivery_failed_maybe_persisted")
    );

    // varnishkafka's statistics line counts the same failures as kafka_drerr.
    let classic = latest_statistics(&fault.stats_path(), "varnishkafka").unwrap();
    assert_eq!(classic["kafka_drerr"], 2, "{classic}");
    assert_eq!(classic["tx"], 5, "{classic}");
}

#[test]
fn an_acknowledgement_too_late_is_counted_as_maybe_persisted() {
    // A request times out after 1 s and a record after 2 s; the broker will answer in 4 s.
    let mut fault = Fault::start(
        "late",
        &[
            "edgeship.heartbeat.interval = 3600",
            "kafka.topic.message.timeout.ms = 2000",
            "kafka.topic.request.timeout.ms = 1000",
        ],
    );
    let mut reader = fault.reader_after_start_heartbeat();
    let settled = |s: &Value| {
        counter(s, "records_delivered")
            + counter(s, "delivery_failed")
            + counter(s, "delivery_failed_maybe_persisted")
    };

    get(fault.varnishd.addr(), "/before/0");
    fault.wait_for_stats("/before/0 delivered", |s| settled(s) == 1);
    // The mock broker writes the record, then holds its answer back: librdkafka gives up on
    // a record the broker did persist. That is exactly the "maybe" case.
    fault
        .mock
        .broker_round_trip_time(1, Duration::from_secs(4))
        .unwrap();
    get(fault.varnishd.addr(), "/late/0");
    let late = fault.wait_for_stats("the report for /late/0", |s| settled(s) == 2);
    assert_eq!(
        counter(&late, "delivery_failed_maybe_persisted"),
        1,
        "{late}"
    );
    assert_eq!(counter(&late, "delivery_failed"), 0, "{late}");
    fault
        .mock
        .broker_round_trip_time(1, Duration::ZERO)
        .unwrap();
    get(fault.varnishd.addr(), "/after/0");
    fault.wait_for_stats("/after/0 delivered", |s| settled(s) == 3);
    fault.stop_cleanly();
    fault.assert_logged("it may have been persisted", "the maybe-persisted report");

    let last = read_to_final_heartbeat(&mut reader);
    assert_final_counts(&last, 3, 2, 0, 1);
    // The "maybe" record did land, once (the idempotent producer's retry did not duplicate
    // it): in the topic are the delivered records plus up to the maybe-persisted ones, and
    // nothing is missing that the counters do not allow for.
    let records = records_by_sequence(&reader);
    let arrived = arrived_once(&records);
    assert_eq!(
        arrived,
        BTreeMap::from([(0, "/before/0"), (1, "/late/0"), (2, "/after/0")])
    );
}

#[test]
fn a_fatal_producer_error_stops_edgeship_with_exit_1_and_counts_the_loss() {
    // With the gap-less guarantee a refused record is fatal for the idempotent producer (the
    // sequence would have a hole), which is one real way to reach librdkafka's fatal state.
    let mut fault = Fault::start(
        "fatal",
        &[
            "edgeship.heartbeat.interval = 3600",
            "kafka.enable.gapless.guarantee = true",
        ],
    );
    let _reader = fault.reader_after_start_heartbeat();
    get(fault.varnishd.addr(), "/before/0");
    fault.wait_for_stats("/before/0 delivered", |s| {
        counter(s, "records_delivered") == 1
    });
    fault.mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    get(fault.varnishd.addr(), "/refused/0");

    // edgeship stops by itself, without a signal (waiting fails the test if it keeps
    // running after the fatal producer error), and says it failed.
    let status = fault.edgeship.wait();
    assert_eq!(status.code(), Some(1), "{}", fault.edgeship.stderr());
    fault.assert_logged(
        "stopping: the producer cannot continue",
        "the reason it stopped",
    );
    // The last statistics say exactly what happened: one delivered, one refused; the final
    // heartbeat could not be produced, and is not counted as a record lost at enqueue.
    let stats = fault.stats().unwrap();
    assert_eq!(counter(&stats, "records_rendered"), 2, "{stats}");
    assert_eq!(counter(&stats, "records_delivered"), 1, "{stats}");
    assert_eq!(counter(&stats, "delivery_failed"), 1, "{stats}");
    assert_eq!(
        counter(&stats, "delivery_failed_maybe_persisted"),
        0,
        "{stats}"
    );
    assert_eq!(counter(&stats, "produce_errors"), 0, "{stats}");
    assert_eq!(counter(&stats, "undelivered_at_exit"), 0, "{stats}");
}
