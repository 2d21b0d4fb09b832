//! edgeship-testkit: real processes for tests, each owned by a guard that stops it on drop,
//! and the helpers every test and benchmark shares.
//!
//! Tests in this workspace never fake Varnish or Kafka: they start Debian's `varnishd` and the
//! `tansu` broker on 127.0.0.1 with ephemeral ports and private directories, and read what
//! landed in Kafka with an independent consumer ([`topic`]). The helpers are written once,
//! here: scratch directories ([`scratch`]), raw HTTP exchanges ([`http`]), a real Prometheus
//! ([`prometheus`]), seeded randomness ([`random`]) and where the shared fixture
//! configurations are ([`fixtures`]). This crate is for tests, benchmarks and examples only;
//! nothing shipped links it.
#![forbid(unsafe_code)]

pub mod fixtures;
pub mod http;
pub mod port;
mod process;
pub mod prometheus;
pub mod proxy;
pub mod random;
pub mod records;
pub mod scratch;
pub mod tansu;
pub mod topic;
pub mod varnishd;
