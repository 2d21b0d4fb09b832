//! The spool against a model, over generated sequences of appends, batches, acknowledgements,
//! requeues, flushes, syncs, clean reopens and crashes (a kill: nothing more written). What
//! it holds, as the crate documentation promises it:
//! - a batch hands out only held records, requeued ones first, the others once each and in
//!   append order; when it comes back short, every held record is out for delivery;
//! - after a reopen, every unacknowledged record written before it is replayed exactly once,
//!   in append order; acknowledged ones may come back (their segment stayed), nothing else;
//! - after a kill, the records appended since the last explicit write that survive are a
//!   prefix of them (blocks are written in order);
//! - when nothing is held the directory has no segment left;
//! - the figures count the held records.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{drain, segments, small, Owned};
use edgeship_spool::{RecordId, Spool};
use edgeship_testkit::scratch::ScratchDir;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append {
        count: u64,
        gap: bool,
        new_run: bool,
    },
    Batch {
        max: usize,
    },
    Acknowledge {
        pick: usize,
    },
    AcknowledgeAll,
    Requeue {
        pick: usize,
    },
    Flush,
    Sync,
    Reopen,
    Kill,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u64..25, any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(count, gap, new_run)| Op::Append { count, gap, new_run }),
        3 => (1usize..40).prop_map(|max| Op::Batch { max }),
        4 => any::<usize>().prop_map(|pick| Op::Acknowledge { pick }),
        1 => Just(Op::AcknowledgeAll),
        1 => any::<usize>().prop_map(|pick| Op::Requeue { pick }),
        1 => Just(Op::Flush),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
        1 => Just(Op::Kill),
    ]
}

type Name = (Vec<u8>, u64);

/// A record the model knows of: acknowledged yet, written to a file yet.
#[derive(Debug, Clone)]
struct Known {
    record: Owned,
    acknowledged: bool,
    written: bool,
}

/// What the spool should hold, and this open's hand-outs.
struct Model {
    known: Vec<Known>,
    run: u32,
    next_sequence: u64,
    ids: BTreeMap<Name, RecordId>,
    out: Vec<Name>,
    requeued: BTreeSet<Name>,
    last_fresh: Option<usize>,
}

fn name(record: &Owned) -> Name {
    (record.run.clone(), record.sequence)
}

impl Model {
    fn position(&self, wanted: &Name) -> Option<usize> {
        self.known
            .iter()
            .position(|known| name(&known.record) == *wanted)
    }

    fn held(&self) -> usize {
        self.known
            .iter()
            .filter(|known| !known.acknowledged)
            .count()
    }

    fn append(&mut self, spool: &mut Spool, count: u64, gap: bool, new_run: bool) {
        if new_run {
            self.run += 1;
        }
        if gap {
            self.next_sequence += 5;
        }
        let run = format!("run-{}", self.run).into_bytes();
        for _ in 0..count {
            let record = Owned::numbered(&run, self.next_sequence);
            self.next_sequence += 1;
            spool.append(record.record()).expect("appends");
            self.known.push(Known {
                record,
                acknowledged: false,
                written: false,
            });
        }
    }

    fn batch(&mut self, spool: &mut Spool, max: usize) {
        let batch = spool.next_batch(max).expect("a batch");
        let handed: Vec<(RecordId, Owned)> = drain_batch(&batch);
        let mut fresh_started = false;
        let mut last_requeued = None;
        for (id, record) in &handed {
            let key = name(record);
            let at = self.position(&key).expect("a record the spool was given");
            assert!(!self.known[at].acknowledged, "{key:?} was acknowledged");
            assert!(!self.out.contains(&key), "{key:?} is out already");
            if self.requeued.remove(&key) {
                assert!(!fresh_started, "requeued records come first");
                assert!(last_requeued.is_none_or(|last| at > last), "oldest first");
                last_requeued = Some(at);
            } else {
                fresh_started = true;
                assert!(!self.ids.contains_key(&key), "{key:?} handed out twice");
                assert!(self.last_fresh.is_none_or(|last| at > last), "append order");
                self.last_fresh = Some(at);
            }
            self.ids.insert(key.clone(), *id);
            self.out.push(key);
        }
        if handed.len() < max {
            assert!(self.requeued.is_empty());
            let waiting = self
                .known
                .iter()
                .filter(|known| !known.acknowledged && !self.out.contains(&name(&known.record)));
            assert_eq!(waiting.count(), 0, "a short batch leaves nothing behind");
        }
    }

