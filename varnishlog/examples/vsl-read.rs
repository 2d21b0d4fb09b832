//! Reads a `varnishlog -w` capture with the fast path or the VSLQ path and prints how many
//! client request transactions it found and the CPU time it took (for benches/compare-varnishlog).
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Duration;

use edgeship_formats::Transaction;
use edgeship_varnishlog::{Options, Outcome, PathChoice, Reader, RequestTransaction, Visitor};

/// Counts transactions and touches every record, as a renderer would.
#[derive(Default)]
struct Tally {
    transactions: u64,
    records: u64,
    bytes: u64,
    /// Print one line per transaction (vxid, forced reason, record count).
    list: bool,
}

impl Visitor for Tally {
    fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
        self.transactions += 1;
        if self.list {
            println!(
                "{} {:?} {:?} {}",
                transaction.vxid(),
                transaction.reason(),
                transaction.forced(),
                transaction.len()
            );
        }
        transaction.for_each_record(|_tag, payload| {
            self.records += 1;
            self.bytes += payload.len() as u64;
        });
    }
}

fn cpu_time() -> Duration {
    // /proc/self/stat fields 14 and 15: user and system time in clock ticks (100 per second
    // on Linux); avoids unsafe getrusage in an example.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the name, field 3 is index 0, so utime (14) is index 11 and stime (15) index 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path_choice), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: vsl-read fast|vslq FILE [LIMIT [list]]");
        return ExitCode::from(2);
    };
    let mut options = Options::file(file);
    if let Some(limit) = args.next().and_then(|limit| limit.parse().ok()) {
        options.limit = limit;
    }
    let list = args.next().as_deref() == Some("list");
    options.path = match path_choice.as_str() {
        "fast" => PathChoice::Fast,
        "vslq" => PathChoice::Vslq,
        other => {
            eprintln!("unknown path {other}");
            return ExitCode::from(2);
        }
    };
    let start = cpu_time();
    let mut reader = match Reader::open(options) {
        Ok(reader) => reader,
        Err(error) => {
            eprintln!("vsl-read: {error}");
            return ExitCode::from(1);
        }
    };
    let mut tally = Tally {
        list,
        ..Tally::default()
    };
    loop {
        match reader.read(&mut tally, usize::MAX) {
            Ok(Outcome::EndOfFile) => break,
            Ok(_) => {}
            Err(error) => {
                eprintln!("vsl-read: {error}");
                return ExitCode::from(1);
            }
        }
    }
    let cpu = cpu_time() - start;
    println!(
        "path={path_choice} transactions={} records={} bytes={} cpu_seconds={:.3}",
        tally.transactions,
        tally.records,
        tally.bytes,
        cpu.as_secs_f64()
    );
    ExitCode::SUCCESS
}
