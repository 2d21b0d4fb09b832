//! The end of a run: once the reader has sent everything (end of file, a signal, or a fatal
//! producer error), wait for the reader thread, flush the output for up to the message
//! timeout, count what is still undelivered, write the final heartbeat and flush it too, and
//! write the last statistics. The producer is never dropped unflushed.

use crate::counters::Counters;
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

/// Ends the run that was going to end as `ending` (a failed reader makes it fail).
pub fn finish<S: Sink>(
    reader: ReaderThread,
    mut shipper: Shipper<S>,
    mut ending: Ending,
) -> anyhow::Result<Ending> {
    let shared = std::sync::Arc::clone(shipper.shared());
    let (counters, log) = (&shared.counters, &shared.log);
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
    shipper.final_heartbeat()?;
    shipper.flush();
    shipper.write_statistics();
    let totals = counters.snapshot();
    log.info(&format!(
        "stopped: {} records rendered, {} produced, {} delivered, {} undelivered",
        totals.records_rendered, totals.records_produced, totals.records_delivered, undelivered
    ));
    Ok(ending)
}
