//! What an open does with damaged segment files: a torn tail cut at every byte offset of the
//! last block, a flipped byte at every offset of a middle block, and a second open after it.

mod common;

use std::path::{Path, PathBuf};

use common::{append_all, drain, records, segments, small, Owned, RUN};
use edgeship_spool::{Limits, LostRange, Spool};
use edgeship_testkit::scratch::ScratchDir;

/// One segment of three blocks (sequence numbers 0..5, 5..9, 9..14); the file and the offsets
/// where the second and third blocks start.
fn three_blocks(dir: &Path) -> (PathBuf, u64, u64, Vec<Vec<Owned>>) {
    let limits = Limits {
        block_bytes: 1 << 20,
        segment_bytes: 1 << 20,
        ..small()
    };
    let groups: Vec<Vec<Owned>> = [0..5, 5..9, 9..14]
        .into_iter()
        .map(|range| {
            range
                .map(|sequence| Owned::numbered(RUN, sequence))
                .collect()
        })
        .collect();
    let (mut spool, _) = Spool::open(dir, limits).expect("opens");
    let mut ends = Vec::new();
    for group in &groups {
        append_all(&mut spool, group);
        spool.flush_block().expect("writes the block");
        let file = segments(dir).pop().expect("one segment");
        ends.push(std::fs::metadata(&file).expect("its size").len());
    }
    spool.close().expect("closes");
    let file = segments(dir).pop().expect("one segment");
    (file, ends[0], ends[1], groups)
}

/// A fresh directory holding `bytes` as its one segment, named as `original`.
fn with_segment(original: &Path, bytes: &[u8]) -> ScratchDir {
    let copy = ScratchDir::new("spool-damage-case").expect("scratch");
    let name = original
        .file_name()
        .and_then(|name| name.to_str())
        .expect("a name");
    copy.write(name, bytes).expect("writes the segment");
    copy
}

#[test]
fn a_torn_last_block_is_truncated_at_every_byte_offset() {
    let scratch = ScratchDir::new("spool-torn").expect("scratch");
    let (file, _, third, groups) = three_blocks(scratch.path());
    let bytes = std::fs::read(&file).expect("reads the segment");
    let kept: Vec<Owned> = groups[..2].concat();
    for cut in third..bytes.len() as u64 {
        let case = with_segment(&file, &bytes[..cut as usize]);
        let (mut spool, recovery) = Spool::open(case.path(), small()).expect("opens");
        assert_eq!(recovery.truncated_bytes, cut - third, "cut at {cut}");
        assert!(
            recovery.lost.is_empty() && recovery.unreadable.is_empty(),
            "cut at {cut}"
        );
        assert_eq!(recovery.records, 9, "cut at {cut}");
        assert_eq!(records(&drain(&mut spool)), kept, "cut at {cut}");
        drop(spool);
        let name = file.file_name().expect("a name");
        let length = std::fs::metadata(case.path().join(name))
            .expect("kept")
            .len();
        assert_eq!(length, third, "the torn bytes are gone, cut at {cut}");
    }
}

