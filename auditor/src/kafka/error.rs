//! Why the Kafka input could not be read.

use std::time::Duration;

use rdkafka::error::KafkaError as RdKafkaError;

/// Why the Kafka input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// librdkafka refused the configuration.
    #[error("kafka configuration: {0}")]
    Config(#[source] RdKafkaError),
    /// librdkafka refused the client's properties; the message has every property value
    /// given redacted (librdkafka quotes the value it refuses, which may be a password).
    #[error("kafka configuration: {0}")]
    Refused(String),
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

impl KafkaError {
    /// Turns librdkafka's error of the request described by `what` into [`KafkaError::Request`]
    /// (for `map_err`).
    pub(super) fn request(what: impl Into<String>) -> impl FnOnce(RdKafkaError) -> Self {
        let what = what.into();
        move |source| Self::Request { what, source }
    }
}
