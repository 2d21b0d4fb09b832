//! The end of a run: once the reader has sent everything (end of file, a signal, or a fatal
//! producer error), wait for the reader thread, flush the output, count what is still
//! undelivered, write the final heartbeat and flush it too, and write the last statistics,
//! all within one deadline (`edgeship.shutdown.timeout`, the [`StopClock`]) that started when
//! the stop began. The producer is never dropped unflushed; what the deadline leaves
//! undelivered is counted (`undelivered_at_exit`) and logged, and a final heartbeat that was
//! not delivered is said so.

use crate::counters::Counters;
use crate::deadline::StopClock;
use crate::reader::ReaderThread;
use crate::ship::Shipper;
use crate::sink::Sink;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// End of the input file, or a signal: everything flushed (or counted as undelivered).
    Clean,
    /// The producer hit a fatal error, or the reader failed; the process should exit non-zero.
    Failed,
}

/// Ends the run that was going to end as `ending` (a failed reader makes it fail), by
/// `stop`'s deadline (started now if no signal started it).
pub fn finish<S: Sink>(
    reader: ReaderThread,
    mut shipper: Shipper<S>,
    mut ending: Ending,
    stop: &StopClock,
) -> anyhow::Result<Ending> {
    let deadline = stop.start();
    let shared = std::sync::Arc::clone(shipper.shared());
    let (counters, log) = (&shared.counters, &shared.log);
    if let Err(error) = reader.join() {
        Counters::add(&counters.reader_errors, 1);
        log.error("reader", &format!("{error:#}"));
        ending = Ending::Failed;
    }
    let records_deadline = stop.records_deadline().unwrap_or(deadline);
    let undelivered = shipper.flush(records_deadline);
    Counters::add(&counters.undelivered_at_exit, undelivered as u64);
    if undelivered > 0 {
        log.error(
            "shutdown",
            &format!(
                "{undelivered} records were still undelivered at the stop deadline \
                 (edgeship.shutdown.timeout = {} s)",
                stop.timeout().as_secs()
            ),
        );
    }
    // The final heartbeat reports the flushed state; then it is flushed itself.
    shipper.final_heartbeat()?;
    let left = shipper.flush(deadline);
    if !shipper.final_heartbeat_delivered() {
        log.error(
            "shutdown",
            &format!(
                "the final heartbeat was not delivered by the stop deadline ({left} records \
                 still undelivered); the auditor will see this run end without it"
            ),
        );
    }
    // What the flushes settled: the next process of the run continues from there.
    shipper.checkpoint();
    shipper.write_statistics();
    let totals = counters.snapshot();
    log.info(&format!(
        "stopped: {} records rendered, {} produced, {} delivered, {} undelivered at exit",
        totals.records_rendered,
        totals.records_produced,
        totals.records_delivered,
        totals.undelivered_at_exit
    ));
    Ok(ending)
}
