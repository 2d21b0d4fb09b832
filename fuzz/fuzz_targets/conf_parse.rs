//! Fuzz target: arbitrary bytes as a configuration file. Reading, validating and compiling the
//! formats it declares (what the shipper does at start-up) must return values or errors, never
//! panic.
#![no_main]
#![forbid(unsafe_code)]

use edgeship_conf::{FormatType, Overrides, RawConfig};
use edgeship_formats::{FormatKind, Plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|file: &[u8]| {
    let Ok(raw) = RawConfig::parse(file, "fuzz.conf") else {
        return;
    };
    let Ok(config) = raw.resolve(&Overrides::default()) else {
        return;
    };
    let kind = match config.format_type {
        FormatType::Json => FormatKind::Json,
        FormatType::String => FormatKind::String,
    };
    // Errors are the expected outcome for most inputs; only a panic is a finding.
    let _ = Plan::compile(&config.format.value, kind);
    let _ = Plan::compile(&config.kafka.key_format.value, FormatKind::String);
});
