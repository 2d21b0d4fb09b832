//! `consume`: reads a topic from its start to its current end and summarises what edgeship
//! shipped into it: records per host (with sequence range, duplicates and gaps), records per
//! HTTP status, one sample record, and each host's last heartbeat. `scripts/demo` prints it.
//!
//! Usage: `cargo run --example consume -- --brokers HOST:PORT --topic TOPIC`
#![forbid(unsafe_code)]
// A command-line tool: its output is the point.
#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};
use serde_json::Value;

/// Summarises the records and heartbeats edgeship produced to a topic.
#[derive(Debug, Parser)]
struct Args {
    /// bootstrap.servers
    #[arg(long, value_name = "HOST:PORT,...")]
    brokers: String,
    /// The topic to read, from its first offset to its end at the time of reading.
    #[arg(long)]
    topic: String,
    /// Give up (exit 1) if the end is not reached within this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// What one host shipped.
#[derive(Default)]
struct Host {
    records: u64,
    sequences: BTreeSet<u64>,
    duplicates: u64,
    last_heartbeat: Option<Value>,
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
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("group.id", "edgeship-consume-example")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .context("creating the consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(&args.topic), Duration::from_secs(10))
        .context("reading the topic's metadata")?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|topic| topic.name() == args.topic)
        .flat_map(|topic| topic.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        bail!("topic {} has no partitions (does it exist?)", args.topic);
    }
    let mut assignment = TopicPartitionList::new();
    for &partition in &partitions {
        assignment.add_partition_offset(&args.topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut at_end: BTreeSet<i32> = BTreeSet::new();
    let mut hosts: BTreeMap<String, Host> = BTreeMap::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut partitions_used: BTreeSet<i32> = BTreeSet::new();
    let mut sample: Option<Value> = None;
    let mut unreadable = 0_u64;
    while at_end.len() < partitions.len() {
        if Instant::now() > deadline {
            bail!(
                "the end of {} was not reached within {} s",
                args.topic,
                args.timeout
            );
        }
        let message = match consumer.poll(Duration::from_millis(500)) {
            None => continue,
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
                continue;
            }
            Some(Err(error)) => return Err(error).context("reading the topic"),
            Some(Ok(message)) => message,
        };
        // A partition that reached its end and then got more is not at its end any more.
        at_end.remove(&message.partition());
        partitions_used.insert(message.partition());
        let Some(value) = message
            .payload()
            .and_then(|payload| serde_json::from_slice::<Value>(payload).ok())
        else {
            unreadable += 1;
            continue;
        };
        let name = value["hostname"]
            .as_str()
            .unwrap_or("(no hostname)")
            .to_owned();
        let host = hosts.entry(name).or_default();
        if value["heartbeat"] == Value::Bool(true) {
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
        *statuses.entry(status).or_default() += 1;
        if sample.is_none() {
            sample = Some(value);
        }
    }

    println!(
        "topic {}: {} partitions, records in partition(s) {:?}",
        args.topic,
        partitions.len(),
        partitions_used
    );
    println!();
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "host", "records", "seq min", "seq max", "missing", "duplicates"
    );
    for (name, host) in &hosts {
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
    if unreadable > 0 {
        println!("({unreadable} messages were not JSON)");
    }
    println!();
    let by_status: Vec<String> = statuses
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect();
    println!("records per HTTP status: {}", by_status.join(", "));
    println!();
    match &sample {
        Some(sample) => println!(
            "a sample record:\n{}",
            serde_json::to_string_pretty(sample)?
        ),
        None => println!("no request records in the topic"),
    }
    for (name, host) in &hosts {
        if let Some(heartbeat) = &host.last_heartbeat {
            println!();
            println!(
                "last heartbeat of {name}:\n{}",
                serde_json::to_string_pretty(heartbeat)?
            );
        }
    }
    Ok(())
}
