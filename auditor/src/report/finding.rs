//! Findings: what the heartbeats say about a run beyond its counts (how it ended, the unread
//! window before the next run, a run boundary inferred for records without a run field).

use super::Status;
use crate::time::format_time;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingKind {
    /// The host's latest run sent no heartbeat, and no final one, for more than twice its
    /// interval before the end of the audited window: a shipper alive but not shipping, or one
    /// that died without saying so. An error.
    NoHeartbeat,
    /// A run followed by another run of its host stopped without a final heartbeat (killed,
    /// crashed, or it could not deliver it). A warning.
    EndedWithoutFinal,
    /// Between one run's last heartbeat and the next run's first, nothing read the host's log:
    /// what Varnish served then is missing without a sequence gap. A warning.
    UnreadWindow,
    /// Records without a run field were split between two runs at a sequence reset, by their
    /// times and the runs' heartbeats. Information only.
    InferredRunBoundary,
    /// The host's latest heartbeat said records were waiting in its disk spool (the broker was
    /// unreachable, or its queue full): numbers reported missing up to its `sequence_last` may
    /// still arrive, and a later audit tells. A warning.
    SpoolPending,
}

impl FindingKind {
    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::NoHeartbeat => "no_heartbeat",
            FindingKind::EndedWithoutFinal => "ended_without_final",
            FindingKind::UnreadWindow => "unread_window",
            FindingKind::InferredRunBoundary => "inferred_run_boundary",
            FindingKind::SpoolPending => "spool_pending",
        }
    }

    /// The status a finding of this kind has.
    pub fn status(self) -> Status {
        match self {
            FindingKind::NoHeartbeat => Status::Error,
            FindingKind::EndedWithoutFinal
            | FindingKind::UnreadWindow
            | FindingKind::SpoolPending => Status::Warning,
            FindingKind::InferredRunBoundary => Status::Ok,
        }
    }
}

/// One finding about a host's run, or about the gap between two of its runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// Its verdict ([`FindingKind::status`]).
    pub status: Status,
    /// The host.
    pub hostname: String,
    /// The run it is about; for an unread window or a boundary, the earlier run.
    pub run: Option<String>,
    /// For an unread window or a boundary, the later run.
    pub next_run: Option<String>,
    /// The last heartbeat's time (no heartbeat, ended without final, the unread window's
    /// start) or the later run's start (boundary), in seconds.
    pub since: i64,
    /// The end of the audited window (no heartbeat) or the later run's first heartbeat
    /// (unread window), in seconds.
    pub until: Option<i64>,
    /// The last heartbeat's `sequence_last` (no heartbeat, ended without final) or the later
    /// run's `sequence_start` (boundary).
    pub sequence: Option<u64>,
    /// The heartbeat interval assumed (no heartbeat), in seconds.
    pub interval: Option<u64>,
    /// Records waiting in the host's disk spool at its last heartbeat (spool pending).
    pub pending: Option<u64>,
}

impl Finding {
    /// Seconds from `since` to `until`, when there is an end.
    pub fn seconds(&self) -> Option<i64> {
        self.until.map(|u| u - self.since)
    }

    /// What it means, in one sentence without the host and run (the caller prints those).
    pub fn describe(&self) -> String {
        let sequence = self
            .sequence
            .map_or_else(|| "null".to_string(), |n| n.to_string());
        let until = self.until.map_or_else(|| "-".to_string(), format_time);
        let seconds = self.seconds().unwrap_or(0);
        let next = self.next_run.as_deref().unwrap_or("-");
        match self.kind {
            FindingKind::NoHeartbeat => format!(
                "no heartbeat since {} (sequence_last {sequence}), {seconds}s before the \
                 window's end at {until}, more than twice the {}s interval",
                format_time(self.since),
                self.interval.unwrap_or(0)
            ),
            FindingKind::EndedWithoutFinal => format!(
                "ended without a final heartbeat; its last heartbeat, at {}, knew \
                 sequence_last {sequence}",
                format_time(self.since)
            ),
            FindingKind::UnreadWindow => format!(
                "unread window of {seconds}s from {} to {until}, before run {next}: nothing \
                 read the host's log",
                format_time(self.since)
            ),
            FindingKind::SpoolPending => format!(
                "its last heartbeat, at {}, had {} records waiting in the disk spool \
                 (sequence_last {sequence}): numbers reported missing may still arrive",
                format_time(self.since),
                self.pending.unwrap_or(0)
            ),
            FindingKind::InferredRunBoundary => format!(
                "inferred run boundary at {}: records without a run field restart at sequence \
                 {sequence} in run {next}",
                format_time(self.since)
            ),
        }
    }
}