#[test]
fn a_flipped_byte_in_a_middle_block_loses_exactly_that_block() {
    let scratch = ScratchDir::new("spool-flip").expect("scratch");
    let (file, second, third, groups) = three_blocks(scratch.path());
    let bytes = std::fs::read(&file).expect("reads the segment");
    let kept: Vec<Owned> = [groups[0].clone(), groups[2].clone()].concat();
    let (mut named, mut placed) = (0, 0);
    for at in second..third {
        let mut damaged = bytes.clone();
        damaged[at as usize] ^= 0x20;
        let case = with_segment(&file, &damaged);
        let (mut spool, recovery) = Spool::open(case.path(), small()).expect("opens");
        assert_eq!(recovery.truncated_bytes, 0, "flip at {at}");
        if recovery.lost.is_empty() {
            // The header itself: its records cannot be named, only its place.
            placed += 1;
            assert_eq!(recovery.unreadable.len(), 1, "flip at {at}");
            assert_eq!(recovery.unreadable[0].offset, second, "flip at {at}");
            assert_eq!(recovery.unreadable[0].bytes, third - second, "flip at {at}");
        } else {
            named += 1;
            let lost = LostRange {
                run: RUN.to_vec(),
                first: 5,
                last: 8,
            };
            assert_eq!(recovery.lost, [lost], "flip at {at}");
            assert!(recovery.unreadable.is_empty(), "flip at {at}");
        }
        assert_eq!(records(&drain(&mut spool)), kept, "flip at {at}");
        drop(spool);
        // Reported once: a second open finds the block dead and says nothing of it.
        let (mut spool, again) = Spool::open(case.path(), small()).expect("reopens");
        assert!(again.lost.is_empty(), "flip at {at}: {again:?}");
        assert_eq!(records(&drain(&mut spool)), kept, "flip at {at}");
    }
    assert!(named > 0 && placed > 0, "both kinds of damage were met");
}

#[test]
fn a_few_bytes_of_a_header_at_the_end_are_a_torn_write() {
    let scratch = ScratchDir::new("spool-prefix").expect("scratch");
    let name = "segment-00000000000000000000.spool";
    scratch.write(name, b"ESP").expect("writes");
    let (spool, recovery) = Spool::open(scratch.path(), small()).expect("opens");
    assert_eq!(recovery.truncated_bytes, 3);
    assert!(recovery.unreadable.is_empty() && recovery.lost.is_empty());
    assert!(spool.is_empty());
}

#[test]
fn a_segment_of_nothing_but_damage_is_reported_and_removed() {
    let scratch = ScratchDir::new("spool-garbage").expect("scratch");
    let name = "segment-00000000000000000003.spool";
    scratch
        .write(name, b"ESPB not a block at all")
        .expect("writes");
    let (mut spool, recovery) = Spool::open(scratch.path(), small()).expect("opens");
    assert_eq!(recovery.segments, 1);
    assert_eq!(recovery.unreadable.len(), 1);
    assert_eq!(recovery.unreadable[0].bytes, 23);
    assert_eq!(recovery.truncated_bytes, 0);
    assert!(drain(&mut spool).is_empty());
    assert!(!scratch.path().join(name).exists());
    // New segments are numbered after the highest one found.
    spool
        .append(Owned::numbered(RUN, 0).record())
        .expect("appends");
    spool.sync().expect("syncs");
    let names = segments(scratch.path());
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with("segment-00000000000000000004.spool"));
}

#[test]
fn a_block_damaged_after_the_open_is_set_aside_by_range_on_replay() {
    let scratch = ScratchDir::new("spool-late-damage").expect("scratch");
    let (file, second, third, groups) = three_blocks(scratch.path());
    let (mut spool, recovery) = Spool::open(scratch.path(), small()).expect("opens");
    assert_eq!(recovery.records, 14);
    let mut bytes = std::fs::read(&file).expect("reads");
    bytes[((second + third) / 2) as usize] ^= 0x01;
    std::fs::write(&file, &bytes).expect("damages the middle block");
    let mut replayed = Vec::new();
    let mut errors = Vec::new();
    loop {
        match spool.next_batch(7) {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => replayed.extend(batch.iter().map(|spooled| Owned::of(&spooled.record))),
            Err(error) => errors.push(error),
        }
    }
    let [edgeship_spool::Error::LostOnReplay(lost)] = errors.as_slice() else {
        panic!("one block lost on replay, not {errors:?}");
    };
    assert_eq!((lost.run.as_slice(), lost.first, lost.last), (RUN, 5, 8));
    assert_eq!(replayed, [groups[0].clone(), groups[2].clone()].concat());
    let figures = spool.figures();
    assert_eq!((figures.lost_on_replay, figures.records), (4, 10));
}
