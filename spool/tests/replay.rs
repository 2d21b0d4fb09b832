//! Appending and replaying through the public API: order, content, acknowledgement,
//! requeue, segment deletion, reopen, crashes, a full spool, the figures.

mod common;

use common::{append_all, drain, records, segments, small, Owned, RUN};
use edgeship_spool::{Error, Limits, RecordId, Spool};
use edgeship_testkit::scratch::ScratchDir;

fn numbered(range: std::ops::Range<u64>) -> Vec<Owned> {
    range
        .map(|sequence| Owned::numbered(RUN, sequence))
        .collect()
}

#[test]
fn replays_in_append_order_across_blocks_and_segments_then_deletes_when_all_acknowledged() {
    let scratch = ScratchDir::new("spool-order").expect("scratch");
    let (mut spool, recovery) = Spool::open(scratch.path(), small()).expect("opens");
    assert_eq!(recovery.records, 0);
    let written = numbered(0..200);
    append_all(&mut spool, &written);
    spool.sync().expect("syncs");
    assert!(
        segments(scratch.path()).len() > 2,
        "small limits roll segments"
    );
    let handed = drain(&mut spool);
    assert_eq!(records(&handed), written);
    let figures = spool.figures();
    assert_eq!(
        (figures.spilled, figures.replayed, figures.records),
        (200, 200, 200)
    );
    assert!(figures.oldest_append.is_some());
    for (id, _) in &handed[..100] {
        spool.acknowledge(*id).expect("acknowledges");
    }
    assert!(!spool.is_empty());
    for (id, _) in &handed[100..] {
        spool.acknowledge(*id).expect("acknowledges");
    }
    assert!(spool.is_empty());
    assert_eq!(segments(scratch.path()), Vec::<std::path::PathBuf>::new());
    let figures = spool.figures();
    assert_eq!(
        (figures.bytes, figures.records, figures.acknowledged),
        (0, 0, 200)
    );
    assert_eq!(figures.oldest_append, None);
    assert!(matches!(
        spool.acknowledge(handed[0].0),
        Err(Error::UnknownRecord(_))
    ));
}

#[test]
fn a_segment_goes_only_when_every_record_in_it_is_acknowledged() {
    let scratch = ScratchDir::new("spool-delete").expect("scratch");
    let (mut spool, _) = Spool::open(scratch.path(), small()).expect("opens");
    append_all(&mut spool, &numbered(0..200));
    spool.sync().expect("syncs");
    let handed = drain(&mut spool);
    let before = segments(scratch.path());
    // Everything but the very first record: the first segment must stay.
    for (id, _) in &handed[1..] {
        spool.acknowledge(*id).expect("acknowledges");
    }
    let after = segments(scratch.path());
    assert_eq!(after.first(), before.first());
    assert!(
        after.len() < before.len(),
        "fully acknowledged segments went"
    );
    spool.close().expect("closes");
    let (mut spool, recovery) = Spool::open(scratch.path(), small()).expect("reopens");
    let replayed = records(&drain(&mut spool));
    assert_eq!(replayed.first(), Some(&Owned::numbered(RUN, 0)));
    assert_eq!(recovery.records as usize, replayed.len());
}

#[test]
fn requeued_records_come_back_first_and_only_held_ids_are_taken() {
    let scratch = ScratchDir::new("spool-requeue").expect("scratch");
    let (mut spool, _) = Spool::open(scratch.path(), small()).expect("opens");
    let ids = append_all(&mut spool, &numbered(0..20));
    assert!(matches!(
        spool.requeue(ids[3]),
        Err(Error::UnknownRecord(3))
    ));
    let first: Vec<RecordId> = spool
        .next_batch(5)
        .expect("a batch")
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(first, ids[..5]);
    spool.requeue(ids[3]).expect("requeues");
    spool.requeue(ids[1]).expect("requeues");
    spool.acknowledge(ids[0]).expect("acknowledges");
    let again: Vec<u64> = spool
        .next_batch(3)
        .expect("a batch")
        .iter()
        .map(|s| s.record.sequence)
        .collect();
    assert_eq!(again, [1, 3, 5]);
    assert!(matches!(
        spool.requeue(ids[0]),
        Err(Error::UnknownRecord(0))
    ));
    assert!(matches!(
        spool.acknowledge(RecordId::from_raw(999)),
        Err(Error::UnknownRecord(999))
    ));
    assert_eq!(spool.figures().requeued, 2);
}

