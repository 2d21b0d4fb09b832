//! Differential tests of VSL queries against Varnish itself: for every query of the corpus
//! (hand-written files under `tests/query_corpus/`, plus queries generated systematically and
//! by combination in `corpus.rs`), the client requests edgeship's reader yields from a capture
//! recorded at test time from a real varnishd (`capture.rs`) must be exactly those
//! `varnishlog -g vxid -q Q -r CAPTURE` prints, and a query Varnish refuses must be refused by
//! the reader too. Queries are compared on each read path (the fast path evaluates them
//! itself with `edgeship_query`), and for the query crate alone.
//!
//! The test guards against passing for nothing: the capture must show the variety the
//! queries are about (purges, restarts, pipes, websocket upgrades, garbage, ESI, repeated
//! headers), and the corpus must select many different sets of requests.

mod capture;
mod corpus;
mod select;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use edgeship_varnishlog::PathChoice;
use select::Selection;

/// How many generated combinations of simple tests join the corpus.
const COMBINATIONS: usize = 280;

/// Threads running the comparisons (each one mostly waits on a `varnishlog` process).
const THREADS: usize = 4;

/// The production queries (compat.md) and the translation of the 2013 seed's
/// `varnish.arg.m = RxRequest:^(?!PURGE$)`; the hand-written corpus must hold each verbatim.
const PRODUCTION: &[&str] = &[
    r#"ReqMethod ne "PURGE" and not Timestamp:Pipe and not Timestamp:Restart and not ReqHeader:Upgrade ~ "[wW]ebsocket" and not HttpGarbage"#,
    r#"ReqURL ~ "^/beacon/statsv\?""#,
    r#"ReqURL ~ "^/(beacon/)?event(\.gif)?\?""#,
    r#"ReqMethod ~ "^(?!PURGE$)""#,
];

/// Where edgeship's selection of a query comes from.
#[derive(Debug, Clone, Copy)]
enum Judge {
    /// The reader on this path, given the query.
    Reader(PathChoice),
    /// The query crate alone (`edgeship_query::Query::selects_records`), over every request
    /// the reader yields without a query: what the fast path will evaluate, checked before the
    /// reader uses it.
    QueryCrate,
}

#[test]
fn the_vslq_path_selects_what_varnish_selects_for_every_query() {
    compare_with_varnish(Judge::Reader(PathChoice::Vslq));
}

#[test]
fn the_query_crate_selects_what_varnish_selects_for_every_query() {
    compare_with_varnish(Judge::QueryCrate);
}

#[test]
fn the_fast_path_selects_what_varnish_selects_for_every_query() {
    compare_with_varnish(Judge::Reader(PathChoice::Fast));
}

