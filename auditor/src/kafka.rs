//! Kafka input: a window of one or more datacenter topics, read by time or by offsets, alone or
//! as one member of a consumer group that splits the partitions.
//!
//! Positioning uses offsets-for-times because time, unlike offsets, means the same in every
//! datacenter. Reading starts `grace` seconds before the window and stops `grace` seconds after
//! it, so that records stamped inside the window but produced a little outside it are still
//! seen; the audit counts those outer ones only as present (see [`crate::audit::Config`]).
//!
//! A partition is finished at an explicit end offset, at the first message stamped after the
//! window (plus grace), or once it is caught up: its position has reached the high watermark
//! and no message came for [`IDLE`]. The idle wait is what makes the end robust against
//! brokers whose watermarks lag (tansu 0.6 reports the last batch's base offset + 1, and
//! answers every offsets-for-times request with the first offset, which only makes reading
//! start earlier: records before the window then count as present, never as rows).
//!
//! In a consumer group, a partition is reported by the member that read it to the end of the
//! window: that member commits its position with a marker naming the window (as commit
//! metadata), and a member that is later given the partition finds the commit and skips it. A member that loses a partition
//! before finishing it forgets what it read from it. So however the group rebalances, and even
//! when one member finishes before another joins, every host is reported exactly once.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;

use crate::audit::{Auditor, Origin, PartitionId};

/// How long a partition at its high watermark must stay without messages to count as read.
pub const IDLE: Duration = Duration::from_millis(1500);

/// An explicit offset range of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetRange {
    /// Topic name (one of the `--topic`s).
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// First offset to read.
    pub start: i64,
    /// Offset to stop before; `None` to read until caught up with the partition.
    pub end: Option<i64>,
}

/// What to read.
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// The topics of the stream, in the order the auditor's [`crate::Config::topics`] lists them.
    pub topics: Vec<String>,
    /// Window start (seconds).
    pub from: Option<i64>,
    /// Window end (seconds, exclusive).
    pub to: Option<i64>,
    /// Seconds read before and after the window.
    pub grace: i64,
    /// Explicit offsets instead of a window; only these partitions are read.
    pub offsets: Vec<OffsetRange>,
    /// Consumer group to share the partitions with other auditors.
    pub group: Option<String>,
    /// Extra librdkafka properties (`-X key=value`).
    pub properties: Vec<(String, String)>,
    /// Timeout of each request to the brokers (metadata, offsets, commits).
    pub timeout: Duration,
}

/// Why the Kafka input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// librdkafka refused the configuration.
    #[error("kafka configuration: {0}")]
    Config(#[source] RdKafkaError),
    /// No broker answered.
    #[error("cannot reach brokers {brokers}: {source}")]
    Unreachable {
        /// The bootstrap list.
        brokers: String,
        /// The cause.
        #[source]
        source: RdKafkaError,
    },
    /// A topic does not exist.
    #[error("topic {0} does not exist (or has no partitions)")]
    UnknownTopic(String),
    /// An `--offsets` range names a topic that is not one of the `--topic`s.
    #[error("offset range for {0}, which is not one of the --topic arguments")]
    OffsetsTopic(String),
    /// A request to the brokers failed.
    #[error("{what}: {source}")]
    Request {
        /// What was asked.
        what: String,
        /// The cause.
        #[source]
        source: RdKafkaError,
    },
    /// Consuming stopped making progress.
    #[error("no progress for {0:?} with partitions left to read: {1}")]
    Stalled(Duration, String),
    /// More topics than the audit tracks.
    #[error("at most 64 topics can be audited together")]
    TooManyTopics,
}

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
struct PartitionState {
    topic: u16,
    partition: i32,
    source: u32,
    /// Offset to stop before, when given explicitly.
    end: Option<i64>,
    /// High watermark when last asked: the partition is caught up at or past it.
    high: i64,
    /// Next offset to read.
    position: i64,
    /// When the last message of this partition (or its assignment) came.
    last_message: Instant,
    done: bool,
    /// Another member of the group already reported it.
    skipped: bool,
}

/// Where to read one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placement {
    topic: String,
    partition: i32,
    start: i64,
    /// Offset to stop before, when given explicitly.
    end: Option<i64>,
    /// High watermark at placement.
    high: i64,
    /// Another member of the group already reported it.
    skipped: bool,
}

/// What a rebalance callback leaves for the reading loop.
#[derive(Debug, Default)]
struct Rebalances {
    assigned: Vec<Placement>,
    revoked: Vec<(String, i32)>,
    error: Option<KafkaError>,
}

