//! The producer: a `send` that waits for room instead of dropping when the local queue is full
//! (or drops and counts, as `edgeship.queue.full` says), never past the stop deadline; the
//! record headers that carry the run and sequence number beside the body (docs/records.md);
//! polling, flushing until a deadline, and librdkafka's fatal state; the replacement of a
//! producer instance that can no longer deliver (issue 12, item 13: after an outage longer
//! than `message.timeout.ms` the broker may fence it for good, while a new instance delivers
//! at once) by a new one from the same configuration, which re-sends what the old one failed,
//! and of one that has delivered nothing for longer than the message timeout while its
//! deliveries keep failing, whatever the error ([`Stall`]); and the producer as the
//! pipeline's Kafka [`Sink`].
//!
//! Allocation: edgeship's own per-record path allocates nothing, but producing does, below us:
//! librdkafka copies every message into its queue (`RD_KAFKA_MSG_F_COPY`, which rust-rdkafka
//! always uses), rust-rdkafka 0.39 builds a `CString` of the topic name in every `send`, and
//! the headers are a librdkafka `rd_kafka_headers_t` per message (one list and one allocation
//! per header), because a successful `producev` takes ownership of them, so they cannot be
//! reused, and rust-rdkafka has no borrowed headers for producing. Avoiding any of these would
//! mean calling librdkafka directly, and `unsafe` is reserved for `varnishlog`; the `stdout`
//! and `null` outputs have no such cost. The header values themselves (the run, the decimal
//! sequence number) are written from borrowed bytes and a stack buffer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgeship_conf::{Config, Errors, Partitioning, QueueFullPolicy};
use edgeship_formats::decimal::Decimal;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, PurgeConfig};
use rdkafka::ClientConfig;

use super::config::{KafkaConfig, KafkaInput};
use super::context::{
    mark_done, opaque_kind, record_opaque, KafkaContext, OPAQUE_FINAL_HEARTBEAT, OPAQUE_HEARTBEAT,
    OPAQUE_RECORD,
};
use super::resend::{Failed, OnFatal, Recovery};
use super::returns::{OPAQUE_SPOOLED, RUN_HEADER, SEQUENCE_HEADER};
use super::spooler::Spooler;
use super::stall::{Stall, MAX_WINDOW};
use crate::counters::Counters;
use crate::deadline::StopClock;
use crate::shared::Shared;
use crate::sink::{Key, Sink, Values};

mod spilling;

/// How often a wait for room in a full queue serves delivery reports and looks at the clock.
const ROOM_POLL: Duration = Duration::from_millis(20);

/// How many events one serving of waiting reports takes at most (each a batch of delivery
/// reports): a bound, so that a stream of other events cannot keep it from returning.
const EVENTS_PER_SERVING: usize = 64;

/// How long a finished producer instance may take to hand back what it still holds before it
/// is dropped (which purges the rest, counted as maybe persisted).
const RETIRE_FLUSH: Duration = Duration::from_secs(1);

/// The shortest time between two replacements: a producer that is finished again at once (a
/// broker that fences every new instance, a fatal error a new instance meets too) is not
/// replaced in a loop; a fatal error then stops the run as before.
const REPLACE_INTERVAL: Duration = Duration::from_secs(5);

/// The producer and where it sends.
pub struct KafkaProducer {
    producer: BaseProducer<KafkaContext>,
    /// librdkafka's configuration, kept to build a new instance from.
    client: ClientConfig,
    /// What the instances of this run share: the re-send queue.
    recovery: Arc<Recovery>,
    /// When the producer was last replaced.
    replaced_at: Option<Instant>,
    /// The watch for an instance that delivers nothing while its deliveries fail.
    stall: Stall,
    /// Whether a fatal error replaces the producer or stops the run.
    on_fatal: OnFatal,
    topic: String,
    partition: Option<i32>,
    policy: QueueFullPolicy,
    shared: Arc<Shared>,
    stop: StopClock,
    /// When the next record's request ended in Varnish, carried in its opaque.
    record_ended_micros: u64,
    /// The disk spool, when `edgeship.spool.dir` is set (`spooler.rs`).
    spooler: Option<Spooler>,
}

