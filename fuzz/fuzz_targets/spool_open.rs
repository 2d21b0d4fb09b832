//! Fuzz target: arbitrary bytes as a spool segment file. `Spool::open` (which reads, frames,
//! checksums and decodes every block, truncates a torn tail and marks damaged blocks dead)
//! must not panic, must replay exactly the records it says it recovered, must cut no more
//! than the file held, and once every replayed record is acknowledged no segment may remain.
#![no_main]
#![forbid(unsafe_code)]

use std::path::PathBuf;

use edgeship_spool::{Limits, Spool};
use libfuzzer_sys::fuzz_target;

/// One directory per fuzzing process, emptied before each input.
fn directory() -> PathBuf {
    std::env::temp_dir().join(format!("edgeship-fuzz-spool-{}", std::process::id()))
}

fuzz_target!(|input: &[u8]| {
    let dir = directory();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    std::fs::write(dir.join("segment-00000000000000000000.spool"), input).expect("writes");
    let limits = Limits {
        min_free_bytes: 0,
        ..Limits::default()
    };
    let (mut spool, recovery) = Spool::open(&dir, limits).expect("opens a readable directory");
    assert!(recovery.truncated_bytes <= input.len() as u64);
    let mut replayed = 0u64;
    loop {
        let ids: Vec<_> = match spool.next_batch(64) {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => batch.iter().map(|spooled| spooled.id).collect(),
            Err(error) => panic!("a block intact at open no longer decodes: {error}"),
        };
        replayed += ids.len() as u64;
        for id in ids {
            spool
                .acknowledge(id)
                .expect("a handed-out record acknowledges");
        }
    }
    assert_eq!(replayed, recovery.records);
    assert!(spool.is_empty());
    drop(spool);
    let left = std::fs::read_dir(&dir).expect("lists").count();
    assert_eq!(
        left, 0,
        "every segment goes once all its records are acknowledged"
    );
});
