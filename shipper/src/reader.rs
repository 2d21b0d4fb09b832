//! The reader thread: drives the Varnish log reader, captures the fields the formats read from
//! each client request into batches, and hands full batches to the rendering thread over a
//! bounded channel (empty ones come back over a second). The reader's options are built here,
//! from the configuration's `varnish` settings and the tags the formats read.
//!
//! Back-pressure lives here, outside the reader's visitor calls: a visitor call must not block
//! (the reader walks varnishd's live ring during it), so a batch that fills up there only
//! joins a local queue. Once `Reader::read` has returned, holding no pointer a visitor could
//! see, the queue is sent with blocking sends; the read budget bounds how much can pile up in
//! one call. While the thread waits, the reader does not drain the log, and if the log then
//! wraps under it the overrun is counted by the reader (and mirrored into [`Counters`]).
//! Nothing is dropped on this side without a counter.
//!
//! Test hook: the hidden environment variable `EDGESHIP_TEST_READER_ERROR_AFTER_READS=N` makes
//! the reader fail after N read calls, as an error it cannot recover from would. It exists
//! because no live log provokes one on purpose (libvarnishapi's live cursor reports overruns
//! and abandons, which are recovered, never an I/O error), yet what happens to what was read
//! must be tested on the real binary; it is read once when the thread starts and checked once
//! per read call, never per record.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use edgeship_conf::{Grouping, VarnishSettings};
use edgeship_formats::Capturer;
use edgeship_varnishlog::{
    Event, Options, Outcome, Reader, RequestTransaction, ResumeCheck, Visitor,
};

use crate::batch::{Batch, MAX_TRANSACTIONS};
use crate::counters::Counters;
use crate::shared::Shared;

/// Batches in flight between the reader and the rendering thread. Small: the bound is what
/// turns a slow output into back-pressure on the reader rather than memory growth.
const CHANNEL_BATCHES: usize = 8;
/// How long the reader sleeps when a live log has nothing new.
const IDLE_SLEEP: Duration = Duration::from_millis(5);
/// Transactions per `Reader::read` call, so counters and stop requests are looked at often.
/// It also bounds the batches that wait in the local queue until the call returns: about
/// `READ_BUDGET / MAX_TRANSACTIONS` (plus what a flush at an overrun adds, up to `-L`).
const READ_BUDGET: usize = 4096;

/// The reader's options: where and how to read as the `varnish` settings say, keeping only
/// the records of the tags `capturer` reads.
pub fn options(varnish: &VarnishSettings, capturer: &Capturer) -> Options {
    let mut options = match &varnish.file {
        Some(file) => Options::file(file),
        None => Options::live(varnish.instance.as_deref()),
    };
    options.query = varnish.query.clone();
    options.grouping = match varnish.grouping {
        Grouping::Vxid => edgeship_varnishlog::Grouping::Vxid,
        Grouping::Request => edgeship_varnishlog::Grouping::Request,
    };
    if let Some(timeout) = varnish.timeout {
        // The configuration bounds -T (`edgeship_conf::MAX_TIMEOUT_SECONDS`); should an
        // unbounded value ever get here, it means "never", not a panic.
        options.timeout = Duration::try_from_secs_f64(timeout).unwrap_or(Duration::MAX);
    }
    if let Some(limit) = varnish.limit {
        options.limit = limit;
    }
    options.only_tags = Some(capturer.tags());
    options
}

/// What [`ReaderThread::receive`] got.
#[derive(Debug)]
pub enum Received {
    /// A full batch (or the last one).
    Batch(Batch),
    /// Nothing within the wait.
    Nothing,
    /// The reader is done (end of file, or it stopped) and every batch it read was received.
    Finished,
}

/// The running reader thread, with the two ends of its channels the rendering thread uses.
pub struct ReaderThread {
    handle: JoinHandle<anyhow::Result<()>>,
    full: Receiver<Batch>,
    empty: Sender<Batch>,
    stop: Arc<AtomicBool>,
    resume: ResumeCheck,
}

