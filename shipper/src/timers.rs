//! The rendering thread's timers: a heartbeat every `edgeship.heartbeat.interval`, and the
//! statistics file's lines every `log.statistics.interval` (when statistics are on). The
//! thread wakes at least every tick, so a timer fires within a tick of being due.

use std::time::{Duration, Instant};

use edgeship_conf::Config;

use crate::ship::Shipper;
use crate::sink::Sink;

/// Something due every `interval`, next at `next`.
#[derive(Debug, Clone, Copy)]
struct Every {
    next: Instant,
    interval: Duration,
}

impl Every {
    fn starting_now(interval: Duration) -> Every {
        Every {
            next: Instant::now() + interval,
            interval,
        }
    }

    /// Whether it is due at `now`; if so, the next time is one interval from `now`.
    fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.interval;
        true
    }
}

/// The heartbeat and statistics timers.
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    heartbeat: Every,
    statistics: Option<Every>,
}

impl Timers {
    /// Timers first due one interval from now.
    pub fn new(config: &Config) -> Timers {
        Timers {
            heartbeat: Every::starting_now(config.edgeship.heartbeat_interval),
            statistics: config.statistics.interval.map(Every::starting_now),
        }
    }

    /// Does what is due at `now`: a heartbeat, then the statistics lines.
    pub fn run_due<S: Sink>(
        &mut self,
        now: Instant,
        shipper: &mut Shipper<S>,
    ) -> anyhow::Result<()> {
        if self.heartbeat.due(now) {
            shipper.heartbeat()?;
        }
        if self.statistics.as_mut().is_some_and(|every| every.due(now)) {
            shipper.write_statistics();
        }
        Ok(())
    }
}
