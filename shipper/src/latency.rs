//! Latency histograms (`hdrhistogram`, microseconds, two significant digits): how long records
//! wait in edgeship before they are produced, and how long from the request's end in Varnish
//! to the broker's acknowledgement (the delivery report).
//!
//! The wait starts when the reader took the record's batch's first transaction from the log
//! (`Batch::handed_micros`): an upper bound, by at most the time one batch takes to fill (one
//! read call). The delivery latency starts at the request's end as Varnish logged it: the
//! absolute time of its `Timestamp` record labelled `Resp` (captured for every transaction by
//! [`end_plan`], whatever the operator's format reads); a transaction without one (a pipe, a
//! request Varnish abandoned) is timed from the hand-over instead.
//!
//! Nothing here takes a lock per record: the wait is recorded once per batch (the batch's
//! records as one count), and each delivery report records into a histogram of the thread
//! that serves it (librdkafka calls the delivery callback on the thread that polls), which
//! that thread merges into the shared one after each poll or flush. Each figure is kept twice:
//! since the start (for Prometheus) and since the last statistics line (its percentiles).

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use edgeship_formats::time::Timestamp;
use edgeship_formats::{FormatKind, Plan};
use hdrhistogram::Histogram;

/// The largest latency told apart (an hour, in microseconds); longer ones count as an hour.
const HIGHEST_MICROS: u64 = 3_600_000_000;
/// Significant digits kept: values are exact to 1%, and a histogram stays a few kilobytes.
const SIGNIFICANT_DIGITS: u8 = 2;

thread_local! {
    /// Delivery latencies recorded on this thread since its last merge.
    static DELIVERED_HERE: RefCell<Option<Histogram<u64>>> = const { RefCell::new(None) };
}

/// Microseconds since the Unix epoch at `time` (0 before it).
pub fn unix_micros(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros() as u64)
}

/// The format whose one field is a transaction's end in Varnish (`Timestamp:Resp`'s absolute
/// time), captured beside the operator's formats for the delivery latency.
pub fn end_plan() -> Plan {
    // A fixed format that compiles: `expect` cannot fail at run time (a unit test compiles it).
    Plan::compile("%{end:%s}t", FormatKind::String).expect("the end-time format compiles")
}

/// Microseconds since the Unix epoch of a captured `Timestamp` time (`1764880000.123456`), or
/// `None` when it is not one.
#[inline]
pub fn captured_micros(captured: &[u8]) -> Option<u64> {
    let time = Timestamp::parse(captured)?;
    let seconds = u64::try_from(time.seconds).ok()?;
    Some(seconds * 1_000_000 + u64::from(time.micros))
}

/// An empty histogram with the bounds above.
fn empty() -> Option<Histogram<u64>> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, SIGNIFICANT_DIGITS).ok()
}

/// Records one delivery latency on this thread, without a lock; [`Latency::merge_deliveries`]
/// on the same thread makes it visible.
pub fn record_delivery_here(micros: u64) {
    DELIVERED_HERE.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            if slot.is_none() {
                *slot = empty();
            }
            if let Some(histogram) = slot.as_mut() {
                histogram.saturating_record(micros.max(1));
            }
        }
    });
}

/// One figure since the start, since the last statistics line and since the last heartbeat.
struct Kept {
    total: Histogram<u64>,
    interval: Histogram<u64>,
    beat: Histogram<u64>,
}

impl Kept {
    fn new() -> Option<Kept> {
        Some(Kept {
            total: empty()?,
            interval: empty()?,
            beat: empty()?,
        })
    }

    fn add(&mut self, recorded: &Histogram<u64>) {
        // Same bounds on every side: adding cannot fail.
        let _ = self.total.add(recorded);
        let _ = self.interval.add(recorded);
        let _ = self.beat.add(recorded);
    }

    fn record_n(&mut self, micros: u64, count: u64) {
        self.total.saturating_record_n(micros, count);
        self.interval.saturating_record_n(micros, count);
        self.beat.saturating_record_n(micros, count);
    }
}

