//! Heartbeats (canaries): the JSON event docs/records.md defines, produced at start, every
//! `edgeship.heartbeat.interval`, and at clean shutdown, so the auditor can see tail loss and
//! tell a silent host from an idle one.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgeship_formats::escape::json_string;
use edgeship_formats::time::{TimeFormat, Timestamp};

use crate::counters::Snapshot;
use crate::latency::Summary;

/// What a heartbeat says besides the counters.
#[derive(Debug, Clone, Copy)]
pub struct Beat<'a> {
    /// The host, as `%l` renders it.
    pub hostname: &'a str,
    /// The run identifier.
    pub run: &'a str,
    /// When it was made.
    pub now: SystemTime,
    /// The run's first sequence number.
    pub sequence_start: u64,
    /// The last sequence number assigned, if any.
    pub sequence_last: Option<u64>,
    /// Whether this is the heartbeat written at clean shutdown, after the flush.
    pub last: bool,
    /// The configured heartbeat interval (`interval_seconds`).
    pub interval: Duration,
    /// The latencies since the previous heartbeat: the wait before produce and the delivery
    /// latency (`latency`).
    pub latency: (Summary, Summary),
}

/// Renders a heartbeat into `out` (replacing its contents).
pub fn render(beat: &Beat<'_>, counters: &Snapshot, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"{\"heartbeat\":true,\"hostname\":");
    json_string(beat.hostname.as_bytes(), out);
    out.extend_from_slice(b",\"run\":");
    json_string(beat.run.as_bytes(), out);
    out.extend_from_slice(b",\"dt\":\"");
    let seconds = beat
        .now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    if let Ok(format) = TimeFormat::compile("%FT%TZ") {
        format.render(
            Timestamp {
                seconds: seconds as i64,
                micros: 0,
            },
            out,
        );
    }
    let last = match beat.sequence_last {
        Some(last) => last.to_string(),
        None => "null".to_string(),
    };
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "\",\"final\":{},\"interval_seconds\":{},\"sequence_start\":{},\"sequence_last\":{last},\
         \"records_produced\":{},\"records_delivered\":{},\
         \"log_overruns\":{},\"transactions_incomplete\":{},\
         \"queue_full_waits\":{},\"queue_full_drops\":{},\
         \"delivery_failed\":{},\"delivery_failed_maybe_persisted\":{},\
         \"produce_errors\":{},\"transactions_lost\":{},\"undelivered_at_exit\":{},\
         \"records_skipped\":{},\"heartbeats_dropped\":{},\"producer_restarts\":{},\
         \"reader_errors\":{},\"transactions_before_resume\":{},\"resume_failed\":{},\
         \"spool_records\":{},\"spool_bytes\":{},\
         \"spool_oldest_age_seconds\":{},\"spool_spilled\":{},\"spool_replayed\":{},\
         \"spool_returned\":{},\"spool_dropped\":{},\"spool_lost\":{},\
         \"spool_unreadable_bytes\":{}",
        beat.last,
        beat.interval.as_secs(),
        beat.sequence_start,
        counters.records_produced,
        counters.records_delivered,
        counters.log_overruns,
        counters.transactions_incomplete,
        counters.queue_full_waits,
        counters.queue_full_drops,
        counters.delivery_failed,
        counters.delivery_failed_maybe_persisted,
        counters.produce_errors,
        counters.transactions_lost,
        counters.undelivered_at_exit,
        counters.records_skipped,
        counters.heartbeats_dropped,
        counters.producer_restarts,
        counters.reader_errors,
        counters.transactions_before_resume,
        counters.resume_failed,
        counters.spool_records,
        counters.spool_bytes,
        counters.spool_oldest_age_seconds,
        counters.spool_spilled,
        counters.spool_replayed,
        counters.spool_returned,
        counters.spool_dropped,
        counters.spool_lost,
        counters.spool_unreadable_bytes,
    );
    let (wait, delivery) = beat.latency;
    wait.write_json("produce_wait", out);
    delivery.write_json("delivery_latency", out);
    out.push(b'}');
}
