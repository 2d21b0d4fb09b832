//! edgeship-conf: varnishkafka's configuration file, parsed and validated.
//!
//! Two steps, as in ripgrep's low/high arguments: [`RawConfig::parse`] / [`RawConfig::read`]
//! turn the file into `(name, value, line)` entries, and [`RawConfig::resolve`] validates them
//! into a [`Config`], applying command-line [`Overrides`]. [`Config::from_path`] does both.
//! Every problem is reported, not just the first, each as `path:line: message` (file-level ones
//! as `path: message`), in line order.
//!
//! This crate knows nothing of Kafka or Varnish beyond names: the format string is compiled by
//! `edgeship-formats` and the `kafka.*` passthrough is validated by librdkafka when the shipper
//! builds its configuration; both keep the line so they can report `path:line:` too
//! ([`Config::error_at`]).
//!
//! # Line syntax
//! `name = value`, split at the first `=`, both sides trimmed. Blank lines and lines whose
//! first non-blank character is `#` are skipped; a `#` anywhere else is part of the value. A
//! line without `=` is an error (varnishkafka only warned). See the `raw` module for details.
//!
//! # Keys
//!
//! The rows of edgeship's own keys say what their entries in the `keys` module say (a unit test
//! compares them), so this table and the defaults applied cannot drift apart.
//!
//! | key | value | default |
//! |---|---|---|
//! | `kafka.topic` (older: `topic`) | Kafka topic name | required when `output = kafka` |
//! | `kafka.partition` (older: `partition`) | partition number, `-1` (partitioner) or `%l` (key by host name) | partitioner, keyed by `%l` (varnishkafka: partition 0, no key) |
//! | `kafka.topic.<prop>` (older: `topic.<prop>`) | librdkafka topic property, passed through | |
//! | `kafka.<prop>` (older: `<prop>`, see below) | librdkafka global property, passed through | |
//! | `format` | format string | varnishkafka's [`DEFAULT_FORMAT`] |
//! | `format.type` | `string` or `json` (any case) | `string` |
//! | `output` | `kafka`, `stdout` (or `-`), `null` | `kafka` |
//! | `sequence.number` | integer up to 2^63 - 1 (`0x` hex, leading-`0` octal, as `strtoull` base 0) or `time` | `0` |
//! | `tag.size.max` | bytes, at least 1 | `2048` |
//! | `logline.scratch.size` | bytes, at least 1; informational only (edgeship never exits on overflow) | `4194304` |
//! | `daemonize` | boolean | `true` |
//! | `log.level` | 1 (emergencies) .. 7 (debug) | `6` |
//! | `log.stderr` | boolean | `true` |
//! | `log.syslog` | boolean; when daemonized, on unless set, and `false` is refused | `false` |
//! | `log.syslog.socket` | path of the local syslog socket; a daemon that cannot reach it does not start | `/dev/log` |
//! | `log.kafka.msg.error` | boolean | `true` |
//! | `log.rate.max` | count per period | `100` |
//! | `log.rate.period` | seconds, at least 1 | `60` |
//! | `log.statistics.file` | path (a symbolic link, or a file another user owns, is refused) | none: no statistics unless set (varnishkafka: `/tmp/varnishkafka.stats.json`) |
//! | `log.statistics.interval` | seconds, `0` = off | `60` |
//! | `varnish.arg.q` / `-q` | VSL query (vsl-query(7) of Varnish 7.1) | all transactions |
//! | `varnish.arg.m` | Varnish 3's `TAG:REGEX`, run as the query `Tag ~ "REGEX"` (with a notice) | none |
//! | `varnish.arg.n` / `-n` | varnishd working directory or instance name | Varnish's default |
//! | `varnish.arg.T` / `-T` | seconds, 0 .. 4294967295 | Varnish's (120) |
//! | `varnish.arg.L` / `-L` | 1 .. 2147483647 | Varnish's (1000) |
//! | `varnish.arg.g` / `-g` | `vxid` or `request` | `vxid` |
//! | `varnish.arg.r` / `-r` | binary log file (`varnishlog -w`) to read instead of the live log | live log |
//! | `edgeship.key.format` | format of the Kafka message key | `%l` ([`DEFAULT_KEY_FORMAT`]) |
//! | `edgeship.heartbeat.interval` | seconds, at least 1 | `10` |
//! | `edgeship.queue.full` | `block` or `drop` | `block` |
//! | `edgeship.shutdown.timeout` | seconds, 1 .. 3600 | `30` |
//! | `edgeship.spool.dir` | directory of the disk spool (created if missing; one edgeship per directory) | none: no spool, records wait in librdkafka's queue only |
//! | `edgeship.spool.max.bytes` | bytes, at least 1048576 | `1073741824` |
//! | `edgeship.spool.fsync.interval` | seconds, 0 .. 3600 (`0`: at every main-loop turn) | `1` |
//! | `edgeship.spool.when_full` | `block` or `drop_newest` | `block` |
//! | `edgeship.hostname` | the name `%l` renders | the machine's host name |
//! | `edgeship.metrics.address` | address and port for Prometheus's `GET /metrics` (e.g. `127.0.0.1:9132`) | off: no metrics server |
//! | `edgeship.state.dir` | directory for the restart checkpoint (resume from the log) | none: a restart reads from the log's tail |
//!
//! Command-line values override the file's (varnishkafka did the opposite).
//!
//! Booleans: a leading integer decides as in varnishkafka (`0` false, `1`, `-1`, `0x1`, `2abc`
//! true); otherwise `true`/`yes`/`on` and `false`/`no`/`off` in any case. Anything else is an
//! error, where varnishkafka silently read it as false. Numbers are checked strictly
//! (varnishkafka used `atoi`, reading `12x` as 12).
//!
//! Older unprefixed librdkafka properties (`metadata.broker.list`, `compression.codec`, ...):
//! any unprefixed name that is not an edgeship key, is shaped like a librdkafka property, lies
//! outside edgeship's namespaces (`format.`, `log.`, `logline.`, `tag.`, `sequence.`,
//! `output.`, `daemonize.`, `varnish.`, `edgeship.`) and is not one typo away from an edgeship
//! key is a librdkafka global property; librdkafka rejects misspellings at start-up. Unknown
//! names inside edgeship's namespaces are errors here. The exact rule is in the `names` module.
//!
//! A key set twice with different values is refused (which one was meant is a guess); the same
//! value twice is accepted. For passthrough properties the later line wins, as librdkafka
//! would have it.
//!
//! Queries (`varnish.arg.q`, `-q`) are checked with the `edgeship-query` parser: a bad one is
//! reported as `path:line: varnish.arg.q: column N: message` (`-q: column N: message` for
//! the command line's).
//!
//! Varnish 3's `varnish.arg.m = TAG:REGEX` is accepted so old files run unchanged: it is
//! translated into the VSL query that keeps the same transactions (`RxRequest:^(?!PURGE$)`
//! runs as `ReqMethod ~ "^(?!PURGE$)"`), and [`Config::notices`] says so. With
//! `varnish.arg.q` too, the two are joined as varnishlog joins two `-q` options (either
//! selects); a command-line `-q` replaces both. A Varnish 3 tag with no Varnish 7 equivalent
//! is refused on its line. Other Varnish 3/4 options are reported with what to use instead:
//! `varnish.arg.N` (VSM file)
//! points to `varnish.arg.n`; `-C`, `-c`, `-b`, `-E`, `-i`, `-I`, `-x`, `-X`, `-R`, `-Q`, `-D`,
//! `-o` each say why they are refused. Retired varnishkafka keys (`format.key`,
//! `logline.hash.*`, `log.data.copy`, ...) are reported likewise.
#![forbid(unsafe_code)]

mod config;
mod error;
mod keys;
mod names;
mod raw;
mod resolve;
mod values;
mod varnish;

pub use config::{
    Config, EdgeshipSettings, FormatPlans, FormatType, Grouping, KafkaProperty, KafkaSettings,
    LogSettings, Output, Partitioning, QueueFullPolicy, SequenceStart, Sourced, SpoolFullPolicy,
    SpoolSettings, StatisticsSettings, VarnishSettings, DEFAULT_FORMAT, DEFAULT_KEY_FORMAT,
    MAX_SEQUENCE_START,
};
pub use error::{ConfigError, Errors, LineError, ValueError};
pub use raw::{RawConfig, RawEntry};
pub use resolve::Overrides;
pub use values::{parse_limit, parse_timeout, MAX_TIMEOUT_SECONDS};
