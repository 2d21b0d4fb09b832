//! What `GET /metrics` says, in Prometheus's text format through `prometheus-client`: every
//! counter of `counters.rs` (by the table [`COUNTERS`]), the run and build as info metrics,
//! the next sequence number, the last delivery's time, librdkafka's queue and brokers (from
//! its last statistics), and the latency histograms. Everything is read at scrape time from
//! the shared handles the pipeline already keeps: serving metrics adds no work per record.
//!
//! Names follow Prometheus's rules: the `edgeship_` prefix, base units (seconds, bytes),
//! `_total` for counters (added by the encoder), labels of a handful of fixed values.
//! docs/metrics.md lists every metric; a test holds that table to what is exposed.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::latency::Buckets;
use crate::shared::Shared;

/// Upper bounds of the latency histograms' buckets, in seconds: a millisecond to five
/// minutes, about three per decade.
pub const LATENCY_BOUNDS: [f64; 17] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

/// What a run is, for `edgeship_run_info`.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The host name records carry.
    pub hostname: String,
    /// The run identifier.
    pub run: String,
    /// The run's first sequence number.
    pub sequence_start: u64,
}

/// How a counter's value is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// As it is: a count.
    Count,
    /// Microseconds, exported in seconds.
    MicrosAsSeconds,
    /// A figure that goes up and down (the spool's contents), exported as a gauge.
    Gauge,
}

/// One counter of `counters.rs` and the metric it is exported as.
#[derive(Debug, Clone, Copy)]
pub struct CounterRow {
    /// The field of `Counters` (and the statistics file's name for it).
    pub counter: &'static str,
    /// The metric's name without the `edgeship_` prefix and the `_total` suffix.
    pub metric: &'static str,
    /// The one label that tells apart the counters sharing a metric, if any.
    pub label: Option<(&'static str, &'static str)>,
    /// How the value is exported.
    pub scale: Scale,
    /// The metric's help line (the first row of a metric gives it).
    pub help: &'static str,
}

const fn row(counter: &'static str, metric: &'static str, help: &'static str) -> CounterRow {
    CounterRow {
        counter,
        metric,
        label: None,
        scale: Scale::Count,
        help,
    }
}

const fn gauge_row(counter: &'static str, metric: &'static str, help: &'static str) -> CounterRow {
    CounterRow {
        counter,
        metric,
        label: None,
        scale: Scale::Gauge,
        help,
    }
}

const fn labelled(
    counter: &'static str,
    metric: &'static str,
    label: (&'static str, &'static str),
    help: &'static str,
) -> CounterRow {
    CounterRow {
        counter,
        metric,
        label: Some(label),
        scale: Scale::Count,
        help,
    }
}

