//! edgeship-shipper: the `edgeship` daemon's parts. The binary (`main.rs`) parses the command
//! line and maps errors to exit codes; everything else lives here so tests can reach it.
//!
//! Data flow: `reader` (its own thread) → bounded channel of `batch`es → `pipeline` (render,
//! number, key) → `kafka` / standard output / nothing. `counters` are what heartbeats
//! (`heartbeat`) and the statistics file (`stats`) report.
#![forbid(unsafe_code)]

pub mod batch;
pub mod counters;
pub mod heartbeat;
pub mod identity;
pub mod kafka;
pub mod log;
pub mod pipeline;
pub mod reader;
pub mod signals;
pub mod stats;
