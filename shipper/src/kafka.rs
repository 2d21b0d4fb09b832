//! The Kafka output: librdkafka's configuration built (and validated) from the `kafka.*`
//! passthrough, a producer whose delivery reports are counted by outcome, and a `send` that
//! waits for room instead of dropping when the local queue is full.
//!
//! Defaults edgeship adds, each overridable by the file: `client.id = edgeship`,
//! `queue.buffering.max.messages = 1000000` (varnishkafka's), `enable.idempotence = true` (so
//! broker retries never duplicate), and `statistics.interval.ms` from
//! `log.statistics.interval`. Idempotence needs `acks=all`: when the file asks for fewer acks
//! (the seed and production files say `1`) and leaves idempotence at its default, acks are
//! raised to `all` with a notice; asking for both explicitly is refused as a conflict.
//!
//! Allocation: edgeship's own per-record path allocates nothing, but producing does, below us:
//! librdkafka copies every message into its queue (`RD_KAFKA_MSG_F_COPY`, which rust-rdkafka
//! always uses), and rust-rdkafka 0.39 builds a `CString` of the topic name in every `send`.
//! Avoiding either would mean calling librdkafka directly, and `unsafe` is reserved for
//! `varnishlog`; the `stdout` and `null` outputs have no such cost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgeship_conf::{Config, KafkaProperty, LineError, Partitioning, QueueFullPolicy};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DefaultProducerContext, Producer, ProducerContext,
};

use crate::counters::Counters;
use crate::log::Log;
use crate::stats::StatsFile;

/// What a message is, carried through librdkafka as the delivery opaque.
const OPAQUE_RECORD: usize = 0;
const OPAQUE_HEARTBEAT: usize = 1;

/// What librdkafka's configuration is built from: the file's passthrough properties (with
/// their lines) and the statistics interval.
#[derive(Debug, Clone, Copy)]
pub struct KafkaInput<'a> {
    /// The configuration file's label, for messages.
    pub source: &'a str,
    /// `kafka.*` global properties.
    pub global: &'a [KafkaProperty],
    /// `kafka.topic.*` properties.
    pub topic: &'a [KafkaProperty],
    /// `log.statistics.interval`, which sets librdkafka's `statistics.interval.ms`.
    pub statistics_interval: Option<Duration>,
}

