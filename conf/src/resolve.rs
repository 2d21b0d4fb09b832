//! Validation: raw entries into the resolved [`Config`], every problem collected, command-line
//! overrides applied, defaults filled in, conflicting settings refused.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{
    Config, EdgeshipSettings, FormatPlans, FormatType, Grouping, KafkaProperty, KafkaSettings,
    LogSettings, Output, Partitioning, QueueFullPolicy, SequenceStart, Sourced, StatisticsSettings,
    VarnishSettings, DEFAULT_FORMAT, DEFAULT_KEY_FORMAT, DEFAULT_STATISTICS_FILE,
};
use edgeship_formats::{FormatKind, Plan};

use crate::error::{ConfigError, Errors, LineError};
use crate::keys::{classify, Target};
use crate::raw::RawConfig;

/// Values from the command line (`-n -q -T -L -g -r`). Each one that is set replaces the file's
/// value.
///
/// varnishkafka parsed its command line before the file, so the FILE won there; edgeship does
/// the usual thing and lets the command line win, so an operator can point a production
/// configuration at a replay file (`-r`) or another instance (`-n`) without editing it. A
/// command-line `-r` also sets aside the file's `varnish.arg.n` and a command-line `-n` the
/// file's `varnish.arg.r`, since Varnish reads from one or the other.
///
/// The typed fields are meant to be filled with [`parse_timeout`](crate::parse_timeout),
/// [`parse_limit`](crate::parse_limit) and [`Grouping`]'s `FromStr`, which apply the file's
/// rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `-n`: varnishd working directory or instance name.
    pub name: Option<String>,
    /// `-q`: VSL query.
    pub query: Option<String>,
    /// `-T`: transaction timeout in seconds.
    pub timeout: Option<f64>,
    /// `-L`: incomplete-transaction limit.
    pub limit: Option<u32>,
    /// `-g`: grouping.
    pub grouping: Option<Grouping>,
    /// `-r`: binary log file to read instead of the live log.
    pub file: Option<PathBuf>,
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

/// Own keys as the file set them: `None` until a line sets one. Defaults are applied in
/// [`RawConfig::resolve`], the one place that knows them all.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub(crate) kafka_topic: Option<Sourced<String>>,
    pub(crate) kafka_partition: Option<Sourced<PartitionSetting>>,
    pub(crate) format: Option<Sourced<String>>,
    pub(crate) format_type: Option<Sourced<FormatType>>,
    pub(crate) output: Option<Sourced<Output>>,
    pub(crate) sequence_start: Option<Sourced<SequenceStart>>,
    pub(crate) tag_size_max: Option<Sourced<usize>>,
    pub(crate) logline_scratch_size: Option<Sourced<usize>>,
    pub(crate) daemonize: Option<Sourced<bool>>,
    pub(crate) log_level: Option<Sourced<u8>>,
    pub(crate) log_stderr: Option<Sourced<bool>>,
    pub(crate) log_syslog: Option<Sourced<bool>>,
    pub(crate) log_kafka_msg_error: Option<Sourced<bool>>,
    pub(crate) log_rate_max: Option<Sourced<u32>>,
    pub(crate) log_rate_period: Option<Sourced<Duration>>,
    pub(crate) statistics_file: Option<Sourced<PathBuf>>,
    pub(crate) statistics_interval: Option<Sourced<Duration>>,
    pub(crate) varnish_query: Option<Sourced<String>>,
    pub(crate) varnish_instance: Option<Sourced<String>>,
    pub(crate) varnish_timeout: Option<Sourced<f64>>,
    pub(crate) varnish_limit: Option<Sourced<u32>>,
    pub(crate) varnish_grouping: Option<Sourced<Grouping>>,
    pub(crate) varnish_file: Option<Sourced<PathBuf>>,
    pub(crate) key_format: Option<Sourced<String>>,
    pub(crate) heartbeat_interval: Option<Sourced<Duration>>,
    pub(crate) queue_full: Option<Sourced<QueueFullPolicy>>,
    pub(crate) hostname: Option<Sourced<String>>,
}

fn value_of<T>(setting: Option<Sourced<T>>, default: T) -> T {
    setting.map_or(default, |sourced| sourced.value)
}

/// The first line that set an own key, to explain a conflicting second one.
struct FirstSetting<'a> {
    written: &'a str,
    value: &'a str,
    line: usize,
}

/// librdkafka properties in file order; a later line replaces an earlier one of the same name.
#[derive(Default)]
struct PropertyList(Vec<KafkaProperty>);

impl PropertyList {
    fn set(&mut self, property: KafkaProperty) {
        // The earlier entry is removed and the new one appended, rather than replaced in place,
        // so the list keeps the order in which values took effect. librdkafka has aliases
        // (`linger.ms` / `queue.buffering.max.ms`) where the last one set wins, and that must
        // stay the last one set in the file.
        self.0.retain(|existing| existing.name != property.name);
        self.0.push(property);
    }
}

