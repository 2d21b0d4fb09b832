//! A safe way to run the fast path's grouping over a synthetic record sequence, with no
//! varnishd, no log file and no C cursor: for tests and the `vsl_grouping` fuzz target; and
//! the same records as a `varnishlog -w` file ([`log_file`]), for comparing both read paths.
//!
//! The records are laid out as Varnish lays them out in the log (two header words, then the
//! NUL-terminated payload padded to whole words; see `ffi`), in one buffer that lives until
//! the grouping is done, and fed to the same `Grouper` the reader drives. So the grouping,
//! the `-T`/`-L` forcing and the final flush are the production code; only where the record
//! words come from differs. No pointer into the buffer leaves this module: transactions are
//! lent to the [`Visitor`] for the duration of its call, as the reader lends them.

use std::time::{Duration, Instant};

use crate::ffi;
use crate::grouper::Grouper;
use crate::record::{Side, TagTable};
use crate::visit::{Delivery, ReadCounters, Visitor};

/// Varnish's numeric tag of `Begin` records (`SLT_Begin`), which start a transaction.
pub const TAG_BEGIN: u8 = ffi::SLT_BEGIN;
/// Varnish's numeric tag of `End` records (`SLT_End`), which complete one.
pub const TAG_END: u8 = ffi::SLT_END;

/// The longest payload a synthetic record keeps: the 16-bit length field counts the NUL that
/// the layout appends. Longer payloads are cut (Varnish cuts at `vsl_reclen` too).
pub const MAX_PAYLOAD: usize = ffi::VSL_LENMASK as usize - 1;

/// One record of a synthetic log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticRecord<'a> {
    /// The vxid; only its low 30 bits are kept, as in the log's header word.
    pub vxid: u32,
    /// Varnish's numeric tag ([`TAG_BEGIN`], [`TAG_END`], or any other).
    pub tag: u8,
    /// Which side marker the header carries.
    pub side: Side,
    /// The payload, without the NUL the layout appends; cut to [`MAX_PAYLOAD`] bytes.
    pub payload: &'a [u8],
    /// How far the clock moves forward before this record is read, which drives `-T`.
    pub advance: Duration,
}

