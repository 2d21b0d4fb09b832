//! Reading a Kafka topic back, independently of the shipper: every partition assigned from
//! its first offset, each message kept with its partition, offset, key and payload (and the
//! payload parsed as JSON), and "at the end" known per partition.
//!
//! Whatever a test or the demo concludes about what landed in Kafka comes from this reader
//! (rust-rdkafka's `BaseConsumer`), never from the shipper's own output or counters. The end
//! of a partition is told by librdkafka's end-of-partition events, which follow the fetch
//! responses' high watermark: asking for watermarks (ListOffsets) does not work with tansu
//! 0.6, which answers with the last batch's base offset.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers as _;
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};
use serde_json::Value;

/// How long the topic's metadata may take to arrive when the reader is opened.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// One message read back from Kafka.
#[derive(Debug, Clone)]
pub struct Landed {
    /// The partition it was read from.
    pub partition: i32,
    /// Its offset in that partition.
    pub offset: i64,
    /// Its key, if it has one.
    pub key: Option<Vec<u8>>,
    /// Its payload (empty when it has none).
    pub payload: Vec<u8>,
    /// Its record headers, in order: name and value (empty when a header has no value).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The payload parsed as JSON (`Value::Null` if it is not JSON).
    pub json: Value,
}

impl Landed {
    /// Whether it is a heartbeat (top-level `"heartbeat": true`, docs/records.md).
    pub fn is_heartbeat(&self) -> bool {
        self.json.get("heartbeat") == Some(&Value::Bool(true))
    }

    /// The value of the first header named `name`, as text (lossy), if the message has one.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
    }
}

/// The request records among `messages` (heartbeats filtered out by their marker).
pub fn records(messages: &[Landed]) -> impl Iterator<Item = &Landed> {
    messages.iter().filter(|m| !m.is_heartbeat())
}

/// The heartbeats among `messages`.
pub fn heartbeats(messages: &[Landed]) -> impl Iterator<Item = &Landed> {
    messages.iter().filter(|m| m.is_heartbeat())
}

/// Why a topic could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The consumer reported an error (other than reaching a partition's end).
    #[error("reading the topic: {0}")]
    Kafka(#[from] KafkaError),
    /// Some partition did not reach its end in time.
    #[error("the end of {topic} was not reached within {} s", .timeout.as_secs())]
    Timeout {
        /// The topic.
        topic: String,
        /// How long the reader waited.
        timeout: Duration,
    },
}

/// A consumer reading every partition of one topic from the beginning, keeping what it read.
pub struct TopicReader {
    consumer: BaseConsumer,
    topic: String,
    /// Per partition: whether the last thing the consumer said about it was "end reached".
    at_end: Vec<bool>,
    /// Everything read so far, in arrival order.
    pub messages: Vec<Landed>,
}

