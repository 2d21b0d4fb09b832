//! edgeship-conf: varnishkafka's configuration file, parsed and validated.
#![forbid(unsafe_code)]

mod config;
mod error;
mod keys;
mod raw;
mod resolve;
mod values;
mod varnish;

pub use config::{
    Config, EdgeshipSettings, FormatType, Grouping, KafkaProperty, KafkaSettings, LogSettings,
    Output, Partitioning, QueueFullPolicy, SequenceStart, Sourced, StatisticsSettings,
    VarnishSettings, DEFAULT_FORMAT, DEFAULT_KEY_FORMAT, DEFAULT_STATISTICS_FILE,
};
pub use error::{ConfigError, Errors, LineError, ValueError};
pub use raw::{RawConfig, RawEntry};
pub use resolve::Overrides;
pub use values::{parse_limit, parse_timeout};
