//! The [`Spool`] and its writing side: append into the block being filled, write blocks into
//! segment files that roll at the configured size, fsync at the interval, refuse when full,
//! and the figures. Opening is `recover.rs`'s, replay `replay.rs`'s.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use crate::batch::{BatchBuffers, Decoded};
use crate::block::{self, Builder};
use crate::error::Error;
use crate::ledger::Ledger;
use crate::segment::{self, Writer};
use crate::space;
use crate::types::{Figures, Limits, Record, RecordId, MAX_RECORD_BYTES, MAX_RUN_BYTES};

/// A disk spool over one directory: see the crate documentation for its format and promises.
#[derive(Debug)]
pub struct Spool {
    pub(crate) dir: PathBuf,
    pub(crate) limits: Limits,
    pub(crate) ledger: Ledger,
    /// The segment being written, once a block was written since the open.
    pub(crate) writer: Option<Writer>,
    /// The index the next segment file gets.
    pub(crate) next_index: u64,
    /// The block being filled.
    pub(crate) open: Builder,
    pub(crate) encoder: snap::raw::Encoder,
    pub(crate) frame: Vec<u8>,
    pub(crate) decoded: Decoded,
    pub(crate) decoder: snap::raw::Decoder,
    pub(crate) batch: BatchBuffers,
    /// The next id `next_batch` hands out for the first time.
    pub(crate) cursor: u64,
    /// Handed-out ids to hand out again, oldest first.
    pub(crate) requeued: BTreeSet<u64>,
    pub(crate) figures: Figures,
    pub(crate) last_sync: Option<Instant>,
    /// Blocks were written since the last fsync.
    pub(crate) unsynced: bool,
    /// The file system was below the free-space reserve at the last check.
    pub(crate) low_space: bool,
}

impl Spool {
    /// A spool over `dir` holding nothing yet, its next segment numbered `next_index`.
    pub(crate) fn empty(dir: PathBuf, limits: Limits, next_index: u64) -> Spool {
        Spool {
            dir,
            limits,
            ledger: Ledger::default(),
            writer: None,
            next_index,
            open: Builder::default(),
            encoder: snap::raw::Encoder::new(),
            frame: Vec::new(),
            decoded: Decoded::default(),
            decoder: snap::raw::Decoder::new(),
            batch: BatchBuffers::default(),
            cursor: 0,
            requeued: BTreeSet::new(),
            figures: Figures::default(),
            last_sync: None,
            unsynced: false,
            low_space: false,
        }
    }

    /// Adds `record` to the spool, in the block being filled (written when full, by
    /// [`flush_block`](Spool::flush_block), or by [`maybe_sync`](Spool::maybe_sync)).
    ///
    /// [`Error::Full`] when `max_bytes` would be exceeded, the file system is below its
    /// reserve, or writing the previous block met ENOSPC: the record is not taken and
    /// nothing spooled is lost. A record of another run, or whose sequence number does not
    /// follow the previous one, starts a new block (a block's header then names its records
    /// exactly).
    // hot path: per spilled record; it copies into the block's reused buffers, allocating
    // nothing once they have grown.
    pub fn append(&mut self, record: Record<'_>) -> Result<RecordId, Error> {
        let bytes = record.key.len() + record.payload.len();
        if bytes > MAX_RECORD_BYTES || record.run.len() > MAX_RUN_BYTES {
            return Err(Error::TooLarge {
                bytes,
                run_bytes: record.run.len(),
            });
        }
        // Re-checked by maybe_sync, not here: a full spool costs no system call per record.
        if self.low_space {
            return Err(Error::Full);
        }
        let fill = self.limits.block_bytes.min(block::MAX_FILL);
        if !self.open.continues(&record) || self.open.payload.len() >= fill {
            self.flush_block()?;
        }
        let framing = block::OVERHEAD + record.run.len() + block::RECORD_OVERHEAD;
        let needed = self.ledger.bytes + (self.open.payload.len() + bytes + framing) as u64;
        if needed > self.limits.max_bytes {
            return Err(Error::Full);
        }
        self.open.push(&record, SystemTime::now);
        self.figures.spilled += 1;
        Ok(RecordId(self.ledger.reserve()))
    }

