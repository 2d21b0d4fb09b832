//! edgeship-audit: per host, run and hour, did every record the shipper produced arrive once?
//!
//! The library has the three parts of the `edgeship-audit` binary: inputs ([`input`] for
//! files, [`kafka`] for topics), the arithmetic ([`audit`], on top of [`scan`], [`time`] and
//! [`intervals`]) and the [`report`]. The binary only parses the command line and maps the
//! outcome to an exit code.
#![forbid(unsafe_code)]

pub mod audit;
pub mod input;
pub mod intervals;
pub mod kafka;
pub mod report;
pub mod scan;
pub mod time;

pub use audit::{Auditor, Config, Origin};
pub use report::{BadReason, Report, Row, RowKind, Status};
pub use scan::FieldNames;
