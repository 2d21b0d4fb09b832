//! edgeship-shipper: the `edgeship` daemon's parts. The binary (`main.rs`) parses the command
//! line and maps errors to exit codes; everything else lives here so tests can reach it.
//!
//! Data flow: `reader` (its own thread) → bounded channel of `batch`es → `ship` (number,
//! render, key) → a `sink`: `kafka`, standard output or nothing. `pipeline` wires them, with
//! the `timers`, the `signals`' flags and `shutdown`. `counters` are what heartbeats
//! (`heartbeat`) and the statistics file (`stats`) report; every thread shares them, the `log`
//! and the statistics file as one `shared` handle, with the `latency` histograms, the run's
//! `progress` and librdkafka's last figures (`kafka_figures`), which `metrics` serves to
//! Prometheus. `watchdog` tells systemd (`notify`) that the process is ready, and keeps its
//! watchdog fed only while the pipeline makes progress.
#![forbid(unsafe_code)]

pub mod batch;
pub mod checkpoint;
pub mod counters;
pub mod daemon;
pub mod deadline;
pub mod done;
pub mod frontier;
pub mod heartbeat;
pub mod identity;
pub mod kafka;
pub mod kafka_figures;
pub mod latency;
pub mod log;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod progress;
pub mod reader;
pub mod resume;
pub mod shared;
pub mod ship;
pub mod shutdown;
pub mod signals;
pub mod sink;
pub mod stats;
pub mod timers;
pub mod watchdog;
