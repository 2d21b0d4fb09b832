//! Silence: hours in which a host, or a whole topic, that had sent heartbeats before sent
//! nothing at all.
//!
//! Liveness is kept per topic as bits of a mask (at most 64 topics): a host is silent in a
//! topic from the hour after its first heartbeat there, in every hour with no event of its in
//! that topic inside the window.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use super::config::HourSpan;
use super::runs::Runs;
use super::state::{topic_bit, HourStats};

/// Topics (bits) seen in one hour.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    /// Topics with an event inside the window.
    alive: u64,
    /// Topics with a heartbeat, inside the window or not.
    heartbeat: u64,
}

impl Seen {
    /// Adds the topics of a run's hour.
    fn add(&mut self, stats: &HourStats) {
        self.alive |= stats.topics_alive;
        self.heartbeat |= stats.topics_heartbeat;
    }
}

/// What one host did in one hour.
#[derive(Debug, Clone, Copy)]
struct HostHour {
    seen: Seen,
    /// The latest run (by id) the host was seen with in this hour.
    run: u32,
}

/// An hour in which a host or a topic was silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Silence {
    pub(crate) hour: i64,
    /// The silent host's index; `None` when the whole topic was silent.
    pub(crate) host: Option<u32>,
    /// The run the host was last heard from in this topic, by id.
    pub(crate) run: Option<u32>,
    /// The topic's index.
    pub(crate) topic: u16,
}

/// Per host and per topic, which hours had events and heartbeats.
#[derive(Debug, Default)]
pub(crate) struct Liveness {
    hosts: BTreeMap<u32, BTreeMap<i64, HostHour>>,
    /// All hosts together.
    topics: BTreeMap<i64, Seen>,
}

impl Liveness {
    /// The liveness of every run not forgotten.
    pub(crate) fn of(runs: &Runs) -> Self {
        let mut liveness = Self::default();
        for (id, run) in runs.live() {
            let host = liveness.hosts.entry(run.host).or_default();
            for stats in &run.hours {
                let e = host.entry(stats.hour).or_insert(HostHour {
                    seen: Seen::default(),
                    run: id,
                });
                e.seen.add(stats);
                e.run = id;
                liveness.topics.entry(stats.hour).or_default().add(stats);
            }
        }
        liveness
    }

    /// Hours of `span` in which a host was silent in one of the first `topic_count` topics, by
    /// host, topic and hour.
    pub(crate) fn silent_hosts(&self, topic_count: usize, span: HourSpan) -> Vec<Silence> {
        let mut out = Vec::new();
        for (&host, hours) in &self.hosts {
            for topic in 0..topic_count as u16 {
                let bit = topic_bit(topic);
                let Some(watched) = watched(hours.iter().map(|(h, v)| (h, v.seen)), bit, span)
                else {
                    continue;
                };
                for hour in watched {
                    if hours.get(&hour).is_some_and(|v| v.seen.alive & bit != 0) {
                        continue;
                    }
                    // Name the run the host was last heard from in this topic.
                    let run = hours
                        .range(..hour)
                        .rev()
                        .find(|(_, v)| (v.seen.alive | v.seen.heartbeat) & bit != 0)
                        .map(|(_, v)| v.run);
                    out.push(Silence {
                        hour,
                        host: Some(host),
                        run,
                        topic,
                    });
                }
            }
        }
        out
    }

    /// Hours of `span` in which one of the first `topic_count` topics had no event of any
    /// host, after its first heartbeat, by topic and hour.
    pub(crate) fn silent_topics(&self, topic_count: usize, span: HourSpan) -> Vec<Silence> {
        let mut out = Vec::new();
        for topic in 0..topic_count as u16 {
            let bit = topic_bit(topic);
            let Some(watched) = watched(self.topics.iter().map(|(h, v)| (h, *v)), bit, span) else {
                continue;
            };
            for hour in watched {
                if self.topics.get(&hour).is_none_or(|v| v.alive & bit == 0) {
                    out.push(Silence {
                        hour,
                        host: None,
                        run: None,
                        topic,
                    });
                }
            }
        }
        out
    }
}

/// The hours of `span` after the first hour in which the topic of `bit` had a heartbeat: the
/// hours in which silence counts.
fn watched<'a>(
    mut hours: impl Iterator<Item = (&'a i64, Seen)>,
    bit: u64,
    span: HourSpan,
) -> Option<RangeInclusive<i64>> {
    let since = hours
        .find(|(_, seen)| seen.heartbeat & bit != 0)
        .map(|(&hour, _)| hour)?;
    Some((since + 1).max(span.first)..=span.last)
}
