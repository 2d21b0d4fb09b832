//! The own keys: one entry per key edgeship interprets itself (`format`, `log.level`,
//! `edgeship.*`, ...) holding its name, older spellings, parser, default and documentation line.
//!
//! Adding a key (e.g. a later `edgeship.spool.dir`) is one entry in the list below, plus the
//! field of the resolved [`Config`](crate::Config) that `resolve.rs` fills from it. The list
//! generates the key table ([`OWN_KEYS`]), the `Draft` the file's lines fill in and the
//! defaults. The crate documentation's table is checked against the entries by a test, which
//! prints the rows it expects, so a new key's row is copied from there.
//!
//! Where names that are not own keys go (librdkafka, or an error) is `names.rs`'s business.

mod define;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::SpoolFullPolicy;
use crate::config::{FormatType, Grouping, Output, QueueFullPolicy, SequenceStart, Sourced};
use crate::config::{DEFAULT_FORMAT, DEFAULT_KEY_FORMAT, MAX_SEQUENCE_START};
use crate::values::{parse_bool, parse_c_unsigned, parse_limit, parse_timeout, parse_whole};
use define::own_keys;

/// An edgeship key: everything about it, in one entry of [`OWN_KEYS`].
///
/// `value` and `default` are the key's documentation: the daemon applies the defaults through
/// `Draft::with_defaults`, which `own_keys!` builds from the same entry, and the tests read
/// these fields to keep the crate documentation's table in step with them.
pub(crate) struct OwnKey {
    /// The canonical (prefixed) name.
    pub(crate) name: &'static str,
    /// Older spellings varnishkafka's early configurations used for it (`topic`).
    pub(crate) aliases: &'static [&'static str],
    /// What values it takes (the crate documentation's "value" column).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) value: &'static str,
    /// What holds when no line sets it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) default: Fallback,
    /// Parses `value` (never empty: empty values are refused before) from `line` into the draft.
    /// The error is the reason only; the caller prefixes the key as written.
    pub(crate) apply: fn(&mut Draft, &str, usize) -> Result<(), String>,
}

