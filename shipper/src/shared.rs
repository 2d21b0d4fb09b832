//! The handles every thread of the daemon shares: the counters, the log and the statistics
//! file, travelling together as one [`Shared`] behind one `Arc`.

use std::sync::atomic::AtomicU64;

use anyhow::Context as _;
use edgeship_conf::Config;

use crate::counters::Counters;
use crate::done::DoneMarks;
use crate::kafka_figures::KafkaFigures;
use crate::latency::Latency;
use crate::log::Log;
use crate::progress::Progress;
use crate::stats::StatsFile;

/// What the reader thread, the rendering thread and librdkafka's callbacks all report into.
pub struct Shared {
    /// Every counter the heartbeat and the statistics file report.
    pub counters: Counters,
    /// The daemon's rate-limited log.
    pub log: Log,
    /// The statistics file (disabled when statistics are off).
    pub stats: StatsFile,
    /// The latency histograms (the wait before produce, the delivery latency).
    pub latency: Latency,
    /// The next sequence number and the last delivery's time, for the metrics server.
    pub progress: Progress,
    /// The figures of librdkafka's last statistics (queue, brokers), for the metrics server.
    pub kafka: KafkaFigures,
    /// The marks of records the output is done with, by sequence number, when a restart
    /// checkpoint is kept (`edgeship.state.dir`); `None` otherwise, and nothing marks.
    pub done: Option<DoneMarks>,
}

impl Shared {
    /// Fresh counters, `log`, and the statistics file `config` asks for, opened now: an
    /// operator who asked for statistics learns at start-up that they cannot be written.
    pub fn open(config: &Config, log: Log) -> anyhow::Result<Shared> {
        let statistics = &config.statistics;
        let path = statistics.interval.and(statistics.file.clone());
        let shown = path
            .as_deref()
            .unwrap_or(std::path::Path::new(""))
            .display();
        let stats = StatsFile::open(path.clone())
            .with_context(|| format!("cannot open the statistics file {shown}"))?;
        Ok(Shared {
            counters: Counters::default(),
            log,
            stats,
            latency: Latency::default(),
            progress: Progress::default(),
            kafka: KafkaFigures::default(),
            done: config
                .edgeship
                .state_dir
                .as_ref()
                .map(|_| DoneMarks::default()),
        })
    }

    /// Writes the statistics file's lines for one interval; a failure (a full disk must not
    /// stop the shipper) is counted and logged, and the next interval tries again.
    pub fn write_statistics(&self, unix_seconds: u64, next_sequence: u64) {
        let counters = self.counters.snapshot();
        let latency = self.latency.take_interval();
        let written = self
            .stats
            .write_interval(unix_seconds, next_sequence, &counters, latency);
        self.statistics_written(written);
    }

    /// Writes one librdkafka statistics object, a failure counted and logged likewise, and
    /// keeps its figures for the metrics server.
    pub fn write_kafka_statistics(&self, statistics: &[u8]) {
        self.kafka.update(statistics);
        self.statistics_written(self.stats.write_kafka(statistics));
    }

    fn statistics_written(&self, written: std::io::Result<()>) {
        if let Err(error) = written {
            let counter = &self.counters.statistics_write_errors;
            self.log.counted_error("statistics", counter, 1, |total| {
                format!("cannot write the statistics file: {error} ({total} failed writes so far)")
            });
        }
    }

    /// One loss, recorded once: `counter` (which reaches the heartbeat and the statistics
    /// file) grows by one and `message` is logged as an error of `kind`, rate-limited.
    pub fn count_loss(&self, counter: &AtomicU64, kind: &'static str, message: &str) {
        self.log
            .counted_error(kind, counter, 1, |_| message.to_string());
    }

    /// Marks the record numbered `sequence` done, when done records are tracked.
    #[inline]
    pub fn mark_done(&self, sequence: u64) {
        if let Some(marks) = &self.done {
            marks.mark(sequence);
        }
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
