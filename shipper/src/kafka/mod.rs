//! The Kafka output, in three parts: `config` builds and validates librdkafka's configuration
//! from the `kafka.*` passthrough (with `properties`, the one rule for which setting of a
//! property librdkafka applies), `context` holds librdkafka's callbacks (delivery reports,
//! statistics, log and errors), and `producer` sends, polls, flushes and watches for a fatal
//! error.

mod config;
mod context;
mod producer;
mod properties;

pub use config::{check, KafkaConfig, KafkaInput};
pub use context::{maybe_persisted, KafkaContext};
pub use producer::{KafkaProducer, Sent, RUN_HEADER, SEQUENCE_HEADER};
pub use properties::{Properties, Setting};
