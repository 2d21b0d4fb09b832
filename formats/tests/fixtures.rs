//! The formats of the fixture configurations (`shared/fixtures/conf/`) render the expected
//! records: names, order, number or string, and defaults when tags are missing.

mod common;

use common::{cache_hit, fixture_format, render, timed_out};
use edgeship_formats::FormatKind;
use serde_json::{json, Map, Value};

/// A rendered record: the raw text (for member order) and its parsed members.
struct Rendered {
    text: String,
    members: Map<String, Value>,
}

fn render_json(format: &str, records: &[(edgeship_formats::Tag, Vec<u8>)]) -> Rendered {
    let text = render(format, FormatKind::Json, records);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(members)) => Rendered { text, members },
        other => panic!("not a JSON object: {other:?} from {text}"),
    }
}

/// Compares member by member, so a failure names the field, and checks the members appear in
/// the raw text in the expected order (the parsed map sorts them).
fn assert_members(actual: &Rendered, expected: &[(&str, Value)]) {
    let mut names: Vec<&str> = actual.members.keys().map(String::as_str).collect();
    let mut expected_names: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    expected_names.sort_unstable();
    assert_eq!(names, expected_names, "field names");
    let positions: Vec<usize> = expected
        .iter()
        .map(|(name, _)| {
            actual
                .text
                .find(&format!("\"{name}\":"))
                .expect("member present")
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "member order in {}",
        actual.text
    );
    for (name, value) in expected {
        assert_eq!(&actual.members[*name], value, "field {name}");
    }
}

#[test]
fn seed_format_renders_a_cache_hit() {
    let format = fixture_format("seed-2013-varnishkafka.conf");
    let record = render_json(&format, &cache_hit());
    assert_members(
        &record,
        &[
            ("hostname", json!("cp1001.eqiad.wmnet")),
            ("sequence", json!(41)),
            ("dt", json!("2023-11-14T22:13:20")),
            ("time_firstbyte", json!(0.000141)),
            ("ip", json!("192.0.2.10")),
            ("cache_status", json!("HIT")),
            ("http_status", json!("200")),
            ("response_size", json!(1024)),
            ("http_method", json!("GET")),
            ("uri_host", json!("en.wikipedia.org")),
            ("uri_path", json!("/wiki/Main_Page")),
            ("uri_query", json!("?action=raw&x=1")),
            ("content_type", json!("text/html; charset=UTF-8")),
            ("referer", json!("-")),
            ("x_forwarded_for", json!("-")),
            ("user_agent", json!("Mozilla/5.0 (X11; Linux x86_64)")),
            ("accept_language", json!("en-GB")),
            ("x_analytics", json!("ns=0;page_id=1")),
        ],
    );
}

#[test]
fn seed_format_renders_defaults_for_a_timed_out_transaction() {
    let format = fixture_format("seed-2013-varnishkafka.conf");
    let record = render_json(&format, &timed_out());
    assert_members(
        &record,
        &[
            ("hostname", json!("cp1001.eqiad.wmnet")),
            ("sequence", json!(41)),
            ("dt", json!("-")),
            ("time_firstbyte", json!(0)),
            ("ip", json!("-")),
            ("cache_status", json!("-")),
            ("http_status", json!("-")),
            ("response_size", json!(0)),
            ("http_method", json!("POST")),
            ("uri_host", json!("-")),
            ("uri_path", json!("/upload")),
            ("uri_query", json!("")),
            ("content_type", json!("-")),
            ("referer", json!("-")),
            ("x_forwarded_for", json!("-")),
            ("user_agent", json!("-")),
            ("accept_language", json!("-")),
            ("x_analytics", json!("-")),
        ],
    );
}

#[test]
fn production_format_renders_a_cache_hit() {
    let format = fixture_format("production-webrequest.conf");
    let record = render_json(&format, &cache_hit());
    assert_members(
        &record,
        &[
            ("hostname", json!("cp1001.eqiad.wmnet")), // injected constant
            ("sequence", json!(41)),
            ("dt", json!("2023-11-14T22:13:21Z")), // end of request, UTC
            ("time_firstbyte", json!(0.000141)),
            ("ip", json!("-")),
            ("cache_status", json!("-")),
            ("http_status", json!("200")),
            ("response_size", json!(1024)),
            ("http_method", json!("GET")),
            ("uri_host", json!("en.wikipedia.org")),
            ("uri_path", json!("/wiki/Main_Page")),
            ("uri_query", json!("?action=raw&x=1")),
            ("content_type", json!("text/html; charset=UTF-8")),
            ("referer", json!("-")),
            ("user_agent", json!("Mozilla/5.0 (X11; Linux x86_64)")),
            ("accept_language", json!("en-GB")),
            ("x_analytics", json!("ns=0;page_id=1")),
            ("range", json!("-")),
            ("x_cache", json!("cp1001 hit/2")),
            ("accept", json!("-")),
            ("backend", json!("-")),
            ("tls", json!("vers=TLSv1.3;cipher=AES256")),
        ],
    );
}

#[test]
fn production_format_renders_defaults_for_a_timed_out_transaction() {
    let format = fixture_format("production-webrequest.conf");
    let record = render_json(&format, &timed_out());
    let expected_defaults = [
        ("hostname", json!("cp1001.eqiad.wmnet")),
        ("sequence", json!(41)),
        ("dt", json!("-")), // the auditor counts these as incomplete
        ("time_firstbyte", json!(0.0)),
        ("http_status", json!("-")),
        ("response_size", json!(0)),
        ("http_method", json!("POST")),
        ("uri_path", json!("/upload")),
        ("uri_query", json!("")),
        ("tls", json!("-")),
    ];
    for (name, value) in expected_defaults {
        assert_eq!(record.members[name], value, "field {name}");
    }
    assert_eq!(record.members.len(), 22);
}

#[test]
fn example_string_format_renders_tab_separated_text() {
    let format = fixture_format("varnishkafka-1.1-example.conf");
    let line = render(&format, FormatKind::String, &cache_hit());
    let columns: Vec<&str> = line.split("        ").collect();
    assert_eq!(
        columns,
        [
            "cp1001.eqiad.wmnet",
            "41",
            "[14/Nov/2023:22:13:20 +0000]",
            "0.000141",
            "192.0.2.10",
            "HIT/200",
            "1024",
            "GET",
            "http://en.wikipedia.org/wiki/Main_Page?action=raw&x=1",
            "-",
            "text/html; charset=UTF-8",
            "-",
            "-",
            r"Mozilla/5.0\ (X11;\ Linux\ x86_64)", // !escape on User-agent
            "en-GB",
            "ns=0;page_id=1",
        ]
    );
}
