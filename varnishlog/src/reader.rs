//! The safe reader: opens a live instance or a `varnishlog -w` file, picks the fast path or
//! the VSLQ path, drives it, and turns overruns and abandons into events it recovers from.

use crate::attach::{shared_memory, Attachment};
use crate::engine::Engine;
use crate::error::Error;
use crate::fast_path::FastPath;
use crate::handle::{Cursor, Next, VslData};
use crate::options::{Options, ReadPath};
use crate::position::{segment_order, Resume, ResumeCheck};
use crate::record::TagTable;
use crate::visit::{Delivery, Outcome, ReadCounters, Visitor};
use crate::vslq::VslqPath;

/// Reads client request transactions from the Varnish log. See the crate docs.
pub struct Reader {
    // Field order is drop order: the engine (query, cursor) before the log's VSL context, the
    // context before the shared-memory handle.
    /// The fast path or VSLQ, chosen once at open. Called once per step of a read call (its
    /// per-record loop is inside), so the dynamic call is not on the per-record path.
    engine: Box<dyn Engine>,
    log: Attachment,
    tags: TagTable,
    counters: ReadCounters,
    /// Why the engine is the one it is, for the caller's log.
    reason: String,
    /// What came of [`Options::resume`].
    resume: ResumeCheck,
}

impl Reader {
    /// Opens the log. For a live instance this attaches to varnishd's shared memory (waiting
    /// up to libvarnishapi's default of 5 s for it to appear) and positions at the tail.
    pub fn open(options: Options) -> Result<Reader, Error> {
        let mut choice = options.choose()?;
        let vsl = VslData::new()?;
        let mut tags = TagTable::from_varnish();
        tags.keep_only(options.only_tags.as_deref());
        if choice.query.is_some() && !tags.numbered_as(&edgeship_query::TAG_NAMES) {
            // Another libvarnishapi than the 7.1 whose tags the query crate knows.
            choice.path = ReadPath::Vslq;
            choice.query = None;
            choice.reason = "libvarnishapi numbers its tags differently from Varnish 7.1, \
                             whose tags edgeship's query evaluation knows"
                .to_owned();
        }
        if let Some(query) = &choice.query {
            tags.query_reads(query.tags());
        }
        let engine: Box<dyn Engine> = match choice.path {
            ReadPath::Fast => Box::new(FastPath::new(&options, choice.query)),
            ReadPath::Vslq => Box::new(VslqPath::new(&vsl, &options)?),
        };
        let vsm = shared_memory(&options.source)?;
        let resume = options.resume;
        let mut reader = Reader {
            reason: choice.reason,
            engine,
            log: Attachment::new(vsl, vsm, options),
            tags,
            counters: ReadCounters::default(),
            resume: ResumeCheck::NotAsked,
        };
        // Attach now so that a missing file or instance is an error at open, not later.
        let cursor = match resume {
            Some(resume) => reader.resume_from(resume)?,
            None => reader.log.first_cursor()?,
        };
        reader.engine.install(cursor);
        Ok(reader)
    }

    /// The first cursor of a reader asked to start as `resume` says, and what came of it.
    fn resume_from(&mut self, resume: Resume) -> Result<Cursor, Error> {
        if !self.log.is_live() || !self.engine.resume(resume) {
            self.resume = ResumeCheck::Unsupported;
            return self.log.first_cursor();
        }
        let (cursor, oldest) = self.log.resume_cursor()?;
        self.resume = match (resume, oldest) {
            (Resume::After(position), Some(oldest))
                if segment_order(oldest, position.segment).is_gt() =>
            {
                ResumeCheck::Overwritten { oldest }
            }
            _ => ResumeCheck::Resumed,
        };
        Ok(cursor)
    }

    /// Which implementation this reader uses.
    pub fn path(&self) -> ReadPath {
        self.engine.path()
    }

    /// Whether the [`Options::resume`] position was honoured.
    pub fn resume_check(&self) -> ResumeCheck {
        self.resume
    }

    /// Why this reader uses the path it does (e.g. "vxid grouping; edgeship evaluates the
    /// query", or why VSLQ must).
    pub fn path_reason(&self) -> &str {
        &self.reason
    }

    /// Totals since the reader was opened.
    pub fn counters(&self) -> &ReadCounters {
        &self.counters
    }

    /// Reads what is available: calls `visitor` for every completed client request
    /// transaction and every event, and returns when the log is idle, at the end of a file,
    /// or once at least `budget` transactions were yielded (checked between units of input,
    /// so a call may yield a few more).
    pub fn read(&mut self, visitor: &mut dyn Visitor, budget: usize) -> Result<Outcome, Error> {
        let Reader {
            engine,
            log,
            tags,
            counters,
            ..
        } = self;
        let engine = engine.as_mut();
        let mut out = Delivery::new(visitor, tags, counters);
        loop {
            if out.yielded >= budget {
                return Ok(Outcome::Budget);
            }
            if !engine.attached() {
                // Only live logs detach (overrun, abandon); reattach with backoff. The
                // reader attached at open, so every attach here is a reattach.
                match log.reattach(&mut out) {
                    Ok(cursor) => {
                        engine.install(cursor);
                        out.reattached();
                    }
                    Err(outcome) => return Ok(outcome),
                }
            }
            let lost = match engine.step(&mut out, budget)? {
                Next::More => continue,
                Next::End if log.restarted() => Next::Abandon,
                Next::End => return Ok(Outcome::Idle),
                Next::Eof => return Ok(Outcome::EndOfFile),
                Next::Io => return Err(log.read_error()),
                lost @ (Next::Overrun | Next::Abandon) => lost,
            };
            if let Some(outcome) = recover(engine, log, &mut out, lost) {
                return Ok(outcome);
            }
        }
    }

    /// Forces complete and hands out every incomplete transaction (reason `flush`), e.g. at
    /// the end of a file or at shutdown. Varnish's tools do not do this at the end of a file.
    pub fn flush(&mut self, visitor: &mut dyn Visitor) {
        let mut out = Delivery::new(visitor, &self.tags, &mut self.counters);
        self.engine.flush(&mut out);
    }
}

/// After an overrun or abandon (`lost`): reports it, flushes incomplete transactions while
/// the cursor (and its mapping) is still alive, and drops the cursor. A file ends there (the
/// outcome returned); a live log is reattached by a later step: at once after an overrun (at
/// the tail), after the backoff after an abandon (varnishd needs a moment), then at the head
/// of the new varnishd's log.
fn recover(
    engine: &mut dyn Engine,
    log: &mut Attachment,
    out: &mut Delivery<'_>,
    lost: Next,
) -> Option<Outcome> {
    let overrun = lost == Next::Overrun;
    if overrun {
        out.overrun();
    } else {
        out.abandoned();
    }
    engine.flush(out);
    engine.detach();
    if !log.is_live() {
        return Some(Outcome::EndOfFile);
    }
    if overrun {
        log.reattach_now();
    } else {
        log.reattach_after_backoff();
    }
    None
}
