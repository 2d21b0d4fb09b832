//! The resolved configuration: typed, defaulted, validated. The running program sees only these
//! types; every value that came from the file keeps its line so later checks (the format
//! compiler, librdkafka's own validation) can still report `path:line: message`.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{LineError, ValueError};

/// varnishkafka's built-in format, used when the file sets none.
pub const DEFAULT_FORMAT: &str = "%l %n %t %{Varnish:time_firstbyte}x %h \
    %{Varnish:handling}x/%s %b %m http://%{Host}i%U%q - - \
    %{Referer}i %{X-Forwarded-For}i %{User-agent}i";

/// The Kafka message key format used when nothing else is configured: the host name, so one
/// host's records stay in one partition, in order (a deliberate difference from varnishkafka,
/// which sent no key).
pub const DEFAULT_KEY_FORMAT: &str = "%l";

/// A value together with the line that set it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// The 1-based line that set it; `None` for a default or a command-line value.
    pub line: Option<usize>,
}

impl<T> Sourced<T> {
    /// A value with no line: a default, or a command-line override.
    pub fn default_value(value: T) -> Self {
        Sourced { value, line: None }
    }

    /// A value set on `line`.
    pub fn at(value: T, line: usize) -> Self {
        Sourced {
            value,
            line: Some(line),
        }
    }
}

use edgeship_formats::Plan;

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The source label (the file's path) used in messages.
    pub source: String,
    /// `output`: where rendered records go. Default [`Output::Kafka`].
    pub output: Output,
    /// `format`: the format string and the line that set it (`None` for the built-in
    /// [`DEFAULT_FORMAT`]). It is compiled by the `formats` crate, whose errors read
    /// `format col N: reason`; report them with [`Config::error_at`] and this line.
    pub format: Sourced<String>,
    /// `format.type`: default [`FormatType::String`].
    pub format_type: FormatType,
    /// `sequence.number`: the first `%n`. Default `Number(0)`.
    pub sequence_start: SequenceStart,
    /// `tag.size.max`: tag payloads longer than this many bytes are truncated (and counted).
    /// Default 2048.
    pub tag_size_max: usize,
    /// `logline.scratch.size`: accepted for compatibility and kept, but informational only.
    /// varnishkafka exited when a record's scratch space overflowed; edgeship has no fixed
    /// scratch buffer and never exits on a large record. Default 4194304.
    pub logline_scratch_size: usize,
    /// `daemonize`: fork into the background. Default true, as in varnishkafka, which also turns
    /// stderr logging off when it daemonizes.
    pub daemonize: bool,
    /// `log.*`: the daemon's own log.
    pub log: LogSettings,
    /// `log.statistics.*`: the JSON statistics file.
    pub statistics: StatisticsSettings,
    /// `varnish.arg.*` and the `-n -q -T -L -g -r` command-line values.
    pub varnish: VarnishSettings,
    /// `kafka.*`: topic, partitioning, key, and the librdkafka passthrough properties.
    pub kafka: KafkaSettings,
    /// `edgeship.*`: settings varnishkafka did not have.
    pub edgeship: EdgeshipSettings,
    /// The record and key formats, compiled (and checked) while resolving.
    pub plans: FormatPlans,
    /// What was accepted but should be told to the operator, displayed as `path:line: message`
    /// like errors (`varnish.arg.m` and the VSL query it runs as). The shipper logs them at
    /// start and `--check-config` prints them.
    pub notices: Vec<LineError>,
}

/// The compiled formats: `format` (with `format.type` and `tag.size.max`) and
/// `edgeship.key.format`.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatPlans {
    /// The record format.
    pub record: Plan,
    /// The message key format (always a string format).
    pub key: Plan,
}

impl Config {
    /// A problem found after resolution (e.g. a format compile error or a property librdkafka
    /// refused), located in this configuration's file: pass the value's `line`.
    pub fn error_at(&self, line: Option<usize>, message: impl std::fmt::Display) -> LineError {
        LineError::new(&self.source, line, message.to_string())
    }
}

/// Where rendered records go (`output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `kafka`: produce to the Kafka topic.
    Kafka,
    /// `stdout` or `-`: print one record per line, like varnishncsa.
    Stdout,
    /// `null`: read and render everything, emit nothing (for testing and benchmarks).
    Null,
}

/// How records are rendered (`format.type`, case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatType {
    /// `string`: text, literals copied.
    String,
    /// `json`: one JSON object per record, literals ignored.
    Json,
}

/// The largest `sequence.number` accepted: 2^63 - 1, so a run has at least 2^63 numbers before
/// its sequence would wrap (at a million records a second, 290,000 years). Nearer `u64::MAX`, a
/// wrap would restart the numbers inside one run, which the auditor would read as duplicates.
pub const MAX_SEQUENCE_START: u64 = i64::MAX as u64;

