//! The criterion harness: one group per crate, each reporting records per second
//! (`Throughput::Elements`) next to a baseline measured in the same run, and a closing table
//! of ratios to that baseline, which is what stays comparable on a noisy machine.
//!
//! Groups: `formats` (render the fixture formats; baseline: copy the same payload bytes);
//! in `groups/`: `varnishlog` (read the recorded capture with the fast path; baseline:
//! Varnish's `VSLQ` grouping), `pipeline` (the `edgeship` binary on the capture into stdout
//! and Kafka; baseline: output `null`) and `auditor` (ingest and audit generated records;
//! baseline: split the same bytes into lines), `query` (evaluate the three real VSL queries
//! per transaction as the grouper does; baseline: the grouper's tag-table walk), `spool`
//! (append rendered records to the disk spool and replay them; baseline: copy the same
//! bytes). The capture is found or recorded (see
//! `edgeship_benches::capture`), never committed.
//!
//! Run: `cargo bench -p edgeship-benches` (all groups), `cargo bench -p edgeship-benches --
//! formats` (one group). Nothing here asserts a timing: a benchmark reports.

// Printing the measurements is what a benchmark is for.
#![allow(clippy::print_stdout)]

mod groups;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use criterion::{BenchmarkId, Criterion, Throughput};
use edgeship_benches::{capture, fixtures, records, CONTEXT};
use edgeship_formats::{Context, FormatKind, Plan, Renderer};

/// Records rendered per measured iteration: enough different transactions that branch
/// prediction cannot learn one record, few enough (about 1.5 MiB of payload, packed as in
/// Varnish's log) to stay in the last-level cache like the log the shipper reads shortly after
/// Varnish wrote it.
const BATCH: usize = 512;

/// Fixed, so every run measures the same records.
const SEED: u64 = 0x5eed_2013;

/// What a group's ratios are computed against: the baseline's criterion directory and those
/// of the benchmarks compared with it (both relative to the criterion output directory).
struct Baseline {
    group: &'static str,
    baseline: String,
    compared: Vec<String>,
    records_per_iteration: u64,
}

fn formats(criterion: &mut Criterion) -> Baseline {
    let log = records::PackedLog::pack(&records::realistic(BATCH, SEED));
    let transactions = log.transactions();
    let bytes: usize = transactions
        .iter()
        .map(|records| records::payload_bytes(records))
        .sum();
    println!(
        "formats: {BATCH} realistic transactions, {} payload bytes each on average",
        bytes / BATCH
    );

    let mut group = criterion.benchmark_group("formats");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut compared = Vec::new();

    // The baseline moves the bytes a record holds into an output buffer and does nothing else:
    // the least any renderer must do. Its speed follows the machine's memory bandwidth, so the
    // ratio to it says how much rendering itself costs.
    group.bench_function(BenchmarkId::new("copy", "baseline"), |bench| {
        let mut out = Vec::with_capacity(64 * 1024);
        bench.iter(|| {
            for records in black_box(&transactions) {
                out.clear();
                for (_, payload) in records {
                    out.extend_from_slice(payload);
                }
                black_box(&out);
            }
        });
    });

    for (name, fixture) in [
        ("seed", fixtures::SEED),
        ("production", fixtures::PRODUCTION),
    ] {
        let format = fixtures::format(fixture).unwrap_or_else(|error| panic!("{fixture}: {error}"));
        for (kind_name, kind) in [("json", FormatKind::Json), ("string", FormatKind::String)] {
            let plan = Plan::compile(&format, kind)
                .unwrap_or_else(|error| panic!("{fixture} as {kind_name}: {error}"));
            let mut renderer = Renderer::new(plan);
            group.bench_function(BenchmarkId::new(name, kind_name), |bench| {
                let mut out = Vec::with_capacity(64 * 1024);
                bench.iter(|| {
                    for (sequence, records) in black_box(&transactions).iter().enumerate() {
                        let context = Context {
                            sequence: sequence as u64,
                            ..CONTEXT
                        };
                        out.clear();
                        black_box(renderer.render(records, &context, &mut out));
                        black_box(&out);
                    }
                });
            });
            compared.push(format!("{name}/{kind_name}"));
        }
    }
    group.finish();
    Baseline {
        group: "formats",
        baseline: "copy/baseline".to_string(),
        compared,
        records_per_iteration: BATCH as u64,
    }
}

