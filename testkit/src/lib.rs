//! edgeship-testkit: real processes for tests, each owned by a guard that stops it on drop.
//!
//! Tests in this workspace never fake Varnish or Kafka: they start Debian's `varnishd` and the
//! `tansu` broker on 127.0.0.1 with ephemeral ports and private directories. This crate is a
//! dev-dependency only; nothing shipped links it.
#![forbid(unsafe_code)]

pub mod tansu;
pub mod varnishd;
