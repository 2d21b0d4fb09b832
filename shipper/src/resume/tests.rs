//! The checkpointer against the marks of done records: what it writes when records are done
//! out of order, with a stand-in varnishd work directory naming a child.

use std::path::Path;
use std::time::SystemTime;

use edgeship_conf::{Config, Output, Overrides, RawConfig};
use edgeship_testkit::scratch::ScratchDir;
use edgeship_varnishlog::Position;

use super::{StartAt, State};
use crate::checkpoint::Checkpoint;
use crate::counters::Counters;
use crate::identity::Identity;
use crate::log::Log;
use crate::shared::Shared;

fn config(dir: &Path) -> Config {
    let text = format!(
        "output = kafka\nkafka.metadata.broker.list = 127.0.0.1:9\nkafka.topic = t\n\
         log.stderr = false\nvarnish.arg.n = {dir}/varnish\nedgeship.state.dir = {dir}/state\n",
        dir = dir.display()
    );
    let raw = RawConfig::parse(text.as_bytes(), "t.conf").expect("reads");
    raw.resolve(&Overrides::default()).expect("resolves")
}

fn at(ends: u32) -> Option<Position> {
    Some(Position { segment: 7, ends })
}

fn next_sequence(dir: &Path) -> Option<u64> {
    let checkpoint = Checkpoint::read(&dir.join("state")).expect("a checkpoint reads");
    checkpoint.map(|checkpoint| checkpoint.next_sequence)
}

#[test]
fn a_record_done_before_an_older_one_does_not_move_the_checkpoint_past_the_older_one() {
    let scratch = ScratchDir::new("resume-marks").expect("a scratch directory");
    let dir = scratch.path();
    let child = dir.join("varnish/_.vsm_child");
    std::fs::create_dir_all(&child).expect("creates");
    std::fs::write(child.join("_.index"), "# 4242 1764880000\n").expect("writes");
    let config = config(dir);
    let shared = Shared::open(&config, Log::new(&config.log)).expect("opens");
    let state = State::open(&config, StartAt::Checkpoint, &shared).expect("a state dir");
    let identity = Identity::new(&config, SystemTime::now());
    let mut checkpoints = state.checkpointer(&identity, Output::Kafka);
    for (sequence, ends) in [(0, 1), (1, 2), (2, 3)] {
        checkpoints.numbered(sequence, at(ends), true);
    }
    // Record 2 is delivered first (record 0 went back to the spool, record 1 is still in
    // librdkafka): one delivery report counted, but not of the oldest record.
    Counters::add(&shared.counters.records_delivered, 1);
    shared.mark_done(2);
    checkpoints.write(&shared);
    assert_eq!(next_sequence(dir), None, "nothing before record 2 is done");
    shared.mark_done(0);
    checkpoints.write(&shared);
    assert_eq!(
        next_sequence(dir),
        Some(1),
        "record 0 done (fsynced in the spool)"
    );
    shared.mark_done(1);
    checkpoints.write(&shared);
    assert_eq!(next_sequence(dir), Some(3), "all three done");
}
