//! The safe reader: opens a live instance or a `varnishlog -w` file, picks the fast path or
//! the VSLQ path, drives it, and turns overruns and abandons into events it recovers from.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use edgeship_formats::Tag;

use crate::error::Error;
use crate::ffi::sys;
use crate::grouper::{CopyPolicy, Grouper};
use crate::handle::{Cursor, Next, Validity, VslData, Vslq, Vsm};
use crate::mapped::MappedLog;
use crate::record::{Location, TagTable};
use crate::visit::{Delivery, Event, Outcome, ReadCounters, Visitor};
use crate::vslq;

/// Where the log comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A running varnishd, by instance name or work directory (`-n`); `None` is the default
    /// instance.
    Live(Option<String>),
    /// A binary log written by `varnishlog -w` (`-r`); `-` is standard input.
    File(PathBuf),
}

/// How records are grouped into transactions (`-g`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One transaction per vxid (varnishkafka's default).
    Vxid,
    /// A client request with its backend and ESI children (VSLQ path only).
    Request,
}

/// Which implementation reads the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathChoice {
    /// The fast path when it can honour the options (vxid grouping, no query), else VSLQ.
    Auto,
    /// The fast path; options it cannot honour are an error.
    Fast,
    /// Varnish's own `VSLQ` grouping.
    Vslq,
}

/// The implementation a reader uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPath {
    /// Rust grouping over the raw cursor.
    Fast,
    /// `VSLQ_Dispatch`.
    Vslq,
}

/// Reader options, mirroring varnishkafka's `-n`/`-r`, `-g`, `-q`, `-T` and `-L`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to read.
    pub source: Source,
    /// `-g`.
    pub grouping: Grouping,
    /// `-q`: a VSL query; forces the VSLQ path.
    pub query: Option<String>,
    /// `-T`: how long a transaction may stay incomplete before it is forced complete.
    pub timeout: Duration,
    /// `-L`: how many incomplete transactions are kept before the oldest is forced complete.
    pub limit: u32,
    /// Which implementation to use.
    pub path: PathChoice,
    /// Live logs: start at the tail (only new records, like varnishkafka) when true, or at
    /// the oldest records still safely in the ring when false.
    pub tail: bool,
    /// First wait before reattaching after the log was abandoned; doubles up to
    /// `reattach_backoff_max`.
    pub reattach_backoff: Duration,
    /// Longest wait between reattach attempts.
    pub reattach_backoff_max: Duration,
    /// When set, yielded transactions hold only the records whose tag is listed (as
    /// `formats::Tag`; [`Tag::Other`] stands for every tag the format language does not read),
    /// including the synthetic `VSL` and `End` records of a forced transaction. Grouping still
    /// sees every record. A caller that reads a few tags (a format reads a third of a request's
    /// records) saves the reader keeping, and itself walking, the rest. `None` keeps all.
    pub only_tags: Option<Vec<Tag>>,
}

impl Options {
    /// Options for a live instance (name or directory; `None` for the default) with
    /// Varnish's defaults: vxid grouping, `-T 120`, `-L 1000`, reading from the tail.
    pub fn live(instance: Option<&str>) -> Options {
        Options::with_source(Source::Live(instance.map(str::to_owned)))
    }

    /// Options for a file written by `varnishlog -w`, with Varnish's defaults.
    pub fn file(path: impl Into<PathBuf>) -> Options {
        Options::with_source(Source::File(path.into()))
    }

    fn with_source(source: Source) -> Options {
        Options {
            source,
            grouping: Grouping::Vxid,
            query: None,
            timeout: Duration::from_secs(120),
            limit: 1000,
            path: PathChoice::Auto,
            tail: true,
            reattach_backoff: Duration::from_millis(100),
            reattach_backoff_max: Duration::from_secs(2),
            only_tags: None,
        }
    }
}

