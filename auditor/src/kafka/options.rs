//! What to read from Kafka: brokers, topics, the window or explicit offsets, the group, and
//! the client configuration and window arithmetic they imply.

use std::fmt;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError as RdKafkaError;

use super::error::KafkaError;

/// A partition of a topic, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TopicPartition {
    /// Topic name.
    pub(crate) topic: String,
    /// Partition.
    pub(crate) partition: i32,
}

impl fmt::Display for TopicPartition {
    /// `topic[partition]`, as messages and source names spell it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.topic, self.partition)
    }
}

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

/// A librdkafka property (`-X key=value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The property's name.
    pub key: String,
    /// Its value.
    pub value: String,
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
    pub properties: Vec<Property>,
    /// Timeout of each request to the brokers (metadata, offsets, commits).
    pub timeout: Duration,
}

impl KafkaOptions {
    /// The consumer's configuration as group member `group`: nothing committed or stored
    /// behind the auditor's back, then the `-X` properties.
    pub(super) fn consumer_config(&self, group: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // Eager rebalancing: a revoked partition is given up whole, which is what lets the
            // member drop its state for it before anyone else reads it.
            .set("partition.assignment.strategy", "range")
            .set("enable.partition.eof", "false");
        for property in &self.properties {
            config.set(&property.key, &property.value);
        }
        config
    }

    /// librdkafka's refusal of the consumer's configuration, as an error that shows no value of
    /// a property given: librdkafka echoes the value it refuses, and a misspelt or misplaced
    /// password would be printed. A value is replaced where it appears quoted, and anywhere
    /// when it is long enough not to be a common word.
    pub(super) fn refused(&self, error: RdKafkaError) -> KafkaError {
        let mut text = error.to_string();
        for property in &self.properties {
            let value = property.value.as_str();
            if value.is_empty() {
                continue;
            }
            text = text.replace(&format!("\"{value}\""), "\"<redacted>\"");
            if value.len() >= 4 {
                text = text.replace(value, "<redacted>");
            }
        }
        KafkaError::Refused(text)
    }

    /// The index of `topic` among the options' topics (the audit's [`crate::Origin::topic`]).
    pub(super) fn topic_index(&self, topic: &str) -> u16 {
        self.topics.iter().position(|t| t == topic).unwrap_or(0) as u16
    }

    /// The time reading starts at, in milliseconds: `grace` before the window.
    pub(super) fn start_millis(&self, from: i64) -> i64 {
        (from - self.grace).saturating_mul(1000)
    }

    /// Whether a message stamped `millis` lies after the window plus grace: its partition is
    /// then read to the end of the window.
    pub(super) fn past_window(&self, millis: Option<i64>) -> bool {
        self.to
            .zip(millis)
            .is_some_and(|(to, ms)| ms >= (to + self.grace) * 1000)
    }

    /// Whether the window's end (plus grace) is still in the future: then a caught-up
    /// partition may still receive records of the window.
    pub(super) fn window_open(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.to.is_some_and(|to| now < to + self.grace)
    }

    /// The commit metadata by which a group member says it reported a partition for this
    /// window.
    pub(super) fn marker(&self) -> String {
        format!(
            "edgeship-audit done from={} to={}",
            self.from.map_or("-".into(), |t| t.to_string()),
            self.to.map_or("-".into(), |t| t.to_string())
        )
    }
}