impl TopicReader {
    /// Assigns every partition of `topic` at `bootstrap` from its first offset, as consumer
    /// group `group` (which commits nothing). A topic that does not exist has no partitions:
    /// see [`TopicReader::partitions`].
    pub fn open(bootstrap: &str, topic: &str, group: &str) -> Result<TopicReader, KafkaError> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()?;
        let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map_or(0, |t| t.partitions().len()) as i32;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
        // Assigned, not subscribed: no group rebalance to wait for, and every partition read.
        consumer.assign(&assignment)?;
        Ok(TopicReader {
            consumer,
            topic: topic.to_owned(),
            at_end: vec![false; partitions as usize],
            messages: Vec::new(),
        })
    }

    /// The topic's partition count (0 for a topic the broker does not know).
    pub fn partitions(&self) -> i32 {
        self.at_end.len() as i32
    }

    /// Per partition, whether it is at its end as far as the consumer last said.
    pub fn at_end(&self) -> &[bool] {
        &self.at_end
    }

    /// Whether every partition is at its end.
    pub fn caught_up(&self) -> bool {
        self.at_end.iter().all(|end| *end)
    }

    /// Takes what the consumer has: waits up to `wait` for the first event, then drains
    /// whatever else is already there. Returns whether anything arrived. A consumer error
    /// (other than a partition's end) stops the drain and is returned; what arrived before it
    /// is kept, and reading can go on.
    pub fn poll_some(&mut self, wait: Duration) -> Result<bool, KafkaError> {
        let mut any = false;
        let mut wait = wait;
        // Bounded, so callers look at their conditions regularly even under a steady stream.
        for _ in 0..10_000 {
            match self.consumer.poll(wait) {
                Some(Ok(message)) => {
                    let payload = message.payload().unwrap_or_default().to_vec();
                    // A partition that reached its end and then got more is not at its end.
                    if let Some(end) = self.at_end.get_mut(message.partition() as usize) {
                        *end = false;
                    }
                    self.messages.push(Landed {
                        partition: message.partition(),
                        offset: message.offset(),
                        key: message.key().map(<[u8]>::to_vec),
                        headers: message.headers().map_or_else(Vec::new, |headers| {
                            headers
                                .iter()
                                .map(|header| {
                                    let value = header.value.unwrap_or_default().to_vec();
                                    (header.key.to_owned(), value)
                                })
                                .collect()
                        }),
                        json: serde_json::from_slice(&payload).unwrap_or(Value::Null),
                        payload,
                    });
                }
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    if let Some(end) = self.at_end.get_mut(partition as usize) {
                        *end = true;
                    }
                }
                Some(Err(error)) => return Err(error),
                None => break,
            }
            any = true;
            wait = Duration::ZERO;
        }
        Ok(any)
    }

    /// Reads until every partition is at its end, for at most `timeout`. Only meaningful once
    /// the producers have stopped: a topic still being written may be caught up at any moment.
    pub fn read_to_end(&mut self, timeout: Duration) -> Result<(), TopicError> {
        let deadline = Instant::now() + timeout;
        while !self.caught_up() {
            if Instant::now() > deadline {
                return Err(TopicError::Timeout {
                    topic: self.topic.clone(),
                    timeout,
                });
            }
            self.poll_some(Duration::from_millis(200))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

    use super::*;
    use crate::tansu::Tansu;

    #[test]
    fn reads_every_partition_to_its_end() {
        let tansu = Tansu::start().expect("tansu starts (run scripts/setup if it is missing)");
        tansu
            .create_topic("edgeship.topic-reader", 3)
            .expect("creates a topic");
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", tansu.bootstrap())
            .create()
            .expect("a producer");
        let payloads = [r#"{"heartbeat":true}"#, r#"{"sequence":0}"#, "not JSON"];
        for (partition, payload) in payloads.iter().enumerate() {
            let headers = rdkafka::message::OwnedHeaders::new().insert(rdkafka::message::Header {
                key: "partition",
                value: Some(&partition.to_string()),
            });
            producer
                .send(
                    BaseRecord::to("edgeship.topic-reader")
                        .key("host")
                        .payload(*payload)
                        .headers(headers)
                        .partition(partition as i32),
                )
                .map_err(|(error, _)| error)
                .expect("queues a message");
        }
        producer
            .flush(Duration::from_secs(30))
            .expect("delivers the messages");

        let mut reader = TopicReader::open(&tansu.bootstrap(), "edgeship.topic-reader", "test")
            .expect("opens the topic");
        assert_eq!(reader.partitions(), 3);
        reader
            .read_to_end(Duration::from_secs(60))
            .expect("reads to the end");
        assert!(reader.caught_up());
        let mut read: Vec<(i32, &[u8])> = reader
            .messages
            .iter()
            .map(|m| (m.partition, m.payload.as_slice()))
            .collect();
        read.sort_unstable();
        let sent: Vec<(i32, &[u8])> = (0..)
            .zip(payloads.iter().map(|payload| payload.as_bytes()))
            .collect();
        assert_eq!(read, sent);
        assert_eq!(heartbeats(&reader.messages).count(), 1);
        assert_eq!(records(&reader.messages).count(), 2);
        assert!(reader
            .messages
            .iter()
            .all(|m| m.key.as_deref() == Some(&b"host"[..])));
        assert!(reader
            .messages
            .iter()
            .all(|m| m.header("partition") == Some(m.partition.to_string())));
    }

    #[test]
    fn an_unknown_topic_has_no_partitions() {
        let tansu = Tansu::start().expect("tansu starts (run scripts/setup if it is missing)");
        let reader = TopicReader::open(&tansu.bootstrap(), "edgeship.no-such-topic", "test")
            .expect("opens a consumer");
        assert_eq!(reader.partitions(), 0);
    }
}
