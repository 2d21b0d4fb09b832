//! Parsing: what vsl-query(7) accepts, and the column and message of what it refuses.

use edgeship_query::{Query, TAG_NAMES};

fn tag(name: &str) -> u8 {
    edgeship_query::tag_number(name).expect("known tag")
}

fn selected_tags(query: &str) -> Vec<&'static str> {
    let query = Query::new(query).expect("parses");
    (0..256)
        .filter(|&t| query.tags()[t])
        .map(|t| TAG_NAMES[t].expect("named"))
        .collect()
}

fn error_column(query: &str) -> usize {
    match Query::new(query) {
        Ok(_) => panic!("{query:?} parsed"),
        Err(error) => {
            assert!(!error.message.is_empty());
            error.column
        }
    }
}

#[test]
fn accepts_every_construct() {
    for query in [
        "ReqURL",
        "ReqURL ~ \"^/wiki/\"",
        "ReqURL !~ '^/w'",
        "RespStatus == 200",
        "RespStatus != 200 or RespStatus >= 500 and RespStatus <= 599",
        "RespStatus < 300.5",
        "RespStatus > -1",
        "ReqMethod eq GET",
        "ReqMethod ne \"PURGE\"",
        "ReqHeader:Host eq example.org",
        "Timestamp:Resp[2] > 1.0",
        "{1}ReqURL",
        "{2+}ReqURL",
        "{3-}ReqURL",
        "{0x1}ReqURL",
        "Req*",
        "*Header",
        "Req*URL",
        "*",
        "ReqURL,RespStatus,Begin",
        "vxid == 5",
        "vxid != 0x10",
        "not ReqURL",
        "not (ReqURL and RespStatus)",
        "(ReqURL or RespStatus) and not Begin",
        "requrl",
        "ReqUR",
        "Link",
        "Backend",
        "ReqURL # a comment",
        "ReqURL \\\n and RespStatus",
        "ReqURL\n\nRespStatus",
        "ReqURL == \"\"",
        "ReqURL == \" 12 \"",
        "ReqURL[1] == 017",
        "vxid:\"\" == 1",
    ] {
        if let Err(error) = Query::new(query) {
            panic!("{query:?}: {error}");
        }
    }
}

#[test]
fn globs_and_names_expand_as_varnish_does() {
    assert_eq!(selected_tags("ReqURL"), ["ReqURL"]);
    assert_eq!(selected_tags("requrl"), ["ReqURL"]);
    assert_eq!(selected_tags("ReqUR"), ["ReqURL"]);
    assert!(Query::new("ReqU").is_err(), "ReqURL and ReqUnset");
    // An exact name wins over the tags it is a prefix of.
    assert_eq!(selected_tags("Backend"), ["Backend"]);
    assert_eq!(selected_tags("Hit"), ["Hit"]);
    assert_eq!(selected_tags("Link"), ["Link"]);
    assert_eq!(
        selected_tags("Req*"),
        [
            "ReqMethod",
            "ReqURL",
            "ReqProtocol",
            "ReqStatus",
            "ReqReason",
            "ReqHeader",
            "ReqUnset",
            "ReqLost",
            "ReqStart",
            "ReqAcct"
        ]
    );
    assert_eq!(selected_tags("*Acct").len(), 5);
    assert_eq!(selected_tags("req*url"), ["ReqURL"]);
    assert_eq!(selected_tags("*").len(), TAG_NAMES.iter().flatten().count());
    assert_eq!(selected_tags("ReqURL,ReqMethod"), ["ReqMethod", "ReqURL"]);
    assert_eq!(selected_tags("vxid == 3"), Vec::<&str>::new());
    assert!(Query::new("Begin").expect("parses").tags()[usize::from(tag("Begin"))]);
}

#[test]
fn refuses_with_the_offending_column() {
    let cases: &[(&str, usize)] = &[
        ("Nosuchtag", 1),
        ("ReqURL and Req", 12),
        ("Re*q*", 1),
        ("Xyz*", 1),
        ("\"\"", 1),
        ("ReqURL ~ \"(\"", 10),
        ("ReqURL ~ \"abc", 10),
        ("ReqURL = 1", 8),
        ("ReqURL == abc", 11),
        ("ReqURL == 1.2.3", 11),
        ("ReqURL == 08", 11),
        ("ReqURL == 1e3", 11),
        ("ReqURL ReqURL", 8),
        ("not not ReqURL", 5),
        ("(ReqURL", 8),
        ("ReqURL)", 7),
        ("{-1}ReqURL", 2),
        ("{1x}ReqURL", 2),
        ("{1 ReqURL", 4),
        ("ReqURL[0]", 8),
        ("ReqURL[x]", 8),
        ("ReqURL[1", 9),
        ("ReqURL:", 8),
        ("vxid", 5),
        ("vxid ~ 1", 6),
        ("vxid == 1.5", 9),
        ("vxid,ReqURL == 1", 13),
        ("{1}vxid == 1", 9),
        ("vxid[1] == 1", 9),
        ("vxid:x == 1", 8),
        ("ReqURL and", 11),
        ("ReqURL\r", 7),
        ("ReqURL é", 8),
        ("", 1),
        ("  # nothing", 1),
        ("AND", 1),
    ];
    for (query, column) in cases {
        assert_eq!(error_column(query), *column, "query {query:?}");
    }
}

#[test]
fn nesting_is_bounded_not_a_stack_overflow() {
    let deep = format!("{}ReqURL{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(Query::new(&deep).is_err());
    let shallow = format!("{}ReqURL{}", "(".repeat(30), ")".repeat(30));
    assert!(Query::new(&shallow).is_ok());
    let long = vec!["ReqURL"; 50_000].join(" or ");
    assert!(Query::new(&long).is_ok());
}

#[test]
fn several_queries_combine_and_errors_name_the_query() {
    let combined = Query::parse_all(&["ReqURL eq \"/a\"", "ReqURL eq \"/b\""]).expect("parses");
    assert!(combined.selects_records(1, 1, [(tag("ReqURL"), &b"/b"[..])]));
    assert!(combined.selects_records(1, 1, [(tag("ReqURL"), &b"/a"[..])]));
    assert!(!combined.selects_records(1, 1, [(tag("ReqURL"), &b"/c"[..])]));
    let error = Query::parse_all(&["ReqURL", "ReqURL =="]).expect_err("second is bad");
    assert_eq!((error.index, error.error.column), (1, 10));
    assert!(error.to_string().starts_with("query 2: column 10: "));
}
