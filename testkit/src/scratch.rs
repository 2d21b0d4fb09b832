//! Scratch directories: a fresh private directory under the system temp directory, owned by a
//! guard that removes it (and everything in it) when dropped, pass or fail.
//!
//! Every test, benchmark and process guard that needs somewhere to write takes one of these,
//! so that concurrent tests and processes never share a directory and nothing is left behind.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A private directory, removed with its contents on drop.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `edgeship-{label}-{pid}-{counter}-{nanos}` under the system temp directory:
    /// the process id and a counter keep concurrent tests apart, the clock keeps a reused
    /// process id from meeting a directory an earlier, killed process left behind.
    pub fn new(label: &str) -> io::Result<ScratchDir> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "edgeship-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)?;
        Ok(ScratchDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory's own name (unique among the scratch directories of this machine), for
    /// anything else that must not be shared between concurrent tests.
    pub fn name(&self) -> &str {
        self.path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("edgeship")
    }

    /// Writes `contents` to the file `name` inside the directory and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> io::Result<PathBuf> {
        let path = self.path.join(name);
        std::fs::write(&path, contents)?;
        Ok(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Nothing to report to: a directory that cannot be removed is left for the system's
        // temp cleaning.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_is_new_and_gone_after_drop() {
        let first = ScratchDir::new("scratch-test").expect("a scratch directory");
        let second = ScratchDir::new("scratch-test").expect("a scratch directory");
        assert_ne!(first.path(), second.path());
        assert_ne!(first.name(), second.name());
        let file = first.write("note.txt", "text").expect("writes a file");
        assert_eq!(
            std::fs::read_to_string(&file).expect("reads it back"),
            "text"
        );
        let path = first.path().to_path_buf();
        drop(first);
        assert!(!path.exists(), "{} is removed on drop", path.display());
        assert!(second.path().is_dir());
    }
}