impl ReaderThread {
    /// Starts reading on a new thread with `options`, once the log is open (errors opening it
    /// are start-up errors, returned here). `capturer` finds the values of the formats' fields
    /// in each transaction; batches carry those values.
    ///
    /// The thread ends at the end of a file, when asked to [`stop`](ReaderThread::stop), or
    /// at a read error (its result, from [`join`](ReaderThread::join)); in every case it
    /// first flushes incomplete transactions (counted as incomplete) and sends its last
    /// batch, then closes its channel, which tells the renderer it has everything.
    pub fn start(
        options: Options,
        capturer: Capturer,
        shared: Arc<Shared>,
    ) -> anyhow::Result<ReaderThread> {
        let (full_tx, full) = crossbeam_channel::bounded::<Batch>(CHANNEL_BATCHES);
        let (empty, empty_rx) = crossbeam_channel::bounded::<Batch>(CHANNEL_BATCHES + 2);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_reading = Arc::clone(&stop);
        // The reader owns C handles that must stay on one thread, so it is opened on the
        // reader thread itself; the outcome of opening comes back before `start` returns.
        let (opened_tx, opened_rx) = crossbeam_channel::bounded::<Result<ResumeCheck, String>>(1);
        let handle = std::thread::Builder::new()
            .name("vsl-reader".to_string())
            .spawn(move || {
                let reader = match Reader::open(options) {
                    Ok(reader) => reader,
                    Err(error) => {
                        let message = format!("cannot open the Varnish log: {error}");
                        let _ = opened_tx.send(Err(message.clone()));
                        return Err(anyhow::anyhow!(message));
                    }
                };
                shared.log.info(&format!(
                    "reading the Varnish log ({:?} path: {}; libvarnishapi {})",
                    reader.path(),
                    reader.path_reason(),
                    edgeship_varnishlog::VARNISHAPI_VERSION
                ));
                let _ = opened_tx.send(Ok(reader.resume_check()));
                let mut filler = Filler {
                    batch: Batch::new(capturer.field_count()),
                    capturer,
                    full: full_tx,
                    empty: empty_rx,
                    waiting: VecDeque::with_capacity(READ_BUDGET / MAX_TRANSACTIONS + 2),
                    shared,
                    disconnected: false,
                };
                read_until_done(reader, &mut filler, &stop_reading)
            })?;
        let resume = match opened_rx.recv() {
            Ok(Ok(resume)) => resume,
            Ok(Err(message)) => return Err(anyhow::anyhow!(message)),
            Err(_) => {
                return Err(anyhow::anyhow!(
                    "the reader thread ended while opening the log"
                ))
            }
        };
        Ok(ReaderThread {
            handle,
            full,
            empty,
            stop,
            resume,
        })
    }

    /// What came of the options' resume position when the log was opened.
    pub fn resume_check(&self) -> ResumeCheck {
        self.resume
    }

    /// Waits up to `timeout` for the next full batch.
    pub fn receive(&self, timeout: Duration) -> Received {
        match self.full.recv_timeout(timeout) {
            Ok(batch) => Received::Batch(batch),
            Err(RecvTimeoutError::Timeout) => Received::Nothing,
            Err(RecvTimeoutError::Disconnected) => Received::Finished,
        }
    }

    /// Hands a shipped batch back, emptied, for the reader to fill again.
    pub fn recycle(&self, mut batch: Batch) {
        batch.clear();
        // If the reader already has enough empty batches this one is simply freed.
        let _ = self.empty.try_send(batch);
    }

    /// Asks the reader to stop: it flushes, sends what it has, and ends.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether the reader was asked to stop.
    pub fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Waits for the thread to end and returns its result.
    pub fn join(self) -> anyhow::Result<()> {
        match self.handle.join() {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!("the reader thread panicked")),
        }
    }
}