/// Which interval a summary is taken for.
#[derive(Clone, Copy)]
enum Since {
    /// The last statistics line.
    Statistics,
    /// The last heartbeat.
    Heartbeat,
}

/// Percentiles of one interval's latencies, in microseconds (all 0 when nothing was recorded).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// How many latencies were recorded.
    pub count: u64,
    /// The median.
    pub p50: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The 99.9th percentile.
    pub p999: u64,
    /// The largest.
    pub max: u64,
}

impl Summary {
    /// Appends the summary as JSON object members named after `name` (`"produce_wait"`):
    /// `,"NAME_count":..,"NAME_p50_micros":..,"NAME_p99_micros":..,"NAME_p999_micros":..,
    /// "NAME_max_micros":..`, as the statistics line and the heartbeat carry them.
    pub fn write_json(&self, name: &str, out: &mut Vec<u8>) {
        let Summary {
            count,
            p50,
            p99,
            p999,
            max,
        } = self;
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            ",\"{name}_count\":{count},\"{name}_p50_micros\":{p50},\
             \"{name}_p99_micros\":{p99},\"{name}_p999_micros\":{p999},\
             \"{name}_max_micros\":{max}"
        );
    }

    fn of(histogram: &Histogram<u64>) -> Summary {
        if histogram.is_empty() {
            return Summary::default();
        }
        Summary {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.5),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

/// The two latency figures, shared by the rendering thread, librdkafka's callbacks (on the
/// same thread) and the metrics server.
pub struct Latency {
    wait: Mutex<Option<Kept>>,
    delivery: Mutex<Option<Kept>>,
}

impl Default for Latency {
    fn default() -> Latency {
        Latency {
            wait: Mutex::new(Kept::new()),
            delivery: Mutex::new(Kept::new()),
        }
    }
}

/// A histogram of microseconds converted for Prometheus: cumulative counts at `bounds`
/// (seconds), the total count and the sum in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    /// `(upper bound in seconds, count in this bucket alone)`, as prometheus-client takes them.
    pub buckets: Vec<(f64, u64)>,
    /// Every latency recorded.
    pub count: u64,
    /// Their sum in seconds (from the histogram's mean, so within its precision).
    pub sum_seconds: f64,
}

impl Latency {
    /// Records how long a batch of `records` waited since `handed_micros` (see the module
    /// documentation), once for the whole batch.
    pub fn record_wait(&self, handed_micros: u64, now_micros: u64, records: u64) {
        if records == 0 {
            return;
        }
        let waited = now_micros.saturating_sub(handed_micros).max(1);
        let mut slot = self.wait.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kept) = slot.as_mut() {
            kept.record_n(waited, records);
        }
    }

    /// Merges the delivery latencies recorded on this thread since its last merge (called
    /// after each poll and flush: once per batch, not per report).
    pub fn merge_deliveries(&self) {
        DELIVERED_HERE.with(|cell| {
            let Ok(mut here) = cell.try_borrow_mut() else {
                return;
            };
            let Some(recorded) = here.as_mut().filter(|histogram| !histogram.is_empty()) else {
                return;
            };
            let mut slot = self.delivery.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(kept) = slot.as_mut() {
                kept.add(recorded);
            }
            recorded.reset();
        });
    }

    /// The wait's and the delivery latency's percentiles since the last call, which starts a
    /// new interval (for the statistics line).
    pub fn take_interval(&self) -> (Summary, Summary) {
        let since = Since::Statistics;
        (take(&self.wait, since), take(&self.delivery, since))
    }

    /// The same since the last heartbeat (for the next one), which starts a new one.
    pub fn take_heartbeat(&self) -> (Summary, Summary) {
        let since = Since::Heartbeat;
        (take(&self.wait, since), take(&self.delivery, since))
    }

    /// The wait since the start, in Prometheus buckets at `bounds` seconds.
    pub fn wait_buckets(&self, bounds: &[f64]) -> Buckets {
        buckets(&self.wait, bounds)
    }

    /// The delivery latency since the start, in Prometheus buckets at `bounds` seconds.
    pub fn delivery_buckets(&self, bounds: &[f64]) -> Buckets {
        buckets(&self.delivery, bounds)
    }
}

