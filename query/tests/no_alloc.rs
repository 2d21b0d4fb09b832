//! Evaluation allocates nothing per record: a counting global allocator watches thousands of
//! transactions evaluated with the production queries (regexes with lookaround included), after
//! one warm-up transaction lets PCRE2's match scratch space be created.

use edgeship_query::{tag_number, Query};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

/// Counts every allocation of the process. No libtest harness (`harness = false`): its own
/// thread allocates now and then, and here `main` is the only thread.
#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn tag(name: &str) -> u8 {
    tag_number(name).expect("known tag")
}

fn main() {
    let queries = [
        "ReqMethod ne \"PURGE\" and not Timestamp:Pipe and not Timestamp:Restart and not \
         ReqHeader:Upgrade ~ \"[wW]ebsocket\" and not HttpGarbage",
        "ReqURL ~ \"^/beacon/statsv\\\\?\"",
        "ReqMethod ~ \"^(?!PURGE$)\" and Timestamp:Resp[2] > 0.5 or RespStatus >= 500",
    ];
    let records: Vec<(u8, &[u8])> = vec![
        (tag("Begin"), b"req 1 rxreq"),
        (
            tag("Timestamp"),
            b"Start: 1700000000.998000 0.000000 0.000000",
        ),
        (tag("ReqMethod"), b"GET"),
        (tag("ReqURL"), b"/beacon/statsv?x=1"),
        (tag("ReqHeader"), b"Host: en.wikipedia.org"),
        (tag("ReqHeader"), b"Upgrade: h2c"),
        (tag("RespStatus"), b"503"),
        (
            tag("Timestamp"),
            b"Resp: 1700000001.000000 1.002000 0.000100",
        ),
        (tag("End"), b""),
    ];
    for text in queries {
        let query = Query::new(text).expect("parses");
        let mut selected = 0;
        // Warm-up: the first match of each regex creates its match data.
        query.selects_records(1, 1, records.iter().copied());
        let region = Region::new(GLOBAL);
        for vxid in 0..2000u32 {
            let mut matches = query.start(vxid, 1);
            for &(tag, payload) in &records {
                if query.tags()[usize::from(tag)] {
                    query.observe(&mut matches, tag, payload);
                }
            }
            selected += u32::from(query.selects(&matches));
        }
        let change = region.change();
        assert_eq!(
            (change.allocations, change.reallocations),
            (0, 0),
            "allocations during 2000 evaluations of {text:?}"
        );
        assert!(selected > 0, "{text:?} selects the transaction");
    }
    eprintln!("no_alloc: evaluation allocated nothing per record");
}
