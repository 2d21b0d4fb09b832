//! Fuzz target: an arbitrary query for the VSL query parser and, when it parses, an arbitrary
//! transaction for its evaluator. Input: the query's bytes up to the first NUL, then records
//! as (tag u8, length u8, payload), then the vxid from what is left. Parsing returns a query
//! or an error, never panics; evaluation never panics, and showing the evaluator only the
//! records of the tags it reads (as the fast path will) selects exactly what showing it every
//! record selects.
#![no_main]
#![forbid(unsafe_code)]

use edgeship_query::Query;
use libfuzzer_sys::fuzz_target;

/// The records after the query: (tag, length, payload) until the input runs out.
fn records(mut rest: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let [tag, length, tail @ ..] = rest {
        let length = usize::from(*length).min(tail.len());
        out.push((*tag, &tail[..length]));
        rest = &tail[length..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let Ok(text) = std::str::from_utf8(&data[..end]) else {
        return;
    };
    let Ok(query) = Query::new(text) else {
        return;
    };
    if query.fast_path().is_err() {
        return;
    }
    let rest = data.get(end + 1..).unwrap_or_default();
    let vxid = rest
        .iter()
        .fold(0u32, |v, &b| v.rotate_left(5) ^ u32::from(b));
    let records = records(rest);
    let all = query.selects_records(vxid, 1, records.iter().copied());
    let mut matches = query.start(vxid, 1);
    for &(tag, payload) in &records {
        if query.tags()[usize::from(tag)] {
            query.observe(&mut matches, tag, payload);
        }
    }
    assert_eq!(query.selects(&matches), all, "query {text:?}");
});
