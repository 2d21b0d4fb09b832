//! What the spool holds, in memory: its segments and blocks in append order, each record's
//! acknowledgement (a bit per record id), and the counts that say when a segment may go.
//!
//! Record ids are numbered in append order from 0 at every open, so a block or segment is a
//! range of ids and the one holding an id is found by binary search.
//!
//! Invariant: a segment is handed out for deletion ([`Ledger::take_done`]) only when every
//! record in it is acknowledged.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A segment file and the ids of its records.
#[derive(Debug)]
pub(crate) struct SegmentEntry {
    /// Its index (file name).
    pub(crate) index: u64,
    /// Its path.
    pub(crate) path: PathBuf,
    /// Its bytes on disk.
    pub(crate) bytes: u64,
    /// Its first record id.
    pub(crate) first: u64,
    /// One past its last record id.
    pub(crate) end: u64,
    /// Its acknowledged records.
    pub(crate) acked: u64,
}

/// A written block and the ids of its records.
#[derive(Debug, Clone)]
pub(crate) struct BlockEntry {
    /// The index of the segment holding it.
    pub(crate) segment: u64,
    /// Where its frame starts in the segment.
    pub(crate) offset: u64,
    /// Its frame's length.
    pub(crate) frame: u64,
    /// Its first record id.
    pub(crate) first: u64,
    /// Its records.
    pub(crate) count: u32,
    /// Its acknowledged records.
    pub(crate) acked: u32,
    /// When its first record was appended.
    pub(crate) appended: SystemTime,
}

/// The spool's bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Segments, oldest first.
    pub(crate) segments: VecDeque<SegmentEntry>,
    /// Written blocks, oldest first.
    pub(crate) blocks: VecDeque<BlockEntry>,
    /// The id the next appended record gets.
    pub(crate) next: u64,
    /// The first id of the block being filled (equal to `next` when it is empty).
    pub(crate) open_first: u64,
    /// Acknowledged records of the block being filled.
    pub(crate) open_acked: u32,
    /// Records held: appended or recovered, not acknowledged.
    pub(crate) held: u64,
    /// Bytes of the segment files.
    pub(crate) bytes: u64,
    /// An acknowledgement or write may have completed a segment since the last
    /// [`take_done`](Ledger::take_done).
    maybe_done: bool,
    acks: AckBits,
}

impl Ledger {
    /// A record was added to the block being filled; its id.
    // hot path: per spilled record, no allocation (the ack bits grow by a word per 64).
    pub(crate) fn reserve(&mut self) -> u64 {
        let id = self.next;
        self.reserve_many(1);
        id
    }

    /// `count` records were added to the block being filled (or recovered at open).
    pub(crate) fn reserve_many(&mut self, count: u32) {
        self.next += u64::from(count);
        self.held += u64::from(count);
        self.acks.cover(self.next);
    }

    /// Every record of the block being filled is acknowledged (nothing is held): it need not
    /// be written.
    pub(crate) fn discard_open(&mut self) {
        self.open_first = self.next;
        self.open_acked = 0;
    }

    /// The block being filled (ids `open_first..next`) was written as the frame at `offset`
    /// of `frame` bytes in segment `index` (at `path`).
    pub(crate) fn written(
        &mut self,
        index: u64,
        path: &Path,
        at: (u64, u64),
        appended: SystemTime,
    ) {
        let (offset, frame) = at;
        let count = (self.next - self.open_first) as u32;
        if self.segments.back().is_none_or(|last| last.index != index) {
            self.segments.push_back(SegmentEntry {
                index,
                path: path.to_path_buf(),
                bytes: 0,
                first: self.open_first,
                end: self.open_first,
                acked: 0,
            });
        }
        if let Some(segment) = self.segments.back_mut() {
            self.bytes = self.bytes - segment.bytes + offset + frame;
            segment.bytes = offset + frame;
            segment.end = self.next;
            segment.acked += u64::from(self.open_acked);
            self.maybe_done |= segment.acked == segment.end - segment.first;
        }
        self.blocks.push_back(BlockEntry {
            segment: index,
            offset,
            frame,
            first: self.open_first,
            count,
            acked: self.open_acked,
            appended,
        });
        self.open_first = self.next;
        self.open_acked = 0;
    }

    /// Whether `id` was handed out by this ledger and is not acknowledged.
    pub(crate) fn is_held(&self, id: u64) -> bool {
        id < self.next && self.acks.get(id) == Some(false)
    }