/// What happened to one record handed to [`KafkaProducer::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Enqueued; its delivery report will be counted.
    Queued,
    /// Dropped and counted (queue full with the drop policy or at the stop deadline, or
    /// refused by librdkafka).
    Dropped,
}

/// What kind of message a send carries, which decides how a full queue is met and how a
/// message that could not be queued is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    Record,
    Heartbeat,
    FinalHeartbeat,
}

impl Message {
    fn from_opaque(opaque: usize) -> Message {
        match opaque_kind(opaque) {
            OPAQUE_RECORD | OPAQUE_SPOOLED => Message::Record,
            OPAQUE_HEARTBEAT => Message::Heartbeat,
            _ => Message::FinalHeartbeat,
        }
    }

    /// The opaque of a heartbeat (a record's carries its sequence and start time:
    /// `record_opaque`).
    fn beat_opaque(self) -> usize {
        match self {
            Message::Record => OPAQUE_RECORD,
            Message::Heartbeat => OPAQUE_HEARTBEAT,
            Message::FinalHeartbeat => OPAQUE_FINAL_HEARTBEAT,
        }
    }

    /// Whether a full queue is waited out (until the stop deadline, if a stop has begun).
    /// With the drop policy, records and heartbeats do not wait: waiting would stall the
    /// reader into overruns, which that policy exists to prevent. The final heartbeat waits,
    /// as nothing is read any more.
    fn waits_for_room(self, policy: QueueFullPolicy) -> bool {
        self == Message::FinalHeartbeat || policy == QueueFullPolicy::Block
    }
}

/// The headers of a request record: its run and sequence number.
#[inline]
fn record_headers(run: &[u8], sequence: u64) -> OwnedHeaders {
    let sequence = Decimal::new(sequence);
    OwnedHeaders::new_with_capacity(2)
        .insert(Header {
            key: RUN_HEADER,
            value: Some(run),
        })
        .insert(Header {
            key: SEQUENCE_HEADER,
            value: Some(sequence.as_bytes()),
        })
}

/// The headers of a heartbeat: its run.
fn heartbeat_headers(run: &[u8]) -> OwnedHeaders {
    OwnedHeaders::new_with_capacity(1).insert(Header {
        key: RUN_HEADER,
        value: Some(run),
    })
}

impl KafkaProducer {
    /// Creates the producer. Configuration problems were caught by
    /// [`check`](super::config::check) already, but are reported the same way if they show up
    /// here; notices about the configuration (acks raised) go to the log. Waits for room in a
    /// full queue end at `stop`'s deadline.
    pub fn new(
        config: &Config,
        shared: &Arc<Shared>,
        stop: StopClock,
    ) -> Result<KafkaProducer, Errors> {
        let kafka = KafkaConfig::build(KafkaInput::from_config(config))?;
        for notice in kafka.notices() {
            shared.log.notice(notice);
        }
        let recovery = Arc::new(Recovery::default());
        let spooler = match &config.edgeship.spool.dir {
            Some(dir) => Some(Spooler::open(&config.edgeship.spool, dir, shared).map_err(
                |error| {
                    let message = format!("cannot open the spool {}: {error}", dir.display());
                    Errors::new(vec![config.error_at(None, message)])
                },
            )?),
            None => None,
        };
        // An instance may go without delivering for as long as a record may wait for its
        // delivery; with no limit (`message.timeout.ms = 0`), for the longest window.
        let window = kafka
            .message_timeout()
            .unwrap_or(MAX_WINDOW)
            .max(REPLACE_INTERVAL);
        let client = kafka.client();
        let on_fatal = OnFatal::of(&client);
        let context = KafkaContext::new(
            Arc::clone(shared),
            Arc::clone(&recovery),
            on_fatal,
            spooler.as_ref().map(Spooler::returns),
        );
        let producer = client
            .create_with_context(context)
            .map_err(|error| Errors::new(vec![kafka.refusal(&error)]))?;
        let topic = config
            .kafka
            .topic
            .as_ref()
            .map(|topic| topic.value.clone())
            .ok_or_else(|| {
                let missing = "missing kafka.topic (required when output = kafka)";
                Errors::new(vec![config.error_at(None, missing)])
            })?;
        Ok(KafkaProducer {
            producer,
            client,
            recovery,
            replaced_at: None,
            stall: Stall::new(window, Instant::now()),
            on_fatal,
            topic,
            partition: match config.kafka.partitioning {
                Partitioning::ByKey => None,
                Partitioning::Fixed(partition) => Some(partition),
            },
            policy: config.edgeship.queue_full,
            shared: Arc::clone(shared),
            stop,
            record_ended_micros: 0,
            spooler,
        })
    }

