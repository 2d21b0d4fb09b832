//! The reading loop both modes share: poll, fold each message into the audit, and decide when
//! each partition is finished.
//!
//! A partition is finished at an explicit end offset, at the first message stamped after the
//! window (plus grace), or once it is caught up: its position has reached the high watermark
//! and no message came for [`IDLE`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::{BorrowedMessage, Headers as _, Message};
use rdkafka::topic_partition_list::Offset;

use super::error::KafkaError;
use super::options::{KafkaOptions, TopicPartition};
use super::placement::Placement;
use crate::audit::{Auditor, Headers, Origin, PartitionId};
use crate::scan;

/// How long a partition at its high watermark must stay without messages to count as read.
/// Brokers whose watermarks lag (tansu 0.6 reports the last batch's base offset + 1) would
/// otherwise end a partition early or never.
pub const IDLE: Duration = Duration::from_millis(1500);

/// How long to wait for a message before looking at the positions again.
const POLL: Duration = Duration::from_millis(200);

/// How often the progress callback is called at most.
const REPORT_EVERY: Duration = Duration::from_millis(250);

/// What the Kafka input did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaStats {
    /// Messages read (inside the reading range).
    pub messages: u64,
    /// Partitions this auditor read to the end.
    pub partitions_read: usize,
    /// Partitions found already reported by another member of the group.
    pub partitions_skipped: usize,
    /// Partitions taken away by a rebalance before they were finished.
    pub partitions_revoked: u64,
}

/// Reading state of one partition.
#[derive(Debug, Clone, Copy)]
pub(super) struct PartitionState {
    pub(super) id: PartitionId,
    pub(super) source: u32,
    /// Offset to stop before, when given explicitly.
    end: Option<i64>,
    /// High watermark when last asked: the partition is caught up at or past it.
    high: i64,
    /// Next offset to read.
    pub(super) position: i64,
    /// When the last message of this partition (or its assignment) came.
    last_message: Instant,
    done: bool,
    /// Another member of the group already reported it.
    pub(super) skipped: bool,
}

impl PartitionState {
    /// The state of a newly placed partition, registered with the auditor as a source.
    pub(super) fn new(auditor: &mut Auditor, options: &KafkaOptions, p: &Placement) -> Self {
        let source = auditor.add_source(p.partition.to_string());
        Self {
            id: PartitionId {
                topic: options.topic_index(&p.partition.topic),
                partition: p.partition.partition,
            },
            source,
            end: p.end,
            high: p.high,
            position: p.start,
            last_message: Instant::now(),
            done: p.skipped || p.end.is_some_and(|e| p.start >= e),
            skipped: p.skipped,
        }
    }
}

/// The `edgeship.run` and `edgeship.sequence` headers of a message (`docs/records.md`). A
/// sequence header that is not a decimal number is ignored: the body's field is read instead.
fn edgeship_headers<'m>(message: &'m BorrowedMessage<'_>) -> Headers<'m> {
    let mut found = Headers::default();
    let Some(headers) = message.headers() else {
        return found;
    };
    for header in headers.iter() {
        match header.key {
            "edgeship.run" => found.run = header.value,
            "edgeship.sequence" => found.sequence = header.value.and_then(scan::unsigned),
            _ => {}
        }
    }
    found
}

/// The partitions being read.
pub(super) type States = BTreeMap<TopicPartition, PartitionState>;

/// What differs between reading alone and reading in a group.
pub(super) trait Hooks<C: ConsumerContext> {
    /// A partition reached its end (the group mode commits its marker here).
    fn finished(
        &mut self,
        consumer: &BaseConsumer<C>,
        state: &PartitionState,
    ) -> Result<(), KafkaError>;
    /// Applies rebalances to `states` and `auditor`; returns whether the partitions are known
    /// yet (a group member has none until its first assignment).
    fn rebalanced(
        &mut self,
        states: &mut States,
        auditor: &mut Auditor,
    ) -> Result<bool, KafkaError>;
}

/// One reading of partitions into the auditor: what the loop works on, together.
pub(super) struct Reading<'a, C: ConsumerContext> {
    consumer: &'a BaseConsumer<C>,
    auditor: &'a mut Auditor,
    options: &'a KafkaOptions,
    progress: &'a mut dyn FnMut(u64),
    /// The partitions read, by name.
    pub(super) states: States,
    pub(super) stats: KafkaStats,
}

impl<'a, C: ConsumerContext> Reading<'a, C> {
    /// A reading with no partitions yet.
    pub(super) fn new(
        consumer: &'a BaseConsumer<C>,
        auditor: &'a mut Auditor,
        options: &'a KafkaOptions,
        progress: &'a mut dyn FnMut(u64),
    ) -> Self {
        Self {
            consumer,
            auditor,
            options,
            progress,
            states: States::new(),
            stats: KafkaStats::default(),
        }
    }