/// The first sequence number (`sequence.number`, at most [`MAX_SEQUENCE_START`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceStart {
    /// A fixed start (decimal, `0x` hex or leading-`0` octal, as `strtoull` base 0 reads it).
    Number(u64),
    /// `time`: unix seconds at start-up times 1,000,000.
    Time,
}

impl SequenceStart {
    /// The start value for a process started at `now`.
    pub fn start_value(self, now: SystemTime) -> u64 {
        match self {
            SequenceStart::Number(number) => number,
            SequenceStart::Time => now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs().saturating_mul(1_000_000)),
        }
    }
}

/// The daemon's own log (`log.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    /// `log.level`: the most verbose severity logged, 1 (emergencies) .. 7 (debug). Default 6.
    pub level: u8,
    /// `log.stderr`: log to standard error. Default true.
    pub stderr: bool,
    /// `log.syslog`: log to syslog. Default false, but a daemonized edgeship turns it on unless
    /// the file sets it (and refuses `false`): a daemon's standard error is `/dev/null`.
    pub syslog: bool,
    /// The line that set `log.syslog`; `None` when it is the default.
    pub syslog_line: Option<usize>,
    /// `log.syslog.socket`: the local syslog socket. Default `/dev/log`. A daemon that cannot
    /// reach it refuses to start, since its errors would go nowhere.
    pub syslog_socket: PathBuf,
    /// `log.kafka.msg.error`: log each failed delivery. Default true.
    pub kafka_msg_error: bool,
    /// `log.rate.max`: at most this many log lines per error type per period. Default 100.
    pub rate_max: u32,
    /// `log.rate.period`: the rate-limit period. Default 60 s.
    pub rate_period: Duration,
}

/// The JSON statistics file (`log.statistics.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticsSettings {
    /// `log.statistics.file`. Default `None`: no statistics file. (varnishkafka defaulted to
    /// `/tmp/varnishkafka.stats.json`, a fixed name in a world-writable directory that another
    /// local user could create first; set the path explicitly to keep it.)
    pub file: Option<PathBuf>,
    /// `log.statistics.interval`; `None` when statistics are off: set to 0, or no file is
    /// configured. Default 60 s.
    pub interval: Option<Duration>,
}

/// How the Varnish log is read (`varnish.arg.*`, overridden by the command line).
#[derive(Debug, Clone, PartialEq)]
pub struct VarnishSettings {
    /// `-n` / `varnish.arg.n`: varnishd working directory or instance name. Default `None`:
    /// Varnish's own default instance.
    pub instance: Option<String>,
    /// `-q` / `varnish.arg.q` (and `varnish.arg.m`, translated): VSL query, checked by the
    /// `edgeship-query` parser. Two queries (the file's `varnish.arg.q` and `varnish.arg.m`)
    /// are joined by a newline, as varnishlog joins several `-q` options: either selects.
    /// Default `None`: every transaction.
    pub query: Option<String>,
    /// `-T` / `varnish.arg.T`: seconds between a transaction's Begin and End before Varnish
    /// forces it complete. Default `None`: Varnish's default (120).
    pub timeout: Option<f64>,
    /// `-L` / `varnish.arg.L`: incomplete transactions kept before the oldest is forced
    /// complete. Default `None`: Varnish's default (1000).
    pub limit: Option<u32>,
    /// `-g` / `varnish.arg.g`: grouping. Default [`Grouping::Vxid`], as in Varnish.
    pub grouping: Grouping,
    /// `-r` / `varnish.arg.r`: read a binary log written by `varnishlog -w` instead of the live
    /// log. Default `None`.
    pub file: Option<PathBuf>,
}

/// VSL transaction grouping (`-g`). Only the two modes that deliver client requests as
/// transactions are accepted; `session` and `raw` are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// `vxid`: each transaction on its own (Varnish's default).
    Vxid,
    /// `request`: a client request with its sub-requests and backend fetches.
    Request,
}

impl FromStr for Grouping {
    type Err = ValueError;

    /// `vxid` or `request`, case-insensitive.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "vxid" => Ok(Grouping::Vxid),
            "request" => Ok(Grouping::Request),
            "session" | "raw" => Err(ValueError(format!(
                "grouping {value:?} is not supported (edgeship renders client request \
                 transactions; use vxid or request)"
            ))),
            _ => Err(ValueError(format!(
                "unknown grouping {value:?} (expected vxid or request)"
            ))),
        }
    }
}

