//! The shipper's counters: every way a record can be delayed, cut or lost has one here, and
//! they all reach the heartbeat and the statistics file.
//!
//! Threads add to them per batch or per delivery report, never per record on the hot path, so
//! plain relaxed atomics are enough: readers want totals, not a consistent cut across counters.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// Totals since the process started, shared between threads.
        #[derive(Debug, Default)]
        pub struct Counters {
            $( $(#[$doc])* pub $name: AtomicU64, )*
        }

        /// A copy of [`Counters`] at one moment, for heartbeats and statistics.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct Snapshot {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl Counters {
            /// Reads every counter.
            pub fn snapshot(&self) -> Snapshot {
                Snapshot { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }

        impl Snapshot {
            /// `(name, value)` pairs in declaration order, for the statistics file.
            pub fn fields(&self) -> [(&'static str, u64); [$(stringify!($name)),*].len()] {
                [$( (stringify!($name), self.$name), )*]
            }
        }
    };
}

counters! {
    /// Client request transactions the reader handed over (ESI sub-requests excluded).
    transactions_read,
    /// ESI sub-requests skipped, as varnishkafka skips them.
    esi_skipped,
    /// Client requests the VSL query (`-q`, `varnish.arg.q`) left out: what the operator
    /// asked not to ship, not a loss. Counted on the fast path, which evaluates the query;
    /// on the VSLQ path (`-g request`) Varnish leaves them out before edgeship sees them, and
    /// this stays 0.
    transactions_unselected,
    /// Records rendered (each got a sequence number).
    records_rendered,
    /// Records handed to the output: enqueued in librdkafka, or written to stdout.
    records_produced,
    /// Records the broker acknowledged.
    records_delivered,
    /// Records librdkafka refused at enqueue for a reason other than a full queue (a gap in
    /// the sequence; varnishkafka's `txerr`).
    produce_errors,
    /// Delivery reports that failed and certainly did not persist the record.
    delivery_failed,
    /// Delivery reports that failed after the record may have reached the broker (a timeout
    /// in flight): the auditor may or may not see it.
    delivery_failed_maybe_persisted,
    /// Records for which the local queue was full at least once (back-pressure engaged).
    queue_full_waits,
    /// Microseconds spent waiting for room in the local queue.
    queue_full_blocked_micros,
    /// Records dropped because the queue was full (only with `edgeship.queue.full = drop`).
    queue_full_drops,
    /// Tag payloads cut at `tag.size.max`.
    truncated_tags,
    /// `!num` values that were not numbers.
    invalid_numbers,
    /// Transactions Varnish or the reader forced complete (timeout, store overflow, flush).
    transactions_incomplete,
    /// Times the reader fell behind and the log wrapped under it.
    log_overruns,
    /// Times varnishd went away or restarted under the reader.
    log_abandons,
    /// Times the reader attached again after an overrun or abandon.
    log_reattaches,
    /// Client requests lost before they were numbered: in an overrun before they could be
    /// read, or read but dropped after a panic in the shipping loop.
    transactions_lost,
    /// Log records the reader skipped because their transaction's `Begin` was never read
    /// (a request under way when reading started at the log's tail or resumed after an
    /// overrun): the reader's `records_skipped`.
    records_skipped,
    /// Heartbeats handed to the output.
    heartbeats_produced,
    /// Heartbeats that could not be queued: the queue was full (with `edgeship.queue.full =
    /// drop`, or at the stop deadline), or librdkafka refused them.
    heartbeats_dropped,
    /// Records still undelivered at the stop deadline (`edgeship.shutdown.timeout`): still in
    /// librdkafka's queue after the flush, or never queued because the queue stayed full.
    undelivered_at_exit,
    /// Statistics lines that could not be written (a full disk, a removed file system): the
    /// statistics file only, never records; each failure is also logged.
    statistics_write_errors,
    /// Times the Kafka producer was replaced by a new instance because it could no longer
    /// deliver (fenced by the broker or its idempotence state lost after an outage longer
    /// than `message.timeout.ms`, a fatal error, or no record delivered for longer than
    /// `message.timeout.ms` while deliveries kept failing); each replacement is also logged.
    producer_restarts,
    /// Records a replaced producer failed and its successor queued again (their delivery is
    /// then counted as any record's; those that could not be queued again are counted in
    /// `delivery_failed`).
    records_resent,
    /// Times the reader thread ended with an error it could not recover from (a cut or
    /// unreadable `-r` file, say): what it had read was shipped, the run ends with exit 1,
    /// and the log after the error was not read by this run.
    reader_errors,
    /// Records in the disk spool (`edgeship.spool.dir`) now, replayed or not: pending, not
    /// lost (a gauge, not a total).
    spool_records,
    /// Bytes of the spool's segment files now (a gauge).
    spool_bytes,
    /// The spool's limit, `edgeship.spool.max.bytes` (a gauge; 0 without a spool): with
    /// `spool_bytes`, how full it is.
    spool_max_bytes,
    /// Seconds since the oldest record in the spool was spooled (a gauge; 0 when empty).
    spool_oldest_age_seconds,
    /// Records written to the spool since the start: librdkafka's queue was full, the spool
    /// was not empty (order), or librdkafka gave them back after a failed delivery.
    spool_spilled,
    /// Records handed from the spool to librdkafka since the start (again each time a
    /// delivery failed and it went back).
    spool_replayed,
    /// Deliveries that failed for a reason a later attempt can cure (a timeout, a purge at
    /// stop, a broker away) and whose record went back to the spool instead of being lost.
    spool_returned,
    /// Records dropped because the spool was full (`edgeship.spool.when_full =
    /// drop_newest`): lost, exactly this many.
    spool_dropped,
    /// Times a record waited for room in a full spool (`edgeship.spool.when_full = block`).
    spool_full_waits,
    /// Records the spool found damaged and set aside (at the open or on replay), named by
    /// sequence range in the log: lost.
    spool_lost,
    /// Bytes of the spool the open could not frame as blocks: records lost that cannot be
    /// named (their place is logged).
    spool_unreadable_bytes,
    /// Panics caught in the shipping loop (each ends the run through the ordinary shutdown,
    /// exit 1).
    panics,
    /// Client requests a resumed reader read again that had completed at or before the
    /// checkpointed position (an earlier process of the run shipped them): not shipped again.
    /// Not a loss.
    transactions_before_resume,
    /// Starts with a checkpoint that could not be resumed (`edgeship.state.dir`): varnishd or
    /// its child restarted, the position was overwritten, the checkpoint was unreadable, or
    /// the read path tells no positions. A new run started; the reason is logged.
    resume_failed,
}

impl Counters {
    /// Adds `amount` to one counter.
    pub fn add(counter: &AtomicU64, amount: u64) {
        if amount != 0 {
            counter.fetch_add(amount, Ordering::Relaxed);
        }
    }

    /// Sets a gauge (the spool's figures) to `value`.
    pub fn set(counter: &AtomicU64, value: u64) {
        counter.store(value, Ordering::Relaxed);
    }

    /// Raises a counter to `total` (for totals another component keeps, such as the reader's).
    pub fn raise_to(counter: &AtomicU64, total: u64) {
        counter.fetch_max(total, Ordering::Relaxed);
    }
}
