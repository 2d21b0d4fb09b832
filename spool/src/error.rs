//! The spool's one error type.

use std::io;
use std::path::PathBuf;

use crate::types::LostRange;

/// What a spool operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spool reached `max_bytes`, or the file system is below its free-space reserve, or a
    /// write met ENOSPC/EDQUOT. The record was not taken; nothing already spooled is lost.
    #[error("spool full")]
    Full,
    /// A record larger than the spool keeps (or a run identifier longer than it keeps).
    #[error("record of {bytes} bytes (run {run_bytes} bytes) is larger than the spool keeps")]
    TooLarge {
        /// Key plus payload bytes.
        bytes: usize,
        /// Run identifier bytes.
        run_bytes: usize,
    },
    /// An id the spool did not hand out, or one already acknowledged.
    #[error("record id {0} is not held by this spool")]
    UnknownRecord(u64),
    /// A block that was intact at open no longer decodes (the file changed under the spool):
    /// its records are set aside as acknowledged and reported here by range.
    #[error("spooled block lost on replay: run {:?} sequence {}..={}", String::from_utf8_lossy(&.0.run), .0.first, .0.last)]
    LostOnReplay(LostRange),
    /// An I/O error on a spool file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl Error {
    /// `source` on `path`, with ENOSPC and EDQUOT turned into [`Error::Full`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        let no_space = [rustix::io::Errno::NOSPC, rustix::io::Errno::DQUOT]
            .iter()
            .any(|errno| source.raw_os_error() == Some(errno.raw_os_error()));
        if no_space {
            Error::Full
        } else {
            Error::Io {
                path: path.into(),
                source,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::Error;

    #[test]
    fn no_space_is_full_and_other_errors_keep_their_path() {
        // /dev/full answers every write with ENOSPC: the error a full disk gives.
        let mut full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("opens /dev/full");
        let no_space = full
            .write_all(b"x")
            .and_then(|()| full.flush())
            .expect_err("/dev/full is full");
        assert!(matches!(Error::io("/dev/full", no_space), Error::Full));
        let missing = std::fs::read("/nonexistent/spool").expect_err("no such file");
        let error = Error::io("/nonexistent/spool", missing);
        assert!(matches!(error, Error::Io { .. }));
        assert!(
            error.to_string().starts_with("/nonexistent/spool: "),
            "{error}"
        );
    }
}