    /// Enqueues a record with its run and sequence headers. With the block policy a full
    /// queue is waited out (serving delivery reports meanwhile, until the stop deadline once
    /// a stop has begun) and the wait is counted; with the drop policy the record is dropped
    /// and counted.
    #[inline]
    pub fn send(&self, payload: &[u8], key: &[u8], run: &[u8], sequence: u64) -> Sent {
        let record = self
            .record(
                payload,
                key,
                record_opaque(sequence, self.record_ended_micros),
            )
            .headers(record_headers(run, sequence));
        self.enqueue(record, Message::Record)
    }

    /// Enqueues a heartbeat, keyed like the records, with its run header.
    pub fn send_heartbeat(&self, payload: &[u8], key: &[u8], run: &[u8]) -> Sent {
        self.send_beat(payload, key, run, Message::Heartbeat)
    }

    /// Enqueues the final heartbeat of a clean stop: it waits for room until the deadline.
    pub fn send_final_heartbeat(&self, payload: &[u8], key: &[u8], run: &[u8]) -> Sent {
        self.send_beat(payload, key, run, Message::FinalHeartbeat)
    }

    fn send_beat(&self, payload: &[u8], key: &[u8], run: &[u8], message: Message) -> Sent {
        let record = self
            .record(payload, key, message.beat_opaque())
            .headers(heartbeat_headers(run));
        self.enqueue(record, message)
    }

    #[inline]
    fn record<'a>(
        &'a self,
        payload: &'a [u8],
        key: &'a [u8],
        opaque: usize,
    ) -> BaseRecord<'a, [u8], [u8], usize> {
        let record = BaseRecord::with_opaque_to(&self.topic, opaque)
            .payload(payload)
            .key(key);
        match self.partition {
            Some(partition) => record.partition(partition),
            None => record,
        }
    }

    /// Hands `record` to librdkafka, meeting a full queue as `message`'s kind and the policy
    /// say. A record that comes back from a full queue is sent again as it is, headers and
    /// all.
    fn enqueue(&self, mut record: BaseRecord<'_, [u8], [u8], usize>, message: Message) -> Sent {
        let mut waited: Option<Instant> = None;
        let outcome = loop {
            match self.producer.send(record) {
                Ok(()) => break Sent::Queued,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    if !message.waits_for_room(self.policy) || self.out_of_time(message) {
                        self.give_up(message);
                        break Sent::Dropped;
                    }
                    if waited.is_none() {
                        waited = Some(Instant::now());
                        if message == Message::Record {
                            Counters::add(&self.shared.counters.queue_full_waits, 1);
                        }
                        self.shared.log.warning(
                            "queue-full-wait",
                            "local queue full: waiting for room (edgeship.queue.full = block)",
                        );
                    }
                    // Serving delivery reports is what frees room.
                    self.serve_reports(ROOM_POLL);
                }
                Err((error, _)) => {
                    refused(&self.shared, message, &error);
                    break Sent::Dropped;
                }
            }
        };
        if let Some(started) = waited {
            Counters::add(
                &self.shared.counters.queue_full_blocked_micros,
                started.elapsed().as_micros() as u64,
            );
        }
        outcome
    }

    /// Whether a stop has begun and `message`'s part of it is over: the final heartbeat may
    /// wait until the deadline, everything else until the records' part ends.
    fn out_of_time(&self, message: Message) -> bool {
        match message {
            Message::FinalHeartbeat => self.stop.expired(),
            Message::Record | Message::Heartbeat => self.stop.records_expired(),
        }
    }

    /// Counts and logs a message that found the queue full and may wait no longer.
    fn give_up(&self, message: Message) {
        let shared = &*self.shared;
        let counters = &shared.counters;
        match message {
            Message::Record if self.policy == QueueFullPolicy::Drop => shared.count_loss(
                &counters.queue_full_drops,
                "queue-full-drop",
                "local queue full: records dropped (edgeship.queue.full = drop)",
            ),
            // Only a stop ends a block-policy wait.
            Message::Record => shared.count_loss(
                &counters.undelivered_at_exit,
                "shutdown-deadline",
                "stop deadline reached with the local queue full: records not queued are \
                 counted as undelivered_at_exit",
            ),
            Message::Heartbeat | Message::FinalHeartbeat => shared.count_loss(
                &counters.heartbeats_dropped,
                "heartbeat-dropped",
                "local queue full: a heartbeat was dropped and the auditor will miss it",
            ),
        }
    }
}

