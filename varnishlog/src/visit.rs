//! What both reading paths hand out and how: the [`Visitor`] a caller implements, the
//! [`Event`]s and [`ReadCounters`] it sees, the [`Outcome`] of a read call, and the
//! `Delivery` that carries a read call's visitor, tag table and counters down into either
//! path. It sits below the reader and both paths, so none of them needs another for these
//! types.

use crate::record::{ForceReason, RequestTransaction, TagTable};

/// Receives what a [`Reader::read`](crate::Reader::read) call finds.
///
/// **A visitor must not block** (wait on a full channel, a lock held elsewhere, the network).
/// Its calls are made while the reader walks records where varnishd wrote them in its log
/// ring, and the writer does not wait for readers: if a call takes long enough for varnishd to
/// write the whole ring, what the reader walks next is other bytes. The fast path re-checks
/// the ring (`VSL_Check`) after every transaction it hands out and between read calls, and
/// then reports an overrun rather than parse overwritten bytes; `VSLQ` checks only between
/// its units. A caller that must wait for room downstream keeps what it captured in a
/// bounded queue of its own and waits after [`Reader::read`](crate::Reader::read) returned,
/// when the reader holds no pointer into the log a visitor could see (the call's budget
/// bounds how much piles up).
pub trait Visitor {
    /// A completed client request transaction, borrowed for this call only. Must not block.
    fn transaction(&mut self, transaction: &RequestTransaction<'_>);

    /// Something happened to the log or to a transaction. The default ignores it (the
    /// counters still record it).
    fn event(&mut self, event: &Event) {
        let _ = event;
    }
}

/// Faults and notable happenings, reported as they occur; the reader recovers by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The reader fell behind and the ring wrapped under it; records were lost. Incomplete
    /// transactions were flushed and reading resumes at the tail. `total` counts overruns.
    Overrun {
        /// Overruns so far.
        total: u64,
    },
    /// varnishd went away or restarted; incomplete transactions were flushed and the reader
    /// will reattach with backoff, at the head of the new log (nothing the new varnishd
    /// logged before the reattach is skipped). `total` counts abandons.
    Abandoned {
        /// Abandons so far.
        total: u64,
    },
    /// The reader attached to the log again after an overrun or abandon.
    Reattached {
        /// Reattaches so far.
        total: u64,
    },
    /// A transaction was forced complete before its `End` (it is yielded right after).
    ForcedComplete {
        /// Its vxid.
        vxid: u32,
        /// Why.
        reason: ForceReason,
    },
}

/// Totals since the reader was opened, for the caller's statistics. Every way a record or a
/// transaction can be lost has a counter here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadCounters {
    /// Client request transactions yielded.
    pub transactions: u64,
    /// Log overruns (the ring wrapped under the reader).
    pub overruns: u64,
    /// Log abandons (varnishd restarted or went away).
    pub abandons: u64,
    /// Successful reattaches after an overrun or abandon.
    pub reattaches: u64,
    /// Failed attach attempts while reattaching.
    pub reattach_failures: u64,
    /// Transactions forced complete after `-T`.
    pub forced_timeout: u64,
    /// Transactions forced complete by the `-L` limit.
    pub forced_store_overflow: u64,
    /// Transactions flushed incomplete at an overrun, abandon or explicit flush.
    pub forced_flush: u64,
    /// Fast path: records skipped because their transaction's `Begin` was never seen.
    pub records_skipped: u64,
    /// Fast path: records copied out of the ring before the writer reached them.
    pub records_copied: u64,
    /// Fast path: client requests dropped at an overrun because their records had already
    /// been overwritten.
    pub transactions_lost: u64,
    /// Fast path: client requests the query (`-q`) did not select. Not a loss: what the
    /// operator asked to leave out. (On the VSLQ path Varnish filters before the reader sees
    /// a transaction, and this stays 0.)
    pub transactions_unselected: u64,
    /// Resuming ([`Options::resume`](crate::Options::resume)): client requests read again
    /// that had completed at or before the position, so an earlier process handed them
    /// out; they are not handed out again. Not a loss.
    pub transactions_before_resume: u64,
}

/// Why a [`Reader::read`](crate::Reader::read) call returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing more to read right now (live log), or waiting to reattach.
    Idle,
    /// The transaction budget given to `read` was reached; more may be available.
    Budget,
    /// The end of the file was reached.
    EndOfFile,
}

/// The delivery of one `read` (or `flush`) call's finds to its visitor: completed
/// transactions (lent with the tag table that says which of their records are kept) and
/// events, each counted in the reader's totals, and how many transactions were handed out so
/// far (against the call's budget).
pub(crate) struct Delivery<'v> {
    pub(crate) visitor: &'v mut dyn Visitor,
    pub(crate) tags: &'v TagTable,
    pub(crate) counters: &'v mut ReadCounters,
    pub(crate) yielded: usize,
}

impl<'v> Delivery<'v> {
    /// Delivers to `visitor`, counting in `counters`, nothing handed out yet.
    pub(crate) fn new(
        visitor: &'v mut dyn Visitor,
        tags: &'v TagTable,
        counters: &'v mut ReadCounters,
    ) -> Delivery<'v> {
        Delivery {
            visitor,
            tags,
            counters,
            yielded: 0,
        }
    }

    /// Hands a completed client request transaction to the visitor, counting it.
    #[inline(always)]
    pub(crate) fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
        self.counters.transactions += 1;
        self.yielded += 1;
        self.visitor.transaction(transaction);
    }

    /// Counts and reports a transaction forced complete (it is handed out right after).
    pub(crate) fn forced(&mut self, vxid: u32, reason: ForceReason) {
        match reason {
            ForceReason::Timeout => self.counters.forced_timeout += 1,
            ForceReason::StoreOverflow => self.counters.forced_store_overflow += 1,
            ForceReason::Flush => self.counters.forced_flush += 1,
        }
        self.visitor.event(&Event::ForcedComplete { vxid, reason });
    }

    /// Counts and reports an overrun (the ring wrapped under the reader).
    pub(crate) fn overrun(&mut self) {
        let total = count(&mut self.counters.overruns);
        self.visitor.event(&Event::Overrun { total });
    }

    /// Counts and reports an abandoned log (varnishd went away or restarted).
    pub(crate) fn abandoned(&mut self) {
        let total = count(&mut self.counters.abandons);
        self.visitor.event(&Event::Abandoned { total });
    }

    /// Counts and reports a reattach to the live log.
    pub(crate) fn reattached(&mut self) {
        let total = count(&mut self.counters.reattaches);
        self.visitor.event(&Event::Reattached { total });
    }

    /// Counts a failed attempt to reattach.
    pub(crate) fn reattach_failed(&mut self) {
        self.counters.reattach_failures += 1;
    }
}

/// Adds one to `counter` and returns the new total.
fn count(counter: &mut u64) -> u64 {
    *counter += 1;
    *counter
}