/// Reads until the end of a file, a stop request, or a read error. Whichever it is, what was
/// read is not lost with it: incomplete transactions are then forced complete (counted as
/// incomplete) and everything is sent before the thread returns, the error last.
fn read_until_done(
    mut reader: Reader,
    filler: &mut Filler,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut failure = None;
    let mut reads_left = reads_before_test_error();
    loop {
        if stop.load(Ordering::Relaxed) || filler.disconnected {
            break;
        }
        let outcome = reader.read(filler, READ_BUDGET);
        reads_left = reads_left.saturating_sub(1);
        if reads_left == 0 {
            failure = Some(anyhow::anyhow!(
                "reading the Varnish log: EDGESHIP_TEST_READER_ERROR_AFTER_READS reached (a test hook)"
            ));
            break;
        }
        filler.mirror(&reader);
        // The read call returned: waiting for room downstream is safe now.
        filler.send_waiting();
        match outcome {
            Ok(Outcome::Budget) => {}
            Ok(Outcome::Idle) => {
                // Nothing new: hand over what we have so records are not held back, then wait.
                filler.close_batch();
                filler.send_waiting();
                std::thread::sleep(IDLE_SLEEP);
            }
            Ok(Outcome::EndOfFile) => break,
            Err(error) => {
                failure = Some(anyhow::anyhow!("reading the Varnish log: {error}"));
                break;
            }
        }
    }
    // Transactions still open are forced complete and shipped with what they have, rather
    // than vanishing with the process (or with a read error: the reader's state and its
    // cursor are still whole after one, so what it holds can still be handed out).
    reader.flush(filler);
    filler.mirror(&reader);
    filler.close_batch();
    filler.send_waiting();
    match failure {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The test hook of the module documentation: how many read calls succeed before the reader
/// fails (never, without the variable).
fn reads_before_test_error() -> u64 {
    std::env::var("EDGESHIP_TEST_READER_ERROR_AFTER_READS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(u64::MAX)
}

/// The visitor: captures each client request's field values into the current batch.
struct Filler {
    batch: Batch,
    capturer: Capturer,
    full: Sender<Batch>,
    empty: Receiver<Batch>,
    /// Full batches the channel had no room for during a read call, oldest first: they wait
    /// here, in order, until the call returns (see the module docs).
    waiting: VecDeque<Batch>,
    shared: Arc<Shared>,
    /// The rendering side has gone; stop reading.
    disconnected: bool,
}

impl Filler {
    /// Closes the current batch, if it holds anything, and takes an empty one: it goes to the
    /// channel at once if it has room and nothing waits before it, else joins the queue of
    /// waiting batches. Never blocks, so it may be called from a visitor call.
    fn close_batch(&mut self) {
        if self.batch.is_empty() || self.disconnected {
            return;
        }
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Batch::new(self.capturer.field_count()));
        let batch = std::mem::replace(&mut self.batch, next);
        if !self.waiting.is_empty() {
            self.waiting.push_back(batch);
            return;
        }
        let transactions = batch.len() as u64;
        match self.full.try_send(batch) {
            Ok(()) => Counters::add(&self.shared.counters.transactions_read, transactions),
            Err(TrySendError::Full(batch)) => self.waiting.push_back(batch),
            Err(TrySendError::Disconnected(_)) => self.disconnected = true,
        }
    }

    /// Sends the waiting batches in order, blocking while the channel is full. Only called
    /// between read calls, when the reader holds nothing a visitor could see.
    fn send_waiting(&mut self) {
        while let Some(batch) = self.waiting.pop_front() {
            let transactions = batch.len() as u64;
            if self.full.send(batch).is_err() {
                self.disconnected = true;
                self.waiting.clear();
                return;
            }
            Counters::add(&self.shared.counters.transactions_read, transactions);
        }
    }

    /// Copies the reader's own totals into the shared counters (once per read call).
    fn mirror(&self, reader: &Reader) {
        let totals = reader.counters();
        let counters = &self.shared.counters;
        Counters::raise_to(&counters.log_overruns, totals.overruns);
        Counters::raise_to(&counters.log_abandons, totals.abandons);
        Counters::raise_to(&counters.log_reattaches, totals.reattaches);
        Counters::raise_to(&counters.transactions_lost, totals.transactions_lost);
        Counters::raise_to(
            &counters.transactions_unselected,
            totals.transactions_unselected,
        );
        Counters::raise_to(
            &counters.transactions_before_resume,
            totals.transactions_before_resume,
        );
        let skipped_before = counters.records_skipped.load(Ordering::Relaxed);
        Counters::raise_to(&counters.records_skipped, totals.records_skipped);
        if totals.records_skipped > skipped_before {
            self.shared.log.warning(
                "vsl-skipped",
                &format!(
                    "{} log records skipped: their transaction began before the reader attached (records_skipped {})",
                    totals.records_skipped - skipped_before,
                    totals.records_skipped
                ),
            );
        }
        Counters::raise_to(
            &counters.transactions_incomplete,
            totals.forced_timeout + totals.forced_store_overflow + totals.forced_flush,
        );
    }
}

impl Visitor for Filler {
    fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
        if transaction.is_esi() {
            Counters::add(&self.shared.counters.esi_skipped, 1);
            return;
        }
        // hot path: capture while the records are in this core's cache, copy only the values.
        let batch = &mut self.batch;
        let position = transaction.end_position();
        self.capturer.capture_with(transaction, |values, stats| {
            batch.push(values, stats, position)
        });
        if self.batch.is_full() {
            // Never a blocking send here: see the module docs.
            self.close_batch();
        }
    }

    fn event(&mut self, event: &Event) {
        let log = &self.shared.log;
        match event {
            Event::Overrun { total } => log.error(
                "vsl-overrun",
                &format!("the Varnish log wrapped under the reader (overrun {total}); records were lost, reading resumes"),
            ),
            Event::Abandoned { total } => log.error(
                "vsl-abandoned",
                &format!("varnishd went away or restarted (abandon {total}); reattaching"),
            ),
            Event::Reattached { total } => {
                log.info(&format!("reattached to the Varnish log (reattach {total})"))
            }
            _ => {}
        }
    }
}
