//! The handles every thread of the daemon shares: the counters, the log and the statistics
//! file, travelling together as one [`Shared`] behind one `Arc`.

use std::sync::atomic::AtomicU64;

use anyhow::Context as _;
use edgeship_conf::Config;

use crate::counters::Counters;
use crate::log::Log;
use crate::stats::StatsFile;

/// What the reader thread, the rendering thread and librdkafka's callbacks all report into.
pub struct Shared {
    /// Every counter the heartbeat and the statistics file report.
    pub counters: Counters,
    /// The daemon's rate-limited log.
    pub log: Log,
    /// The statistics file (disabled when statistics are off).
    pub stats: StatsFile,
}

impl Shared {
    /// Fresh counters, `log`, and the statistics file `config` asks for, opened now: an
    /// operator who asked for statistics learns at start-up that they cannot be written.
    pub fn open(config: &Config, log: Log) -> anyhow::Result<Shared> {
        let statistics = &config.statistics;
        let path = statistics.interval.map(|_| statistics.file.clone());
        let stats = StatsFile::open(path).with_context(|| {
            format!(
                "cannot open the statistics file {}",
                statistics.file.display()
            )
        })?;
        Ok(Shared {
            counters: Counters::default(),
            log,
            stats,
        })
    }

    /// One loss, recorded once: `counter` (which reaches the heartbeat and the statistics
    /// file) grows by one and `message` is logged as an error of `kind`, rate-limited.
    pub fn count_loss(&self, counter: &AtomicU64, kind: &'static str, message: &str) {
        Counters::add(counter, 1);
        self.log.error(kind, message);
    }

    /// Reopens the statistics file (after SIGHUP); a failure is logged and statistics keep
    /// going to the file already open.
    pub fn reopen_statistics(&self) {
        if let Err(error) = self.stats.reopen() {
            self.log.error(
                "statistics",
                &format!("cannot reopen the statistics file: {error}"),
            );
        }
    }
}
