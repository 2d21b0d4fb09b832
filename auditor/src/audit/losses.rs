//! The loss arithmetic of one run: the range of numbers it should have delivered, and each
//! missing number placed in an hour by the times of its neighbours.
//!
//! The expected range is what arrived, widened by what the heartbeats say was assigned: the
//! run-start heartbeat's `sequence_start` below, every `sequence_last` above, so loss after the
//! last record that arrived is seen. A missing number gets the time interpolated between the
//! known (number, time) points around it: the ends of the spans of present numbers, the
//! heartbeat anchors and the run start.

use std::collections::BTreeMap;

use super::config::Window;
use super::state::RunState;
use crate::intervals::Span;
use crate::time::hour_of;

/// How many numbers of a run went missing in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HourLoss {
    pub(crate) hour: i64,
    pub(crate) lost: u64,
}

/// The numbers `first..=last`, wide enough for one before 0 and one past `u64::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Numbers {
    first: i128,
    last: i128,
}

/// A known (number, time) point that places missing numbers: the time to use when it is the
/// upper neighbour (`below`) and when it is the lower one (`above`). They differ for heartbeat
/// anchors: a reported last number was assigned by the first report of it, and the next number
/// after the last report of it.
#[derive(Debug, Clone, Copy)]
struct Point {
    number: i128,
    below: i64,
    above: i64,
}

impl Point {
    fn at(number: i128, time: i64) -> Self {
        Self {
            number,
            below: time,
            above: time,
        }
    }
}

/// Missing numbers of a run, counted per hour of the window, sorted by hour.
pub(crate) fn losses(run: &RunState, window: Window) -> Vec<HourLoss> {
    let spans: Vec<Span> = run.present.spans();
    let Some(expected) = expected_range(run, &spans) else {
        return Vec::new();
    };
    let points = known_points(run, &spans);
    let mut placer = Placer {
        points: &points,
        window,
        lost: BTreeMap::new(),
    };
    let mut next = expected.first;
    for s in &spans {
        let start = i128::from(s.start);
        if start > next {
            placer.place_gap(Numbers {
                first: next,
                last: start - 1,
            });
        }
        next = next.max(i128::from(s.end) + 1);
    }
    if next <= expected.last {
        placer.place_gap(Numbers {
            first: next,
            last: expected.last,
        });
    }
    placer
        .lost
        .into_iter()
        .map(|(hour, lost)| HourLoss { hour, lost })
        .collect()
}

/// The expected range: what arrived, widened by what the heartbeats say was assigned. `None`
/// when nothing bounds it from both sides.
fn expected_range(run: &RunState, spans: &[Span]) -> Option<Numbers> {
    let mut low: Option<i128> = spans.first().map(|s| i128::from(s.start));
    let mut high: Option<i128> = spans.last().map(|s| i128::from(s.end));
    for anchor in run.hours.iter().flat_map(|h| [h.low, h.high]).flatten() {
        let next = i128::from(anchor.last) + 1;
        low = Some(low.map_or(next, |l| l.min(next)));
        high = Some(high.map_or(i128::from(anchor.last), |h| h.max(i128::from(anchor.last))));
    }
    if let Some(start) = run.start {
        let start = i128::from(start.sequence_start);
        low = Some(low.map_or(start, |l| l.min(start)));
    }
    Some(Numbers {
        first: low?,
        last: high?,
    })
}

/// The points that place missing numbers, sorted by number, one per number (merged points
/// keep the earliest `below` and the latest `above`).
fn known_points(run: &RunState, spans: &[Span]) -> Vec<Point> {
    let mut points: Vec<Point> = Vec::with_capacity(spans.len() * 2 + run.hours.len() * 2 + 1);
    for s in spans {
        points.push(Point::at(i128::from(s.start), s.start_time));
        points.push(Point::at(i128::from(s.end), s.end_time));
    }
    for anchor in run.hours.iter().flat_map(|h| [h.low, h.high]).flatten() {
        points.push(Point {
            number: i128::from(anchor.last),
            below: anchor.first_time,
            above: anchor.last_time,
        });
    }
    if let Some(start) = run.start {
        points.push(Point::at(i128::from(start.sequence_start) - 1, start.time));
    }
    points.sort_by_key(|p| p.number);
    points.dedup_by(|later, kept| {
        if later.number == kept.number {
            kept.below = kept.below.min(later.below);
            kept.above = kept.above.max(later.above);
            true
        } else {
            false
        }
    });
    points
}

/// Counts missing numbers into the hours of the window.
struct Placer<'a> {
    points: &'a [Point],
    window: Window,
    lost: BTreeMap<i64, u64>,
}

impl Placer<'_> {
    /// Places the missing numbers of `gap` in hours by interpolating the time between the
    /// known points around (and inside) the gap.
    fn place_gap(&mut self, gap: Numbers) {
        let first_at_or_after = self.points.partition_point(|p| p.number < gap.first);
        let Some(mut lower) = first_at_or_after.checked_sub(1).map(|i| self.points[i]) else {
            return;
        };
        let mut next = first_at_or_after;
        let mut start = gap.first;
        while start <= gap.last {
            let upper = self.points.get(next).copied().unwrap_or(lower);
            let end = if upper.number >= start {
                upper.number.min(gap.last)
            } else {
                gap.last
            };
            self.place_segment(
                lower,
                upper,
                Numbers {
                    first: start,
                    last: end,
                },
            );
            start = end + 1;
            lower = upper;
            next += 1;
        }
    }

    /// Counts the `numbers`, which lie between the points `lower` and `upper`, into hours. The
    /// interpolated time is monotonic in the number, so the numbers of one hour are contiguous
    /// and each hour's share is found by binary search rather than number by number.
    fn place_segment(&mut self, lower: Point, upper: Point, numbers: Numbers) {
        let (t1, t2) = (i128::from(lower.above), i128::from(upper.below));
        let span = upper.number - lower.number;
        let time = |n: i128| -> i64 {
            if span <= 0 {
                return lower.above;
            }
            (t1 + ((t2 - t1) * (n - lower.number)).div_euclid(span)) as i64
        };
        // Outside the window maps to sentinels that sort before and after every hour.
        let window = self.window;
        let bucket = |n: i128| -> i64 {
            let t = time(n);
            if window.from.is_some_and(|f| t < f) {
                i64::MIN
            } else if window.to.is_some_and(|e| t >= e) {
                i64::MAX
            } else {
                hour_of(t)
            }
        };
        let mut n = numbers.first;
        while n <= numbers.last {
            let b = bucket(n);
            let (mut lo, mut hi) = (n, numbers.last);
            while lo < hi {
                let mid = lo + (hi - lo + 1) / 2;
                if bucket(mid) == b {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            if b != i64::MIN && b != i64::MAX {
                let missing = self.lost.entry(b).or_default();
                *missing = missing.saturating_add(((lo - n) as u64).saturating_add(1));
            }
            n = lo + 1;
        }
    }
}
