//! A capture file (`varnishlog -w`) walked record by record in edgeship's own read-only
//! mapping of it, the way the fast path walks the records of a batch from the live ring.
//!
//! libvarnishapi still opens the file and judges it (its header, that it is a regular file it
//! could map, `VSL_Check` on the first record); only then is the same file mapped here and the
//! cursor's first record looked up in it, by content, near the start. From there the records
//! follow one another by their header words (`vsl_int.h`'s layout, as in a batch), with no
//! call into the library per record: `VSL_Next` cost as much as the grouping of a record.
//! A record whose length runs past the end of the file is a read error, as for the cursor.
//!
//! The mapping is owned by [`MappedLog`] and unmapped when it is dropped; records handed out
//! point into it and stay valid as long as it lives, which the reader arranges (the engine
//! holding it outlives every transaction that references it).

use std::fs::File;
use std::path::Path;

use memmap2::{Advice, Mmap};

use crate::ffi;

/// How far into the file the first record may start (libvarnishapi's file header is a few
/// bytes).
const FIRST_RECORD_WITHIN: usize = 64;

/// Bytes per log word.
const WORD: usize = std::mem::size_of::<u32>();

/// A mapped capture file and the position of the next record in it.
pub(crate) struct MappedLog {
    /// Owns the mapping `next` and `end` point into.
    _map: Mmap,
    /// The next record's first word.
    next: *const u32,
    /// One past the last whole word of the file.
    end: *const u32,
    /// Whether the file ends inside a word (then it cannot end on a record boundary).
    ragged: bool,
}

/// What [`MappedLog::next`] found.
pub(crate) enum Walk {
    /// A complete record (header and payload words inside the mapping).
    Record(*const u32),
    /// The end of the file, right after the last record.
    End,
    /// A record that runs past the end of the file (a truncated capture).
    Truncated,
}

impl MappedLog {
    /// Maps `path` and positions the walk at the record whose bytes are `first`, the cursor's
    /// first record of the same file. `None` when the file cannot be mapped or the record is
    /// not found near the start (the caller then keeps reading through the cursor).
    pub(crate) fn open(path: &Path, first: &[u8]) -> Option<MappedLog> {
        let file = File::open(path).ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        // SAFETY: the mapping is read-only and private to this reader. As with libvarnishapi's
        // own mapping of the same file, a capture truncated by another process while it is
        // read would fault; captures are written once, then read.
        let map = unsafe { Mmap::map(&file) }.ok()?;
        // Sequential reading: the kernel reads ahead and maps pages in larger runs.
        let _ = map.advise(Advice::Sequential);
        let bytes: &[u8] = &map;
        let start = (0..=FIRST_RECORD_WITHIN)
            .step_by(WORD)
            .find(|&offset| bytes.get(offset..offset + first.len()) == Some(first))?;
        // Records are read as words: the start must be word-aligned in memory (the mapping is
        // page-aligned, so it is when the offset is).
        if (bytes.as_ptr() as usize + start) % std::mem::align_of::<u32>() != 0 {
            return None;
        }
        let words = (bytes.len() - start) / WORD;
        let ragged = (bytes.len() - start) % WORD != 0;
        // SAFETY: `start` and `start + words * WORD` are within (or one past) the mapping.
        let (next, end) = unsafe {
            let next = bytes.as_ptr().add(start).cast::<u32>();
            (next, next.add(words))
        };
        Some(MappedLog {
            _map: map,
            next,
            end,
            ragged,
        })
    }

    /// The next record, if the file has one.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Walk {
        // SAFETY: `next` and `end` point into (or one past) one mapping,
        // `next <= end`, so their distance is a word count.
        let left = unsafe { self.end.offset_from(self.next) } as usize;
        if left < ffi::VSL_OVERHEAD {
            return if left == 0 && !self.ragged {
                Walk::End
            } else {
                Walk::Truncated
            };
        }
        // SAFETY: at least the two header words are inside the mapping.
        let words = ffi::vsl_next_words(unsafe { *self.next });
        if words > left {
            return Walk::Truncated;
        }
        let record = self.next;
        // SAFETY: the record's words are inside the mapping, so the next record starts inside
        // it or one past its last word.
        self.next = unsafe { self.next.add(words) };
        Walk::Record(record)
    }
}
