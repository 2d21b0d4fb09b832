//! The `spool` group: the disk spool (`edgeship-spool`) on rendered production-format
//! records. `append`: each record copied into the block being filled, every 64 KiB block
//! snappy-compressed, checksummed and written to its segment file (no fsync: the shipper syncs
//! once a second, not per record), as the shipper spills during a broker outage. `replay`:
//! `next_batch` reading the blocks back and decoding them, 1,000 records at a time as the
//! shipper's replayer asks, and `acknowledge` of each (the segments deleted as they empty), as
//! a drain does. The baseline copies the same keys and values into one buffer: the least any
//! spool does with a record.

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use edgeship_benches::{fixtures, records, CONTEXT};
use edgeship_formats::{Context, FormatKind, Plan, Renderer};
use edgeship_spool::{Limits, Record, RecordId, Spool};
use edgeship_testkit::scratch::ScratchDir;

use crate::Baseline;

/// Records per iteration: about 8 MiB of rendered JSON, several segments' worth of blocks and
/// more than the caches hold, so an iteration measures the spool, not its set-up.
const RECORDS: usize = 8192;

/// Distinct transactions rendered; records repeat after this many, far beyond a block's
/// compression window, so snappy sees realistic neighbours.
const DISTINCT: usize = 2048;

/// As many records as the shipper's replayer asks for at once (`REPLAY_BATCH`).
const REPLAY_BATCH: usize = 1_000;

/// The records the shipper would spool: the production format's JSON, keyed by host name,
/// numbered consecutively in one run.
fn rendered(seed: u64) -> Vec<Vec<u8>> {
    let log = records::PackedLog::pack(&records::realistic(DISTINCT, seed));
    let transactions = log.transactions();
    let format = fixtures::format(fixtures::PRODUCTION)
        .unwrap_or_else(|error| panic!("{}: {error}", fixtures::PRODUCTION));
    let plan = Plan::compile(&format, FormatKind::Json)
        .unwrap_or_else(|error| panic!("production format: {error}"));
    let mut renderer = Renderer::new(plan);
    (0..RECORDS)
        .map(|sequence| {
            let context = Context {
                sequence: sequence as u64,
                ..CONTEXT
            };
            let mut out = Vec::new();
            renderer.render(&transactions[sequence % DISTINCT], &context, &mut out);
            out
        })
        .collect()
}

fn record(payload: &[u8], sequence: usize) -> Record<'_> {
    Record {
        key: CONTEXT.hostname,
        payload,
        run: CONTEXT.run,
        sequence: sequence as u64,
    }
}

/// A spool in a fresh directory holding nothing; the spool first, so that it is dropped
/// before its directory is removed.
fn empty_spool() -> (Spool, ScratchDir) {
    let scratch = ScratchDir::new("bench-spool").unwrap_or_else(|error| panic!("{error}"));
    let (spool, _) = Spool::open(scratch.path(), Limits::default())
        .unwrap_or_else(|error| panic!("opening a spool in {}: {error}", scratch.path().display()));
    (spool, scratch)
}

/// Appends every record and writes the last block, as a spill does.
fn append_all(spool: &mut Spool, payloads: &[Vec<u8>]) {
    for (sequence, payload) in payloads.iter().enumerate() {
        spool
            .append(record(payload, sequence))
            .unwrap_or_else(|error| panic!("append: {error}"));
    }
    spool
        .flush_block()
        .unwrap_or_else(|error| panic!("flush_block: {error}"));
}

/// Hands out and acknowledges every held record; returns the bytes of values read.
fn drain(spool: &mut Spool, ids: &mut Vec<RecordId>) -> usize {
    let mut bytes = 0;
    loop {
        ids.clear();
        let batch = spool
            .next_batch(REPLAY_BATCH)
            .unwrap_or_else(|error| panic!("next_batch: {error}"));
        if batch.is_empty() {
            return bytes;
        }
        for spooled in batch.iter() {
            bytes += black_box(spooled.record.payload).len();
            ids.push(spooled.id);
        }
        for id in ids.iter() {
            spool
                .acknowledge(*id)
                .unwrap_or_else(|error| panic!("acknowledge: {error}"));
        }
    }
}

pub(crate) fn spool(criterion: &mut Criterion, seed: u64) -> Baseline {
    let payloads = rendered(seed);
    let total: usize = payloads.iter().map(Vec::len).sum();
    println!(
        "spool: {RECORDS} production-format records, {} bytes each on average",
        total / RECORDS
    );
    let mut group = criterion.benchmark_group("spool");
    group.sample_size(20);
    group.throughput(Throughput::Elements(RECORDS as u64));

    group.bench_function(BenchmarkId::new("copy", "baseline"), |bench| {
        let mut out = Vec::with_capacity(total + RECORDS * CONTEXT.hostname.len());
        bench.iter(|| {
            out.clear();
            for payload in black_box(&payloads) {
                out.extend_from_slice(CONTEXT.hostname);
                out.extend_from_slice(payload);
            }
            black_box(&out);
        });
    });

    group.bench_function(BenchmarkId::new("append", "production"), |bench| {
        bench.iter_batched(
            empty_spool,
            |(mut spool, scratch)| {
                append_all(&mut spool, black_box(&payloads));
                (spool, scratch)
            },
            BatchSize::PerIteration,
        );
    });

    group.bench_function(BenchmarkId::new("replay", "production"), |bench| {
        let mut ids = Vec::with_capacity(REPLAY_BATCH);
        bench.iter_batched(
            || {
                let (mut spool, scratch) = empty_spool();
                append_all(&mut spool, &payloads);
                (spool, scratch)
            },
            |(mut spool, scratch)| {
                let bytes = drain(&mut spool, &mut ids);
                assert_eq!(bytes, total, "every record replayed once");
                assert!(spool.is_empty());
                (spool, scratch)
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
    Baseline {
        group: "spool",
        baseline: "copy/baseline".to_string(),
        compared: vec![
            "append/production".to_string(),
            "replay/production".to_string(),
        ],
        records_per_iteration: RECORDS as u64,
    }
}
