//! The reader's hold on the log: the VSL context, the shared-memory handle of a live
//! instance, and when and how a cursor is (re)attached, with backoff after the log was lost.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::ffi::sys;
use crate::handle::{Advance, Cursor, VslData, Vsm};
use crate::options::{Options, Source};
use crate::visit::{Delivery, Outcome};

/// Where cursors come from, and when the next may be made.
pub(crate) struct Attachment {
    // Field order is drop order: the context before the shared-memory handle.
    vsl: VslData,
    /// A live instance's shared memory; `None` for a file.
    vsm: Option<Vsm>,
    options: Options,
    /// When the next attach attempt may be made, and the current backoff.
    next_attach: Instant,
    backoff: Duration,
    /// The next cursor starts at the head of the log (its oldest safe records) rather than
    /// where the options say: after an abandon, the log is a new varnishd's and everything in
    /// it is new to us.
    from_head: bool,
}

/// For a live instance, attaches to varnishd's shared memory (waiting up to libvarnishapi's
/// default of 5 s for it to appear); a file needs no such handle.
pub(crate) fn shared_memory(source: &Source) -> Result<Option<Vsm>, Error> {
    match source {
        Source::Live(instance) => {
            let vsm = Vsm::new(instance.as_deref())?;
            vsm.attach()?;
            Ok(Some(vsm))
        }
        Source::File(_) => Ok(None),
    }
}

impl Attachment {
    pub(crate) fn new(vsl: VslData, vsm: Option<Vsm>, options: Options) -> Attachment {
        Attachment {
            vsl,
            vsm,
            backoff: options.reattach_backoff,
            options,
            next_attach: Instant::now(),
            from_head: false,
        }
    }

    /// The cursor a reader starts with: over the live log (at the tail or the oldest safe
    /// records, as the options say) or over the file.
    pub(crate) fn first_cursor(&self) -> Result<Cursor, Error> {
        self.first_cursor_at(self.options.tail)
    }

    /// The first cursor of a resumed reader: at the oldest records still safely in the ring
    /// (a file has no such choice), with the writer's segment number of the first of them
    /// (`None` when the log has no record yet, or on a file). The segment is read through a
    /// probe cursor opened just before the one returned, which starts at the same segment
    /// or, should the writer have moved on in between, a later one: what the caller compares
    /// with its position errs towards reporting it overwritten.
    pub(crate) fn resume_cursor(&self) -> Result<(Cursor, Option<u32>), Error> {
        let oldest = match (&self.options.source, &self.vsm) {
            (Source::Live(_), Some(vsm)) => {
                let mut probe = Cursor::vsm(&self.vsl, vsm, false)?;
                match probe.advance()? {
                    Advance::Unit(unit) => Some(unit.position().priv_),
                    Advance::Stop(_) => None,
                }
            }
            _ => None,
        };
        Ok((self.first_cursor_at(false)?, oldest))
    }

    fn first_cursor_at(&self, tail: bool) -> Result<Cursor, Error> {
        match &self.options.source {
            Source::Live(_) => match &self.vsm {
                Some(vsm) => Cursor::vsm(&self.vsl, vsm, tail),
                None => Err(Error::Options(
                    "live source without shared memory".to_owned(),
                )),
            },
            Source::File(path) => Cursor::file(&self.vsl, path),
        }
    }

    /// A new cursor over the live log, once the backoff allows; or why the read call returns
    /// instead: a file is not reattached (its end was reached), and a live log may have to
    /// wait (a failed attempt doubles the backoff, up to its maximum).
    pub(crate) fn reattach(&mut self, out: &mut Delivery<'_>) -> Result<Cursor, Outcome> {
        let Some(vsm) = self.vsm.as_ref() else {
            return Err(Outcome::EndOfFile);
        };
        let now = Instant::now();
        if now < self.next_attach {
            return Err(Outcome::Idle);
        }
        vsm.status();
        let tail = self.options.tail && !self.from_head;
        match Cursor::vsm(&self.vsl, vsm, tail) {
            Ok(cursor) => {
                self.backoff = self.options.reattach_backoff;
                self.from_head = false;
                Ok(cursor)
            }
            Err(_) => {
                out.reattach_failed();
                self.next_attach = now + self.backoff;
                self.backoff = (self.backoff * 2).min(self.options.reattach_backoff_max);
                Err(Outcome::Idle)
            }
        }
    }

    /// Whether the log is live (a file is never reattached).
    pub(crate) fn is_live(&self) -> bool {
        self.vsm.is_some()
    }

    /// After an overrun: reattach at once, where the options say (the same varnishd's log:
    /// its head is what overran us).
    pub(crate) fn reattach_now(&mut self) {
        self.next_attach = Instant::now();
        self.from_head = false;
    }

    /// After an abandon: give varnishd a moment before reattaching, then read its new log
    /// from the head, so that what it logged before the reattach (during the backoff) is not
    /// skipped.
    pub(crate) fn reattach_after_backoff(&mut self) {
        self.next_attach = Instant::now() + self.backoff;
        self.from_head = true;
    }

    /// Whether varnishd's worker restarted since the last look (the `VUT` check).
    pub(crate) fn restarted(&self) -> bool {
        self.vsm
            .as_ref()
            .is_some_and(|vsm| vsm.status() & sys::VSM_WRK_RESTARTED != 0)
    }

    /// The error for a failed read of the log.
    pub(crate) fn read_error(&self) -> Error {
        let path = match &self.options.source {
            Source::File(path) => path.clone(),
            Source::Live(_) => PathBuf::from("<shared memory>"),
        };
        Error::FileRead { path }
    }
}
