//! The `query` group: evaluating a VSL query over a transaction's records the way the fast
//! path's grouper does (`start`, `observe` for the records whose tag the query reads,
//! `selects`), for the three real queries (../shared/docs/compat.md), on the realistic
//! transactions the `formats` group renders. The baseline is the walk the grouper makes
//! anyway: one tag-table load per record.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use edgeship_benches::records;
use edgeship_formats::Tag;
use edgeship_query::{tag_number, Query, TAG_NAMES};

use crate::Baseline;

/// The webrequest instance's production query, statsv's and eventlogging's.
const QUERIES: [(&str, &str); 3] = [
    (
        "production",
        r#"ReqMethod ne "PURGE" and not Timestamp:Pipe and not Timestamp:Restart and not ReqHeader:Upgrade ~ "[wW]ebsocket" and not HttpGarbage"#,
    ),
    ("statsv", r#"ReqURL ~ "^/beacon/statsv\?""#),
    ("eventlogging", r#"ReqURL ~ "^/(beacon/)?event(\.gif)?\?""#),
];

/// Varnish's number for a `formats` tag (the first Varnish tag that maps to it); `None` for
/// [`Tag::Other`], whose records the realistic generator does not name.
fn varnish_number(tag: Tag) -> Option<u8> {
    TAG_NAMES
        .iter()
        .flatten()
        .find(|name| tag != Tag::Other && Tag::from_varnish_name(name) == tag)
        .and_then(|name| tag_number(name))
}

pub(crate) fn query(criterion: &mut Criterion, batch: usize, seed: u64) -> Baseline {
    let log = records::PackedLog::pack(&records::realistic(batch, seed));
    // The records as the grouper sees them: Varnish's tag numbers and payloads.
    let transactions: Vec<Vec<(u8, &[u8])>> = log
        .transactions()
        .into_iter()
        .map(|records| {
            records
                .into_iter()
                .map(|(tag, payload)| (varnish_number(tag).unwrap_or(0), payload))
                .collect()
        })
        .collect();
    let mut group = criterion.benchmark_group("query");
    group.throughput(Throughput::Elements(batch as u64));
    let production = Query::new(QUERIES[0].1).unwrap_or_else(|error| panic!("{error}"));
    group.bench_function(BenchmarkId::new("tag-walk", "baseline"), |bench| {
        let tags = production.tags();
        bench.iter(|| {
            let mut read = 0u32;
            for records in black_box(&transactions) {
                for (tag, _) in records {
                    read += u32::from(tags[usize::from(*tag)]);
                }
            }
            black_box(read)
        });
    });
    let mut compared = Vec::new();
    for (name, text) in QUERIES {
        let query = Query::new(text).unwrap_or_else(|error| panic!("{name}: {error}"));
        group.bench_function(BenchmarkId::new(name, "evaluate"), |bench| {
            let tags = query.tags();
            bench.iter(|| {
                let mut selected = 0u32;
                for (vxid, records) in black_box(&transactions).iter().enumerate() {
                    let mut matches = query.start(vxid as u32, 1);
                    for (tag, payload) in records {
                        if tags[usize::from(*tag)] {
                            query.observe(&mut matches, *tag, payload);
                        }
                    }
                    selected += u32::from(query.selects(&matches));
                }
                black_box(selected)
            });
        });
        compared.push(format!("{name}/evaluate"));
    }
    group.finish();
    Baseline {
        group: "query",
        baseline: "tag-walk/baseline".to_string(),
        compared,
        records_per_iteration: batch as u64,
    }
}
