//! An open's check of one segment file's bytes: each block framed, its checksum and contents
//! verified; damaged blocks, unframable bytes and a torn tail told apart. Pure: it reads a
//! byte slice and says what to do, [`crate::segment`] and the spool do it.

use std::time::SystemTime;

use crate::block::{self, Header, HeaderError, Slot};
use crate::types::LostRange;

/// An intact block of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Intact {
    /// Where its frame starts in the file.
    pub(crate) offset: u64,
    /// Its frame's length.
    pub(crate) frame: u64,
    /// Its records.
    pub(crate) count: u32,
    /// When its first record was appended.
    pub(crate) appended: SystemTime,
}

/// A block whose header is intact but whose contents are not: its records are lost, and the
/// header is to be marked dead so that no later open reports it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damaged {
    /// Where its frame starts.
    pub(crate) offset: u64,
    /// The header's bytes, to rewrite with the dead flag.
    pub(crate) header: Vec<u8>,
    /// Its records.
    pub(crate) lost: LostRange,
}

/// What a segment's bytes hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Intact blocks, in file order.
    pub(crate) intact: Vec<Intact>,
    /// Blocks with an intact header and damaged contents.
    pub(crate) damaged: Vec<Damaged>,
    /// Byte ranges (`offset`, `length`) that frame as no block.
    pub(crate) unreadable: Vec<(u64, u64)>,
    /// Where the file is to end: past the last complete block (or unreadable range). Bytes
    /// after it are a torn write.
    pub(crate) end: u64,
}

/// Reusable buffers for scanning: the decompressed payload and its record slots.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    decoder: snap::raw::Decoder,
    payload: Vec<u8>,
    slots: Vec<Slot>,
}

impl Scratch {
    /// Fresh buffers.
    pub(crate) fn new() -> Scratch {
        Scratch::default()
    }
}

/// Scans `bytes`, a whole segment file.
///
/// A header cut short by the end of the file, or an intact header whose payload runs past
/// it, is a torn tail (the last write of a crash): `end` stops before it. A header that is
/// complete but wrong (magic, version, sizes, checksum) makes the bytes up to the next block
/// whose header is intact unreadable; so does such a header at the end of the file when no
/// intact block follows, since a torn write leaves a prefix of a correct header, never a
/// wrong one.
pub(crate) fn scan(bytes: &[u8], scratch: &mut Scratch) -> Scan {
    let mut scan = Scan::default();
    let mut at = 0usize;
    while at < bytes.len() {
        match Header::parse(&bytes[at..]) {
            Ok((header, header_len)) => {
                let start = at + header_len;
                let Some(compressed) = bytes.get(start..start + header.compressed as usize) else {
                    break; // A torn tail: the payload was not all written.
                };
                record(
                    &mut scan,
                    at,
                    &header,
                    &bytes[at..start],
                    compressed,
                    scratch,
                );
                at = start + compressed.len();
            }
            Err(HeaderError::Short) => break,
            Err(HeaderError::Bad) => {
                let next = resync(bytes, at + 1).unwrap_or(bytes.len());
                scan.unreadable.push((at as u64, (next - at) as u64));
                at = next;
            }
        }
        scan.end = at as u64;
    }
    scan
}

/// Files the block at `at` as intact, damaged, or (dead already) nothing.
fn record(
    scan: &mut Scan,
    at: usize,
    header: &Header<'_>,
    header_bytes: &[u8],
    compressed: &[u8],
    scratch: &mut Scratch,
) {
    if header.flags & block::FLAG_DEAD != 0 {
        return;
    }
    let Scratch {
        decoder,
        payload,
        slots,
    } = scratch;
    if block::decode(header, compressed, decoder, payload, slots) {
        scan.intact.push(Intact {
            offset: at as u64,
            frame: (header_bytes.len() + compressed.len()) as u64,
            count: header.count,
            appended: header.appended(),
        });
    } else {
        scan.damaged.push(Damaged {
            offset: at as u64,
            header: header_bytes.to_vec(),
            lost: LostRange {
                run: header.run.to_vec(),
                first: header.first_sequence,
                last: header.last_sequence(),
            },
        });
    }
}

/// The offset of the next complete block at or after `from` whose header is intact.
fn resync(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(found) = find_magic(bytes.get(at..)?) {
        let candidate = at + found;
        if let Ok((header, length)) = Header::parse(&bytes[candidate..]) {
            if candidate + length + header.compressed as usize <= bytes.len() {
                return Some(candidate);
            }
        }
        at = candidate + 1;
    }
    None
}

fn find_magic(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(block::MAGIC.len())
        .position(|window| window == block::MAGIC)
}
