//! edgeship-audit: per host, run and hour, did every record the shipper produced arrive once?
//!
//! The library has every part of the `edgeship-audit` binary: inputs ([`input`] for files,
//! [`kafka`] for topics), the arithmetic ([`audit`], on top of [`scan`], [`time`] and
//! [`intervals`]), the [`report`] and the command line ([`cli`]: options, their checking, and
//! running an audit). The binary only parses the command line, calls [`cli::run`] and maps the
//! outcome to an exit code.
//!
//! # Runs across restarts
//! From Kafka, a message's `edgeship.run` and `edgeship.sequence` record headers
//! ([`Headers`]) win over the body's fields, so a format without a run field (the seed's,
//! varnishkafka's) is still audited per (host, run). From files, which have no headers, a
//! record without a run goes to the run of its host that started latest by the record's time
//! (runs start at their run-start heartbeat, sent before any record); where such records move
//! from one run to the next, the report has an "inferred run boundary", never loss or
//! duplicates.
//!
//! # Findings and exit codes
//! Besides the rows, the [`Report`] has [`Finding`]s from the heartbeats:
//! - "no heartbeat since T" (error): a host's latest run sent no heartbeat, and no final one,
//!   for more than twice its `interval_seconds` (10 when absent) before the end of the audited
//!   window (`--to`, else the newest event time read, over all partitions: a host alone in its
//!   partition whose shipper stalled would otherwise never be seen);
//! - "ended without a final heartbeat" (warning): a run followed by a later run of its host
//!   stopped without a final heartbeat; the finding carries its last heartbeat's time and
//!   `sequence_last`;
//! - "unread window" (warning): from one run's last heartbeat to the next run's first, with its
//!   length: nothing read the host's log then;
//! - "inferred run boundary" (ok): see above;
//! - "spool pending" (warning): the latest heartbeat of a host's latest run said records were
//!   waiting in its disk spool (`spool_records`): numbers reported missing may still arrive.
//!
//! The increases of the heartbeats' loss counters are each row's `count_shipper_lost`, beside
//! `count_lost` and never added to it, with the same `--warn`/`--error` thresholds (as a
//! percentage of `count_expected + count_shipper_lost`), and at least a warning when there is
//! any: `log_overruns` counts overruns, each of which may have lost any number of requests.
//!
//! Exit codes: 0 all ok; 1 a warning (loss at `--warn`, any shipper-counted loss, ended without
//! a final heartbeat, an unread window, spool pending, bad input lines); 2 an error (loss or shipper-counted
//! loss at `--error`, no heartbeat since T, a silent host or topic); 3 the audit could not run.
//!
//! # Bounds
//! State grows with runs, gaps and hours, never with records, and each is bounded:
//! `--max-hours` (744) bounds the hours of a report (a longer `--from`/`--to` window, or an
//! input spanning more without one, is refused; with only `--from` or only `--to`, events
//! further away are bad input `out_of_window`); lines are capped at [`input::MAX_LINE`]
//! (16 MiB, bad input `line_too_long`); [`Config::max_runs`] (100,000 (host, run) groups,
//! `too_many_runs`) and [`Config::max_pending`] (100,000 records waiting for a time,
//! `incomplete_without_time`).
//!
//! # Secrets and names
//! Kafka properties come from `--kafka-config FILE`, `EDGESHIP_AUDIT_KAFKA_<PROPERTY>`
//! variables and `-X` (in increasing precedence); a secret given with `-X` draws a warning,
//! and no error prints a property's value. Host and run names, which producers choose, are
//! printed escaped ([`report::escape_name`]).
#![forbid(unsafe_code)]

pub mod audit;
pub mod cli;
pub mod input;
pub mod intervals;
pub mod kafka;
pub mod report;
pub mod scan;
pub mod time;

pub use audit::{Auditor, Config, Headers, Origin};
pub use report::{BadReason, Finding, FindingKind, Report, Row, RowKind, Status};
pub use scan::FieldNames;
