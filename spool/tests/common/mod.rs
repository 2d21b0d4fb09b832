//! What the spool's tests share: a scratch spool directory, small limits that make blocks
//! and segments roll often, generated records and reading everything back.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use edgeship_spool::{Limits, Record, RecordId, Spool};

/// The run of the generated records.
pub const RUN: &[u8] = b"20261123T140312Z-9f3a02c7";

/// Limits small enough that a few dozen records fill several blocks and segments, with no
/// free-space reserve (tests must not depend on the machine's disk).
pub fn small() -> Limits {
    Limits {
        max_bytes: 1 << 30,
        segment_bytes: 2048,
        block_bytes: 256,
        fsync_interval: Duration::from_secs(1),
        min_free_bytes: 0,
    }
}

/// An owned record: what a test appended and expects back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owned {
    pub run: Vec<u8>,
    pub sequence: u64,
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Owned {
    /// Record `sequence` of `run`, with a payload whose length varies with the number.
    pub fn numbered(run: &[u8], sequence: u64) -> Owned {
        let filler = "x".repeat((sequence % 37) as usize);
        Owned {
            run: run.to_vec(),
            sequence,
            key: b"cp1001".to_vec(),
            payload: format!("{{\"sequence\":{sequence},\"f\":\"{filler}\"}}").into_bytes(),
        }
    }

    /// A copy of `record`.
    pub fn of(record: &Record<'_>) -> Owned {
        Owned {
            run: record.run.to_vec(),
            sequence: record.sequence,
            key: record.key.to_vec(),
            payload: record.payload.to_vec(),
        }
    }

    pub fn record(&self) -> Record<'_> {
        Record {
            key: &self.key,
            payload: &self.payload,
            run: &self.run,
            sequence: self.sequence,
        }
    }
}

/// Appends `records`, failing the test on an error.
pub fn append_all(spool: &mut Spool, records: &[Owned]) -> Vec<RecordId> {
    records
        .iter()
        .map(|record| spool.append(record.record()).expect("appends"))
        .collect()
}

/// Everything `next_batch` hands out until it is empty, with ids, in order.
pub fn drain(spool: &mut Spool) -> Vec<(RecordId, Owned)> {
    let mut all = Vec::new();
    loop {
        let batch = spool.next_batch(7).expect("a batch");
        if batch.is_empty() {
            return all;
        }
        all.extend(
            batch
                .iter()
                .map(|spooled| (spooled.id, Owned::of(&spooled.record))),
        );
    }
}

/// The records only.
pub fn records(handed: &[(RecordId, Owned)]) -> Vec<Owned> {
    handed.iter().map(|(_, record)| record.clone()).collect()
}

/// The segment files of `dir`, by name.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("lists the spool")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "spool")
        })
        .collect();
    found.sort();
    found
}
