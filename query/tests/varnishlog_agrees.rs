//! The parser accepts exactly the queries varnishlog 7.1 accepts, on a list of valid and
//! invalid queries: varnishlog compiles its query before it reads its input, so reading an
//! empty file separates "query refused" from "query accepted" in its output.

use edgeship_query::Query;
use std::process::Command;

/// Whether varnishlog accepts `query`.
fn varnishlog_accepts(query: &str) -> bool {
    let output = Command::new("varnishlog")
        .args(["-r", "/dev/null", "-q", query])
        .output()
        .expect("varnishlog runs (scripts/setup installs it)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "an empty file is no log: {stdout}{stderr}"
    );
    !(stdout.contains("Query expression error") || stderr.contains("Query expression error"))
}

#[test]
fn accepts_what_varnishlog_accepts() {
    let queries = [
        "ReqURL",
        "requrl",
        "ReqU",
        "ReqUR",
        "Req*",
        "*",
        "*Acct",
        "Re*q*",
        "Xyz*",
        "Link",
        "Backend",
        "Hit",
        "\"\"",
        "ReqURL ~ \"(\"",
        "ReqURL ~ \"abc",
        "ReqURL = 1",
        "ReqURL == abc",
        "ReqURL == 1.2.3",
        "ReqURL == 08",
        "ReqURL == 0x1f",
        "ReqURL == 1e3",
        "ReqURL == .5",
        "ReqURL == -.5",
        "ReqURL == 1.",
        "ReqURL == .",
        "ReqURL == \"\"",
        "ReqURL == \" 12 \"",
        "ReqURL == \" 1.5 \"",
        "ReqURL == 1234567890123456.5",
        "ReqURL ReqURL",
        "not not ReqURL",
        "not (not ReqURL)",
        "(ReqURL",
        "ReqURL)",
        "{-1}ReqURL",
        "{1x}ReqURL",
        "{1 ReqURL",
        "{+2}ReqURL",
        "{2+}ReqURL",
        "{0-}ReqURL",
        "{\"\"}ReqURL",
        "ReqURL[0]",
        "ReqURL[x]",
        "ReqURL[1",
        "ReqURL[0x2]",
        "ReqURL:",
        "ReqURL:\"\"",
        "vxid",
        "vxid ~ 1",
        "vxid == 1.5",
        "vxid,ReqURL == 1",
        "{1}vxid == 1",
        "vxid[1] == 1",
        "vxid:x == 1",
        "vxid:\"\" == 1",
        "vxid == \"\"",
        "ReqURL and",
        "ReqURL\r",
        "ReqURL é",
        "",
        "  # nothing",
        "AND",
        "ReqURL AND RespStatus",
        "ReqURL\nRespStatus",
        "ReqURL \\\n and RespStatus",
        "ReqURL eq",
        "ReqURL eq eq",
        "ReqURL eq and",
        "ReqURL ~ '(?<=a)b'",
        "ReqURL ~ \"\\\\d\"",
        "eqReqURL",
        "ReqURL,",
        ",ReqURL",
        "ReqURL:Host:x",
        "ReqHeader:Host[2] ~ x",
        "ReqURL[1][2]",
        "(ReqURL) == 1",
        "ReqURL == 99999999999999999999",
        "{99999999999}ReqURL",
        "ReqURL[99999999999]",
        "ReqURL ne 'it''s'",
        "ReqURL ~ a*b",
        "ReqURL ~ +",
    ];
    let mut disagreements = Vec::new();
    for query in queries {
        let ours = Query::new(query).is_ok();
        if ours != varnishlog_accepts(query) {
            disagreements.push((query, ours));
        }
    }
    assert!(
        disagreements.is_empty(),
        "(query, we accept): {disagreements:?}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    #[test]
    fn generated_queries_agree(
        parts in proptest::collection::vec(proptest::sample::select(vec![
            "ReqURL", "Req*", "ReqU", "vxid", "{", "}", "1", "1+", "2-", "0x2", "-1", "[", "]",
            ":", "Host", ",", "(", ")", "not", "and", "or", "==", "<", ">=", "!=", "eq", "ne",
            "~", "!~", "\"a\\\"b\"", "'('", "1.5", ".", "\n", "#", "\\\n", "*", "x*y", "\"\"",
        ]), 1..10),
        glue in proptest::sample::select(vec!["", " "]),
    ) {
        let query = parts.join(glue);
        proptest::prop_assert_eq!(Query::new(&query).is_ok(), varnishlog_accepts(&query), "{:?}", query);
    }
}