/// Counts and logs a message librdkafka refused at enqueue for a reason other than a full
/// queue.
fn refused(shared: &Shared, message: Message, error: &KafkaError) {
    let counters = &shared.counters;
    let (counter, kind, what) = match message {
        Message::Record => (
            &counters.produce_errors,
            "produce",
            ("a record", "a gap in the sequence"),
        ),
        Message::Heartbeat | Message::FinalHeartbeat => (
            &counters.heartbeats_dropped,
            "heartbeat-dropped",
            ("a heartbeat", "dropped"),
        ),
    };
    let (item, consequence) = what;
    shared.log.counted_error(kind, counter, 1, |total| {
        format!("librdkafka refused {item} at enqueue ({error}): {consequence} ({total} so far)")
    });
}

impl KafkaProducer {
    /// Waits about `wait` for librdkafka, serving the delivery reports that are waiting before
    /// and after. rust-rdkafka's timed poll waits in whole milliseconds and spins through the
    /// last fraction of one, which cost about 5% of a core in a wait for room with the broker
    /// away (benches/RESULTS.md); a sleep costs nothing.
    fn serve_reports(&self, wait: Duration) {
        self.serve_waiting_reports();
        std::thread::sleep(wait);
        self.serve_waiting_reports();
    }

    /// Serves the events librdkafka has ready, without waiting: one per zero-timeout poll,
    /// for as long as they are delivery reports (each lowers the count of messages not yet
    /// reported), up to [`EVENTS_PER_SERVING`].
    fn serve_waiting_reports(&self) {
        for _ in 0..EVENTS_PER_SERVING {
            let before = self.producer.in_flight_count();
            self.producer.poll(Duration::ZERO);
            if self.producer.in_flight_count() >= before {
                return;
            }
        }
    }

    /// Whether librdkafka reported a fatal error to the current instance.
    ///
    /// The producer's event API hands a fatal error to the error callback with its underlying
    /// code (e.g. `_GAPLESS_GUARANTEE`, `OutOfOrderSequenceNumber`), not as `_FATAL`, so after
    /// any error event librdkafka's own record of a fatal error is consulted.
    fn fatal_now(&self) -> bool {
        let context = self.producer.context();
        if context.fatal_recorded() {
            return true;
        }
        if context.take_errors_seen() && self.producer.client().fatal_error().is_some() {
            context.record_fatal();
            return true;
        }
        false
    }

