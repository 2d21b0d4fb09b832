//! Arbitrary bytes as a segment file, as the fuzz target `spool_open` feeds them: the open
//! never panics, replays exactly what it says it recovered, and once everything replayed is
//! acknowledged no segment remains. Also the fuzz target's committed seeds, opened as they
//! should be (if the format changes, they must be written again).

mod common;

use std::path::Path;

use common::small;
use edgeship_spool::{Recovery, Spool};
use edgeship_testkit::scratch::ScratchDir;
use proptest::prelude::*;

const SEGMENT: &str = "segment-00000000000000000000.spool";

/// Opens `bytes` as the one segment of a fresh spool, replays and acknowledges everything.
fn open_bytes(bytes: &[u8]) -> (Recovery, u64) {
    let scratch = ScratchDir::new("spool-bytes").expect("scratch");
    scratch.write(SEGMENT, bytes).expect("writes");
    let (mut spool, recovery) = Spool::open(scratch.path(), small()).expect("opens");
    assert!(recovery.truncated_bytes <= bytes.len() as u64);
    let mut replayed = 0;
    loop {
        let ids: Vec<_> = spool
            .next_batch(64)
            .expect("replays")
            .iter()
            .map(|spooled| spooled.id)
            .collect();
        if ids.is_empty() {
            break;
        }
        replayed += ids.len() as u64;
        for id in ids {
            spool.acknowledge(id).expect("acknowledges");
        }
    }
    assert_eq!(replayed, recovery.records);
    drop(spool);
    let left = std::fs::read_dir(scratch.path()).expect("lists").count();
    assert_eq!(left, 0, "segments remain once everything is acknowledged");
    (recovery, replayed)
}

fn seed(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/spool_open")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn the_fuzz_seeds_open_as_they_should() {
    let (intact, replayed) = open_bytes(&seed("four-blocks.bin"));
    assert_eq!(replayed, 15);
    assert_eq!(
        intact,
        Recovery {
            records: 15,
            segments: 1,
            ..Recovery::default()
        }
    );
    let (torn, replayed) = open_bytes(&seed("torn-tail.bin"));
    // The last block (one record of a second run) lost its last 7 bytes: it goes whole.
    assert_eq!(replayed, 14);
    assert!(torn.truncated_bytes > 0 && torn.lost.is_empty() && torn.unreadable.is_empty());
    let (flipped, replayed) = open_bytes(&seed("flipped-byte.bin"));
    assert_eq!(flipped.lost.len() + flipped.unreadable.len(), 1);
    assert!(replayed < 15);
}

proptest! {
    #[test]
    fn arbitrary_bytes_open_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        open_bytes(&bytes);
    }

    #[test]
    fn a_damaged_real_segment_opens_without_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = seed("four-blocks.bin");
        for (at, mask) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= mask;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        open_bytes(&bytes);
    }
}
