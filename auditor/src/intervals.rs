//! The set of sequence numbers seen in one run, kept as disjoint intervals.
//!
//! Memory grows with the number of gaps, not with the number of records: a run delivered
//! without loss is one interval however long it is. Each interval remembers the times of its
//! first and last numbers, which are the neighbours the audit uses to place missing numbers in
//! an hour. Records usually arrive in order, so the interval being extended (the "hot" one) is
//! kept outside the tree and extended in place; the tree is touched only at gaps, duplicates
//! and out-of-order arrivals.

use std::collections::BTreeMap;

/// A maximal run of present sequence numbers, with the times of its two ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First number present.
    pub start: u64,
    /// Last number present (inclusive).
    pub end: u64,
    /// Time (seconds) of the record numbered `start`.
    pub start_time: i64,
    /// Time (seconds) of the record numbered `end`.
    pub end_time: i64,
}

/// Disjoint, non-adjacent spans of present numbers.
#[derive(Debug, Default, Clone)]
pub struct IntervalSet {
    /// Spans keyed by their start, except the hot one.
    spans: BTreeMap<u64, Span>,
    /// The span that in-order arrivals extend; never also in `spans`.
    hot: Option<Span>,
    /// Start of the first span in `spans` above `hot`, `u64::MAX` when there is none (a span
    /// starting at `u64::MAX` is then simply found by the slow path).
    hot_next: u64,
}

impl IntervalSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `number` seen at `time`; returns `false` when it was already present (a duplicate).
    #[inline]
    pub fn insert(&mut self, number: u64, time: i64) -> bool {
        if let Some(hot) = &mut self.hot {
            if hot.end != u64::MAX && number == hot.end + 1 {
                hot.end = number;
                hot.end_time = time;
                if number != u64::MAX && number + 1 == self.hot_next {
                    self.merge_hot_with_next();
                }
                return true;
            }
            if number >= hot.start && number <= hot.end {
                return false;
            }
        }
        self.insert_slow(number, time)
    }

    fn merge_hot_with_next(&mut self) {
        if let (Some(hot), Some(next)) = (&mut self.hot, self.spans.remove(&self.hot_next)) {
            hot.end = next.end;
            hot.end_time = next.end_time;
            self.hot_next = Self::next_start(&self.spans, hot.end);
        }
    }

    fn next_start(spans: &BTreeMap<u64, Span>, end: u64) -> u64 {
        if end == u64::MAX {
            return u64::MAX;
        }
        spans
            .range(end + 1..)
            .next()
            .map_or(u64::MAX, |(&start, _)| start)
    }

    fn insert_slow(&mut self, number: u64, time: i64) -> bool {
        let before = self.spans.range(..=number).next_back().map(|(_, s)| *s);
        if before.is_some_and(|s| number <= s.end) {
            return false;
        }
        if let Some(hot) = self.hot.take() {
            self.spans.insert(hot.start, hot);
        }
        // The hot span may have been the predecessor or successor; look again with it flushed.
        let before = self.spans.range(..number).next_back().map(|(_, s)| *s);
        let after = if number == u64::MAX {
            None
        } else {
            self.spans.range(number + 1..).next().map(|(_, s)| *s)
        };
        let mut span = Span {
            start: number,
            end: number,
            start_time: time,
            end_time: time,
        };
        if let Some(b) = before.filter(|b| b.end + 1 == number) {
            self.spans.remove(&b.start);
            span.start = b.start;
            span.start_time = b.start_time;
        }
        if let Some(a) = after.filter(|a| a.start == number + 1) {
            self.spans.remove(&a.start);
            span.end = a.end;
            span.end_time = a.end_time;
        }
        self.hot_next = Self::next_start(&self.spans, span.end);
        self.hot = Some(span);
        true
    }

    /// The spans in increasing order.
    pub fn spans(&self) -> Vec<Span> {
        let mut all: Vec<Span> = self.spans.values().copied().collect();
        if let Some(hot) = self.hot {
            let at = all.partition_point(|s| s.start < hot.start);
            all.insert(at, hot);
        }
        all
    }

    /// Number of spans (one more than the number of inner gaps).
    pub fn span_count(&self) -> usize {
        self.spans.len() + usize::from(self.hot.is_some())
    }

    /// Whether `number` is present.
    pub fn contains(&self, number: u64) -> bool {
        if self
            .hot
            .is_some_and(|h| number >= h.start && number <= h.end)
        {
            return true;
        }
        self.spans
            .range(..=number)
            .next_back()
            .is_some_and(|(_, s)| number <= s.end)
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.hot.is_none() && self.spans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference model: the plain set of numbers.
    fn check(order: &[u64]) {
        let mut set = IntervalSet::new();
        let mut model = std::collections::BTreeSet::new();
        for &n in order {
            assert_eq!(set.insert(n, n as i64 * 10), model.insert(n), "insert {n}");
        }
        let spans = set.spans();
        let mut expected: Vec<(u64, u64)> = Vec::new();
        for &n in &model {
            match expected.last_mut() {
                Some((_, end)) if *end + 1 == n => *end = n,
                _ => expected.push((n, n)),
            }
        }
        let got: Vec<(u64, u64)> = spans.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(got, expected, "order {order:?}");
        for s in spans {
            assert_eq!(s.start_time, s.start as i64 * 10);
            assert_eq!(s.end_time, s.end as i64 * 10);
        }
    }

    #[test]
    fn in_order_is_one_span() {
        let order: Vec<u64> = (0..1000).collect();
        check(&order);
        let mut set = IntervalSet::new();
        for n in 0..1000 {
            set.insert(n, 0);
        }
        assert_eq!(set.span_count(), 1);
    }

    #[test]
    fn gaps_duplicates_and_reordering_match_a_plain_set() {
        check(&[5, 6, 7, 1, 2, 3, 4, 9, 8, 8, 0, 0, 20, 19, 21, 18, 10]);
        check(&[3, 1, 2, 2, 3, 1]);
        check(&[u64::MAX, u64::MAX - 1, u64::MAX, 0]);
        // A pseudo-random permutation with repeats, checked against the model.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut order = Vec::new();
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            order.push(x % 700);
        }
        check(&order);
    }
}