    /// Records delivered and record deliveries failed so far in the run.
    fn delivery_totals(&self) -> (u64, u64) {
        let counters = &self.shared.counters;
        let delivered = counters.records_delivered.load(Ordering::Relaxed);
        let failed = counters.delivery_failed.load(Ordering::Relaxed)
            + counters.spool_returned.load(Ordering::Relaxed)
            + counters
                .delivery_failed_maybe_persisted
                .load(Ordering::Relaxed);
        (delivered, failed)
    }

    /// Replaces the current instance if it can no longer deliver (a fatal error, a delivery
    /// failed because it was fenced or lost its idempotence state, or no record delivered for
    /// longer than the stall window while deliveries kept failing), at most once per
    /// [`REPLACE_INTERVAL`].
    fn recover(&mut self) {
        let now = Instant::now();
        let (delivered, failed) = self.delivery_totals();
        let stalled = self.stall.check(delivered, failed, now);
        let why = if self.fatal_now() {
            if self.on_fatal == OnFatal::Stop {
                return;
            }
            "a fatal error".to_owned()
        } else if self.producer.context().finished() {
            "the broker fenced it or lost its idempotence state".to_owned()
        } else if let Some(stalled) = stalled {
            format!(
                "it delivered no record for {} s while deliveries kept failing",
                stalled.as_secs()
            )
        } else {
            return;
        };
        if self
            .replaced_at
            .is_some_and(|at| at.elapsed() < REPLACE_INTERVAL)
        {
            return;
        }
        self.replaced_at = Some(now);
        let context = KafkaContext::new(
            Arc::clone(&self.shared),
            Arc::clone(&self.recovery),
            self.on_fatal,
            self.spooler.as_ref().map(Spooler::returns),
        );
        let fresh = match self.client.create_with_context(context) {
            Ok(fresh) => fresh,
            Err(error) => {
                self.shared.log.error(
                    "kafka-restart",
                    &format!("the Kafka producer can no longer deliver ({why}) and a new one could not be created: {error}"),
                );
                return;
            }
        };
        self.shared.log.counted_error(
            "kafka-restart",
            &self.shared.counters.producer_restarts,
            1,
            |total| {
                format!(
                    "the Kafka producer can no longer deliver ({why}): replacing the Kafka \
                     producer with a new instance and re-sending what it failed ({total} \
                     replacements so far)"
                )
            },
        );
        let old = std::mem::replace(&mut self.producer, fresh);
        // What the old instance still queues is purged into the re-send queue; what it has in
        // flight comes back within the bound (fenced: kept too), and dropping it purges the
        // rest, counted as maybe persisted.
        old.context().retire();
        old.purge(PurgeConfig::default().queue());
        let _ = old.flush(RETIRE_FLUSH);
        drop(old);
        self.resend();
        let (_, failed) = self.delivery_totals();
        self.stall
            .replaced(failed, Instant::now(), stalled.is_some());
    }

    /// Sends every kept message again through the current instance, oldest first; what cannot
    /// be queued is counted as a failed delivery (a heartbeat as dropped).
    fn resend(&self) {
        let kept = self.recovery.take();
        let (mut resent, mut failed) = (0_u64, 0_u64);
        for message in &kept {
            let kind = Message::from_opaque(message.opaque);
            if self.resend_one(message, kind) {
                resent += u64::from(kind == Message::Record);
            } else if kind == Message::Record {
                failed += 1;
                mark_done(&self.shared, message.opaque);
            } else {
                self.shared.count_loss(
                    &self.shared.counters.heartbeats_dropped,
                    "heartbeat-dropped",
                    "a heartbeat failed by the replaced Kafka producer could not be queued again",
                );
            }
        }
        let counters = &self.shared.counters;
        Counters::add(&counters.records_resent, resent);
        self.shared.log.info(&format!(
            "re-sent {resent} records failed by the replaced Kafka producer"
        ));
        if failed > 0 {
            self.shared.log.counted_error(
                "kafka-resend",
                &counters.delivery_failed,
                failed,
                |total| {
                    format!(
                        "{failed} records failed by the replaced Kafka producer could not be \
                         queued again: counted as delivery_failed ({total} so far)"
                    )
                },
            );
        }
    }