/// Positions partitions as the group assigns them, and records what the reading loop must do.
struct GroupContext {
    options: KafkaOptions,
    marker: String,
    events: Mutex<Rebalances>,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let wanted: Vec<(String, i32)> = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                match self.place(consumer, &wanted) {
                    Ok(placed) => {
                        let mut positioned = TopicPartitionList::new();
                        for p in &placed {
                            let offset = if p.skipped {
                                Offset::End
                            } else {
                                Offset::Offset(p.start)
                            };
                            if let Err(e) =
                                positioned.add_partition_offset(&p.topic, p.partition, offset)
                            {
                                events.error.get_or_insert(KafkaError::Config(e));
                            }
                        }
                        if let Err(source) = consumer.assign(&positioned) {
                            events.error.get_or_insert(KafkaError::Request {
                                what: "assign partitions".into(),
                                source,
                            });
                        }
                        events.assigned.extend(placed);
                    }
                    Err(e) => {
                        events.error.get_or_insert(e);
                        let _ = consumer.assign(tpl);
                    }
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                events.revoked.extend(
                    tpl.elements()
                        .iter()
                        .map(|e| (e.topic().to_string(), e.partition())),
                );
                let _ = consumer.unassign();
            }
            _ => {
                let _ = consumer.unassign();
            }
        }
    }
}

impl GroupContext {
    /// Start and end offsets of newly assigned partitions, and whether the group already
    /// reported each one (its committed offset carries this window's marker).
    fn place(
        &self,
        consumer: &BaseConsumer<Self>,
        wanted: &[(String, i32)],
    ) -> Result<Vec<Placement>, KafkaError> {
        let mut list = TopicPartitionList::new();
        for (topic, partition) in wanted {
            list.add_partition(topic, *partition);
        }
        let committed = consumer
            .committed_offsets(list, self.options.timeout)
            .map_err(|source| KafkaError::Request {
                what: "read the group's committed offsets".into(),
                source,
            })?;
        let ranges = ranges(consumer, &self.options, wanted)?;
        Ok(ranges
            .into_iter()
            .map(|mut p| {
                // Brokers that keep commit metadata (Kafka) tell this window's marker from a
                // stale commit; tansu 0.6 drops metadata, and there any commit in the group
                // counts, which is why each audit wants a group of its own.
                p.skipped = committed
                    .find_partition(&p.topic, p.partition)
                    .is_some_and(|e| {
                        e.metadata() == self.marker
                            || (e.metadata().is_empty()
                                && matches!(e.offset(), Offset::Offset(n) if n >= 0))
                    });
                p
            })
            .collect())
    }
}

fn consumer_config(options: &KafkaOptions, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &options.brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // Eager rebalancing: a revoked partition is given up whole, which is what lets the
        // member drop its state for it before anyone else reads it.
        .set("partition.assignment.strategy", "range")
        .set("enable.partition.eof", "false");
    for (key, value) in &options.properties {
        config.set(key, value);
    }
    config
}

/// Where to start each partition for the window, and its high watermark now.
fn ranges<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    options: &KafkaOptions,
    partitions: &[(String, i32)],
) -> Result<Vec<Placement>, KafkaError> {
    let request = |what: String| move |source| KafkaError::Request { what, source };
    let starts: Option<BTreeMap<(String, i32), Option<i64>>> = match options.from {
        None => None,
        Some(from) => {
            let mut list = TopicPartitionList::new();
            for (topic, partition) in partitions {
                let at = (from - options.grace).saturating_mul(1000);
                list.add_partition_offset(topic, *partition, Offset::Offset(at))
                    .map_err(KafkaError::Config)?;
            }
            let found = consumer
                .offsets_for_times(list, options.timeout)
                .map_err(request("look up offsets for times".into()))?;
            Some(
                found
                    .elements()
                    .iter()
                    .map(|e| {
                        let offset = match e.offset() {
                            Offset::Offset(n) => Some(n),
                            _ => None,
                        };
                        ((e.topic().to_string(), e.partition()), offset)
                    })
                    .collect(),
            )
        }
    };
    let mut out = Vec::new();
    for (topic, partition) in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, *partition, options.timeout)
            .map_err(request(format!("watermarks of {topic}[{partition}]")))?;
        let start = match &starts {
            // No message at or after the start time: nothing to read but what comes next.
            Some(s) => s
                .get(&(topic.clone(), *partition))
                .copied()
                .flatten()
                .unwrap_or(high),
            None => low,
        };
        out.push(Placement {
            topic: topic.clone(),
            partition: *partition,
            start: start.max(low),
            end: None,
            high,
            skipped: false,
        });
    }
    Ok(out)
}

