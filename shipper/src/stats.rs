//! The statistics file (`log.statistics.file`): varnishkafka's `{ "varnishkafka": {...} }`
//! line, edgeship's own counters as `{ "edgeship": {...} }`, and librdkafka's statistics as
//! `{ "kafka": ... }`, each one JSON object per line, appended. SIGHUP reopens the file so
//! logrotate can move it; when that fails (the directory removed), the old file is let go and
//! every later write tries the path again, each failure counted (`statistics_write_errors`)
//! and logged, rate-limited, by the caller.
//!
//! The file is opened without following a symbolic link (`O_NOFOLLOW`), created with mode 0640
//! (less the umask), and refused when another user (other than root) owns it: a path another
//! local user can create first must neither redirect our writes into a file of ours nor
//! collect them in one of theirs.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::counters::Snapshot;
use crate::latency::Summary;

/// The statistics file, or nothing when statistics are off.
pub struct StatsFile {
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
}

impl StatsFile {
    /// A statistics file at `path`, or a disabled one for `None`. Opening failures are
    /// returned: an operator who asked for statistics should learn at start-up that they
    /// cannot be written.
    pub fn open(path: Option<PathBuf>) -> std::io::Result<StatsFile> {
        let file = match &path {
            Some(path) => Some(append(path)?),
            None => None,
        };
        Ok(StatsFile {
            path,
            file: Mutex::new(file),
        })
    }

    /// Reopens the file at its path (after logrotate moved it). If that fails (its directory
    /// was removed, say), the old file is let go rather than written on where nobody reads
    /// it: every later write tries the path again and fails, counted and logged, until it
    /// can be opened.
    pub fn reopen(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let (file, result) = match append(path) {
            Ok(file) => (Some(file), Ok(())),
            Err(error) => (None, Err(error)),
        };
        if let Ok(mut slot) = self.file.lock() {
            *slot = file;
        }
        result
    }

    /// Writes varnishkafka's line and edgeship's line for one interval, the latter with the
    /// interval's latency percentiles (`(wait before produce, delivery)`, see `latency`). A
    /// failure is returned for the caller to count and log (see `Shared::write_statistics`);
    /// the next interval tries again.
    pub fn write_interval(
        &self,
        unix_seconds: u64,
        next_sequence: u64,
        counters: &Snapshot,
        (wait, delivery): (Summary, Summary),
    ) -> std::io::Result<()> {
        if self.path.is_none() {
            return Ok(());
        }
        // varnishkafka's fields, with its spacing: `tx` counts records handed to the output
        // in JSON mode too (varnishkafka forgot to), `txerr` enqueue failures, `kafka_drerr`
        // failed deliveries, `trunc` cut tags, `seq` the next sequence number.
        let mut text = format!(
            "{{ \"varnishkafka\": {{ \"time\":{unix_seconds}, \"tx\":{}, \"txerr\":{}, \
             \"kafka_drerr\":{}, \"trunc\":{}, \"seq\":{next_sequence} }} }}\n",
            counters.records_produced,
            counters.produce_errors + counters.queue_full_drops,
            counters.delivery_failed + counters.delivery_failed_maybe_persisted,
            counters.truncated_tags,
        );
        text.push_str(&format!("{{\"edgeship\":{{\"time\":{unix_seconds}"));
        for (name, value) in counters.fields() {
            text.push_str(&format!(",\"{name}\":{value}"));
        }
        let mut bytes = text.into_bytes();
        wait.write_json("produce_wait", &mut bytes);
        delivery.write_json("delivery_latency", &mut bytes);
        bytes.extend_from_slice(b"}}\n");
        self.write(&bytes)
    }

    /// Writes one librdkafka statistics object as `{ "kafka": ... }`; a failure is returned as
    /// for [`StatsFile::write_interval`].
    pub fn write_kafka(&self, statistics: &[u8]) -> std::io::Result<()> {
        if self.path.is_none() {
            return Ok(());
        }
        let mut line = Vec::with_capacity(statistics.len() + 16);
        line.extend_from_slice(b"{ \"kafka\": ");
        line.extend_from_slice(statistics);
        line.extend_from_slice(b" }\n");
        self.write(&line)
    }

    fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        match self.file.lock() {
            Ok(mut slot) => {
                if slot.is_none() {
                    // A reopen failed: the path is tried again at every write.
                    *slot = Some(append(path)?);
                }
                match slot.as_mut() {
                    Some(file) => file.write_all(bytes),
                    None => Ok(()),
                }
            }
            // Only a panic while writing poisons the lock; the daemon goes on without the file.
            Err(_) => Err(std::io::Error::other(
                "the statistics file's lock is poisoned",
            )),
        }
    }
}

/// Opens `path` for appending, creating it with mode 0640; refuses a symbolic link and a file
/// owned by another user (see the module documentation).
fn append(path: &Path) -> std::io::Result<File> {
    let opened = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(error) if error.raw_os_error() == Some(Errno::LOOP.raw_os_error()) => {
            return Err(std::io::Error::new(
                error.kind(),
                "it is a symbolic link, which edgeship does not follow for its statistics file",
            ));
        }
        Err(error) => return Err(error),
    };
    let owner = file.metadata()?.uid();
    let me = rustix::process::geteuid().as_raw();
    if !acceptable_owner(owner, me) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("it is owned by user {owner}, not by edgeship's user {me} (or root)"),
        ));
    }
    Ok(file)
}

/// Whether a statistics file owned by `owner` may be written by a process running as `me`:
/// our own, or root's (which no other unprivileged user can have planted).
fn acceptable_owner(owner: u32, me: u32) -> bool {
    owner == me || owner == 0
}

#[cfg(test)]
mod tests {
    use super::{acceptable_owner, StatsFile};
    use edgeship_testkit::scratch::ScratchDir;

    #[test]
    fn after_a_failed_reopen_every_write_fails_until_the_path_can_be_opened_again() {
        let scratch = ScratchDir::new("stats-reopen").expect("a scratch directory");
        let dir = scratch.path().join("statistics");
        std::fs::create_dir_all(&dir).expect("a directory");
        let path = dir.join("stats.json");
        let stats = StatsFile::open(Some(path.clone())).expect("opens");
        stats.write_kafka(b"{}").expect("writes");
        std::fs::remove_dir_all(&dir).expect("remove the directory");
        assert!(stats.reopen().is_err(), "its directory is gone");
        assert!(
            stats.write_kafka(b"{}").is_err(),
            "a write fails, to be counted"
        );
        assert!(stats.write_kafka(b"{}").is_err(), "and the next one");
        std::fs::create_dir_all(&dir).expect("the directory is back");
        stats.write_kafka(b"{\"back\":1}").expect("writes again");
        let text = std::fs::read_to_string(&path).expect("the new file");
        assert_eq!(text, "{ \"kafka\": {\"back\":1} }\n");
    }

    #[test]
    fn only_our_own_or_roots_statistics_file_is_written() {
        assert!(acceptable_owner(1000, 1000));
        assert!(acceptable_owner(0, 1000));
        assert!(acceptable_owner(0, 0));
        assert!(!acceptable_owner(1001, 1000));
        assert!(!acceptable_owner(1000, 0));
    }
}
