//! Batches: transactions copied out of the Varnish log so they can cross from the reader
//! thread to the rendering thread.
//!
//! A transaction borrowed from the log is only valid during the reader's callback, so the
//! reader copies the records the format language can read (tags other than
//! [`Tag::Other`]) into one byte arena per batch. Batches travel over a bounded channel and
//! come back empty over a second one, so in steady state nothing is allocated: the arenas keep
//! their capacity from batch to batch.

use edgeship_formats::{Tag, Transaction};

/// One record's place in the arena.
#[derive(Debug, Clone, Copy)]
struct RecordSpan {
    tag: Tag,
    start: u32,
    length: u32,
}

/// One transaction's records in the batch.
#[derive(Debug, Clone, Copy)]
struct TransactionSpan {
    first_record: u32,
    end_record: u32,
}

/// Many transactions' records, copied into one arena.
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    records: Vec<RecordSpan>,
    transactions: Vec<TransactionSpan>,
}

/// A batch fills up at this many transactions...
pub const MAX_TRANSACTIONS: usize = 512;
/// ...or this many bytes of payload, whichever comes first.
pub const MAX_BYTES: usize = 1 << 20;

impl Batch {
    /// An empty batch with room for a typical full one.
    pub fn new() -> Batch {
        Batch {
            bytes: Vec::with_capacity(MAX_BYTES / 2),
            records: Vec::with_capacity(MAX_TRANSACTIONS * 32),
            transactions: Vec::with_capacity(MAX_TRANSACTIONS),
        }
    }

    /// Copies one transaction's readable records in.
    pub fn push<'r>(&mut self, records: impl Iterator<Item = (Tag, &'r [u8])>) {
        let first_record = self.records.len() as u32;
        for (tag, payload) in records {
            if tag == Tag::Other {
                continue;
            }
            let start = self.bytes.len() as u32;
            self.bytes.extend_from_slice(payload);
            self.records.push(RecordSpan {
                tag,
                start,
                length: payload.len() as u32,
            });
        }
        self.transactions.push(TransactionSpan {
            first_record,
            end_record: self.records.len() as u32,
        });
    }

    /// Whether the batch should be sent now.
    pub fn is_full(&self) -> bool {
        self.transactions.len() >= MAX_TRANSACTIONS || self.bytes.len() >= MAX_BYTES
    }

    /// How many transactions it holds.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// Empties it, keeping its capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.records.clear();
        self.transactions.clear();
    }

    /// Its transactions in reading order.
    pub fn transactions(&self) -> impl Iterator<Item = BatchTransaction<'_>> + '_ {
        self.transactions.iter().map(move |span| BatchTransaction {
            batch: self,
            span: *span,
        })
    }
}

/// One transaction of a [`Batch`], readable by the renderer.
#[derive(Debug, Clone, Copy)]
pub struct BatchTransaction<'b> {
    batch: &'b Batch,
    span: TransactionSpan,
}

impl Transaction for BatchTransaction<'_> {
    fn for_each_record<'a, F>(&'a self, mut visit: F)
    where
        F: FnMut(Tag, &'a [u8]),
    {
        let records =
            &self.batch.records[self.span.first_record as usize..self.span.end_record as usize];
        for record in records {
            let start = record.start as usize;
            visit(
                record.tag,
                &self.batch.bytes[start..start + record.length as usize],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_come_back_as_pushed_without_other_tags() {
        let mut batch = Batch::new();
        batch.push(
            [
                (Tag::ReqMethod, &b"GET"[..]),
                (Tag::Other, b"skipped"),
                (Tag::ReqUrl, b"/a"),
            ]
            .into_iter(),
        );
        batch.push([(Tag::ReqMethod, &b"POST"[..])].into_iter());
        let seen: Vec<Vec<(Tag, Vec<u8>)>> = batch
            .transactions()
            .map(|transaction| {
                let mut records = Vec::new();
                transaction.for_each_record(|tag, payload| records.push((tag, payload.to_vec())));
                records
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                vec![
                    (Tag::ReqMethod, b"GET".to_vec()),
                    (Tag::ReqUrl, b"/a".to_vec())
                ],
                vec![(Tag::ReqMethod, b"POST".to_vec())],
            ]
        );
        batch.clear();
        assert!(batch.is_empty());
    }
}
