//! What the heartbeats say about each run beyond its counts: runs that ended without a final
//! heartbeat, a latest run whose heartbeats stopped before the end of the audited window, the
//! unread windows between one run and the next, and the run boundaries inferred for records
//! without a run field.
//!
//! A host's runs are ordered by their first heartbeat. Between two consecutive runs, the
//! earlier one's last heartbeat and the later one's first bound a window in which nothing read
//! the host's log; the earlier run "ended without a final heartbeat" unless its last one was
//! final. The latest run has no successor: when its heartbeats stop, without a final one, more
//! than twice its interval before the end of the audited window, it is "no heartbeat since T".
//! When the latest run's last heartbeat says records wait in the host's disk spool, they are
//! "spool pending": numbers reported missing may still arrive.

use std::collections::BTreeMap;

use super::beats::Beat;
use super::config::Window;
use super::runs::Runs;
use super::state::RunState;
use crate::report::{Finding, FindingKind};

/// The heartbeat interval assumed for heartbeats without `interval_seconds` (the shipper's
/// default, `docs/records.md`).
pub(crate) const DEFAULT_INTERVAL: u64 = 10;

/// The findings of every host's runs, by host and time. `end` is where the audited window
/// ends: `--to`, else the newest event time read.
pub(crate) fn findings(runs: &Runs, window: Window, end: Option<i64>) -> Vec<Finding> {
    let mut by_host: BTreeMap<&str, Vec<&RunState>> = BTreeMap::new();
    for (_, run) in runs.live() {
        if run.beats.any() && run.run.is_some() {
            by_host
                .entry(runs.host_name(run.host))
                .or_default()
                .push(run);
        }
    }
    let mut out = Vec::new();
    for (host, mut host_runs) in by_host {
        host_runs.sort_by_key(|r| r.beats.first.map(|b| b.time));
        let host = HostFindings { host, window };
        for pair in host_runs.windows(2) {
            host.between(pair[0], pair[1], &mut out);
        }
        let inferred: Vec<&RunState> = host_runs.iter().copied().filter(|r| r.inferred).collect();
        for pair in inferred.windows(2) {
            host.boundary(pair[0], pair[1], &mut out);
        }
        if let (Some(latest), Some(end)) = (host_runs.last(), end) {
            host.latest(latest, end, &mut out);
        }
        if let Some(latest) = host_runs.last() {
            host.pending(latest, &mut out);
        }
    }
    out.sort_by(|a, b| (&a.hostname, a.since).cmp(&(&b.hostname, b.since)));
    out
}

/// The findings of one host's runs.
struct HostFindings<'a> {
    host: &'a str,
    window: Window,
}

impl HostFindings<'_> {
    fn finding(&self, kind: FindingKind, run: &RunState, since: i64) -> Finding {
        Finding {
            kind,
            status: kind.status(),
            hostname: self.host.to_string(),
            run: run.run.as_deref().map(str::to_string),
            next_run: None,
            since,
            until: None,
            sequence: None,
            interval: None,
            pending: None,
        }
    }

    /// The end of `earlier` and the unread window before `later`, when the window between
    /// them reaches into the audited one.
    fn between(&self, earlier: &RunState, later: &RunState, out: &mut Vec<Finding>) {
        let (Some(last), Some(first)) = (earlier.beats.last, later.beats.first) else {
            return;
        };
        let touches = self.window.from.is_none_or(|from| first.time >= from)
            && self.window.to.is_none_or(|to| last.time < to);
        if !touches {
            return;
        }
        if !earlier.beats.ended {
            out.push(self.ended(earlier, last));
        }
        out.push(Finding {
            next_run: later.run.as_deref().map(str::to_string),
            until: Some(first.time),
            ..self.finding(FindingKind::UnreadWindow, earlier, last.time)
        });
    }

    fn ended(&self, run: &RunState, last: Beat) -> Finding {
        Finding {
            sequence: last.sequence_last,
            ..self.finding(FindingKind::EndedWithoutFinal, run, last.time)
        }
    }

    /// The boundary between two runs both given records without a run field.
    fn boundary(&self, earlier: &RunState, later: &RunState, out: &mut Vec<Finding>) {
        let Some(first) = later.beats.first else {
            return;
        };
        let start = later.start.map(|s| (s.time, s.sequence_start));
        let since = start.map_or(first.time, |s| s.0);
        if !self.window.contains(since) {
            return;
        }
        out.push(Finding {
            next_run: later.run.as_deref().map(str::to_string),
            sequence: start.map(|s| s.1),
            ..self.finding(FindingKind::InferredRunBoundary, earlier, since)
        });
    }

    /// The host's latest run, when its last heartbeat in the window said records waited in
    /// its disk spool: they are pending, not (yet) lost. Only the latest run's says where the
    /// host's spool stands (a later run replays an earlier one's records).
    fn pending(&self, run: &RunState, out: &mut Vec<Finding>) {
        let Some(last) = run.beats.last else {
            return;
        };
        let Some(pending) = last.spool_records.filter(|&n| n > 0) else {
            return;
        };
        if !self.window.contains(last.time) {
            return;
        }
        out.push(Finding {
            sequence: last.sequence_last,
            pending: Some(pending),
            ..self.finding(FindingKind::SpoolPending, run, last.time)
        });
    }

    /// The host's latest run: "no heartbeat since" when its heartbeats stopped, without a
    /// final one, more than twice its interval before `end`.
    fn latest(&self, run: &RunState, end: i64, out: &mut Vec<Finding>) {
        let Some(last) = run.beats.last else {
            return;
        };
        if run.beats.ended {
            return;
        }
        // An interval of 0 says nothing about when the next heartbeat is due.
        let interval = run
            .beats
            .interval
            .filter(|&i| i > 0)
            .unwrap_or(DEFAULT_INTERVAL);
        let allowed = i64::try_from(interval.saturating_mul(2)).unwrap_or(i64::MAX);
        if last.time.saturating_add(allowed) >= end {
            return;
        }
        out.push(Finding {
            sequence: last.sequence_last,
            until: Some(end),
            interval: Some(interval),
            ..self.finding(FindingKind::NoHeartbeat, run, last.time)
        });
    }
}