/// What a key holds when no line sets it.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Fallback {
    /// This value, written as a line would write it and read by the key's own parser, so the
    /// documented default and the one applied cannot differ. The docs show it in backticks.
    Value(&'static str),
    /// As [`Fallback::Value`], but the docs say `shown` (which names the public constant).
    Named {
        /// The value as a line would write it.
        value: &'static str,
        /// What the docs' "default" column says.
        shown: &'static str,
    },
    /// No value: `shown` says what that means (e.g. Varnish's own default applies).
    Unset(&'static str),
}

own_keys! {
    kafka_topic: String {
        name: "kafka.topic",
        aliases: ["topic"],
        value: "Kafka topic name",
        default: Unset("required when `output = kafka`"),
        parse: topic_name,
    }
    kafka_partition: PartitionSetting {
        name: "kafka.partition",
        aliases: ["partition"],
        value: "partition number, `-1` (partitioner) or `%l` (key by host name)",
        default: Unset("partitioner, keyed by `%l` (varnishkafka: partition 0, no key)"),
        parse: partition,
    }
    format: String {
        name: "format",
        aliases: [],
        value: "format string",
        default: Named { value: DEFAULT_FORMAT, shown: "varnishkafka's [`DEFAULT_FORMAT`]" },
        parse: text,
    }
    format_type: FormatType {
        name: "format.type",
        aliases: [],
        value: "`string` or `json` (any case)",
        default: Value("string"),
        parse: |value| {
            let words = [("string", FormatType::String), ("json", FormatType::Json)];
            word_in_any_case(value, &words, "string or json")
        },
    }
    output: Output {
        name: "output",
        aliases: [],
        value: "`kafka`, `stdout` (or `-`), `null`",
        default: Value("kafka"),
        parse: |value| match value {
            "kafka" => Ok(Output::Kafka),
            "stdout" | "-" => Ok(Output::Stdout),
            "null" => Ok(Output::Null),
            _ => Err(format!(
                "unknown value {value:?} (expected kafka, stdout (or -) or null)"
            )),
        },
    }
    sequence_start: SequenceStart {
        name: "sequence.number",
        aliases: [],
        value: "integer up to 2^63 - 1 (`0x` hex, leading-`0` octal, as `strtoull` base 0) or `time`",
        default: Value("0"),
        parse: sequence_start,
    }
    tag_size_max: usize {
        name: "tag.size.max",
        aliases: [],
        value: "bytes, at least 1",
        default: Value("2048"),
        parse: size,
    }
    logline_scratch_size: usize {
        name: "logline.scratch.size",
        aliases: [],
        value: "bytes, at least 1; informational only (edgeship never exits on overflow)",
        default: Value("4194304"),
        parse: size,
    }
    daemonize: bool {
        name: "daemonize",
        aliases: [],
        value: "boolean",
        default: Value("true"),
        parse: parse_bool,
    }
    log_level: u8 {
        name: "log.level",
        aliases: [],
        value: "1 (emergencies) .. 7 (debug)",
        default: Value("6"),
        parse: |value| narrow(parse_whole(value, 1, 7)?),
    }
    log_stderr: bool {
        name: "log.stderr",
        aliases: [],
        value: "boolean",
        default: Value("true"),
        parse: parse_bool,
    }
    log_syslog: bool {
        name: "log.syslog",
        aliases: [],
        value: "boolean; when daemonized, on unless set, and `false` is refused",
        default: Value("false"),
        parse: parse_bool,
    }
    log_syslog_socket: PathBuf {
        name: "log.syslog.socket",
        aliases: [],
        value: "path of the local syslog socket; a daemon that cannot reach it does not start",
        default: Value("/dev/log"),
        parse: path,
    }
    log_kafka_msg_error: bool {
        name: "log.kafka.msg.error",
        aliases: [],
        value: "boolean",
        default: Value("true"),
        parse: parse_bool,
    }
    log_rate_max: u32 {
        name: "log.rate.max",
        aliases: [],
        value: "count per period",
        default: Value("100"),
        parse: |value| narrow(parse_whole(value, 0, u64::from(u32::MAX))?),
    }
    log_rate_period: Duration {
        name: "log.rate.period",
        aliases: [],
        value: "seconds, at least 1",
        default: Value("60"),
        parse: |value| seconds(value, 1),
    }
    statistics_file: PathBuf {
        name: "log.statistics.file",
        aliases: [],
        value: "path (a symbolic link, or a file another user owns, is refused)",
        // varnishkafka wrote /tmp/varnishkafka.stats.json: a fixed name in a world-writable
        // directory, which another local user can plant first. There is no safe fixed default
        // for every host, so none is guessed (a systemd unit can set $STATE_DIRECTORY's).
        default: Unset("none: no statistics unless set (varnishkafka: `/tmp/varnishkafka.stats.json`)"),
        parse: path,
    }
    statistics_interval: Duration {
        name: "log.statistics.interval",
        aliases: [],
        value: "seconds, `0` = off",
        default: Value("60"),
        parse: |value| seconds(value, 0),
    }
    varnish_query: String {
        name: "varnish.arg.q",
        aliases: [],
        value: "VSL query (vsl-query(7) of Varnish 7.1)",
        default: Unset("all transactions"),
        parse: vsl_query,
    }
    varnish_match: String {
        name: "varnish.arg.m",
        aliases: [],
        value: "Varnish 3's `TAG:REGEX`, run as the query `Tag ~ \"REGEX\"` (with a notice)",
        default: Unset("none"),
        parse: varnish3_match,
    }
    varnish_instance: String {
        name: "varnish.arg.n",
        aliases: [],
        value: "varnishd working directory or instance name",
        default: Unset("Varnish's default"),
        parse: text,
    }
    varnish_timeout: f64 {
        name: "varnish.arg.T",
        aliases: [],
        value: "seconds, 0 .. 4294967295",
        default: Unset("Varnish's (120)"),
        parse: |value| parse_timeout(value).map_err(|error| error.to_string()),
    }
    varnish_limit: u32 {
        name: "varnish.arg.L",
        aliases: [],
        value: "1 .. 2147483647",
        default: Unset("Varnish's (1000)"),
        parse: |value| parse_limit(value).map_err(|error| error.to_string()),
    }
    varnish_grouping: Grouping {
        name: "varnish.arg.g",
        aliases: [],
        value: "`vxid` or `request`",
        default: Value("vxid"),
        parse: |value| value.parse().map_err(|error: crate::ValueError| error.to_string()),
    }
    varnish_file: PathBuf {
        name: "varnish.arg.r",
        aliases: [],
        value: "binary log file (`varnishlog -w`) to read instead of the live log",
        default: Unset("live log"),
        parse: path,
    }
    key_format: String {
        name: "edgeship.key.format",
        aliases: [],
        value: "format of the Kafka message key",
        default: Named { value: DEFAULT_KEY_FORMAT, shown: "`%l` ([`DEFAULT_KEY_FORMAT`])" },
        parse: text,
    }
    heartbeat_interval: Duration {
        name: "edgeship.heartbeat.interval",
        aliases: [],
        value: "seconds, at least 1",
        default: Value("10"),
        // Heartbeats are how the auditor tells "no traffic" from "pipeline broken", so there
        // is no 0 = off.
        parse: |value| seconds(value, 1),
    }
    queue_full: QueueFullPolicy {
        name: "edgeship.queue.full",
        aliases: [],
        value: "`block` or `drop`",
        default: Value("block"),
        parse: |value| {
            let words = [("block", QueueFullPolicy::Block), ("drop", QueueFullPolicy::Drop)];
            word_in_any_case(value, &words, "block or drop")
        },
    }
    shutdown_timeout: Duration {
        name: "edgeship.shutdown.timeout",
        aliases: [],
        value: "seconds, 1 .. 3600",
        default: Value("30"),
        // The whole of a clean stop (the wait for queue room, both flushes, the final
        // heartbeat) fits in it; the default is well under systemd's 90 s stop timeout, so
        // a stop during a broker outage ends by itself rather than by SIGKILL.
        parse: |value| seconds_at_most(value, 1, 3600),
    }
    spool_dir: PathBuf {
        name: "edgeship.spool.dir",
        aliases: [],
        value: "directory of the disk spool (created if missing; one edgeship per directory)",
        default: Unset("none: no spool, records wait in librdkafka's queue only"),
        parse: path,
    }
    spool_max_bytes: u64 {
        name: "edgeship.spool.max.bytes",
        aliases: [],
        value: "bytes, at least 1048576",
        default: Value("1073741824"),
        parse: |value| parse_whole(value, 1 << 20, u64::MAX),
    }
    spool_fsync_interval: Duration {
        name: "edgeship.spool.fsync.interval",
        aliases: [],
        value: "seconds, 0 .. 3600 (`0`: at every main-loop turn)",
        default: Value("1"),
        parse: |value| seconds_at_most(value, 0, 3600),
    }
    spool_when_full: SpoolFullPolicy {
        name: "edgeship.spool.when_full",
        aliases: [],
        value: "`block` or `drop_newest`",
        default: Value("block"),
        parse: |value| {
            let words = [("block", SpoolFullPolicy::Block), ("drop_newest", SpoolFullPolicy::DropNewest)];
            word_in_any_case(value, &words, "block or drop_newest")
        },
    }
    hostname: String {
        name: "edgeship.hostname",
        aliases: [],
        value: "the name `%l` renders",
        default: Unset("the machine's host name"),
        parse: hostname,
    }
    metrics_address: SocketAddr {
        name: "edgeship.metrics.address",
        aliases: [],
        value: "address and port for Prometheus's `GET /metrics` (e.g. `127.0.0.1:9132`)",
        default: Unset("off: no metrics server"),
        parse: socket_address,
    }
    state_dir: PathBuf {
        name: "edgeship.state.dir",
        aliases: [],
        value: "directory for the restart checkpoint (resume from the log)",
        // Unset keeps the old behaviour (a restart reads from the log's tail): a directory
        // that survives restarts and belongs to edgeship is the operator's to name.
        default: Unset("none: a restart reads from the log's tail"),
        parse: path,
    }
}

/// How `kafka.partition` was written, before it is combined with the key format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartitionSetting {
    /// `%l`: partition by host name, i.e. key by `%l` and let the partitioner choose.
    ByHostName,
    /// `-1`: the partitioner chooses.
    Partitioner,
    /// A fixed partition.
    Fixed(i32),
}