#[test]
fn a_reopen_replays_every_unacknowledged_record_once_in_order() {
    let scratch = ScratchDir::new("spool-reopen").expect("scratch");
    let written = numbered(0..120);
    let (mut spool, _) = Spool::open(scratch.path(), small()).expect("opens");
    append_all(&mut spool, &written);
    let handed = drain(&mut spool);
    for (id, record) in &handed {
        if record.sequence % 3 == 0 {
            spool.acknowledge(*id).expect("acknowledges");
        }
    }
    spool.close().expect("closes");
    let (mut spool, recovery) = Spool::open(scratch.path(), small()).expect("reopens");
    assert!(recovery.lost.is_empty() && recovery.unreadable.is_empty());
    assert_eq!(recovery.truncated_bytes, 0);
    let replayed = records(&drain(&mut spool));
    // Acknowledged records whose segment stayed may come back; every other one must, once.
    let unacknowledged: Vec<Owned> = written
        .iter()
        .filter(|r| r.sequence % 3 != 0)
        .cloned()
        .collect();
    let again: Vec<Owned> = replayed
        .iter()
        .filter(|r| r.sequence % 3 != 0)
        .cloned()
        .collect();
    assert_eq!(again, unacknowledged);
    assert!(replayed
        .windows(2)
        .all(|pair| pair[0].sequence < pair[1].sequence));
}

#[test]
fn a_killed_process_loses_only_the_block_being_filled_and_a_drop_loses_nothing() {
    let scratch = ScratchDir::new("spool-crash").expect("scratch");
    let limits = Limits {
        block_bytes: 1 << 20,
        ..small()
    };
    let (mut spool, _) = Spool::open(scratch.path(), limits.clone()).expect("opens");
    append_all(&mut spool, &numbered(0..10));
    spool.flush_block().expect("writes the block");
    append_all(&mut spool, &numbered(10..15));
    // A kill: no destructor runs, nothing more is written.
    std::mem::forget(spool);
    let (mut spool, recovery) = Spool::open(scratch.path(), limits.clone()).expect("reopens");
    assert_eq!(recovery.records, 10);
    assert_eq!(records(&drain(&mut spool)), numbered(0..10));
    append_all(&mut spool, &numbered(15..20));
    drop(spool); // Without sync: the block is written, not fsynced; the process lives on.
    let (mut spool, recovery) = Spool::open(scratch.path(), limits).expect("reopens");
    assert_eq!(recovery.records, 15);
    let replayed = records(&drain(&mut spool));
    assert_eq!(replayed[..10], numbered(0..10)[..]);
    assert_eq!(replayed[10..], numbered(15..20)[..]);
}