fn topic_partitions<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    options: &KafkaOptions,
) -> Result<Vec<(String, i32)>, KafkaError> {
    let mut out = Vec::new();
    for topic in &options.topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), options.timeout)
            .map_err(|source| KafkaError::Unreachable {
                brokers: options.brokers.clone(),
                source,
            })?;
        let found = metadata.topics().iter().find(|t| t.name() == topic);
        match found {
            Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                out.extend(t.partitions().iter().map(|p| (topic.clone(), p.id())));
            }
            _ => return Err(KafkaError::UnknownTopic(topic.clone())),
        }
    }
    Ok(out)
}

/// Reads the stream into `auditor` (whose topics must be `options.topics`, in order), calling
/// `progress` with the number of messages read now and then.
pub fn read(
    auditor: &mut Auditor,
    options: &KafkaOptions,
    mut progress: impl FnMut(u64),
) -> Result<KafkaStats, KafkaError> {
    if options.topics.len() > 64 {
        return Err(KafkaError::TooManyTopics);
    }
    for range in &options.offsets {
        if !options.topics.contains(&range.topic) {
            return Err(KafkaError::OffsetsTopic(range.topic.clone()));
        }
    }
    match &options.group {
        Some(group) => read_group(auditor, options, group, &mut progress),
        None => read_alone(auditor, options, &mut progress),
    }
}

fn topic_index(options: &KafkaOptions, topic: &str) -> u16 {
    options.topics.iter().position(|t| t == topic).unwrap_or(0) as u16
}

fn read_alone(
    auditor: &mut Auditor,
    options: &KafkaOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<KafkaStats, KafkaError> {
    let group = format!("edgeship-audit-{}", std::process::id());
    let consumer: BaseConsumer = consumer_config(options, &group)
        .create()
        .map_err(KafkaError::Config)?;
    let all = topic_partitions(&consumer, options)?;
    let placed = if options.offsets.is_empty() {
        ranges(&consumer, options, &all)?
    } else {
        let mut placed = Vec::new();
        for r in &options.offsets {
            if !all.contains(&(r.topic.clone(), r.partition)) {
                return Err(KafkaError::UnknownTopic(format!(
                    "{}[{}]",
                    r.topic, r.partition
                )));
            }
            let (_, high) = consumer
                .fetch_watermarks(&r.topic, r.partition, options.timeout)
                .map_err(|source| KafkaError::Request {
                    what: format!("watermarks of {}[{}]", r.topic, r.partition),
                    source,
                })?;
            placed.push(Placement {
                topic: r.topic.clone(),
                partition: r.partition,
                start: r.start,
                end: r.end,
                high,
                skipped: false,
            });
        }
        placed
    };
    let mut states = BTreeMap::new();
    let mut list = TopicPartitionList::new();
    for p in placed {
        let state = new_state(auditor, options, &p);
        list.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.start))
            .map_err(KafkaError::Config)?;
        states.insert((p.topic, p.partition), state);
    }
    consumer
        .assign(&list)
        .map_err(|source| KafkaError::Request {
            what: "assign partitions".into(),
            source,
        })?;
    let mut stats = KafkaStats::default();
    consume(
        &consumer,
        auditor,
        options,
        &mut states,
        &mut stats,
        progress,
        &mut Alone,
    )?;
    stats.partitions_read = states.len();
    Ok(stats)
}

fn new_state(auditor: &mut Auditor, options: &KafkaOptions, p: &Placement) -> PartitionState {
    let source = auditor.add_source(format!("{}[{}]", p.topic, p.partition));
    PartitionState {
        topic: topic_index(options, &p.topic),
        partition: p.partition,
        source,
        end: p.end,
        high: p.high,
        position: p.start,
        last_message: Instant::now(),
        done: p.skipped || p.end.is_some_and(|e| p.start >= e),
        skipped: p.skipped,
    }
}

type States = BTreeMap<(String, i32), PartitionState>;

