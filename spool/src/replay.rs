//! Replay: [`Spool::next_batch`] hands out held records oldest first (requeued ones before
//! those never handed out), [`Spool::acknowledge`] marks one delivered and removes segments
//! whose records all are, [`Spool::requeue`] makes one replay again.

use std::fs::File;
use std::os::unix::fs::FileExt as _;

use crate::batch::Batch;
use crate::block::{self, Header};
use crate::error::Error;
use crate::ledger::BlockEntry;
use crate::spool::{self, Spool};
use crate::types::{LostRange, Record, RecordId};

impl Spool {
    /// Up to `max` held records, oldest first, without removing them: first those requeued
    /// (by id), then those never handed out since the open, in append order (the block
    /// being filled included). Each stays held until [`acknowledge`](Spool::acknowledge)d;
    /// a record handed out is not handed out again unless [`requeue`](Spool::requeue)d.
    ///
    /// [`Error::LostOnReplay`] when a block no longer decodes (its file changed since the
    /// open): its records are set aside as acknowledged; the batch's other records are
    /// requeued, so nothing is held back silently.
    pub fn next_batch(&mut self, max: usize) -> Result<Batch<'_>, Error> {
        self.batch.clear();
        while self.batch.entries.len() < max {
            let Some(id) = self.next_id() else { break };
            if let Err(error) = self.fetch(id) {
                let handed: Vec<u64> = self.batch.entries.iter().map(|entry| entry.id).collect();
                self.requeued.extend(handed);
                self.requeued.insert(id);
                self.batch.clear();
                return Err(error);
            }
        }
        self.figures.replayed += self.batch.entries.len() as u64;
        Ok(Batch::new(&self.batch))
    }

    /// Marks `id` delivered; removes every segment whose records are now all acknowledged.
    /// [`Error::UnknownRecord`] for an id not held (already acknowledged, or never handed
    /// out by this spool since its open).
    pub fn acknowledge(&mut self, id: RecordId) -> Result<(), Error> {
        if !self.ledger.acknowledge(id.0) {
            return Err(Error::UnknownRecord(id.0));
        }
        self.figures.acknowledged += 1;
        spool::remove_acknowledged(self)
    }

    /// Makes a handed-out record `id` replay again (its delivery failed and it was not
    /// persisted). [`Error::UnknownRecord`] for an id not held or not handed out yet.
    pub fn requeue(&mut self, id: RecordId) -> Result<(), Error> {
        if !self.ledger.is_held(id.0) || id.0 >= self.cursor {
            return Err(Error::UnknownRecord(id.0));
        }
        if self.requeued.insert(id.0) {
            self.figures.requeued += 1;
        }
        Ok(())
    }

    /// The next id to hand out, if any.
    fn next_id(&mut self) -> Option<u64> {
        while let Some(id) = self.requeued.pop_first() {
            if self.ledger.is_held(id) {
                return Some(id);
            }
        }
        while self.cursor < self.ledger.next {
            let id = self.cursor;
            self.cursor += 1;
            if self.ledger.is_held(id) {
                return Some(id);
            }
        }
        None
    }

    /// Copies record `id` into the batch: from the block being filled, or from its block on
    /// disk (decoded once for all its records).
    fn fetch(&mut self, id: u64) -> Result<(), Error> {
        if id >= self.ledger.open_first {
            let slot = self.open.slots[(id - self.ledger.open_first) as usize];
            let record = Record {
                key: &self.open.payload[slot.key as usize..slot.payload as usize],
                payload: &self.open.payload[slot.payload as usize..slot.end as usize],
                run: &self.open.run,
                sequence: self.open.first_sequence + (id - self.ledger.open_first),
            };
            self.batch.push(id, &record);
            return Ok(());
        }
        let block = self
            .ledger
            .block_of(id)
            .cloned()
            .ok_or(Error::UnknownRecord(id))?;
        if self.decoded.first != Some(block.first) {
            self.load(&block)?;
        }
        let decoded = &self.decoded;
        let slot = decoded.slots[(id - block.first) as usize];
        let record = Record {
            key: &decoded.payload[slot.key as usize..slot.payload as usize],
            payload: &decoded.payload[slot.payload as usize..slot.end as usize],
            run: &decoded.run,
            sequence: decoded.first_sequence + (id - block.first),
        };
        self.batch.push(id, &record);
        Ok(())
    }

    /// Reads and decodes `block` into the decoded-block buffers; sets its records aside when
    /// it does not decode.
    fn load(&mut self, block: &BlockEntry) -> Result<(), Error> {
        self.decoded.first = None;
        let path = self
            .ledger
            .path_of(block.segment)
            .cloned()
            .ok_or(Error::UnknownRecord(block.first))?;
        let decoded = &mut self.decoded;
        decoded.frame.resize(block.frame as usize, 0);
        File::open(&path)
            .and_then(|file| file.read_exact_at(&mut decoded.frame, block.offset))
            .map_err(|error| Error::io(&path, error))?;
        let intact = match Header::parse(&decoded.frame) {
            Ok((header, length)) if header.count == block.count => {
                decoded.run.clear();
                decoded.run.extend_from_slice(header.run);
                decoded.first_sequence = header.first_sequence;
                block::decode(
                    &header,
                    &decoded.frame[length..],
                    &mut self.decoder,
                    &mut decoded.payload,
                    &mut decoded.slots,
                )
            }
            _ => false,
        };
        if intact {
            self.decoded.first = Some(block.first);
            return Ok(());
        }
        Err(self.set_aside(block))
    }

    /// Acknowledges every held record of `block` (which no longer decodes) and says which
    /// they were, as far as the header tells.
    fn set_aside(&mut self, block: &BlockEntry) -> Error {
        let mut lost = 0;
        for id in block.first..block.first + u64::from(block.count) {
            if self.ledger.acknowledge(id) {
                lost += 1;
            }
        }
        self.figures.lost_on_replay += lost;
        let (run, first) = match Header::parse(&self.decoded.frame) {
            Ok((header, _)) => (header.run.to_vec(), header.first_sequence),
            Err(_) => (Vec::new(), 0),
        };
        let last = first + u64::from(block.count).saturating_sub(1);
        if let Err(error) = spool::remove_acknowledged(self) {
            return error;
        }
        Error::LostOnReplay(LostRange { run, first, last })
    }
}
