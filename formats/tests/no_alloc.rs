//! The render path allocates nothing per record once its buffers have grown: a counting global
//! allocator watches thousands of renders of varied records, for both output kinds, rendered
//! whole or captured first (as the shipper does) and rendered from the captured values.

mod common;

use common::{cache_hit, fixture_format, timed_out, with, CONTEXT};
use edgeship_formats::{Capturer, FormatKind, Plan, Renderer, Tag};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

/// Counts every allocation of the process. This test binary runs without libtest's harness
/// (`harness = false` in Cargo.toml): libtest's own thread allocates now and then while tests
/// run, which made the count flaky under load; here `main` is the only thread.
#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn main() {
    rendering_allocates_nothing_per_record();
    eprintln!("no_alloc: rendering allocated nothing per record");
}

fn rendering_allocates_nothing_per_record() {
    // Records of different shapes, so that every formatter path runs: hits, a timed-out
    // transaction, Basic auth, invalid !num values, escapes, truncation.
    let records = [
        cache_hit(),
        timed_out(),
        with(
            cache_hit(),
            &[(Tag::ReqHeader, b"User-Agent: \x01\"quoted\" \xff bytes")],
        ),
        with(cache_hit(), &[(Tag::RespStatus, b"not-a-number")]),
        with(
            cache_hit(),
            &[(Tag::ReqHeader, "X-Long: ".repeat(400).as_bytes())],
        ),
    ];
    let formats = [
        (
            fixture_format("seed-2013-varnishkafka.conf"),
            FormatKind::Json,
        ),
        (
            fixture_format("production-webrequest.conf"),
            FormatKind::Json,
        ),
        (
            fixture_format("varnishkafka-1.1-example.conf"),
            FormatKind::String,
        ),
        (
            "%{@s!num}s %u %{%FT%T.%3NZ}t %D %T %{User-Agent!escape}i %r %{X-Long}i %n".to_string(),
            FormatKind::Json,
        ),
    ];
    for (format, kind) in formats {
        let plan = Plan::compile(&format, kind).expect("compiles");
        let mut capturer = Capturer::new(&[&plan]);
        let mut renderer = Renderer::new(plan);
        let mut out = Vec::with_capacity(64 * 1024);
        // Warm-up: one pass lets the scratch buffers reach their working size.
        for record in &records {
            out.clear();
            renderer.render(record, &CONTEXT, &mut out);
            capturer.capture_with(record, |values, _| {
                renderer.render_captured(|field| values[field], &CONTEXT, &mut out)
            });
        }
        let region = Region::new(GLOBAL);
        let mut rendered_bytes = 0;
        for round in 0..2000 {
            out.clear();
            let context = edgeship_formats::Context {
                sequence: round,
                ..CONTEXT
            };
            let record = &records[round as usize % records.len()];
            if round % 2 == 0 {
                renderer.render(record, &context, &mut out);
            } else {
                capturer.capture_with(record, |values, _| {
                    renderer.render_captured(|field| values[field], &context, &mut out)
                });
            }
            rendered_bytes += out.len();
        }
        let change = region.change();
        assert!(rendered_bytes > 2000 * 20, "the renders produced output");
        assert_eq!(
            (change.allocations, change.reallocations),
            (0, 0),
            "allocations during 2000 renders of {format:?}"
        );
    }
}