/// Kafka settings (`kafka.*` and the older unprefixed spellings).
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaSettings {
    /// `kafka.topic` (older: `topic`). Always `Some` when [`Config::output`] is
    /// [`Output::Kafka`]; optional otherwise.
    pub topic: Option<Sourced<String>>,
    /// `kafka.partition` (older: `partition`): who picks the partition. Default
    /// [`Partitioning::ByKey`].
    pub partitioning: Partitioning,
    /// The Kafka message key's format (`edgeship.key.format`, or `%l` from
    /// `partition = %l`). Default [`DEFAULT_KEY_FORMAT`]. Every record and heartbeat carries
    /// this key, whatever the partitioning, as `docs/records.md` promises.
    pub key_format: Sourced<String>,
    /// librdkafka global properties, in file order, duplicates removed (the later line wins and
    /// its line is kept). Not validated here: the shipper builds librdkafka's configuration
    /// from them at start-up and reports a rejection with [`Config::error_at`].
    pub global: Vec<KafkaProperty>,
    /// librdkafka topic properties (`kafka.topic.<prop>`, older `topic.<prop>`), as above.
    pub topic_properties: Vec<KafkaProperty>,
}

/// Which partition records go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioning {
    /// librdkafka's partitioner chooses from the message key (`kafka.partition = -1`,
    /// `partition = %l`, or nothing set). varnishkafka's default was partition 0; edgeship
    /// keys by host name instead, so one host's records stay in order in one partition.
    ByKey,
    /// Every record to this partition (`kafka.partition = N`, `N >= 0`).
    Fixed(i32),
}

/// One librdkafka property to pass through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaProperty {
    /// librdkafka's name for it, without edgeship's prefix (e.g. `compression.codec`).
    pub name: String,
    /// The value as written; may be empty.
    pub value: String,
    /// The key exactly as written in the file (e.g. `kafka.compression.codec` or the older
    /// `compression.codec`), for messages.
    pub written: String,
    /// The 1-based line that set it.
    pub line: usize,
}

/// What happens when the local Kafka queue is full (`edgeship.queue.full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFullPolicy {
    /// `block`: stop reading the Varnish log until there is room (default). Nothing is lost
    /// unless Varnish overruns the reader, which is counted.
    Block,
    /// `drop`: drop the record and count it.
    Drop,
}

/// What happens when the disk spool is full (`edgeship.spool.when_full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolFullPolicy {
    /// `block`: wait for room in the spool (or in librdkafka's queue), so the reader stops and
    /// Varnish may overrun it, which is counted (default).
    Block,
    /// `drop_newest`: drop the record that did not fit and count it (`spool_dropped`).
    DropNewest,
}

/// The disk spool's settings (`edgeship.spool.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct SpoolSettings {
    /// `edgeship.spool.dir`: the spool's directory; `None` (the default) is no spool.
    pub dir: Option<PathBuf>,
    /// `edgeship.spool.max.bytes`: the most its segment files may take. Default 1 GiB.
    pub max_bytes: u64,
    /// `edgeship.spool.fsync.interval`: the longest time between two fsyncs of the spool,
    /// what a power loss may take. Default 1 s.
    pub fsync_interval: Duration,
    /// `edgeship.spool.when_full`: default [`SpoolFullPolicy::Block`].
    pub when_full: SpoolFullPolicy,
}

/// Settings varnishkafka did not have (`edgeship.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeshipSettings {
    /// `edgeship.heartbeat.interval`: seconds between heartbeats, at least 1. Default 10 s.
    /// Heartbeats cannot be turned off: without them the auditor cannot tell "no traffic" from
    /// "pipeline broken".
    pub heartbeat_interval: Duration,
    /// `edgeship.queue.full`: default [`QueueFullPolicy::Block`].
    pub queue_full: QueueFullPolicy,
    /// `edgeship.shutdown.timeout`: the most a clean stop may take, from the signal to exit
    /// (the wait for queue room, both flushes and the final heartbeat). Default 30 s, 1 to
    /// 3600; what is still undelivered then is counted as `undelivered_at_exit`.
    pub shutdown_timeout: Duration,
    /// `edgeship.hostname`: the name `%l` renders. Default `None`: the machine's host name.
    pub hostname: Option<Sourced<String>>,
    /// `edgeship.spool.*`: the disk spool, off unless `edgeship.spool.dir` is set.
    pub spool: SpoolSettings,
    /// `edgeship.metrics.address`: where the Prometheus metrics server listens. Default
    /// `None`: no metrics server.
    pub metrics_address: Option<std::net::SocketAddr>,
    /// `edgeship.state.dir`: where the restart checkpoint lives. Default `None`: no
    /// checkpoint, and a restart reads from the log's tail.
    pub state_dir: Option<PathBuf>,
}
