//! edgeship-formats: varnishkafka's format language, compiled once and rendered per record.
#![forbid(unsafe_code)]

pub mod record;

pub use record::{Context, Tag, Transaction};
