//! Appending allocates nothing per record once the spool's buffers have grown: a counting
//! global allocator watches 20,000 appends, with the blocks they fill compressed and written,
//! after a warm-up of the same size was appended, replayed and acknowledged.

mod common;

use common::{append_all, drain, Owned, RUN};
use edgeship_spool::{Limits, Record, Spool};
use edgeship_testkit::scratch::ScratchDir;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

/// Counts every allocation of the process. No libtest harness (`harness = false`): its own
/// thread allocates now and then, and here `main` is the only thread.
#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const RECORDS: u64 = 20_000;

fn main() {
    let scratch = ScratchDir::new("spool-no-alloc").expect("scratch");
    let limits = Limits {
        block_bytes: 4096,
        segment_bytes: 1 << 30,
        min_free_bytes: 0,
        ..Limits::default()
    };
    let (mut spool, _) = Spool::open(scratch.path(), limits).expect("opens");
    let records: Vec<Owned> = (0..2 * RECORDS)
        .map(|sequence| Owned::numbered(RUN, sequence))
        .collect();
    let (warm_up, measured) = records.split_at(RECORDS as usize);
    // The warm-up grows every buffer; acknowledging it all empties the spool and keeps them.
    append_all(&mut spool, warm_up);
    spool.flush_block().expect("writes");
    for (id, _) in drain(&mut spool) {
        spool.acknowledge(id).expect("acknowledges");
    }
    assert!(spool.is_empty());
    // The measured appends continue the same run; a new segment is one allocation of its
    // name, so start it before measuring.
    spool.append(measured[0].record()).expect("appends");
    spool.flush_block().expect("writes");
    let region = Region::new(GLOBAL);
    for record in &measured[1..] {
        let record: Record<'_> = record.record();
        spool.append(record).expect("appends");
    }
    spool.flush_block().expect("writes");
    let change = region.change();
    assert_eq!(
        (change.allocations, change.reallocations),
        (0, 0),
        "allocations during {} appends",
        RECORDS - 1
    );
    assert_eq!(spool.figures().records, RECORDS);
}
