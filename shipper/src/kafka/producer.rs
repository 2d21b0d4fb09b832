//! The producer: a `send` that waits for room instead of dropping when the local queue is full
//! (or drops and counts, as `edgeship.queue.full` says), polling, flushing for up to the
//! message timeout, and librdkafka's fatal state; and the producer as the pipeline's Kafka
//! [`Sink`].
//!
//! Allocation: edgeship's own per-record path allocates nothing, but producing does, below us:
//! librdkafka copies every message into its queue (`RD_KAFKA_MSG_F_COPY`, which rust-rdkafka
//! always uses), and rust-rdkafka 0.39 builds a `CString` of the topic name in every `send`.
//! Avoiding either would mean calling librdkafka directly, and `unsafe` is reserved for
//! `varnishlog`; the `stdout` and `null` outputs have no such cost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use edgeship_conf::{Config, Errors, Partitioning, QueueFullPolicy};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::config::{KafkaConfig, KafkaInput};
use super::context::{KafkaContext, OPAQUE_HEARTBEAT, OPAQUE_RECORD};
use crate::counters::Counters;
use crate::shared::Shared;
use crate::sink::{Key, Sink};

/// The producer and where it sends.
pub struct KafkaProducer {
    producer: BaseProducer<KafkaContext>,
    topic: String,
    partition: Option<i32>,
    policy: QueueFullPolicy,
    shared: Arc<Shared>,
    message_timeout: Duration,
}

/// What happened to one record handed to [`KafkaProducer::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Enqueued; its delivery report will be counted.
    Queued,
    /// Dropped and counted (queue full with the drop policy, or refused by librdkafka).
    Dropped,
}

impl KafkaProducer {
    /// Creates the producer. Configuration problems were caught by
    /// [`check`](super::config::check) already, but are reported the same way if they show up
    /// here; notices about the configuration (acks raised) go to the log.
    pub fn new(config: &Config, shared: &Arc<Shared>) -> Result<KafkaProducer, Errors> {
        let kafka = KafkaConfig::build(KafkaInput::from_config(config))?;
        for notice in kafka.notices() {
            shared.log.notice(notice);
        }
        let context = KafkaContext::new(Arc::clone(shared));
        let producer = kafka
            .client()
            .create_with_context(context)
            .map_err(|error| Errors::new(vec![kafka.refusal(&error)]))?;
        let topic = config
            .kafka
            .topic
            .as_ref()
            .map(|topic| topic.value.clone())
            .ok_or_else(|| {
                let missing = "missing kafka.topic (required when output = kafka)";
                Errors::new(vec![config.error_at(None, missing)])
            })?;
        Ok(KafkaProducer {
            producer,
            topic,
            partition: match config.kafka.partitioning {
                Partitioning::ByKey => None,
                Partitioning::Fixed(partition) => Some(partition),
            },
            policy: config.edgeship.queue_full,
            shared: Arc::clone(shared),
            message_timeout: kafka.message_timeout(),
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
        let counters = &self.shared.counters;
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
                        Counters::add(&counters.queue_full_drops, 1);
                        break Sent::Dropped;
                    }
                    if waited.is_none() {
                        waited = Some(Instant::now());
                        Counters::add(&counters.queue_full_waits, 1);
                    }
                    // Serving delivery reports is what frees room.
                    self.producer.poll(Duration::from_millis(20));
                }
                Err((error, _)) => {
                    // A gap in the sequence: records only (a heartbeat carries no number, and
                    // its refusal is logged by the caller).
                    if opaque == OPAQUE_RECORD {
                        let log = &self.shared.log;
                        log.counted_error("produce", &counters.produce_errors, 1, |total| {
                            format!(
                                "librdkafka refused a record at enqueue ({error}): a gap in \
                                 the sequence ({total} so far)"
                            )
                        });
                    }
                    break Sent::Dropped;
                }
            }
        };
        if let Some(started) = waited {
            Counters::add(
                &counters.queue_full_blocked_micros,
                started.elapsed().as_micros() as u64,
            );
        }
        outcome
    }
}

impl Sink for KafkaProducer {
    #[inline]
    fn take_record<'v, V>(&mut self, record: &mut Vec<u8>, key: Key<'_, 'v, V>) -> bool
    where
        V: Fn(usize) -> Option<&'v [u8]>,
    {
        self.send(record, key.render()) == Sent::Queued
    }

    fn heartbeat<'v, V>(&mut self, beat: &mut Vec<u8>, key: Key<'_, 'v, V>) -> anyhow::Result<bool>
    where
        V: Fn(usize) -> Option<&'v [u8]>,
    {
        if self.send_heartbeat(beat, key.render()) == Sent::Queued {
            return Ok(true);
        }
        self.shared.log.error(
            "heartbeat",
            "librdkafka refused a heartbeat at enqueue; the auditor will miss it",
        );
        Ok(false)
    }

    /// Serves delivery reports and statistics without waiting.
    fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Whether librdkafka reported a fatal error.
    ///
    /// The producer's event API hands a fatal error to the error callback with its underlying
    /// code (e.g. `_GAPLESS_GUARANTEE`, `OutOfOrderSequenceNumber`), not as `_FATAL`, so after
    /// any error event librdkafka's own record of a fatal error is consulted.
    fn is_fatal(&self) -> bool {
        let context = self.producer.context();
        if context.fatal_recorded() {
            return true;
        }
        if context.take_errors_seen() && self.producer.client().fatal_error().is_some() {
            context.record_fatal();
            return true;
        }
        false
    }

    /// Waits up to the configured message timeout for every queued message to be delivered
    /// or failed; returns how many were still in flight when it gave up.
    fn flush(&mut self) -> usize {
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
