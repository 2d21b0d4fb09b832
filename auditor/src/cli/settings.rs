//! The command line turned into the library's settings: the audit's [`Config`], where to read
//! (files or Kafka) and how to report. Every conflict is refused here, before anything is read.

use std::io::{self, IsTerminal};
use std::time::Duration;

use super::args::{Args, ReportFormat};
use super::properties::{self, PropertiesError};
use crate::audit::Config;
use crate::kafka::{KafkaOptions, OffsetRange};
use crate::time::{format_time, parse_bound};

/// Why the command line cannot be run as given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsError {
    /// `--from` or `--to` is not a time.
    #[error(
        "--{name} {text:?}: expected a UTC time such as 2026-11-23T14 or 2026-11-23T14:30:00Z"
    )]
    Time {
        /// The option's name.
        name: &'static str,
        /// What it was given.
        text: String,
    },
    /// `--from` is not before `--to`.
    #[error("--from {} is not before --to {}", format_time(*from), format_time(*to))]
    EmptyWindow {
        /// `--from` in seconds.
        from: i64,
        /// `--to` in seconds.
        to: i64,
    },
    /// `--from` to `--to` spans more hours than `--max-hours`.
    #[error(
        "--from {} to --to {} spans more than --max-hours {max_hours} hours: audit it in \
         shorter windows, or raise --max-hours",
        format_time(*from),
        format_time(*to)
    )]
    WindowTooLong {
        /// `--from` in seconds.
        from: i64,
        /// `--to` in seconds.
        to: i64,
        /// `--max-hours`.
        max_hours: u32,
    },
    /// The thresholds are out of order.
    #[error("thresholds must satisfy 0 <= --warn <= --error (got {warn} and {error})")]
    Thresholds {
        /// `--warn`.
        warn: f64,
        /// `--error`.
        error: f64,
    },
    /// Both files and brokers.
    #[error("give either files or --brokers, not both")]
    FilesAndBrokers,
    /// Brokers without a topic.
    #[error("--brokers needs at least one --topic")]
    NoTopic,
    /// Kafka options without brokers.
    #[error("--topic, --offsets, --group and --kafka-config need --brokers")]
    KafkaWithoutBrokers,
    /// Nothing to read.
    #[error("no input: give files (or - for stdin), or --brokers and --topic")]
    NoInput,
    /// A group with explicit offsets.
    #[error("--group splits partitions by time window; it cannot be combined with --offsets")]
    GroupWithOffsets,
    /// Explicit offsets with a window.
    #[error("give either --offsets or --from/--to, not both")]
    OffsetsWithWindow,
    /// An `--offsets` range that does not parse.
    #[error("--offsets {0:?}: expected TOPIC:PARTITION:START[-END]")]
    Offsets(String),
    /// A Kafka property given in a way that cannot be read.
    #[error(transparent)]
    Properties(#[from] PropertiesError),
}

/// Where the records come from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    /// Files (`-` for standard input).
    Files(Vec<String>),
    /// Topics.
    Kafka(KafkaOptions),
}

/// What the command line asks for, checked.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub(super) config: Config,
    pub(super) source: Source,
    pub(super) format: ReportFormat,
    /// Most hours a report may span when no window is given.
    pub(super) max_hours: u32,
    /// Show progress on stderr.
    pub(super) progress: bool,
    /// Warnings about the options (a secret given with `-X`), for stderr.
    pub(super) warnings: Vec<String>,
}

impl Settings {
    /// Checks the options, in the order their errors are reported.
    pub(super) fn from_args(args: &Args) -> Result<Self, OptionsError> {
        let config = config(args)?;
        let mut warnings = Vec::new();
        let source = match &args.brokers {
            Some(brokers) => {
                if !args.files.is_empty() {
                    return Err(OptionsError::FilesAndBrokers);
                }
                if args.topics.is_empty() {
                    return Err(OptionsError::NoTopic);
                }
                Source::Kafka(kafka_options(args, brokers, &config, &mut warnings)?)
            }
            None => {
                if !args.topics.is_empty()
                    || !args.offsets.is_empty()
                    || args.group.is_some()
                    || args.kafka_config.is_some()
                {
                    return Err(OptionsError::KafkaWithoutBrokers);
                }
                if args.files.is_empty() {
                    return Err(OptionsError::NoInput);
                }
                Source::Files(args.files.clone())
            }
        };
        Ok(Self {
            config,
            source,
            format: args.output,
            max_hours: args.max_hours,
            progress: !args.quiet && io::stderr().is_terminal(),
            warnings,
        })
    }
}