fn main() {
    let started = SystemTime::now();
    let mut criterion = Criterion::default().configure_from_args();
    let mut baselines = vec![formats(&mut criterion)];
    if groups::wanted("query") {
        baselines.push(groups::query::query(&mut criterion, BATCH, SEED));
    }
    if groups::wanted("spool") {
        baselines.push(groups::spool::spool(&mut criterion, SEED));
    }
    process_groups(&mut criterion, &mut baselines);
    criterion.final_summary();

    // `cargo bench` passes `--bench`; `cargo test --benches` does not and runs each benchmark
    // once as a smoke test, with no timings worth a ratio.
    let measuring = std::env::args().any(|argument| argument == "--bench")
        && !std::env::args().any(|argument| argument == "--list" || argument == "--test");
    if measuring {
        if let Some(directory) = criterion_directory() {
            for baseline in &baselines {
                print_ratios(&directory, baseline, started);
            }
        }
    }
}

/// The groups that need the capture, the binary or the auditor, each only when the command
/// line's filter can select it (their set-up takes seconds to minutes).
fn process_groups(criterion: &mut Criterion, baselines: &mut Vec<Baseline>) {
    if groups::wanted("varnishlog") || groups::wanted("pipeline") {
        let capture = capture::find_or_record().unwrap_or_else(|error| panic!("capture: {error}"));
        // Counted once for both groups; the read also brings the capture into the page cache
        // before anything is timed.
        let transactions =
            groups::varnishlog::read_all(&capture, edgeship_varnishlog::PathChoice::Fast);
        if groups::wanted("varnishlog") {
            baselines.push(groups::varnishlog::varnishlog(
                criterion,
                &capture,
                transactions,
            ));
        }
        if groups::wanted("pipeline") {
            let edgeship =
                capture::edgeship_binary().unwrap_or_else(|error| panic!("edgeship: {error}"));
            baselines.push(groups::pipeline::pipeline(
                criterion,
                &capture,
                &edgeship,
                transactions,
            ));
        }
    }
    if groups::wanted("auditor") {
        baselines.push(groups::auditor::auditor(criterion));
    }
}

/// Where criterion writes its estimates, found the way criterion finds it: `$CRITERION_HOME`,
/// else `$CARGO_TARGET_DIR/criterion`, else `criterion/` in the target directory this
/// executable was built into (`<target>/release/deps/edgeship-<hash>`).
fn criterion_directory() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    let executable = std::env::current_exe().ok()?;
    Some(executable.ancestors().nth(3)?.join("criterion"))
}

/// Nanoseconds per iteration of one benchmark, from criterion's files.
struct Timing {
    /// Criterion's median estimate.
    median: f64,
    /// The fastest sample: on a shared machine, the one least disturbed by other processes
    /// (on this 2-core VM a busy neighbour can double a sample's time even when this thread
    /// is never descheduled).
    fastest: f64,
}

/// A benchmark's timing, if it ran in this process (older files, from a run with another
/// filter, would make the ratio compare two runs).
fn timing(directory: &Path, since: SystemTime) -> Option<Timing> {
    let read = |name: &str| -> Option<serde_json::Value> {
        let path = directory.join("new").join(name);
        let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
        if modified < since {
            return None;
        }
        serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()
    };
    let median = read("estimates.json")?["median"]["point_estimate"].as_f64()?;
    let samples = read("sample.json")?;
    let (iterations, times) = (samples["iters"].as_array()?, samples["times"].as_array()?);
    let fastest = iterations
        .iter()
        .zip(times)
        .filter_map(|(iterations, time)| Some(time.as_f64()? / iterations.as_f64()?))
        .fold(f64::INFINITY, f64::min);
    Some(Timing { median, fastest })
}

fn print_ratios(directory: &Path, baseline: &Baseline, since: SystemTime) {
    let group = directory.join(baseline.group);
    let Some(reference) = timing(&group.join(&baseline.baseline), since) else {
        return;
    };
    let per_second = |nanoseconds: f64| baseline.records_per_iteration as f64 * 1e9 / nanoseconds;
    println!(
        "\n{}: records per second and time relative to {} (median; fastest sample)",
        baseline.group, baseline.baseline
    );
    let line = |name: &str, timing: &Timing| {
        println!(
            "  {:<22} {:>12.0} records/s {:>6.2}x  | {:>12.0} records/s {:>6.2}x",
            name,
            per_second(timing.median),
            timing.median / reference.median,
            per_second(timing.fastest),
            timing.fastest / reference.fastest,
        );
    };
    line(&baseline.baseline, &reference);
    for name in &baseline.compared {
        if let Some(timing) = timing(&group.join(name), since) {
            line(name, &timing);
        }
    }
}
