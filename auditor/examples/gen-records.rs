//! Writes production-like edgeship records (and heartbeats) for the auditor benchmark.
//!
//! `cargo run --release -p edgeship-audit --example gen-records -- OUT [RECORDS] [HOSTS]`
//! writes RECORDS (default 2,050,000, so that at least 2,000,000 survive the loss) webrequest-shaped lines of about 1 KB over HOSTS (default
//! 40) hosts, each with its own run, in bursts per host as a Kafka consumer sees them, spread
//! over about three hours, with 0.1 % of the records lost at random, 0.05 % delivered twice,
//! and a heartbeat per host every ten seconds.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufWriter, Write};

use edgeship_testkit::random::SplitMix64;
use edgeship_testkit::records::{base_time, final_heartbeat, heartbeat, Record};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: gen-records OUT [RECORDS] [HOSTS]");
        std::process::exit(2);
    };
    let total: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_050_000);
    let hosts: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(40)
        .max(1);
    let per_host = total / hosts;
    let seconds = 3 * 3600 - 120;
    let start = base_time() + 60;
    let names: Vec<String> = (0..hosts).map(|h| format!("cp{}", 1001 + h)).collect();
    let runs: Vec<String> = (0..hosts)
        .map(|h| format!("20250601T120000Z-{:08x}", 0x1000_0000 + h))
        .collect();
    let mut next = vec![0u64; hosts as usize];
    let mut next_heartbeat = vec![start; hosts as usize];
    let mut rng = SplitMix64::new(2026);
    let mut writer = BufWriter::with_capacity(1 << 20, File::create(&out)?);
    let mut line = String::with_capacity(2048);
    let mut written = 0u64;
    for (h, name) in names.iter().enumerate() {
        writeln!(writer, "{}", heartbeat(name, &runs[h], start, None))?;
    }
    // Round-robin bursts of up to 64 records per host, as partitions interleave in a topic.
    while next.iter().any(|&n| n < per_host) {
        for h in 0..hosts as usize {
            let burst = (1 + rng.below(64)).min(per_host - next[h]);
            for _ in 0..burst {
                let sequence = next[h];
                next[h] += 1;
                let time = start + (sequence * seconds / per_host) as i64;
                while next_heartbeat[h] + 10 <= time {
                    next_heartbeat[h] += 10;
                    let last = sequence.checked_sub(1);
                    writeln!(
                        writer,
                        "{}",
                        heartbeat(&names[h], &runs[h], next_heartbeat[h], last)
                    )?;
                }
                let roll = rng.below(10_000);
                if roll < 10 {
                    continue; // lost
                }
                let copies = if roll < 15 { 2 } else { 1 };
                line.clear();
                let record = Record {
                    host: &names[h],
                    run: Some(&runs[h]),
                    sequence,
                    time,
                };
                record.write_realistic(&mut rng, &mut line);
                for _ in 0..copies {
                    writer.write_all(line.as_bytes())?;
                    writer.write_all(b"\n")?;
                    written += 1;
                }
            }
        }
    }
    for (h, name) in names.iter().enumerate() {
        let time = start + seconds as i64;
        writeln!(
            writer,
            "{}",
            final_heartbeat(name, &runs[h], time, Some(per_host - 1))
        )?;
    }
    writer.flush()?;
    eprintln!("gen-records: {written} records for {hosts} hosts in {out}");
    Ok(())
}
