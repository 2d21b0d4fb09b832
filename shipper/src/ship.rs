//! The rendering thread's work on each batch and heartbeat: number each transaction (sequence
//! and run), render record and key from the captured values, and hand them to the sink.
//!
//! Ordering: batches arrive in reading order over one channel and are consumed by this one
//! thread, so sequence numbers follow the order Varnish completed transactions, per host,
//! and are assigned before output, as varnishkafka assigned them. This is the only place that
//! assigns sequence numbers.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use edgeship_conf::FormatPlans;
use edgeship_formats::{Capturer, Context, RenderStats, Renderer};

use crate::batch::Batch;
use crate::counters::Counters;
use crate::heartbeat::{self, Beat};
use crate::identity::Identity;
use crate::latency::{self, unix_micros};
use crate::resume::Checkpointer;
use crate::shared::Shared;
use crate::sink::{Key, Sink};

/// The record and key formats, ready to render from a batch's captured values.
pub struct Formats {
    record: Renderer,
    key: Renderer,
    /// Where the key format's fields start among a batch transaction's values.
    key_fields: usize,
    /// Which of a batch transaction's values is its end in Varnish (`latency::end_plan`,
    /// the capturer's third plan; past the values when the capturer has none).
    end_field: usize,
}

impl Formats {
    /// Renderers for `plans`, whose fields `capturer` captures (the record's, then the key's).
    pub fn new(plans: &FormatPlans, capturer: &Capturer) -> Formats {
        Formats {
            record: Renderer::new(plans.record.clone()),
            key: Renderer::new(plans.key.clone()),
            key_fields: capturer.first_field(1),
            end_field: capturer.first_field(2),
        }
    }
}

/// The rendering side's state.
pub struct Shipper<S> {
    formats: Formats,
    identity: Identity,
    next_sequence: u64,
    sink: S,
    shared: Arc<Shared>,
    /// Reused for every record.
    record: Vec<u8>,
    /// Reused for every key.
    key: Vec<u8>,
    /// The restart checkpoint, when `edgeship.state.dir` keeps one.
    checkpoints: Option<Checkpointer>,
}

impl<S: Sink> Shipper<S> {
    /// A shipper that numbers from the identity's first sequence number (or, continuing a
    /// run, from where the earlier process stopped).
    pub fn new(formats: Formats, identity: Identity, sink: S, shared: Arc<Shared>) -> Shipper<S> {
        shared.progress.set_next_sequence(identity.sequence_start);
        Shipper {
            formats,
            next_sequence: identity.resumed_at.unwrap_or(identity.sequence_start),
            checkpoints: None,
            identity,
            sink,
            shared,
            record: Vec::with_capacity(8192),
            key: Vec::with_capacity(256),
        }
    }

    /// Keeps the restart checkpoint with `checkpoints` from now on.
    pub fn keep_checkpoints(&mut self, checkpoints: Checkpointer) {
        self.checkpoints = Some(checkpoints);
    }

    /// Writes the restart checkpoint (if one is kept) when the records known to be done
    /// moved on.
    pub fn checkpoint(&mut self) {
        if let Some(checkpoints) = self.checkpoints.as_mut() {
            checkpoints.write(&self.shared);
        }
    }

    /// The handles this thread reports into.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Logs the start of the run: who ships, and from which sequence number.
    pub fn log_start(&self) {
        let Identity { hostname, run, .. } = &self.identity;
        let how = match self.identity.resumed_at {
            Some(_) => "continuing at sequence",
            None => "sequence from",
        };
        self.shared.log.info(&format!(
            "edgeship {} starting: host {hostname}, run {run}, {how} {}",
            env!("CARGO_PKG_VERSION"),
            self.next_sequence
        ));
    }

