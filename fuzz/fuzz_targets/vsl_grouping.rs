//! Fuzz target: arbitrary record sequences (vxids, tags, sides, payloads, clock steps, any
//! `-T` and `-L`) through the fast path's grouping, via the safe synthetic entry point
//! `edgeship_varnishlog::synthetic`. Besides never panicking, the grouping must only ever hand
//! out what was logged: every yielded transaction starts with a `Begin` and ends with an `End`
//! (real, or synthetic when forced), its records all carry its vxid and are, in order, records
//! logged under that vxid; a vxid is yielded at most as often as it began, and the counters
//! agree with what the visitor saw.
#![no_main]
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use edgeship_varnishlog::synthetic::{
    group_synthetic, SyntheticRecord, MAX_PAYLOAD, TAG_BEGIN, TAG_END,
};
use edgeship_varnishlog::{Event, RequestTransaction, Side, Visitor};
use libfuzzer_sys::fuzz_target;

#[path = "common/records.rs"]
mod records;

/// `Begin` payloads the grouping reads (the first field decides whether it is a client
/// request that gets yielded, the third is the reason).
const BEGINS: [&[u8]; 6] = [
    b"req 1 rxreq",
    b"req 1 esi",
    b"sess 0 HTTP/1",
    b"bereq 2 fetch",
    b"req",
    b" req  3   restart ",
];

/// Other tags: Varnish 7.1's numbers for ReqMethod, ReqURL, VSL and Timestamp (`enum
/// VSL_tag_e`), and the batch tag. The grouping treats every tag but `Begin` and `End` alike,
/// so these only make the records look like a log; arm 3 below picks any byte.
const OTHER_TAGS: [u8; 5] = [15, 16, 78, 80, 255];

#[derive(Debug)]
struct Input<'a> {
    timeout: Duration,
    limit: u32,
    records: Vec<SyntheticRecord<'a>>,
}

impl<'a> Arbitrary<'a> for Input<'a> {
    fn arbitrary(input: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let timeout = Duration::from_millis(u64::from(u16::arbitrary(input)?));
        let limit = u32::from(u8::arbitrary(input)? % 16);
        let mut records = Vec::new();
        while !input.is_empty() {
            let control = u8::arbitrary(input)?;
            let vxid = records::vxid(control, input)?;
            let side = records::side(control);
            let (tag, payload): (u8, &[u8]) = match (control >> 2) & 0x7 {
                0 | 1 => (
                    TAG_BEGIN,
                    BEGINS[usize::from(u8::arbitrary(input)?) % BEGINS.len()],
                ),
                2 => (TAG_END, b""),
                3 => (u8::arbitrary(input)?, payload(input)?),
                _ => (
                    OTHER_TAGS[usize::from(u8::arbitrary(input)?) % OTHER_TAGS.len()],
                    payload(input)?,
                ),
            };
            let advance = if control & 0x40 != 0 {
                Duration::from_millis(u64::from(u16::arbitrary(input)?))
            } else {
                Duration::ZERO
            };
            records.push(SyntheticRecord {
                vxid,
                tag,
                side,
                payload,
                advance,
            });
        }
        Ok(Input {
            timeout,
            limit,
            records,
        })
    }
}

fn payload<'a>(input: &mut Unstructured<'a>) -> arbitrary::Result<&'a [u8]> {
    let length = usize::from(u8::arbitrary(input)?).min(input.len());
    input.bytes(length)
}

/// What a yielded transaction showed.
#[derive(Debug)]
struct Seen {
    vxid: u32,
    forced: bool,
    records: Vec<(u8, Side, u32, Vec<u8>)>,
}

#[derive(Default)]
struct Collect {
    seen: Vec<Seen>,
    forced_events: u64,
}

impl Visitor for Collect {
    fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
        self.seen.push(Seen {
            vxid: transaction.vxid(),
            forced: transaction.forced().is_some(),
            records: transaction
                .records()
                .map(|record| {
                    (
                        record.varnish_tag,
                        record.side,
                        record.vxid,
                        record.payload.to_vec(),
                    )
                })
                .collect(),
        });
    }

    fn event(&mut self, event: &Event) {
        if let Event::ForcedComplete { .. } = event {
            self.forced_events += 1;
        }
    }
}

const VXID_MASK: u32 = !(3 << 30);

fuzz_target!(|input: Input<'_>| {
    let mut collect = Collect::default();
    let counters = group_synthetic(&input.records, input.timeout, input.limit, &mut collect);

    // What was logged under each vxid, in order, as the log stores it.
    let mut logged: HashMap<u32, Vec<(u8, Side, &[u8])>> = HashMap::new();
    let mut begins: HashMap<u32, u64> = HashMap::new();
    for record in &input.records {
        let vxid = record.vxid & VXID_MASK;
        let payload = &record.payload[..record.payload.len().min(MAX_PAYLOAD)];
        logged
            .entry(vxid)
            .or_default()
            .push((record.tag, record.side, payload));
        if record.tag == TAG_BEGIN && vxid != 0 {
            *begins.entry(vxid).or_default() += 1;
        }
    }

    assert_eq!(counters.transactions, collect.seen.len() as u64);
    assert_eq!(
        counters.forced_timeout + counters.forced_store_overflow + counters.forced_flush,
        collect.forced_events
    );
    assert_eq!(
        collect.seen.iter().filter(|seen| seen.forced).count() as u64,
        collect.forced_events
    );

    let mut yields: HashMap<u32, u64> = HashMap::new();
    // Where the previous transaction of each vxid stopped in that vxid's logged records:
    // transactions of one vxid follow each other, they never overlap.
    let mut position: HashMap<u32, usize> = HashMap::new();
    for seen in &collect.seen {
        assert_ne!(seen.vxid, 0, "{seen:?}");
        *yields.entry(seen.vxid).or_default() += 1;
        assert!(
            seen.records.iter().all(|record| record.2 == seen.vxid),
            "a record of another vxid: {seen:?}"
        );
        assert_eq!(
            seen.records.first().map(|r| r.0),
            Some(TAG_BEGIN),
            "{seen:?}"
        );
        assert_eq!(seen.records.last().map(|r| r.0), Some(TAG_END), "{seen:?}");
        // Forced transactions end with the two synthetic records, which were never logged.
        let real = if seen.forced {
            &seen.records[..seen.records.len() - 2]
        } else {
            &seen.records[..]
        };
        let history = logged
            .get(&seen.vxid)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let at = position.entry(seen.vxid).or_default();
        for record in real {
            let found = history[*at..]
                .iter()
                .position(|&(tag, side, payload)| {
                    (tag, side, payload) == (record.0, record.1, record.3.as_slice())
                })
                .unwrap_or_else(|| panic!("{record:?} was not logged next under {seen:?}"));
            *at += found + 1;
        }
    }
    for (vxid, count) in &yields {
        assert!(
            *count <= begins.get(vxid).copied().unwrap_or(0),
            "vxid {vxid} yielded {count} times, began {:?}",
            begins.get(vxid)
        );
    }
    assert!(collect.seen.len() as u64 <= begins.values().sum::<u64>());
});
