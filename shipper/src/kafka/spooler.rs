//! The disk spool between the renderer and librdkafka (issue 14, item 1), when
//! `edgeship.spool.dir` is set: records librdkafka cannot take (its queue is full) or gives
//! back (a delivery that failed for a reason a later attempt can cure: a timeout, a purge, a
//! broker away) go to the spool; while the spool holds anything every new record goes
//! through it, so per-host order is kept (records that come back are pulled back with
//! everything newer and spooled in sequence order: `producer/spilling.rs`'s `rewind`); the
//! replayer hands spooled records back to
//! librdkafka while it has room, and their delivery reports acknowledge or requeue them.
//!
//! The delivery callback cannot reach the spool (`&self`, on librdkafka's side): it sends the
//! outcome of a spooled record (its id, encoded in the delivery opaque) and a copy of a
//! directly sent record whose delivery failed over `Returns` (`returns.rs`); [`Spooler::pump`] applies
//! them on the rendering thread after each poll. Neither is on the per-record path while the
//! broker keeps up: a record sent straight to librdkafka and delivered touches nothing here.
//!
//! With the spool on, `message.timeout.ms` no longer decides loss: a record that times out
//! comes back to the spool and is sent again (a timeout in flight may have persisted it, so
//! it may arrive twice, which the audit counts apart from loss).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crossbeam_channel::Receiver;
use edgeship_conf::{SpoolFullPolicy, SpoolSettings};
use edgeship_spool::{Error as SpoolError, Limits, Record, RecordId, Recovery, Spool};

use super::returns::{spooled_opaque, Outcome, Returns, Taken};
use crate::counters::Counters;
use crate::shared::Shared;

/// How many replayed records may be in librdkafka at once: enough to keep a broker busy, and
/// well below librdkafka's default queue of 100,000 messages, so that heartbeats find room.
const REPLAY_IN_FLIGHT: u64 = 20_000;

/// How many records one `next_batch` hands out.
const REPLAY_BATCH: usize = 1_000;

/// The spool and its bookkeeping on the rendering thread.
pub(super) struct Spooler {
    spool: Spool,
    receiver: Receiver<(u64, Outcome)>,
    returns: Arc<Returns>,
    when_full: SpoolFullPolicy,
    /// Replayed records handed to librdkafka whose report has not been applied.
    in_flight: u64,
    /// Whether spooled records are handed to librdkafka (not once a stop purged it).
    replaying: bool,
    /// The ids a replay could not hand over, and whether each was refused for good.
    unsent: Vec<(RecordId, bool)>,
    /// The sequence numbers of the records appended since the last fsync: done (for the
    /// restart checkpoint, `done.rs`) once an fsync succeeds.
    unsynced: Vec<u64>,
}

