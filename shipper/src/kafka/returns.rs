//! What librdkafka's delivery callbacks hand the spool (issue 14): the outcome of a record
//! replayed from the spool (its spool id travels in the delivery opaque, above the bits that
//! say what kind of message it is), and a copy of a record sent straight to librdkafka whose
//! delivery failed for a reason a later attempt can cure, rebuilt from the delivery report's
//! key, value and headers. The rendering thread applies both (`spooler.rs`): the callbacks
//! cannot reach the spool. Also the record headers' names, which the rebuilding reads.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crossbeam_channel::{Receiver, Sender};
use edgeship_spool::RecordId;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::BorrowedMessage;
use rdkafka::message::Headers as _;
use rdkafka::Message as _;

/// The record header carrying the run identifier (records and heartbeats).
pub const RUN_HEADER: &str = "edgeship.run";
/// The record header carrying the sequence number in decimal (records).
pub const SEQUENCE_HEADER: &str = "edgeship.sequence";

/// The low two bits of a delivery opaque say what the message is (`context.rs`'s
/// `opaque_kind`); a spooled record's opaque is its spool id shifted above them, with
/// [`OPAQUE_SPOOLED`] below.
pub(super) const KIND_SHIFT: u32 = 2;
/// The kind of a record replayed from the spool (the other three are `context.rs`'s).
pub(super) const OPAQUE_SPOOLED: usize = 3;

/// The delivery opaque of spooled record `id`.
pub(super) fn spooled_opaque(id: RecordId) -> usize {
    ((id.to_raw() as usize) << KIND_SHIFT) | OPAQUE_SPOOLED
}

/// What became of a spooled record handed to librdkafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The broker acknowledged it: the spool may forget it.
    Delivered,
    /// Its delivery failed for a reason a later attempt can cure: it replays again.
    Retry,
    /// Its delivery failed for good (counted as a failed delivery): the spool forgets it.
    Failed,
}

/// A record sent straight to librdkafka whose delivery failed for a reason a later attempt
/// can cure, as its delivery report gave it back: it goes to the spool.
#[derive(Debug)]
pub(super) struct Returned {
    pub(super) key: Vec<u8>,
    pub(super) payload: Vec<u8>,
    pub(super) run: Vec<u8>,
    pub(super) sequence: u64,
}

/// What the delivery callbacks hand the rendering thread: spooled records' outcomes (a
/// lock-free channel) and returned direct records (a queue locked only when a delivery
/// failed).
pub(super) struct Returns {
    outcomes: Sender<(u64, Outcome)>,
    returned: Mutex<VecDeque<Returned>>,
    /// How many records `returned` holds, read without its lock on the per-record path.
    waiting: AtomicUsize,
    /// A record came back for another attempt since the last look (`take_came_back`): the
    /// producer then pulls everything else back from librdkafka too, so that the spool
    /// replays in sequence order.
    came_back: AtomicBool,
}

impl Returns {
    /// Empty returns, and the receiving end of the outcomes.
    pub(super) fn new() -> (Returns, Receiver<(u64, Outcome)>) {
        let (outcomes, receiver) = crossbeam_channel::unbounded();
        let returns = Returns {
            outcomes,
            returned: Mutex::new(VecDeque::new()),
            waiting: AtomicUsize::new(0),
            came_back: AtomicBool::new(false),
        };
        (returns, receiver)
    }

    /// Reports the outcome of the spooled record whose opaque is `opaque`.
    pub(super) fn outcome(&self, opaque: usize, outcome: Outcome) {
        // The receiver lives as long as the producer that owns this context.
        let _ = self.outcomes.send(((opaque >> KIND_SHIFT) as u64, outcome));
    }