    /// Adds a placed partition to read.
    pub(super) fn add(&mut self, placement: Placement) {
        let state = PartitionState::new(self.auditor, self.options, &placement);
        self.states.insert(placement.partition, state);
    }

    /// Reads until every known partition is finished.
    pub(super) fn run(&mut self, hooks: &mut dyn Hooks<C>) -> Result<(), KafkaError> {
        let stall_limit = self.options.timeout * 6;
        let mut last_progress = Instant::now();
        let mut last_report = Instant::now();
        loop {
            let known = hooks.rebalanced(&mut self.states, self.auditor)?;
            if known && self.states.values().all(|s| s.done) {
                return Ok(());
            }
            let message = match self.consumer.poll(POLL) {
                None => None,
                Some(Ok(m)) => Some(m),
                Some(Err(RdKafkaError::PartitionEOF(_))) => None,
                Some(Err(e)) if last_progress.elapsed() > stall_limit => {
                    return Err(KafkaError::request("consume")(e));
                }
                Some(Err(_)) => None,
            };
            let Some(message) = message else {
                self.check_positions(hooks)?;
                let waiting = !known || self.options.window_open();
                if !waiting && last_progress.elapsed() > stall_limit {
                    return Err(self.stalled(stall_limit));
                }
                continue;
            };
            last_progress = Instant::now();
            if !self.take(&message, hooks)? {
                continue;
            }
            if last_report.elapsed() > REPORT_EVERY {
                (self.progress)(self.stats.messages);
                last_report = Instant::now();
            }
        }
    }

    /// Folds one message into the audit unless it lies beyond its partition's end; returns
    /// `false` when the message belongs to no partition still being read.
    fn take(
        &mut self,
        message: &BorrowedMessage<'_>,
        hooks: &mut dyn Hooks<C>,
    ) -> Result<bool, KafkaError> {
        // A linear scan over a few dozen partitions, so that no key is allocated per message.
        let (topic, partition) = (message.topic(), message.partition());
        let Some(state) = self
            .states
            .iter_mut()
            .find(|(k, _)| k.partition == partition && k.topic == topic)
            .map(|(_, s)| s)
        else {
            return Ok(false);
        };
        if state.done {
            return Ok(false);
        }
        let offset = message.offset();
        state.position = offset + 1;
        state.last_message = Instant::now();
        let millis = message.timestamp().to_millis();
        let past_window = self.options.past_window(millis);
        let beyond_end = state.end.is_some_and(|end| offset >= end);
        if !(past_window || beyond_end) {
            self.stats.messages += 1;
            let origin = Origin {
                source: state.source,
                position: offset as u64,
                topic: state.id.topic,
                partition: state.id.partition,
                timestamp: millis.map(|ms| ms.div_euclid(1000)),
            };
            let payload = message.payload().unwrap_or_default();
            let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
            let headers = edgeship_headers(message);
            // One record per message is the norm; a producer that batches lines is read too.
            for line in payload.split(|&b| b == b'\n') {
                self.auditor.ingest_message(line, &origin, &headers);
            }
        }
        if past_window || beyond_end || state.end.is_some_and(|end| state.position >= end) {
            state.done = true;
            let snapshot = *state;
            hooks.finished(self.consumer, &snapshot)?;
        }
        Ok(true)
    }

    /// Marks partitions done that are caught up: at or past their high watermark (asked again,
    /// since it moves) and without a message for [`IDLE`].
    fn check_positions(&mut self, hooks: &mut dyn Hooks<C>) -> Result<(), KafkaError> {
        if self.options.window_open() {
            return Ok(());
        }
        let positions = self.consumer.position().ok();
        for (key, state) in self.states.iter_mut() {
            if state.done || state.last_message.elapsed() < IDLE {
                continue;
            }
            if let Some(Offset::Offset(p)) = positions
                .as_ref()
                .and_then(|l| l.find_partition(&key.topic, key.partition))
                .map(|e| e.offset())
            {
                state.position = state.position.max(p);
            }
            if state.position < state.high {
                if let Ok((_, high)) =
                    self.consumer
                        .fetch_watermarks(&key.topic, key.partition, self.options.timeout)
                {
                    state.high = high;
                }
            }
            if state.position >= state.high || state.end.is_some_and(|e| state.position >= e) {
                state.done = true;
                let snapshot = *state;
                hooks.finished(self.consumer, &snapshot)?;
            }
        }
        Ok(())
    }

    /// The error for a reading that stopped making progress, naming the partitions left.
    fn stalled(&self, stall_limit: Duration) -> KafkaError {
        let left: Vec<String> = self
            .states
            .iter()
            .filter(|(_, s)| !s.done)
            .map(|(k, s)| format!("{k} at {} of {}", s.position, s.high))
            .collect();
        KafkaError::Stalled(stall_limit, left.join(", "))
    }
}
