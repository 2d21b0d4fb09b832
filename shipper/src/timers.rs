//! The rendering thread's timers: a heartbeat every `edgeship.heartbeat.interval`, the
//! statistics file's lines every `log.statistics.interval` (when statistics are on), and
//! systemd's watchdog and status (`watchdog::Supervisor`, its own schedule). The thread wakes
//! at least every tick, so a timer fires within a tick of being due.

use std::time::{Duration, Instant};

use edgeship_conf::Config;

use crate::ship::Shipper;
use crate::sink::Sink;
use crate::watchdog::Supervisor;

/// How often the restart checkpoint is brought up to date: what a SIGKILL makes the next
/// process read (and deliver) twice is at most about this much traffic plus what was in
/// flight.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

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

/// The heartbeat, statistics and watchdog timers.
pub struct Timers {
    heartbeat: Every,
    statistics: Option<Every>,
    /// The restart checkpoint (written only when one is kept).
    checkpoint: Every,
    supervisor: Supervisor,
}

impl Timers {
    /// Timers first due one interval from now; `supervisor` keeps its own schedule.
    pub fn new(config: &Config, supervisor: Supervisor) -> Timers {
        Timers {
            heartbeat: Every::starting_now(config.edgeship.heartbeat_interval),
            statistics: config.statistics.interval.map(Every::starting_now),
            checkpoint: Every::starting_now(CHECKPOINT_INTERVAL),
            supervisor,
        }
    }

    /// systemd's side of the timers, for the notification at shutdown.
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// Does what is due at `now`: a heartbeat, the statistics lines, then the watchdog's
    /// judgement of the progress since its last one.
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
        if self.checkpoint.due(now) {
            shipper.checkpoint();
        }
        self.supervisor.run_due(now);
        Ok(())
    }
}
