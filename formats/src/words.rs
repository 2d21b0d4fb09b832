//! Eight bytes at a time: the word loads and bit tricks that JSON escaping, header-name
//! comparison and column splitting share.
//!
//! The tricks ("determine if a word has a byte less than n", Hacker's Delight style) mark a
//! byte by setting its high bit. A borrow can also mark a byte above a true mark, never one
//! below it, so the lowest mark of a word is always exact ([`first_marked`]).

/// `0x01` in every byte.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte.
pub(crate) const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Eight bytes (`chunk.len() == 8`) as a little-endian word.
#[inline(always)]
pub(crate) fn load(chunk: &[u8]) -> u64 {
    let mut word = [0_u8; 8];
    word.copy_from_slice(chunk);
    u64::from_le_bytes(word)
}

/// Marks the bytes of `word` that are zero.
#[inline(always)]
pub(crate) fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGH_BITS
}

/// Marks the bytes of `word` equal to `byte`.
#[inline(always)]
pub(crate) fn bytes_equal(word: u64, byte: u8) -> u64 {
    zero_bytes(word ^ (ONES * u64::from(byte)))
}

/// The index of the lowest marked byte (8 when none is).
#[inline(always)]
pub(crate) fn first_marked(marks: u64) -> usize {
    (marks.trailing_zeros() / 8) as usize
}