impl RawConfig {
    /// The librdkafka properties alone (global, then topic), in effect order, without
    /// validating anything else: so a caller can have librdkafka check them even when other
    /// lines are bad, and report every problem of the file in one go.
    pub fn kafka_properties(&self) -> (Vec<KafkaProperty>, Vec<KafkaProperty>) {
        let mut global = PropertyList::default();
        let mut topic_properties = PropertyList::default();
        for entry in &self.entries {
            let property = |name| KafkaProperty {
                name,
                value: entry.value.clone(),
                written: entry.name.clone(),
                line: entry.line,
            };
            match classify(&entry.name, &entry.value) {
                Target::KafkaGlobal(name) => global.set(property(name)),
                Target::KafkaTopic(name) => topic_properties.set(property(name)),
                Target::Own(_) | Target::Refused(_) => {}
            }
        }
        (global.0, topic_properties.0)
    }

    /// Validates the entries into a [`Config`], applying `overrides` (command line beats file).
    /// Returns every problem at once, syntax problems included, in line order.
    pub fn resolve(&self, overrides: &Overrides) -> Result<Config, Errors> {
        let mut errors: Vec<LineError> = self.problems.clone();
        let mut error = |line: Option<usize>, message: String| {
            errors.push(LineError::new(&self.source, line, message));
        };
        let mut draft = Draft::default();
        let mut first_settings: HashMap<&'static str, FirstSetting<'_>> = HashMap::new();
        // Keys that appear at all, even with a bad value: a bad `kafka.topic` line is reported
        // once, not again as a missing topic.
        let mut mentioned: HashSet<&'static str> = HashSet::new();

        for entry in &self.entries {
            let written = entry.name.as_str();
            let line = entry.line;
            match classify(written, &entry.value) {
                Target::Own(key) => {
                    mentioned.insert(key.name);
                    if entry.value.is_empty() {
                        error(Some(line), format!("{written:?} requires a value"));
                        continue;
                    }
                    // The same key set twice to the same value is harmless; set to another
                    // value it is a contradiction, and which line was meant is a guess.
                    if let Some(first) = first_settings.get(key.name) {
                        if first.value != entry.value {
                            error(
                                Some(line),
                                format!(
                                    "{written} = {} conflicts with line {}, which set {} = {}",
                                    entry.value, first.line, first.written, first.value
                                ),
                            );
                        }
                        continue;
                    }
                    first_settings.insert(
                        key.name,
                        FirstSetting {
                            written,
                            value: &entry.value,
                            line,
                        },
                    );
                    if let Err(reason) = (key.apply)(&mut draft, &entry.value, line) {
                        error(Some(line), format!("{written}: {reason}"));
                    }
                }
                // Collected by `kafka_properties`, below.
                Target::KafkaGlobal(_) | Target::KafkaTopic(_) => {}
                Target::Refused(message) => error(Some(line), message),
            }
        }

        let varnish = self.varnish_settings(&mut draft, overrides, &mut error);
        let (global, topic_properties) = self.kafka_properties();

        // When the output line itself is bad, whether a topic is needed is unknown: say nothing.
        let output_known = draft.output.is_some() || !mentioned.contains("output");
        let output = value_of(draft.output, Output::Kafka);
        if output == Output::Kafka && output_known && !mentioned.contains("kafka.topic") {
            error(
                None,
                "missing kafka.topic (required when output = kafka)".to_owned(),
            );
        }

        // `partition = %l` says "key by host name"; an explicit key format saying something
        // else contradicts it.
        let partition = draft.kafka_partition.take();
        let key_format = match (&partition, draft.key_format.take()) {
            (
                Some(Sourced {
                    value: PartitionSetting::ByHostName,
                    line: partition_line,
                }),
                Some(explicit),
            ) if explicit.value != DEFAULT_KEY_FORMAT => {
                error(
                    explicit.line,
                    format!(
                        "edgeship.key.format = {} conflicts with {}, which keys records by host \
                         name (%l); remove one of them",
                        explicit.value,
                        partition_line.map_or("partition = %l".to_owned(), |line| format!(
                            "partition = %l on line {line}"
                        )),
                    ),
                );
                explicit
            }
            (_, Some(explicit)) => explicit,
            (
                Some(Sourced {
                    value: PartitionSetting::ByHostName,
                    line,
                }),
                None,
            ) => Sourced {
                value: DEFAULT_KEY_FORMAT.to_owned(),
                line: *line,
            },
            (_, None) => Sourced::default_value(DEFAULT_KEY_FORMAT.to_owned()),
        };
        let partitioning = match partition.map(|sourced| sourced.value) {
            Some(PartitionSetting::Fixed(number)) => Partitioning::Fixed(number),
            Some(PartitionSetting::ByHostName | PartitionSetting::Partitioner) | None => {
                Partitioning::ByKey
            }
        };

        // The formats are compiled here, so a bad format line is reported together with every
        // other bad line, not after they are fixed; the plans are what the shipper runs.
        let format = draft
            .format
            .take()
            .unwrap_or_else(|| Sourced::default_value(DEFAULT_FORMAT.to_owned()));
        let format_type = value_of(draft.format_type.take(), FormatType::String);
        let tag_size_max = value_of(draft.tag_size_max, 2048);
        let kind = match format_type {
            FormatType::Json => FormatKind::Json,
            FormatType::String => FormatKind::String,
        };
        let record_plan = Plan::compile(&format.value, kind)
            .map(|plan| plan.with_max_tag_size(tag_size_max))
            .map_err(|problem| error(format.line, problem.to_string()));
        let key_plan = Plan::compile(&key_format.value, FormatKind::String)
            .map_err(|problem| error(key_format.line, format!("edgeship.key.format: {problem}")));
        let (Ok(record_plan), Ok(key_plan)) = (record_plan, key_plan) else {
            return Err(Errors::new(errors));
        };

        if !errors.is_empty() {
            return Err(Errors::new(errors));
        }

        Ok(Config {
            source: self.source.clone(),
            output,
            format,
            format_type,
            sequence_start: value_of(draft.sequence_start, SequenceStart::Number(0)),
            tag_size_max,
            logline_scratch_size: value_of(draft.logline_scratch_size, 4 * 1024 * 1024),
            daemonize: value_of(draft.daemonize, true),
            log: LogSettings {
                level: value_of(draft.log_level, 6),
                stderr: value_of(draft.log_stderr, true),
                syslog: value_of(draft.log_syslog, false),
                kafka_msg_error: value_of(draft.log_kafka_msg_error, true),
                rate_max: value_of(draft.log_rate_max, 100),
                rate_period: value_of(draft.log_rate_period, Duration::from_secs(60)),
            },
            statistics: StatisticsSettings {
                file: value_of(
                    draft.statistics_file,
                    PathBuf::from(DEFAULT_STATISTICS_FILE),
                ),
                interval: Some(value_of(draft.statistics_interval, Duration::from_secs(60)))
                    .filter(|interval| !interval.is_zero()),
            },
            varnish,
            kafka: KafkaSettings {
                topic: draft.kafka_topic,
                partitioning,
                key_format,
                global,
                topic_properties,
            },
            edgeship: EdgeshipSettings {
                heartbeat_interval: value_of(draft.heartbeat_interval, Duration::from_secs(10)),
                queue_full: value_of(draft.queue_full, QueueFullPolicy::Block),
                hostname: draft.hostname,
            },
            plans: FormatPlans {
                record: record_plan,
                key: key_plan,
            },
        })
    }

