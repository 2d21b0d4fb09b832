//! The stop clock: one deadline for the whole of a clean stop (`edgeship.shutdown.timeout`),
//! started the first time a stop is seen (a SIGTERM/SIGINT, the end of the input, or a fatal
//! producer error), and read by every wait of the stop: the wait for room in a full queue,
//! both flushes and the final heartbeat. A stop during a broker outage then ends by itself,
//! well before an init system's SIGKILL.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::signals::Flags;

/// The part of the stop kept for the final heartbeat: a quarter of the whole, at most this
/// long. Records (and their flush) have the rest, so a broker that never answers still leaves
/// the final heartbeat its chance.
const FINAL_HEARTBEAT_SHARE: Duration = Duration::from_secs(5);

/// The deadline of a clean stop, shared by the rendering loop, the output and shutdown.
#[derive(Debug, Clone)]
pub struct StopClock {
    flags: Flags,
    timeout: Duration,
    deadline: Arc<OnceLock<Instant>>,
}

impl StopClock {
    /// A clock that gives a stop `timeout`, not yet started; a stop signal in `flags` starts it.
    pub fn new(flags: Flags, timeout: Duration) -> StopClock {
        StopClock {
            flags,
            timeout,
            deadline: Arc::new(OnceLock::new()),
        }
    }

    /// Starts the clock now unless it runs already; returns the deadline.
    pub fn start(&self) -> Instant {
        *self.deadline.get_or_init(|| Instant::now() + self.timeout)
    }

    /// The deadline if a stop has begun (asking after a stop signal starts the clock), or
    /// `None` while the run goes on.
    pub fn deadline(&self) -> Option<Instant> {
        if let Some(deadline) = self.deadline.get() {
            return Some(*deadline);
        }
        self.flags.terminate_requested().then(|| self.start())
    }

    /// Whether a stop has begun and its deadline has passed.
    pub fn expired(&self) -> bool {
        self.deadline()
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// The end of the records' part of a stop that has begun: the deadline less the final
    /// heartbeat's share.
    pub fn records_deadline(&self) -> Option<Instant> {
        let share = (self.timeout / 4).min(FINAL_HEARTBEAT_SHARE);
        self.deadline()
            .map(|deadline| deadline.checked_sub(share).unwrap_or(deadline))
    }

    /// Whether a stop has begun and the records' part of it is over.
    pub fn records_expired(&self) -> bool {
        self.records_deadline()
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// The signal flags the clock watches.
    pub fn flags(&self) -> &Flags {
        &self.flags
    }

    /// The whole time a stop is given.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_starts_once_and_only_when_a_stop_begins() {
        let clock = StopClock::new(Flags::default(), Duration::from_secs(30));
        assert_eq!(clock.deadline(), None, "no stop yet");
        assert!(!clock.expired());
        let deadline = clock.start();
        assert_eq!(
            clock.start(),
            deadline,
            "a second start keeps the first deadline"
        );
        assert_eq!(clock.deadline(), Some(deadline));
        assert!(!clock.expired());
        let records_deadline = clock.records_deadline().expect("a stop has begun");
        assert_eq!(deadline - records_deadline, Duration::from_secs(5));
        let over = StopClock::new(Flags::default(), Duration::ZERO);
        over.start();
        assert!(over.expired());
        assert!(over.records_expired());
    }
}
