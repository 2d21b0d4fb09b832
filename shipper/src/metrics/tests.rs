//! The exposition against the counters it must cover, and the server's answers.

use std::collections::BTreeSet;
use std::sync::Arc;

use edgeship_conf::{Overrides, RawConfig};
use prometheus_client::registry::Registry;

use super::exposition::{Exposition, RunInfo, COUNTERS};
use super::server::respond;
use crate::counters::{Counters, Snapshot};
use crate::latency;
use crate::log::Log;
use crate::shared::Shared;

fn shared() -> Arc<Shared> {
    let raw =
        RawConfig::parse(&b"output = null\nlog.stderr = false\n"[..], "t.conf").expect("reads");
    let config = raw.resolve(&Overrides::default()).expect("resolves");
    Arc::new(Shared::open(&config, Log::new(&config.log)).expect("opens"))
}

fn registry(shared: &Arc<Shared>) -> Registry {
    let mut registry = Registry::with_prefix("edgeship");
    let run = RunInfo {
        hostname: "cp1001".to_owned(),
        run: "r-1".to_owned(),
        sequence_start: 7,
    };
    registry.register_collector(Box::new(Exposition::new(Arc::clone(shared), run)));
    registry
}

fn scrape(registry: &Registry) -> String {
    let response = respond(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", registry);
    let text = String::from_utf8(response).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", body.len())),
        "{head}"
    );
    body.to_owned()
}

/// Fails unless `body` holds every one of `lines`.
fn assert_has_lines(body: &str, lines: &[&str]) {
    for line in lines {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
}

#[test]
fn every_counter_is_exported_exactly_once() {
    let fields: BTreeSet<&str> = Snapshot::default()
        .fields()
        .iter()
        .map(|(name, _)| *name)
        .collect();
    let rows: Vec<&str> = COUNTERS.iter().map(|row| row.counter).collect();
    let exported: BTreeSet<&str> = rows.iter().copied().collect();
    assert_eq!(rows.len(), exported.len(), "a counter exported twice");
    assert_eq!(exported, fields);
}

#[test]
fn counters_labels_units_and_histograms_are_exposed_from_the_shared_handles() {
    let shared = shared();
    let counters = &shared.counters;
    Counters::add(&counters.records_delivered, 41);
    Counters::add(&counters.delivery_failed_maybe_persisted, 3);
    Counters::add(&counters.undelivered_at_exit, 2);
    Counters::add(&counters.queue_full_blocked_micros, 1_500_000);
    Counters::add(&counters.heartbeats_produced, 5);
    shared.progress.set_next_sequence(48);
    shared.progress.delivered_at(1_700_000_000_250_000);
    shared.latency.record_wait(1_000_000, 1_003_000, 10);
    latency::record_delivery_here(20_000);
    shared.latency.merge_deliveries();
    let body = scrape(&registry(&shared));
    assert_has_lines(
        &body,
        &[
            "edgeship_records_delivered_total 41\n",
            "edgeship_records_failed_total{kind=\"delivery_maybe_persisted\"} 3\n",
            "edgeship_records_failed_total{kind=\"produce\"} 0\n",
            "edgeship_records_dropped_total{reason=\"undelivered_at_exit\"} 2\n",
            "edgeship_queue_full_blocked_seconds_total 1.5\n",
            "edgeship_heartbeats_produced_total 5\n",
            "edgeship_sequence_next 48\n",
            "edgeship_last_delivery_timestamp_seconds 1700000000.25\n",
            "edgeship_run_info{hostname=\"cp1001\",run=\"r-1\",sequence_start=\"7\"} 1\n",
            "# TYPE edgeship_produce_wait_seconds histogram\n",
            "edgeship_produce_wait_seconds_bucket{le=\"0.0025\"} 0\n",
            "edgeship_produce_wait_seconds_bucket{le=\"0.005\"} 10\n",
            "edgeship_produce_wait_seconds_count 10\n",
            "edgeship_delivery_latency_seconds_bucket{le=\"0.025\"} 1\n",
            "edgeship_delivery_latency_seconds_bucket{le=\"+Inf\"} 1\n",
        ],
    );
    assert!(body.contains(&format!(
        "edgeship_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(
        !body.contains("edgeship_kafka_"),
        "no librdkafka statistics yet:\n{body}"
    );
    assert_eq!(
        body.matches("# TYPE edgeship_records_failed_total counter")
            .count(),
        1
    );
}

#[test]
fn librdkafka_statistics_become_queue_and_broker_gauges() {
    let shared = shared();
    let statistics = include_str!("tests/statistics.json");
    shared.kafka.update(statistics.as_bytes());
    let body = scrape(&registry(&shared));
    assert_has_lines(
        &body,
        &[
            "edgeship_kafka_queue_messages 12\n",
            "edgeship_kafka_queue_bytes 3456\n",
            "edgeship_kafka_broker_up{broker=\"127.0.0.1:9092/1\"} 1\n",
            "edgeship_kafka_broker_up{broker=\"127.0.0.1:9093/2\"} 0\n",
            "edgeship_kafka_broker_state_info{broker=\"127.0.0.1:9093/2\",state=\"CONNECT\"} 1\n",
            "edgeship_kafka_broker_rtt_seconds{broker=\"127.0.0.1:9092/1\"} 0.0025\n",
        ],
    );
}

#[test]
fn only_get_and_head_of_the_metrics_path_are_answered_with_metrics() {
    let shared = shared();
    let registry = registry(&shared);
    let answer = |request: &[u8]| String::from_utf8(respond(request, &registry)).expect("UTF-8");
    assert!(answer(b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
    assert!(answer(b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
    assert!(answer(b"").starts_with("HTTP/1.1 404 "));
    let head = answer(b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200 OK") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let query = answer(b"GET /metrics?x=1 HTTP/1.1\r\n\r\n");
    assert!(
        query.contains("edgeship_records_delivered_total 0\n"),
        "{query}"
    );
}

/// The metric names docs/metrics.md's tables list, in their first column.
fn documented_metrics() -> BTreeSet<String> {
    include_str!("../../../docs/metrics.md")
        .lines()
        .filter_map(|line| line.strip_prefix("| `edgeship_"))
        .filter_map(|rest| rest.split('`').next())
        .map(|name| format!("edgeship_{name}"))
        .collect()
}

/// The metric names an exposition declares (`# TYPE` lines), with the `_total` of counters.
fn exposed_metrics(body: &str) -> BTreeSet<String> {
    body.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn docs_metrics_lists_exactly_the_metrics_exposed() {
    let shared = shared();
    shared
        .kafka
        .update(include_str!("tests/statistics.json").as_bytes());
    let body = scrape(&registry(&shared));
    assert_eq!(documented_metrics(), exposed_metrics(&body));
}