fn take(kept: &Mutex<Option<Kept>>, since: Since) -> Summary {
    let mut slot = kept.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(kept) = slot.as_mut() else {
        return Summary::default();
    };
    let histogram = match since {
        Since::Statistics => &mut kept.interval,
        Since::Heartbeat => &mut kept.beat,
    };
    let summary = Summary::of(histogram);
    histogram.reset();
    summary
}

fn buckets(kept: &Mutex<Option<Kept>>, bounds: &[f64]) -> Buckets {
    let slot = kept.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(total) = slot.as_ref().map(|kept| &kept.total) else {
        return Buckets {
            buckets: Vec::new(),
            count: 0,
            sum_seconds: 0.0,
        };
    };
    let mut below = 0;
    let buckets = bounds
        .iter()
        .map(|&bound| {
            let micros = (bound * 1e6) as u64;
            let cumulative = total.count_between(0, micros).max(below);
            let alone = cumulative - below;
            below = cumulative;
            (bound, alone)
        })
        .collect();
    Buckets {
        buckets,
        count: total.len(),
        sum_seconds: total.mean() * total.len() as f64 / 1e6,
    }
}

#[cfg(test)]
mod tests {
    use super::{record_delivery_here, Latency, Summary};

    #[test]
    fn a_batch_wait_counts_every_record_once() {
        let latency = Latency::default();
        latency.record_wait(1_000_000, 1_002_000, 512);
        latency.record_wait(1_000_000, 1_500_000, 1);
        let buckets = latency.wait_buckets(&[0.001, 0.01, 1.0]);
        assert_eq!(buckets.buckets, vec![(0.001, 0), (0.01, 512), (1.0, 1)]);
        assert_eq!(buckets.count, 513);
        let expected = 512.0 * 0.002 + 0.5;
        assert!(
            (buckets.sum_seconds - expected).abs() < expected * 0.01,
            "{}",
            buckets.sum_seconds
        );
        let (wait, delivery) = latency.take_interval();
        assert_eq!((wait.count, delivery), (513, Summary::default()));
        assert!(wait.p50 >= 1_990 && wait.p50 <= 2_010, "{wait:?}");
        assert!(wait.max >= 495_000 && wait.max <= 505_000, "{wait:?}");
        let (again, _) = latency.take_interval();
        assert_eq!(again, Summary::default(), "a new interval starts empty");
        assert_eq!(latency.wait_buckets(&[1.0]).count, 513, "the total stays");
        let (beat, _) = latency.take_heartbeat();
        assert_eq!(beat.count, 513, "the heartbeat's interval is its own");
        assert_eq!(latency.take_heartbeat().0, Summary::default());
    }

    #[test]
    fn the_end_plan_captures_a_timestamp_that_reads_back_in_microseconds() {
        let plan = super::end_plan();
        assert_eq!(plan.field_names().count(), 1);
        assert_eq!(
            super::captured_micros(b"1764880000.123456"),
            Some(1_764_880_000_123_456)
        );
        assert_eq!(super::captured_micros(b"-5.0"), None, "before the epoch");
        assert_eq!(super::captured_micros(b"soon"), None);
    }

    #[test]
    fn deliveries_recorded_on_a_thread_are_seen_once_merged() {
        let latency = Latency::default();
        for micros in [100, 200, 300] {
            record_delivery_here(micros);
        }
        assert_eq!(latency.delivery_buckets(&[1.0]).count, 0, "not merged yet");
        latency.merge_deliveries();
        latency.merge_deliveries();
        let buckets = latency.delivery_buckets(&[0.00025, 1.0]);
        assert_eq!(buckets.count, 3, "merged once");
        assert_eq!(buckets.buckets, vec![(0.00025, 2), (1.0, 1)]);
        let (_, delivery) = latency.take_interval();
        assert_eq!(delivery.count, 3);
        assert!(delivery.max >= 299 && delivery.max <= 303, "{delivery:?}");
    }
}
