//! [`Spool::open`]: every segment validated, a torn tail truncated, damaged blocks marked
//! dead and reported by sequence range, unframable bytes reported by place, segments without
//! an intact record removed, the rest queued for replay in append order.

use std::path::Path;

use crate::block;
use crate::error::Error;
use crate::scan::{self, Scan, Scratch};
use crate::segment;
use crate::spool::Spool;
use crate::types::{Limits, Recovery, Unreadable};

impl Spool {
    /// Opens (creating it if need be) the spool in `dir` and validates every segment file
    /// in it, in index order; see the crate documentation for what is done with damage. Files
    /// whose names are not segment names are left alone (counted in
    /// [`Recovery::unknown_files`]). Never panics on any content; I/O errors are returned.
    pub fn open(dir: impl AsRef<Path>, limits: Limits) -> Result<(Spool, Recovery), Error> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|error| Error::io(&dir, error))?;
        let (segments, unknown_files) = segment::list(&dir)?;
        let next_index = segments.last().map_or(0, |(index, _)| index + 1);
        let mut spool = Spool::empty(dir.clone(), limits, next_index);
        let mut recovery = Recovery {
            unknown_files,
            segments: segments.len(),
            ..Recovery::default()
        };
        let mut scratch = Scratch::new();
        let mut removed = false;
        for (index, path) in segments {
            let bytes = segment::read(&path)?;
            let found = scan::scan(&bytes, &mut scratch);
            repair(&path, bytes.len() as u64, &found, &mut recovery)?;
            if found.intact.is_empty() {
                segment::remove(&path)?;
                removed = true;
                continue;
            }
            for intact in &found.intact {
                spool.ledger.reserve_many(intact.count);
                spool
                    .ledger
                    .written(index, &path, (intact.offset, intact.frame), intact.appended);
                recovery.records += u64::from(intact.count);
            }
            spool.ledger.resize_last(found.end);
        }
        if removed {
            segment::sync_dir(&dir)?;
        }
        Ok((spool, recovery))
    }
}

/// Truncates a torn tail, marks damaged blocks dead, and reports both and the unreadable
/// ranges in `recovery`.
fn repair(path: &Path, length: u64, found: &Scan, recovery: &mut Recovery) -> Result<(), Error> {
    if found.end < length {
        segment::truncate(path, found.end)?;
        recovery.truncated_bytes += length - found.end;
    }
    for damaged in &found.damaged {
        segment::mark_dead(path, damaged.offset, &block::dead_header(&damaged.header))?;
        recovery.lost.push(damaged.lost.clone());
    }
    recovery
        .unreadable
        .extend(found.unreadable.iter().map(|&(offset, bytes)| Unreadable {
            segment: path.to_path_buf(),
            offset,
            bytes,
        }));
    Ok(())
}
