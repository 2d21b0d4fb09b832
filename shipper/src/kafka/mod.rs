//! The Kafka output, in three parts: `config` builds and validates librdkafka's configuration
//! from the `kafka.*` passthrough (with `properties`, the one rule for which setting of a
//! property librdkafka applies), `context` holds librdkafka's callbacks (delivery reports,
//! statistics, log and errors), `producer` sends, polls, flushes and replaces a producer
//! instance that can no longer deliver (fenced, fatal), `resend` keeps what such an
//! instance failed for the next one, and `stall` tells an instance that stopped delivering
//! without saying why.

mod config;
mod context;
mod producer;
mod properties;
mod resend;
mod stall;

pub use config::{check, KafkaConfig, KafkaInput};
pub use context::{maybe_persisted, KafkaContext};
pub use producer::{KafkaProducer, Sent, RUN_HEADER, SEQUENCE_HEADER};
pub use properties::{Properties, Setting};
pub use resend::producer_finished;
