//! The pipeline: the reader thread fills batches; this thread numbers, renders, keys and
//! outputs them, and keeps time for heartbeats and statistics.
//!
//! Ordering: batches arrive in reading order over one channel and are consumed by this one
//! thread, so sequence numbers follow the order Varnish completed transactions, per host,
//! and are assigned before output, as varnishkafka assigned them.
//!
//! Shutdown: on the first SIGTERM/SIGINT the reader stops and sends what it has; this thread
//! drains the channel, flushes the producer for up to the message timeout, counts what is
//! still undelivered, writes the final heartbeat and statistics, and returns. A second signal
//! exits at once (see `signals`). The producer is never dropped unflushed.

use std::io::{BufWriter, Stdout, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use crossbeam_channel::RecvTimeoutError;
use edgeship_conf::{Config, FormatType, Output};
use edgeship_formats::{Capturer, Context, RenderStats, Renderer};

use crate::batch::Batch;
use crate::counters::Counters;
use crate::heartbeat::{self, Beat};
use crate::identity;
use crate::kafka::KafkaSink;
use crate::log::Log;
use crate::reader::ReaderThread;
use crate::stats::StatsFile;

/// Batches in flight between the reader and this thread. Small: the bound is what turns a slow
/// output into back-pressure on the reader rather than memory growth.
const CHANNEL_BATCHES: usize = 8;
/// How often this thread wakes without input, to serve delivery reports and timers.
const TICK: Duration = Duration::from_millis(100);

/// Where rendered records go.
enum Sink {
    Kafka(KafkaSink),
    Stdout(BufWriter<Stdout>),
    Null,
}

/// Signals the pipeline watches, set by the signal handlers.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// SIGTERM or SIGINT: shut down cleanly.
    pub terminate: Arc<AtomicBool>,
    /// SIGHUP: reopen the statistics file.
    pub reopen: Arc<AtomicBool>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// End of the input file, or a signal: everything flushed (or counted as undelivered).
    Clean,
    /// The producer hit a fatal error, or the reader failed; the process should exit non-zero.
    Failed,
}

