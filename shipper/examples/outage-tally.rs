//! `outage-tally`: the independent count `benches/outage` ends with. It reads a topic from its
//! start to its end (testkit's topic reader, not edgeship's own figures), and tallies the
//! request records whose URL path starts with `--prefix` (the traffic's unique URLs) against
//! `--served`, the requests varnishd says it served:
//!
//! - distinct URLs in the topic, and the served requests missing from it;
//! - duplicates (a URL, or a host's run and sequence number, seen again);
//! - per-host order: within each host's run, the first arrival of every sequence number must
//!   come after the first arrival of every lower one (a duplicate, a record sent again after
//!   its first copy landed, is not an order fault: it is counted as a duplicate);
//! - records that are not JSON or not of the traffic.
//!
//! It prints one `name value` line per figure and exits 1 when a served request is missing,
//! the order is broken or a record is unreadable (2 when it cannot read the topic).
//!
//! Usage: `outage-tally --brokers HOST:PORT --topic TOPIC --prefix /o/ --served N`
#![forbid(unsafe_code)]
// A command-line tool: its output is the point.
#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use edgeship_testkit::topic::Landed;

/// How many arrival segments of each run are printed.
const SEGMENTS_SHOWN: usize = 40;

#[path = "shared/topic.rs"]
mod topic;

/// Tallies a topic's request records against the requests varnishd served.
#[derive(Debug, Parser)]
struct Args {
    /// The topic (exit 2 if its end is not reached in time).
    #[command(flatten)]
    source: topic::TopicOptions,
    /// The URL path prefix of the traffic's requests (every one unique).
    #[arg(long)]
    prefix: String,
    /// How many of those requests varnishd served.
    #[arg(long)]
    served: u64,
}

/// The figures, filled one message at a time (the topic may hold millions: nothing is kept
/// but the keys needed to tell a duplicate).
#[derive(Default)]
struct Tally {
    /// The traffic's URL path prefix.
    prefix: String,
    heartbeats: u64,
    records: u64,
    unreadable: u64,
    /// Records whose URL is not one of the traffic's.
    other: u64,
    urls: HashSet<String>,
    url_duplicates: u64,
    /// Per host and run: the sequence numbers seen, and the highest first arrival so far.
    runs: BTreeMap<(String, String), Run>,
    sequence_duplicates: u64,
    order_faults: u64,
}

#[derive(Default)]
struct Run {
    seen: HashSet<u64>,
    highest: Option<u64>,
    /// Arrival order as runs of consecutive sequence numbers (first, last), every record
    /// counted (duplicates too): one segment when everything arrived once, in order.
    segments: Vec<(u64, u64)>,
}

impl Run {
    fn arrived(&mut self, sequence: u64) {
        match self.segments.last_mut() {
            Some((_, last)) if sequence == *last + 1 => *last = sequence,
            _ => self.segments.push((sequence, sequence)),
        }
    }
}

impl Tally {
    fn add(&mut self, message: &Landed) {
        if message.json.is_null() {
            self.unreadable += 1;
            return;
        }
        if message.is_heartbeat() {
            self.heartbeats += 1;
            return;
        }
        self.records += 1;
        let json = &message.json;
        let host = json["hostname"].as_str().unwrap_or_default().to_owned();
        let run = message.header("edgeship.run").unwrap_or_default();
        if let Some(sequence) = json["sequence"].as_u64() {
            let state = self.runs.entry((host, run)).or_default();
            state.arrived(sequence);
            if !state.seen.insert(sequence) {
                self.sequence_duplicates += 1;
            } else {
                if state.highest.is_some_and(|highest| sequence < highest) {
                    self.order_faults += 1;
                }
                state.highest = state.highest.max(Some(sequence));
            }
        }
        match json["uri_path"].as_str() {
            Some(path) if path.starts_with(&self.prefix) => {
                if !self.urls.insert(path.to_owned()) {
                    self.url_duplicates += 1;
                }
            }
            _ => self.other += 1,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("outage-tally: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Reads and tallies the topic, prints the figures; returns whether everything holds.
fn run(args: &Args) -> anyhow::Result<bool> {
    let source = &args.source;
    let mut reader = source.open("edgeship-outage-tally")?;
    let mut tally = Tally {
        prefix: args.prefix.clone(),
        ..Tally::default()
    };
    let deadline = Instant::now() + Duration::from_secs(source.timeout);
    // The reader keeps what it read; it is tallied and let go after every poll.
    while !reader.caught_up() {
        if Instant::now() > deadline {
            bail!(
                "the end of {} was not reached in {} s",
                source.topic,
                source.timeout
            );
        }
        reader.poll_some(Duration::from_millis(200))?;
        let mut batch = std::mem::take(&mut reader.messages);
        batch.sort_by_key(|m| (m.partition, m.offset));
        for message in &batch {
            tally.add(message);
        }
    }
    let distinct = tally.urls.len() as u64;
    let missing = args.served.saturating_sub(distinct);
    let figures = [
        ("served", args.served),
        ("records", tally.records),
        ("distinct", distinct),
        ("missing", missing),
        ("extra", distinct.saturating_sub(args.served)),
        ("duplicates_by_url", tally.url_duplicates),
        ("duplicates_by_sequence", tally.sequence_duplicates),
        ("order_faults", tally.order_faults),
        ("runs", tally.runs.len() as u64),
        ("heartbeats", tally.heartbeats),
        ("other_records", tally.other),
        ("unreadable", tally.unreadable),
    ];
    for (name, value) in figures {
        println!("{name} {value}");
    }
    // Where the order breaks, in arrival order (the first ones: enough to see the pattern).
    for ((host, run), state) in &tally.runs {
        println!(
            "arrival_segments {host} {run} {} {}",
            state.segments.len(),
            state
                .segments
                .iter()
                .take(SEGMENTS_SHOWN)
                .map(|(first, last)| format!("{first}-{last}"))
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    Ok(missing == 0 && distinct == args.served && tally.order_faults == 0 && tally.unreadable == 0)
}