/// What differs between reading alone and reading in a group.
trait Hooks<C: ConsumerContext> {
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

/// Reading alone: partitions are assigned once, up front.
struct Alone;

impl<C: ConsumerContext> Hooks<C> for Alone {
    fn finished(&mut self, _: &BaseConsumer<C>, _: &PartitionState) -> Result<(), KafkaError> {
        Ok(())
    }
    fn rebalanced(&mut self, _: &mut States, _: &mut Auditor) -> Result<bool, KafkaError> {
        Ok(true)
    }
}

/// The reading loop shared by both modes.
fn consume<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    auditor: &mut Auditor,
    options: &KafkaOptions,
    states: &mut States,
    stats: &mut KafkaStats,
    progress: &mut dyn FnMut(u64),
    hooks: &mut dyn Hooks<C>,
) -> Result<(), KafkaError> {
    let stall_limit = options.timeout * 6;
    let mut last_progress = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let known = hooks.rebalanced(states, auditor)?;
        if known && states.values().all(|s| s.done) {
            return Ok(());
        }
        let message = match consumer.poll(Duration::from_millis(200)) {
            None => None,
            Some(Ok(m)) => Some(m),
            Some(Err(RdKafkaError::PartitionEOF(_))) => None,
            Some(Err(e)) if last_progress.elapsed() > stall_limit => {
                return Err(KafkaError::Request {
                    what: "consume".into(),
                    source: e,
                });
            }
            Some(Err(_)) => None,
        };
        let Some(message) = message else {
            check_positions(consumer, options, states, hooks)?;
            let waiting = !known || window_open(options);
            if !waiting && last_progress.elapsed() > stall_limit {
                let left: Vec<String> = states
                    .iter()
                    .filter(|(_, s)| !s.done)
                    .map(|((t, p), s)| format!("{t}[{p}] at {} of {}", s.position, s.high))
                    .collect();
                return Err(KafkaError::Stalled(stall_limit, left.join(", ")));
            }
            continue;
        };
        last_progress = Instant::now();
        // A linear scan over a few dozen partitions, so that no key is allocated per message.
        let (topic, partition) = (message.topic(), message.partition());
        let Some(state) = states
            .iter_mut()
            .find(|((t, p), _)| *p == partition && t == topic)
            .map(|(_, s)| s)
        else {
            continue;
        };
        if state.done {
            continue;
        }
        let offset = message.offset();
        state.position = offset + 1;
        state.last_message = Instant::now();
        let millis = message.timestamp().to_millis();
        let past_window = options
            .to
            .zip(millis)
            .is_some_and(|(to, ms)| ms >= (to + options.grace) * 1000);
        let beyond_end = state.end.is_some_and(|end| offset >= end);
        if !(past_window || beyond_end) {
            stats.messages += 1;
            let origin = Origin {
                source: state.source,
                position: offset as u64,
                topic: state.topic,
                partition: state.partition,
                timestamp: millis.map(|ms| ms.div_euclid(1000)),
            };
            let payload = message.payload().unwrap_or_default();
            let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
            // One record per message is the norm; a producer that batches lines is read too.
            for line in payload.split(|&b| b == b'\n') {
                auditor.ingest(line, &origin);
            }
        }
        if past_window || beyond_end || state.end.is_some_and(|end| state.position >= end) {
            state.done = true;
            let snapshot = *state;
            hooks.finished(consumer, &snapshot)?;
        }
        if last_report.elapsed() > Duration::from_millis(250) {
            progress(stats.messages);
            last_report = Instant::now();
        }
    }
}

/// Whether the window's end (plus grace) is still in the future: then a caught-up partition
/// may still receive records of the window.
fn window_open(options: &KafkaOptions) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    options.to.is_some_and(|to| now < to + options.grace)
}

/// Marks partitions done that are caught up: at or past their high watermark (asked again,
/// since it moves) and without a message for [`IDLE`].
fn check_positions<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    options: &KafkaOptions,
    states: &mut States,
    hooks: &mut dyn Hooks<C>,
) -> Result<(), KafkaError> {
    if window_open(options) {
        return Ok(());
    }
    let positions = consumer.position().ok();
    for (key, state) in states.iter_mut() {
        if state.done || state.last_message.elapsed() < IDLE {
            continue;
        }
        if let Some(Offset::Offset(p)) = positions
            .as_ref()
            .and_then(|l| l.find_partition(&key.0, key.1))
            .map(|e| e.offset())
        {
            state.position = state.position.max(p);
        }
        if state.position < state.high {
            if let Ok((_, high)) = consumer.fetch_watermarks(&key.0, key.1, options.timeout) {
                state.high = high;
            }
        }
        if state.position >= state.high || state.end.is_some_and(|e| state.position >= e) {
            state.done = true;
            let snapshot = *state;
            hooks.finished(consumer, &snapshot)?;
        }
    }
    Ok(())
}

/// Reading in a group: partitions come and go with rebalances.
struct Group<'a> {
    options: &'a KafkaOptions,
    marker: String,
    /// Partitions this member finished and committed: its to report.
    committed: Vec<(u16, i32)>,
    /// Partitions whose commit failed: the next owner reads them again, so forget them.
    forget: Vec<(u16, i32)>,
    assigned_once: bool,
    revoked: u64,
}