/// Every counter of `counters.rs`, as a metric; rows of one metric are adjacent.
pub const COUNTERS: &[CounterRow] = &[
    row("transactions_read", "transactions_read", "Client request transactions the reader handed over (ESI sub-requests excluded)."),
    row("esi_skipped", "esi_subrequests_skipped", "ESI sub-requests skipped, as varnishkafka skips them."),
    row("transactions_unselected", "transactions_unselected", "Client requests the VSL query left out (not a loss)."),
    row("records_rendered", "records_rendered", "Records rendered, each with a sequence number."),
    row("records_produced", "records_produced", "Records handed to the output (enqueued in librdkafka, or written)."),
    row("records_delivered", "records_delivered", "Records the broker acknowledged (heartbeats not counted)."),
    labelled("produce_errors", "records_failed", ("kind", "produce"), "Records that failed, by kind: refused at enqueue (produce), failed delivery (delivery), failed delivery after which the record may have persisted (delivery_maybe_persisted)."),
    labelled("delivery_failed", "records_failed", ("kind", "delivery"), ""),
    labelled("delivery_failed_maybe_persisted", "records_failed", ("kind", "delivery_maybe_persisted"), ""),
    labelled("queue_full_drops", "records_dropped", ("reason", "queue_full"), "Records dropped, by reason: the local queue was full (edgeship.queue.full = drop), or still undelivered at the stop deadline."),
    labelled("undelivered_at_exit", "records_dropped", ("reason", "undelivered_at_exit"), ""),
    labelled("spool_dropped", "records_dropped", ("reason", "spool_full"), ""),
    row("queue_full_waits", "queue_full_waits", "Records for which the local queue was full at least once (back-pressure)."),
    CounterRow {
        counter: "queue_full_blocked_micros",
        metric: "queue_full_blocked_seconds",
        label: None,
        scale: Scale::MicrosAsSeconds,
        help: "Seconds spent waiting for room in the local queue.",
    },
    row("truncated_tags", "tags_truncated", "Tag payloads cut at tag.size.max."),
    row("invalid_numbers", "invalid_numbers", "!num values that were not numbers."),
    row("transactions_incomplete", "transactions_incomplete", "Transactions Varnish or the reader forced complete."),
    row("log_overruns", "log_overruns", "Times the reader fell behind and the log wrapped under it."),
    row("log_abandons", "log_abandons", "Times varnishd went away or restarted under the reader."),
    row("log_reattaches", "log_reattaches", "Times the reader attached again after an overrun or abandon."),
    row("transactions_lost", "transactions_lost", "Client requests lost before they were numbered."),
    row("records_skipped", "log_records_skipped", "Log records skipped because their transaction's Begin was never read."),
    row("heartbeats_produced", "heartbeats_produced", "Heartbeats handed to the output."),
    row("heartbeats_dropped", "heartbeats_dropped", "Heartbeats that could not be queued."),
    row("statistics_write_errors", "statistics_write_errors", "Statistics lines that could not be written."),
    row("producer_restarts", "producer_restarts", "Times the Kafka producer was replaced because it could no longer deliver."),
    row("records_resent", "records_resent", "Records a replaced producer failed and its successor queued again."),
    row("reader_errors", "reader_errors", "Times the reader thread ended with an error it could not recover from."),
    row("panics", "panics", "Panics caught in the shipping loop."),
    row("transactions_before_resume", "transactions_before_resume", "Client requests read again before the resume point, not shipped again (not a loss)."),
    row("resume_failed", "resume_failed", "Starts with a checkpoint that could not be resumed (a new run started)."),
    gauge_row("spool_records", "spool_records", "Records in the disk spool now, replayed or not: pending, not lost."),
    gauge_row("spool_bytes", "spool_bytes", "Bytes of the disk spool's segment files now."),
    gauge_row("spool_max_bytes", "spool_max_bytes", "The disk spool's limit, edgeship.spool.max.bytes (0 without a spool)."),
    gauge_row("spool_oldest_age_seconds", "spool_oldest_age_seconds", "Seconds since the oldest record in the disk spool was spooled (0 when empty)."),
    row("spool_spilled", "spool_records_spilled", "Records written to the disk spool."),
    row("spool_replayed", "spool_records_replayed", "Records handed from the disk spool to librdkafka (again after each failed attempt)."),
    row("spool_returned", "spool_deliveries_returned", "Failed deliveries whose record went back to the disk spool instead of being lost."),
    row("spool_full_waits", "spool_full_waits", "Times a record waited for room in a full disk spool (when_full = block)."),
    row("spool_lost", "spool_records_lost", "Records the disk spool found damaged and set aside: lost."),
    row("spool_unreadable_bytes", "spool_unreadable_bytes", "Bytes of the disk spool an open could not read as blocks: records lost that cannot be named."),
];

/// The collector `prometheus-client` calls at every scrape.
pub struct Exposition {
    shared: Arc<Shared>,
    run: RunInfo,
}

