//! The `pipeline` group: the release `edgeship` binary reading the capture (`-r`) with the
//! production webrequest format, whole runs timed, into `output = null` (the baseline: reading
//! and rendering only), `stdout` (into a sink) and `kafka` (librdkafka's mock cluster in this
//! process: the producer's batching, compression and acknowledgements, without a broker's
//! storage). Each run must report every request rendered (and, for Kafka, delivered), so a
//! broken run cannot pass for a fast one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use edgeship_benches::fixtures;
use edgeship_testkit::scratch::ScratchDir;
use rdkafka::mocking::MockCluster;

use super::long_iterations;
use crate::Baseline;

const TOPIC: &str = "webrequest_bench";

/// The configuration of one run: the production fixture's Kafka settings (as
/// `benches/compare-shipper` writes them), with the output and brokers varied.
fn configuration(format: &str, output: &str, brokers: &str) -> String {
    format!(
        "output = {output}\n\
         format.type = json\n\
         format = {format}\n\
         sequence.number = 0\n\
         log.level = 6\n\
         log.stderr = true\n\
         log.syslog = false\n\
         daemonize = false\n\
         edgeship.hostname = cp1001\n\
         kafka.metadata.broker.list = {brokers}\n\
         kafka.topic = {TOPIC}\n\
         kafka.partition = -1\n\
         kafka.queue.buffering.max.messages = 720000\n\
         kafka.queue.buffering.max.ms = 1000\n\
         kafka.batch.num.messages = 9000\n\
         kafka.request.timeout.ms = 2000\n\
         kafka.topic.request.required.acks = all\n\
         kafka.topic.message.timeout.ms = 300000\n\
         kafka.compression.codec = snappy\n"
    )
}

/// Runs `edgeship -S config -r capture` once, standard output into a sink; returns the wall
/// time and the (rendered, delivered) counts from its closing log line.
fn run(edgeship: &Path, config: &Path, capture: &Path) -> (Duration, u64, u64) {
    let started = Instant::now();
    let output = Command::new(edgeship)
        .arg("-S")
        .arg(config)
        .arg("-r")
        .arg(capture)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|error| panic!("{}: {error}", edgeship.display()));
    let elapsed = started.elapsed();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "edgeship failed ({}):\n{log}",
        output.status
    );
    // "stopped: R records rendered, P produced, D delivered, U undelivered"
    let counts = log
        .lines()
        .rev()
        .find_map(|line| line.split_once("stopped: ").map(|(_, rest)| rest))
        .map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .filter(|number| !number.is_empty())
                .filter_map(|number| number.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_else(|| panic!("no closing line from edgeship:\n{log}"));
    assert!(counts.len() >= 3, "unexpected closing line:\n{log}");
    (elapsed, counts[0], counts[2])
}

pub(crate) fn pipeline(
    criterion: &mut Criterion,
    capture: &Path,
    edgeship: &Path,
    transactions: u64,
) -> Baseline {
    let format = fixtures::format(fixtures::PRODUCTION)
        .unwrap_or_else(|error| panic!("{}: {error}", fixtures::PRODUCTION));
    let work = ScratchDir::new("bench-pipeline")
        .unwrap_or_else(|error| panic!("a scratch directory: {error}"));
    println!(
        "pipeline: {} -r {} ({transactions} client requests), production format",
        edgeship.display(),
        capture.display()
    );

    let mut group = criterion.benchmark_group("pipeline");
    long_iterations(&mut group);
    group.throughput(Throughput::Elements(transactions));
    for output in ["null", "stdout", "kafka"] {
        group.bench_function(BenchmarkId::new(output, "production"), |bench| {
            bench.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    // A fresh mock cluster per Kafka run: it keeps every message in memory,
                    // and its set-up is not what is measured.
                    let cluster = (output == "kafka").then(|| {
                        let cluster = MockCluster::new(1)
                            .unwrap_or_else(|error| panic!("mock cluster: {error}"));
                        cluster
                            .create_topic(TOPIC, 3, 1)
                            .unwrap_or_else(|error| panic!("mock topic: {error}"));
                        cluster
                    });
                    // Outputs other than Kafka never connect: an address nobody listens on.
                    let brokers = cluster
                        .as_ref()
                        .map_or_else(|| "127.0.0.1:9".to_string(), |c| c.bootstrap_servers());
                    let config = work
                        .write(
                            &format!("{output}.conf"),
                            configuration(&format, output, &brokers),
                        )
                        .unwrap_or_else(|error| panic!("{output}.conf: {error}"));
                    let (elapsed, rendered, delivered) = run(edgeship, &config, capture);
                    assert_eq!(rendered, transactions, "{output}: requests rendered");
                    if output == "kafka" {
                        assert_eq!(delivered, transactions, "kafka: records delivered");
                    }
                    total += elapsed;
                    drop(cluster);
                }
                total
            });
        });
    }
    group.finish();
    Baseline {
        group: "pipeline",
        baseline: "null/production".to_string(),
        compared: vec![
            "stdout/production".to_string(),
            "kafka/production".to_string(),
        ],
        records_per_iteration: transactions,
    }
}
