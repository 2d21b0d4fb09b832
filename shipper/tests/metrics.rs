//! The metrics server against a real Prometheus (issue 15): Debian's `prometheus` scrapes a
//! live `edgeship` every second while real traffic goes through varnishd into tansu, and the
//! test reads back through Prometheus's HTTP API that the delivered-records counter equals
//! the records an independent consumer finds in the topic, and that the latency histograms
//! counted every one of them; `promtool check metrics` accepts the exposition.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{
    config_text, heartbeats, kafka_lines, last_statistics, records, seed_format, send_all,
    Edgeship, Request, TopicReader, PATIENCE,
};
use edgeship_testkit::http;
use edgeship_testkit::port::free_port;
use edgeship_testkit::prometheus::{self, Prometheus};
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::tansu::Tansu;
use edgeship_testkit::varnishd::Varnishd;

/// Plain GETs, each with its id in the query.
fn requests(count: u64) -> Vec<Request> {
    (0..count)
        .map(|id| Request {
            id,
            method: "GET",
            path: format!("/metrics-test/{id}"),
            query: format!("?id={id}"),
            headers: vec![("Host".to_owned(), "en.wikipedia.org".to_owned())],
            body: Vec::new(),
        })
        .collect()
}

/// The one series `expression` yields in Prometheus, once `done` holds for its value; fails
/// after [`PATIENCE`] with the last answer and `diagnosis()`.
fn wait_for_value(
    prometheus: &Prometheus,
    expression: &str,
    done: impl Fn(f64) -> bool,
    diagnosis: impl Fn() -> String,
) -> f64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer = prometheus.query(expression);
        if let Ok(series) = &answer {
            if let [(_, value)] = series.as_slice() {
                if done(*value) {
                    return *value;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {expression}: last answer {answer:?}\nprometheus:\n{}\n{}",
            prometheus.log_tail(),
            diagnosis()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The body of one `GET /metrics` from `addr`.
fn scrape(addr: SocketAddr) -> Vec<u8> {
    let answer = http::exchange(
        addr,
        b"GET /metrics HTTP/1.0\r\n\r\n",
        Duration::from_secs(10),
    )
    .expect("scrape edgeship");
    assert_eq!(http::status(&answer), Some(200));
    let end = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("an HTTP head");
    answer[end + 4..].to_vec()
}

#[test]
fn prometheus_sees_every_record_in_the_topic_delivered_and_timed() {
    const COUNT: u64 = 3_000;
    const TOPIC: &str = "webrequest_metrics";
    let varnishd = Varnishd::builder().start().expect("start varnishd");
    let tansu = Tansu::start().expect("start tansu (scripts/setup builds it)");
    tansu.create_topic(TOPIC, 1).expect("create the topic");
    let dir = ScratchDir::new("shipper-test-metrics").expect("a scratch directory");
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port().expect("a free port")));
    let mut lines = kafka_lines(&tansu.bootstrap(), TOPIC);
    lines.push(format!("edgeship.metrics.address = {metrics}"));
    // librdkafka's statistics (queue, brokers) and the statistics line, every second.
    lines.push("log.statistics.interval = 1".to_owned());
    let config = dir
        .write("metrics.conf", config_text(&dir, &seed_format(), &lines))
        .expect("write a test file");
    let mut edgeship = Edgeship::start_live(&dir, "edgeship", &config, varnishd.workdir(), &[]);
    edgeship.wait_for_stderr(&format!("Prometheus metrics at http://{metrics}/metrics"));
    let prometheus = Prometheus::start(&[metrics], Duration::from_secs(1))
        .expect("start prometheus (scripts/setup installs it)");

    let responses = send_all(varnishd.addr(), &requests(COUNT), 4);
    assert_eq!(responses.len() as u64, COUNT, "every request was answered");
    let mut reader = TopicReader::new(&tansu.bootstrap(), TOPIC);
    reader.read_until_or(
        "every record",
        |messages| records(messages).count() as u64 >= COUNT,
        || edgeship.stderr(),
    );
    let in_topic = records(&reader.messages).count() as f64;
    assert_eq!(in_topic, COUNT as f64, "each request's record once");

    // Prometheus converges on what the topic holds: the counter counts records only, never
    // heartbeats (which the topic also holds and the reader tells apart).
    assert!(
        heartbeats(&reader.messages).count() >= 1,
        "the start heartbeat"
    );
    let diagnosis = || edgeship.stderr();
    let delivered = wait_for_value(
        &prometheus,
        "edgeship_records_delivered_total",
        |value| value >= in_topic,
        diagnosis,
    );
    assert_eq!(
        delivered, in_topic,
        "delivered as counted = records in the topic"
    );
    // Every delivered record was timed once, and every produced one waited once.
    let timed = |expression: &str| {
        wait_for_value(
            &prometheus,
            expression,
            |value| value >= in_topic,
            diagnosis,
        )
    };
    assert_eq!(timed("edgeship_delivery_latency_seconds_count"), in_topic);
    assert_eq!(
        timed("edgeship_delivery_latency_seconds_bucket{le=\"+Inf\"}"),
        in_topic
    );
    assert_eq!(timed("edgeship_produce_wait_seconds_count"), in_topic);
    let p99 = wait_for_value(
        &prometheus,
        "histogram_quantile(0.99, edgeship_delivery_latency_seconds_bucket)",
        |value| value.is_finite(),
        diagnosis,
    );
    assert!(p99 > 0.0, "a delivery takes some time: p99 {p99}");
    let up = wait_for_value(&prometheus, "up{job=\"edgeship\"}", |_| true, diagnosis);
    assert_eq!(up, 1.0, "every scrape parsed");
    let brokers = wait_for_value(
        &prometheus,
        "sum(edgeship_kafka_broker_up)",
        |value| value >= 1.0,
        diagnosis,
    );
    assert!(
        brokers >= 1.0,
        "librdkafka's statistics reached the metrics"
    );

    // promtool refuses what breaks Prometheus's naming rules, so its pass below means something.
    let unsuffixed = b"# HELP edgeship_x x\n# TYPE edgeship_x counter\nedgeship_x 1\n";
    let (passed, _) = prometheus::check_metrics(unsuffixed).expect("run promtool");
    assert!(!passed, "promtool accepts a counter without _total");
    let exposition = scrape(metrics);
    let (passed, printed) = prometheus::check_metrics(&exposition).expect("run promtool");
    assert!(
        passed,
        "promtool check metrics: {printed}\n{}",
        String::from_utf8_lossy(&exposition)
    );

    // The statistics line carries the interval's percentiles beside the counters.
    let line = last_statistics(&dir.path().join("stats.json"), "edgeship");
    for field in [
        "delivery_latency_count",
        "delivery_latency_p99_micros",
        "produce_wait_max_micros",
    ] {
        assert!(line[field].is_u64(), "{field} in {line}");
    }

    // The delivery latency starts at the request's end in Varnish, not at the reader's
    // hand-over: requests served while edgeship is stopped are read after it continues, and
    // their latency includes the stop.
    const STOPPED: Duration = Duration::from_secs(2);
    edgeship.signal("-STOP");
    let late = requests(COUNT + LATE).split_off(COUNT as usize);
    let served = send_all(varnishd.addr(), &late, 2);
    std::thread::sleep(STOPPED);
    edgeship.signal("-CONT");
    assert_eq!(served.len() as u64, LATE, "every late request was answered");
    reader.read_until_or(
        "the late records",
        |messages| records(messages).count() as u64 >= COUNT + LATE,
        || edgeship.stderr(),
    );
    let status = edgeship.terminate();
    assert_eq!(status.code(), Some(0), "clean stop:\n{}", edgeship.stderr());
    reader.read_to_end(1);
    assert_eq!(records(&reader.messages).count() as u64, COUNT + LATE);
    // Each heartbeat carries the latencies since the one before: together, every record once.
    let beats: Vec<_> = heartbeats(&reader.messages).collect();
    let field = |name: &'static str| beats.iter().map(move |beat| beat.json[name].as_u64());
    let timed: Option<u64> = field("delivery_latency_count").sum();
    assert_eq!(
        timed,
        Some(COUNT + LATE),
        "each delivery timed in one heartbeat"
    );
    let longest = field("delivery_latency_max_micros").flatten().max();
    assert!(
        longest >= Some(STOPPED.as_micros() as u64 * 9 / 10),
        "the late requests' latency includes the stop: {longest:?} µs"
    );
    let p50s: Option<Vec<u64>> = field("produce_wait_p50_micros").collect();
    assert!(p50s.is_some(), "every heartbeat has the wait's median");
}

/// Requests sent while edgeship is stopped.
const LATE: u64 = 200;
