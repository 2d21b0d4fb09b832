//! The block: the unit the spool compresses, checksums and writes. Its frame (header, run
//! identifier, header checksum, snappy payload) is encoded by [`Builder::encode`] and read
//! back by [`Header::parse`] and [`decode`]; the layout is in the crate documentation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::types::{Record, MAX_RECORD_BYTES};

/// The first four bytes of every block.
pub(crate) const MAGIC: [u8; 4] = *b"ESPB";
/// The frame version this code writes and reads.
pub(crate) const VERSION: u8 = 1;
/// The flag bit of a block an open found damaged and reported: skipped from then on.
pub(crate) const FLAG_DEAD: u8 = 1;
/// Header bytes before the run identifier.
pub(crate) const FIXED: usize = 40;
/// Header bytes around the run identifier (the fixed part and the header checksum).
pub(crate) const OVERHEAD: usize = FIXED + 4;
/// Per-record bytes in a block's payload besides key and value (their two lengths).
pub(crate) const RECORD_OVERHEAD: usize = 8;
/// The largest uncompressed payload a header may announce: one largest record, or a full
/// block, whichever is larger, with room to spare. It bounds what a damaged header can make
/// an open allocate.
pub(crate) const MAX_PAYLOAD: usize = MAX_RECORD_BYTES + (16 << 20);
/// A block is written once its payload reaches this many bytes, whatever `block_bytes` says,
/// so that one more record never takes it past [`MAX_PAYLOAD`] (nor its offsets past u32).
pub(crate) const MAX_FILL: usize = MAX_PAYLOAD - MAX_RECORD_BYTES - RECORD_OVERHEAD;

/// A block header, as parsed (its checksum already verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    /// Bit 0: dead.
    pub(crate) flags: u8,
    /// Records in the block.
    pub(crate) count: u32,
    /// Bytes of the snappy payload after the header.
    pub(crate) compressed: u32,
    /// Bytes of the payload once decompressed.
    pub(crate) uncompressed: u32,
    /// The first record's sequence number; the others follow it one by one.
    pub(crate) first_sequence: u64,
    /// Milliseconds since the Unix epoch when the block's first record was appended.
    pub(crate) appended_ms: u64,
    /// CRC-32 of the compressed payload.
    pub(crate) payload_crc: u32,
    /// The run identifier of every record in the block.
    pub(crate) run: &'a [u8],
}

/// Why bytes do not parse as a block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Fewer bytes than the header needs: a torn write if at the end of a file.
    Short,
    /// Wrong magic, version, sizes or checksum.
    Bad,
}

impl<'a> Header<'a> {
    /// The header at the start of `bytes`, and its length.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<(Header<'a>, usize), HeaderError> {
        // A torn write leaves a prefix of a correct header: bytes that already disagree with
        // the magic and version are damage, however few.
        let expected = [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], VERSION];
        if bytes
            .iter()
            .zip(expected)
            .any(|(byte, wanted)| *byte != wanted)
        {
            return Err(HeaderError::Bad);
        }
        let fixed = bytes.get(..FIXED).ok_or(HeaderError::Short)?;
        let run_len = usize::from(u16_at(fixed, 6));
        if run_len > crate::types::MAX_RUN_BYTES {
            return Err(HeaderError::Bad);
        }
        let length = OVERHEAD + run_len;
        let all = bytes.get(..length).ok_or(HeaderError::Short)?;
        if crc32fast::hash(&all[..length - 4]) != u32_at(all, length - 4) {
            return Err(HeaderError::Bad);
        }
        let header = Header {
            flags: fixed[5],
            count: u32_at(fixed, 8),
            compressed: u32_at(fixed, 12),
            uncompressed: u32_at(fixed, 16),
            first_sequence: u64_at(fixed, 20),
            appended_ms: u64_at(fixed, 28),
            payload_crc: u32_at(fixed, 36),
            run: &all[FIXED..FIXED + run_len],
        };
        if header.uncompressed as usize > MAX_PAYLOAD
            || header.compressed as usize > snap::raw::max_compress_len(MAX_PAYLOAD)
            || header.count == 0
            || header
                .first_sequence
                .checked_add(u64::from(header.count) - 1)
                .is_none()
        {
            return Err(HeaderError::Bad);
        }
        Ok((header, length))
    }

    /// The last record's sequence number.
    pub(crate) fn last_sequence(&self) -> u64 {
        self.first_sequence + u64::from(self.count) - 1
    }

    /// When the block's first record was appended.
    pub(crate) fn appended(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.appended_ms)
    }
}

/// `header` (of `length` bytes) rewritten with the dead flag and its checksum recomputed.
pub(crate) fn dead_header(header_bytes: &[u8]) -> Vec<u8> {
    let mut bytes = header_bytes.to_vec();
    bytes[5] |= FLAG_DEAD;
    let end = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// Where one record lies in a decoded payload: key and value as `start..end` offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Slot {
    /// Key start.
    pub(crate) key: u32,
    /// Value start (the key ends here).
    pub(crate) payload: u32,
    /// Value end.
    pub(crate) end: u32,
}

