//! File input: plain, gzip or snappy-framed newline-delimited JSON, or standard input.
//!
//! The compression is recognised by the stream's first bytes rather than the file name, so
//! `-` works for compressed input too. Lines are handed out as slices of one reused buffer:
//! nothing is allocated per line.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;

use memchr::memchr;

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened.
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The path as given.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// Reading or decompressing failed part way.
    #[error("{path}: read failed after {lines} lines: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// Lines delivered before the failure.
        lines: u64,
        /// The cause.
        source: io::Error,
    },
}

/// The compression of an input stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip (one or more members).
    Gzip,
    /// Snappy framing format (as `snap` writes it).
    SnappyFramed,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const SNAPPY_STREAM_IDENTIFIER: [u8; 10] =
    [0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y'];

/// Recognises the compression from the first bytes of a stream.
pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(&SNAPPY_STREAM_IDENTIFIER) {
        Compression::SnappyFramed
    } else {
        Compression::None
    }
}

/// An opened input: a decompressing reader and, for regular files, the size on disk.
pub struct Input {
    /// The name used in messages (`-` is called `stdin`).
    pub name: String,
    /// The decompressed byte stream.
    pub reader: Box<dyn Read>,
    /// The compression found.
    pub compression: Compression,
    /// Size of the file on disk, when known.
    pub size: Option<u64>,
}

/// Opens `path` (`-` for standard input) and wraps it in the decompressor its first bytes call
/// for.
pub fn open(path: &str) -> Result<Input, InputError> {
    let open_error = |source| InputError::Open {
        path: path.to_string(),
        source,
    };
    let (name, mut raw, size): (String, Box<dyn Read>, Option<u64>) = if path == "-" {
        ("stdin".to_string(), Box::new(io::stdin()), None)
    } else {
        let file = File::open(Path::new(path)).map_err(open_error)?;
        let meta = file.metadata().map_err(open_error)?;
        if meta.is_dir() {
            return Err(open_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            )));
        }
        (path.to_string(), Box::new(file), Some(meta.len()))
    };
    let mut head = [0u8; 10];
    let mut got = 0;
    while got < head.len() {
        match raw.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(open_error(e)),
        }
    }
    let compression = detect(&head[..got]);
    let stream = Cursor::new(head[..got].to_vec()).chain(raw);
    let reader: Box<dyn Read> = match compression {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::SnappyFramed => Box::new(snap::read::FrameDecoder::new(stream)),
    };
    Ok(Input {
        name,
        reader,
        compression,
        size,
    })
}

/// The longest line delivered, in bytes: a longer one (a compressed member without newlines,
/// a binary file) is skipped up to its newline and reported as [`Line::TooLong`], so reading
/// never holds more than this much of one line. Production records are about a kilobyte.
pub const MAX_LINE: usize = 16 << 20;

/// The first size of the line buffer.
const INITIAL_BUFFER: usize = 1 << 20;

/// One line as [`for_each_line`] hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line's bytes, without `\n` or a trailing `\r`.
    Text(&'a [u8]),
    /// The line was longer than [`MAX_LINE`]; its bytes were skipped.
    TooLong,
}

