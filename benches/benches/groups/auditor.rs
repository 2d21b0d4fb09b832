//! The `auditor` group: `edgeship-audit`'s library ingesting and auditing production-shaped
//! lines (`edgeship_benches::audit_lines`), against splitting the same bytes into lines as
//! the baseline (the least any line-oriented reader does).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use edgeship_audit::{Auditor, Config, Origin};
use edgeship_benches::audit_lines;

use crate::{Baseline, SEED};

/// About 40 MiB of lines: several hosts' bursts, larger than the caches, small enough that an
/// iteration takes tens of milliseconds.
const LINES: usize = 40_000;
const HOSTS: usize = 8;

pub(crate) fn auditor(criterion: &mut Criterion) -> Baseline {
    let input = audit_lines::lines(LINES, HOSTS, SEED)
        .unwrap_or_else(|error| panic!("generating audit lines: {error}"));
    println!(
        "auditor: {} lines ({} records, {} hosts), {} bytes each on average",
        input.lines,
        input.records,
        HOSTS,
        input.bytes.len() as u64 / input.lines
    );
    let mut group = criterion.benchmark_group("auditor");
    group.sample_size(20);
    group.throughput(Throughput::Elements(input.lines));

    group.bench_function(BenchmarkId::new("split", "baseline"), |bench| {
        bench.iter(|| {
            let mut lines = 0u64;
            for line in black_box(&input.bytes).split(|&byte| byte == b'\n') {
                lines += u64::from(!black_box(line).is_empty());
            }
            assert_eq!(lines, input.lines);
        });
    });

    group.bench_function(BenchmarkId::new("audit", "production"), |bench| {
        bench.iter(|| {
            let mut auditor = Auditor::new(Config::default());
            let source = auditor.add_source("bench.jsonl");
            let mut origin = Origin {
                source,
                partition: -1,
                ..Origin::default()
            };
            for line in black_box(&input.bytes).split(|&byte| byte == b'\n') {
                if line.is_empty() {
                    continue;
                }
                origin.position += 1;
                auditor.ingest(line, &origin);
            }
            let report = auditor.finish();
            assert_eq!(report.totals.records, input.lines - HOSTS as u64);
            assert_eq!(report.totals.bad, 0, "{:?}", report.bad_input);
            black_box(report);
        });
    });
    group.finish();
    Baseline {
        group: "auditor",
        baseline: "split/baseline".to_string(),
        compared: vec!["audit/production".to_string()],
        records_per_iteration: input.lines,
    }
}