    /// Keeps a copy of a directly sent record whose delivery failed; false if it carries no
    /// sequence header (not a record edgeship rendered).
    pub(super) fn keep(&self, message: &BorrowedMessage<'_>) -> bool {
        let Some(returned) = returned_of(message) else {
            return false;
        };
        self.returned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(returned);
        self.waiting.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Notes that a record came back for another attempt because its delivery failed (not
    /// because edgeship purged it: a purge brings back everything at once by itself).
    pub(super) fn note_came_back(&self) {
        self.came_back.store(true, Ordering::Relaxed);
    }

    /// Whether a record came back for another attempt since the last call.
    pub(super) fn take_came_back(&self) -> bool {
        self.came_back.swap(false, Ordering::Relaxed)
    }

    /// Every record given back, in sequence order (the order the spool must replay them in:
    /// librdkafka may report a purge's messages in another order).
    pub(super) fn take_all_returned(&self) -> Vec<Returned> {
        let mut all: Vec<Returned> = {
            let mut returned = self.returned.lock().unwrap_or_else(PoisonError::into_inner);
            returned.drain(..).collect()
        };
        self.waiting.fetch_sub(all.len(), Ordering::Relaxed);
        all.sort_by_key(|returned| returned.sequence);
        all
    }

    /// The oldest record given back, if any.
    pub(super) fn take_returned(&self) -> Option<Returned> {
        if !self.has_returned() {
            return None;
        }
        let taken = self
            .returned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        if taken.is_some() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        taken
    }

    /// Puts a record taken by [`take_returned`](Returns::take_returned) back in front.
    pub(super) fn put_back(&self, returned: Returned) {
        self.returned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_front(returned);
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether records given back wait to be spooled.
    #[inline]
    pub(super) fn has_returned(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) != 0
    }
}

/// The record a delivery report gave back, rebuilt from its key, value and headers.
fn returned_of(message: &BorrowedMessage<'_>) -> Option<Returned> {
    let headers = message.headers()?;
    let (mut run, mut sequence) = (None, None);
    for header in headers.iter() {
        match header.key {
            RUN_HEADER => run = header.value.map(<[u8]>::to_vec),
            SEQUENCE_HEADER => {
                sequence = header
                    .value
                    .and_then(|value| std::str::from_utf8(value).ok())
                    .and_then(|text| text.parse::<u64>().ok());
            }
            _ => {}
        }
    }
    Some(Returned {
        key: message.key().unwrap_or_default().to_vec(),
        payload: message.payload().unwrap_or_default().to_vec(),
        run: run?,
        sequence: sequence?,
    })
}

/// Whether a delivery that failed with `code` may succeed if sent again: every failure but
/// those that say the message itself (or the topic's permissions) is refused, which would
/// fail again forever.
pub(super) fn retriable(code: Option<RDKafkaErrorCode>) -> bool {
    !matches!(
        code,
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
                | RDKafkaErrorCode::InvalidRequiredAcks
                | RDKafkaErrorCode::InvalidTopic
        )
    )
}

/// Whether librdkafka took a record handed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Taken {
    /// Queued.
    Yes,
    /// Its queue is full: try again later.
    QueueFull,
    /// Refused for another reason (counted by the sender).
    Refused,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spooled_opaque_keeps_its_kind_and_gives_its_id_back() {
        let (returns, receiver) = Returns::new();
        for raw in [0_u64, 1, 7, 1 << 40] {
            let opaque = spooled_opaque(RecordId::from_raw(raw));
            assert_eq!(opaque & 0b11, OPAQUE_SPOOLED);
            returns.outcome(opaque, Outcome::Retry);
            assert_eq!(receiver.try_recv(), Ok((raw, Outcome::Retry)));
        }
    }

    #[test]
    fn a_refused_message_is_not_retried_and_an_outage_is() {
        assert!(retriable(Some(RDKafkaErrorCode::MessageTimedOut)));
        assert!(retriable(Some(RDKafkaErrorCode::PurgeQueue)));
        assert!(retriable(Some(RDKafkaErrorCode::PurgeInflight)));
        assert!(retriable(Some(RDKafkaErrorCode::BrokerTransportFailure)));
        assert!(!retriable(Some(RDKafkaErrorCode::MessageSizeTooLarge)));
        assert!(!retriable(Some(RDKafkaErrorCode::TopicAuthorizationFailed)));
    }

    #[test]
    fn nothing_returned_is_seen_without_the_lock_and_a_record_put_back_is_taken_first() {
        let (returns, _receiver) = Returns::new();
        assert!(!returns.has_returned());
        assert!(returns.take_returned().is_none());
        let record = |sequence| Returned {
            key: b"cp1001".to_vec(),
            payload: b"{}".to_vec(),
            run: b"run".to_vec(),
            sequence,
        };
        returns.put_back(record(2));
        returns.put_back(record(1));
        assert!(returns.has_returned());
        let order: Vec<u64> =
            std::iter::from_fn(|| returns.take_returned().map(|taken| taken.sequence)).collect();
        assert_eq!(order, [1, 2]);
        assert!(!returns.has_returned());
    }
}
