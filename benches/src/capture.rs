//! Where the process-level benchmarks find their inputs: the recorded Varnish log capture
//! (made by `benches/record-capture` when missing) and the release `edgeship` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root directory (this crate lives in `benches/`).
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// The capture to measure: `$EDGESHIP_CAPTURE` if set, else `target/captures/requests-mixed.vsl`
/// (the one `benches/compare-*` use, so the figures compare). A missing capture is recorded
/// with `benches/record-capture` first (a private varnishd and wrk; about a minute), since no
/// binary capture is committed.
pub fn find_or_record() -> Result<PathBuf, String> {
    let path = match std::env::var_os("EDGESHIP_CAPTURE") {
        Some(path) => PathBuf::from(path),
        None => repository().join("target/captures/requests-mixed.vsl"),
    };
    if std::fs::metadata(&path).is_ok_and(|meta| meta.len() > 0) {
        return Ok(path);
    }
    let script = repository().join("benches/record-capture");
    eprintln!(
        "no capture at {}: recording one with {}",
        path.display(),
        script.display()
    );
    let status = Command::new(&script)
        .arg(&path)
        .current_dir(repository())
        .status()
        .map_err(|error| format!("{}: {error}", script.display()))?;
    if !status.success() {
        return Err(format!("{} failed: {status}", script.display()));
    }
    Ok(path)
}

/// The release `edgeship` binary: `$EDGESHIP_BIN` if set, else built with `cargo build
/// --release` (a no-op when it is up to date), so the benchmark measures the current source.
pub fn edgeship_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("EDGESHIP_BIN") {
        return Ok(PathBuf::from(path));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "edgeship-shipper",
            "--bin",
            "edgeship",
        ])
        .current_dir(repository())
        .status()
        .map_err(|error| format!("cargo build: {error}"))?;
    if !status.success() {
        return Err(format!("cargo build of edgeship failed: {status}"));
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => PathBuf::from(target),
        None => repository().join("target"),
    };
    Ok(target.join("release/edgeship"))
}