impl Hooks<GroupContext> for Group<'_> {
    fn finished(
        &mut self,
        consumer: &BaseConsumer<GroupContext>,
        state: &PartitionState,
    ) -> Result<(), KafkaError> {
        if state.skipped {
            return Ok(());
        }
        let topic = &self.options.topics[state.topic as usize];
        let mut list = TopicPartitionList::new();
        let offset = state.position;
        {
            let mut element = list.add_partition(topic, state.partition);
            element
                .set_offset(Offset::Offset(offset))
                .map_err(KafkaError::Config)?;
            element.set_metadata(self.marker.as_str());
        }
        match consumer.commit(&list, CommitMode::Sync) {
            Ok(()) => self.committed.push((state.topic, state.partition)),
            Err(_) => self.forget.push((state.topic, state.partition)),
        }
        Ok(())
    }

    fn rebalanced(
        &mut self,
        states: &mut States,
        auditor: &mut Auditor,
    ) -> Result<bool, KafkaError> {
        for (topic, partition) in self.forget.drain(..) {
            auditor.forget_partition(PartitionId { topic, partition });
            states.retain(|_, s| !(s.topic == topic && s.partition == partition));
        }
        // Called from `consume`, which holds no consumer borrow here.
        Ok(self.assigned_once)
    }
}

fn apply_rebalances(
    context: &GroupContext,
    group: &mut Group<'_>,
    states: &mut States,
    auditor: &mut Auditor,
) -> Result<(), KafkaError> {
    let mut events = context.events.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = events.error.take() {
        return Err(e);
    }
    for (topic, partition) in std::mem::take(&mut events.revoked) {
        if let Some(state) = states.remove(&(topic, partition)) {
            let ours = group.committed.contains(&(state.topic, state.partition));
            if !ours {
                group.revoked += u64::from(!state.skipped);
                auditor.forget_partition(PartitionId {
                    topic: state.topic,
                    partition: state.partition,
                });
            }
        }
    }
    for p in std::mem::take(&mut events.assigned) {
        group.assigned_once = true;
        let state = new_state(auditor, group.options, &p);
        states.insert((p.topic, p.partition), state);
    }
    Ok(())
}

/// Wraps [`Group`] so that each round also drains the rebalance callback's events.
struct GroupRound<'a, 'b> {
    group: Group<'a>,
    context: &'b GroupContext,
}

impl Hooks<GroupContext> for GroupRound<'_, '_> {
    fn finished(
        &mut self,
        consumer: &BaseConsumer<GroupContext>,
        state: &PartitionState,
    ) -> Result<(), KafkaError> {
        self.group.finished(consumer, state)
    }

    fn rebalanced(
        &mut self,
        states: &mut States,
        auditor: &mut Auditor,
    ) -> Result<bool, KafkaError> {
        apply_rebalances(self.context, &mut self.group, states, auditor)?;
        self.group.rebalanced(states, auditor)
    }
}

fn read_group(
    auditor: &mut Auditor,
    options: &KafkaOptions,
    group_id: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<KafkaStats, KafkaError> {
    let marker = format!(
        "edgeship-audit done from={} to={}",
        options.from.map_or("-".into(), |t| t.to_string()),
        options.to.map_or("-".into(), |t| t.to_string())
    );
    let context = GroupContext {
        options: options.clone(),
        marker: marker.clone(),
        events: Mutex::new(Rebalances::default()),
    };
    let consumer: BaseConsumer<GroupContext> = consumer_config(options, group_id)
        .create_with_context(context)
        .map_err(KafkaError::Config)?;
    // Fails early, with exit code 3, when the brokers or topics are not there.
    topic_partitions(&consumer, options)?;
    let topics: Vec<&str> = options.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|source| KafkaError::Request {
            what: "subscribe".into(),
            source,
        })?;
    let mut stats = KafkaStats::default();
    let mut states: States = BTreeMap::new();
    let mut round = GroupRound {
        group: Group {
            options,
            marker,
            committed: Vec::new(),
            forget: Vec::new(),
            assigned_once: false,
            revoked: 0,
        },
        context: consumer.context(),
    };
    consume(
        &consumer,
        auditor,
        options,
        &mut states,
        &mut stats,
        progress,
        &mut round,
    )?;
    stats.partitions_read = round.group.committed.len();
    stats.partitions_skipped = states.values().filter(|s| s.skipped).count();
    stats.partitions_revoked = round.group.revoked;
    // Leaving the group hands our finished partitions to the others, who will skip them.
    consumer.unsubscribe();
    Ok(stats)
}
