//! What the examples that read a topic back share (`consume`, `outage-tally`): the options
//! that name it, and opening testkit's independent reader on it.

use anyhow::{bail, Context as _};
use edgeship_testkit::topic::TopicReader;

/// Where the topic is, and how long reading it to its end may take.
#[derive(Debug, clap::Args)]
pub(crate) struct TopicOptions {
    /// bootstrap.servers
    #[arg(long, value_name = "HOST:PORT,...")]
    pub(crate) brokers: String,
    /// The topic to read, from its first offset to its end at the time of reading.
    #[arg(long)]
    pub(crate) topic: String,
    /// Give up if the end is not reached within this many seconds.
    #[arg(long, default_value_t = 60)]
    pub(crate) timeout: u64,
}

impl TopicOptions {
    /// A reader of every partition from its first offset, as consumer group `group`; a
    /// topic the broker does not know (no partitions) is an error.
    pub(crate) fn open(&self, group: &str) -> anyhow::Result<TopicReader> {
        let reader = TopicReader::open(&self.brokers, &self.topic, group)
            .context("creating the consumer")?;
        if reader.partitions() == 0 {
            bail!("topic {} has no partitions (does it exist?)", self.topic);
        }
        Ok(reader)
    }
}
