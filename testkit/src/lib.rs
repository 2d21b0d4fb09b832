//! edgeship-testkit: real processes for tests, each owned by a guard that stops it on drop,
//! and the helpers every test and benchmark shares.
//!
//! Tests in this workspace never fake Varnish or Kafka: they start Debian's `varnishd` and the
//! `tansu` broker on 127.0.0.1 with ephemeral ports and private directories. It also holds the
//! one scratch-directory guard and says where the shared fixture configurations are. This
//! crate is for tests and benchmarks only; nothing shipped links it.
#![forbid(unsafe_code)]

pub mod fixtures;
mod port;
pub mod random;
pub mod scratch;
pub mod tansu;
pub mod varnishd;