/// The engine behind the reader. One per reader, built once: the size of the fast path's
/// state does not matter.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Fast {
        grouper: Grouper,
        /// Declared before `vsl`: the cursor must be deleted before its context.
        cursor: Option<Cursor>,
        /// A file cursor was just installed: ask `VSL_Check` at the first record whether the
        /// cursor mapped the file (references stay valid) or reads through a reused buffer.
        probe_policy: bool,
        /// A regular file mapped by the fast path itself, read from here on instead of the
        /// cursor (see the `mapped` module). Transactions point into it: it lives as long as
        /// the engine.
        mapped: Option<MappedLog>,
    },
    Vslq {
        /// Owns its cursor once attached.
        vslq: Vslq,
        attached: bool,
        records: Vec<Location>,
    },
}

/// Reads client request transactions from the Varnish log. See the crate docs.
pub struct Reader {
    // Field order is drop order: the engine (query, cursor) before the VSL context, the
    // context before the shared-memory handle.
    engine: Engine,
    vsl: VslData,
    vsm: Option<Vsm>,
    tags: TagTable,
    options: Options,
    counters: ReadCounters,
    /// When the next attach attempt may be made, and the current backoff.
    next_attach: Instant,
    backoff: Duration,
    /// Whether the reader was ever attached (the first attach is not a "reattach").
    ever_attached: bool,
}

impl Reader {
    /// Opens the log. For a live instance this attaches to varnishd's shared memory (waiting
    /// up to libvarnishapi's default of 5 s for it to appear) and positions at the tail.
    pub fn open(options: Options) -> Result<Reader, Error> {
        let fast_possible = options.grouping == Grouping::Vxid && options.query.is_none();
        let path = match options.path {
            PathChoice::Auto if fast_possible => ReadPath::Fast,
            PathChoice::Auto => ReadPath::Vslq,
            PathChoice::Fast if fast_possible => ReadPath::Fast,
            PathChoice::Fast => {
                return Err(Error::Options(
                    "the fast path groups by vxid without a query; use the VSLQ path for -g \
                     request or -q"
                        .to_owned(),
                ))
            }
            PathChoice::Vslq => ReadPath::Vslq,
        };
        if options.limit == 0 {
            return Err(Error::Options("-L must be at least 1".to_owned()));
        }
        let vsl = VslData::new()?;
        let mut tags = TagTable::from_varnish();
        tags.keep_only(options.only_tags.as_deref());
        let engine = match path {
            ReadPath::Fast => Engine::Fast {
                grouper: Grouper::new(options.timeout, options.limit as usize),
                cursor: None,
                probe_policy: false,
                mapped: None,
            },
            ReadPath::Vslq => {
                vsl.arg(b'T', &format!("{}", options.timeout.as_secs_f64()))?;
                vsl.arg(b'L', &options.limit.to_string())?;
                let grouping = match options.grouping {
                    Grouping::Vxid => sys::VSL_grouping_e::VSL_g_vxid,
                    Grouping::Request => sys::VSL_grouping_e::VSL_g_request,
                };
                Engine::Vslq {
                    vslq: Vslq::new(&vsl, grouping, options.query.as_deref())?,
                    attached: false,
                    records: Vec::new(),
                }
            }
        };
        let vsm = match &options.source {
            Source::Live(instance) => {
                let vsm = Vsm::new(instance.as_deref())?;
                vsm.attach()?;
                Some(vsm)
            }
            Source::File(_) => None,
        };
        let mut reader = Reader {
            engine,
            vsl,
            vsm,
            tags,
            backoff: options.reattach_backoff,
            options,
            counters: ReadCounters::default(),
            next_attach: Instant::now(),
            ever_attached: false,
        };
        // Attach now so that a missing file or instance is an error at open, not later.
        let cursor = reader.new_cursor()?;
        reader.install(cursor);
        Ok(reader)
    }

    /// Which implementation this reader uses.
    pub fn path(&self) -> ReadPath {
        match self.engine {
            Engine::Fast { .. } => ReadPath::Fast,
            Engine::Vslq { .. } => ReadPath::Vslq,
        }
    }

    /// Totals since the reader was opened.
    pub fn counters(&self) -> &ReadCounters {
        &self.counters
    }

    /// Fast path: how many transactions (of any type) are incomplete. `None` on the VSLQ
    /// path, which does not expose it.
    pub fn incomplete(&self) -> Option<usize> {
        match &self.engine {
            Engine::Fast { grouper, .. } => Some(grouper.outstanding()),
            Engine::Vslq { .. } => None,
        }
    }

