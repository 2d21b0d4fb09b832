//! The Kafka side of issue 12, on real processes: the record headers that carry the run and
//! sequence number beside any format's body, the heartbeat's interval, a clean stop with
//! `message.timeout.ms = 0`, heartbeats under `edgeship.queue.full = drop` with the broker
//! unreachable, one bounded stop (`edgeship.shutdown.timeout`) while the broker is down, and
//! a producer that can no longer deliver after an outage longer than `message.timeout.ms`
//! replaced by a new one.
//! Each test runs the real `edgeship` on the live log of its own varnishd; what landed is read
//! back with testkit's independent consumer, never taken from the shipper's own output.

// clippy.toml lets tests unwrap; the helpers below are test code too (a panic is a failure
// with a message), which `allow-unwrap-in-tests` does not see outside `#[test]` functions.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    config_text, heartbeats, kafka_lines, latest_statistics, raw_exchange, records, seed_format,
    Edgeship, Landed, TopicReader, PATIENCE,
};
use edgeship_testkit::port::free_port;
use edgeship_testkit::proxy::Proxy;
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::tansu::Tansu;
use edgeship_testkit::varnishd::Varnishd;
use serde_json::Value;

/// One GET to varnishd; panics unless it answers 200.
fn get(addr: SocketAddr, id: u64) {
    let request = format!("GET /kafka?id={id} HTTP/1.1\r\nHost: kafka.example\r\n\r\n");
    assert_eq!(raw_exchange(addr, request.as_bytes()), 200, "request {id}");
}

/// Starts a broker with `topic` (one partition: the host's messages in one order).
fn broker(topic: &str) -> Tansu {
    let tansu = Tansu::start().expect("start tansu (scripts/setup builds it)");
    tansu.create_topic(topic, 1).expect("create the topic");
    tansu
}

/// Writes a seed-format configuration with `lines` and starts edgeship on `varnishd`'s log.
fn start(dir: &ScratchDir, varnishd: &Varnishd, lines: &[String]) -> Edgeship {
    let config = dir
        .write("edgeship.conf", config_text(dir, &seed_format(), lines))
        .expect("write a test file");
    Edgeship::start_live(dir, "edgeship", &config, varnishd.workdir(), &[])
}

