//! edgeship-varnishlog: reads client request transactions from the Varnish shared-memory log
//! (VSL) of a running varnishd, or from a file written by `varnishlog -w`.
//!
//! This is the only crate of the workspace with `unsafe`: it wraps libvarnishapi (Varnish
//! 7.1) through bindgen bindings generated at build time. Every C handle has one owner whose
//! `Drop` frees it, C callbacks catch panics, and no raw pointer leaves the crate.
//!
//! # Two paths, one interface
//! - The **fast path** ([`ReadPath::Fast`]) walks the raw cursor and groups records into vxid
//!   transactions in Rust, with Varnish's `-T`/`-L` semantics (see the `grouper` module). It is
//!   used when no query is configured and grouping is by vxid.
//! - The **VSLQ path** ([`ReadPath::Vslq`]) uses Varnish's own `VSLQ_Dispatch`, which
//!   evaluates any `-q` query and supports `-g request`.
//!
//! Both hand the caller the same [`RequestTransaction`]s: completed client requests (ESI
//! sub-requests included and marked), with their records borrowed from the log for the
//! duration of a [`Visitor`] call. [`RequestTransaction`] implements
//! [`edgeship_formats::Transaction`].
//!
//! # Driving it
//! ```no_run
//! use edgeship_varnishlog::{Options, Outcome, Reader, RequestTransaction, Visitor};
//!
//! struct Count(u64);
//! impl Visitor for Count {
//!     fn transaction(&mut self, _transaction: &RequestTransaction<'_>) {
//!         self.0 += 1;
//!     }
//! }
//!
//! let mut reader = Reader::open(Options::file("requests.vsl"))?;
//! let mut count = Count(0);
//! while reader.read(&mut count, 1024)? != Outcome::EndOfFile {}
//! # Ok::<(), edgeship_varnishlog::Error>(())
//! ```
//! A live reader returns [`Outcome::Idle`] when it has caught up; the caller sleeps briefly
//! and calls again. Overruns and abandons arrive as [`Event`]s and in [`ReadCounters`]; the
//! reader reattaches by itself. A [`Reader`] owns C handles and is not `Send`: open it on the
//! thread that reads.
//!
//! # Where the bytes a transaction lends come from
//! Nothing is copied per record in the common cases. A regular file is opened and checked by
//! libvarnishapi, then mapped by the fast path itself and walked record by record like a
//! batch from the live ring (the `mapped` module); transactions point into that mapping. A
//! live log is a ring: records are pointed to where varnishd wrote them, and a transaction
//! still incomplete when the writer comes within half the ring of its oldest record has its
//! records copied into a reused per-transaction buffer first (the rule `VSLQ` applies with
//! `VSL_Check`). Only a stream that is not a regular file (`-r -`, a FIFO) is copied record
//! by record, because libvarnishapi reads it through one reused buffer. The VSLQ path lends what `VSLQ` lends.
//! Lent bytes are valid for the duration of the [`Visitor`] call only.
//!
//! # Testing the grouping without varnishd
//! [`synthetic::group_synthetic`] runs the fast path's grouping over records built in
//! memory (any vxids, tags, sides, payloads and clock steps), safely: for unit tests and the
//! `vsl_grouping` fuzz target, not for reading logs.

mod attach;
mod ends;
mod engine;
mod error;
mod fast_path;
mod ffi;
mod grouper;
mod handle;
mod instance;
mod mapped;
mod options;
mod position;
mod reader;
mod record;
pub mod synthetic;
mod visit;
mod vslq;
mod vxid_map;

pub use error::Error;
pub use instance::instance_identity;
pub use options::{Grouping, Options, PathChoice, ReadPath, Source};
pub use position::{Position, Resume, ResumeCheck};
pub use reader::Reader;
pub use record::{ForceReason, Reason, Record, RequestTransaction, Side, TransactionType};
pub use visit::{Event, Outcome, ReadCounters, Visitor};

/// The libvarnishapi version the crate was built against (from pkg-config).
pub const VARNISHAPI_VERSION: &str = env!("EDGESHIP_VARNISHAPI_VERSION");
