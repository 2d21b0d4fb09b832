//! Where the fast path is in a live log, in the terms a [`Position`] uses (the writer's
//! segment number, and how many `End` records of that segment came so far), and what it must
//! not hand out again after a resume ([`Resume`]). The grouper tells it of every unit and
//! every `End` record; it answers, for a transaction completing now, where it ended and
//! whether it is to be skipped.

use crate::position::{Position, Resume};

/// A segment number no cursor is in yet (the counter reaches it only after some 40 PiB).
const NO_SEGMENT: u32 = u32::MAX;

/// The count of `End` records by segment, and the start a reader was asked for.
pub(crate) struct EndCount {
    /// The writer's segment number of the unit being read.
    unit_segment: u32,
    /// Whether the current segment was read from its start, so that its `End` records are
    /// counted from its first: only then are positions in it known. A cursor from the tail
    /// starts inside a segment; its next segment is whole.
    segment_whole: bool,
    /// The last `End` record read: its segment and its count in that segment.
    last_end: Position,
    /// Client requests that completed at or before this position were handed out by an
    /// earlier process and are skipped. Cleared once it is passed.
    after: Option<Position>,
    /// Hand out nothing that completes before the reader first catches up with the writer.
    skip_backlog: bool,
}

impl EndCount {
    pub(crate) fn new() -> EndCount {
        EndCount {
            unit_segment: NO_SEGMENT,
            segment_whole: false,
            last_end: Position {
                segment: NO_SEGMENT,
                ends: 0,
            },
            after: None,
            skip_backlog: false,
        }
    }

    /// Hands out only what completes after the start `resume` names.
    pub(crate) fn resume(&mut self, resume: Resume) {
        match resume {
            Resume::After(position) => self.after = Some(position),
            Resume::FromNow => self.skip_backlog = true,
        }
    }

    /// A new cursor (at open, or a reattach): whether its first unit starts a segment.
    pub(crate) fn new_cursor(&mut self, starts_a_segment: bool) {
        self.segment_whole = starts_a_segment;
        self.unit_segment = NO_SEGMENT;
        self.last_end = Position {
            segment: NO_SEGMENT,
            ends: 0,
        };
    }

    /// A unit of segment `segment` is about to be read.
    #[inline(always)]
    pub(crate) fn unit(&mut self, segment: u32) {
        if segment != self.unit_segment {
            // A segment seen after the cursor's first one is read from its start.
            self.segment_whole |= self.unit_segment != NO_SEGMENT;
            self.unit_segment = segment;
        }
    }

    /// Counts an `End` record of segment `segment` (every one, whatever its transaction):
    /// positions name the n-th of a segment.
    #[inline(always)]
    pub(crate) fn end_seen(&mut self, segment: u32) {
        if segment == self.last_end.segment {
            self.last_end.ends += 1;
        } else {
            self.last_end = Position { segment, ends: 1 };
        }
    }

    /// The reader caught up with the writer: the backlog, if skipped, is behind.
    pub(crate) fn caught_up(&mut self) {
        self.skip_backlog = false;
    }

    /// Where a transaction completing now ends (at the `End` just read, or, forced, just
    /// after the last `End` read in the current unit's segment), when that is known.
    #[inline]
    pub(crate) fn position_now(&self, by_end: bool) -> Option<Position> {
        if !self.segment_whole {
            return None;
        }
        if by_end || self.last_end.segment == self.unit_segment {
            Some(self.last_end)
        } else {
            Some(Position {
                segment: self.unit_segment,
                ends: 0,
            })
        }
    }

    /// Whether a client request completing now at `position` is not to be handed out: it
    /// completed before the start asked for. Once one completes after a resume position by
    /// its `End`, the position is passed for good.
    #[inline]
    pub(crate) fn before_start(&mut self, position: Option<Position>, by_end: bool) -> bool {
        if self.skip_backlog {
            return true;
        }
        let (Some(after), Some(position)) = (self.after, position) else {
            return false;
        };
        let covered = after.covers(position, by_end);
        if !covered && by_end {
            self.after = None;
        }
        covered
    }
}
