//! Fuzz target: arbitrary transactions (tags and payload bytes chosen by the fuzzer, any
//! `tag.size.max`, any sequence number) rendered with the seed, production and all-formatters
//! formats. The JSON output must always parse as one object, whatever the bytes.
#![no_main]
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use edgeship_benches::{fixtures, ALL_FORMATTERS, CONTEXT};
use edgeship_formats::{Context, FormatKind, Plan, Renderer, Tag};
use libfuzzer_sys::fuzz_target;

/// One input, read front to back so that `seed-corpora` can write seeds by hand: `tag.size.max`
/// (one byte, so cuts happen), the sequence number (eight bytes, little-endian), then records
/// as a tag byte (modulo the number of tags), a little-endian `u16` length and that many
/// payload bytes (fewer at the end of the input).
#[derive(Debug)]
struct Input<'a> {
    max_tag_size: u8,
    sequence: u64,
    records: Vec<(Tag, &'a [u8])>,
}

impl<'a> Arbitrary<'a> for Input<'a> {
    fn arbitrary(input: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let max_tag_size = u8::arbitrary(input)?;
        let sequence = u64::arbitrary(input)?;
        let mut records = Vec::new();
        while !input.is_empty() {
            let tag = Tag::ALL[usize::from(u8::arbitrary(input)?) % Tag::ALL.len()];
            let length = usize::from(u16::arbitrary(input)?).min(input.len());
            records.push((tag, input.bytes(length)?));
        }
        Ok(Input {
            max_tag_size,
            sequence,
            records,
        })
    }
}

/// The compiled formats, built once: the fuzzer should spend its time rendering.
fn formats() -> &'static [(String, Plan)] {
    static FORMATS: OnceLock<Vec<(String, Plan)>> = OnceLock::new();
    FORMATS.get_or_init(|| {
        let mut formats: Vec<String> = [fixtures::SEED, fixtures::PRODUCTION]
            .iter()
            .map(|name| fixtures::format(name).unwrap_or_else(|error| panic!("{name}: {error}")))
            .collect();
        formats.push(ALL_FORMATTERS.to_string());
        formats
            .into_iter()
            .map(|format| {
                let plan = Plan::compile(&format, FormatKind::Json)
                    .unwrap_or_else(|error| panic!("{format}: {error}"));
                (format, plan)
            })
            .collect()
    })
}

fuzz_target!(|input: Input<'_>| {
    let context = Context {
        sequence: input.sequence,
        ..CONTEXT
    };
    for (format, plan) in formats() {
        for max_tag_size in [usize::from(input.max_tag_size), Plan::DEFAULT_MAX_TAG_SIZE] {
            let mut renderer = Renderer::new(plan.clone().with_max_tag_size(max_tag_size));
            let mut out = Vec::new();
            renderer.render(&input.records, &context, &mut out);
            match serde_json::from_slice::<serde_json::Value>(&out) {
                Ok(serde_json::Value::Object(_)) => {}
                other => panic!(
                    "{format:?} rendered {:?}, not a JSON object: {other:?}",
                    String::from_utf8_lossy(&out)
                ),
            }
        }
    }
});
