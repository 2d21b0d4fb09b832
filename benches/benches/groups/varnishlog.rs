//! The `varnishlog` group: reading the recorded capture with the fast path, against Varnish's
//! own grouping (`VSLQ`) on the same file as the baseline.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput};
use edgeship_varnishlog::{Options, Outcome, PathChoice, Reader, RequestTransaction, Visitor};

use super::long_iterations;
use crate::Baseline;

/// Counts transactions and the records they hold, so that every record is decoded once, as
/// any real consumer would.
#[derive(Default)]
struct Count {
    transactions: u64,
    records: u64,
}

impl Visitor for Count {
    fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
        self.transactions += 1;
        for record in transaction.records() {
            self.records += black_box(record.payload.len()).min(1) as u64;
        }
    }
}

/// Reads the whole capture with one path; returns the transactions read.
pub(crate) fn read_all(capture: &Path, path: PathChoice) -> u64 {
    let mut options = Options::file(capture);
    options.path = path;
    let mut reader =
        Reader::open(options).unwrap_or_else(|error| panic!("{}: {error}", capture.display()));
    let mut count = Count::default();
    loop {
        match reader.read(&mut count, 4096) {
            Ok(Outcome::EndOfFile) => break,
            Ok(_) => {}
            Err(error) => panic!("{}: {error}", capture.display()),
        }
    }
    black_box(count.records);
    count.transactions
}

/// The group, over `capture`, which holds `transactions` client requests (as [`read_all`]
/// counts them).
pub(crate) fn varnishlog(criterion: &mut Criterion, capture: &Path, transactions: u64) -> Baseline {
    println!(
        "varnishlog: {} ({transactions} client requests)",
        capture.display()
    );
    let mut group = criterion.benchmark_group("varnishlog");
    long_iterations(&mut group);
    group.throughput(Throughput::Elements(transactions));
    for (name, path) in [("vslq", PathChoice::Vslq), ("fast", PathChoice::Fast)] {
        group.bench_function(BenchmarkId::new(name, "capture"), |bench| {
            bench.iter(|| {
                let read = read_all(capture, path);
                assert_eq!(read, transactions, "{name} read another number of requests");
            });
        });
    }
    group.finish();
    Baseline {
        group: "varnishlog",
        baseline: "vslq/capture".to_string(),
        compared: vec!["fast/capture".to_string()],
        records_per_iteration: transactions,
    }
}
