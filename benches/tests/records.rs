//! The realistic records the benchmarks measure are what they claim to be: every fixture
//! format renders them to valid JSON with the fields filled, and they carry the long user
//! agents, many headers, non-ASCII text and stray Latin-1 bytes the benchmark is meant to pay
//! for.

use edgeship_benches::{fixtures, records, ALL_FORMATTERS, CONTEXT};
use edgeship_formats::{FormatKind, Plan, Renderer, Tag};
use serde_json::Value;

fn render_all(format: &str, kind: FormatKind, transactions: &[records::Records]) -> Vec<Vec<u8>> {
    let plan = Plan::compile(format, kind).expect("compiles");
    let mut renderer = Renderer::new(plan);
    transactions
        .iter()
        .map(|records| {
            let mut out = Vec::new();
            renderer.render(records, &CONTEXT, &mut out);
            out
        })
        .collect()
}

#[test]
fn the_seed_format_fills_its_fields_from_realistic_records() {
    let transactions = records::realistic(200, 1);
    let format = fixtures::format(fixtures::SEED).expect("seed fixture");
    let mut long_agents = 0;
    let mut non_ascii = 0;
    let mut replaced = 0;
    for out in render_all(&format, FormatKind::Json, &transactions) {
        let record: Value = serde_json::from_slice(&out)
            .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&out)));
        for field in [
            "dt",
            "ip",
            "cache_status",
            "http_status",
            "http_method",
            "uri_host",
            "uri_path",
            "content_type",
            "user_agent",
            "accept_language",
            "x_analytics",
        ] {
            let value = record[field].as_str().unwrap_or_default();
            assert!(
                !value.is_empty() && value != "-",
                "{field} unset in {record}"
            );
        }
        assert!(record["time_firstbyte"].as_f64().is_some_and(|t| t > 0.0));
        assert!(record["response_size"].as_u64().is_some_and(|n| n > 0));
        let agent = record["user_agent"].as_str().unwrap_or_default();
        long_agents += usize::from(agent.len() > 100);
        let text = String::from_utf8_lossy(&out);
        non_ascii += usize::from(text.chars().any(|c| !c.is_ascii() && c != '\u{FFFD}'));
        replaced += usize::from(text.contains('\u{FFFD}'));
    }
    assert!(long_agents > 50, "{long_agents} long user agents in 200");
    assert!(
        non_ascii > 50,
        "{non_ascii} records with non-ASCII text in 200"
    );
    assert!(replaced > 0, "no Latin-1 referer in 200 records");
}

#[test]
fn realistic_transactions_have_many_headers() {
    for records in records::realistic(50, 2) {
        let count = |wanted: Tag| records.iter().filter(|(tag, _)| *tag == wanted).count();
        assert!(count(Tag::ReqHeader) >= 20, "{}", count(Tag::ReqHeader));
        assert!(count(Tag::RespHeader) >= 20, "{}", count(Tag::RespHeader));
        assert!(records::payload_bytes(&records) > 2000);
    }
}

#[test]
fn every_fixture_and_the_all_formatters_format_render_valid_json() {
    let transactions = records::realistic(100, 3);
    let mut formats: Vec<String> = fixtures::ALL
        .iter()
        .map(|name| fixtures::format(name).expect("fixture"))
        .collect();
    formats.push(ALL_FORMATTERS.to_string());
    for format in &formats {
        let fields = Plan::compile(format, FormatKind::Json)
            .expect("compiles")
            .field_names()
            .count();
        for out in render_all(format, FormatKind::Json, &transactions) {
            let record: Value = serde_json::from_slice(&out)
                .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&out)));
            let members = record.as_object().map_or(0, serde_json::Map::len);
            // Duplicate names collapse when parsed, so at most one member per field.
            assert!(members > 0 && members <= fields, "{format}: {record}");
        }
    }
}
