//! Kafka input: a window of one or more datacenter topics, read by time or by offsets, alone or
//! as one member of a consumer group that splits the partitions.
//!
//! Positioning uses offsets-for-times because time, unlike offsets, means the same in every
//! datacenter. Reading starts `grace` seconds before the window and stops `grace` seconds after
//! it, so that records stamped inside the window but produced a little outside it are still
//! seen; the audit counts those outer ones only as present (see [`crate::audit::Config`]).
//!
//! A partition is finished at an explicit end offset, at the first message stamped after the
//! window (plus grace), or once it is caught up: its position has reached the high watermark
//! and no message came for [`IDLE`]. The idle wait is what makes the end robust against
//! brokers whose watermarks lag (tansu 0.6 reports the last batch's base offset + 1, and
//! answers every offsets-for-times request with the first offset, which only makes reading
//! start earlier: records before the window then count as present, never as rows).
//!
//! In a consumer group, a partition is reported by the member that read it to the end of the
//! window: that member commits its position with a marker naming the window (as commit
//! metadata), and a member that is later given the partition finds the commit and skips it. A
//! member that loses a partition before finishing it forgets what it read from it. So however
//! the group rebalances, and even when one member finishes before another joins, every host is
//! reported exactly once.
//!
//! The parts: `options` says what to read, `placement` finds where each partition starts,
//! `consume` is the reading loop both modes share, and `alone` and `group` are the two modes.

mod alone;
mod consume;
mod error;
mod group;
mod options;
mod placement;

pub use consume::{KafkaStats, IDLE};
pub use error::KafkaError;
pub use options::{KafkaOptions, OffsetRange, Property};

use crate::audit::Auditor;

/// Reads the stream into `auditor` (whose topics must be `options.topics`, in order), calling
/// `progress` with the number of messages read now and then.
pub fn read(
    auditor: &mut Auditor,
    options: &KafkaOptions,
    mut progress: impl FnMut(u64),
) -> Result<KafkaStats, KafkaError> {
    if options.topics.len() > 64 {
        return Err(KafkaError::TooManyTopics);
    }
    for range in &options.offsets {
        if !options.topics.contains(&range.topic) {
            return Err(KafkaError::OffsetsTopic(range.topic.clone()));
        }
    }
    match &options.group {
        Some(group) => group::read_group(auditor, options, group, &mut progress),
        None => alone::read_alone(auditor, options, &mut progress),
    }
}