#[test]
fn a_full_spool_refuses_records_without_losing_what_it_holds() {
    let scratch = ScratchDir::new("spool-full").expect("scratch");
    let limits = Limits {
        max_bytes: 4096,
        ..small()
    };
    let (mut spool, _) = Spool::open(scratch.path(), limits.clone()).expect("opens");
    let mut taken = Vec::new();
    let mut refused = 0;
    for record in numbered(0..500) {
        match spool.append(record.record()) {
            Ok(_) => taken.push(record),
            Err(Error::Full) => refused += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert!(refused > 0 && !taken.is_empty());
    assert!(spool.figures().bytes <= 4096, "{:?}", spool.figures());
    spool.sync().expect("syncs");
    let handed = drain(&mut spool);
    assert_eq!(records(&handed), taken);
    for (id, _) in handed {
        spool.acknowledge(id).expect("acknowledges");
    }
    let later = Owned::numbered(b"another-run", 0);
    spool
        .append(later.record())
        .expect("room again once acknowledged");
    assert_eq!(records(&drain(&mut spool)), [later]);
}

#[test]
fn below_the_free_space_reserve_the_spool_is_full() {
    let scratch = ScratchDir::new("spool-reserve").expect("scratch");
    let limits = Limits {
        min_free_bytes: u64::MAX,
        ..small()
    };
    let (mut spool, _) = Spool::open(scratch.path(), limits).expect("opens");
    spool
        .append(Owned::numbered(RUN, 0).record())
        .expect("buffers");
    assert!(matches!(spool.flush_block(), Err(Error::Full)));
    assert!(matches!(
        spool.append(Owned::numbered(RUN, 1).record()),
        Err(Error::Full)
    ));
    // The buffered record is still held and replayable.
    assert_eq!(records(&drain(&mut spool)), [Owned::numbered(RUN, 0)]);
}

#[test]
fn maybe_sync_writes_only_once_the_interval_has_passed() {
    let scratch = ScratchDir::new("spool-interval").expect("scratch");
    let (mut spool, _) = Spool::open(scratch.path(), small()).expect("opens");
    let start = std::time::Instant::now();
    assert!(!spool.maybe_sync(start).expect("nothing to sync"));
    spool
        .append(Owned::numbered(RUN, 0).record())
        .expect("appends");
    assert!(!spool
        .maybe_sync(start + small().fsync_interval / 2)
        .expect("too early"));
    assert!(segments(scratch.path()).is_empty(), "nothing written yet");
    assert!(spool
        .maybe_sync(start + small().fsync_interval)
        .expect("syncs"));
    assert_eq!(segments(scratch.path()).len(), 1);
}

#[test]
fn other_runs_and_sequence_gaps_start_blocks_that_name_their_records() {
    let scratch = ScratchDir::new("spool-runs").expect("scratch");
    let limits = Limits {
        block_bytes: 1 << 20,
        ..small()
    };
    let (mut spool, _) = Spool::open(scratch.path(), limits.clone()).expect("opens");
    let mut written = numbered(0..3);
    written.extend(numbered(10..12));
    written.push(Owned::numbered(b"second-run", 0));
    append_all(&mut spool, &written);
    spool.close().expect("closes");
    let (mut spool, _) = Spool::open(scratch.path(), limits).expect("reopens");
    assert_eq!(records(&drain(&mut spool)), written);
}

#[test]
fn files_that_are_not_segments_are_left_alone() {
    let scratch = ScratchDir::new("spool-unknown").expect("scratch");
    scratch
        .write("notes.txt", "operator's notes")
        .expect("writes");
    scratch
        .write("segment-1.spool", "short name")
        .expect("writes");
    let (spool, recovery) = Spool::open(scratch.path(), small()).expect("opens");
    assert_eq!(recovery.unknown_files, 2);
    assert!(spool.is_empty());
    drop(spool);
    assert_eq!(
        std::fs::read(scratch.path().join("notes.txt")).expect("kept"),
        b"operator's notes"
    );
    assert!(scratch.path().join("segment-1.spool").exists());
}

#[test]
fn records_acknowledged_before_their_block_is_written_count_for_its_segment() {
    let scratch = ScratchDir::new("spool-early-ack").expect("scratch");
    let limits = Limits {
        block_bytes: 1 << 20,
        ..small()
    };
    let (mut spool, _) = Spool::open(scratch.path(), limits).expect("opens");
    let ids = append_all(&mut spool, &numbered(0..3));
    assert_eq!(drain(&mut spool).len(), 3);
    spool.acknowledge(ids[0]).expect("acknowledges");
    spool.flush_block().expect("writes");
    assert_eq!(segments(scratch.path()).len(), 1);
    spool.acknowledge(ids[1]).expect("acknowledges");
    spool.acknowledge(ids[2]).expect("acknowledges");
    assert!(segments(scratch.path()).is_empty());
}

#[test]
fn a_huge_block_size_still_writes_blocks_an_open_accepts() {
    let scratch = ScratchDir::new("spool-huge-block").expect("scratch");
    let limits = Limits {
        block_bytes: usize::MAX,
        max_bytes: u64::MAX,
        ..small()
    };
    let (mut spool, _) = Spool::open(scratch.path(), limits.clone()).expect("opens");
    let big = Owned {
        payload: vec![b'x'; 4 << 20],
        ..Owned::numbered(RUN, 0)
    };
    // 40 MiB: more than one block may hold.
    for sequence in 0..10 {
        let record = Owned {
            sequence,
            ..big.clone()
        };
        spool.append(record.record()).expect("appends");
    }
    spool.close().expect("closes");
    let (mut spool, recovery) = Spool::open(scratch.path(), limits).expect("reopens");
    assert!(recovery.lost.is_empty() && recovery.unreadable.is_empty());
    let sequences: Vec<u64> = drain(&mut spool)
        .iter()
        .map(|(_, record)| record.sequence)
        .collect();
    assert_eq!(sequences, (0..10).collect::<Vec<u64>>());
}
