//! edgeship-benches: the inputs the benchmarks and the fuzz targets share: realistic Varnish
//! transactions ([`records`]), the auditor group's lines ([`audit_lines`]), the recorded
//! capture and release binary the process-level groups run ([`capture`]), and the fixture
//! configurations' formats ([`fixtures`], testkit's).
//!
//! The benchmarks themselves are in `benches/edgeship.rs`, one criterion harness with one
//! group per crate: `formats`, `varnishlog`, `pipeline` (the `edgeship` binary), `auditor`,
//! `query` and `spool`.
//! Keeping the inputs in a library lets a new group, or the fuzz crate in `fuzz/`, render
//! exactly the records a benchmark measured.
#![forbid(unsafe_code)]

pub mod audit_lines;
pub mod capture;
pub mod records;

/// The shared fixture configurations and the format each declares, as testkit finds them:
/// re-exported so that the fuzz targets, which depend on this crate, read them the same way.
pub use edgeship_testkit::fixtures;

use edgeship_formats::Context;

/// The shipper-owned values every rendered record needs, fixed so runs compare.
pub const CONTEXT: Context<'static> = Context {
    hostname: b"cp3066.esams.wmnet",
    sequence: 8_123_456_789,
    run: b"20261123T140312Z-9f3a02c7",
};

/// A format that uses every formatter and every option at least once, with short header and
/// label names (`H`, `Start`) that generated payloads can hit by chance.
pub const ALL_FORMATTERS: &str =
    "%b %D %T %H %h %{H}i %{H!escape}i %{H@hn!num}i %i %{H}o %o %l %m %q %U %s \
     %t %{%FT%T.%6NZ}t %{end:%c}t %u %n %r %{Varnish:time_firstbyte!num}x %{Varnish:handling}x \
     %{Varnish:xvid!num}x %{VCL_Log:H}x %{VSL_API:*}x %{VSL_API:H}x %{x@k?d}x %{Edgeship:run}x \
     %{Start}D %{?d!e}s %{H?x@h2!esc!num}o %{!escape}h";