/// A value taken as written (a format, a query, a name).
fn text(value: &str) -> Result<String, String> {
    Ok(value.to_owned())
}

/// A VSL query, checked by the query parser; the error gives the column in the value.
fn vsl_query(value: &str) -> Result<String, String> {
    edgeship_query::Query::new(value).map_err(|error| error.to_string())?;
    Ok(value.to_owned())
}

/// Varnish 3's `-m TAG:REGEX`, translated into the equivalent VSL query (checked like
/// `varnish.arg.q`, so a regex PCRE2 refuses is reported on this line).
fn varnish3_match(value: &str) -> Result<String, String> {
    let query = crate::varnish::translate_m(value)?;
    edgeship_query::Query::new(&query)
        .map_err(|error| format!("translated into the VSL query {query}: {error}"))?;
    Ok(query)
}

/// An IP address and port to listen on (`127.0.0.1:9132`, `[::1]:9132`); a host name is
/// refused, as the daemon must not depend on name resolution to start.
fn socket_address(value: &str) -> Result<SocketAddr, String> {
    value.parse().map_err(|_| {
        format!("{value:?} is not an IP address and port (such as 127.0.0.1:9132 or [::1]:9132)")
    })
}

/// A path taken as written.
fn path(value: &str) -> Result<PathBuf, String> {
    Ok(value.into())
}

