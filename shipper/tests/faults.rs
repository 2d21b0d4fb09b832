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

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edgeship_testkit::varnishd::Varnishd;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};
use serde_json::Value;

const HOST: &str = "cp-fault";
const TOPIC: &str = "webrequest_fault";
/// How long any one wait in these tests may take before the test fails with a diagnosis
/// (generous: the box is small and shared).
const PATIENCE: Duration = Duration::from_secs(120);

/// A private directory for one test's files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "edgeship-faults-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The configuration both tests use: the JSON fields the auditor reads plus the URL (which
/// tells the tests which request a record is), statistics every second, and the mock
/// cluster as the broker. `extra` adds lines.
fn config(varnishd: &Varnishd, bootstrap: &str, dir: &Path, extra: &str) -> PathBuf {
    let text = format!(
        "output = kafka\n\
         format.type = json\n\
         format = %{{@hostname}}l %{{@sequence!num}}n %{{Edgeship:run@run}}x \
         %{{end:%FT%TZ@dt}}t %{{@uri_path}}U %{{@http_status}}s\n\
         sequence.number = 0\n\
         log.level = 6\n\
         log.stderr = true\n\
         log.syslog = false\n\
         log.kafka.msg.error = true\n\
         log.statistics.file = {stats}\n\
         log.statistics.interval = 1\n\
         daemonize = false\n\
         varnish.arg.n = {workdir}\n\
         edgeship.hostname = {HOST}\n\
         kafka.metadata.broker.list = {bootstrap}\n\
         kafka.topic = {TOPIC}\n\
         # After the broker comes back, reconnect within a second rather than librdkafka's\n\
         # default 10 s back-off, so the test stays short.\n\
         kafka.reconnect.backoff.max.ms = 1000\n\
         {extra}\n",
        stats = dir.join("stats.json").display(),
        workdir = varnishd.workdir().display(),
    );
    let path = dir.join("edgeship.conf");
    std::fs::write(&path, text).unwrap();
    path
}

/// The `edgeship` binary as a child process, killed on drop if still running.
struct Edgeship {
    child: Child,
    stderr: PathBuf,
    stats: PathBuf,
}