    /// Compresses and writes the block being filled (if it holds anything), first starting a
    /// new segment if the current one reached `segment_bytes`. Not yet durable: that is
    /// [`sync`](Spool::sync)'s. On failure the block stays in memory, whole.
    pub fn flush_block(&mut self) -> Result<(), Error> {
        if self.open.slots.is_empty() {
            return Ok(());
        }
        self.low_space = space::available(&self.dir)? < self.limits.min_free_bytes;
        if self.low_space {
            return Err(Error::Full);
        }
        self.open.encode(&mut self.encoder, &mut self.frame);
        self.writer_with_room()?;
        // writer_with_room leaves a writer in place or fails.
        let Some(writer) = self.writer.as_mut() else {
            return Err(Error::io(&self.dir, std::io::ErrorKind::NotFound.into()));
        };
        let offset = writer.len;
        writer.append(&self.frame)?;
        let started = self.open.started.unwrap_or(SystemTime::UNIX_EPOCH);
        let at = (offset, self.frame.len() as u64);
        self.ledger.written(writer.index, &writer.path, at, started);
        self.open.clear();
        self.unsynced = true;
        // A segment rolled just now may hold nothing but acknowledged records.
        remove_acknowledged(self)
    }

    /// The segment to write the next block into: the current one, or a new one when there is
    /// none or it reached its size (the full one is synced first, so a rolled segment is
    /// durable whatever the interval).
    fn writer_with_room(&mut self) -> Result<(), Error> {
        let full = self
            .writer
            .as_ref()
            .is_some_and(|writer| writer.len >= self.limits.segment_bytes);
        if full {
            if let Some(writer) = &self.writer {
                writer.sync()?;
            }
            self.writer = None;
            self.ledger.rolled();
        }
        if self.writer.is_none() {
            self.writer = Some(Writer::create(&self.dir, self.next_index)?);
            self.next_index += 1;
        }
        Ok(())
    }

    /// Writes the block being filled and fsyncs the segment: every record appended so far
    /// survives a crash of the machine.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.flush_block()?;
        if let Some(writer) = &self.writer {
            writer.sync()?;
        }
        self.unsynced = false;
        Ok(())
    }

    /// Syncs (as [`sync`](Spool::sync)) if anything was appended and `fsync_interval` has
    /// passed since the last sync by the caller's clock; true if it did. Also re-checks a
    /// free-space shortage, so a spool full for lack of space takes records again once space
    /// is freed.
    pub fn maybe_sync(&mut self, now: Instant) -> Result<bool, Error> {
        let last = *self.last_sync.get_or_insert(now);
        if self.low_space {
            self.low_space = space::available(&self.dir)? < self.limits.min_free_bytes;
        }
        let pending = self.unsynced || !self.open.slots.is_empty();
        if !pending || now.saturating_duration_since(last) < self.limits.fsync_interval {
            return Ok(false);
        }
        self.sync()?;
        self.last_sync = Some(now);
        Ok(true)
    }

    /// Syncs and closes the spool: what it holds is replayed by the next open.
    pub fn close(mut self) -> Result<(), Error> {
        self.sync()
    }

    /// Whether the spool holds no record: with the spool on, the shipper sends straight to
    /// Kafka only then, so that per-host order is kept.
    pub fn is_empty(&self) -> bool {
        self.ledger.held == 0
    }

    /// The figures for the heartbeat and statistics.
    pub fn figures(&self) -> Figures {
        Figures {
            bytes: self.ledger.bytes + self.open.payload.len() as u64,
            records: self.ledger.held,
            oldest_append: self.ledger.oldest(self.open.started),
            ..self.figures
        }
    }

    /// The directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for Spool {
    /// Writes the block being filled, without fsync (a drop cannot report an error, and a
    /// crash would not run it: records not yet written are what a crash loses).
    fn drop(&mut self) {
        let _ = self.flush_block();
    }
}

/// Removes the segment files `ledger` hands out for deletion (every record acknowledged).
pub(crate) fn remove_acknowledged(spool: &mut Spool) -> Result<(), Error> {
    let writing = spool.writer.as_ref().map(|writer| writer.index);
    for done in spool.ledger.take_done(writing) {
        if Some(done.index) == writing {
            spool.writer = None;
        }
        if spool
            .decoded
            .first
            .is_some_and(|first| (done.first..done.end).contains(&first))
        {
            spool.decoded.first = None;
        }
        segment::remove(&done.path)?;
    }
    if spool.ledger.held == 0 && !spool.open.slots.is_empty() {
        spool.open.clear();
        spool.ledger.discard_open();
    }
    Ok(())
}
