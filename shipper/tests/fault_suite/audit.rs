//! Running the real `edgeship-audit` binary over a scenario's topic and reading its JSON lines.
//!
//! The binary belongs to another package, so cargo gives no `CARGO_BIN_EXE_` for it: it is
//! taken from beside `edgeship` in the same target directory, where `cargo test --workspace`
//! (`scripts/test`) builds it. A binary older than the auditor's sources would audit with old
//! code, so that is refused with the command that rebuilds it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

/// What the audit said about one topic.
#[derive(Debug, Default)]
pub(crate) struct Audit {
    /// The exit code (0 ok, 1 warning, 2 error, 3 could not run).
    pub(crate) exit: Option<i32>,
    /// Per run (as the audit names it): records counted, sequence loss, duplicates.
    pub(crate) runs: BTreeMap<String, RunTotals>,
    /// Loss the shipper counted but could not number (heartbeat loss counters' increases).
    pub(crate) shipper_lost: u64,
    /// The findings, by kind name (`unread_window`, `ended_without_final`, ...), with the run
    /// each is about.
    pub(crate) findings: Vec<(String, Option<String>)>,
    /// Bad input lines.
    pub(crate) bad_input: u64,
    /// Standard error, for failure messages.
    pub(crate) stderr: String,
}

/// One run's rows added up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunTotals {
    /// Records counted (`count_actual`).
    pub(crate) actual: u64,
    /// Sequence numbers missing (`count_lost`).
    pub(crate) lost: u64,
    /// Records seen more than once (`count_duplicate`).
    pub(crate) duplicates: u64,
}

impl Audit {
    /// Sequence loss over every run.
    pub(crate) fn lost(&self) -> u64 {
        self.runs.values().map(|r| r.lost).sum()
    }

    /// Duplicates over every run.
    pub(crate) fn duplicates(&self) -> u64 {
        self.runs.values().map(|r| r.duplicates).sum()
    }

    /// Records counted over every run.
    pub(crate) fn actual(&self) -> u64 {
        self.runs.values().map(|r| r.actual).sum()
    }

    /// Whether there is a finding of `kind`.
    pub(crate) fn flagged(&self, kind: &str) -> bool {
        self.findings.iter().any(|(k, _)| k == kind)
    }

    /// What the audit flagged: the findings that are not "ok" (the inferred run boundary is
    /// information, not a flag), and loss the shipper counted but could not number (overruns,
    /// whose size in requests nobody knows: the audit reports the counters' increases).
    pub(crate) fn flags(&self) -> Vec<&str> {
        let mut flags: Vec<&str> = self
            .findings
            .iter()
            .map(|(kind, _)| kind.as_str())
            .filter(|kind| *kind != "inferred_run_boundary")
            .collect();
        if self.shipper_lost > 0 {
            flags.push("shipper_counted_loss");
        }
        flags
    }
}

/// Audits `topic` at `bootstrap` from Kafka, as an operator would.
pub(crate) fn audit_topic(bootstrap: &str, topic: &str) -> Audit {
    let output = Command::new(binary())
        .args(["--brokers", bootstrap, "--topic", topic])
        .args(["--output", "json", "--quiet"])
        .output()
        .expect("run edgeship-audit");
    let mut audit = Audit {
        exit: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        ..Audit::default()
    };
    assert_ne!(
        audit.exit,
        Some(3),
        "the audit could not run:\n{}",
        audit.stderr
    );
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let object: Value = serde_json::from_str(line).unwrap_or_else(|error| {
            panic!("the audit wrote a line that is not JSON ({error}): {line}")
        });
        let count = |name: &str| object[name].as_u64().unwrap_or(0);
        match object["kind"].as_str().unwrap_or_default() {
            "row" => {
                let run = object["run"].as_str().unwrap_or("-").to_owned();
                let totals = audit.runs.entry(run).or_default();
                totals.actual += count("count_actual");
                totals.lost += count("count_lost");
                totals.duplicates += count("count_duplicate");
                audit.shipper_lost += count("count_shipper_lost");
            }
            "rollup" => {}
            "bad_input" => audit.bad_input += count("count"),
            kind => audit
                .findings
                .push((kind.to_owned(), object["run"].as_str().map(str::to_owned))),
        }
    }
    audit
}

/// `edgeship-audit` beside `edgeship`, refused if it is missing or older than its sources.
fn binary() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_edgeship")).with_file_name("edgeship-audit");
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../auditor/src");
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    assert!(
        built >= newest(&sources),
        "{} is missing or older than auditor/src: build it with \
         `cargo build -p edgeship-audit` (scripts/test does)",
        binary.display()
    );
    binary
}

/// The newest modification time under `dir`.
fn newest(dir: &Path) -> SystemTime {
    let mut latest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH)
        };
        latest = latest.max(time);
    }
    latest
}
