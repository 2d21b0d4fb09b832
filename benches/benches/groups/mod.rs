//! The groups that measure whole crates on recorded or generated input: `varnishlog`
//! (reading a capture), `pipeline` (the `edgeship` binary end to end), `auditor`, `query`
//! (VSL query evaluation per transaction) and `spool` (the disk spool's append and replay).
//! They live
//! in their own modules because their set-up (finding or recording the capture, building the
//! binary, generating records) is longer than the measurement code.

pub(crate) mod auditor;
pub(crate) mod pipeline;
pub(crate) mod query;
pub(crate) mod spool;
pub(crate) mod varnishlog;

use std::time::Duration;

use criterion::{BenchmarkGroup, SamplingMode};

/// Whether a group can match the filter given on the command line (`cargo bench -p
/// edgeship-benches -- formats`), so that a filtered run skips the long set-up of the groups
/// it will not measure. Criterion matches its filter against `group/function/parameter`; this
/// approximation only needs to never say "no" for a group the filter selects.
pub(crate) fn wanted(group: &str) -> bool {
    // Criterion's options that take a value: the value is not a filter.
    const WITH_VALUE: [&str; 14] = [
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "--color",
        "--output-format",
    ];
    let mut filter = None;
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        if WITH_VALUE.contains(&argument.as_str()) {
            arguments.next();
        } else if !argument.starts_with('-') {
            filter = Some(argument);
        }
    }
    match filter {
        None => true,
        // Alternatives (`varnishlog|pipeline`) are checked one by one.
        Some(filter) => filter
            .split('|')
            .any(|alternative| alternative.starts_with(group) || group.contains(alternative)),
    }
}

/// Settings for benchmarks whose one iteration takes a good fraction of a second (a whole
/// capture, a whole process): ten samples of one iteration each, so `cargo bench` stays within
/// minutes; criterion's warning that the samples took longer than the target time is expected.
pub(crate) fn long_iterations(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
}