/// The latest `{"edgeship":{...}}` statistics once `done` holds for them; fails if edgeship
/// exits first or it takes longer than [`PATIENCE`].
fn wait_for_stats(edgeship: &mut Edgeship, path: &Path, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(stats) = latest_statistics(path, "edgeship").filter(|stats| done(stats)) {
            return stats;
        }
        if let Some(status) = edgeship.try_status() {
            panic!("edgeship exited ({status}):\n{}", edgeship.stderr());
        }
        assert!(
            Instant::now() < deadline,
            "statistics never got there; last {:?}\n{}",
            latest_statistics(path, "edgeship"),
            edgeship.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn counter(object: &Value, name: &str) -> u64 {
    object[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name} in {object}"))
}

/// The Kafka lines of a test configuration with `message.timeout.ms` replaced by `timeout`.
fn kafka_lines_with_timeout(bootstrap: &str, topic: &str, timeout: &str) -> Vec<String> {
    let mut lines = kafka_lines(bootstrap, topic);
    for line in &mut lines {
        if line.starts_with("kafka.topic.message.timeout.ms") {
            *line = format!("kafka.topic.message.timeout.ms = {timeout}");
        }
    }
    lines
}

#[test]
fn every_record_and_heartbeat_carries_its_run_and_sequence_as_kafka_headers() {
    const COUNT: u64 = 300;
    const TOPIC: &str = "webrequest_headers";
    let varnishd = Varnishd::start().expect("start varnishd");
    let tansu = broker(TOPIC);
    let dir = ScratchDir::new("shipper-test-headers").expect("a scratch directory");
    let mut lines = kafka_lines(&tansu.bootstrap(), TOPIC);
    lines.push("edgeship.heartbeat.interval = 1".to_owned());
    let mut edgeship = start(&dir, &varnishd, &lines);
    for id in 0..COUNT {
        get(varnishd.addr(), id);
    }
    let mut reader = TopicReader::new(&tansu.bootstrap(), TOPIC);
    reader.read_until_or(
        "every record",
        |m| records(m).count() as u64 >= COUNT,
        || edgeship.stderr(),
    );
    let status = edgeship.terminate();
    assert_eq!(status.code(), Some(0), "clean stop:\n{}", edgeship.stderr());
    reader.read_to_end(1);

    // The seed format has no run field: the run travels only in the headers.
    let beats: Vec<&Landed> = heartbeats(&reader.messages).collect();
    assert!(beats.len() >= 2, "start and final heartbeats");
    let run = beats[0].json["run"].as_str().expect("a run").to_owned();
    for beat in &beats {
        assert_eq!(beat.header("edgeship.run"), Some(run.clone()), "{beat:?}");
        assert_eq!(beat.header("edgeship.sequence"), None, "{beat:?}");
        assert_eq!(beat.json["interval_seconds"], 1, "{}", beat.json);
    }
    let mut sequences = BTreeSet::new();
    for record in records(&reader.messages) {
        assert!(record.json.get("run").is_none(), "{}", record.json);
        assert_eq!(
            record.header("edgeship.run"),
            Some(run.clone()),
            "{record:?}"
        );
        let sequence = counter(&record.json, "sequence");
        assert_eq!(
            record.header("edgeship.sequence"),
            Some(sequence.to_string()),
            "{record:?}"
        );
        assert!(sequences.insert(sequence), "sequence {sequence} twice");
    }
    assert!(sequences.into_iter().eq(0..COUNT), "every sequence once");
}

#[test]
fn a_message_timeout_of_zero_still_flushes_everything_and_the_final_heartbeat() {
    const COUNT: u64 = 50;
    const TOPIC: &str = "webrequest_no_timeout";
    let varnishd = Varnishd::start().expect("start varnishd");
    let tansu = broker(TOPIC);
    let dir = ScratchDir::new("shipper-test-no-timeout").expect("a scratch directory");
    let mut lines = kafka_lines_with_timeout(&tansu.bootstrap(), TOPIC, "0");
    // Records wait in librdkafka's queue until the stop: only the flush sends them.
    lines.push("kafka.queue.buffering.max.ms = 60000".to_owned());
    lines.push("log.statistics.interval = 1".to_owned());
    let mut edgeship = start(&dir, &varnishd, &lines);
    for id in 0..COUNT {
        get(varnishd.addr(), id);
    }
    let stats = dir.path().join("stats.json");
    wait_for_stats(&mut edgeship, &stats, |s| {
        counter(s, "records_produced") >= COUNT
    });
    let status = edgeship.terminate();
    assert_eq!(status.code(), Some(0), "clean stop:\n{}", edgeship.stderr());

    let mut reader = TopicReader::new(&tansu.bootstrap(), TOPIC);
    reader.read_to_end(1);
    assert_eq!(records(&reader.messages).count() as u64, COUNT);
    let last = heartbeats(&reader.messages)
        .max_by_key(|m| m.offset)
        .expect("heartbeats");
    assert_eq!(last.json["final"], true, "{}", last.json);
    assert_eq!(counter(&last.json, "undelivered_at_exit"), 0);
}

/// A configuration whose broker is a loopback port nobody listens on, with a local queue of
/// `queue` messages, the `policy` for a full queue and a stop of `stop_seconds`.
fn unreachable_broker_lines(queue: u32, policy: &str, stop_seconds: u32) -> Vec<String> {
    let port = free_port().expect("a free port");
    let mut lines = kafka_lines(&format!("127.0.0.1:{port}"), "webrequest_unreachable");
    lines.extend([
        format!("kafka.queue.buffering.max.messages = {queue}"),
        format!("edgeship.queue.full = {policy}"),
        format!("edgeship.shutdown.timeout = {stop_seconds}"),
        "edgeship.heartbeat.interval = 1".to_owned(),
        "log.statistics.interval = 1".to_owned(),
    ]);
    lines
}

#[test]
fn with_the_drop_policy_a_full_queue_drops_and_counts_heartbeats_instead_of_blocking() {
    let varnishd = Varnishd::start().expect("start varnishd");
    let dir = ScratchDir::new("shipper-test-drop-heartbeats").expect("a scratch directory");
    let mut edgeship = start(&dir, &varnishd, &unreachable_broker_lines(5, "drop", 5));
    for id in 0..20 {
        get(varnishd.addr(), id);
    }
    // Heartbeats are due every second; a blocked heartbeat would stop the statistics too.
    let stats = dir.path().join("stats.json");
    let seen = wait_for_stats(&mut edgeship, &stats, |s| {
        counter(s, "heartbeats_dropped") >= 3
    });
    assert!(counter(&seen, "queue_full_drops") > 0, "{seen}");
    // Still reading: more traffic is read and dropped, not stalled behind a heartbeat.
    let dropped = counter(&seen, "queue_full_drops");
    for id in 20..40 {
        get(varnishd.addr(), id);
    }
    wait_for_stats(&mut edgeship, &stats, |s| {
        counter(s, "queue_full_drops") >= dropped + 20
    });
    let status = edgeship.terminate();
    assert_eq!(status.code(), Some(0), "stop:\n{}", edgeship.stderr());
    assert!(
        edgeship.stderr().contains("a heartbeat was dropped"),
        "{}",
        edgeship.stderr()
    );
}

#[test]
fn a_stop_with_the_broker_unreachable_ends_by_the_deadline_and_counts_the_undelivered() {
    const STOP_SECONDS: u32 = 3;
    let varnishd = Varnishd::start().expect("start varnishd");
    let dir = ScratchDir::new("shipper-test-bounded-stop").expect("a scratch directory");
    let mut edgeship = start(
        &dir,
        &varnishd,
        &unreachable_broker_lines(5, "block", STOP_SECONDS),
    );
    for id in 0..30 {
        get(varnishd.addr(), id);
    }
    // The queue (5 messages, the start heartbeat among them) is full and the rendering thread
    // waits for room that never comes.
    edgeship.wait_for_stderr("local queue full: waiting for room");
    let stats = dir.path().join("stats.json");
    let started = Instant::now();
    // terminate() fails the test if edgeship has not exited within PATIENCE: a hang detector,
    // not a timing assertion.
    let status = edgeship.terminate();
    let took = started.elapsed();
    let log = edgeship.stderr();
    assert_eq!(status.code(), Some(0), "clean stop ({took:?}):\n{log}");
    assert!(
        log.contains("records were still undelivered at the stop deadline"),
        "{log}"
    );
    assert!(
        log.contains("the final heartbeat was not delivered"),
        "{log}"
    );
    // Every record read was rendered and, the broker being unreachable, none delivered: all
    // of them are undelivered at exit, queued or not.
    let last = latest_statistics(&stats, "edgeship").expect("statistics");
    assert_eq!(counter(&last, "records_delivered"), 0, "{last}");
    assert!(counter(&last, "records_rendered") > 0, "{last}");
    assert_eq!(
        counter(&last, "undelivered_at_exit"),
        counter(&last, "records_rendered"),
        "{last}"
    );
    assert!(
        log.contains(&format!(
            "{} undelivered at exit",
            counter(&last, "records_rendered")
        )),
        "{log}"
    );
}

/// One GET with a path of its own, so the test can find its record in the topic.
fn get_path(addr: SocketAddr, path: &str) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: kafka.example\r\n\r\n");
    assert_eq!(
        raw_exchange(addr, request.as_bytes()),
        200,
        "request {path}"
    );
}

/// Whether a record whose body mentions `path` is among `messages`.
fn has_path(messages: &[Landed], path: &str) -> bool {
    records(messages).any(|m| String::from_utf8_lossy(&m.payload).contains(path))
}

/// Sends probe requests (`/{name}-probe-N`) until one of them is in the topic: deliveries
/// have resumed. Fails after [`PATIENCE`].
fn probe_until_one_lands(
    varnishd: &Varnishd,
    reader: &mut TopicReader,
    edgeship: &Edgeship,
    name: &str,
) {
    let deadline = Instant::now() + PATIENCE;
    let mut probes = 0;
    loop {
        get_path(varnishd.addr(), &format!("/{name}-probe-{probes}"));
        probes += 1;
        reader.poll_some(Duration::from_millis(500));
        let landed = |id| has_path(&reader.messages, &format!("/{name}-probe-{id}"));
        if (0..probes).any(landed) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no request landed after the outage ({probes} sent):\n{}",
            edgeship.stderr()
        );
    }
}