    /// Reads what is available: calls `visitor` for every completed client request
    /// transaction and every event, and returns when the log is idle, at the end of a file,
    /// or once at least `budget` transactions were yielded (checked between units of input,
    /// so a call may yield a few more).
    pub fn read(&mut self, visitor: &mut dyn Visitor, budget: usize) -> Result<Outcome, Error> {
        let Reader {
            engine,
            vsl,
            vsm,
            tags,
            options,
            counters,
            next_attach,
            backoff,
            ever_attached,
        } = self;
        let mut out = Delivery {
            visitor,
            tags,
            counters,
            yielded: 0,
        };
        loop {
            if out.yielded >= budget {
                return Ok(Outcome::Budget);
            }
            let attached = match engine {
                Engine::Fast { cursor, .. } => cursor.is_some(),
                Engine::Vslq { attached, .. } => *attached,
            };
            if !attached {
                // Only live logs detach (overrun, abandon); reattach with backoff.
                let Some(vsm) = vsm.as_ref() else {
                    return Ok(Outcome::EndOfFile);
                };
                let now = Instant::now();
                if now < *next_attach {
                    return Ok(Outcome::Idle);
                }
                vsm.status();
                match Cursor::vsm(vsl, vsm, options.tail) {
                    Ok(cursor) => {
                        *backoff = options.reattach_backoff;
                        install(engine, cursor, true);
                        if *ever_attached {
                            out.counters.reattaches += 1;
                            let total = out.counters.reattaches;
                            out.visitor.event(&Event::Reattached { total });
                        }
                        *ever_attached = true;
                    }
                    Err(_) => {
                        out.counters.reattach_failures += 1;
                        *next_attach = now + *backoff;
                        *backoff = (*backoff * 2).min(options.reattach_backoff_max);
                        return Ok(Outcome::Idle);
                    }
                }
            }
            let next = match engine {
                Engine::Fast {
                    grouper,
                    cursor,
                    probe_policy,
                    mapped,
                } => {
                    let Some(active) = cursor.as_mut() else {
                        continue;
                    };
                    let batch_mode = vsm.is_some();
                    let next = if let Some(log) = mapped.as_mut() {
                        grouper.read_mapped(log, &mut out, budget)
                    } else {
                        loop {
                            let next = active.next()?;
                            if next != Next::More {
                                break next;
                            }
                            let rec = active.record();
                            if *probe_policy {
                                *probe_policy = false;
                                match active.check(&rec) {
                                    // A stream read through the cursor's reused buffer.
                                    Validity::NotSupported => {
                                        grouper.set_policy(CopyPolicy::Always)
                                    }
                                    // A file the cursor mapped: map it here too and walk it
                                    // from this, its first record.
                                    _ => {
                                        if let Source::File(path) = &options.source {
                                            // SAFETY: `rec` is the cursor's current record.
                                            *mapped = unsafe { MappedLog::open(path, rec.ptr) };
                                            if mapped.is_some() {
                                                break Next::More;
                                            }
                                        }
                                    }
                                }
                            }
                            // SAFETY: `rec` is the cursor's current record after `More`, and
                            // `batch_mode` matches how the cursor was opened (batches for live
                            // logs only).
                            let intact = unsafe { grouper.unit(active, rec, batch_mode, &mut out) };
                            if !intact {
                                break Next::Overrun;
                            }
                            if out.yielded >= budget {
                                break Next::More;
                            }
                        }
                    };
                    match next {
                        Next::More => continue,
                        Next::End => {
                            grouper.idle(&mut out);
                            if restarted(vsm.as_ref()) {
                                Next::Abandon
                            } else {
                                return Ok(Outcome::Idle);
                            }
                        }
                        other => other,
                    }
                }
                Engine::Vslq {
                    vslq,
                    attached: _,
                    records,
                } => {
                    let status = loop {
                        let status = vslq::dispatch(vslq, &mut out, records, false);
                        if status != sys::vsl_status::vsl_more || out.yielded >= budget {
                            break status;
                        }
                    };
                    match status {
                        sys::vsl_status::vsl_more => continue,
                        sys::vsl_status::vsl_end => {
                            if restarted(vsm.as_ref()) {
                                Next::Abandon
                            } else {
                                return Ok(Outcome::Idle);
                            }
                        }
                        other => Next::from_status("VSLQ_Dispatch", other)?,
                    }
                }
            };
            match next {
                Next::Eof => return Ok(Outcome::EndOfFile),
                Next::Io => {
                    let path = match &options.source {
                        Source::File(path) => path.clone(),
                        Source::Live(_) => PathBuf::from("<shared memory>"),
                    };
                    return Err(Error::FileRead { path });
                }
                Next::Overrun | Next::Abandon => {
                    let event = if next == Next::Overrun {
                        out.counters.overruns += 1;
                        Event::Overrun {
                            total: out.counters.overruns,
                        }
                    } else {
                        out.counters.abandons += 1;
                        Event::Abandoned {
                            total: out.counters.abandons,
                        }
                    };
                    out.visitor.event(&event);
                    flush_engine(engine, &mut out);
                    detach(engine);
                    if vsm.is_none() {
                        return Ok(Outcome::EndOfFile);
                    }
                    // After an overrun reattach at once (at the tail); after an abandon give
                    // varnishd a moment.
                    *next_attach = if next == Next::Overrun {
                        Instant::now()
                    } else {
                        Instant::now() + *backoff
                    };
                }
                Next::More | Next::End => {}
            }
        }
    }