impl Edgeship {
    fn start(config: &Path, dir: &Path) -> Edgeship {
        let stderr = dir.join("edgeship.err");
        let child = Command::new(env!("CARGO_BIN_EXE_edgeship"))
            .arg("-S")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("edgeship.out")).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut edgeship = Edgeship {
            child,
            stderr,
            stats: dir.join("stats.json"),
        };
        // Traffic sent before the reader is attached would not be read (it starts at the
        // log's tail), so wait for the reader to say it is reading.
        edgeship.wait_for_log("reading the Varnish log");
        edgeship
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn wait_for_log(&mut self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.log().contains(needle) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "edgeship exited ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "edgeship did not log {needle:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The latest `{"edgeship":{...}}` statistics line.
    fn stats(&self) -> Option<Value> {
        let text = std::fs::read_to_string(&self.stats).ok()?;
        text.lines()
            .rev()
            .filter(|line| line.starts_with("{\"edgeship\":"))
            .find_map(|line| serde_json::from_str::<Value>(line).ok())
            .map(|line| line["edgeship"].clone())
    }

    /// How many Produce requests librdkafka has sent, from its latest `{ "kafka": ... }`
    /// statistics line (summed over brokers).
    fn produce_requests(&self) -> Option<u64> {
        let text = std::fs::read_to_string(&self.stats).ok()?;
        let line = text
            .lines()
            .rev()
            .find(|line| line.starts_with("{ \"kafka\": "))?;
        let statistics: Value = serde_json::from_str(line).ok()?;
        let brokers = statistics["kafka"]["brokers"].as_object()?;
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
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "edgeship exited ({status}) while waiting for {what}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "statistics never showed {what}; last {:?}\n{}",
                self.stats(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, as an init system stops it, and the exit status after its clean shutdown.
    fn stop(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "edgeship did not stop after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Edgeship {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One GET to varnishd; panics unless it answers 200.
fn get(addr: SocketAddr, path: &str) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: faults.test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200 "),
        "varnishd answered {path} with {:?}",
        String::from_utf8_lossy(&answer)
    );
}

/// A consumer of the whole topic from its start, against the mock cluster.
struct Reader {
    consumer: BaseConsumer,
    messages: Vec<Value>,
}

impl Reader {
    fn new(bootstrap: &str) -> Reader {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "edgeship-faults")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(TOPIC, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&assignment).unwrap();
        Reader {
            consumer,
            messages: Vec::new(),
        }
    }

    /// Reads until a message satisfies `until` (it is kept too).
    fn read_until(&mut self, what: &str, until: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(
                Instant::now() < deadline,
                "the topic never showed {what}; read {} messages",
                self.messages.len()
            );
            let Some(result) = self.consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let message = result.unwrap();
            assert_eq!(message.key(), Some(HOST.as_bytes()), "keyed by host name");
            let value: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
            let found = until(&value);
            self.messages.push(value);
            if found {
                return;
            }
        }
    }

    fn heartbeats(&self) -> Vec<&Value> {
        self.messages
            .iter()
            .filter(|m| m["heartbeat"] == Value::Bool(true))
            .collect()
    }

    /// Request records by sequence number, each with how often it arrived.
    fn records(&self) -> BTreeMap<u64, Vec<&Value>> {
        let mut records: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
        for message in &self.messages {
            if message.get("heartbeat").is_none() {
                let sequence = message["sequence"].as_u64().expect("numeric sequence");
                records.entry(sequence).or_default().push(message);
            }
        }
        records
    }
}

fn counter(object: &Value, name: &str) -> u64 {
    object[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name} in {object}"))
}

fn mock_cluster() -> MockCluster<'static, DefaultProducerContext> {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic(TOPIC, 1, 1).unwrap();
    mock
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
    let mock = mock_cluster();
    let bootstrap = mock.bootstrap_servers();
    let varnishd = Varnishd::start().unwrap();
    let dir = TempDir::new("down");
    // Heartbeats every second keep coming during the outage too; they must queue and land.
    let config = config(
        &varnishd,
        &bootstrap,
        &dir.0,
        "edgeship.heartbeat.interval = 1",
    );
    let mut edgeship = Edgeship::start(&config, &dir.0);

    // Real HTTP traffic the whole time: before, during and after the outage.
    let stop_traffic = Arc::new(AtomicBool::new(false));
    let traffic = {
        let stop = Arc::clone(&stop_traffic);
        let addr = varnishd.addr();
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
    edgeship.wait_for_stats("records delivered before the outage", |s| {
        counter(s, "records_delivered") > 0
    });
    mock.broker_down(1).unwrap();
    let down_at = Instant::now();
    // Requests served while the broker is away are read, numbered and queued, not delivered.
    let during = edgeship.wait_for_stats("records rendered during the outage", |s| {
        counter(s, "records_rendered") > counter(s, "records_delivered") + 100
    });
    std::thread::sleep(Duration::from_secs(10).saturating_sub(down_at.elapsed()));
    let before_up = edgeship.stats().unwrap();
    mock.broker_up(1).unwrap();
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
    let drained = edgeship.wait_for_stats("every request read and delivered", |s| {
        counter(s, "records_rendered") >= sent
            && counter(s, "records_delivered") == counter(s, "records_rendered")
    });
    assert_eq!(counter(&drained, "records_rendered"), sent, "{drained}");
    let status = edgeship.stop();
    assert!(status.success(), "exit {status}:\n{}", edgeship.log());

    let mut reader = Reader::new(&bootstrap);
    reader.read_until("the final heartbeat", |m| m["final"] == Value::Bool(true));
    let heartbeats = reader.heartbeats();
    let last = *heartbeats.last().unwrap();
    assert!(
        heartbeats.len() >= 10,
        "one heartbeat a second, outage included: {}",
        heartbeats.len()
    );
    assert_eq!(last["sequence_start"], 0);
    assert_eq!(last["sequence_last"], sent - 1);
    assert_eq!(counter(last, "records_produced"), sent, "{last}");
    assert_eq!(counter(last, "records_delivered"), sent, "{last}");
    assert_eq!(counter(last, "delivery_failed"), 0, "{last}");
    assert_eq!(
        counter(last, "delivery_failed_maybe_persisted"),
        0,
        "{last}"
    );
    for name in NO_LOSS {
        assert_eq!(counter(last, name), 0, "{name} in {last}");
    }

    // Every sequence number exactly once, and each is the request it should be: records are
    // numbered in the order varnishd completed them, which is the order they were sent.
    let records = reader.records();
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
    let stats = edgeship.stats().unwrap();
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
    let mock = mock_cluster();
    let bootstrap = mock.bootstrap_servers();
    let varnishd = Varnishd::start().unwrap();
    let dir = TempDir::new("errors");
    // Only the start and the final heartbeat, so that every Produce request after the start
    // carries exactly the one record the test just sent, and each injected error hits it.
    let config = config(
        &varnishd,
        &bootstrap,
        &dir.0,
        "edgeship.heartbeat.interval = 3600",
    );
    let mut edgeship = Edgeship::start(&config, &dir.0);
    let mut reader = Reader::new(&bootstrap);
    reader.read_until("the start heartbeat", |m| {
        m["heartbeat"] == Value::Bool(true)
    });

    // Sends one request and waits until edgeship has the delivery report for its record, so
    // each record travels in a Produce request of its own.
    let mut settled = 0_u64;
    let mut one = |edgeship: &mut Edgeship, path: &str| {
        get(varnishd.addr(), path);
        settled += 1;
        edgeship.wait_for_stats(&format!("the delivery report for {path}"), |s| {
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
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        ],
    );
    let after_retries = one(&mut edgeship, "/retried/0");
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
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    one(&mut edgeship, "/refused/0");
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED],
    );
    let after_refusals = one(&mut edgeship, "/refused/1");
    assert_eq!(
        counter(&after_refusals, "delivery_failed"),
        2,
        "{after_refusals}"
    );

    // And the producer is still fine afterwards.
    one(&mut edgeship, "/after/0");
    one(&mut edgeship, "/after/1");
    // Each injected error was met by a Produce request of its own: the start heartbeat, four
    // attempts for the retried record, one each for the others. Nothing else is produced
    // until shutdown, so librdkafka's count settles at exactly that.
    let deadline = Instant::now() + PATIENCE;
    let produce_requests = loop {
        match edgeship.produce_requests() {
            Some(count) if count >= 9 => break count,
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "librdkafka statistics never showed 9 Produce requests: {:?}",
                    edgeship.produce_requests()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert_eq!(produce_requests, 1 + 4 + 1 + 1 + 1 + 1);
    let status = edgeship.stop();
    assert!(status.success(), "exit {status}:\n{}", edgeship.log());
    assert!(
        edgeship.log().contains("delivery failed"),
        "log.kafka.msg.error logs each failure:\n{}",
        edgeship.log()
    );

    reader.read_until("the final heartbeat", |m| m["final"] == Value::Bool(true));
    let last = *reader.heartbeats().last().unwrap();
    assert_eq!(counter(last, "records_produced"), 5, "{last}");
    assert_eq!(counter(last, "records_delivered"), 3, "{last}");
    assert_eq!(counter(last, "delivery_failed"), 2, "{last}");
    assert_eq!(
        counter(last, "delivery_failed_maybe_persisted"),
        0,
        "{last}"
    );
    for name in NO_LOSS {
        assert_eq!(counter(last, name), 0, "{name} in {last}");
    }
    assert_eq!(last["sequence_last"], 4, "{last}");

    // The topic holds exactly the delivered records, once each; the gaps are exactly the
    // refused ones, as many as the failure counters say.
    let records = reader.records();
    let arrived: BTreeMap<u64, &str> = records
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
        .collect();
    assert_eq!(
        arrived,
        BTreeMap::from([(0, "/retried/0"), (3, "/after/0"), (4, "/after/1")])
    );
    let gaps: BTreeSet<u64> = (0..=4).filter(|s| !records.contains_key(s)).collect();
    assert_eq!(gaps, BTreeSet::from([1, 2]));
    assert_eq!(
        gaps.len() as u64,
        counter(last, "delivery_failed") + counter(last, "delivery_failed_maybe_persisted")
    );

    // varnishkafka's statistics line counts the same failures as kafka_drerr.
    let text = std::fs::read_to_string(&edgeship.stats).unwrap();
    let classic: Value = text
        .lines()
        .rev()
        .find(|line| line.starts_with("{ \"varnishkafka\":"))
        .map(|line| serde_json::from_str(line).unwrap())
        .unwrap();
    assert_eq!(classic["varnishkafka"]["kafka_drerr"], 2, "{classic}");
    assert_eq!(classic["varnishkafka"]["tx"], 5, "{classic}");
}

#[test]
fn an_acknowledgement_too_late_is_counted_as_maybe_persisted() {
    let mock = mock_cluster();
    let bootstrap = mock.bootstrap_servers();
    let varnishd = Varnishd::start().unwrap();
    let dir = TempDir::new("late");
    // A request times out after 1 s and a record after 2 s; the broker will answer in 4 s.
    let config = config(
        &varnishd,
        &bootstrap,
        &dir.0,
        "edgeship.heartbeat.interval = 3600\n\
         kafka.topic.message.timeout.ms = 2000\n\
         kafka.topic.request.timeout.ms = 1000",
    );
    let mut edgeship = Edgeship::start(&config, &dir.0);
    let mut reader = Reader::new(&bootstrap);
    reader.read_until("the start heartbeat", |m| {
        m["heartbeat"] == Value::Bool(true)
    });
    let settled = |s: &Value| {
        counter(s, "records_delivered")
            + counter(s, "delivery_failed")
            + counter(s, "delivery_failed_maybe_persisted")
    };

    get(varnishd.addr(), "/before/0");
    edgeship.wait_for_stats("/before/0 delivered", |s| settled(s) == 1);
    // The mock broker writes the record, then holds its answer back: librdkafka gives up on
    // a record the broker did persist. That is exactly the "maybe" case.
    mock.broker_round_trip_time(1, Duration::from_secs(4))
        .unwrap();
    get(varnishd.addr(), "/late/0");
    let late = edgeship.wait_for_stats("the report for /late/0", |s| settled(s) == 2);
    assert_eq!(
        counter(&late, "delivery_failed_maybe_persisted"),
        1,
        "{late}"
    );
    assert_eq!(counter(&late, "delivery_failed"), 0, "{late}");
    mock.broker_round_trip_time(1, Duration::ZERO).unwrap();
    get(varnishd.addr(), "/after/0");
    edgeship.wait_for_stats("/after/0 delivered", |s| settled(s) == 3);
    let status = edgeship.stop();
    assert!(status.success(), "exit {status}:\n{}", edgeship.log());
    assert!(
        edgeship.log().contains("it may have been persisted"),
        "{}",
        edgeship.log()
    );

    reader.read_until("the final heartbeat", |m| m["final"] == Value::Bool(true));
    let last = *reader.heartbeats().last().unwrap();
    assert_eq!(counter(last, "records_produced"), 3, "{last}");
    assert_eq!(counter(last, "records_delivered"), 2, "{last}");
    assert_eq!(counter(last, "delivery_failed"), 0, "{last}");
    assert_eq!(
        counter(last, "delivery_failed_maybe_persisted"),
        1,
        "{last}"
    );
    for name in NO_LOSS {
        assert_eq!(counter(last, name), 0, "{name} in {last}");
    }
    // The "maybe" record did land, once (the idempotent producer's retry did not duplicate
    // it): in the topic are the delivered records plus up to the maybe-persisted ones, and
    // nothing is missing that the counters do not allow for.
    let records = reader.records();
    let arrived: BTreeMap<u64, &str> = records
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
        .collect();
    assert_eq!(
        arrived,
        BTreeMap::from([(0, "/before/0"), (1, "/late/0"), (2, "/after/0")])
    );
}

#[test]
fn a_fatal_producer_error_stops_edgeship_with_exit_1_and_counts_the_loss() {
    let mock = mock_cluster();
    let bootstrap = mock.bootstrap_servers();
    let varnishd = Varnishd::start().unwrap();
    let dir = TempDir::new("fatal");
    // With the gap-less guarantee a refused record is fatal for the idempotent producer (the
    // sequence would have a hole), which is one real way to reach librdkafka's fatal state.
    let config = config(
        &varnishd,
        &bootstrap,
        &dir.0,
        "edgeship.heartbeat.interval = 3600\n\
         kafka.enable.gapless.guarantee = true",
    );
    let mut edgeship = Edgeship::start(&config, &dir.0);
    let mut reader = Reader::new(&bootstrap);
    reader.read_until("the start heartbeat", |m| {
        m["heartbeat"] == Value::Bool(true)
    });
    get(varnishd.addr(), "/before/0");
    edgeship.wait_for_stats("/before/0 delivered", |s| {
        counter(s, "records_delivered") == 1
    });
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    get(varnishd.addr(), "/refused/0");

    // edgeship stops by itself, without a signal, and says it failed.
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = edgeship.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "edgeship kept running after a fatal producer error:\n{}",
            edgeship.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(1), "{}", edgeship.log());
    assert!(
        edgeship
            .log()
            .contains("stopping: the producer cannot continue"),
        "{}",
        edgeship.log()
    );
    // The last statistics say exactly what happened: one delivered, one refused; the final
    // heartbeat could not be produced, and is not counted as a record lost at enqueue.
    let stats = edgeship.stats().unwrap();
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
