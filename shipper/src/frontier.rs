//! Which numbered records are done: the rendering thread notes each record it numbers (its
//! sequence, the log position of its transaction's end, whether the output took it), and the
//! delivery reports' totals say how many of the records the output took have a final report.
//! The records before the first one without a final report are done; the last of them is
//! what a checkpoint names.
//!
//! What holds exactly: reports arrive in the order the records were produced. librdkafka
//! keeps that order within a partition (with the idempotent producer, also across retries),
//! and every record of a host goes to one partition with the default key (`%l`). With a key
//! or partitioner that spreads one host's records over several partitions, or after a
//! producer replacement re-sent failed records behind newer ones, a report may come before
//! an older record's, and the checkpoint may then name a record whose predecessor was still
//! in flight (lost on a SIGKILL at that moment). A record whose delivery failed finally is
//! done too: its loss is counted (`delivery_failed`) and the audit sees its number missing.

use std::collections::VecDeque;

use edgeship_varnishlog::Position;

/// One numbered record not yet known to be done.
#[derive(Debug, Clone, Copy)]
struct Pending {
    sequence: u64,
    position: Option<Position>,
    /// The output took it (a delivery report will come); otherwise it was dropped or refused,
    /// counted, and is done already.
    produced: bool,
}

/// The done records' frontier.
#[derive(Debug, Default)]
pub struct Frontier {
    /// Numbered records, oldest first, not yet passed over.
    pending: VecDeque<Pending>,
    /// How many produced records were passed over: the reports they account for.
    reported_passed: u64,
    /// The last record passed over: every record up to it is done.
    done: Option<(u64, Option<Position>)>,
}

impl Frontier {
    /// Notes a record just numbered.
    // hot path: one push into a queue that keeps its capacity.
    #[inline]
    pub fn numbered(&mut self, sequence: u64, position: Option<Position>, produced: bool) {
        self.pending.push_back(Pending {
            sequence,
            position,
            produced,
        });
    }

    /// Passes over the records known to be done now that `reported` produced records have a
    /// final delivery report, and returns the last done one: its sequence and position.
    pub fn advance(&mut self, reported: u64) -> Option<(u64, Option<Position>)> {
        while let Some(front) = self.pending.front() {
            if front.produced {
                if self.reported_passed >= reported {
                    break;
                }
                self.reported_passed += 1;
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
    fn the_frontier_moves_with_the_reports_and_over_records_never_produced() {
        let mut frontier = Frontier::default();
        assert_eq!(frontier.advance(0), None);
        frontier.numbered(10, at(1), true);
        frontier.numbered(11, at(2), false);
        frontier.numbered(12, at(3), true);
        frontier.numbered(13, at(4), true);
        assert_eq!(frontier.advance(0), None, "nothing reported yet");
        // The first report also passes the record that was never produced behind it.
        assert_eq!(frontier.advance(1), Some((11, at(2))));
        assert_eq!(frontier.advance(1), Some((11, at(2))), "no new report");
        assert_eq!(frontier.advance(3), Some((13, at(4))));
        frontier.numbered(14, None, true);
        assert_eq!(frontier.advance(4), Some((14, None)));
    }
}