/// Walks a decoded payload of `count` records into `slots` (cleared first). False when the
/// lengths do not add up to exactly the payload: the block is damaged.
pub(crate) fn index(payload: &[u8], count: u32, slots: &mut Vec<Slot>) -> bool {
    slots.clear();
    let mut at = 0usize;
    for _ in 0..count {
        let Some(lengths) = payload.get(at..at + RECORD_OVERHEAD) else {
            return false;
        };
        let key_len = u32_at(lengths, 0) as usize;
        let payload_len = u32_at(lengths, 4) as usize;
        let key = at + RECORD_OVERHEAD;
        let end = key.saturating_add(key_len).saturating_add(payload_len);
        if end > payload.len() {
            return false;
        }
        // Fits in u32: a payload is at most MAX_PAYLOAD bytes.
        slots.push(Slot {
            key: key as u32,
            payload: (key + key_len) as u32,
            end: end as u32,
        });
        at = end;
    }
    at == payload.len()
}

/// Decompresses the payload of `header` from `compressed` into `out` and indexes its records
/// into `slots`. False when its checksum, snappy or the record lengths disagree.
pub(crate) fn decode(
    header: &Header<'_>,
    compressed: &[u8],
    decoder: &mut snap::raw::Decoder,
    out: &mut Vec<u8>,
    slots: &mut Vec<Slot>,
) -> bool {
    if crc32fast::hash(compressed) != header.payload_crc {
        return false;
    }
    match snap::raw::decompress_len(compressed) {
        Ok(length) if length == header.uncompressed as usize => {}
        _ => return false,
    }
    out.resize(header.uncompressed as usize, 0);
    match decoder.decompress(compressed, out) {
        Ok(length) if length == out.len() => index(out, header.count, slots),
        _ => false,
    }
}

/// The block being filled: its records encoded as the payload will hold them, with their
/// slots, the run and first sequence number they share, and when it was started. Its buffers
/// are reused from block to block.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    /// The uncompressed payload so far.
    pub(crate) payload: Vec<u8>,
    /// Where each record lies in it.
    pub(crate) slots: Vec<Slot>,
    /// The run of every record in it.
    pub(crate) run: Vec<u8>,
    /// The first record's sequence number.
    pub(crate) first_sequence: u64,
    /// When the first record was appended.
    pub(crate) started: Option<SystemTime>,
}

impl Builder {
    /// Records in the block.
    pub(crate) fn count(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Whether `record` can join this block: same run, the next sequence number. (An empty
    /// block takes anything.)
    pub(crate) fn continues(&self, record: &Record<'_>) -> bool {
        self.slots.is_empty()
            || (record.run == self.run.as_slice()
                && Some(record.sequence)
                    == self.first_sequence.checked_add(u64::from(self.count())))
    }

    /// Adds `record` (which [`continues`](Builder::continues) the block).
    // hot path: runs per spilled record; it appends into reused buffers only.
    pub(crate) fn push(&mut self, record: &Record<'_>, now: impl FnOnce() -> SystemTime) {
        if self.slots.is_empty() {
            self.run.clear();
            self.run.extend_from_slice(record.run);
            self.first_sequence = record.sequence;
            self.started = Some(now());
        }
        // Both fit in u32: a record is at most MAX_RECORD_BYTES.
        self.payload
            .extend_from_slice(&(record.key.len() as u32).to_le_bytes());
        self.payload
            .extend_from_slice(&(record.payload.len() as u32).to_le_bytes());
        let key = self.payload.len();
        self.payload.extend_from_slice(record.key);
        let payload = self.payload.len();
        self.payload.extend_from_slice(record.payload);
        self.slots.push(Slot {
            key: key as u32,
            payload: payload as u32,
            end: self.payload.len() as u32,
        });
    }

    /// Compresses the block into `frame` (replacing its contents) with its header.
    pub(crate) fn encode(&self, encoder: &mut snap::raw::Encoder, frame: &mut Vec<u8>) {
        let header_len = OVERHEAD + self.run.len();
        frame.clear();
        frame.resize(
            header_len + snap::raw::max_compress_len(self.payload.len()),
            0,
        );
        // Compressing into a buffer of max_compress_len bytes cannot fail; an empty payload
        // (never encoded: a block has at least one record) would compress to one byte.
        let compressed = encoder
            .compress(&self.payload, &mut frame[header_len..])
            .unwrap_or(0);
        frame.truncate(header_len + compressed);
        let appended_ms = self
            .started
            .and_then(|started| started.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |elapsed| elapsed.as_millis() as u64);
        let payload_crc = crc32fast::hash(&frame[header_len..]);
        let header = &mut frame[..header_len];
        header[..4].copy_from_slice(&MAGIC);
        header[4] = VERSION;
        header[5] = 0;
        header[6..8].copy_from_slice(&(self.run.len() as u16).to_le_bytes());
        header[8..12].copy_from_slice(&self.count().to_le_bytes());
        header[12..16].copy_from_slice(&(compressed as u32).to_le_bytes());
        header[16..20].copy_from_slice(&(self.payload.len() as u32).to_le_bytes());
        header[20..28].copy_from_slice(&self.first_sequence.to_le_bytes());
        header[28..36].copy_from_slice(&appended_ms.to_le_bytes());
        header[36..40].copy_from_slice(&payload_crc.to_le_bytes());
        header[FIXED..FIXED + self.run.len()].copy_from_slice(&self.run);
        let crc = crc32fast::hash(&header[..header_len - 4]);
        header[header_len - 4..].copy_from_slice(&crc.to_le_bytes());
    }

    /// Empties the block, keeping its buffers.
    pub(crate) fn clear(&mut self) {
        self.payload.clear();
        self.slots.clear();
        self.started = None;
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}