/// Runs `records` through the fast path's grouping with timeout `-T` `timeout` and limit `-L`
/// `limit`, hands completed client requests to `visitor` as the reader does, then flushes
/// whatever is still incomplete (reason `flush`), as the reader does at an overrun. Returns
/// the reader's counters for the run.
pub fn group_synthetic(
    records: &[SyntheticRecord<'_>],
    timeout: Duration,
    limit: u32,
    visitor: &mut dyn Visitor,
) -> ReadCounters {
    let words = layout(records);
    let tags = TagTable::from_varnish();
    let mut counters = ReadCounters::default();
    let mut grouper = Grouper::new(timeout, limit as usize, None);
    let mut out = Delivery::new(visitor, &tags, &mut counters);
    let start = Instant::now();
    let mut elapsed = Duration::ZERO;
    let mut offset = 0;
    for record in records {
        elapsed = elapsed.saturating_add(record.advance);
        // An `Instant` cannot go arbitrarily far; past its range the clock just stops, which
        // only means that later advances no longer force anything.
        let now = start.checked_add(elapsed).unwrap_or(start);
        let word0 = words[offset];
        // SAFETY: `offset` is the start of a complete record `layout` wrote; `words` is not
        // touched again until `grouper` has flushed every transaction (below), so the
        // record stays readable and unmodified for as long as the grouper references it.
        unsafe { grouper.synthetic_record(words.as_ptr().add(offset), now, &mut out) };
        offset += ffi::vsl_next_words(word0);
    }
    grouper.flush(None, &mut out);
    debug_assert_eq!(grouper.outstanding(), 0);
    counters
}

/// What a `varnishlog -w` file starts with: libvarnishapi's file identifier, `"VSL"` with its
/// NUL (not in the installed headers; seen at the start of every capture), then records.
const FILE_HEADER: &[u8; 4] = b"VSL\0";

/// `records` as the bytes of a `varnishlog -w` file (the file header, then the records laid
/// out as the log lays them out), so that both read paths can be given the same synthetic
/// records through `Options::file`: for the `vsl_query_records` fuzz target and tests.
pub fn log_file(records: &[SyntheticRecord<'_>]) -> Vec<u8> {
    let mut bytes = FILE_HEADER.to_vec();
    for word in layout(records) {
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    bytes
}

/// The records as log words: header, payload, NUL, zero padding to a whole word.
fn layout(records: &[SyntheticRecord<'_>]) -> Vec<u32> {
    let total: usize = records
        .iter()
        .map(|record| ffi::VSL_OVERHEAD + ffi::vsl_words(stored_length(record)))
        .sum();
    let mut words = Vec::with_capacity(total);
    let mut bytes = Vec::new();
    for record in records {
        let length = stored_length(record);
        let marker = match record.side {
            Side::Client => ffi::VSL_CLIENTMARKER,
            Side::Backend => ffi::VSL_BACKENDMARKER,
            Side::None => 0,
        };
        words.push((u32::from(record.tag) << 24) | length);
        words.push((record.vxid & ffi::VSL_IDENTMASK) | marker);
        bytes.clear();
        bytes.extend_from_slice(&record.payload[..length as usize - 1]);
        bytes.push(0);
        for chunk in bytes.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            // The log is written in the machine's byte order and read back as bytes.
            words.push(u32::from_ne_bytes(word));
        }
    }
    debug_assert_eq!(words.len(), total);
    words
}

/// The record's length field: payload bytes kept plus the NUL.
fn stored_length(record: &SyntheticRecord<'_>) -> u32 {
    (record.payload.len().min(MAX_PAYLOAD) + 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::sys::VSL_tag_e;
    use crate::record::{ForceReason, Reason, RequestTransaction};
    use crate::visit::Event;

    const METHOD: u8 = VSL_tag_e::SLT_ReqMethod as u8;
    const URL: u8 = VSL_tag_e::SLT_ReqURL as u8;
    const VSL: u8 = VSL_tag_e::SLT_VSL as u8;

    /// What a yielded transaction showed: vxid, forced reason, (tag, side, vxid, payload).
    type Seen = (u32, Option<ForceReason>, Vec<(u8, Side, u32, Vec<u8>)>);

    #[derive(Default)]
    struct Collect {
        transactions: Vec<Seen>,
        events: Vec<Event>,
    }

    impl Visitor for Collect {
        fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
            assert_eq!(transaction.reason(), Reason::RxReq);
            self.transactions.push((
                transaction.vxid(),
                transaction.forced(),
                transaction
                    .records()
                    .map(|r| (r.varnish_tag, r.side, r.vxid, r.payload.to_vec()))
                    .collect(),
            ));
        }

        fn event(&mut self, event: &Event) {
            self.events.push(event.clone());
        }
    }

    fn record(vxid: u32, tag: u8, payload: &'static [u8]) -> SyntheticRecord<'static> {
        SyntheticRecord {
            vxid,
            tag,
            side: Side::Client,
            payload,
            advance: Duration::ZERO,
        }
    }

    fn expected(vxid: u32, records: &[(u8, &[u8])]) -> Vec<(u8, Side, u32, Vec<u8>)> {
        records
            .iter()
            .map(|&(tag, payload)| (tag, Side::Client, vxid, payload.to_vec()))
            .collect()
    }

    fn run(
        records: &[SyntheticRecord<'_>],
        timeout: Duration,
        limit: u32,
    ) -> (Collect, ReadCounters) {
        let mut collect = Collect::default();
        let counters = group_synthetic(records, timeout, limit, &mut collect);
        (collect, counters)
    }

    const LONG: Duration = Duration::from_secs(120);

    #[test]
    fn a_complete_transaction_is_yielded_with_its_records_in_order() {
        let records = [
            record(7, TAG_BEGIN, b"req 6 rxreq"),
            record(7, METHOD, b"GET"),
            record(7, URL, b"/wiki/Main_Page"),
            record(7, TAG_END, b""),
        ];
        let (seen, counters) = run(&records, LONG, 1000);
        assert_eq!(
            seen.transactions,
            vec![(
                7,
                None,
                expected(
                    7,
                    &[
                        (TAG_BEGIN, b"req 6 rxreq"),
                        (METHOD, b"GET"),
                        (URL, b"/wiki/Main_Page"),
                        (TAG_END, b""),
                    ]
                )
            )]
        );
        assert_eq!(counters.transactions, 1);
        assert_eq!(counters.forced_flush, 0);
        assert!(seen.events.is_empty());
    }

    #[test]
    fn interleaved_transactions_are_separated_and_other_records_left_out() {
        let records = [
            record(10, TAG_BEGIN, b"sess 0 HTTP/1"),
            record(11, TAG_BEGIN, b"req 10 rxreq"),
            record(12, TAG_BEGIN, b"req 10 rxreq"),
            record(12, METHOD, b"POST"),
            record(11, METHOD, b"GET"),
            // vxid 0 belongs to no transaction; 99 never began.
            record(0, URL, b"/cli"),
            record(99, URL, b"/orphan"),
            record(12, TAG_END, b""),
            record(11, URL, b"/eleven"),
            record(11, TAG_END, b""),
            record(10, TAG_END, b""),
        ];
        let (seen, counters) = run(&records, LONG, 1000);
        let expected = vec![
            (
                12,
                None,
                expected(
                    12,
                    &[
                        (TAG_BEGIN, b"req 10 rxreq"),
                        (METHOD, b"POST"),
                        (TAG_END, b""),
                    ],
                ),
            ),
            (
                11,
                None,
                expected(
                    11,
                    &[
                        (TAG_BEGIN, b"req 10 rxreq"),
                        (METHOD, b"GET"),
                        (URL, b"/eleven"),
                        (TAG_END, b""),
                    ],
                ),
            ),
        ];
        assert_eq!(seen.transactions, expected);
        assert_eq!(counters.records_skipped, 1);
        assert_eq!(counters.transactions, 2);
    }

    #[test]
    fn a_transaction_never_ended_is_flushed_with_synthetic_records() {
        let records = [
            record(20, TAG_BEGIN, b"req 19 rxreq"),
            record(20, METHOD, b"GET"),
        ];
        let (seen, counters) = run(&records, LONG, 1000);
        assert_eq!(
            seen.transactions,
            vec![(
                20,
                Some(ForceReason::Flush),
                expected(
                    20,
                    &[
                        (TAG_BEGIN, b"req 19 rxreq"),
                        (METHOD, b"GET"),
                        (VSL, b"flush"),
                        (TAG_END, b"synth"),
                    ]
                )
            )]
        );
        assert_eq!(counters.forced_flush, 1);
        assert_eq!(
            seen.events,
            vec![Event::ForcedComplete {
                vxid: 20,
                reason: ForceReason::Flush
            }]
        );
    }

    #[test]
    fn the_clock_forces_timeouts_and_the_limit_forces_the_oldest() {
        let mut late = record(31, METHOD, b"GET");
        late.advance = Duration::from_secs(5);
        let records = [
            record(30, TAG_BEGIN, b"req 1 rxreq"),
            record(31, TAG_BEGIN, b"req 1 rxreq"),
            // Five seconds later, past the two-second timeout: 31 files this record, then
            // both it and 30, begun at time zero, are forced complete, oldest first.
            late,
            record(32, TAG_BEGIN, b"req 1 rxreq"),
            record(33, TAG_BEGIN, b"req 1 rxreq"),
            // A third incomplete transaction is one over the limit of two: 32 is pushed out.
            record(34, TAG_BEGIN, b"req 1 rxreq"),
            record(34, TAG_END, b""),
            // 33 never ends and is flushed at the end.
        ];
        let (seen, counters) = run(&records, Duration::from_secs(2), 2);
        let order: Vec<(u32, Option<ForceReason>, usize)> = seen
            .transactions
            .iter()
            .map(|(vxid, forced, records)| (*vxid, *forced, records.len()))
            .collect();
        assert_eq!(
            order,
            vec![
                (30, Some(ForceReason::Timeout), 3),
                (31, Some(ForceReason::Timeout), 4),
                (32, Some(ForceReason::StoreOverflow), 3),
                (34, None, 2),
                (33, Some(ForceReason::Flush), 3),
            ]
        );
        assert_eq!(counters.forced_timeout, 2);
        assert_eq!(counters.forced_store_overflow, 1);
        assert_eq!(counters.forced_flush, 1);
        assert_eq!(counters.transactions, 5);
    }

    #[test]
    fn payloads_are_cut_to_what_the_length_field_holds() {
        let long = vec![b'x'; MAX_PAYLOAD + 10];
        let records = [
            SyntheticRecord {
                payload: &long,
                ..record(40, TAG_BEGIN, b"")
            },
            record(40, TAG_END, b""),
        ];
        // Not a request (the Begin payload is not `req ...`): nothing is yielded, and the
        // layout of an over-long record must still leave the next one readable.
        let (seen, counters) = run(&records, LONG, 1000);
        assert!(seen.transactions.is_empty());
        assert_eq!(counters.records_skipped, 0);
        assert_eq!(counters.forced_flush, 0);
    }

    /// Reads `file` on `path` with `query`, returning the vxids and first URL yielded.
    fn read_file(
        file: &std::path::Path,
        path: crate::PathChoice,
        query: Option<&str>,
    ) -> Vec<(u32, Vec<u8>)> {
        struct Urls(Vec<(u32, Vec<u8>)>);
        impl Visitor for Urls {
            fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
                let url = transaction
                    .records()
                    .find(|record| record.varnish_tag == URL)
                    .map(|record| record.payload.to_vec());
                self.0.push((transaction.vxid(), url.unwrap_or_default()));
            }
        }
        let mut options = crate::Options::file(file);
        options.path = path;
        options.query = query.map(str::to_owned);
        let mut reader = crate::Reader::open(options).expect("open the synthetic file");
        let mut urls = Urls(Vec::new());
        while reader.read(&mut urls, 100).expect("read") != crate::Outcome::EndOfFile {}
        urls.0
    }

    #[test]
    fn a_log_file_of_synthetic_records_reads_alike_on_both_paths_and_with_a_query() {
        let records = [
            record(7, TAG_BEGIN, b"req 6 rxreq"),
            record(8, TAG_BEGIN, b"sess 0 HTTP/1"),
            record(7, METHOD, b"GET"),
            record(9, TAG_BEGIN, b"req 8 rxreq"),
            record(7, URL, b"/seven"),
            record(9, URL, b"/nine"),
            record(9, TAG_END, b""),
            record(7, TAG_END, b""),
            record(8, TAG_END, b""),
        ];
        let dir = edgeship_testkit::scratch::ScratchDir::new("synthetic-log-file")
            .expect("scratch directory");
        let file = dir
            .write("synthetic.vsl", log_file(&records))
            .expect("write the file");
        let both = vec![(9, b"/nine".to_vec()), (7, b"/seven".to_vec())];
        assert_eq!(read_file(&file, crate::PathChoice::Fast, None), both);
        assert_eq!(read_file(&file, crate::PathChoice::Vslq, None), both);
        assert_eq!(
            read_file(&file, crate::PathChoice::Vslq, Some("ReqMethod eq \"GET\"")),
            vec![(7, b"/seven".to_vec())]
        );
    }
}