/// Calls `on_line` with each line (see [`Line`]) and its number from 1, and `on_progress`
/// with the bytes consumed so far after each buffer refill. A last line without a newline is
/// still a line. `on_progress` also gets the lines so far. Returns the number of lines.
pub fn for_each_line(
    reader: &mut dyn Read,
    on_line: impl FnMut(Line<'_>, u64),
    on_progress: impl FnMut(u64, u64),
) -> io::Result<u64> {
    for_each_line_capped(reader, MAX_LINE, on_line, on_progress)
}

/// [`for_each_line`] with lines capped at `cap` bytes.
fn for_each_line_capped(
    reader: &mut dyn Read,
    cap: usize,
    mut on_line: impl FnMut(Line<'_>, u64),
    mut on_progress: impl FnMut(u64, u64),
) -> io::Result<u64> {
    // One byte more than the cap: a full buffer without a newline is a line over the cap.
    let limit = cap.saturating_add(1);
    let mut buf = vec![0u8; INITIAL_BUFFER.min(limit)];
    let mut filled = 0usize;
    let mut line_no = 0u64;
    let mut consumed = 0u64;
    // Inside a line over the cap: its bytes are dropped until its newline.
    let mut skipping = false;
    loop {
        if filled == buf.len() {
            if buf.len() >= limit {
                consumed += filled as u64;
                filled = 0;
                skipping = true;
            } else {
                // One line is longer than the buffer: make room rather than split it.
                buf.resize(buf.len().saturating_mul(2).min(limit), 0);
            }
        }
        let n = match reader.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if skipping || filled > 0 {
                line_no += 1;
                let line = if skipping {
                    Line::TooLong
                } else {
                    Line::Text(trim_cr(&buf[..filled]))
                };
                on_line(line, line_no);
            }
            on_progress(consumed + filled as u64, line_no);
            return Ok(line_no);
        }
        let scan_from = filled;
        filled += n;
        let mut start = 0usize;
        let mut search = scan_from;
        while let Some(at) = memchr(b'\n', &buf[search..filled]) {
            let end = search + at;
            line_no += 1;
            let line = if std::mem::take(&mut skipping) {
                Line::TooLong
            } else {
                Line::Text(trim_cr(&buf[start..end]))
            };
            on_line(line, line_no);
            start = end + 1;
            search = start;
        }
        consumed += start as u64;
        buf.copy_within(start..filled, 0);
        filled -= start;
        on_progress(consumed, line_no);
    }
}

#[inline]
fn trim_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', rest)) => rest,
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut reader = Cursor::new(data.to_vec());
        let n = for_each_line(
            &mut reader,
            |l, _| match l {
                Line::Text(l) => out.push(l.to_vec()),
                Line::TooLong => out.push(b"(too long)".to_vec()),
            },
            |_, _| {},
        )
        .expect("reads");
        assert_eq!(n as usize, out.len());
        out
    }

    #[test]
    fn splits_lines_keeping_blank_ones_and_a_last_unterminated_one() {
        assert_eq!(
            lines_of(b"a\r\n\nb\nc"),
            vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert!(lines_of(b"").is_empty());
    }

    #[test]
    fn lines_longer_than_the_buffer_survive() {
        let long = vec![b'x'; 3 << 20];
        let mut data = long.clone();
        data.extend_from_slice(b"\nshort\n");
        assert_eq!(lines_of(&data), vec![long, b"short".to_vec()]);
    }

    #[test]
    fn a_line_over_the_cap_is_skipped_to_its_newline_and_reported() {
        let mut data = b"short\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 100));
        data.extend_from_slice(b"\n12345678\nlast");
        data.extend(std::iter::repeat_n(b'y', 50));
        let mut reader = Cursor::new(data);
        let mut got = Vec::new();
        let lines = for_each_line_capped(
            &mut reader,
            8,
            |line, number| got.push((number, line.to_owned_text())),
            |_, _| {},
        )
        .expect("reads");
        assert_eq!(lines, 4);
        assert_eq!(
            got,
            vec![
                (1, Some(b"short".to_vec())),
                (2, None),
                (3, Some(b"12345678".to_vec())),
                (4, None),
            ]
        );
    }

    impl Line<'_> {
        fn to_owned_text(self) -> Option<Vec<u8>> {
            match self {
                Line::Text(text) => Some(text.to_vec()),
                Line::TooLong => None,
            }
        }
    }

    #[test]
    fn compression_is_recognised_by_content() {
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(detect(&SNAPPY_STREAM_IDENTIFIER), Compression::SnappyFramed);
        assert_eq!(detect(b"{\"a\":1}"), Compression::None);
        assert_eq!(detect(b""), Compression::None);
    }
}