    /// Queues one kept message, waiting for room as its kind would; returns whether it was
    /// queued.
    fn resend_one(&self, message: &Failed, kind: Message) -> bool {
        let mut record = BaseRecord::with_opaque_to(&self.topic, message.opaque)
            .payload(message.payload.as_slice());
        if let Some(key) = &message.key {
            record = record.key(key.as_slice());
        }
        if let Some(headers) = &message.headers {
            record = record.headers(headers.clone());
        }
        if let Some(partition) = self.partition {
            record = record.partition(partition);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return true,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned))
                    if kind.waits_for_room(self.policy) && !self.out_of_time(kind) =>
                {
                    record = returned;
                    self.serve_reports(ROOM_POLL);
                }
                Err(_) => return false,
            }
        }
    }
}

impl Sink for KafkaProducer {
    #[inline]
    fn record_ended(&mut self, unix_micros: u64) {
        self.record_ended_micros = unix_micros;
    }

    #[inline]
    fn take_record<'v, V: Values<'v>>(
        &mut self,
        record: &mut Vec<u8>,
        key: Key<'_, 'v, V>,
    ) -> bool {
        let context = key.context();
        let (run, sequence) = (context.run, context.sequence);
        if self.spooler.is_some() {
            return self.spool_or_send(record, key.render(), run, sequence);
        }
        self.send(record, key.render(), run, sequence) == Sent::Queued
    }

    fn heartbeat<'v, V: Values<'v>>(
        &mut self,
        beat: &mut Vec<u8>,
        key: Key<'_, 'v, V>,
    ) -> anyhow::Result<bool> {
        let run = key.context().run;
        Ok(self.send_heartbeat(beat, key.render(), run) == Sent::Queued)
    }

    fn final_heartbeat<'v, V: Values<'v>>(
        &mut self,
        beat: &mut Vec<u8>,
        key: Key<'_, 'v, V>,
    ) -> anyhow::Result<bool> {
        let run = key.context().run;
        Ok(self.send_final_heartbeat(beat, key.render(), run) == Sent::Queued)
    }

    fn final_heartbeat_delivered(&self) -> bool {
        self.producer.context().final_heartbeat_delivered()
    }

    /// Serves delivery reports and statistics without waiting, and replaces the producer if
    /// they say it can no longer deliver.
    fn poll(&mut self) {
        self.producer.poll(Duration::ZERO);
        self.shared.latency.merge_deliveries();
        self.recover();
        self.pump();
    }

    /// Whether librdkafka reported a fatal error that a replacement did not cure (the
    /// instance failed again within [`REPLACE_INTERVAL`], or no new one could be created).
    fn is_fatal(&self) -> bool {
        self.fatal_now()
    }

    /// Waits until `until` at most for every queued message to be delivered or failed;
    /// returns how many records (heartbeats aside) were still in flight when it gave up.
    /// librdkafka fails a message after `message.timeout.ms` by itself, so the flush needs no
    /// budget of its own (and `message.timeout.ms = 0`, librdkafka's "no limit", is no zero
    /// budget).
    fn flush(&mut self, until: Instant) -> usize {
        if self.spooler.is_some() {
            return self.flush_spooled(until);
        }
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let _ = self.producer.flush(left.min(Duration::from_millis(500)));
            self.shared.latency.merge_deliveries();
            self.recover();
            if self.producer.in_flight_count() <= 0 || left.is_zero() {
                break;
            }
        }
        // Every delivery report served so far is counted: what was produced and has no report
        // yet is still in flight.
        let counters = self.shared.counters.snapshot();
        let reported = counters.records_delivered
            + counters.delivery_failed
            + counters.delivery_failed_maybe_persisted;
        counters.records_produced.saturating_sub(reported) as usize
    }
}
