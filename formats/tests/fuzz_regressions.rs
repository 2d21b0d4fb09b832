//! Inputs the fuzz targets in `fuzz/` found failing, kept as ordinary tests: each case names
//! the target and what went wrong.

use edgeship_formats::{Context, FormatKind, Plan, Renderer, Tag};

fn render(format: &str, kind: FormatKind, records: &[(Tag, &[u8])]) -> String {
    let plan = Plan::compile(format, kind).unwrap_or_else(|error| panic!("{format}: {error}"));
    let mut out = Vec::new();
    let context = Context {
        hostname: b"cp1001",
        sequence: 1,
        run: b"r1",
    };
    Renderer::new(plan).render(records, &context, &mut out);
    String::from_utf8(out).expect("UTF-8 output")
}

/// render_json, 2026-11-23: `%D` multiplied the captured seconds by 1,000,000 in `u64`, which
/// overflows past 18,446,744,073,709 seconds (a panic with overflow checks, a wrapped number
/// without). Varnish never logs such a duration; a field that holds one is garbled, and a
/// garbled duration renders the default like any other unreadable one.
#[test]
fn durations_beyond_u64_microseconds_render_the_default() {
    let cases: &[(&str, FormatKind, &str, &str)] = &[
        // The largest duration whose microseconds fit, and the next one.
        (
            "%{Start}D",
            FormatKind::String,
            "18446744073709.551615",
            "18446744073709551615",
        ),
        (
            "%{Start}D",
            FormatKind::String,
            "18446744073709.551616",
            "-",
        ),
        ("%{Start}D", FormatKind::String, "999999999999999.5", "-"),
        (
            "%{Start@d!num}D",
            FormatKind::Json,
            "999999999999999.5",
            r#"{"d":0}"#,
        ),
        (
            "%{Start@d?none}D",
            FormatKind::Json,
            "999999999999999.5",
            r#"{"d":"none"}"#,
        ),
        // %T has no multiplication: the same field still renders as seconds.
        (
            "%{Start}T",
            FormatKind::String,
            "999999999999999.5",
            "999999999999999.500000",
        ),
    ];
    for (format, kind, since_start, expected) in cases {
        let record = format!("Start: 1700000000.000000 {since_start} 0");
        let rendered = render(format, *kind, &[(Tag::Timestamp, record.as_bytes())]);
        assert_eq!(rendered, *expected, "{format} with {since_start}");
    }
}
