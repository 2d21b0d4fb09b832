//! Where rendered records go: the [`Sink`] trait and the two outputs that are not Kafka
//! (standard output and nothing); the Kafka producer implements it in `kafka`.
//!
//! The rendering loop is generic over its sink: the output is chosen once, at start-up, and
//! each record's step is a direct call the compiler can inline, not a match or a dynamic call
//! per record.

use std::io::{BufWriter, Stdout, Write as _};
use std::time::Instant;

use anyhow::Context as _;
use edgeship_conf::FormatType;
use edgeship_formats::{Context, Renderer};

/// The captured values of one transaction, by field number: what a key is rendered from. A
/// name for the closure's bound, so the sinks' signatures say it once.
pub trait Values<'v>: Fn(usize) -> Option<&'v [u8]> {}

impl<'v, F: Fn(usize) -> Option<&'v [u8]>> Values<'v> for F {}

/// A record's (or heartbeat's) message key, rendered only by a sink that sends one.
pub struct Key<'r, 'v, V> {
    renderer: &'r mut Renderer,
    out: &'r mut Vec<u8>,
    values: V,
    context: &'r Context<'v>,
}

impl<'r, 'v, V> Key<'r, 'v, V>
where
    V: Values<'v>,
{
    /// The key `renderer` writes into `out` from the key format's field `values`.
    #[inline]
    pub fn new(
        renderer: &'r mut Renderer,
        out: &'r mut Vec<u8>,
        values: V,
        context: &'r Context<'v>,
    ) -> Key<'r, 'v, V> {
        Key {
            renderer,
            out,
            values,
            context,
        }
    }

    /// The record's context: its host, sequence number and run (for a heartbeat, the next
    /// sequence number, which it does not carry).
    #[inline]
    pub fn context(&self) -> &'r Context<'v> {
        self.context
    }

    /// Renders the key (replacing the buffer's contents) and returns it.
    #[inline]
    pub fn render(self) -> &'r [u8] {
        let Key {
            renderer,
            out,
            values,
            context,
        } = self;
        out.clear();
        renderer.render_captured(values, context, out);
        out
    }
}

/// An output for rendered records and heartbeats.
///
/// Per batch, the rendering loop calls [`record_ended`](Sink::record_ended) and
/// [`start_record`](Sink::start_record), renders into the
/// buffer and calls [`take_record`](Sink::take_record) for each record, then
/// [`end_batch`](Sink::end_batch) with the buffer, adds to the counters, and
/// [`poll`](Sink::poll)s.
pub trait Sink {
    /// Says when the next record's request ended in Varnish (microseconds since the Unix
    /// epoch; `latency` says where it comes from): a sink with delivery reports times them
    /// from it.
    #[inline]
    fn record_ended(&mut self, _unix_micros: u64) {}

    /// Readies the record buffer for the next record: emptied, unless the sink collects the
    /// batch's records in it one after the other.
    #[inline]
    fn start_record(&self, record: &mut Vec<u8>) {
        record.clear();
    }

    /// Takes one rendered record; `key` renders its message key on demand. Returns whether
    /// the record was handed to the output (counted as produced).
    fn take_record<'v, V: Values<'v>>(&mut self, record: &mut Vec<u8>, key: Key<'_, 'v, V>)
        -> bool;

    /// Ends a batch; `records` is the record buffer as the last record left it.
    fn end_batch(&mut self, _records: &[u8]) -> anyhow::Result<()> {
        Ok(())
    }

    /// Outputs one rendered heartbeat (the buffer may gain a newline). Returns whether it was
    /// handed to the output.
    fn heartbeat<'v, V: Values<'v>>(
        &mut self,
        beat: &mut Vec<u8>,
        key: Key<'_, 'v, V>,
    ) -> anyhow::Result<bool>;

    /// Outputs the final heartbeat of a clean stop, as [`heartbeat`](Sink::heartbeat) does.
    fn final_heartbeat<'v, V: Values<'v>>(
        &mut self,
        beat: &mut Vec<u8>,
        key: Key<'_, 'v, V>,
    ) -> anyhow::Result<bool> {
        self.heartbeat(beat, key)
    }

    /// Whether the final heartbeat, once handed to the output, reached its destination (asked
    /// after the last flush).
    fn final_heartbeat_delivered(&self) -> bool {
        true
    }

    /// Serves what the output has to report (delivery reports) without waiting, and recovers
    /// from what they report if it can (Kafka: replaces a producer that can no longer
    /// deliver).
    fn poll(&mut self) {}

    /// Whether the output cannot continue.
    fn is_fatal(&self) -> bool {
        false
    }

    /// Flushes the output, waiting no later than `until`; returns how many messages are
    /// still undelivered.
    fn flush(&mut self, until: Instant) -> usize;
}

/// Standard output: one record per line, each batch in one write. Heartbeats are printed
/// among JSON records only (a text format has no place for them).
pub struct StdoutSink {
    out: BufWriter<Stdout>,
    format_type: FormatType,
}

impl StdoutSink {
    /// Standard output for records of `format_type`.
    pub fn new(format_type: FormatType) -> StdoutSink {
        StdoutSink {
            out: BufWriter::with_capacity(1 << 16, std::io::stdout()),
            format_type,
        }
    }
}

impl Sink for StdoutSink {
    // Records are rendered one after the other into the buffer, each with its newline, and
    // the whole batch written at once, rather than copied into a second buffer.
    #[inline]
    fn start_record(&self, _record: &mut Vec<u8>) {}

    #[inline]
    fn take_record<'v, V: Values<'v>>(
        &mut self,
        record: &mut Vec<u8>,
        _key: Key<'_, 'v, V>,
    ) -> bool {
        record.push(b'\n');
        true
    }

    fn end_batch(&mut self, records: &[u8]) -> anyhow::Result<()> {
        self.out
            .write_all(records)
            .and_then(|()| self.out.flush())
            .context("writing records to standard output")
    }

    fn heartbeat<'v, V: Values<'v>>(
        &mut self,
        beat: &mut Vec<u8>,
        _key: Key<'_, 'v, V>,
    ) -> anyhow::Result<bool> {
        if self.format_type != FormatType::Json {
            return Ok(false);
        }
        beat.push(b'\n');
        let what = "writing a heartbeat to standard output";
        self.out.write_all(beat).context(what)?;
        self.out.flush().context(what)?;
        Ok(true)
    }

    fn flush(&mut self, _until: Instant) -> usize {
        let _ = self.out.flush();
        0
    }
}

/// No output: records are rendered and numbered, then dropped (for tests and benchmarks).
pub struct NullSink;

impl Sink for NullSink {
    #[inline]
    fn take_record<'v, V: Values<'v>>(
        &mut self,
        _record: &mut Vec<u8>,
        _key: Key<'_, 'v, V>,
    ) -> bool {
        false
    }

    fn heartbeat<'v, V: Values<'v>>(
        &mut self,
        _beat: &mut Vec<u8>,
        _key: Key<'_, 'v, V>,
    ) -> anyhow::Result<bool> {
        Ok(false)
    }

    fn flush(&mut self, _until: Instant) -> usize {
        0
    }
}
