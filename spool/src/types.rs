//! The values the spool's API passes in and out: a record, its id, the limits, what an open
//! recovered and the figures. Below every other module, so they all share them.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// One rendered record, borrowed: enough to rebuild its Kafka message (key, value and the
/// `edgeship.run`/`edgeship.sequence` headers of docs/records.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The message key.
    pub key: &'a [u8],
    /// The message value: the rendered record.
    pub payload: &'a [u8],
    /// The run identifier (the `edgeship.run` header), at most [`MAX_RUN_BYTES`] bytes.
    pub run: &'a [u8],
    /// The sequence number (the `edgeship.sequence` header).
    pub sequence: u64,
}

/// The longest run identifier the spool keeps (docs/records.md's are 26 bytes).
pub const MAX_RUN_BYTES: usize = 1024;

/// The largest record (key plus payload) the spool keeps; a larger one is refused with
/// [`Error::TooLarge`](crate::Error::TooLarge). It bounds what an open reads for one block.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// A spooled record's handle for [`Spool::acknowledge`](crate::Spool::acknowledge) and
/// [`Spool::requeue`](crate::Spool::requeue), valid until the spool is reopened (ids are
/// numbered afresh at every open). It fits a `usize` delivery opaque on 64-bit targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub(crate) u64);

impl RecordId {
    /// The id as a number, for a delivery report's opaque value.
    pub fn to_raw(self) -> u64 {
        self.0
    }

    /// The id a [`to_raw`](RecordId::to_raw) gave. A number the spool never handed out is
    /// refused by the calls that take it, never trusted.
    pub fn from_raw(raw: u64) -> RecordId {
        RecordId(raw)
    }
}

/// A record handed out by [`Spool::next_batch`](crate::Spool::next_batch), borrowed from the
/// spool's replay buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spooled<'a> {
    /// Its handle, to acknowledge or requeue it.
    pub id: RecordId,
    /// The record as it was appended.
    pub record: Record<'a>,
}

/// What the spool may hold and how often it makes its writes durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes the spool's segment files (and the block being filled) may take;
    /// beyond, [`append`](crate::Spool::append) answers [`Error::Full`](crate::Error::Full).
    pub max_bytes: u64,
    /// A segment file is closed and the next one started once it reaches this size.
    pub segment_bytes: u64,
    /// A block is compressed and written once its records reach this many bytes (at most
    /// 16 MiB is used: an open then never reads more than 32 MiB for one block).
    pub block_bytes: usize,
    /// [`maybe_sync`](crate::Spool::maybe_sync) writes and fsyncs at most this long after
    /// the previous sync: the window of records a power loss may take.
    pub fsync_interval: Duration,
    /// The spool is full while the file system has less free space than this (statvfs,
    /// space available to unprivileged users), whatever `max_bytes` says.
    pub min_free_bytes: u64,
}

impl Default for Limits {
    /// 1 GiB in 64 MiB segments of 64 KiB blocks, fsync every second, 256 MiB kept free.
    fn default() -> Limits {
        Limits {
            max_bytes: 1 << 30,
            segment_bytes: 64 << 20,
            block_bytes: 64 << 10,
            fsync_interval: Duration::from_secs(1),
            min_free_bytes: 256 << 20,
        }
    }
}

/// Records an open found damaged and set aside: `run`, sequence numbers `first..=last`
/// (every number in between: a block only holds consecutive numbers of one run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRange {
    /// The run identifier.
    pub run: Vec<u8>,
    /// The first sequence number lost.
    pub first: u64,
    /// The last sequence number lost.
    pub last: u64,
}

/// Bytes an open could not frame as blocks (a damaged block header): their records cannot
/// be named, only their place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The segment file.
    pub segment: PathBuf,
    /// Where the unreadable bytes start.
    pub offset: u64,
    /// How many bytes, up to the next block that frames correctly or the end of the file.
    pub bytes: u64,
}

/// What [`Spool::open`](crate::Spool::open) found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records of blocks whose contents failed their checksum or did not decode, by range.
    /// Each such block is marked dead in place, so a later open does not report it again.
    pub lost: Vec<LostRange>,
    /// Damaged block headers: reported at every open until their segment is deleted.
    pub unreadable: Vec<Unreadable>,
    /// Bytes cut from the end of segments: a block whose write a crash interrupted.
    pub truncated_bytes: u64,
    /// Records found intact, to be replayed.
    pub records: u64,
    /// Segment files read.
    pub segments: usize,
    /// Files in the directory that are not segments, left alone.
    pub unknown_files: usize,
}

/// The spool's figures for the heartbeat and statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Bytes of the segment files, plus the block being filled.
    pub bytes: u64,
    /// Records appended (or recovered) and not acknowledged.
    pub records: u64,
    /// When the oldest unacknowledged record's block was started, if any record is held.
    pub oldest_append: Option<SystemTime>,
    /// Records appended since the open.
    pub spilled: u64,
    /// Records handed out by `next_batch` since the open (a requeued one again each time).
    pub replayed: u64,
    /// Records acknowledged since the open.
    pub acknowledged: u64,
    /// Records requeued since the open.
    pub requeued: u64,
    /// Records set aside since the open because their block no longer decoded on replay.
    pub lost_on_replay: u64,
}
