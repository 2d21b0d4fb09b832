//! The Kafka output, in three parts: `config` builds and validates librdkafka's configuration
//! from the `kafka.*` passthrough (with `properties`, the one rule for which setting of a
//! property librdkafka applies), `context` holds librdkafka's callbacks (delivery reports,
//! statistics, log and errors), `producer` sends, polls, flushes and replaces a producer
//! instance that can no longer deliver (fenced, fatal), `resend` keeps what such an
//! instance failed for the next one, `stall` tells an instance that stopped delivering
//! without saying why, `spooler` keeps records in the disk spool while librdkafka cannot take
//! them and `returns` carries delivery outcomes from librdkafka's callbacks to it.

mod config;
mod context;
mod producer;
mod properties;
mod resend;
mod returns;
mod spooler;
mod stall;

pub use config::{check, KafkaConfig, KafkaInput};
pub use context::{maybe_persisted, KafkaContext};
pub use producer::{KafkaProducer, Sent};
pub use properties::{Properties, Setting};
pub use resend::producer_finished;
pub use returns::{RUN_HEADER, SEQUENCE_HEADER};
