//! Where to read each partition: the topics' partitions from the brokers' metadata, and for
//! each its start (by time for a window, or given as an offset range) and high watermark.

use std::collections::BTreeMap;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::error::KafkaError;
use super::options::{KafkaOptions, TopicPartition};

/// Where to read one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Placement {
    pub(super) partition: TopicPartition,
    pub(super) start: i64,
    /// Offset to stop before, when given explicitly.
    pub(super) end: Option<i64>,
    /// High watermark at placement.
    pub(super) high: i64,
    /// Another member of the group already reported it.
    pub(super) skipped: bool,
}

/// Every partition of the options' topics; fails when the brokers cannot be reached or a topic
/// does not exist.
pub(super) fn topic_partitions<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    options: &KafkaOptions,
) -> Result<Vec<TopicPartition>, KafkaError> {
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
                out.extend(t.partitions().iter().map(|p| TopicPartition {
                    topic: topic.clone(),
                    partition: p.id(),
                }));
            }
            _ => return Err(KafkaError::UnknownTopic(topic.clone())),
        }
    }
    Ok(out)
}

/// Where to start each partition for the window, and its high watermark now.
pub(super) fn ranges<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    options: &KafkaOptions,
    partitions: &[TopicPartition],
) -> Result<Vec<Placement>, KafkaError> {
    let starts = match options.from {
        None => None,
        Some(from) => Some(starts_at(consumer, options, partitions, from)?),
    };
    let mut out = Vec::new();
    for p in partitions {
        let (low, high) = consumer
            .fetch_watermarks(&p.topic, p.partition, options.timeout)
            .map_err(KafkaError::request(format!("watermarks of {p}")))?;
        let start = match &starts {
            // No message at or after the start time: nothing to read but what comes next.
            Some(s) => s.get(p).copied().flatten().unwrap_or(high),
            None => low,
        };
        out.push(Placement {
            partition: p.clone(),
            start: start.max(low),
            end: None,
            high,
            skipped: false,
        });
    }
    Ok(out)
}

/// The first offset of each partition at or after `grace` before `from`, by the brokers'
/// offsets-for-times (`None` where no message is that late).
fn starts_at<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    options: &KafkaOptions,
    partitions: &[TopicPartition],
    from: i64,
) -> Result<BTreeMap<TopicPartition, Option<i64>>, KafkaError> {
    let mut list = TopicPartitionList::new();
    for p in partitions {
        let at = options.start_millis(from);
        list.add_partition_offset(&p.topic, p.partition, Offset::Offset(at))
            .map_err(KafkaError::Config)?;
    }
    let found = consumer
        .offsets_for_times(list, options.timeout)
        .map_err(KafkaError::request("look up offsets for times"))?;
    Ok(found
        .elements()
        .iter()
        .map(|e| {
            let offset = match e.offset() {
                Offset::Offset(n) => Some(n),
                _ => None,
            };
            let partition = TopicPartition {
                topic: e.topic().to_string(),
                partition: e.partition(),
            };
            (partition, offset)
        })
        .collect())
}

/// The explicit `--offsets` ranges, each checked against the topics' partitions, with their
/// high watermarks.
pub(super) fn explicit<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    options: &KafkaOptions,
    partitions: &[TopicPartition],
) -> Result<Vec<Placement>, KafkaError> {
    let mut placed = Vec::new();
    for r in &options.offsets {
        let partition = TopicPartition {
            topic: r.topic.clone(),
            partition: r.partition,
        };
        if !partitions.contains(&partition) {
            return Err(KafkaError::UnknownTopic(partition.to_string()));
        }
        let (_, high) = consumer
            .fetch_watermarks(&r.topic, r.partition, options.timeout)
            .map_err(KafkaError::request(format!("watermarks of {partition}")))?;
        placed.push(Placement {
            partition,
            start: r.start,
            end: r.end,
            high,
            skipped: false,
        });
    }
    Ok(placed)
}
