//! Reading alone: every partition (or every `--offsets` range) assigned once, up front.

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::consume::{Hooks, KafkaStats, PartitionState, Reading, States};
use super::error::KafkaError;
use super::options::KafkaOptions;
use super::placement::{explicit, ranges, topic_partitions};
use crate::audit::Auditor;

/// Nothing to do between reads: the partitions never change.
struct Alone;

impl<C: ConsumerContext> Hooks<C> for Alone {
    fn finished(&mut self, _: &BaseConsumer<C>, _: &PartitionState) -> Result<(), KafkaError> {
        Ok(())
    }
    fn rebalanced(&mut self, _: &mut States, _: &mut Auditor) -> Result<bool, KafkaError> {
        Ok(true)
    }
}

/// Reads the window (or the offset ranges) of every partition into `auditor`.
pub(super) fn read_alone(
    auditor: &mut Auditor,
    options: &KafkaOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<KafkaStats, KafkaError> {
    let group = format!("edgeship-audit-{}", std::process::id());
    let consumer: BaseConsumer = options
        .consumer_config(&group)
        .create()
        .map_err(|e| options.refused(e))?;
    let all = topic_partitions(&consumer, options)?;
    let placed = if options.offsets.is_empty() {
        ranges(&consumer, options, &all)?
    } else {
        explicit(&consumer, options, &all)?
    };
    let mut reading = Reading::new(&consumer, auditor, options, progress);
    let mut list = TopicPartitionList::new();
    for p in placed {
        list.add_partition_offset(
            &p.partition.topic,
            p.partition.partition,
            Offset::Offset(p.start),
        )
        .map_err(KafkaError::Config)?;
        reading.add(p);
    }
    consumer
        .assign(&list)
        .map_err(KafkaError::request("assign partitions"))?;
    reading.run(&mut Alone)?;
    Ok(KafkaStats {
        partitions_read: reading.states.len(),
        ..reading.stats
    })
}