    /// Acknowledges `id`; false if it is not held.
    pub(crate) fn acknowledge(&mut self, id: u64) -> bool {
        if !self.is_held(id) {
            return false;
        }
        self.acks.set(id);
        self.held -= 1;
        if id >= self.open_first {
            self.open_acked += 1;
            self.maybe_done |= self.held == 0;
            return true;
        }
        let block = self.blocks.partition_point(|block| block.first <= id);
        if let Some(block) = block.checked_sub(1).and_then(|at| self.blocks.get_mut(at)) {
            block.acked += 1;
        }
        let segment = self.segments.partition_point(|segment| segment.first <= id);
        if let Some(segment) = segment
            .checked_sub(1)
            .and_then(|at| self.segments.get_mut(at))
        {
            segment.acked += 1;
            self.maybe_done |= segment.acked == segment.end - segment.first;
        }
        self.maybe_done |= self.held == 0;
        true
    }

    /// The written block holding `id`.
    pub(crate) fn block_of(&self, id: u64) -> Option<&BlockEntry> {
        let at = self.blocks.partition_point(|block| block.first <= id);
        self.blocks
            .get(at.checked_sub(1)?)
            .filter(|block| id < block.first + u64::from(block.count))
    }

    /// The path of segment `index`.
    pub(crate) fn path_of(&self, index: u64) -> Option<&PathBuf> {
        self.segments
            .iter()
            .find(|segment| segment.index == index)
            .map(|segment| &segment.path)
    }

    /// Takes out every segment whose records are all acknowledged, except the one being
    /// written (`writing`) while records are still held (more may join it). Cheap when no
    /// acknowledgement completed a segment since the last call.
    pub(crate) fn take_done(&mut self, writing: Option<u64>) -> Vec<SegmentEntry> {
        if !self.maybe_done {
            return Vec::new();
        }
        self.maybe_done = false;
        let held = self.held;
        let keep = |segment: &SegmentEntry| {
            segment.acked < segment.end - segment.first
                || (Some(segment.index) == writing && held > 0)
        };
        let mut done = Vec::new();
        let mut at = 0;
        while at < self.segments.len() {
            if keep(&self.segments[at]) {
                at += 1;
            } else if let Some(segment) = self.segments.remove(at) {
                done.push(segment);
            }
        }
        if done.is_empty() {
            return done;
        }
        self.blocks
            .retain(|block| !done.iter().any(|segment| segment.index == block.segment));
        for segment in &done {
            self.bytes -= segment.bytes;
        }
        let floor = self
            .segments
            .front()
            .map_or(self.open_first, |next| next.first);
        self.acks.forget_below(floor);
        done
    }

    /// The segment being written was closed: it may be complete already.
    pub(crate) fn rolled(&mut self) {
        self.maybe_done = true;
    }

    /// When the oldest held record's block was started (`open` for the block being
    /// filled), if any record is held.
    pub(crate) fn oldest(&self, open: Option<SystemTime>) -> Option<SystemTime> {
        let written = self
            .blocks
            .iter()
            .find(|block| block.acked < block.count)
            .map(|block| block.appended);
        let filling = (self.next - self.open_first > u64::from(self.open_acked))
            .then_some(open)
            .flatten();
        written.or(filling)
    }

    /// Segment `index`'s size is `bytes` (an open found bytes besides its intact blocks).
    pub(crate) fn resize_last(&mut self, bytes: u64) {
        if let Some(segment) = self.segments.back_mut() {
            self.bytes = self.bytes - segment.bytes + bytes;
            segment.bytes = bytes;
        }
    }
}

/// One bit per record id from `base` (a multiple of 64) up: set when acknowledged.
#[derive(Debug, Default)]
struct AckBits {
    base: u64,
    words: VecDeque<u64>,
}

impl AckBits {
    /// Makes room for ids below `end`.
    fn cover(&mut self, end: u64) {
        while self.base + 64 * self.words.len() as u64 <= end.saturating_sub(1) {
            self.words.push_back(0);
        }
    }

    /// Whether `id` is acknowledged; `None` for an id below the window (its segment is gone:
    /// acknowledged) or beyond it.
    fn get(&self, id: u64) -> Option<bool> {
        let offset = id.checked_sub(self.base)?;
        let word = self.words.get((offset / 64) as usize)?;
        Some(word & (1 << (offset % 64)) != 0)
    }

    fn set(&mut self, id: u64) {
        let offset = id - self.base;
        if let Some(word) = self.words.get_mut((offset / 64) as usize) {
            *word |= 1 << (offset % 64);
        }
    }

    /// Drops the words wholly below `floor`.
    fn forget_below(&mut self, floor: u64) {
        while self.base + 64 <= floor && !self.words.is_empty() {
            self.words.pop_front();
            self.base += 64;
        }
    }
}
