//! The disk spool: rendered records (key, value, run, sequence number) kept in append-only,
//! snappy-compressed, checksummed segment files until the caller acknowledges their
//! delivery, so that a broker outage of any length or a restart loses nothing that was
//! written (issue 14). No Kafka here: the shipper appends what it cannot hand to librdkafka,
//! replays batches when librdkafka has room, and acknowledges records by their delivery
//! reports.
//!
//! ```
//! use edgeship_spool::{Limits, Record, Spool};
//! # let scratch = std::env::temp_dir().join(format!("edgeship-spool-doc-{}", std::process::id()));
//! let (mut spool, recovery) = Spool::open(&scratch, Limits::default())?;
//! assert!(recovery.lost.is_empty());
//! let run = b"20261123T140312Z-9f3a02c7";
//! spool.append(Record { key: b"cp1001", payload: b"{}", run, sequence: 7 })?;
//! let ids: Vec<_> = spool.next_batch(100)?.iter().map(|spooled| spooled.id).collect();
//! for id in ids {
//!     spool.acknowledge(id)?; // on its successful delivery report
//! }
//! assert!(spool.is_empty());
//! # drop(spool);
//! # std::fs::remove_dir_all(&scratch).ok();
//! # Ok::<(), edgeship_spool::Error>(())
//! ```
//!
//! # On disk
//! A directory of segment files `segment-<index: 20 decimal digits>.spool`; other files are
//! left alone. Each segment is a sequence of blocks; a new segment is started at each open
//! and when the current one reaches `Limits::segment_bytes`. A block is one frame
//! (little-endian integers):
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `ESPB` |
//! | 1 | version (1) |
//! | 1 | flags (bit 0: dead, set by an open that found the contents damaged) |
//! | 2 | run identifier length `r` (at most 1024) |
//! | 4 | record count (at least 1) |
//! | 4 | compressed payload length |
//! | 4 | uncompressed payload length |
//! | 8 | first sequence number |
//! | 8 | append time of the first record, milliseconds since the Unix epoch |
//! | 4 | CRC-32 of the compressed payload |
//! | `r` | run identifier |
//! | 4 | CRC-32 of the header's preceding bytes |
//! | … | payload: snappy (raw format) of the records, each `key length: u32`, `value length: u32`, key, value |
//!
//! The checksum is CRC-32 (IEEE 802.3 polynomial, as zlib's) from the `crc32fast` crate. All
//! records of a block share its run and have consecutive sequence numbers from the first: a
//! record of another run, or one whose number does not follow, starts a new block. So the
//! header alone names a block's records exactly, and a block whose payload is damaged is
//! reported lost as `(run, first, first + count - 1)`.
//!
//! # Opening
//! [`Spool::open`] reads every segment whole and checks every block (header checksum,
//! payload checksum, snappy, record lengths):
//! - a block cut short by the end of the file (a write a crash interrupted) is truncated
//!   away ([`Recovery::truncated_bytes`]);
//! - a block whose header is intact but whose payload is not is reported in
//!   [`Recovery::lost`] by sequence range and marked dead in place (its header rewritten
//!   with the dead flag), so that later opens skip it without reporting it again;
//! - bytes that do not frame as a block (a damaged header) are reported by place in
//!   [`Recovery::unreadable`], up to the next intact block header; their records cannot be
//!   named. They are reported at every open until their segment is removed;
//! - a segment without an intact record is removed;
//! - every intact record is held again and replayed, in append order, with new ids.
//!
//! # What is promised
//! Invariant: a segment file is deleted only when every record in it was acknowledged
//! (`ledger.rs`). Records are never removed any other way, except blocks an open (or a replay)
//! found damaged, which are reported.
//!
//! Invariant: after a reopen, every record that was appended, written (by `flush_block`,
//! `sync`, `maybe_sync`, a full block, `close` or drop) and not acknowledged is replayed
//! exactly once by `next_batch` (until requeued), in append order, unless reported lost.
//! Acknowledged records whose segment was not deleted yet replay again (duplicates, which
//! the audit counts apart); a segment is deleted as soon as its last record is acknowledged,
//! and the whole spool as soon as nothing is held, so that window is small.
//!
//! What a crash loses: a killed process loses the records of the block being filled (at
//! most `block_bytes`, or what was appended since the last `maybe_sync` call that wrote).
//! A machine crash or power loss also loses what was written after the last fsync, at most
//! `fsync_interval` of records when `maybe_sync` is called at least that often; a block torn
//! by it is truncated at the next open.
//!
//! Deleting a segment is not fsynced (the directory is, when a segment is created): after a
//! power loss a deleted segment may be back, and its acknowledged records replay again, as
//! duplicates, never as loss.
//!
//! Full: `append` answers [`Error::Full`] (the record is not taken) when the segment files
//! and the block being filled would exceed `max_bytes`, when the file system was below
//! `min_free_bytes` at the last block written (re-checked by `maybe_sync`), or when a write
//! met ENOSPC or EDQUOT. Nothing spooled is lost by it; the caller counts or blocks.
//!
//! Ids are numbered in append order from 0 at every open: an id is good for one open only.

#![forbid(unsafe_code)]

mod batch;
mod block;
mod error;
mod ledger;
mod recover;
mod replay;
mod scan;
mod segment;
mod space;
mod spool;
mod types;

pub use batch::Batch;
pub use error::Error;
pub use spool::Spool;
pub use types::{
    Figures, Limits, LostRange, Record, RecordId, Recovery, Spooled, Unreadable, MAX_RECORD_BYTES,
    MAX_RUN_BYTES,
};