    /// Numbers, renders and outputs every transaction of `batch`.
    // hot path: everything here runs per record; it allocates nothing once the buffers have
    // grown, and touches the shared counters once per batch.
    pub fn ship(&mut self, batch: &Batch) -> anyhow::Result<()> {
        let mut render_stats = RenderStats::default();
        let mut produced = 0_u64;
        let (key_fields, end_field) = (self.formats.key_fields, self.formats.end_field);
        self.record.clear();
        for transaction in batch.transactions() {
            let ended = transaction
                .value(end_field)
                .and_then(latency::captured_micros);
            self.sink
                .record_ended(ended.unwrap_or_else(|| batch.handed_micros()));
            let context = Context {
                hostname: self.identity.hostname.as_bytes(),
                sequence: self.next_sequence,
                run: self.identity.run.as_bytes(),
            };
            let sequence = self.next_sequence;
            self.next_sequence = self.next_sequence.wrapping_add(1);
            self.sink.start_record(&mut self.record);
            render_stats += self.formats.record.render_captured(
                |field| transaction.value(field),
                &context,
                &mut self.record,
            );
            let key = Key::new(
                &mut self.formats.key,
                &mut self.key,
                |field| transaction.value(key_fields + field),
                &context,
            );
            let taken = self.sink.take_record(&mut self.record, key);
            produced += u64::from(taken);
            if let Some(checkpoints) = self.checkpoints.as_mut() {
                checkpoints.numbered(sequence, transaction.position(), taken);
            }
        }
        self.sink.end_batch(&self.record)?;
        let shared = &self.shared;
        shared.progress.set_next_sequence(self.next_sequence);
        let now = unix_micros(SystemTime::now());
        shared
            .latency
            .record_wait(batch.handed_micros(), now, produced);
        let counters = &shared.counters;
        Counters::add(&counters.records_rendered, batch.len() as u64);
        Counters::add(&counters.records_produced, produced);
        Counters::add(&counters.truncated_tags, batch.truncated_tags());
        Counters::add(
            &counters.invalid_numbers,
            u64::from(render_stats.invalid_numbers),
        );
        self.sink.poll();
        Ok(())
    }

    /// Produces a heartbeat to Kafka, or prints it with JSON records on standard output.
    pub fn heartbeat(&mut self) -> anyhow::Result<()> {
        self.produce_heartbeat(false)?;
        Ok(())
    }

    /// Produces the heartbeat of a clean shutdown, which reports the flushed state; returns
    /// whether the output took it (its delivery is [`Shipper::final_heartbeat_delivered`]).
    pub fn final_heartbeat(&mut self) -> anyhow::Result<bool> {
        let handed = self.produce_heartbeat(true)?;
        if handed {
            self.shared.log.info("final heartbeat handed to the output");
        }
        Ok(handed)
    }

    /// Whether the final heartbeat reached its destination, asked after the last flush.
    pub fn final_heartbeat_delivered(&self) -> bool {
        self.sink.final_heartbeat_delivered()
    }

    /// Renders and outputs a heartbeat whose `final` field is `last` (the final one goes
    /// through the sink's `final_heartbeat`); returns whether the output took it (then it is
    /// counted).
    fn produce_heartbeat(&mut self, last: bool) -> anyhow::Result<bool> {
        let identity = &self.identity;
        let sequence_last = (self.next_sequence != identity.sequence_start)
            .then(|| self.next_sequence.wrapping_sub(1));
        let beat = Beat {
            hostname: &identity.hostname,
            run: &identity.run,
            now: SystemTime::now(),
            sequence_start: identity.sequence_start,
            sequence_last,
            last,
            interval: identity.heartbeat_interval,
            latency: self.shared.latency.take_heartbeat(),
        };
        let counters = &self.shared.counters;
        heartbeat::render(&beat, &counters.snapshot(), &mut self.record);
        let context = Context {
            hostname: identity.hostname.as_bytes(),
            sequence: self.next_sequence,
            run: identity.run.as_bytes(),
        };
        // A heartbeat has no log records: every field the key reads is unmatched.
        let key = Key::new(&mut self.formats.key, &mut self.key, |_| None, &context);
        let handed = if last {
            self.sink.final_heartbeat(&mut self.record, key)?
        } else {
            self.sink.heartbeat(&mut self.record, key)?
        };
        if handed {
            Counters::add(&counters.heartbeats_produced, 1);
        }
        Ok(handed)
    }

    /// Writes an interval's lines to the statistics file.
    pub fn write_statistics(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        self.shared.write_statistics(now, self.next_sequence);
    }

    /// Serves the output's delivery reports without waiting.
    pub fn poll(&mut self) {
        self.sink.poll();
    }

    /// Whether the output cannot continue.
    pub fn is_fatal(&self) -> bool {
        self.sink.is_fatal()
    }

    /// Flushes the output, waiting no later than `until`; returns how many messages are
    /// still undelivered.
    pub fn flush(&mut self, until: Instant) -> usize {
        self.sink.flush(until)
    }
}
