//! edgeship-audit: per host, run and hour, did every record the shipper produced arrive once?
//!
//! The library has every part of the `edgeship-audit` binary: inputs ([`input`] for files,
//! [`kafka`] for topics), the arithmetic ([`audit`], on top of [`scan`], [`time`] and
//! [`intervals`]), the [`report`] and the command line ([`cli`]: options, their checking, and
//! running an audit). The binary only parses the command line, calls [`cli::run`] and maps the
//! outcome to an exit code.
#![forbid(unsafe_code)]

pub mod audit;
pub mod cli;
pub mod input;
pub mod intervals;
pub mod kafka;
pub mod report;
pub mod scan;
pub mod time;

pub use audit::{Auditor, Config, Origin};
pub use report::{BadReason, Report, Row, RowKind, Status};
pub use scan::FieldNames;
