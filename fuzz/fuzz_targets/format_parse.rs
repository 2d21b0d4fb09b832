//! Fuzz target: an arbitrary string as a format. Compiling must return a plan or an error,
//! never panic; a plan must render a realistic record, and in JSON mode the output must be
//! one valid JSON object.
#![no_main]
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use edgeship_benches::{records, CONTEXT};
use edgeship_formats::{FormatKind, Plan, Renderer};
use libfuzzer_sys::fuzz_target;

fn record() -> &'static records::Records {
    static RECORD: OnceLock<records::Records> = OnceLock::new();
    RECORD.get_or_init(|| records::realistic(1, 6).remove(0))
}

fuzz_target!(|format: &str| {
    for kind in [FormatKind::Json, FormatKind::String] {
        let Ok(plan) = Plan::compile(format, kind) else {
            continue;
        };
        let mut renderer = Renderer::new(plan);
        let mut out = Vec::new();
        renderer.render(record(), &CONTEXT, &mut out);
        if kind == FormatKind::Json {
            match serde_json::from_slice::<serde_json::Value>(&out) {
                Ok(serde_json::Value::Object(_)) => {}
                other => panic!(
                    "format {format:?} rendered {:?}, not a JSON object: {other:?}",
                    String::from_utf8_lossy(&out)
                ),
            }
        }
    }
});
