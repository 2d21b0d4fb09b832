//! Arbitrary bytes in every tag payload still render valid JSON, for the fixture formats and
//! for a format that exercises every formatter and option; and capturing several plans' fields
//! in one pass renders exactly what each plan renders alone.

mod common;

use common::{fixture_format, CONTEXT};
use edgeship_formats::{Capturer, FormatKind, Plan, Renderer, Tag};
use proptest::prelude::*;

/// Every formatter and option, with names the generated payloads can hit.
const EVERYTHING: &str =
    "%b %D %T %H %h %{H}i %{H!escape}i %{H@hn!num}i %i %{H}o %o %l %m %q %U %s \
    %t %{%FT%T.%6NZ}t %{end:%c}t %u %n %r %{Varnish:time_firstbyte!num}x %{Varnish:handling}x \
    %{Varnish:xvid!num}x %{VCL_Log:H}x %{VSL_API:*}x %{VSL_API:H}x %{x@k?d}x %{Edgeship:run}x \
    %{Start}D %{?d!e}s";

/// Payloads biased towards what matchers look for (`H: `, `Start: `, digits, `?`, spaces),
/// mixed with arbitrary bytes including invalid UTF-8 and control characters.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop_oneof![
        Just(Vec::new()),
        Just(b"H: ".to_vec()),
        Just(b"h:".to_vec()),
        Just(b"Start: ".to_vec()),
        Just(b"Resp: 17000000".to_vec()),
        Just(b"Process: 1 ".to_vec()),
        Just(b"Authorization: Basic ".to_vec()),
        Just(b"/path?".to_vec()),
        Just(b"HIT".to_vec()),
    ];
    (prefix, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(mut prefix, tail)| {
        prefix.extend(tail);
        prefix
    })
}

fn transaction() -> impl Strategy<Value = Vec<(Tag, Vec<u8>)>> {
    proptest::collection::vec((proptest::sample::select(&Tag::ALL[..]), payload()), 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn json_output_always_parses(records in transaction(), max_tag in 1_usize..80) {
        let formats = [
            EVERYTHING.to_string(),
            fixture_format("seed-2013-varnishkafka.conf"),
            fixture_format("production-webrequest.conf"),
        ];
        for format in &formats {
            let plan = Plan::compile(format, FormatKind::Json)
                .expect("compiles")
                .with_max_tag_size(max_tag);
            let fields = plan.field_names().count();
            let mut renderer = Renderer::new(plan);
            let mut out = Vec::new();
            renderer.render(&records, &CONTEXT, &mut out);
            let parsed: serde_json::Value = serde_json::from_slice(&out)
                .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&out)));
            let object = parsed.as_object().expect("an object");
            // Duplicate keys collapse when parsed; every distinct name is there.
            prop_assert!(!object.is_empty() && object.len() <= fields);
        }
    }

    #[test]
    fn string_output_has_one_item_per_formatter(records in transaction()) {
        // A format with separators that no value can contain once !escape'd: every field,
        // escaped, joined by a tab. The count of tabs is fixed whatever the bytes.
        let plan = Plan::compile("%{H!escape}i\t%{!escape}m\t%{!escape}U", FormatKind::String)
            .expect("compiles");
        let mut renderer = Renderer::new(plan);
        let mut out = Vec::new();
        renderer.render(&records, &CONTEXT, &mut out);
        prop_assert_eq!(out.iter().filter(|&&b| b == b'\t').count(), 2);
    }

    #[test]
    fn one_capture_for_several_plans_renders_what_each_renders_alone(
        records in transaction(),
        limits in (1_usize..80, 1_usize..80),
    ) {
        // What the shipper does: its reader thread captures the record and key formats'
        // fields together, its rendering thread renders each plan from its share of them.
        let plans = [
            Plan::compile(EVERYTHING, FormatKind::Json).expect("compiles").with_max_tag_size(limits.0),
            Plan::compile(&fixture_format("production-webrequest.conf"), FormatKind::String)
                .expect("compiles")
                .with_max_tag_size(limits.1),
            Plan::compile("%l", FormatKind::String).expect("compiles"),
            Plan::compile("%{H}i-%{h}o", FormatKind::String).expect("compiles"),
        ];
        let mut capturer = Capturer::new(&plans.iter().collect::<Vec<_>>());
        let mut renderers: Vec<Renderer> = plans.iter().cloned().map(Renderer::new).collect();
        let firsts: Vec<usize> = (0..plans.len()).map(|plan| capturer.first_field(plan)).collect();
        let (rendered, truncated) = capturer.capture_with(&records, |values, stats| {
            let rendered: Vec<Vec<u8>> = renderers
                .iter_mut()
                .zip(&firsts)
                .map(|(renderer, &first)| {
                    let mut out = Vec::new();
                    renderer.render_captured(|field| values[first + field], &CONTEXT, &mut out);
                    out
                })
                .collect();
            (rendered, stats.truncated_tags)
        });
        for (renderer, captured) in renderers.iter_mut().zip(&rendered) {
            let mut alone = Vec::new();
            renderer.render(&records, &CONTEXT, &mut alone);
            prop_assert_eq!(
                String::from_utf8_lossy(captured),
                String::from_utf8_lossy(&alone)
            );
        }
        // A record counts as cut once, when some plan that reads its tag cuts it.
        let plan_limits = [limits.0, limits.1, Plan::DEFAULT_MAX_TAG_SIZE, Plan::DEFAULT_MAX_TAG_SIZE];
        let read_tags: Vec<Vec<Tag>> =
            plans.iter().map(|plan| Capturer::new(&[plan]).tags()).collect();
        let cut = records
            .iter()
            .filter(|(tag, payload)| {
                read_tags
                    .iter()
                    .zip(plan_limits)
                    .any(|(tags, limit)| tags.contains(tag) && payload.len() > limit)
            })
            .count();
        prop_assert_eq!(truncated as usize, cut);
    }
}