/// Records a capture and compares every query of the corpus, judged by `judge`, with Varnish.
fn compare_with_varnish(judge: Judge) {
    let capture = capture::record();
    let file = &capture.file;
    assert_variety(file);
    assert_backslash_escapes(file);
    let everything = match select::varnish(file, None) {
        Selection::Selected(set) => set,
        Selection::Refused(message) => panic!("varnishlog without a query: {message}"),
    };
    assert_eq!(
        select::edgeship(file, None, PathChoice::Vslq),
        Selection::Selected(everything.clone()),
        "without a query, the reader and varnishlog must see the same requests"
    );

    let requests = matches!(judge, Judge::QueryCrate).then(|| select::requests(file));
    let edgeship = |query: &str| match (judge, &requests) {
        (Judge::Reader(path), _) => select::edgeship(file, Some(query), path),
        (Judge::QueryCrate, Some(requests)) => select::query_crate(requests, query),
        (Judge::QueryCrate, None) => unreachable!("requests are read for the query crate"),
    };
    let started = Instant::now();
    assert_refused_by_both(file, judge, &edgeship);
    let hand = corpus::file("queries.txt");
    for query in PRODUCTION {
        assert!(hand.iter().any(|q| q == query), "{query} not in the corpus");
    }
    let mut queries = hand.clone();
    queries.extend(corpus::systematic());
    queries.extend(corpus::combinations(COMBINATIONS));
    let results = select::both(file, &queries, THREADS, &edgeship);
    eprintln!(
        "{} queries compared, judged by {judge:?}, in {:.1?}",
        queries.len(),
        started.elapsed()
    );

    let mut failures = String::new();
    for (query, (varnish, edgeship)) in queries.iter().zip(&results) {
        describe_difference(query, varnish, edgeship, &mut failures);
        if hand.contains(query) {
            if let Selection::Refused(message) = varnish {
                let _ = writeln!(failures, "{query}\n  Varnish refuses this hand-written query (move it to refused.txt): {message}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "queries whose selections differ, judged by {judge:?}:\n{failures}"
    );
    assert_not_vacuous(&queries, &results, &everything);
    for query in PRODUCTION {
        let index = queries
            .iter()
            .position(|q| q == query)
            .expect("in the corpus");
        let selected = results[index].0.set().expect("Varnish accepts it");
        assert!(
            !selected.is_empty() && selected.len() < everything.len(),
            "{query} selects {} of {} requests: the capture does not tell it apart",
            selected.len(),
            everything.len()
        );
    }
}

/// Appends to `out` how the two selections of `query` differ, if they do: the vxids only one
/// side selected, or which side refused the query.
fn describe_difference(query: &str, varnish: &Selection, edgeship: &Selection, out: &mut String) {
    match (varnish, edgeship) {
        (Selection::Selected(ours), Selection::Selected(theirs)) if ours != theirs => {
            let only_varnish: Vec<_> = ours.difference(theirs).collect();
            let only_edgeship: Vec<_> = theirs.difference(ours).collect();
            let _ = writeln!(
                out,
                "{query}\n  only Varnish selected {only_varnish:?}; only edgeship selected {only_edgeship:?}"
            );
        }
        (Selection::Refused(message), Selection::Selected(set)) => {
            let _ = writeln!(
                out,
                "{query}\n  Varnish refused it ({message}); edgeship selected {set:?}"
            );
        }
        (Selection::Selected(set), Selection::Refused(message)) => {
            let _ = writeln!(
                out,
                "{query}\n  edgeship refused it ({message}); Varnish selected {set:?}"
            );
        }
        _ => {}
    }
}

/// Every query of `refused.txt` is refused by Varnish and by edgeship (`edgeship`, as `judge`
/// judges).
fn assert_refused_by_both(file: &Path, judge: Judge, edgeship: &dyn Fn(&str) -> Selection) {
    let refused = corpus::file("refused.txt");
    assert!(refused.len() >= 20, "too few refused queries");
    let mut failures = String::new();
    for query in &refused {
        if let Selection::Selected(set) = select::varnish(file, Some(query)) {
            let _ = writeln!(failures, "{query}: Varnish accepts it and selects {set:?}");
        }
        if let Selection::Selected(set) = edgeship(query) {
            let _ = writeln!(failures, "{query}: edgeship accepts it and selects {set:?}");
        }
    }
    assert!(
        failures.is_empty(),
        "refused.txt, judged by {judge:?}:\n{failures}"
    );
}

/// The capture has what the queries are about: counted in varnishlog's own rendering of it.
fn assert_variety(file: &Path) {
    let output = Command::new("varnishlog")
        .arg("-r")
        .arg(file)
        .args(["-g", "vxid"])
        .output()
        .expect("run varnishlog");
    let text = String::from_utf8_lossy(&output.stdout);
    let count = |what: &str| {
        text.lines()
            .filter(|line| {
                let words: Vec<&str> = line.split_whitespace().skip(1).collect();
                words.join(" ").starts_with(what)
            })
            .count()
    };
    let expectations = [
        ("<< Request >>", 50),
        ("ReqMethod PURGE", 2),
        ("Timestamp Restart:", 2),
        ("Begin req", 50),
        ("Timestamp Pipe:", 3),
        ("ReqHeader upgrade: WebSocket", 1),
        ("ReqHeader UPGRADE: WEBSOCKET", 1),
        ("HttpGarbage", 3),
        ("ReqHeader X-Foo: a", 1),
        ("ReqHeader X-Foo: b", 1),
        ("RespStatus 404", 2),
        ("RespStatus 503", 1),
        ("RespStatus 204", 2),
        ("VCL_Log restarting", 2),
        ("VCL_Log num: 12abc", 1),
        ("ReqURL /beacon/statsv?", 1),
        ("ReqURL /event.gif?", 1),
        ("ReqURL /long/", 2),
    ];
    let mut missing = String::new();
    for (what, at_least) in expectations {
        let found = count(what);
        if found < at_least {
            let _ = writeln!(missing, "{what}: {found} (at least {at_least})");
        }
    }
    let esi = text
        .lines()
        .filter(|line| line.contains("Begin") && line.trim_end().ends_with(" esi"))
        .count();
    if esi == 0 {
        missing.push_str("no ESI sub-request\n");
    }
    assert!(missing.is_empty(), "the capture lacks variety:\n{missing}");
}

/// The URLs of the requests `varnishlog` selects with `query`.
fn urls(file: &Path, query: &str) -> BTreeSet<String> {
    let output = Command::new("varnishlog")
        .arg("-r")
        .arg(file)
        .args(["-g", "vxid", "-i", "ReqURL", "-q", query])
        .output()
        .expect("run varnishlog");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("-   ReqURL"))
        .map(|url| url.trim().to_owned())
        .collect()
}

/// Pins down the one surprise of the production queries, so a failure on them reads
/// clearly: Varnish's query lexer takes a backslash in a quoted operand as an escape and
/// drops it before the regular expression is compiled. So `"^/beacon/statsv\?"` is the
/// regex `^/beacon/statsv?` (the `v` optional, no `?` required) and in the eventlogging
/// query `\.` is any character and `\?` makes the group before it lazy.
fn assert_backslash_escapes(file: &Path) {
    let statsv = urls(file, PRODUCTION[1]);
    for url in ["/beacon/statsv", "/beacon/statsvx?a=1"] {
        assert!(
            statsv.contains(url),
            "statsv query: {url} not in {statsv:?}"
        );
    }
    let eventlogging = urls(file, PRODUCTION[2]);
    for url in ["/eventXgif?e=4", "/beacon/events?e=5"] {
        assert!(
            eventlogging.contains(url),
            "eventlogging query: {url} not in {eventlogging:?}"
        );
    }
}

/// The corpus as a whole tells transactions apart: enough accepted queries, many distinct
/// selections, and few that select everything or nothing.
fn assert_not_vacuous(
    queries: &[String],
    results: &[(Selection, Selection)],
    everything: &BTreeSet<u32>,
) {
    let accepted: Vec<&BTreeSet<u32>> = results.iter().filter_map(|(v, _)| v.set()).collect();
    let mut distinct: HashMap<&BTreeSet<u32>, usize> = HashMap::new();
    for set in &accepted {
        *distinct.entry(set).or_default() += 1;
    }
    let trivial = accepted
        .iter()
        .filter(|set| set.is_empty() || **set == everything)
        .count();
    eprintln!(
        "{} queries: {} accepted by Varnish, {} distinct selections, {trivial} select all or nothing",
        queries.len(),
        accepted.len(),
        distinct.len()
    );
    assert!(
        accepted.len() >= 300,
        "only {} accepted queries",
        accepted.len()
    );
    assert!(
        distinct.len() >= 150,
        "only {} distinct selections",
        distinct.len()
    );
    assert!(
        trivial * 2 <= accepted.len(),
        "{trivial} of {} accepted queries select everything or nothing",
        accepted.len()
    );
}
