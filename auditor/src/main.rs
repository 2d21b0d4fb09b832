//! edgeship-audit: parses the command line, runs the audit (`edgeship_audit::cli`) and maps
//! the outcome to exit codes.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use edgeship_audit::cli::{self, Args};
use edgeship_audit::{Report, Status};

/// Exit code when every row is ok.
const EXIT_OK: u8 = 0;
/// Exit code when the worst row or finding is a warning (a run ended without a final
/// heartbeat, an unread window), or some input lines were bad.
const EXIT_WARNING: u8 = 1;
/// Exit code when a row or finding is an error (no heartbeat since T) or a host or topic is
/// silent.
const EXIT_ERROR: u8 = 2;
/// Exit code when the audit could not run.
const EXIT_FAILED: u8 = 3;

fn main() -> ExitCode {
    let args = Args::parse();
    match cli::run(&args) {
        Ok(report) => ExitCode::from(exit_code(&report)),
        Err(e) => {
            eprintln!("edgeship-audit: {:#}", anyhow::Error::from(e));
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn exit_code(report: &Report) -> u8 {
    match report.worst() {
        Status::Error | Status::Silent => EXIT_ERROR,
        Status::Warning => EXIT_WARNING,
        // Lines we could not read may hide loss: never call that all ok.
        Status::Ok if report.totals.bad > 0 => EXIT_WARNING,
        Status::Ok => EXIT_OK,
    }
}
