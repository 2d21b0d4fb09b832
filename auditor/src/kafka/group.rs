//! Reading as one member of a consumer group that splits the partitions: the rebalance
//! callback places what the group assigns, finished partitions are committed with the
//! window's marker, and revoked unfinished ones are forgotten (see the module above for why
//! that reports every host exactly once).

use std::sync::Mutex;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList, TopicPartitionListElem};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;

use super::consume::{Hooks, KafkaStats, PartitionState, Reading, States};
use super::error::KafkaError;
use super::options::{KafkaOptions, TopicPartition};
use super::placement::{ranges, topic_partitions, Placement};
use crate::audit::{Auditor, PartitionId};

/// What a rebalance callback leaves for the reading loop.
#[derive(Debug, Default)]
struct Rebalances {
    assigned: Vec<Placement>,
    revoked: Vec<TopicPartition>,
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
                let wanted: Vec<TopicPartition> = tpl.elements().iter().map(named).collect();
                match self.place(consumer, &wanted) {
                    Ok(placed) => {
                        assign(consumer, &placed, &mut events);
                        events.assigned.extend(placed);
                    }
                    Err(e) => {
                        events.error.get_or_insert(e);
                        let _ = consumer.assign(tpl);
                    }
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                events.revoked.extend(tpl.elements().iter().map(named));
                let _ = consumer.unassign();
            }
            _ => {
                let _ = consumer.unassign();
            }
        }
    }
}

/// The partition of a list element, by name.
fn named(element: &TopicPartitionListElem<'_>) -> TopicPartition {
    TopicPartition {
        topic: element.topic().to_string(),
        partition: element.partition(),
    }
}

/// Assigns the placed partitions at their starts (a skipped one at its end: nothing to read),
/// keeping the first error for the reading loop.
fn assign(consumer: &BaseConsumer<GroupContext>, placed: &[Placement], events: &mut Rebalances) {
    let mut positioned = TopicPartitionList::new();
    for p in placed {
        let offset = if p.skipped {
            Offset::End
        } else {
            Offset::Offset(p.start)
        };
        if let Err(e) =
            positioned.add_partition_offset(&p.partition.topic, p.partition.partition, offset)
        {
            events.error.get_or_insert(KafkaError::Config(e));
        }
    }
    if let Err(source) = consumer.assign(&positioned) {
        events
            .error
            .get_or_insert(KafkaError::request("assign partitions")(source));
    }
}

impl GroupContext {
    /// Start and end offsets of newly assigned partitions, and whether the group already
    /// reported each one (its committed offset carries this window's marker).
    fn place(
        &self,
        consumer: &BaseConsumer<Self>,
        wanted: &[TopicPartition],
    ) -> Result<Vec<Placement>, KafkaError> {
        let mut list = TopicPartitionList::new();
        for p in wanted {
            list.add_partition(&p.topic, p.partition);
        }
        let committed = consumer
            .committed_offsets(list, self.options.timeout)
            .map_err(KafkaError::request("read the group's committed offsets"))?;
        let ranges = ranges(consumer, &self.options, wanted)?;
        Ok(ranges
            .into_iter()
            .map(|mut p| {
                // Brokers that keep commit metadata (Kafka) tell this window's marker from a
                // stale commit; tansu 0.6 drops metadata, and there any commit in the group
                // counts, which is why each audit wants a group of its own.
                p.skipped = committed
                    .find_partition(&p.partition.topic, p.partition.partition)
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

/// Reading in a group: partitions come and go with rebalances.
struct Group<'a> {
    options: &'a KafkaOptions,
    /// Drains the rebalance callback's events each round.
    context: &'a GroupContext,
    /// Partitions this member finished and committed: its to report.
    committed: Vec<PartitionId>,
    /// Partitions whose commit failed: the next owner reads them again, so forget them.
    forget: Vec<PartitionId>,
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
        let topic = &self.options.topics[state.id.topic as usize];
        let mut list = TopicPartitionList::new();
        let offset = state.position;
        {
            let mut element = list.add_partition(topic, state.id.partition);
            element
                .set_offset(Offset::Offset(offset))
                .map_err(KafkaError::Config)?;
            element.set_metadata(self.context.marker.as_str());
        }
        match consumer.commit(&list, CommitMode::Sync) {
            Ok(()) => self.committed.push(state.id),
            Err(_) => self.forget.push(state.id),
        }
        Ok(())
    }

    fn rebalanced(
        &mut self,
        states: &mut States,
        auditor: &mut Auditor,
    ) -> Result<bool, KafkaError> {
        self.apply_rebalances(states, auditor)?;
        for id in self.forget.drain(..) {
            auditor.forget_partition(id);
            states.retain(|_, s| s.id != id);
        }
        Ok(self.assigned_once)
    }
}

impl Group<'_> {
    /// Takes what the rebalance callback left: drops revoked partitions (forgetting what was
    /// read from those not finished) and adds assigned ones.
    fn apply_rebalances(
        &mut self,
        states: &mut States,
        auditor: &mut Auditor,
    ) -> Result<(), KafkaError> {
        let mut events = self
            .context
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(e) = events.error.take() {
            return Err(e);
        }
        for partition in std::mem::take(&mut events.revoked) {
            if let Some(state) = states.remove(&partition) {
                if !self.committed.contains(&state.id) {
                    self.revoked += u64::from(!state.skipped);
                    auditor.forget_partition(state.id);
                }
            }
        }
        for p in std::mem::take(&mut events.assigned) {
            self.assigned_once = true;
            let state = PartitionState::new(auditor, self.options, &p);
            states.insert(p.partition, state);
        }
        Ok(())
    }
}

/// Reads this member's share of the window into `auditor`.
pub(super) fn read_group(
    auditor: &mut Auditor,
    options: &KafkaOptions,
    group_id: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<KafkaStats, KafkaError> {
    let context = GroupContext {
        options: options.clone(),
        marker: options.marker(),
        events: Mutex::new(Rebalances::default()),
    };
    let consumer: BaseConsumer<GroupContext> = options
        .consumer_config(group_id)
        .create_with_context(context)
        .map_err(|e| options.refused(e))?;
    // Fails early, with exit code 3, when the brokers or topics are not there.
    topic_partitions(&consumer, options)?;
    let topics: Vec<&str> = options.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(KafkaError::request("subscribe"))?;
    let mut group = Group {
        options,
        context: consumer.context(),
        committed: Vec::new(),
        forget: Vec::new(),
        assigned_once: false,
        revoked: 0,
    };
    let mut reading = Reading::new(&consumer, auditor, options, progress);
    reading.run(&mut group)?;
    let stats = KafkaStats {
        partitions_read: group.committed.len(),
        partitions_skipped: reading.states.values().filter(|s| s.skipped).count(),
        partitions_revoked: group.revoked,
        ..reading.stats
    };
    // Leaving the group hands our finished partitions to the others, who will skip them.
    consumer.unsubscribe();
    Ok(stats)
}
