//! librdkafka's callbacks: delivery reports counted by outcome, statistics into the statistics
//! file, librdkafka's own log lines and errors into ours, the record of a fatal error the
//! producer consults, and the messages failed because their producer was finished (fenced,
//! fatal) kept for a new one instead of counted.
//!
//! Nothing here is on edgeship's own per-record path: delivery reports are served by the
//! producer's `poll` and `flush`, one relaxed counter addition each.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;

use super::resend::{producer_finished, OnFatal, Recovery};
use crate::counters::Counters;
use crate::latency::{self, unix_micros};
use crate::shared::Shared;

/// What a message is, carried through librdkafka as the delivery opaque: its low two bits
/// ([`opaque_kind`]). A record's other bits carry when the reader handed it over
/// ([`record_opaque`]), so its delivery report can time it without a lookup per record.
pub(super) const OPAQUE_RECORD: usize = 0;
/// A heartbeat: its delivery is not a record's, so it is not counted as one.
pub(super) const OPAQUE_HEARTBEAT: usize = 1;
/// The final heartbeat of a clean stop: a heartbeat whose delivery shutdown asks about.
pub(super) const OPAQUE_FINAL_HEARTBEAT: usize = 2;
/// The bits of an opaque that say what the message is.
const KIND_BITS: usize = 0b11;

/// What the message with `opaque` is: one of the `OPAQUE_*` values.
pub(super) fn opaque_kind(opaque: usize) -> usize {
    opaque & KIND_BITS
}

/// A record's opaque: [`OPAQUE_RECORD`] with its hand-over time (microseconds since the Unix
/// epoch, which fit in 62 bits for the next hundred thousand years).
pub(super) fn record_opaque(handed_micros: u64) -> usize {
    ((handed_micros as usize) << 2) | OPAQUE_RECORD
}

/// The hand-over time a record's opaque carries.
fn handed_micros(opaque: usize) -> u64 {
    (opaque >> 2) as u64
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
    shared: Arc<Shared>,
    /// Set when librdkafka reports a fatal error: the producer cannot continue.
    fatal: AtomicBool,
    /// Set on every error event, so the producer asks librdkafka whether it was fatal.
    errors_seen: AtomicBool,
    /// Set when a delivery failed because this producer instance is finished (fenced, its
    /// idempotence state lost, a fatal error): the producer replaces it.
    finished: AtomicBool,
    /// Set when this instance is being replaced: what its purge fails is re-sent too.
    retiring: AtomicBool,
    /// The re-send queue and final heartbeat flag every instance of the run shares.
    recovery: Arc<Recovery>,
    /// Whether messages failed by a fatal error are kept for a new producer.
    on_fatal: OnFatal,
}

impl KafkaContext {
    /// Callbacks that report into `shared` and keep messages for a new producer in
    /// `recovery`.
    pub(super) fn new(
        shared: Arc<Shared>,
        recovery: Arc<Recovery>,
        on_fatal: OnFatal,
    ) -> KafkaContext {
        KafkaContext {
            shared,
            fatal: AtomicBool::new(false),
            errors_seen: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            retiring: AtomicBool::new(false),
            recovery,
            on_fatal,
        }
    }

    /// Whether a delivery report said this producer instance can no longer deliver.
    pub(super) fn finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }

    /// Marks this instance as being replaced: the messages its purge fails are kept for the
    /// new one.
    pub(super) fn retire(&self) {
        self.retiring.store(true, Ordering::Relaxed);
    }

    /// Whether a failure with `code` is kept for a new producer rather than counted.
    fn resendable(&self, code: Option<RDKafkaErrorCode>) -> bool {
        match code {
            Some(RDKafkaErrorCode::PurgeQueue) => self.retiring.load(Ordering::Relaxed),
            Some(code) => producer_finished(code) || self.on_fatal.keeps(code),
            None => false,
        }
    }

    /// Whether a fatal error has been recorded.
    pub(super) fn fatal_recorded(&self) -> bool {
        self.fatal.load(Ordering::Relaxed)
    }

    /// Records a fatal error librdkafka reported other than through the error callback.
    pub(super) fn record_fatal(&self) {
        self.fatal.store(true, Ordering::Relaxed);
    }

    /// Whether the broker acknowledged the final heartbeat.
    pub(super) fn final_heartbeat_delivered(&self) -> bool {
        self.recovery.final_delivered()
    }

    /// Whether an error event arrived since the last call.
    pub(super) fn take_errors_seen(&self) -> bool {
        self.errors_seen.swap(false, Ordering::Relaxed)
    }
}

impl ClientContext for KafkaContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let log = &self.shared.log;
        let text = format!("librdkafka {facility}: {message}");
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => log.error("librdkafka", &text),
            RDKafkaLogLevel::Warning => log.warning("librdkafka", &text),
            _ => log.info(&text),
        }
    }

    fn stats_raw(&self, statistics: &[u8]) {
        self.shared.write_kafka_statistics(statistics);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.errors_seen.store(true, Ordering::Relaxed);
        if matches!(error.rdkafka_error_code(), Some(RDKafkaErrorCode::Fatal)) {
            self.fatal.store(true, Ordering::Relaxed);
            self.shared
                .log
                .error("kafka-fatal", &format!("fatal producer error: {reason}"));
        } else {
            self.shared
                .log
                .error("kafka", &format!("{error}: {reason}"));
        }
    }
}

impl ProducerContext for KafkaContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let kind = opaque_kind(opaque);
        let heartbeat = kind != OPAQUE_RECORD;
        let counters = &self.shared.counters;
        match result {
            Ok(_) => {
                if kind == OPAQUE_FINAL_HEARTBEAT {
                    self.recovery.final_heartbeat_delivered();
                }
                if !heartbeat {
                    Counters::add(&counters.records_delivered, 1);
                    // One clock read and a thread-local histogram: no lock per record (see
                    // `latency`); merged after the poll that served this report.
                    let now = unix_micros(SystemTime::now());
                    latency::record_delivery_here(now.saturating_sub(handed_micros(opaque)));
                    self.shared.progress.delivered_at(now);
                }
            }
            Err((error, message)) => {
                let code = error.rdkafka_error_code();
                if self.resendable(code) {
                    if code.is_some_and(producer_finished) {
                        self.finished.store(true, Ordering::Relaxed);
                    }
                    if self.recovery.keep(message, opaque) {
                        return;
                    }
                }
                let maybe = code.is_some_and(maybe_persisted);
                if !heartbeat {
                    let counter = if maybe {
                        &counters.delivery_failed_maybe_persisted
                    } else {
                        &counters.delivery_failed
                    };
                    Counters::add(counter, 1);
                }
                let log = &self.shared.log;
                if log.kafka_msg_error() {
                    let what = if heartbeat { "heartbeat" } else { "record" };
                    let persisted = if maybe { "may have been" } else { "was not" };
                    log.error(
                        "kafka-delivery",
                        &format!("{what} delivery failed ({error}); it {persisted} persisted"),
                    );
                }
            }
        }
    }
}