/// A Kafka topic name as brokers accept it.
fn topic_name(value: &str) -> Result<String, String> {
    let legal = value
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'));
    if legal && value.len() <= 249 && value != "." && value != ".." {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "{value:?} is not a valid Kafka topic name (letters, digits, '.', '_' and '-', \
             at most 249)"
        ))
    }
}

/// `%l`, `-1` or a partition number.
fn partition(value: &str) -> Result<PartitionSetting, String> {
    if value == "%l" {
        return Ok(PartitionSetting::ByHostName);
    }
    let number = if let Some(negative) = value.strip_prefix('-') {
        parse_whole(negative, 1, 1).ok().map(|_| -1)
    } else {
        parse_whole(value, 0, u64::from(i32::MAX.unsigned_abs()))
            .ok()
            .and_then(|number| i32::try_from(number).ok())
    };
    match number {
        Some(-1) => Ok(PartitionSetting::Partitioner),
        Some(fixed) => Ok(PartitionSetting::Fixed(fixed)),
        None => Err(format!(
            "bad partition {value:?} (expected a partition number, -1 for the partitioner, \
             or %l to partition by host name)"
        )),
    }
}

/// `time`, or a number as `strtoull` base 0 reads it.
fn sequence_start(value: &str) -> Result<SequenceStart, String> {
    if value == "time" {
        return Ok(SequenceStart::Time);
    }
    let number = parse_c_unsigned(value).ok_or_else(|| {
        format!(
            "bad number {value:?} (expected a whole number, 0x hex, or time; \
             varnishkafka read this as 0)"
        )
    })?;
    if number > MAX_SEQUENCE_START {
        return Err(format!(
            "{value} is out of range (at most {MAX_SEQUENCE_START}, so that at least 2^63 \
             numbers remain before the sequence would wrap)"
        ));
    }
    Ok(SequenceStart::Number(number))
}

/// The value of the word `value` spells, in any case; `expected` lists the words for the
/// message.
fn word_in_any_case<T: Copy>(
    value: &str,
    words: &[(&str, T)],
    expected: &str,
) -> Result<T, String> {
    words
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(value))
        .map(|&(_, meaning)| meaning)
        .ok_or_else(|| format!("unknown value {value:?} (expected {expected})"))
}

/// A host name for `%l`: anything without white space or control characters.
fn hostname(value: &str) -> Result<String, String> {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{value:?} is not a host name (it contains white space or control characters)"
        ));
    }
    Ok(value.to_owned())
}

fn size(value: &str) -> Result<usize, String> {
    let size = parse_whole(value, 1, u64::from(u32::MAX))?;
    narrow(size)
}

fn seconds(value: &str, min: u64) -> Result<Duration, String> {
    let seconds = parse_whole(value, min, u64::from(u32::MAX))?;
    Ok(Duration::from_secs(seconds))
}

/// Whole seconds from `min` to `max`.
fn seconds_at_most(value: &str, min: u64, max: u64) -> Result<Duration, String> {
    Ok(Duration::from_secs(parse_whole(value, min, max)?))
}

/// Converts a range-checked number to the field's type; the ranges above make failure
/// impossible, but the daemon does not panic on "impossible".
fn narrow<T: TryFrom<u64>>(number: u64) -> Result<T, String> {
    T::try_from(number).map_err(|_| format!("{number} is out of range"))
}

#[cfg(test)]
mod tests;