    fn acknowledge(&mut self, spool: &mut Spool, pick: usize) {
        if self.out.is_empty() {
            return;
        }
        let key = self.out.remove(pick % self.out.len());
        spool.acknowledge(self.ids[&key]).expect("acknowledges");
        let at = self.position(&key).expect("known");
        self.known[at].acknowledged = true;
        assert!(spool.acknowledge(self.ids[&key]).is_err(), "only once");
    }

    fn requeue(&mut self, spool: &mut Spool, pick: usize) {
        if self.out.is_empty() {
            return;
        }
        let key = self.out.remove(pick % self.out.len());
        spool.requeue(self.ids[&key]).expect("requeues");
        self.requeued.insert(key);
    }

    fn written(&mut self) {
        self.known.iter_mut().for_each(|known| known.written = true);
    }

    /// A new open's replay against what was known; `killed` when unwritten records may be
    /// gone.
    fn reopened(&mut self, spool: &mut Spool, killed: bool) {
        let replayed = drain(spool);
        let mut cursor = 0;
        let mut unwritten_gone = false;
        for known in &self.known {
            let found = replayed
                .get(cursor)
                .is_some_and(|(_, record)| *record == known.record);
            if found {
                assert!(!unwritten_gone, "unwritten survivors are a prefix");
                cursor += 1;
            } else if !known.acknowledged {
                assert!(
                    killed && !known.written,
                    "{:?} was not replayed",
                    name(&known.record)
                );
                unwritten_gone = true;
            }
        }
        assert_eq!(
            cursor,
            replayed.len(),
            "replayed only known records, in order"
        );
        self.known = replayed
            .iter()
            .map(|(_, record)| Known {
                record: record.clone(),
                acknowledged: false,
                written: true,
            })
            .collect();
        self.ids = replayed
            .iter()
            .map(|(id, record)| (name(record), *id))
            .collect();
        self.out = replayed.iter().map(|(_, record)| name(record)).collect();
        self.requeued.clear();
        self.last_fresh = self.known.len().checked_sub(1);
    }
}

fn drain_batch(batch: &edgeship_spool::Batch<'_>) -> Vec<(RecordId, Owned)> {
    batch
        .iter()
        .map(|spooled| (spooled.id, Owned::of(&spooled.record)))
        .collect()
}

fn run(ops: &[Op]) {
    let scratch = ScratchDir::new("spool-model").expect("scratch");
    let (mut spool, _) = Spool::open(scratch.path(), small()).expect("opens");
    let mut model = Model {
        known: Vec::new(),
        run: 0,
        next_sequence: 0,
        ids: BTreeMap::new(),
        out: Vec::new(),
        requeued: BTreeSet::new(),
        last_fresh: None,
    };
    for op in ops {
        match op {
            Op::Append {
                count,
                gap,
                new_run,
            } => model.append(&mut spool, *count, *gap, *new_run),
            Op::Batch { max } => model.batch(&mut spool, *max),
            Op::Acknowledge { pick } => model.acknowledge(&mut spool, *pick),
            Op::AcknowledgeAll => {
                model.batch(&mut spool, usize::MAX);
                while !model.out.is_empty() {
                    model.acknowledge(&mut spool, 0);
                }
            }
            Op::Requeue { pick } => model.requeue(&mut spool, *pick),
            Op::Flush => {
                spool.flush_block().expect("writes");
                model.written();
            }
            Op::Sync => {
                spool.sync().expect("syncs");
                model.written();
            }
            Op::Reopen | Op::Kill => {
                let killed = matches!(op, Op::Kill);
                if killed {
                    std::mem::forget(spool);
                } else {
                    spool.close().expect("closes");
                    model.written();
                }
                spool = Spool::open(scratch.path(), small()).expect("reopens").0;
                model.reopened(&mut spool, killed);
            }
        }
        assert_eq!(
            spool.figures().records as usize,
            model.held(),
            "after {op:?}"
        );
        if model.held() == 0 {
            let found = segments(scratch.path());
            assert!(found.is_empty(), "nothing held, yet {found:?} after {op:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn the_spool_keeps_its_promises(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops);
    }
}
