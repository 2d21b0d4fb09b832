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
use super::returns::{retriable, Outcome, Returns, OPAQUE_SPOOLED};
use crate::counters::Counters;
use crate::done::{WINDOW, WINDOW_BITS};
use crate::latency::{self, unix_micros};
use crate::shared::Shared;

/// What a message is, carried through librdkafka as the delivery opaque: its low two bits
/// ([`opaque_kind`]). A record's other bits carry its sequence number modulo the done marks'
/// window and when it started (see [`record_opaque`]), so its delivery report can mark it
/// done and time it without a lookup per record.
pub(super) const OPAQUE_RECORD: usize = 0;
/// A heartbeat: its delivery is not a record's, so it is not counted as one.
pub(super) const OPAQUE_HEARTBEAT: usize = 1;
/// The final heartbeat of a clean stop: a heartbeat whose delivery shutdown asks about.
pub(super) const OPAQUE_FINAL_HEARTBEAT: usize = 2;
/// The bits of an opaque that say what the message is.
const KIND_BITS: usize = 0b11;
/// Where a record's sequence number (its low [`WINDOW_BITS`] bits) sits in its opaque.
const SEQUENCE_SHIFT: u32 = 2;
/// Where a record's start time (its low [`STAMP_BITS`] bits, in microseconds) sits.
const STAMP_SHIFT: u32 = SEQUENCE_SHIFT + WINDOW_BITS;
/// The start time's bits: 40, about 12.7 days of microseconds, so a latency is exact below
/// that (a longer one wraps, and counts as shorter than it was).
const STAMP_BITS: u32 = u64::BITS - STAMP_SHIFT;
const STAMP_MASK: u64 = (1 << STAMP_BITS) - 1;
// The opaque is a pointer-sized integer: the layout above needs 64 bits.
const _: () = assert!(usize::BITS == 64);

/// What the message with `opaque` is: one of the `OPAQUE_*` values.
pub(super) fn opaque_kind(opaque: usize) -> usize {
    opaque & KIND_BITS
}

/// A record's opaque: [`OPAQUE_RECORD`], its sequence number modulo the done marks' window,
/// and the time it started at (microseconds since the Unix epoch, modulo 2^40).
#[inline]
pub(super) fn record_opaque(sequence: u64, started_micros: u64) -> usize {
    let slot = sequence & (WINDOW - 1);
    let stamp = started_micros & STAMP_MASK;
    ((stamp << STAMP_SHIFT) | (slot << SEQUENCE_SHIFT)) as usize | OPAQUE_RECORD
}

/// The sequence number (modulo the done marks' window) a record's opaque carries.
fn record_slot(opaque: usize) -> u64 {
    (opaque as u64 >> SEQUENCE_SHIFT) & (WINDOW - 1)
}

/// Microseconds from the start time a record's opaque carries to `now_micros`.
fn micros_since_start(opaque: usize, now_micros: u64) -> u64 {
    let stamp = (opaque as u64 >> STAMP_SHIFT) & STAMP_MASK;
    (now_micros & STAMP_MASK).wrapping_sub(stamp) & STAMP_MASK
}

/// Marks the record whose opaque is `opaque` done (nothing for a heartbeat or a record
/// replayed from the spool, which was done when the spool fsynced it).
#[inline]
pub(super) fn mark_done(shared: &Shared, opaque: usize) {
    if opaque_kind(opaque) == OPAQUE_RECORD {
        shared.mark_done(record_slot(opaque));
    }
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
    /// With the spool on: where records whose delivery failed go back to it, and where
    /// spooled records' outcomes go.
    returns: Option<Arc<Returns>>,
}

impl KafkaContext {
    /// Callbacks that report into `shared` and keep messages for a new producer in
    /// `recovery`.
    pub(super) fn new(
        shared: Arc<Shared>,
        recovery: Arc<Recovery>,
        on_fatal: OnFatal,
        returns: Option<Arc<Returns>>,
    ) -> KafkaContext {
        KafkaContext {
            shared,
            fatal: AtomicBool::new(false),
            errors_seen: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            retiring: AtomicBool::new(false),
            recovery,
            on_fatal,
            returns,
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

impl KafkaContext {
    /// With the spool on, sends a record whose delivery failed back to it (a spooled one by
    /// its outcome, a direct one as a copy), counted as `spool_returned`, when another attempt
    /// can succeed; returns whether it went back. A spooled record that failed for good is
    /// forgotten by the spool and counted as failed by the caller.
    fn returned_to_spool(
        &self,
        code: Option<RDKafkaErrorCode>,
        message: &rdkafka::message::BorrowedMessage<'_>,
        spooled: bool,
        opaque: usize,
    ) -> bool {
        let Some(returns) = &self.returns else {
            return false;
        };
        let back = retriable(code);
        if spooled {
            let outcome = if back {
                Outcome::Retry
            } else {
                Outcome::Failed
            };
            returns.outcome(opaque, outcome);
        } else if !back || !returns.keep(message) {
            return false;
        }
        if back {
            Counters::add(&self.shared.counters.spool_returned, 1);
            let purged = matches!(
                code,
                Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight)
            );
            if !purged {
                returns.note_came_back();
            }
        }
        back
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
        let spooled = kind == OPAQUE_SPOOLED;
        let heartbeat = kind != OPAQUE_RECORD && !spooled;
        let counters = &self.shared.counters;
        match result {
            Ok(_) => {
                if kind == OPAQUE_FINAL_HEARTBEAT {
                    self.recovery.final_heartbeat_delivered();
                }
                if !heartbeat {
                    Counters::add(&counters.records_delivered, 1);
                    // One clock read and a thread-local histogram: no lock per record (see
                    // `latency`); merged after the poll that served this report. A record
                    // replayed from the spool carries its spool id instead of a start time,
                    // so it is not timed.
                    let now = unix_micros(SystemTime::now());
                    if !spooled {
                        mark_done(&self.shared, opaque);
                        latency::record_delivery_here(micros_since_start(opaque, now));
                    }
                    self.shared.progress.delivered_at(now);
                }
                if let (true, Some(returns)) = (spooled, &self.returns) {
                    returns.outcome(opaque, Outcome::Delivered);
                }
            }
            Err((error, message)) => {
                let code = error.rdkafka_error_code();
                if self.resendable(code) {
                    if code.is_some_and(producer_finished) {
                        self.finished.store(true, Ordering::Relaxed);
                    }
                    // With the spool on, a record goes back to the spool instead (below), so
                    // that it is replayed in sequence order, not re-sent ahead of it.
                    let spooling = self.returns.is_some() && !heartbeat;
                    if !spooling && self.recovery.keep(message, opaque) {
                        return;
                    }
                }
                if !heartbeat && self.returned_to_spool(code, message, spooled, opaque) {
                    return;
                }
                let maybe = code.is_some_and(maybe_persisted);
                mark_done(&self.shared, opaque);
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
