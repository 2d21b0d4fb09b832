//! Supervision by systemd (`Type=notify`, `WatchdogSec=`): `READY=1` once start-up is
//! complete, `STATUS=` with a one-line summary, `STOPPING=1` when shutdown begins, and
//! `WATCHDOG=1` only while the pipeline makes progress, so that a process which is alive but
//! no longer ships is restarted by systemd rather than reported up for days.
//!
//! Progress is judged every half watchdog interval (sd_watchdog_enabled(3)'s advice), over the
//! counters' change since the previous judgement (a window), by [`judge`]:
//!
//! - **Reading** progresses when the reader handed anything over in the window (a transaction
//!   read, an ESI sub-request skipped, a request the query left out), or when nothing shows
//!   that the log moved without it: no overrun and no transaction lost in the window. An
//!   idle log is progress; a log that wraps under a reader that reads nothing is not.
//! - **Delivery** progresses when the broker acknowledged at least one record in the window,
//!   or when no record is waiting for its delivery report at the window's end (records
//!   produced minus delivered minus failed either way). Failed deliveries are not progress,
//!   but they end a record's wait: a broker that refuses every record is an alert on the
//!   delivery error counters, not a restart loop. Outputs without delivery reports (standard
//!   output, nothing) always progress here.
//!
//! Progress is both. The judgement runs on the shipping thread's loop (through `Timers`), so a
//! loop that is stuck (in back-pressure behind a broker that is gone, or anywhere else) sends
//! nothing at all, whatever the counters say. A batch whose shipping waits longer than the
//! watchdog interval for room in librdkafka's queue misses a ping even when deliveries trickle:
//! `WatchdogSec=` must be longer than such waits (the unit uses 60 s).
//!
//! Heartbeats are not counted as waiting: there is no counter of heartbeats delivered. So an
//! idle log with a broker that never answers still feeds the watchdog (restarting would not
//! bring the broker back; the auditor flags the host as silent). A `heartbeats_delivered`
//! counter would make them part of [`waiting`] in one line.
//!
//! Records held by a spool (once there is one) are not waiting for the broker in this sense:
//! when the spool lands, what it accepted must count as delivered here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use edgeship_conf::{Config, Output};

use crate::counters::Snapshot;
use crate::notify::{self, Notifier};
use crate::shared::Shared;

/// How often `STATUS=` is refreshed when systemd listens but runs no watchdog.
const STATUS_ONLY_PERIOD: Duration = Duration::from_secs(10);

/// Whether records wait for the output's acknowledgement after they are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledged {
    /// Kafka: a record waits for its delivery report.
    ByDeliveryReport,
    /// Standard output or nothing: a record produced is done.
    OnProduce,
}

/// The judgement over one window: progress, or the first reason there was none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Reading and delivery both progressed.
    Progress,
    /// The log overran or lost transactions in the window and the reader read none.
    ReaderStalled,
    /// Records were waiting at the window's end and none was delivered in it.
    DeliveryStalled {
        /// Records produced and not yet reported delivered or failed.
        waiting: u64,
    },
}

/// Records produced that have no delivery report yet.
pub fn waiting(counters: &Snapshot) -> u64 {
    let reported = counters.records_delivered
        + counters.delivery_failed
        + counters.delivery_failed_maybe_persisted;
    counters.records_produced.saturating_sub(reported)
}

/// Judges the window from `before` to `after` (see the module documentation).
pub fn judge(before: &Snapshot, after: &Snapshot, acknowledged: Acknowledged) -> Verdict {
    let handed_over = after.transactions_read > before.transactions_read
        || after.esi_skipped > before.esi_skipped
        || after.transactions_unselected > before.transactions_unselected;
    let log_moved_unread = after.log_overruns > before.log_overruns
        || after.transactions_lost > before.transactions_lost;
    if !handed_over && log_moved_unread {
        return Verdict::ReaderStalled;
    }
    if acknowledged == Acknowledged::OnProduce {
        return Verdict::Progress;
    }
    let waiting = waiting(after);
    if after.records_delivered > before.records_delivered || waiting == 0 {
        Verdict::Progress
    } else {
        Verdict::DeliveryStalled { waiting }
    }
}

/// The `STATUS=` line for a verdict.
pub fn status(verdict: Verdict, counters: &Snapshot) -> String {
    let totals = format!(
        "{} read, {} delivered, {} waiting",
        counters.transactions_read,
        counters.records_delivered,
        waiting(counters)
    );
    match verdict {
        Verdict::Progress => format!("shipping: {totals}"),
        Verdict::ReaderStalled => {
            format!("stalled: the log overran and nothing was read; {totals}")
        }
        Verdict::DeliveryStalled { .. } => {
            format!("stalled: records wait and none was delivered; {totals}")
        }
    }
}

/// The process's side of systemd's supervision; does nothing when systemd is not listening.
pub struct Supervisor {
    notifier: Option<Notifier>,
    /// Whether `WATCHDOG=1` is expected (`$WATCHDOG_USEC` set for this process).
    watchdog: bool,
    period: Duration,
    next: Instant,
    previous: Snapshot,
    acknowledged: Acknowledged,
    shared: Arc<Shared>,
}

impl Supervisor {
    /// Reads `$NOTIFY_SOCKET` and the watchdog's settings. The counters judged are `shared`'s;
    /// its log reports a socket that cannot be used (once) and failed sends (rate-limited).
    pub fn from_environment(config: &Config, shared: Arc<Shared>) -> Supervisor {
        let notifier = Notifier::from_environment().unwrap_or_else(|error| {
            shared
                .log
                .error("notify", &format!("systemd notifications are off: {error}"));
            None
        });
        let interval = notify::watchdog_interval();
        let acknowledged = match config.output {
            Output::Kafka => Acknowledged::ByDeliveryReport,
            Output::Stdout | Output::Null => Acknowledged::OnProduce,
        };
        Supervisor {
            watchdog: interval.is_some() && notifier.is_some(),
            period: interval.map_or(STATUS_ONLY_PERIOD, |interval| interval / 2),
            next: Instant::now(),
            previous: Snapshot::default(),
            notifier,
            acknowledged,
            shared,
        }
    }

    /// Start-up is complete: `READY=1`; the first window starts now.
    pub fn ready(&mut self) {
        self.previous = self.shared.counters.snapshot();
        self.next = Instant::now() + self.period;
        self.send("READY=1\nSTATUS=shipping: started");
    }

    /// Judges the window if it is due at `now`, then sends the status and, on progress, the
    /// watchdog's keep-alive.
    pub fn run_due(&mut self, now: Instant) {
        if self.notifier.is_none() || now < self.next {
            return;
        }
        self.next = now + self.period;
        let current = self.shared.counters.snapshot();
        let verdict = judge(&self.previous, &current, self.acknowledged);
        self.previous = current;
        let status = status(verdict, &current);
        if self.watchdog && verdict == Verdict::Progress {
            self.send(&format!("WATCHDOG=1\nSTATUS={status}"));
        } else {
            self.send(&format!("STATUS={status}"));
        }
    }

    /// Shutdown begins: `STOPPING=1`.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: flushing and writing the final heartbeat");
    }

    fn send(&self, assignments: &str) {
        if let Some(notifier) = &self.notifier {
            if let Err(error) = notifier.send(assignments) {
                self.shared
                    .log
                    .error("notify", &format!("cannot notify systemd: {error}"));
            }
        }
    }
}

#[cfg(test)]
mod tests;
