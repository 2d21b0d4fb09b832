//! The replay buffers: the last block decoded from disk, and the batch handed out by
//! `next_batch` (its records copied into one reused byte buffer).

use crate::block::Slot;
use crate::types::{Record, RecordId, Spooled};

/// The block most recently read back from disk, decoded, so that a batch reading its records
/// one by one decodes it once.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// The first record id of the decoded block, if one is decoded.
    pub(crate) first: Option<u64>,
    /// Its run.
    pub(crate) run: Vec<u8>,
    /// Its first sequence number.
    pub(crate) first_sequence: u64,
    /// Its decompressed payload.
    pub(crate) payload: Vec<u8>,
    /// Its records.
    pub(crate) slots: Vec<Slot>,
    /// The frame read from the file.
    pub(crate) frame: Vec<u8>,
}

/// One handed-out record: its id and sequence number and where its run, key and value lie in
/// the batch's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) id: u64,
    pub(crate) sequence: u64,
    pub(crate) run: (usize, usize),
    pub(crate) key: (usize, usize),
    pub(crate) payload: (usize, usize),
}

/// The reused storage of batches.
#[derive(Debug, Default)]
pub(crate) struct BatchBuffers {
    pub(crate) bytes: Vec<u8>,
    pub(crate) entries: Vec<Entry>,
}

impl BatchBuffers {
    /// Empties the batch, keeping its buffers.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
    }

    /// Copies one record into the batch.
    pub(crate) fn push(&mut self, id: u64, record: &Record<'_>) {
        let run = self.copy(record.run);
        let key = self.copy(record.key);
        let payload = self.copy(record.payload);
        self.entries.push(Entry {
            id,
            sequence: record.sequence,
            run,
            key,
            payload,
        });
    }

    fn copy(&mut self, bytes: &[u8]) -> (usize, usize) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        (start, self.bytes.len())
    }
}

/// Records handed out by [`Spool::next_batch`](crate::Spool::next_batch), oldest first.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'s> {
    bytes: &'s [u8],
    entries: &'s [Entry],
}

impl<'s> Batch<'s> {
    pub(crate) fn new(buffers: &'s BatchBuffers) -> Batch<'s> {
        Batch {
            bytes: &buffers.bytes,
            entries: &buffers.entries,
        }
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none: nothing left to replay (until something is requeued or
    /// appended).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The records, in the order they are to be sent.
    pub fn iter(&self) -> impl Iterator<Item = Spooled<'s>> + '_ {
        let bytes = self.bytes;
        self.entries.iter().map(move |entry| {
            let range = |(start, end): (usize, usize)| &bytes[start..end];
            Spooled {
                id: RecordId(entry.id),
                record: Record {
                    key: range(entry.key),
                    payload: range(entry.payload),
                    run: range(entry.run),
                    sequence: entry.sequence,
                },
            }
        })
    }
}