impl Spooler {
    /// Opens the spool `settings` name; counts and logs what its recovery found lost.
    pub(super) fn open(
        settings: &SpoolSettings,
        dir: &std::path::Path,
        shared: &Shared,
    ) -> Result<Spooler, SpoolError> {
        let limits = Limits {
            max_bytes: settings.max_bytes,
            fsync_interval: settings.fsync_interval,
            ..Limits::default()
        };
        std::fs::create_dir_all(dir).map_err(|source| SpoolError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (spool, recovery) = Spool::open(dir, limits)?;
        report_recovery(&recovery, dir, shared);
        Counters::set(&shared.counters.spool_max_bytes, settings.max_bytes);
        let (returns, receiver) = Returns::new();
        let spooler = Spooler {
            spool,
            receiver,
            returns: Arc::new(returns),
            when_full: settings.when_full,
            in_flight: 0,
            replaying: true,
            unsent: Vec::new(),
            unsynced: Vec::new(),
        };
        spooler.figures_into(shared);
        Ok(spooler)
    }

    /// What the delivery callbacks report into.
    pub(super) fn returns(&self) -> Arc<Returns> {
        Arc::clone(&self.returns)
    }

    /// Whether a record came back from librdkafka for another attempt since the last call.
    pub(super) fn take_came_back(&self) -> bool {
        self.returns.take_came_back()
    }

    /// What a full spool does.
    pub(super) fn when_full(&self) -> SpoolFullPolicy {
        self.when_full
    }

    /// Whether new records go straight to librdkafka: nothing is spooled or on its way back.
    #[inline]
    pub(super) fn is_idle(&self) -> bool {
        self.spool.is_empty() && !self.returns.has_returned()
    }

    /// Whether nothing is spooled, in flight from the spool, or on its way back.
    pub(super) fn is_drained(&self) -> bool {
        self.is_idle() && self.in_flight == 0
    }

    /// Appends one record. [`SpoolError::Full`] when the spool has no room.
    // hot path: per spilled record; the list of unsynced numbers keeps its capacity.
    pub(super) fn append(&mut self, record: Record<'_>) -> Result<(), SpoolError> {
        self.spool.append(record)?;
        self.unsynced.push(record.sequence);
        Ok(())
    }

    /// Applies the delivery reports, spools the returned records, hands spooled records to
    /// librdkafka through `send` while it takes them, syncs at the interval and refreshes the
    /// figures. `send` queues a record with the given opaque.
    pub(super) fn pump<F>(&mut self, shared: &Shared, mut send: F)
    where
        F: FnMut(Record<'_>, usize) -> Taken,
    {
        self.apply_outcomes(shared);
        self.spool_returned(shared);
        if self.replaying {
            self.replay(shared, &mut send);
        }
        match self.spool.maybe_sync(Instant::now()) {
            Ok(true) => self.synced(shared),
            Ok(false) => {}
            Err(error) => spool_error(shared, "writing the spool", &error),
        }
        self.figures_into(shared);
    }

    /// Whether spooled records are still handed to librdkafka.
    pub(super) fn replaying(&self) -> bool {
        self.replaying
    }

    /// Forgets the records given back that a full spool (`block`) kept waiting, at the end
    /// of a stop; returns how many, to be counted as undelivered.
    pub(super) fn abandon_returned(&mut self, shared: &Shared) -> u64 {
        let mut abandoned = 0;
        while let Some(returned) = self.returns.take_returned() {
            shared.mark_done(returned.sequence);
            abandoned += 1;
        }
        abandoned
    }

    /// Stops replaying (a stop purged librdkafka): what the spool holds stays for the next
    /// run, and what was in flight from it is requeued by its purge reports.
    pub(super) fn stop_replaying(&mut self) {
        self.replaying = false;
    }

    /// Writes and fsyncs what the spool holds.
    pub(super) fn sync(&mut self, shared: &Shared) {
        match self.spool.sync() {
            Ok(()) => self.synced(shared),
            Err(error) => spool_error(shared, "syncing the spool", &error),
        }
        self.figures_into(shared);
    }

    /// Marks the records appended before a successful fsync done: they survive a crash.
    fn synced(&mut self, shared: &Shared) {
        for sequence in self.unsynced.drain(..) {
            shared.mark_done(sequence);
        }
    }

    fn apply_outcomes(&mut self, shared: &Shared) {
        while let Ok((raw, outcome)) = self.receiver.try_recv() {
            self.in_flight = self.in_flight.saturating_sub(1);
            let id = RecordId::from_raw(raw);
            let applied = match outcome {
                Outcome::Delivered | Outcome::Failed => self.spool.acknowledge(id),
                Outcome::Retry => self.spool.requeue(id),
            };
            if let Err(error) = applied {
                spool_error(shared, "applying a delivery report to the spool", &error);
            }
        }
    }

    /// Appends the records librdkafka gave back; a full spool keeps them waiting (`block`)
    /// or drops and counts them (`drop_newest`).
    fn spool_returned(&mut self, shared: &Shared) {
        if !self.returns.has_returned() {
            return;
        }
        let mut all = self.returns.take_all_returned().into_iter();
        while let Some(returned) = all.next() {
            let record = Record {
                key: &returned.key,
                payload: &returned.payload,
                run: &returned.run,
                sequence: returned.sequence,
            };
            match self.spool.append(record) {
                Ok(_) => self.unsynced.push(returned.sequence),
                Err(SpoolError::Full) if self.when_full == SpoolFullPolicy::Block => {
                    // Back in front, in order: the rest after it.
                    for later in all.rev() {
                        self.returns.put_back(later);
                    }
                    self.returns.put_back(returned);
                    return;
                }
                Err(SpoolError::Full) => {
                    count_dropped(shared);
                    shared.mark_done(returned.sequence);
                }
                Err(error) => {
                    spool_error(shared, "spooling a record librdkafka gave back", &error);
                    Counters::add(&shared.counters.delivery_failed, 1);
                    shared.mark_done(returned.sequence);
                }
            }
        }
    }

    /// Hands spooled records to librdkafka until its queue is full, the in-flight bound is
    /// reached or the spool has nothing more to hand out.
    fn replay<F>(&mut self, shared: &Shared, send: &mut F)
    where
        F: FnMut(Record<'_>, usize) -> Taken,
    {
        while self.in_flight < REPLAY_IN_FLIGHT {
            let room = (REPLAY_IN_FLIGHT - self.in_flight) as usize;
            let mut full = false;
            let mut sent = 0_u64;
            let batch = match self.spool.next_batch(room.min(REPLAY_BATCH)) {
                Ok(batch) => batch,
                Err(error) => {
                    spool_error(shared, "replaying the spool", &error);
                    // A block set aside on replay: its records are lost, by range, and the
                    // replay goes on past it. Any other error (a segment that cannot be read)
                    // is tried again at the next poll, not in a loop here.
                    let SpoolError::LostOnReplay(range) = &error else {
                        return;
                    };
                    let records = range.last.saturating_sub(range.first) + 1;
                    Counters::add(&shared.counters.spool_lost, records);
                    continue;
                }
            };
            if batch.is_empty() {
                return;
            }
            for spooled in batch.iter() {
                if full {
                    self.unsent.push((spooled.id, false));
                    continue;
                }
                match send(spooled.record, spooled_opaque(spooled.id)) {
                    Taken::Yes => sent += 1,
                    Taken::QueueFull => {
                        full = true;
                        self.unsent.push((spooled.id, false));
                    }
                    Taken::Refused => self.unsent.push((spooled.id, true)),
                }
            }
            self.in_flight += sent;
            self.settle_unsent(shared);
            if full {
                return;
            }
        }
    }

    /// Requeues the records a replay could not hand over; those librdkafka refused for good
    /// (counted by the sender) are acknowledged instead, so they do not come back forever.
    fn settle_unsent(&mut self, shared: &Shared) {
        for (id, refused) in self.unsent.drain(..) {
            let settled = if refused {
                self.spool.acknowledge(id)
            } else {
                self.spool.requeue(id)
            };
            if let Err(error) = settled {
                spool_error(shared, "requeueing a spooled record", &error);
            }
        }
    }

    /// Writes the spool's figures into the counters the heartbeat and statistics read.
    fn figures_into(&self, shared: &Shared) {
        let figures = self.spool.figures();
        let counters = &shared.counters;
        let age = figures.oldest_append.map_or(0, |oldest| {
            SystemTime::now()
                .duration_since(oldest)
                .map_or(0, |age| age.as_secs())
        });
        Counters::set(&counters.spool_records, figures.records);
        Counters::set(&counters.spool_bytes, figures.bytes);
        Counters::set(&counters.spool_oldest_age_seconds, age);
        Counters::set(&counters.spool_spilled, figures.spilled);
        Counters::set(&counters.spool_replayed, figures.replayed);
    }
}

/// Counts and logs a record dropped because the spool was full (`drop_newest`).
pub(super) fn count_dropped(shared: &Shared) {
    shared.count_loss(
        &shared.counters.spool_dropped,
        "spool-full-drop",
        "spool full: records dropped (edgeship.spool.when_full = drop_newest)",
    );
}

/// Logs a spool error, rate-limited.
pub(super) fn spool_error(shared: &Shared, what: &str, error: &SpoolError) {
    shared.log.error("spool", &format!("{what}: {error}"));
}

/// Counts (once, at the open) and logs what the spool's recovery found damaged.
fn report_recovery(recovery: &Recovery, dir: &std::path::Path, shared: &Shared) {
    let lost: u64 = recovery
        .lost
        .iter()
        .map(|range| range.last.saturating_sub(range.first) + 1)
        .sum();
    let unreadable: u64 = recovery.unreadable.iter().map(|bytes| bytes.bytes).sum();
    let counters = &shared.counters;
    Counters::add(&counters.spool_lost, lost);
    Counters::add(&counters.spool_unreadable_bytes, unreadable);
    for range in &recovery.lost {
        shared.log.error(
            "spool-lost",
            &format!(
                "spool {}: a damaged block was set aside: run {} sequence {}..={} lost",
                dir.display(),
                String::from_utf8_lossy(&range.run),
                range.first,
                range.last
            ),
        );
    }
    for place in &recovery.unreadable {
        shared.log.error(
            "spool-lost",
            &format!(
                "spool {}: {} unreadable bytes at offset {} (their records cannot be named)",
                place.segment.display(),
                place.bytes,
                place.offset
            ),
        );
    }
    shared.log.info(&format!(
        "spool {} opened: {} records to replay, {} bytes of a torn tail truncated",
        dir.display(),
        recovery.records,
        recovery.truncated_bytes
    ));
}
