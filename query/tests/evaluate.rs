//! The one-pass evaluation API: start, observe, selects; levels and vxid decided at start;
//! the tag filter; the fast-path verdict; and properties over arbitrary input.

use edgeship_query::{tag_number, NotFast, Query};
use proptest::prelude::*;

fn tag(name: &str) -> u8 {
    tag_number(name).expect("known tag")
}

#[test]
fn observe_remembers_any_passing_record() {
    let query = Query::new("ReqHeader:X eq a and not ReqHeader:X eq b").expect("parses");
    let mut matches = query.start(5, 1);
    assert!(!query.selects(&matches));
    query.observe(&mut matches, tag("ReqHeader"), b"X: z");
    assert!(!query.selects(&matches));
    query.observe(&mut matches, tag("ReqHeader"), b"X: a");
    assert!(query.selects(&matches));
    query.observe(&mut matches, tag("ReqHeader"), b"X: c");
    assert!(
        query.selects(&matches),
        "a later record does not undo a pass"
    );
    query.observe(&mut matches, tag("ReqHeader"), b"x:  b");
    assert!(!query.selects(&matches), "some record says X is b");
    // Records of tags the query does not read change nothing.
    let mut other = query.start(5, 1);
    query.observe(&mut other, tag("RespHeader"), b"X: a");
    assert_eq!(other, query.start(5, 1));
}

#[test]
fn levels_and_vxid_are_decided_at_start() {
    let url = tag("ReqURL");
    let records = [(url, &b"/"[..])];
    for (query, level, selected) in [
        ("{1}ReqURL", 1, true),
        ("{2}ReqURL", 1, false),
        ("{2}ReqURL", 2, true),
        ("{2+}ReqURL", 1, false),
        ("{2+}ReqURL", 3, true),
        ("{1-}ReqURL", 1, true),
        ("{1-}ReqURL", 2, false),
        ("{0}ReqURL", 1, false),
        ("{0+}ReqURL", 1, true),
        ("not {2}ReqURL", 1, true),
    ] {
        let compiled = Query::new(query).expect("parses");
        assert_eq!(
            compiled.selects_records(9, level, records),
            selected,
            "{query} at {level}"
        );
    }
    let vxid = Query::new("vxid == 1001 or vxid > 4000000000").expect("parses");
    assert!(vxid.selects(&vxid.start(1001, 1)));
    assert!(!vxid.selects(&vxid.start(1002, 1)));
    assert!(
        vxid.selects(&vxid.start(4_000_000_001, 1)),
        "vxids compare unsigned"
    );
    assert!(
        vxid.tags().iter().all(|read| !read),
        "a vxid test reads no record"
    );
}

#[test]
fn fast_path_refuses_more_leaves_than_it_tracks() {
    let query = |n: usize| vec!["ReqURL eq x"; n].join(" or ");
    assert_eq!(Query::new(&query(64)).expect("parses").fast_path(), Ok(()));
    let many = Query::new(&query(65)).expect("parses");
    assert_eq!(many.fast_path(), Err(NotFast::TooManyLeaves(65)));
    assert!(many
        .fast_path()
        .expect_err("refused")
        .to_string()
        .contains("65"));
    assert_eq!(std::mem::size_of::<edgeship_query::Matches>(), 16);
}

/// A few queries over the tags the generated records use.
const QUERIES: &[&str] = &[
    "ReqURL ~ \"^/a\" and not RespStatus >= 500",
    "ReqHeader:Host[1] eq \"a\" or RespStatus == 200.5",
    "not (ReqMethod eq GET or ReqMethod ne POST)",
    "Req*[2] ~ \"(?<!x)y$\"",
];

fn record() -> impl Strategy<Value = (u8, Vec<u8>)> {
    let tags = prop::sample::select(vec![
        tag("ReqURL"),
        tag("RespStatus"),
        tag("ReqHeader"),
        tag("ReqMethod"),
        0,
        255,
    ]);
    let payload = prop::collection::vec(
        prop::sample::select(b"/aAxy\" :0123456789.-\tGETPOS\x00\xff".to_vec()),
        0..24,
    );
    (tags, payload)
}

proptest! {
    #[test]
    fn parsing_anything_never_panics(text in "\\PC{0,64}") {
        let _ = Query::new(&text);
    }

    #[test]
    fn parsing_query_like_text_never_panics(
        parts in prop::collection::vec(prop::sample::select(vec![
            "ReqURL", "Req*", "vxid", "{", "}", "1+", "2-", "[", "]", "1", ":", "Host", ",",
            "(", ")", "not", "and", "or", "==", "eq", "~", "!~", "\"a\\\"b\"", "'x'", "1.5",
            "0x", "\n", "#", "\\\n", "-", ".",
        ]), 0..16)
    ) {
        let _ = Query::new(&parts.join(" "));
        let _ = Query::new(&parts.concat());
    }

    #[test]
    fn observing_only_the_read_tags_changes_nothing(
        records in prop::collection::vec(record(), 0..12),
        which in 0..QUERIES.len(),
        vxid in any::<u32>(),
    ) {
        let query = Query::new(QUERIES[which]).expect("parses");
        let all = query.selects_records(vxid, 1, records.iter().map(|(t, p)| (*t, &p[..])));
        let mut matches = query.start(vxid, 1);
        for (tag, payload) in &records {
            if query.tags()[usize::from(*tag)] {
                query.observe(&mut matches, *tag, payload);
            }
        }
        prop_assert_eq!(query.selects(&matches), all);
    }
}

#[test]
fn a_query_can_move_to_and_be_shared_with_the_reader_thread() {
    fn send_and_sync<T: Send + Sync>(_: &T) {}
    let query = Query::new("ReqURL ~ x").expect("parses");
    send_and_sync(&query);
    let selected =
        std::thread::spawn(move || query.selects_records(1, 1, [(tag("ReqURL"), &b"x"[..])]))
            .join()
            .expect("no panic");
    assert!(selected);
    assert_eq!(tag_number("ReqURL"), Some(16));
    assert_eq!(tag_number("requrl"), None, "exact names only");
}
