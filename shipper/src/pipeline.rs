//! The pipeline's wiring: the shared handles, the run's identity, the output chosen once, the
//! reader thread started, then this thread's loop (ship each batch, serve delivery reports,
//! run the timers, answer signals) until the reader is done, and shutdown.
//!
//! Signals: on the first SIGTERM/SIGINT the reader stops and sends what it has; this thread
//! drains the channel and shuts down (see `shutdown`), all by the stop's deadline (see
//! `deadline`). A second signal exits at once (see `signals`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use edgeship_conf::{Config, Output};
use edgeship_formats::Capturer;

use crate::deadline::StopClock;
use crate::identity::Identity;
use crate::kafka::KafkaProducer;
use crate::log::Log;
use crate::reader::{self, ReaderThread, Received};
use crate::shared::Shared;
use crate::ship::{Formats, Shipper};
use crate::shutdown;
pub use crate::shutdown::Ending;
use crate::signals::Flags;
use crate::sink::{NullSink, Sink, StdoutSink};
use crate::timers::Timers;

/// How often this thread wakes without input, to serve delivery reports and timers.
const TICK: Duration = Duration::from_millis(100);

/// Runs the pipeline until the input ends or a signal arrives.
pub fn run(config: &Config, flags: &Flags, log: Log) -> anyhow::Result<Ending> {
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
    // The reader thread captures both formats' fields in one pass; the key's come after the
    // record's.
    let capturer = Capturer::new(&[&plans.record, &plans.key]);
    let stop = StopClock::new(flags.clone(), config.edgeship.shutdown_timeout);
    let wiring = Wiring {
        config,
        stop: stop.clone(),
        formats: Formats::new(plans, &capturer),
        capturer,
        identity: Identity::new(config, started),
        shared: Arc::clone(&shared),
    };
    // The one place the output is chosen: everything after is compiled for that output.
    match config.output {
        Output::Kafka => {
            let producer = KafkaProducer::new(config, &shared, stop)?;
            wiring.serve(producer)
        }
        Output::Stdout => wiring.serve(StdoutSink::new(config.format_type)),
        Output::Null => wiring.serve(NullSink),
    }
}

/// Everything a run needs besides its output.
struct Wiring<'a> {
    config: &'a Config,
    stop: StopClock,
    capturer: Capturer,
    formats: Formats,
    identity: Identity,
    shared: Arc<Shared>,
}

impl Wiring<'_> {
    /// Starts the reader, ships until it is done, and shuts down.
    fn serve<S: Sink>(self, sink: S) -> anyhow::Result<Ending> {
        let Wiring {
            config,
            stop,
            capturer,
            formats,
            identity,
            shared,
        } = self;
        let mut shipper = Shipper::new(formats, identity, sink, Arc::clone(&shared));
        shipper.log_start();
        let options = reader::options(&config.varnish, &capturer);
        let reader = ReaderThread::start(options, capturer, shared)?;
        shipper.heartbeat()?;
        let mut timers = Timers::new(config);
        let ending = ship_until_done(&reader, &mut shipper, &mut timers, &stop)?;
        shutdown::finish(reader, shipper, ending, &stop)
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
    loop {
        match reader.receive(TICK) {
            Received::Batch(batch) => {
                shipper.ship(&batch)?;
                reader.recycle(batch);
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
