//! Positions in a live log that outlive the process that read them: where a transaction
//! ended ([`Position`]), what a reader asked to resume from is checked against
//! ([`ResumeCheck`]), and the rule that says whether a transaction read again after a
//! restart was already handed out before it ([`Position::covers`]).
//!
//! A pointer into the ring is this process's; the writer's segment counter is not: varnishd
//! counts the segments of its log ring from its child's start, and every cursor over that
//! ring, whichever process opened it, numbers the records it returns with the same counter
//! (`VSLC_ptr.priv`). Within a segment the records come in the same order for every reader,
//! so "the n-th `End` record of segment s" names the same record for both.

/// Where a transaction ended in a live log: the `ends`-th `End` record (counting every `End`
/// record of the segment, whatever transaction it closes, from 1) of the writer's segment
/// number `segment`. A transaction forced complete (no `End` of its own) is placed just after
/// the last `End` read before it (`ends` may then be 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// The writer's segment counter (`VSL_head.segment_n`) of the unit holding the `End`.
    pub segment: u32,
    /// How many `End` records of that segment came up to and including this one.
    pub ends: u32,
}

impl Position {
    /// Whether a transaction that completed at `other` (by its own `End` when `by_end`) had
    /// completed at or before this position, so that a reader resuming from here must not
    /// hand it out again. A forced transaction at the very position is not covered: it is
    /// handed out again (a duplicate the audit counts) rather than perhaps lost.
    pub fn covers(&self, other: Position, by_end: bool) -> bool {
        match segment_order(other.segment, self.segment) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal if by_end => other.ends <= self.ends,
            std::cmp::Ordering::Equal => other.ends < self.ends,
        }
    }
}

/// Orders two segment numbers of the same log, allowing for the counter's wrap (after some
/// 40 PiB of log at the default segment size): the one less than half the counter's range
/// ahead is the later one.
pub(crate) fn segment_order(a: u32, b: u32) -> std::cmp::Ordering {
    if a == b {
        std::cmp::Ordering::Equal
    } else if b.wrapping_sub(a) < 1 << 31 {
        std::cmp::Ordering::Less
    } else {
        std::cmp::Ordering::Greater
    }
}

/// Where a live reader that keeps track of positions starts ([`Options::resume`](crate::Options::resume)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// After this position, where an earlier process stopped: read from the oldest records
    /// still safely in the ring, hand out only the client requests that completed after it
    /// ([`Position::covers`]).
    After(Position),
    /// From now: read from the oldest records still safely in the ring, hand out only what
    /// completes once the reader has caught up with the writer. What a tail start hands out,
    /// but every transaction handed out has its position (a tail start is inside a segment,
    /// whose `End` records it cannot count).
    FromNow,
}

/// What a reader opened with [`Options::resume`](crate::Options::resume) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeCheck {
    /// No resume was asked for.
    NotAsked,
    /// The position's segment is still in the ring: the reader reads from the oldest
    /// records still safely there and hands out only what completed after the position.
    Resumed,
    /// The writer has overwritten the position's segment: the oldest segment still in the
    /// ring (`oldest`) is later. The reader reads from there; what completed between the
    /// position and that segment could not be read.
    Overwritten {
        /// The oldest segment the reader could start at.
        oldest: u32,
    },
    /// The VSLQ path (a query the fast path cannot evaluate, `-g request`) or a file: it
    /// cannot resume, and reads as if no resume had been asked for.
    Unsupported,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_covers_what_ended_before_it_and_at_it() {
        let at = Position {
            segment: 10,
            ends: 3,
        };
        let cases = [
            (9, 50, true, true),
            (10, 2, true, true),
            (10, 3, true, true),
            (10, 4, true, false),
            (11, 0, true, false),
            // Forced at the position itself: read again rather than lost.
            (10, 3, false, false),
            (10, 2, false, true),
        ];
        for (segment, ends, by_end, covered) in cases {
            let other = Position { segment, ends };
            assert_eq!(
                at.covers(other, by_end),
                covered,
                "{other:?} by_end {by_end}"
            );
        }
    }

    #[test]
    fn segment_order_survives_the_counter_wrap() {
        use std::cmp::Ordering::*;
        assert_eq!(segment_order(u32::MAX, 2), Less);
        assert_eq!(segment_order(2, u32::MAX), Greater);
        assert_eq!(segment_order(5, 5), Equal);
        assert_eq!(segment_order(4, 5), Less);
    }
}
