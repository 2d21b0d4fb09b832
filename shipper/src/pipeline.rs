//! The pipeline's wiring: the shared handles, the run's identity, the output chosen once, the
//! reader thread started, then this thread's loop (ship each batch, serve delivery reports,
//! run the timers, answer signals) until the reader is done, and shutdown.
//!
//! Signals: on the first SIGTERM/SIGINT the reader stops and sends what it has; this thread
//! drains the channel and shuts down (see `shutdown`), all by the stop's deadline (see
//! `deadline`). A second signal exits at once (see `signals`).
//!
//! A panic in this thread's loop is caught here: unwinding would drop the producer, which
//! makes librdkafka purge its queue, and end the run with no final heartbeat or statistics.
//! Instead it is counted (`panics`) and logged, the reader is stopped, what it still sends is
//! dropped and counted as lost (`transactions_lost`: shipping it could panic again), and the
//! run ends through the ordinary shutdown (flush, final heartbeat, statistics), exit 1.
//!
//! Test hook: the hidden environment variable `EDGESHIP_TEST_PANIC_AFTER_BATCHES=N` makes the
//! loop panic after shipping N batches. It exists because no input provokes a panic on
//! purpose (each one found is a bug fixed), yet the recovery above must be tested on the real
//! binary; it is read once at start and checked once per batch, never per record.

use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use edgeship_conf::{Config, Output};
use edgeship_formats::Capturer;

use crate::counters::Counters;
use crate::daemon::StartReport;
use crate::deadline::StopClock;
use crate::identity::Identity;
use crate::kafka::KafkaProducer;
use crate::latency;
use crate::log::Log;
use crate::metrics::{self, RunInfo};
use crate::reader::{self, ReaderThread, Received};
pub use crate::resume::StartAt;
use crate::resume::State;
use crate::shared::Shared;
use crate::ship::{Formats, Shipper};
use crate::shutdown;
pub use crate::shutdown::Ending;
use crate::signals::Flags;
use crate::sink::{NullSink, Sink, StdoutSink};
use crate::timers::Timers;
use crate::watchdog::Supervisor;

/// What the daemon starts the pipeline with.
pub struct Launch<'a> {
    /// The resolved configuration.
    pub config: &'a Config,
    /// The signal flags (`signals::install`).
    pub flags: Flags,
    /// The daemon's log.
    pub log: Log,
    /// Where a process with a state directory starts reading (`--from-tail`).
    pub start_at: StartAt,
}

/// How often this thread wakes without input, to serve delivery reports and timers.
const TICK: Duration = Duration::from_millis(100);

/// Runs the pipeline until the input ends or a signal arrives. `report` is told when start-up
/// is complete (the log is open and the first heartbeat queued), and so is systemd when it
/// listens (`watchdog`: `READY=1` then, `WATCHDOG=1` from the loop, `STOPPING=1` before
/// shutdown).
///
/// With `edgeship.state.dir`, `launch.start_at` says whether a checkpoint there is resumed
/// (see `resume`).
pub fn run(launch: Launch<'_>, report: &mut StartReport) -> anyhow::Result<Ending> {
    let Launch {
        config,
        flags,
        log,
        start_at,
    } = launch;
    for notice in &config.notices {
        log.notice(&notice.to_string());
    }
    let plans = &config.plans;
    for warning in plans.record.warnings().iter().chain(plans.key.warnings()) {
        log.notice(&format!(
            "{}:{}: {warning}",
            config.source,
            config.format.line.unwrap_or(0)
        ));
    }
    let started = SystemTime::now();
    let shared = Arc::new(Shared::open(config, log)?);
    // The reader thread captures both formats' fields in one pass, the key's after the
    // record's, and last, for Kafka's delivery latency, each transaction's end in Varnish
    // (other outputs have no delivery to time, and leave it out: `Formats` then finds none).
    let end_plan = latency::end_plan();
    let mut captured = vec![&plans.record, &plans.key];
    if config.output == Output::Kafka {
        captured.push(&end_plan);
    }
    let capturer = Capturer::new(&captured);
    let stop = StopClock::new(flags.clone(), config.edgeship.shutdown_timeout);
    let state = State::open(config, start_at, &shared);
    let identity = Identity::new(config, started);
    // Bound now, so that an address that cannot be had stops the start before anything else.
    let metrics = config
        .edgeship
        .metrics_address
        .map(metrics::bind)
        .transpose()?;
    let wiring = Wiring {
        metrics,
        state,
        config,
        stop: stop.clone(),
        formats: Formats::new(plans, &capturer),
        capturer,
        identity,
        shared: Arc::clone(&shared),
    };
    // The one place the output is chosen: everything after is compiled for that output.
    match config.output {
        Output::Kafka => {
            let producer = KafkaProducer::new(config, &shared, stop)?;
            wiring.serve(producer, report)
        }
        Output::Stdout => wiring.serve(StdoutSink::new(config.format_type), report),
        Output::Null => wiring.serve(NullSink, report),
    }
}

/// Starts the metrics server on `listener` and logs where.
fn start_metrics(
    listener: TcpListener,
    shared: &Arc<Shared>,
    identity: &Identity,
) -> anyhow::Result<()> {
    let run = RunInfo {
        hostname: identity.hostname.clone(),
        run: identity.run.clone(),
        sequence_start: identity.sequence_start,
    };
    let bound = metrics::start(listener, Arc::clone(shared), run)?;
    shared
        .log
        .info(&format!("Prometheus metrics at http://{bound}/metrics"));
    Ok(())
}