impl<'a> KafkaInput<'a> {
    /// The input of a resolved configuration.
    pub fn from_config(config: &'a Config) -> KafkaInput<'a> {
        KafkaInput {
            source: &config.source,
            global: &config.kafka.global,
            topic: &config.kafka.topic_properties,
            statistics_interval: config.statistics.interval,
        }
    }

    fn error_at(&self, line: Option<usize>, message: impl std::fmt::Display) -> LineError {
        LineError::new(self.source, line, message.to_string())
    }
}

/// Builds librdkafka's configuration from the file's properties, with edgeship's defaults.
/// Problems are reported against the file's lines.
pub fn client_config(
    config: &KafkaInput<'_>,
    log: Option<&Log>,
) -> Result<ClientConfig, Vec<LineError>> {
    let mut client = ClientConfig::new();
    client.set("client.id", "edgeship");
    client.set("queue.buffering.max.messages", "1000000");
    client.set("enable.idempotence", "true");
    if let Some(interval) = config.statistics_interval {
        client.set("statistics.interval.ms", interval.as_millis().to_string());
    }
    client.set_log_level(RDKafkaLogLevel::Warning);
    let all = config.global.iter().chain(config.topic);
    for property in all.clone() {
        client.set(&property.name, &property.value);
    }

    // Idempotence and acks: see the module documentation.
    let find = |names: &[&str]| all.clone().rfind(|p| names.contains(&p.name.as_str()));
    let idempotence = find(&["enable.idempotence"]);
    let acks = find(&["request.required.acks", "acks"]);
    let idempotent = idempotence.is_none_or(|p| is_true(&p.value));
    // Only a number of acks below all is raised; a value that is not a number is left for
    // librdkafka to refuse, rather than silently replaced.
    let too_few = |value: &str| value.trim().parse::<i64>().is_ok_and(|acks| acks != -1);
    if let Some(acks) = acks.filter(|p| idempotent && too_few(&p.value)) {
        match idempotence {
            Some(explicit) => {
                return Err(vec![config.error_at(
                    Some(acks.line),
                    format!(
                        "{} = {} conflicts with {} = {} (line {}): the idempotent producer needs \
                         acks=all; raise acks or turn idempotence off",
                        acks.written, acks.value, explicit.written, explicit.value, explicit.line
                    ),
                )]);
            }
            None => {
                if let Some(log) = log {
                    log.notice(&format!(
                        "{}:{}: {} = {} raised to all: edgeship's idempotent producer (on by \
                         default) needs it; set kafka.enable.idempotence = false to keep acks={}",
                        config.source, acks.line, acks.written, acks.value, acks.value
                    ));
                }
                client.set(&acks.name, "all");
            }
        }
    }
    Ok(client)
}

fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

/// Validates the librdkafka configuration by building a producer from it, so a typo in a
/// `kafka.*` key fails at start-up (and in `--check-config`), not at the first produce.
/// librdkafka stops at the first property it refuses; that one is taken out and the rest
/// tried again, so every bad line is reported at once.
pub fn check(config: &KafkaInput<'_>) -> Result<(), Vec<LineError>> {
    let mut client = client_config(config, None)?;
    let mut errors = Vec::new();
    loop {
        let error = match client.create::<BaseProducer<DefaultProducerContext>>() {
            Ok(_producer) => break,
            Err(error) => error,
        };
        errors.push(config_error(config, &error));
        match &error {
            // Each round removes one property, so this ends.
            KafkaError::ClientConfig(_, _, key, _) if client.get(key).is_some() => {
                client.remove(key);
            }
            _ => break,
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Maps librdkafka's refusal to the line that set the property it names.
fn config_error(config: &KafkaInput<'_>, error: &KafkaError) -> LineError {
    if let KafkaError::ClientConfig(_, description, key, value) = error {
        let property = config
            .global
            .iter()
            .chain(config.topic)
            .rfind(|p| &p.name == key);
        return match property {
            Some(property) => config.error_at(
                Some(property.line),
                format!(
                    "{} = {}: librdkafka refused it: {description}",
                    property.written, value
                ),
            ),
            None => config.error_at(
                None,
                format!("librdkafka refused {key} = {value}: {description}"),
            ),
        };
    }
    config.error_at(
        None,
        format!("librdkafka refused the configuration: {error}"),
    )
}

/// Delivery failures, classified without `rd_kafka_message_status` (which rust-rdkafka does not
/// expose, and `unsafe` is reserved for `varnishlog`): a failure after the message may have
/// reached the broker (a timeout in flight, a purge of in-flight messages, a broken
/// connection, too few replicas after the write) is "maybe persisted"; every other failure
/// means the broker never wrote it. `_MSG_TIMED_OUT` is counted as "maybe" even when the
/// message timed out still queued: the count errs towards telling the auditor to look.
pub fn maybe_persisted(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::PurgeInflight
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::NotEnoughReplicasAfterAppend
    )
}

/// librdkafka's callbacks: delivery reports into counters, statistics into the file, its own
/// log lines and errors into ours.
pub struct KafkaContext {
    counters: Arc<Counters>,
    log: Arc<Log>,
    stats: Arc<StatsFile>,
    /// Set when librdkafka reports a fatal error: the producer cannot continue.
    fatal: Arc<AtomicBool>,
    /// Set on every error event, so the sink asks librdkafka whether it was fatal.
    errors_seen: Arc<AtomicBool>,
}

impl ClientContext for KafkaContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let text = format!("librdkafka {facility}: {message}");
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => self.log.error("librdkafka", &text),
            RDKafkaLogLevel::Warning => self.log.warning("librdkafka", &text),
            _ => self.log.info(&text),
        }
    }

    fn stats_raw(&self, statistics: &[u8]) {
        self.stats.write_kafka(statistics);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.errors_seen.store(true, Ordering::Relaxed);
        if matches!(error.rdkafka_error_code(), Some(RDKafkaErrorCode::Fatal)) {
            self.fatal.store(true, Ordering::Relaxed);
            self.log
                .error("kafka-fatal", &format!("fatal producer error: {reason}"));
        } else {
            self.log.error("kafka", &format!("{error}: {reason}"));
        }
    }
}

impl ProducerContext for KafkaContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let heartbeat = opaque == OPAQUE_HEARTBEAT;
        match result {
            Ok(_) => {
                if !heartbeat {
                    Counters::add(&self.counters.records_delivered, 1);
                }
            }
            Err((error, _message)) => {
                let maybe = error.rdkafka_error_code().is_some_and(maybe_persisted);
                if !heartbeat {
                    let counter = if maybe {
                        &self.counters.delivery_failed_maybe_persisted
                    } else {
                        &self.counters.delivery_failed
                    };
                    Counters::add(counter, 1);
                }
                if self.log.kafka_msg_error() {
                    let what = if heartbeat { "heartbeat" } else { "record" };
                    let persisted = if maybe { "may have been" } else { "was not" };
                    self.log.error(
                        "kafka-delivery",
                        &format!("{what} delivery failed ({error}); it {persisted} persisted"),
                    );
                }
            }
        }
    }
}

/// The producer and where it sends.
pub struct KafkaSink {
    producer: BaseProducer<KafkaContext>,
    topic: String,
    partition: Option<i32>,
    policy: QueueFullPolicy,
    counters: Arc<Counters>,
    fatal: Arc<AtomicBool>,
    errors_seen: Arc<AtomicBool>,
    message_timeout: Duration,
}

/// What happened to one record handed to [`KafkaSink::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Enqueued; its delivery report will be counted.
    Queued,
    /// Dropped and counted (queue full with the drop policy, or refused by librdkafka).
    Dropped,
}

