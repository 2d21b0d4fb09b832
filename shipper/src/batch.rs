//! Batches: what the reader thread captured from many transactions, handed to the rendering
//! thread in one piece.
//!
//! A transaction borrowed from the log is only valid during the reader's callback, so the
//! reader captures there, with the records still in its cache, the value of every field the
//! formats read (an [`edgeship_formats::Capturer`] for the record and key formats together)
//! and copies those values, and nothing else of the records, into one byte arena per batch.
//! That is a fraction of the records' bytes: the rendering thread reads only what it writes.
//!
//! Batches travel over a bounded channel and come back empty over a second one, so in steady
//! state nothing is allocated: the arenas keep their capacity from batch to batch.

use std::time::SystemTime;

use edgeship_formats::CaptureStats;
use edgeship_varnishlog::Position;

use crate::latency::unix_micros;

/// One field's value in the arena; `length == NONE` when nothing matched.
#[derive(Debug, Clone, Copy)]
struct ValueSpan {
    start: u32,
    length: u32,
}

const NONE: u32 = u32::MAX;

/// The span of a field nothing matched.
const UNMATCHED: ValueSpan = ValueSpan {
    start: 0,
    length: NONE,
};

/// Many transactions' captured values, copied into one arena.
#[derive(Debug)]
pub struct Batch {
    /// Values per transaction (the capturer's field count).
    stride: usize,
    bytes: Vec<u8>,
    /// `stride` spans per transaction, transaction after transaction.
    values: Vec<ValueSpan>,
    transactions: usize,
    /// Where each transaction ended in the live log (see `resume`).
    positions: Vec<Option<Position>>,
    /// Records cut at `tag.size.max` while capturing this batch's transactions.
    truncated_tags: u64,
    /// When the reader took its first transaction from the log (microseconds since the Unix
    /// epoch): the start of the latencies `latency` measures. One clock read per batch.
    handed_micros: u64,
}

/// A batch fills up at this many transactions...
pub const MAX_TRANSACTIONS: usize = 512;
/// ...or this many bytes of values, whichever comes first.
pub const MAX_BYTES: usize = 1 << 20;

impl Batch {
    /// An empty batch for transactions of `stride` values each, with room for a typical full
    /// one.
    pub fn new(stride: usize) -> Batch {
        Batch {
            stride,
            bytes: Vec::with_capacity(MAX_BYTES / 4),
            values: Vec::with_capacity(MAX_TRANSACTIONS * stride),
            transactions: 0,
            positions: Vec::with_capacity(MAX_TRANSACTIONS),
            truncated_tags: 0,
            handed_micros: 0,
        }
    }

    /// Copies one transaction's captured values in (`values.len()` must be the stride; extra
    /// values are ignored, missing ones are `None`), with where it ended in the log.
    pub fn push(
        &mut self,
        values: &[Option<&[u8]>],
        stats: CaptureStats,
        position: Option<Position>,
    ) {
        self.positions.push(position);
        if self.transactions == 0 {
            self.handed_micros = unix_micros(SystemTime::now());
        }
        let values = &values[..values.len().min(self.stride)];
        self.values.reserve(self.stride);
        for value in values {
            let span = match *value {
                // A value past 4 GiB cannot be a field of one record; were it ever captured it
                // renders as unmatched rather than wrapping the arena's offsets.
                Some(value) if value.len() < NONE as usize => {
                    let start = self.bytes.len() as u32;
                    self.bytes.extend_from_slice(value);
                    ValueSpan {
                        start,
                        length: value.len() as u32,
                    }
                }
                _ => UNMATCHED,
            };
            self.values.push(span);
        }
        for _ in values.len()..self.stride {
            self.values.push(UNMATCHED);
        }
        self.transactions += 1;
        self.truncated_tags += u64::from(stats.truncated_tags);
    }

    /// Whether the batch should be sent now.
    pub fn is_full(&self) -> bool {
        self.transactions >= MAX_TRANSACTIONS || self.bytes.len() >= MAX_BYTES
    }

    /// How many transactions it holds.
    pub fn len(&self) -> usize {
        self.transactions
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.transactions == 0
    }