/// A broker behind a pausable proxy, and an edgeship on varnishd's log whose records time
/// out after `timeout` milliseconds, which has delivered its first 50 records.
struct Outage {
    varnishd: Varnishd,
    proxy: Proxy,
    tansu: Tansu,
    /// Kept for the edgeship's files, removed when the test ends.
    _dir: ScratchDir,
    edgeship: Edgeship,
    /// The statistics file.
    stats: std::path::PathBuf,
}

impl Outage {
    /// Stops edgeship with SIGTERM, requires a clean exit, and reads the topic to its end.
    fn stop_cleanly(&mut self, reader: &mut TopicReader) {
        let status = self.edgeship.terminate();
        assert_eq!(
            status.code(),
            Some(0),
            "clean stop:\n{}",
            self.edgeship.stderr()
        );
        reader.read_to_end(1);
    }

    fn start(topic: &str, label: &str, timeout: &str) -> Outage {
        let varnishd = Varnishd::start().expect("start varnishd");
        let proxy = Proxy::bind().expect("a proxy for the broker");
        let tansu = Tansu::start_behind(&proxy).expect("start tansu (scripts/setup builds it)");
        tansu.create_topic(topic, 1).expect("create the topic");
        let dir = ScratchDir::new(label).expect("a scratch directory");
        let mut lines = kafka_lines_with_timeout(&tansu.bootstrap(), topic, timeout);
        lines.push("edgeship.heartbeat.interval = 1".to_owned());
        lines.push("log.statistics.interval = 1".to_owned());
        let mut edgeship = start(&dir, &varnishd, &lines);
        let stats = dir.path().join("stats.json");
        for id in 0..50 {
            get(varnishd.addr(), id);
        }
        wait_for_stats(&mut edgeship, &stats, |s| {
            counter(s, "records_delivered") >= 50
        });
        Outage {
            varnishd,
            proxy,
            tansu,
            _dir: dir,
            edgeship,
            stats,
        }
    }
}