/// The audit's configuration: window, thresholds, field names and topics.
fn config(args: &Args) -> Result<Config, OptionsError> {
    let from = bound("from", args.from.as_deref())?;
    let to = bound("to", args.to.as_deref())?;
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(OptionsError::EmptyWindow { from, to });
        }
        if to - from > i64::from(args.max_hours) * 3600 {
            return Err(OptionsError::WindowTooLong {
                from,
                to,
                max_hours: args.max_hours,
            });
        }
    }
    if !(args.warn >= 0.0 && args.error >= args.warn) {
        return Err(OptionsError::Thresholds {
            warn: args.warn,
            error: args.error,
        });
    }
    Ok(Config {
        fields: args.fields.names(),
        from,
        to,
        warn_percent: args.warn,
        error_percent: args.error,
        topics: args.topics.clone(),
        max_hours: args.max_hours,
        ..Config::default()
    })
}

/// `--from` or `--to` in seconds, when given.
fn bound(name: &'static str, text: Option<&str>) -> Result<Option<i64>, OptionsError> {
    text.map(|t| {
        parse_bound(t).ok_or_else(|| OptionsError::Time {
            name,
            text: t.to_string(),
        })
    })
    .transpose()
}

/// What to read from the brokers.
fn kafka_options(
    args: &Args,
    brokers: &str,
    config: &Config,
    warnings: &mut Vec<String>,
) -> Result<KafkaOptions, OptionsError> {
    if args.group.is_some() && !args.offsets.is_empty() {
        return Err(OptionsError::GroupWithOffsets);
    }
    if !args.offsets.is_empty() && (config.from.is_some() || config.to.is_some()) {
        return Err(OptionsError::OffsetsWithWindow);
    }
    let offsets = args
        .offsets
        .iter()
        .map(|text| parse_offsets(text))
        .collect::<Result<Vec<_>, _>>()?;
    // File, then environment, then -X: later ones win, as librdkafka keeps the last set.
    let mut properties = match &args.kafka_config {
        Some(path) => properties::from_file(path)?,
        None => Vec::new(),
    };
    properties.extend(properties::from_environment(std::env::vars_os()));
    let (given, secret_warnings) = properties::from_arguments(&args.properties)?;
    properties.extend(given);
    warnings.extend(secret_warnings);
    Ok(KafkaOptions {
        brokers: brokers.to_string(),
        topics: args.topics.clone(),
        from: config.from,
        to: config.to,
        grace: i64::from(args.grace),
        offsets,
        group: args.group.clone(),
        properties,
        timeout: Duration::from_secs(u64::from(args.timeout.max(1))),
    })
}

/// `TOPIC:PARTITION:START[-END]`.
fn parse_offsets(text: &str) -> Result<OffsetRange, OptionsError> {
    let bad = || OptionsError::Offsets(text.to_string());
    let (rest, range) = text.rsplit_once(':').ok_or_else(bad)?;
    let (topic, partition) = rest.rsplit_once(':').ok_or_else(bad)?;
    let partition: i32 = partition.parse().map_err(|_| bad())?;
    let (start, end) = match range.split_once('-') {
        Some((s, e)) => (
            s.parse().map_err(|_| bad())?,
            Some(e.parse().map_err(|_| bad())?),
        ),
        None => (range.parse().map_err(|_| bad())?, None),
    };
    if topic.is_empty() || start < 0 || end.is_some_and(|e: i64| e < start) {
        return Err(bad());
    }
    Ok(OffsetRange {
        topic: topic.to_string(),
        partition,
        start,
        end,
    })
}