    /// Records cut at `tag.size.max` in its transactions.
    pub fn truncated_tags(&self) -> u64 {
        self.truncated_tags
    }

    /// When the reader took its first transaction from the log (microseconds since the Unix
    /// epoch; 0 while it is empty).
    pub fn handed_micros(&self) -> u64 {
        self.handed_micros
    }

    /// Empties it, keeping its capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.values.clear();
        self.transactions = 0;
        self.positions.clear();
        self.truncated_tags = 0;
        self.handed_micros = 0;
    }

    /// Its transactions in reading order.
    pub fn transactions(&self) -> impl Iterator<Item = Captured<'_>> + '_ {
        (0..self.transactions).map(move |index| Captured {
            batch: self,
            index,
            first: index * self.stride,
        })
    }
}

/// One transaction of a [`Batch`]: the values captured for it.
#[derive(Debug, Clone, Copy)]
pub struct Captured<'b> {
    batch: &'b Batch,
    index: usize,
    first: usize,
}

impl<'b> Captured<'b> {
    /// Where the transaction ended in the live log, if known.
    #[inline]
    pub fn position(&self) -> Option<Position> {
        self.batch.positions.get(self.index).copied().flatten()
    }

    /// The value of the capturer's `field`-th field, or `None` when nothing matched (or
    /// `field` is past the stride).
    #[inline]
    pub fn value(&self, field: usize) -> Option<&'b [u8]> {
        if field >= self.batch.stride {
            return None;
        }
        let span = self.batch.values.get(self.first + field)?;
        if span.length == NONE {
            return None;
        }
        let start = span.start as usize;
        self.batch.bytes.get(start..start + span.length as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_as_pushed() {
        let mut batch = Batch::new(3);
        let stats = CaptureStats { truncated_tags: 2 };
        batch.push(&[Some(&b"GET"[..]), None, Some(b"/a")], stats, None);
        batch.push(&[None, Some(&b"x"[..])], CaptureStats::default(), None);
        let seen: Vec<Vec<Option<&[u8]>>> = batch
            .transactions()
            .map(|transaction| (0..4).map(|field| transaction.value(field)).collect())
            .collect();
        assert_eq!(
            seen,
            vec![
                vec![Some(&b"GET"[..]), None, Some(b"/a"), None],
                vec![None, Some(&b"x"[..]), None, None],
            ]
        );
        assert_eq!((batch.len(), batch.truncated_tags()), (2, 2));
        batch.clear();
        assert!(batch.is_empty());
        assert_eq!(batch.truncated_tags(), 0);
    }

    #[test]
    fn values_of_every_length_are_copied_exactly() {
        let text: Vec<u8> = (0..100_u8).map(|i| b'a' + i % 26).collect();
        let mut batch = Batch::new(1);
        for length in 0..text.len() {
            batch.push(&[Some(&text[..length])], CaptureStats::default(), None);
        }
        for (length, transaction) in batch.transactions().enumerate() {
            assert_eq!(
                transaction.value(0),
                Some(&text[..length]),
                "length {length}"
            );
        }
    }

    #[test]
    fn positions_come_back_with_their_transactions() {
        let at = |ends| Some(Position { segment: 9, ends });
        for stride in [0, 2] {
            let mut batch = Batch::new(stride);
            batch.push(&[], CaptureStats::default(), at(1));
            batch.push(&[], CaptureStats::default(), None);
            batch.push(&[], CaptureStats::default(), at(3));
            let seen: Vec<_> = batch.transactions().map(|t| t.position()).collect();
            assert_eq!(seen, vec![at(1), None, at(3)], "stride {stride}");
        }
    }

    #[test]
    fn empty_values_stay_distinct_from_no_value() {
        let mut batch = Batch::new(2);
        batch.push(&[Some(&b""[..]), None], CaptureStats::default(), None);
        let transaction = batch.transactions().next().expect("one transaction");
        assert_eq!(transaction.value(0), Some(&b""[..]));
        assert_eq!(transaction.value(1), None);
    }
}