    /// Forces complete and hands out every incomplete transaction (reason `flush`), e.g. at
    /// the end of a file or at shutdown. Varnish's tools do not do this at the end of a file.
    pub fn flush(&mut self, visitor: &mut dyn Visitor) {
        let mut out = Delivery {
            visitor,
            tags: &self.tags,
            counters: &mut self.counters,
            yielded: 0,
        };
        flush_engine(&mut self.engine, &mut out);
    }

    fn new_cursor(&self) -> Result<Cursor, Error> {
        match &self.options.source {
            Source::Live(_) => match &self.vsm {
                Some(vsm) => Cursor::vsm(&self.vsl, vsm, self.options.tail),
                None => Err(Error::Options(
                    "live source without shared memory".to_owned(),
                )),
            },
            Source::File(path) => Cursor::file(&self.vsl, path),
        }
    }

    fn install(&mut self, cursor: Cursor) {
        let live = self.vsm.is_some();
        install(&mut self.engine, cursor, live);
        self.ever_attached = true;
    }
}

/// Gives a fresh cursor to the engine.
fn install(engine: &mut Engine, cursor: Cursor, live: bool) {
    match engine {
        // A file is installed once; its mapping (if any) stays as long as the engine.
        Engine::Fast {
            grouper,
            cursor: slot,
            probe_policy,
            ..
        } => {
            grouper.set_policy(if live {
                CopyPolicy::Checked
            } else {
                CopyPolicy::Stable
            });
            *probe_policy = !live;
            *slot = Some(cursor);
        }
        Engine::Vslq { vslq, attached, .. } => {
            vslq.set_cursor(Some(cursor));
            *attached = true;
        }
    }
}

/// Flushes incomplete transactions while the cursor (and its mapping) is still alive.
fn flush_engine(engine: &mut Engine, out: &mut Delivery<'_>) {
    match engine {
        Engine::Fast {
            grouper, cursor, ..
        } => grouper.flush(cursor.as_ref(), out),
        Engine::Vslq { vslq, records, .. } => {
            let _status = vslq::dispatch(vslq, out, records, true);
        }
    }
}

/// Drops the cursor after an overrun or abandon.
fn detach(engine: &mut Engine) {
    match engine {
        Engine::Fast { cursor, .. } => *cursor = None,
        Engine::Vslq { vslq, attached, .. } => {
            vslq.set_cursor(None);
            *attached = false;
        }
    }
}

/// Whether varnishd's worker restarted since the last look (the `VUT` check).
fn restarted(vsm: Option<&Vsm>) -> bool {
    vsm.is_some_and(|vsm| vsm.status() & sys::VSM_WRK_RESTARTED != 0)
}