impl KafkaSink {
    /// Creates the producer. Configuration problems were caught by [`check`] already, but are
    /// reported the same way if they show up here.
    pub fn new(
        config: &Config,
        counters: Arc<Counters>,
        log: Arc<Log>,
        stats: Arc<StatsFile>,
    ) -> Result<KafkaSink, Vec<LineError>> {
        let input = KafkaInput::from_config(config);
        let client = client_config(&input, Some(&log))?;
        let fatal = Arc::new(AtomicBool::new(false));
        let errors_seen = Arc::new(AtomicBool::new(false));
        let context = KafkaContext {
            counters: Arc::clone(&counters),
            log,
            stats,
            fatal: Arc::clone(&fatal),
            errors_seen: Arc::clone(&errors_seen),
        };
        let producer = client
            .create_with_context(context)
            .map_err(|error| vec![config_error(&input, &error)])?;
        let message_timeout = config
            .kafka
            .topic_properties
            .iter()
            .chain(&config.kafka.global)
            .rfind(|p| p.name == "message.timeout.ms" || p.name == "delivery.timeout.ms")
            .and_then(|p| p.value.trim().parse::<u64>().ok())
            .map_or(Duration::from_secs(300), Duration::from_millis);
        let topic = config
            .kafka
            .topic
            .as_ref()
            .map(|topic| topic.value.clone())
            .ok_or_else(|| {
                vec![config.error_at(None, "missing kafka.topic (required when output = kafka)")]
            })?;
        Ok(KafkaSink {
            producer,
            topic,
            partition: match config.kafka.partitioning {
                Partitioning::ByKey => None,
                Partitioning::Fixed(partition) => Some(partition),
            },
            policy: config.edgeship.queue_full,
            counters,
            fatal,
            errors_seen,
            message_timeout,
        })
    }

    /// Enqueues a record. With the block policy a full queue is waited out (serving delivery
    /// reports meanwhile) and the wait is counted; with the drop policy the record is dropped
    /// and counted.
    pub fn send(&self, payload: &[u8], key: &[u8]) -> Sent {
        self.send_with(payload, key, OPAQUE_RECORD)
    }

    /// Enqueues a heartbeat, keyed like the records. Heartbeats always wait for room.
    pub fn send_heartbeat(&self, payload: &[u8], key: &[u8]) -> Sent {
        self.send_with(payload, key, OPAQUE_HEARTBEAT)
    }

    fn send_with(&self, payload: &[u8], key: &[u8], opaque: usize) -> Sent {
        let mut waited: Option<Instant> = None;
        let outcome = loop {
            let mut record = BaseRecord::with_opaque_to(&self.topic, opaque)
                .payload(payload)
                .key(key);
            if let Some(partition) = self.partition {
                record = record.partition(partition);
            }
            match self.producer.send(record) {
                Ok(()) => break Sent::Queued,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    if self.policy == QueueFullPolicy::Drop && opaque == OPAQUE_RECORD {
                        Counters::add(&self.counters.queue_full_drops, 1);
                        break Sent::Dropped;
                    }
                    if waited.is_none() {
                        waited = Some(Instant::now());
                        Counters::add(&self.counters.queue_full_waits, 1);
                    }
                    // Serving delivery reports is what frees room.
                    self.producer.poll(Duration::from_millis(20));
                }
                Err((_error, _)) => {
                    // A gap in the sequence: records only (a heartbeat carries no number).
                    if opaque == OPAQUE_RECORD {
                        Counters::add(&self.counters.produce_errors, 1);
                    }
                    break Sent::Dropped;
                }
            }
        };
        if let Some(started) = waited {
            Counters::add(
                &self.counters.queue_full_blocked_micros,
                started.elapsed().as_micros() as u64,
            );
        }
        outcome
    }

    /// Serves delivery reports and statistics without waiting.
    pub fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Whether librdkafka reported a fatal error.
    ///
    /// The producer's event API hands a fatal error to the error callback with its underlying
    /// code (e.g. `_GAPLESS_GUARANTEE`, `OutOfOrderSequenceNumber`), not as `_FATAL`, so after
    /// any error event librdkafka's own record of a fatal error is consulted.
    pub fn is_fatal(&self) -> bool {
        if self.fatal.load(Ordering::Relaxed) {
            return true;
        }
        if self.errors_seen.swap(false, Ordering::Relaxed)
            && self.producer.client().fatal_error().is_some()
        {
            self.fatal.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Waits up to the configured message timeout for every queued message to be delivered
    /// or failed; returns how many were still in flight when it gave up.
    pub fn flush(&self) -> usize {
        let deadline = Instant::now() + self.message_timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = self.producer.flush(left.min(Duration::from_millis(500)));
            let in_flight = self.producer.in_flight_count().max(0) as usize;
            if in_flight == 0 || left.is_zero() {
                return in_flight;
            }
        }
    }
}
