//! Shared by the formats integration tests: a realistic hand-built transaction and a one-call
//! renderer.
#![allow(dead_code, unreachable_pub)]

use edgeship_formats::{Context, FormatKind, Plan, RenderStats, Renderer, Tag};

/// A cache hit as Varnish 7 logs it, in log order. Start and Resp fall in different seconds so
/// `%t` and `%{end:...}t` are told apart.
pub fn cache_hit() -> Vec<(Tag, Vec<u8>)> {
    let records: &[(Tag, &[u8])] = &[
        (Tag::Begin, b"req 32770 rxreq"),
        (
            Tag::Timestamp,
            b"Start: 1700000000.998000 0.000000 0.000000",
        ),
        (Tag::ReqStart, b"192.0.2.10 51234 a0"),
        (Tag::Timestamp, b"Req: 1700000000.998010 0.000010 0.000010"),
        (Tag::ReqMethod, b"GET"),
        (Tag::ReqUrl, b"/wiki/Main_Page?action=raw&x=1"),
        (Tag::ReqProtocol, b"HTTP/1.1"),
        (Tag::ReqHeader, b"Host: en.wikipedia.org"),
        (
            Tag::ReqHeader,
            b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)",
        ),
        (Tag::ReqHeader, b"Accept-Language: en-GB"),
        (Tag::ReqHeader, b"X-Dup: first"),
        (Tag::ReqHeader, b"X-Dup: second"),
        (Tag::ReqHeader, b"Authorization: Basic dXNlcjpwYXNz"),
        (Tag::VclCall, b"RECV"),
        (Tag::VclLog, b"tls: vers=TLSv1.3;cipher=AES256"),
        (Tag::VclCall, b"HASH"),
        (Tag::VclCall, b"HIT"),
        (Tag::VclCall, b"DELIVER"),
        (
            Tag::Timestamp,
            b"Process: 1700000000.998141 0.000141 0.000131",
        ),
        (Tag::Other, b"HTTP/1.1"),
        (Tag::RespStatus, b"200"),
        (Tag::RespHeader, b"Content-Type: text/html; charset=UTF-8"),
        (Tag::RespHeader, b"X-Cache: cp1001 hit"),
        (Tag::RespHeader, b"X-Cache: cp1001 hit/2"),
        (Tag::RespHeader, b"X-Analytics: ns=0;page_id=1"),
        (Tag::Timestamp, b"Resp: 1700000001.002194 0.004194 0.004053"),
        (Tag::ReqAcct, b"110 0 110 250 1024 1274"),
        (Tag::Other, b""),
    ];
    records
        .iter()
        .map(|(tag, payload)| (*tag, payload.to_vec()))
        .collect()
}

/// A transaction Varnish forced complete after a timeout: it has a method and a URL, and
/// nothing else the formats read.
pub fn timed_out() -> Vec<(Tag, Vec<u8>)> {
    vec![
        (Tag::Begin, b"req 40001 rxreq".to_vec()),
        (Tag::ReqMethod, b"POST".to_vec()),
        (Tag::ReqUrl, b"/upload".to_vec()),
        (Tag::Vsl, b"timeout".to_vec()),
    ]
}

pub const CONTEXT: Context<'static> = Context {
    hostname: b"cp1001.eqiad.wmnet",
    sequence: 41,
    run: b"20261123T140312Z-9f3a02c7",
};

/// Renders one transaction, returning the output and the counters.
pub fn render_with_stats(
    format: &str,
    kind: FormatKind,
    records: &[(Tag, Vec<u8>)],
) -> (Vec<u8>, RenderStats) {
    let plan = Plan::compile(format, kind).unwrap_or_else(|error| panic!("{format:?}: {error}"));
    let mut renderer = Renderer::new(plan);
    let mut out = Vec::new();
    let stats = renderer.render(records, &CONTEXT, &mut out);
    (out, stats)
}

pub fn render(format: &str, kind: FormatKind, records: &[(Tag, Vec<u8>)]) -> String {
    let (out, _) = render_with_stats(format, kind, records);
    String::from_utf8(out).expect("test output is UTF-8")
}

/// Replaces (or appends) records of a transaction, for variations on [`cache_hit`].
pub fn with(mut records: Vec<(Tag, Vec<u8>)>, extra: &[(Tag, &[u8])]) -> Vec<(Tag, Vec<u8>)> {
    for (tag, payload) in extra {
        records.push((*tag, payload.to_vec()));
    }
    records
}

pub fn without(records: Vec<(Tag, Vec<u8>)>, tag: Tag) -> Vec<(Tag, Vec<u8>)> {
    records.into_iter().filter(|(t, _)| *t != tag).collect()
}

/// The `format = ` line of a fixture configuration (the last uncommented one wins, as in
/// varnishkafka).
pub fn fixture_format(name: &str) -> String {
    edgeship_testkit::fixtures::format(name).unwrap_or_else(|error| panic!("{error}"))
}
