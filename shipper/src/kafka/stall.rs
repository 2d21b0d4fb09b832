//! The watch for a producer instance that has stopped delivering without saying why: no
//! record delivered for longer than the message timeout while record deliveries keep failing
//! (issue 12, item 13). A broker that fences the instance says so and is handled by the
//! delivery reports (`resend::producer_finished`); this covers every other way an instance
//! can get stuck (an idempotent producer whose messages timed out mid-flight, a broker that
//! answers nothing but timeouts), whatever the error: the producer replaces it, and the watch
//! then waits twice as long before the next replacement, up to [`MAX_WINDOW`], so an outage
//! that lasts does not replace instances in a loop.
//!
//! The watch reads two counters per main-loop turn; nothing here is on the per-record path.

use std::time::{Duration, Instant};

/// The longest wait between two replacements of a stalled producer during a long outage.
pub(super) const MAX_WINDOW: Duration = Duration::from_secs(300);

/// What the watch knows: the delivery counters when it last saw progress (or replaced the
/// instance), and how long the instance may go without delivering.
#[derive(Debug)]
pub(super) struct Stall {
    /// The first window, restored whenever a record is delivered.
    base: Duration,
    /// The current window: doubled after each replacement for a stall.
    window: Duration,
    /// Records delivered when the watch last looked.
    delivered: u64,
    /// Failed record deliveries when progress (or a replacement) last reset the watch.
    failed: u64,
    /// Since when nothing has been delivered (or since the last replacement).
    since: Instant,
}

impl Stall {
    /// A watch that reports a stall after `window` without a delivery while deliveries fail.
    pub(super) fn new(window: Duration, now: Instant) -> Stall {
        Stall {
            base: window,
            window,
            delivered: 0,
            failed: 0,
            since: now,
        }
    }

    /// Looks at the counters (`delivered` records, `failed` record deliveries, both totals
    /// over the run); returns how long the instance has delivered nothing when that is longer
    /// than the current window while deliveries failed meanwhile: time to replace it.
    pub(super) fn check(&mut self, delivered: u64, failed: u64, now: Instant) -> Option<Duration> {
        if delivered != self.delivered {
            self.delivered = delivered;
            self.failed = failed;
            self.since = now;
            self.window = self.base;
            return None;
        }
        let stalled = now.saturating_duration_since(self.since);
        (failed > self.failed && stalled > self.window).then_some(stalled)
    }

    /// Records that the instance was replaced (for a stall or any other reason): the new one
    /// gets a full window, twice the last one after a stall, before it is judged.
    pub(super) fn replaced(&mut self, failed: u64, now: Instant, for_stall: bool) {
        self.failed = failed;
        self.since = now;
        if for_stall {
            self.window = (self.window * 2).min(MAX_WINDOW.max(self.base));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(2);

    #[test]
    fn failures_without_a_delivery_for_longer_than_the_window_are_a_stall() {
        let start = Instant::now();
        let mut stall = Stall::new(WINDOW, start);
        assert_eq!(stall.check(10, 0, start), None, "deliveries: progress");
        let later = start + Duration::from_secs(3);
        assert_eq!(stall.check(10, 5, later), Some(Duration::from_secs(3)));
    }

    #[test]
    fn no_failure_or_a_delivery_is_no_stall() {
        let start = Instant::now();
        let mut stall = Stall::new(WINDOW, start);
        let later = start + Duration::from_secs(10);
        // Idle: nothing delivered, nothing failed.
        assert_eq!(stall.check(0, 0, later), None);
        // A delivery resets the watch, even with failures.
        assert_eq!(stall.check(1, 50, later), None);
        assert_eq!(stall.check(1, 60, later + Duration::from_secs(1)), None);
    }

    #[test]
    fn each_replacement_for_a_stall_doubles_the_window_until_a_delivery() {
        let start = Instant::now();
        let mut stall = Stall::new(WINDOW, start);
        let first = start + Duration::from_secs(3);
        assert!(stall.check(0, 1, first).is_some());
        stall.replaced(1, first, true);
        // Four seconds now: three without a delivery are not enough.
        assert_eq!(stall.check(0, 2, first + Duration::from_secs(3)), None);
        let second = first + Duration::from_secs(5);
        assert!(stall.check(0, 2, second).is_some());
        stall.replaced(2, second, true);
        // A delivery restores the first window.
        assert_eq!(stall.check(5, 2, second), None);
        assert!(stall.check(5, 3, second + Duration::from_secs(3)).is_some());
    }

    #[test]
    fn the_window_stops_growing_at_the_cap() {
        let start = Instant::now();
        let mut stall = Stall::new(WINDOW, start);
        for _ in 0..20 {
            stall.replaced(0, start, true);
        }
        assert_eq!(stall.window, MAX_WINDOW);
    }
}
