//! The daemon as operators meet it (issue 12): what `--check-config` refuses, where secrets
//! never appear, how the statistics file is opened, what a daemonized start reports, and what
//! a panic on the main thread still writes. Each test runs the real `edgeship` binary, with
//! real varnishd and tansu where the behaviour involves them.

mod common;

use std::ffi::OsStr;

use common::{config_text, kafka_lines, run_edgeship, seed_format};
use edgeship_testkit::scratch::ScratchDir;

/// The 1-based number of the first line of `text` starting with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?}"))
        + 1
}

/// A configuration for tests that contact no broker, with `extra` lines appended.
fn offline_config(dir: &ScratchDir, name: &str, extra: &[&str]) -> (std::path::PathBuf, String) {
    let mut lines = kafka_lines("127.0.0.1:9", "webrequest_operations");
    lines.extend(extra.iter().map(|line| (*line).to_owned()));
    let text = config_text(dir, &seed_format(), &lines);
    (dir.write(name, &text).expect("write a test file"), text)
}

#[test]
fn check_config_refuses_a_transaction_timeout_the_reader_could_not_hold() {
    let dir = ScratchDir::new("shipper-test-timeout-range").expect("a scratch directory");
    // In the file: refused with its line, as start-up would refuse it.
    let (path, text) = offline_config(&dir, "timeout.conf", &["varnish.arg.T = 1e20"]);
    let (code, stderr) = run_edgeship(&[
        OsStr::new("--check-config"),
        OsStr::new("-S"),
        path.as_os_str(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "{}:{}: varnish.arg.T: 1e20 is out of range",
            path.display(),
            line_of(&text, "varnish.arg.T")
        )),
        "{stderr}"
    );
    // On the command line: refused as a bad flag value, with or without --check-config.
    let (valid, _) = offline_config(&dir, "valid.conf", &[]);
    for check in [true, false] {
        let mut args = vec![OsStr::new("-S"), valid.as_os_str(), OsStr::new("-T")];
        args.push(OsStr::new("1e20"));
        if check {
            args.push(OsStr::new("--check-config"));
        }
        let (code, stderr) = run_edgeship(&args);
        assert_eq!(code, Some(2), "check {check}: {stderr}");
        assert!(stderr.contains("1e20 is out of range"), "{stderr}");
    }
    // -L is bounded the same way.
    let (code, stderr) = run_edgeship(&[
        OsStr::new("--check-config"),
        OsStr::new("-S"),
        valid.as_os_str(),
        OsStr::new("-L"),
        OsStr::new("0"),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
}
