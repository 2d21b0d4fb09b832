//! Which records taken by the output are done, marked by sequence number: a record sent to
//! librdkafka is done when its final delivery report arrives (delivered, or failed and
//! counted), a record in the disk spool when the spool has fsynced it (or when it was dropped
//! and counted). The marks are bits in a ring of words indexed by the sequence number modulo
//! [`WINDOW`]: the delivery callback sets one with one atomic `or`, no lock, and the
//! rendering thread's frontier (`frontier.rs`) takes them back in sequence order.
//!
//! The ring names a sequence only modulo [`WINDOW`]: a mark is meaningful while the records
//! not yet done span fewer than [`WINDOW`] numbers, which the frontier checks as it numbers
//! records (librdkafka's queue, bounded by `queue.buffering.max.messages`, is what holds
//! records not yet done).

use std::sync::atomic::{AtomicU64, Ordering};

/// How many consecutive sequence numbers the marks tell apart: 2^22 (4,194,304 records; the
/// ring is 512 KiB). The delivery opaque carries a sequence number's low [`WINDOW_BITS`] bits.
pub const WINDOW_BITS: u32 = 22;
/// See [`WINDOW_BITS`].
pub const WINDOW: u64 = 1 << WINDOW_BITS;

/// The marks of done records.
pub struct DoneMarks {
    words: Box<[AtomicU64]>,
}

impl Default for DoneMarks {
    fn default() -> DoneMarks {
        DoneMarks {
            words: (0..WINDOW / 64).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl DoneMarks {
    /// The word and bit of `sequence` (only its low [`WINDOW_BITS`] bits count).
    #[inline]
    fn place(&self, sequence: u64) -> (&AtomicU64, u64) {
        let slot = sequence & (WINDOW - 1);
        (&self.words[(slot / 64) as usize], 1 << (slot % 64))
    }

    /// Marks the record numbered `sequence` (or any number equal to it modulo [`WINDOW`]) as
    /// done.
    #[inline]
    pub fn mark(&self, sequence: u64) {
        let (word, bit) = self.place(sequence);
        word.fetch_or(bit, Ordering::Release);
    }

    /// Whether the record numbered `sequence` is marked done; the mark is cleared, so that the
    /// slot serves the number [`WINDOW`] later.
    #[inline]
    pub fn take(&self, sequence: u64) -> bool {
        let (word, bit) = self.place(sequence);
        if word.load(Ordering::Acquire) & bit == 0 {
            return false;
        }
        word.fetch_and(!bit, Ordering::AcqRel);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_taken_once_and_its_slot_serves_the_number_a_window_later() {
        let marks = DoneMarks::default();
        assert!(!marks.take(7));
        marks.mark(7);
        marks.mark(70);
        assert!(!marks.take(8), "a neighbour is not marked");
        assert!(marks.take(7));
        assert!(!marks.take(7), "taken once");
        assert!(marks.take(70));
        marks.mark(WINDOW + 9);
        assert!(marks.take(9), "numbers a window apart share a slot");
        assert!(!marks.take(WINDOW + 9));
    }
}