impl fmt::Debug for Exposition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Exposition")
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl Exposition {
    /// The metrics of the run `run`, read from `shared`.
    pub fn new(shared: Arc<Shared>, run: RunInfo) -> Exposition {
        Exposition { shared, run }
    }

    fn counters(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let snapshot = self.shared.counters.snapshot();
        let values: HashMap<&str, u64> = snapshot.fields().into_iter().collect();
        let mut rows = COUNTERS.iter().peekable();
        while let Some(first) = rows.next() {
            let kind = if first.scale == Scale::Gauge {
                MetricType::Gauge
            } else {
                MetricType::Counter
            };
            let mut metric = encoder.encode_descriptor(first.metric, first.help, None, kind)?;
            let write = |row: &CounterRow, metric: &mut MetricEncoder<'_>| {
                let value = values.get(row.counter).copied().unwrap_or(0);
                match (row.label, row.scale) {
                    (Some(label), _) => metric
                        .encode_family(&[label])?
                        .encode_counter::<NoLabelSet, _, u64>(&value, None),
                    (None, Scale::Count) => {
                        metric.encode_counter::<NoLabelSet, _, u64>(&value, None)
                    }
                    (None, Scale::MicrosAsSeconds) => {
                        metric.encode_counter::<NoLabelSet, _, u64>(&(value as f64 / 1e6), None)
                    }
                    (None, Scale::Gauge) => metric.encode_gauge(&value),
                }
            };
            write(first, &mut metric)?;
            while let Some(next) = rows.next_if(|next| next.metric == first.metric) {
                write(next, &mut metric)?;
            }
        }
        Ok(())
    }

    fn run_and_progress(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let start = self.run.sequence_start.to_string();
        let run = [
            ("hostname", self.run.hostname.as_str()),
            ("run", self.run.run.as_str()),
            ("sequence_start", start.as_str()),
        ];
        encoder
            .encode_descriptor(
                "run",
                "This run of edgeship: host name, run identifier, first sequence number.",
                None,
                MetricType::Info,
            )?
            .encode_info(&run)?;
        let build = [("version", env!("CARGO_PKG_VERSION"))];
        encoder
            .encode_descriptor("build", "The edgeship build.", None, MetricType::Info)?
            .encode_info(&build)?;
        let progress = &self.shared.progress;
        gauge(
            encoder,
            "sequence_next",
            "The next sequence number this run will assign.",
            progress.next_sequence(),
        )?;
        let last = progress
            .last_delivery_micros()
            .map_or(0.0, |micros| micros as f64 / 1e6);
        gauge(
            encoder,
            "last_delivery_timestamp_seconds",
            "When the broker last acknowledged a record (Unix time; 0 before the first).",
            last,
        )
    }

    fn kafka(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        // Before librdkafka's first statistics (or with them off) there is nothing to say.
        let Some(figures) = self.shared.kafka.last() else {
            return Ok(());
        };
        gauge(
            encoder,
            "kafka_queue_messages",
            "Messages in librdkafka's queues, as of its last statistics.",
            figures.queue_messages,
        )?;
        gauge(
            encoder,
            "kafka_queue_bytes",
            "Bytes of the messages in librdkafka's queues, as of its last statistics.",
            figures.queue_bytes,
        )?;
        let mut up = encoder.encode_descriptor("kafka_broker_up", "Whether a broker's connection is up (librdkafka's state UP), as of its last statistics.", None, MetricType::Gauge)?;
        for broker in &figures.brokers {
            let value = i64::from(broker.state == "UP");
            up.encode_family(&[("broker", broker.name.as_str())])?
                .encode_gauge(&value)?;
        }
        let mut state = encoder.encode_descriptor("kafka_broker_state", "A broker's connection state as librdkafka names it (value 1), as of its last statistics.", None, MetricType::Info)?;
        for broker in &figures.brokers {
            state.encode_info(&[
                ("broker", broker.name.as_str()),
                ("state", broker.state.as_str()),
            ])?;
        }
        let mut rtt = encoder.encode_descriptor(
            "kafka_broker_rtt_seconds",
            "A broker's average request round-trip time over librdkafka's last statistics window.",
            None,
            MetricType::Gauge,
        )?;
        for broker in &figures.brokers {
            if let Some(micros) = broker.rtt_micros {
                rtt.encode_family(&[("broker", broker.name.as_str())])?
                    .encode_gauge(&(micros as f64 / 1e6))?;
            }
        }
        Ok(())
    }

    fn latency(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let latency = &self.shared.latency;
        histogram(encoder, "produce_wait_seconds", "Time records waited in edgeship from the reader taking their batch's first transaction from the log to their produce.", &latency.wait_buckets(&LATENCY_BOUNDS))?;
        histogram(encoder, "delivery_latency_seconds", "Time from the reader taking a record's batch's first transaction from the log to the broker's acknowledgement.", &latency.delivery_buckets(&LATENCY_BOUNDS))
    }
}

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        self.counters(&mut encoder)?;
        self.run_and_progress(&mut encoder)?;
        self.kafka(&mut encoder)?;
        self.latency(&mut encoder)
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: impl EncodeGaugeValue,
) -> fmt::Result {
    encoder
        .encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

fn histogram(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    buckets: &Buckets,
) -> fmt::Result {
    encoder
        .encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(buckets.sum_seconds, buckets.count, &buckets.buckets, None)
}
