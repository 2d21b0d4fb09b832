//! What survives a producer that can no longer deliver: the errors that mean "this producer
//! instance is finished, a new one would succeed" (fenced, epoch or sequence lost, fatal), and
//! the bounded queue of messages that failed that way, kept with their payload, key and
//! headers from the delivery report until a new producer sends them again.
//!
//! The queue is shared by every producer instance of the run (each one's callbacks fill it,
//! the producer drains it right after a replacement). It is touched only when a delivery
//! fails this way, never on a delivered record, so the lock is off edgeship's per-record path.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{BorrowedMessage, OwnedHeaders};
use rdkafka::Message as _;

/// How many failed messages wait for a new producer at most; beyond it they are counted as
/// failed deliveries, as before there was a re-send. librdkafka's default local queue is as
/// large, so a whole default queue fenced at once still fits.
pub(super) const RESEND_CAPACITY: usize = 100_000;

/// What a fatal producer error leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnFatal {
    /// The producer is replaced and what it failed with `_FATAL` is sent again.
    Replace,
    /// The run stops (exit 1): with `enable.gapless.guarantee = true` the operator asked that
    /// a gap in the sequence end the producer, which a new instance would paper over.
    Stop,
}

impl OnFatal {
    /// What `client`'s configuration asks for.
    pub(super) fn of(client: &rdkafka::ClientConfig) -> OnFatal {
        match client.get("enable.gapless.guarantee") {
            Some("true") => OnFatal::Stop,
            _ => OnFatal::Replace,
        }
    }

    /// Whether a delivery that failed with `code` is kept for a new producer because it
    /// failed with the instance (a fatal error) rather than on its own.
    pub(super) fn keeps(self, code: RDKafkaErrorCode) -> bool {
        self == OnFatal::Replace
            && matches!(
                code,
                RDKafkaErrorCode::Fatal | RDKafkaErrorCode::GaplessGuarantee
            )
    }
}

/// Whether a delivery failure with `code` means the producer instance itself can no longer
/// deliver, while a new instance (a new producer id and epoch) would: the broker fenced it or
/// lost its idempotence state. (A fatal error is told by librdkafka's fatal state; see
/// [`OnFatal`].)
pub fn producer_finished(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
            | RDKafkaErrorCode::OutOfOrderSequenceNumber
            | RDKafkaErrorCode::UnknownProducerId
            | RDKafkaErrorCode::InvalidProducerIdMapping
            | RDKafkaErrorCode::Fenced
    )
}

/// A message whose delivery failed because its producer was finished, as the delivery report
/// gave it back.
pub(super) struct Failed {
    /// Its body.
    pub(super) payload: Vec<u8>,
    /// Its key, if it had one.
    pub(super) key: Option<Vec<u8>>,
    /// Its record headers (run, sequence number), if it had any.
    pub(super) headers: Option<OwnedHeaders>,
    /// What it was (record, heartbeat, final heartbeat): the delivery opaque.
    pub(super) opaque: usize,
}

/// What every producer instance of a run shares: the re-send queue and whether the final
/// heartbeat was acknowledged (by whichever instance sent it).
#[derive(Default)]
pub(super) struct Recovery {
    queue: Mutex<VecDeque<Failed>>,
    final_delivered: AtomicBool,
}

impl Recovery {
    /// Keeps `message` for a new producer; returns false (and keeps nothing) when the queue
    /// is full.
    pub(super) fn keep(&self, message: &BorrowedMessage<'_>, opaque: usize) -> bool {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() >= RESEND_CAPACITY {
            return false;
        }
        queue.push_back(Failed {
            payload: message.payload().unwrap_or_default().to_vec(),
            key: message.key().map(<[u8]>::to_vec),
            headers: message.headers().map(|headers| headers.detach()),
            opaque,
        });
        true
    }

    /// Takes every kept message, oldest first.
    pub(super) fn take(&self) -> VecDeque<Failed> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records that the broker acknowledged the final heartbeat.
    pub(super) fn final_heartbeat_delivered(&self) {
        self.final_delivered.store(true, Ordering::Relaxed);
    }

    /// Whether the broker acknowledged the final heartbeat.
    pub(super) fn final_delivered(&self) -> bool {
        self.final_delivered.load(Ordering::Relaxed)
    }
}