/// Everything a run needs besides its output.
struct Wiring<'a> {
    config: &'a Config,
    stop: StopClock,
    capturer: Capturer,
    formats: Formats,
    identity: Identity,
    shared: Arc<Shared>,
    /// The state directory's checkpoint, when one is kept.
    state: Option<State>,
    /// The metrics server's socket, when one is configured.
    metrics: Option<TcpListener>,
}

impl Wiring<'_> {
    /// Starts the reader, ships until it is done, and shuts down.
    fn serve<S: Sink>(self, sink: S, report: &mut StartReport) -> anyhow::Result<Ending> {
        let Wiring {
            config,
            stop,
            capturer,
            formats,
            identity,
            shared,
            state,
            metrics,
        } = self;
        let mut options = reader::options(&config.varnish, &capturer);
        if let Some(state) = &state {
            state.prepare(&mut options);
        }
        let reader = ReaderThread::start(options, capturer, Arc::clone(&shared))?;
        // Whether the run continues is known once the reader has opened the log.
        let identity = match &state {
            Some(state) => state.identity(reader.resume_check(), identity, &shared),
            None => identity,
        };
        // The metrics name the run, known now.
        if let Some(listener) = metrics {
            start_metrics(listener, &shared, &identity)?;
        }
        let checkpoints = state.map(|state| state.checkpointer(&identity, config.output));
        let mut shipper = Shipper::new(formats, identity, sink, Arc::clone(&shared));
        if let Some(checkpoints) = checkpoints {
            shipper.keep_checkpoints(checkpoints);
        }
        let mut supervisor = Supervisor::from_environment(config, shared);
        shipper.log_start();
        shipper.heartbeat()?;
        report.ready();
        supervisor.ready();
        let mut timers = Timers::new(config, supervisor);
        let shipping = std::panic::catch_unwind(AssertUnwindSafe(|| {
            ship_until_done(&reader, &mut shipper, &mut timers, &stop)
        }));
        let ending = match shipping {
            Ok(ending) => ending?,
            Err(panic) => recover_from_panic(&reader, shipper.shared(), panic.as_ref()),
        };
        timers.supervisor().stopping();
        shutdown::finish(reader, shipper, ending, &stop)
    }
}

/// After a panic in the loop: counts and logs it, stops the reader and drops (counting them
/// as lost) the batches it still sends, so the reader can finish and shutdown can run.
fn recover_from_panic(
    reader: &ReaderThread,
    shared: &Shared,
    panic: &(dyn std::any::Any + Send),
) -> Ending {
    let what = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    let counters = &shared.counters;
    shared
        .log
        .counted_error("panic", &counters.panics, 1, |total| {
            format!(
                "the shipping loop panicked ({what}; {total} so far): stopping the reader, \
             flushing, and writing the final heartbeat and statistics"
            )
        });
    reader.stop();
    loop {
        match reader.receive(TICK) {
            Received::Batch(batch) => {
                Counters::add(&counters.transactions_lost, batch.len() as u64);
                reader.recycle(batch);
            }
            Received::Nothing => {}
            Received::Finished => return Ending::Failed,
        }
    }
}

/// The test hook of the module documentation: panics after a given number of batches.
struct PanicHook {
    batches_left: u64,
}

impl PanicHook {
    fn from_environment() -> PanicHook {
        let batches_left = std::env::var("EDGESHIP_TEST_PANIC_AFTER_BATCHES")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(u64::MAX);
        PanicHook { batches_left }
    }

    /// Called once per batch shipped.
    #[allow(clippy::panic)]
    fn batch_shipped(&mut self) {
        self.batches_left = self.batches_left.saturating_sub(1);
        if self.batches_left == 0 {
            panic!("EDGESHIP_TEST_PANIC_AFTER_BATCHES reached (a test hook)");
        }
    }
}

/// This thread's loop: batches in, delivery reports served, timers and signals answered,
/// until the reader has sent everything.
fn ship_until_done<S: Sink>(
    reader: &ReaderThread,
    shipper: &mut Shipper<S>,
    timers: &mut Timers,
    stop: &StopClock,
) -> anyhow::Result<Ending> {
    let flags = stop.flags();
    let mut ending = Ending::Clean;
    let mut panic_hook = PanicHook::from_environment();
    loop {
        match reader.receive(TICK) {
            Received::Batch(batch) => {
                shipper.ship(&batch)?;
                reader.recycle(batch);
                panic_hook.batch_shipped();
            }
            Received::Nothing => {}
            // The reader is done (end of file, or it stopped after a signal) and everything it
            // read has been shipped.
            Received::Finished => return Ok(ending),
        }
        shipper.poll();
        timers.run_due(Instant::now(), shipper)?;
        if flags.take_reopen() {
            shipper.shared().reopen_statistics();
        }
        if shipper.is_fatal() && ending == Ending::Clean {
            shipper.shared().log.error(
                "kafka-fatal",
                "stopping: the producer cannot continue after a fatal error",
            );
            ending = Ending::Failed;
            reader.stop();
        }
        if flags.terminate_requested() && !reader.is_stopping() {
            // The stop's deadline runs from here.
            stop.start();
            shipper
                .shared()
                .log
                .info("signal received: stopping the reader, then flushing");
            reader.stop();
        }
    }
}
