//! Which numbered records are done: the rendering thread notes each record it numbers (its
//! sequence, the log position of its transaction's end, whether it waits for a mark), and
//! the output marks records done by sequence number (`done.rs`): a delivery report, a spool
//! fsync, a counted loss. The records before the first one not yet marked are done; the
//! last of them is what a checkpoint names.
//!
//! Marks are by sequence number, so the order in which they come does not matter: a record
//! delivered before an older one still in librdkafka (re-sent after a producer replacement,
//! given back to the spool and replayed later, on another partition) does not move the
//! frontier past the older one. A record whose delivery failed finally is done too: its loss
//! is counted (`delivery_failed`) and the audit sees its number missing.
//!
//! The marks tell apart [`WINDOW`] consecutive numbers. Should the records not yet done ever
//! span more (librdkafka's queue raised above millions of messages, a spool that cannot sync
//! for long), the frontier stops: no later checkpoint is written by this process (a restart
//! then resumes from an older one and re-reads, which makes duplicates, not loss).

use std::collections::VecDeque;

use edgeship_varnishlog::Position;

use crate::done::{DoneMarks, WINDOW};

/// One numbered record not yet known to be done.
#[derive(Debug, Clone, Copy)]
struct Pending {
    sequence: u64,
    position: Option<Position>,
    /// The output took it and will mark it done; otherwise it was dropped or refused,
    /// counted, or the output is done with it as soon as it takes it.
    waits: bool,
}

/// The done records' frontier.
#[derive(Debug, Default)]
pub struct Frontier {
    /// Numbered records, oldest first, not yet passed over.
    pending: VecDeque<Pending>,
    /// The last record passed over: every record up to it is done.
    done: Option<(u64, Option<Position>)>,
    /// The records not yet done spanned more than the marks tell apart: the frontier no
    /// longer moves.
    stopped: bool,
}

impl Frontier {
    /// Notes a record just numbered; `waits` when the output will mark it done.
    // hot path: one push into a queue that keeps its capacity.
    #[inline]
    pub fn numbered(&mut self, sequence: u64, position: Option<Position>, waits: bool) {
        if self.stopped {
            return;
        }
        if let Some(oldest) = self.pending.front() {
            if sequence.wrapping_sub(oldest.sequence) >= WINDOW {
                self.stopped = true;
                self.pending = VecDeque::new();
                return;
            }
        }
        self.pending.push_back(Pending {
            sequence,
            position,
            waits,
        });
    }

    /// Whether the frontier stopped (see the module's documentation).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Passes over the records known to be done, taking their marks, and returns the last
    /// done one: its sequence and position.
    pub fn advance(&mut self, marks: &DoneMarks) -> Option<(u64, Option<Position>)> {
        if self.stopped {
            return self.done;
        }
        while let Some(front) = self.pending.front() {
            if front.waits && !marks.take(front.sequence) {
                break;
            }
            self.done = Some((front.sequence, front.position));
            self.pending.pop_front();
        }
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ends: u32) -> Option<Position> {
        Some(Position { segment: 3, ends })
    }

    #[test]
    fn the_frontier_moves_over_marked_records_and_records_that_wait_for_nothing() {
        let marks = DoneMarks::default();
        let mut frontier = Frontier::default();
        assert_eq!(frontier.advance(&marks), None);
        frontier.numbered(10, at(1), true);
        frontier.numbered(11, at(2), false);
        frontier.numbered(12, at(3), true);
        frontier.numbered(13, at(4), true);
        assert_eq!(frontier.advance(&marks), None, "nothing marked yet");
        // The first mark also passes the record that waits for nothing behind it.
        marks.mark(10);
        assert_eq!(frontier.advance(&marks), Some((11, at(2))));
        assert_eq!(frontier.advance(&marks), Some((11, at(2))), "no new mark");
        marks.mark(13);
        assert_eq!(
            frontier.advance(&marks),
            Some((11, at(2))),
            "a newer record done before an older one does not move the frontier"
        );
        marks.mark(12);
        assert_eq!(frontier.advance(&marks), Some((13, at(4))));
        frontier.numbered(14, None, true);
        marks.mark(14);
        assert_eq!(frontier.advance(&marks), Some((14, None)));
    }

    #[test]
    fn records_spanning_more_than_the_marks_tell_apart_stop_the_frontier() {
        let marks = DoneMarks::default();
        let mut frontier = Frontier::default();
        frontier.numbered(5, at(1), true);
        marks.mark(5);
        assert_eq!(frontier.advance(&marks), Some((5, at(1))));
        frontier.numbered(6, at(2), true);
        frontier.numbered(6 + WINDOW, at(3), true);
        assert!(frontier.stopped());
        marks.mark(6);
        marks.mark(6 + WINDOW);
        assert_eq!(
            frontier.advance(&marks),
            Some((5, at(1))),
            "a stopped frontier names the last record it knew done"
        );
    }
}
