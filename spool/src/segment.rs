//! Segment files on disk: their names, the directory listing, reading one whole, appending a
//! frame (undone if the write fails), marking a damaged block dead, and the fsyncs that make
//! a new or deleted file durable.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::error::Error;

const PREFIX: &str = "segment-";
const SUFFIX: &str = ".spool";

/// The file name of segment `index`: zero-padded, so names sort as indexes do.
pub(crate) fn name(index: u64) -> String {
    format!("{PREFIX}{index:020}{SUFFIX}")
}

/// The index a segment file name carries, or `None` for any other name.
pub(crate) fn index_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments in `dir`, by index, and how many other entries it holds.
pub(crate) fn list(dir: &Path) -> Result<(Vec<(u64, PathBuf)>, usize), Error> {
    let mut segments = Vec::new();
    let mut unknown = 0;
    let entries = fs::read_dir(dir).map_err(|error| Error::io(dir, error))?;
    for entry in entries {
        let entry = entry.map_err(|error| Error::io(dir, error))?;
        let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
        match entry.file_name().to_str().and_then(index_of) {
            Some(index) if is_file => segments.push((index, entry.path())),
            _ => unknown += 1,
        }
    }
    segments.sort_unstable();
    Ok((segments, unknown))
}

/// The whole of the segment at `path`.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|error| Error::io(path, error))
}

/// Cuts the segment at `path` to `length` bytes (a torn tail).
pub(crate) fn truncate(path: &Path, length: u64) -> Result<(), Error> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|error| Error::io(path, error))?;
    file.set_len(length)
        .and_then(|()| file.sync_data())
        .map_err(|error| Error::io(path, error))
}

/// Overwrites the header at `offset` of the segment at `path` with `header` (the same header
/// with the dead flag), and syncs it.
pub(crate) fn mark_dead(path: &Path, offset: u64, header: &[u8]) -> Result<(), Error> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|error| Error::io(path, error))?;
    file.write_all_at(header, offset)
        .and_then(|()| file.sync_data())
        .map_err(|error| Error::io(path, error))
}

/// Removes the segment at `path`.
pub(crate) fn remove(path: &Path) -> Result<(), Error> {
    fs::remove_file(path).map_err(|error| Error::io(path, error))
}

/// Makes the directory's entries (a created or removed segment) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| Error::io(dir, error))
}

/// The segment being written: its file and length.
#[derive(Debug)]
pub(crate) struct Writer {
    /// Its index.
    pub(crate) index: u64,
    /// Its path.
    pub(crate) path: PathBuf,
    file: File,
    /// Bytes written so far.
    pub(crate) len: u64,
}

impl Writer {
    /// Creates segment `index` in `dir` (it must not exist) and makes its entry durable.
    pub(crate) fn create(dir: &Path, index: u64) -> Result<Writer, Error> {
        let path = dir.join(name(index));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|error| Error::io(&path, error))?;
        sync_dir(dir)?;
        Ok(Writer {
            index,
            path,
            file,
            len: 0,
        })
    }

    /// Appends `frame`. If the write fails, the file is cut back to its previous length so
    /// that no partial frame stays behind (a later frame would follow a torn one), and the
    /// error is returned (ENOSPC as [`Error::Full`]).
    pub(crate) fn append(&mut self, frame: &[u8]) -> Result<(), Error> {
        match self.file.write_all(frame) {
            Ok(()) => {
                self.len += frame.len() as u64;
                Ok(())
            }
            Err(error) => {
                // Best effort: if even this fails, the next open truncates the torn tail.
                let _ = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.seek(SeekFrom::Start(self.len)));
                Err(Error::io(&self.path, error))
            }
        }
    }

    /// Makes what was written durable (fdatasync).
    pub(crate) fn sync(&self) -> Result<(), Error> {
        self.file
            .sync_data()
            .map_err(|error| Error::io(&self.path, error))
    }
}
