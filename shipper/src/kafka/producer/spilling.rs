//! The producer's side of the disk spool (`edgeship.spool.dir`): a record goes straight to
//! librdkafka while the spool is idle and librdkafka has room, and to the spool otherwise
//! (its queue full, or records already spooled ahead of it: per-host order); a full spool
//! waits or drops as `edgeship.spool.when_full` says; every poll pumps the spool (delivery
//! outcomes applied, records given back spooled, spooled records replayed); and a stop
//! flushes through the spool, then purges what librdkafka still holds back into it instead of
//! losing it (issue 14, items 1 and 3).

use std::time::{Duration, Instant};

use edgeship_conf::SpoolFullPolicy;
use edgeship_spool::{Error as SpoolError, Record};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer, PurgeConfig};

use super::{record_headers, record_opaque, refused, KafkaProducer, Message, ROOM_POLL};
use crate::counters::Counters;
use crate::kafka::returns::Taken;
use crate::kafka::spooler::{count_dropped, spool_error};

/// How long a stop waits for librdkafka to hand back what it purged.
const PURGE_WAIT: Duration = Duration::from_secs(2);

/// How long a rewind waits between servings of the purge's delivery reports.
const REWIND_POLL: Duration = Duration::from_millis(2);

impl KafkaProducer {
    /// Sends a record straight to librdkafka if nothing is spooled and it has room, or
    /// spools it; returns whether it was taken (counted as produced).
    // hot path: per record with the spool on; while the spool is idle this is one atomic
    // load and the send of the spool-less path.
    #[inline]
    pub(super) fn spool_or_send(
        &mut self,
        payload: &[u8],
        key: &[u8],
        run: &[u8],
        sequence: u64,
    ) -> bool {
        let idle = self
            .spooler
            .as_ref()
            .is_some_and(|spooler| spooler.is_idle());
        if idle {
            let record = self
                .record(
                    payload,
                    key,
                    record_opaque(sequence, self.record_ended_micros),
                )
                .headers(record_headers(run, sequence));
            match self.producer.send(record) {
                Ok(()) => return true,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // The first record spilled: what librdkafka still queues is older, and
                    // goes to the spool first (in-flight messages stay: they are sent).
                    self.rewind(PurgeConfig::default().queue(), false);
                    self.pump();
                }
                Err((error, _)) => {
                    refused(&self.shared, Message::Record, &error);
                    return false;
                }
            }
        }
        self.spill(Record {
            key,
            payload,
            run,
            sequence,
        })
    }

    /// Appends `record` to the spool; a full spool drops it (`drop_newest`) or is waited out
    /// (`block`: serving delivery reports and replaying meanwhile, until the records' part of
    /// a stop ends). A record the spool cannot take for another reason (too large, a write
    /// error) is sent to librdkafka as without a spool.
    fn spill(&mut self, record: Record<'_>) -> bool {
        let mut waited: Option<Instant> = None;
        let taken = loop {
            let Some(spooler) = self.spooler.as_mut() else {
                break false;
            };
            let error = match spooler.append(record) {
                Ok(()) => break true,
                Err(error) => error,
            };
            if !matches!(error, SpoolError::Full) {
                spool_error(&self.shared, "spooling a record", &error);
                let headers = record_headers(record.run, record.sequence);
                let direct = self
                    .record(
                        record.payload,
                        record.key,
                        record_opaque(record.sequence, self.record_ended_micros),
                    )
                    .headers(headers);
                break self.enqueue(direct, Message::Record) == super::Sent::Queued;
            }
            if spooler.when_full() == SpoolFullPolicy::DropNewest {
                count_dropped(&self.shared);
                break false;
            }
            if self.stop.records_expired() {
                self.shared.count_loss(
                    &self.shared.counters.undelivered_at_exit,
                    "shutdown-deadline",
                    "stop deadline reached with the spool full: records not spooled are \
                     counted as undelivered_at_exit",
                );
                break false;
            }
            if waited.is_none() {
                waited = Some(Instant::now());
                Counters::add(&self.shared.counters.spool_full_waits, 1);
                self.shared.log.warning(
                    "spool-full-wait",
                    "spool full: waiting for room (edgeship.spool.when_full = block)",
                );
            }
            self.serve_reports(ROOM_POLL);
            self.recover();
            self.pump();
        };
        if let Some(started) = waited {
            Counters::add(
                &self.shared.counters.queue_full_blocked_micros,
                started.elapsed().as_micros() as u64,
            );
        }
        taken
    }

    /// Applies delivery outcomes to the spool, spools what librdkafka gave back and replays
    /// spooled records while librdkafka has room.
    pub(super) fn pump(&mut self) {
        if self
            .spooler
            .as_ref()
            .is_some_and(|spooler| spooler.take_came_back())
        {
            // A record came back for another attempt: everything newer still in librdkafka
            // comes back too, so that the spool replays them all in sequence order.
            self.rewind(PurgeConfig::default().queue().inflight(), true);
        }
        let Some(spooler) = self.spooler.as_mut() else {
            return;
        };
        let (producer, topic, partition) = (&self.producer, &self.topic, self.partition);
        let shared = &*self.shared;
        spooler.pump(shared, |record, opaque| {
            let mut message = BaseRecord::with_opaque_to(topic, opaque)
                .payload(record.payload)
                .key(record.key)
                .headers(record_headers(record.run, record.sequence));
            if let Some(partition) = partition {
                message = message.partition(partition);
            }
            match producer.send(message) {
                Ok(()) => Taken::Yes,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    Taken::QueueFull
                }
                Err((error, _)) => {
                    refused(shared, Message::Record, &error);
                    Taken::Refused
                }
            }
        });
    }

    /// Pulls back what librdkafka holds (`what`: its queue, and in-flight messages too) and
    /// serves the purge's delivery reports, which hand the records to the spool (applied by
    /// the next pump): so that records go back out in sequence order, as per-host order
    /// needs. With `all`, waits until librdkafka holds nothing (at most [`PURGE_WAIT`]);
    /// otherwise until the reports stop coming. In-flight messages purged may have been
    /// written: sent again, they arrive twice (duplicates the audit counts). Not once a stop
    /// has begun: its flush purges by itself.
    fn rewind(&mut self, what: PurgeConfig, all: bool) {
        if self.stop.deadline().is_some() || self.producer.in_flight_count() <= 0 {
            return;
        }
        let held = self.producer.in_flight_count();
        self.purge_and_serve(what, all);
        self.shared.log.info(&format!(
            "pulled back {} of {held} messages librdkafka held, so that the spool sends them \
             again in sequence order",
            held - self.producer.in_flight_count().max(0)
        ));
    }

    /// Purges `what` and serves the purge's delivery reports: with `all` until librdkafka
    /// holds nothing, otherwise until they stop coming; at most [`PURGE_WAIT`].
    fn purge_and_serve(&mut self, what: PurgeConfig, all: bool) {
        self.producer.purge(what);
        let purged = Instant::now();
        while purged.elapsed() < PURGE_WAIT {
            let before = self.producer.in_flight_count();
            self.serve_reports(REWIND_POLL);
            let now = self.producer.in_flight_count();
            if now <= 0 || (!all && now >= before) {
                break;
            }
        }
    }

    /// The flush of a stop with the spool on: replays and serves delivery reports until the
    /// spool and librdkafka are empty or `until`; then what librdkafka still holds is purged
    /// and its records, given back by their delivery reports, go to the spool, which is
    /// synced. Returns how many records could be neither delivered nor spooled.
    pub(super) fn flush_spooled(&mut self, until: Instant) -> usize {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            self.serve_reports(left.min(ROOM_POLL));
            self.recover();
            self.pump();
            if self.settled() || left.is_zero() {
                break;
            }
        }
        if !self.settled() {
            if let Some(spooler) = self.spooler.as_mut() {
                spooler.stop_replaying();
            }
            self.purge_and_serve(PurgeConfig::default().queue().inflight(), true);
            self.pump();
            self.shared.log.info(
                "stop: what librdkafka still held was purged into the spool, for the next run",
            );
        }
        let Some(spooler) = self.spooler.as_mut() else {
            return 0;
        };
        let abandoned = spooler.abandon_returned(&self.shared);
        spooler.sync(&self.shared);
        let held = u64::try_from(self.producer.in_flight_count()).unwrap_or(0);
        (abandoned + held) as usize
    }

    /// Whether a stop's flush is done: librdkafka holds nothing, and the spool is drained
    /// (or no longer replayed).
    fn settled(&self) -> bool {
        self.producer.in_flight_count() <= 0
            && self
                .spooler
                .as_ref()
                .is_none_or(|spooler| !spooler.replaying() || spooler.is_drained())
    }
}
