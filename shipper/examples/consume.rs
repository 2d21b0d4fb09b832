//! `consume`: reads a topic from its start to its current end (with testkit's topic reader,
//! the one the shipper's tests use) and summarises what edgeship shipped into it: records per
//! host (with sequence range, duplicates and gaps), records per HTTP status, one sample
//! record, and each host's last heartbeat. `scripts/demo` prints it.
//!
//! Usage: `cargo run --example consume -- --brokers HOST:PORT --topic TOPIC`
#![forbid(unsafe_code)]
// A command-line tool: its output is the point.
#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use edgeship_testkit::topic::Landed;
use serde_json::Value;

#[path = "shared/topic.rs"]
mod topic;

/// Summarises the records and heartbeats edgeship produced to a topic.
#[derive(Debug, Parser)]
struct Args {
    /// The topic (exit 1 if its end is not reached in time).
    #[command(flatten)]
    source: topic::TopicOptions,
}

/// What one host shipped.
#[derive(Default)]
struct Host<'a> {
    records: u64,
    sequences: BTreeSet<u64>,
    duplicates: u64,
    last_heartbeat: Option<&'a Value>,
}

/// What the topic holds, borrowed from the messages read.
#[derive(Default)]
struct Summary<'a> {
    hosts: BTreeMap<String, Host<'a>>,
    statuses: BTreeMap<String, u64>,
    partitions_used: BTreeSet<i32>,
    sample: Option<&'a Value>,
    unreadable: u64,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("consume: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let source = &args.source;
    let mut reader = source.open("edgeship-consume-example")?;
    reader.read_to_end(Duration::from_secs(source.timeout))?;
    let summary = summarise(&reader.messages);
    println!(
        "topic {}: {} partitions, records in partition(s) {:?}",
        source.topic,
        reader.partitions(),
        summary.partitions_used
    );
    print_summary(&summary)
}

fn summarise(messages: &[Landed]) -> Summary<'_> {
    let mut summary = Summary::default();
    for message in messages {
        summary.partitions_used.insert(message.partition);
        let value = &message.json;
        if value.is_null() {
            summary.unreadable += 1;
            continue;
        }
        let name = value["hostname"]
            .as_str()
            .unwrap_or("(no hostname)")
            .to_owned();
        let host = summary.hosts.entry(name).or_default();
        if message.is_heartbeat() {
            host.last_heartbeat = Some(value);
            continue;
        }
        host.records += 1;
        if let Some(sequence) = value["sequence"].as_u64() {
            if !host.sequences.insert(sequence) {
                host.duplicates += 1;
            }
        }
        let status = match &value["http_status"] {
            Value::String(status) => status.clone(),
            Value::Null => "-".to_owned(),
            other => other.to_string(),
        };
        *summary.statuses.entry(status).or_default() += 1;
        if summary.sample.is_none() {
            summary.sample = Some(value);
        }
    }
    summary
}

fn print_summary(summary: &Summary<'_>) -> anyhow::Result<()> {
    println!();
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "host", "records", "seq min", "seq max", "missing", "duplicates"
    );
    for (name, host) in &summary.hosts {
        let (min, max) = match (host.sequences.first(), host.sequences.last()) {
            (Some(min), Some(max)) => (*min, *max),
            _ => (0, 0),
        };
        let expected = if host.sequences.is_empty() {
            0
        } else {
            max - min + 1
        };
        let missing = expected - host.sequences.len() as u64;
        println!(
            "{name:<20} {:>10} {min:>10} {max:>10} {missing:>10} {:>10}",
            host.records, host.duplicates
        );
    }
    if summary.unreadable > 0 {
        println!("({} messages were not JSON)", summary.unreadable);
    }
    println!();
    let by_status: Vec<String> = summary
        .statuses
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect();
    println!("records per HTTP status: {}", by_status.join(", "));
    println!();
    match summary.sample {
        Some(sample) => println!(
            "a sample record:\n{}",
            serde_json::to_string_pretty(sample)?
        ),
        None => println!("no request records in the topic"),
    }
    for (name, host) in &summary.hosts {
        if let Some(heartbeat) = host.last_heartbeat {
            println!();
            println!(
                "last heartbeat of {name}:\n{}",
                serde_json::to_string_pretty(heartbeat)?
            );
        }
    }
    Ok(())
}
