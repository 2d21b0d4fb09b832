//! edgeship-testkit: real processes for tests, each owned by a guard that stops it on drop.
//!
//! Tests in this workspace never fake Varnish or Kafka: they start Debian's `varnishd` and the
//! `tansu` broker on 127.0.0.1 with ephemeral ports and private directories. It also says
//! where the shared fixture configurations are. This crate is for tests and benchmarks only;
//! nothing shipped links it.
#![forbid(unsafe_code)]

pub mod fixtures;
pub mod tansu;
pub mod varnishd;