/// Runs the pipeline until the input ends or a signal arrives.
pub fn run(
    config: &Config,
    mut reader_options: edgeship_varnishlog::Options,
    flags: &Flags,
    log: Arc<Log>,
) -> anyhow::Result<Ending> {
    let plans = &config.plans;
    for warning in plans.record.warnings().iter().chain(plans.key.warnings()) {
        log.notice(&format!(
            "{}:{}: {warning}",
            config.source,
            config.format.line.unwrap_or(0)
        ));
    }
    let started = SystemTime::now();
    let counters = Arc::new(Counters::default());
    let stats_path = config
        .statistics
        .interval
        .map(|_| config.statistics.file.clone());
    let stats = Arc::new(StatsFile::open(stats_path).with_context(|| {
        format!(
            "cannot open the statistics file {}",
            config.statistics.file.display()
        )
    })?);
    let sink = match config.output {
        Output::Kafka => Sink::Kafka(
            KafkaSink::new(
                config,
                Arc::clone(&counters),
                Arc::clone(&log),
                Arc::clone(&stats),
            )
            .map_err(|errors| anyhow::anyhow!(join(&errors)))?,
        ),
        Output::Stdout => Sink::Stdout(BufWriter::with_capacity(1 << 16, std::io::stdout())),
        Output::Null => Sink::Null,
    };
    let hostname = identity::hostname(config.edgeship.hostname.as_ref().map(|h| h.value.as_str()));
    let run = identity::run_identifier(started);
    let sequence_start = config.sequence_start.start_value(started);
    log.info(&format!(
        "edgeship {} starting: host {hostname}, run {run}, sequence from {sequence_start}",
        env!("CARGO_PKG_VERSION")
    ));

    let (full_tx, full_rx) = crossbeam_channel::bounded::<Batch>(CHANNEL_BATCHES);
    let (empty_tx, empty_rx) = crossbeam_channel::bounded::<Batch>(CHANNEL_BATCHES + 2);
    let stop_reader = Arc::new(AtomicBool::new(false));
    // The reader thread captures both formats' fields in one pass; the key's come after the
    // record's.
    let capturer = Capturer::new(&[&plans.record, &plans.key]);
    let key_fields = capturer.first_field(1);
    // The reader keeps only the records the formats read.
    reader_options.only_tags = Some(capturer.tags());
    let reader = ReaderThread::start(
        reader_options,
        capturer,
        full_tx,
        empty_rx,
        Arc::clone(&stop_reader),
        Arc::clone(&counters),
        Arc::clone(&log),
    )?;

    let mut shipper = Shipper {
        renderer: Renderer::new(plans.record.clone()),
        key_renderer: Renderer::new(plans.key.clone()),
        key_fields,
        json: config.format_type == FormatType::Json,
        sink,
        counters: Arc::clone(&counters),
        hostname,
        run,
        sequence_start,
        next_sequence: sequence_start,
        record: Vec::with_capacity(8192),
        key: Vec::with_capacity(256),
        log: Arc::clone(&log),
    };
    shipper.heartbeat(false)?;

    let heartbeat_every = config.edgeship.heartbeat_interval;
    let mut next_heartbeat = Instant::now() + heartbeat_every;
    let mut next_stats = config
        .statistics
        .interval
        .map(|interval| Instant::now() + interval);
    let mut ending = Ending::Clean;
    loop {
        match full_rx.recv_timeout(TICK) {
            Ok(mut batch) => {
                shipper.ship(&batch)?;
                batch.clear();
                // If the reader already has enough empty batches this one is simply freed.
                let _ = empty_tx.try_send(batch);
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The reader is done (end of file, or it stopped after a signal) and everything it
            // read has been shipped.
            Err(RecvTimeoutError::Disconnected) => break,
        }
        shipper.poll();
        let now = Instant::now();
        if now >= next_heartbeat {
            shipper.heartbeat(false)?;
            next_heartbeat = now + heartbeat_every;
        }
        if let (Some(due), Some(interval)) = (next_stats, config.statistics.interval) {
            if now >= due {
                stats.write_interval(unix_now(), shipper.next_sequence, &counters.snapshot());
                next_stats = Some(now + interval);
            }
        }
        if flags.reopen.swap(false, Ordering::Relaxed) {
            if let Err(error) = stats.reopen() {
                log.error(
                    "statistics",
                    &format!("cannot reopen the statistics file: {error}"),
                );
            }
        }
        if shipper.is_fatal() && ending == Ending::Clean {
            log.error(
                "kafka-fatal",
                "stopping: the producer cannot continue after a fatal error",
            );
            ending = Ending::Failed;
            stop_reader.store(true, Ordering::Relaxed);
        }
        if flags.terminate.load(Ordering::Relaxed) && !stop_reader.load(Ordering::Relaxed) {
            log.info("signal received: stopping the reader, then flushing");
            stop_reader.store(true, Ordering::Relaxed);
        }
    }
    if let Err(error) = reader.join() {
        log.error("reader", &format!("{error:#}"));
        ending = Ending::Failed;
    }

    let undelivered = shipper.flush();
    Counters::add(&counters.undelivered_at_exit, undelivered as u64);
    if undelivered > 0 {
        log.error(
            "shutdown",
            &format!("{undelivered} records were still undelivered when the flush timed out"),
        );
    }
    // The final heartbeat reports the flushed state; then it is flushed itself.
    shipper.heartbeat(true)?;
    shipper.flush();
    stats.write_interval(unix_now(), shipper.next_sequence, &counters.snapshot());
    let totals = counters.snapshot();
    log.info(&format!(
        "stopped: {} records rendered, {} produced, {} delivered, {} undelivered",
        totals.records_rendered, totals.records_produced, totals.records_delivered, undelivered
    ));
    Ok(ending)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn join(errors: &[edgeship_conf::LineError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rendering side's state.
struct Shipper {
    renderer: Renderer,
    key_renderer: Renderer,
    /// Where the key format's fields start among a batch transaction's values.
    key_fields: usize,
    json: bool,
    sink: Sink,
    counters: Arc<Counters>,
    hostname: String,
    run: String,
    sequence_start: u64,
    next_sequence: u64,
    /// Reused for every record.
    record: Vec<u8>,
    /// Reused for every key.
    key: Vec<u8>,
    log: Arc<Log>,
}

impl Shipper {
    // hot path: everything here runs per record; it allocates nothing once the buffers have
    // grown, and touches the shared counters once per batch.
    fn ship(&mut self, batch: &Batch) -> anyhow::Result<()> {
        let mut render_stats = RenderStats::default();
        let mut produced = 0_u64;
        // Standard output gets the whole batch in one write: records are rendered one after
        // the other into `record`, each with its newline, rather than copied into a buffer.
        let whole_batch = matches!(self.sink, Sink::Stdout(_));
        self.record.clear();
        for transaction in batch.transactions() {
            let context = Context {
                hostname: self.hostname.as_bytes(),
                sequence: self.next_sequence,
                run: self.run.as_bytes(),
            };
            self.next_sequence = self.next_sequence.wrapping_add(1);
            if !whole_batch {
                self.record.clear();
            }
            render_stats += self.renderer.render_captured(
                |field| transaction.value(field),
                &context,
                &mut self.record,
            );
            match &mut self.sink {
                Sink::Kafka(kafka) => {
                    self.key.clear();
                    let key_fields = self.key_fields;
                    self.key_renderer.render_captured(
                        |field| transaction.value(key_fields + field),
                        &context,
                        &mut self.key,
                    );
                    if kafka.send(&self.record, &self.key) == crate::kafka::Sent::Queued {
                        produced += 1;
                    }
                }
                Sink::Stdout(_) => {
                    self.record.push(b'\n');
                    produced += 1;
                }
                Sink::Null => {}
            }
        }
        if let Sink::Stdout(out) = &mut self.sink {
            out.write_all(&self.record)
                .and_then(|()| out.flush())
                .context("writing records to standard output")?;
        }
        let counters = &self.counters;
        Counters::add(&counters.records_rendered, batch.len() as u64);
        Counters::add(&counters.records_produced, produced);
        Counters::add(&counters.truncated_tags, batch.truncated_tags());
        Counters::add(
            &counters.invalid_numbers,
            u64::from(render_stats.invalid_numbers),
        );
        if let Sink::Kafka(kafka) = &self.sink {
            kafka.poll();
        }
        Ok(())
    }

    /// Produces a heartbeat to Kafka, or prints it with JSON records on standard output.
    fn heartbeat(&mut self, last: bool) -> anyhow::Result<()> {
        let sequence_last =
            (self.next_sequence != self.sequence_start).then(|| self.next_sequence.wrapping_sub(1));
        let beat = Beat {
            hostname: &self.hostname,
            run: &self.run,
            now: SystemTime::now(),
            sequence_start: self.sequence_start,
            sequence_last,
            last,
        };
        heartbeat::render(&beat, &self.counters.snapshot(), &mut self.record);
        match &mut self.sink {
            Sink::Kafka(kafka) => {
                self.key.clear();
                let context = Context {
                    hostname: self.hostname.as_bytes(),
                    sequence: self.next_sequence,
                    run: self.run.as_bytes(),
                };
                // A heartbeat has no log records: every field the key reads is unmatched.
                self.key_renderer
                    .render_captured(|_| None, &context, &mut self.key);
                if kafka.send_heartbeat(&self.record, &self.key) != crate::kafka::Sent::Queued {
                    self.log.error(
                        "heartbeat",
                        "librdkafka refused a heartbeat at enqueue; the auditor will miss it",
                    );
                    return Ok(());
                }
            }
            Sink::Stdout(out) if self.json => {
                self.record.push(b'\n');
                out.write_all(&self.record)
                    .context("writing a heartbeat to standard output")?;
                out.flush()
                    .context("writing a heartbeat to standard output")?;
            }
            Sink::Stdout(_) | Sink::Null => return Ok(()),
        }
        Counters::add(&self.counters.heartbeats_produced, 1);
        if last {
            self.log.info("final heartbeat handed to the output");
        }
        Ok(())
    }

    fn poll(&self) {
        if let Sink::Kafka(kafka) = &self.sink {
            kafka.poll();
        }
    }

    fn is_fatal(&self) -> bool {
        matches!(&self.sink, Sink::Kafka(kafka) if kafka.is_fatal())
    }

    /// Flushes the output; returns how many records are still undelivered.
    fn flush(&mut self) -> usize {
        match &mut self.sink {
            Sink::Kafka(kafka) => kafka.flush(),
            Sink::Stdout(out) => {
                let _ = out.flush();
                0
            }
            Sink::Null => 0,
        }
    }
}
