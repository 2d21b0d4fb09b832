//! The fast path as an engine: feeds the [`Grouper`] the units of a libvarnishapi cursor (the
//! batches of the live ring, or the records of a file), or, once the first record of a
//! regular file has shown that libvarnishapi could map it, the records of edgeship's own
//! mapping of that file (the `mapped` module), and says when to stop.

use std::path::{Path, PathBuf};

use edgeship_query::Query;

use crate::engine::Engine;
use crate::error::Error;
use crate::grouper::{CopyPolicy, Grouper};
use crate::handle::{Advance, Cursor, Next, Unit, Validity};
use crate::mapped::MappedLog;
use crate::options::{Options, ReadPath, Source};
use crate::position::Resume;
use crate::visit::Delivery;

/// The fast path's state. One per reader, built once.
pub(crate) struct FastPath {
    grouper: Grouper,
    /// Dropped (deleted) before the reader's VSL context, which outlives the engine.
    cursor: Option<Cursor>,
    /// A file cursor was just installed: ask `VSL_Check` at the first record whether the
    /// cursor mapped the file (references stay valid) or reads through a reused buffer.
    probe_policy: bool,
    /// A regular file mapped by the fast path itself, read from here on instead of the
    /// cursor (see the `mapped` module). Transactions point into it: it lives as long as the
    /// engine.
    mapped: Option<MappedLog>,
    /// The file being read (`-r`); `None` for a live log.
    file: Option<PathBuf>,
}

impl FastPath {
    pub(crate) fn new(options: &Options, query: Option<Query>) -> FastPath {
        FastPath {
            grouper: Grouper::new(options.timeout, options.limit as usize, query),
            cursor: None,
            probe_policy: false,
            mapped: None,
            file: match &options.source {
                Source::File(path) => Some(path.clone()),
                Source::Live(_) => None,
            },
        }
    }

    /// Reads through the cursor until it reports anything but more, a unit shows an overrun,
    /// `budget` is reached, or the file turns out to be mapped (`Next::More`: the mapped
    /// walk takes over at the next step).
    fn read_cursor(&mut self, out: &mut Delivery<'_>, budget: usize) -> Result<Next, Error> {
        let FastPath {
            grouper,
            cursor,
            probe_policy,
            mapped,
            file,
        } = self;
        let Some(cursor) = cursor.as_mut() else {
            return Ok(Next::More);
        };
        loop {
            let unit = match cursor.advance()? {
                Advance::Unit(unit) => unit,
                Advance::Stop(next) => return Ok(next),
            };
            if *probe_policy {
                *probe_policy = false;
                *mapped = probe(grouper, file.as_deref(), &unit);
                if mapped.is_some() {
                    return Ok(Next::More);
                }
            }
            if !grouper.unit(unit, out) {
                return Ok(Next::Overrun);
            }
            if out.yielded >= budget {
                return Ok(Next::More);
            }
        }
    }
}

/// Looks at the first record of a file cursor: read through the cursor's reused buffer (a
/// stream), every kept record is copied from now on; mapped by the cursor (a regular file),
/// the file is mapped here too and walked from this, its first record, which the returned
/// mapping then yields again.
fn probe(grouper: &mut Grouper, file: Option<&Path>, first: &Unit<'_>) -> Option<MappedLog> {
    match first.check() {
        Validity::NotSupported => {
            grouper.set_policy(CopyPolicy::Always);
            None
        }
        _ => MappedLog::open(file?, first.record_bytes()),
    }
}

impl Engine for FastPath {
    fn path(&self) -> ReadPath {
        ReadPath::Fast
    }

    fn attached(&self) -> bool {
        self.cursor.is_some()
    }

    fn install(&mut self, cursor: Cursor) {
        // A file is installed once; its mapping (if any) stays as long as the engine.
        let live = cursor.is_live();
        self.grouper.set_policy(if live {
            CopyPolicy::Checked
        } else {
            CopyPolicy::Stable
        });
        self.probe_policy = !live;
        self.grouper.new_cursor(cursor.starts_a_segment());
        self.cursor = Some(cursor);
    }

    fn step(&mut self, out: &mut Delivery<'_>, budget: usize) -> Result<Next, Error> {
        // Time passed since the last step (the caller's work between read calls): check the
        // ring references of incomplete transactions before a single record more is filed
        // under them.
        if let Some(cursor) = self.cursor.as_ref() {
            if !self.grouper.revalidate(cursor, out) {
                return Ok(Next::Overrun);
            }
        }
        let next = match self.mapped.as_mut() {
            Some(log) => self.grouper.read_mapped(log, out, budget),
            None => self.read_cursor(out, budget)?,
        };
        if next == Next::End {
            self.grouper.idle(out);
        }
        Ok(next)
    }

    fn flush(&mut self, out: &mut Delivery<'_>) {
        self.grouper.flush(self.cursor.as_ref(), out);
    }

    fn resume(&mut self, resume: Resume) -> bool {
        self.grouper.resume(resume);
        true
    }

    fn detach(&mut self) {
        self.cursor = None;
    }
}