#[test]
fn a_producer_fenced_after_an_outage_longer_than_the_message_timeout_is_replaced() {
    const TOPIC: &str = "webrequest_fenced";
    const FINAL: u64 = 50;
    let mut outage = Outage::start(TOPIC, "shipper-test-fenced", "3000");
    // The broker is cut for twice the message timeout while requests keep coming: their
    // messages time out in the producer, which moves its idempotence epoch.
    outage.proxy.pause();
    for id in 50..150 {
        get(outage.varnishd.addr(), id);
        std::thread::sleep(Duration::from_millis(60));
    }
    wait_for_stats(&mut outage.edgeship, &outage.stats, |s| {
        counter(s, "delivery_failed_maybe_persisted") + counter(s, "delivery_failed") > 0
    });
    outage.proxy.resume();
    // Requests sent while the producer reconnects may time out as well (the broker's
    // reconnect backoff can be longer than the message timeout): probes go out until one
    // lands, which a fenced producer never lets happen.
    let mut reader = TopicReader::new(&outage.tansu.bootstrap(), TOPIC);
    probe_until_one_lands(&outage.varnishd, &mut reader, &outage.edgeship, "fenced");
    let paths: Vec<String> = (0..FINAL).map(|id| format!("/fenced-final-{id}")).collect();
    for path in &paths {
        get_path(outage.varnishd.addr(), path);
    }
    let landed = |messages: &[Landed]| paths.iter().all(|path| has_path(messages, path));
    reader.read_until_or("every request after the outage", landed, || {
        outage.edgeship.stderr()
    });
    outage.stop_cleanly(&mut reader);
    let last = heartbeats(&reader.messages)
        .max_by_key(|m| m.offset)
        .expect("heartbeats");
    assert_eq!(last.json["final"], true, "{}", last.json);
    assert!(
        counter(&last.json, "producer_restarts") >= 1,
        "{}",
        last.json
    );
    assert!(
        outage
            .edgeship
            .stderr()
            .contains("replacing the Kafka producer"),
        "{}",
        outage.edgeship.stderr()
    );
}

#[test]
fn a_producer_that_delivers_nothing_while_deliveries_fail_is_replaced_during_the_outage_and_the_new_one_delivers_once_the_broker_is_back(
) {
    const TOPIC: &str = "webrequest_stalled";
    let mut outage = Outage::start(TOPIC, "shipper-test-stalled", "2000");
    // The broker stays away while requests come: their deliveries time out and nothing is
    // delivered, with no broker to say the instance is fenced. It is replaced anyway, while
    // the broker is still unreachable.
    outage.proxy.pause();
    for id in 50..100 {
        get(outage.varnishd.addr(), id);
        std::thread::sleep(Duration::from_millis(40));
    }
    let during = wait_for_stats(&mut outage.edgeship, &outage.stats, |s| {
        counter(s, "producer_restarts") >= 1
    });
    assert!(
        counter(&during, "delivery_failed_maybe_persisted") + counter(&during, "delivery_failed")
            > 0,
        "{during}"
    );
    assert!(
        outage
            .edgeship
            .stderr()
            .contains("it delivered no record for"),
        "{}",
        outage.edgeship.stderr()
    );
    // The instance created during the outage delivers once the broker is back.
    outage.proxy.resume();
    let mut reader = TopicReader::new(&outage.tansu.bootstrap(), TOPIC);
    probe_until_one_lands(&outage.varnishd, &mut reader, &outage.edgeship, "stalled");
    outage.stop_cleanly(&mut reader);
    // Every record is accounted for: delivered, or counted as failed (those that may have
    // been persisted may be in the topic as well).
    let end = latest_statistics(&outage.stats, "edgeship").expect("final statistics");
    let produced = counter(&end, "records_produced");
    let delivered = counter(&end, "records_delivered");
    let maybe = counter(&end, "delivery_failed_maybe_persisted");
    let failed = counter(&end, "delivery_failed") + maybe;
    assert_eq!(produced, delivered + failed, "{end}");
    let in_topic = records(&reader.messages).count() as u64;
    assert!(
        (delivered..=delivered + maybe).contains(&in_topic),
        "{in_topic} records in the topic: {end}"
    );
}