    /// The Varnish settings: file values, then command-line overrides on top.
    fn varnish_settings(
        &self,
        draft: &mut Draft,
        overrides: &Overrides,
        error: &mut impl FnMut(Option<usize>, String),
    ) -> VarnishSettings {
        // Varnish reads either a live instance or a file, never both; within one source (the
        // file, or the command line) naming both is refused, across them the command line wins.
        if let (Some(instance), Some(file)) = (&draft.varnish_instance, &draft.varnish_file) {
            error(
                file.line,
                format!(
                    "varnish.arg.r = {} conflicts with varnish.arg.n = {}{}: Varnish reads \
                     either a log file or a live instance",
                    file.value.display(),
                    instance.value,
                    instance
                        .line
                        .map_or(String::new(), |line| format!(" on line {line}")),
                ),
            );
        }
        if overrides.name.is_some() && overrides.file.is_some() {
            error(
                None,
                "the command line gives both -n and -r: Varnish reads either a log file or a \
                 live instance"
                    .to_owned(),
            );
        }
        let mut instance = draft.varnish_instance.take().map(|sourced| sourced.value);
        let mut file = draft.varnish_file.take().map(|sourced| sourced.value);
        if let Some(name) = &overrides.name {
            instance = Some(name.clone());
            file = None;
        }
        if let Some(path) = &overrides.file {
            file = Some(path.clone());
            instance = None;
        }
        VarnishSettings {
            instance,
            query: overrides
                .query
                .clone()
                .or_else(|| draft.varnish_query.take().map(|sourced| sourced.value)),
            timeout: overrides
                .timeout
                .or_else(|| draft.varnish_timeout.take().map(|sourced| sourced.value)),
            limit: overrides
                .limit
                .or_else(|| draft.varnish_limit.take().map(|sourced| sourced.value)),
            grouping: overrides
                .grouping
                .unwrap_or_else(|| value_of(draft.varnish_grouping.take(), Grouping::Vxid)),
            file,
        }
    }
}

impl Config {
    /// Reads and resolves the configuration file at `path`, applying `overrides`.
    pub fn from_path(path: impl AsRef<Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let raw = RawConfig::read(path)?;
        Ok(raw.resolve(overrides)?)
    }
}
