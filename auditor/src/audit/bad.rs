//! Bad input: per reason, how many lines and where the first one was, by the names of the
//! sources the lines came from.

use std::collections::BTreeMap;

use super::config::Origin;
use crate::report::{BadCount, BadReason};

/// How many lines one reason rejected, and the place of the first.
#[derive(Debug, Clone, Copy)]
struct Tally {
    count: u64,
    /// [`Origin::source`] of the first line.
    source: u32,
    /// [`Origin::position`] of the first line.
    position: u64,
}

/// The inputs' names and the bad lines counted per reason.
#[derive(Debug, Default, Clone)]
pub(crate) struct BadInput {
    /// Names of the inputs (a file name, `topic[partition]`), indexed by [`Origin::source`].
    sources: Vec<String>,
    counts: BTreeMap<BadReason, Tally>,
}

impl BadInput {
    /// Registers an input and returns its index for [`Origin::source`].
    pub(crate) fn add_source(&mut self, name: String) -> u32 {
        self.sources.push(name);
        (self.sources.len() - 1) as u32
    }

    /// Counts one bad line.
    pub(crate) fn count(&mut self, reason: BadReason, origin: &Origin) {
        let tally = self.counts.entry(reason).or_insert(Tally {
            count: 0,
            source: origin.source,
            position: origin.position,
        });
        tally.count += 1;
    }

    /// The counts in report order, each naming its first line as `source:position`.
    pub(crate) fn counts(&self) -> Vec<BadCount> {
        self.counts
            .iter()
            .map(|(&reason, tally)| BadCount {
                reason,
                count: tally.count,
                first_at: format!(
                    "{}:{}",
                    self.sources
                        .get(tally.source as usize)
                        .map_or("?", String::as_str),
                    tally.position
                ),
            })
            .collect()
    }
}
