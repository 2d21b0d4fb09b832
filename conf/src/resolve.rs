//! Validation: raw entries into the resolved [`Config`], every problem collected, command-line
//! overrides applied, defaults filled in, conflicting settings refused.
//!
//! [`RawConfig::resolve`] wires the steps: read the own keys into a draft (which starts at the
//! defaults of `keys.rs`), merge the Varnish settings with the command line, require a topic
//! when output is Kafka, settle the message key and partitioning, compile the formats, and
//! assemble the [`Config`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::config::{
    Config, EdgeshipSettings, FormatPlans, FormatType, Grouping, KafkaProperty, KafkaSettings,
    LogSettings, Output, Partitioning, Sourced, SpoolSettings, StatisticsSettings, VarnishSettings,
    DEFAULT_KEY_FORMAT,
};
use edgeship_formats::{FormatKind, Plan};

use crate::error::{ConfigError, Errors, LineError};
use crate::keys::{Draft, OwnKey, PartitionSetting};
use crate::names::{classify, Target};
use crate::raw::{RawConfig, RawEntry};

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

/// The problems found so far, each located in the file being resolved, and the notices (what
/// is accepted but the operator should know).
struct Problems<'a> {
    source: &'a str,
    found: Vec<LineError>,
    notices: Vec<LineError>,
}

impl Problems<'_> {
    /// A problem on `line`, or of the whole file when `line` is `None`.
    fn add(&mut self, line: Option<usize>, message: String) {
        self.found.push(LineError::new(self.source, line, message));
    }

    /// A notice on `line`, or of the whole file when `line` is `None`.
    fn notice(&mut self, line: Option<usize>, message: String) {
        self.notices
            .push(LineError::new(self.source, line, message));
    }

    /// Every problem, in line order.
    fn into_errors(self) -> Errors {
        Errors::new(self.found)
    }
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
            match classify(&entry.name) {
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
        let mut problems = Problems {
            source: &self.source,
            found: self.problems.clone(),
            notices: Vec::new(),
        };
        let draft = match Draft::with_defaults() {
            Ok(draft) => draft,
            Err(reason) => {
                problems.add(
                    None,
                    format!("internal error in edgeship's key table: {reason}"),
                );
                return Err(problems.into_errors());
            }
        };
        let OwnKeyLines {
            mut draft,
            mentioned,
            ..
        } = self.read_own_keys(draft, &mut problems);
        let varnish = varnish_settings(&mut draft, overrides, &mut problems);
        require_topic(&draft, &mentioned, &mut problems);
        let (partitioning, key_format) = key_and_partitioning(
            draft.kafka_partition.take(),
            &draft.key_format,
            &mut problems,
        );
        let plans = compile_plans(&draft, &key_format, &mut problems);
        let Some(plans) = plans.filter(|_| problems.found.is_empty()) else {
            return Err(problems.into_errors());
        };
        let derived = Derived {
            varnish,
            partitioning,
            key_format,
            kafka_properties: self.kafka_properties(),
            plans,
            notices: problems.notices,
        };
        Ok(assemble(self.source.clone(), draft, derived))
    }

    /// Reads every line that sets an own key into `draft`, and reports the lines that are
    /// neither own keys nor librdkafka properties.
    fn read_own_keys(&self, draft: Draft, problems: &mut Problems<'_>) -> OwnKeyLines<'_> {
        let mut own = OwnKeyLines {
            draft,
            first_settings: HashMap::new(),
            mentioned: HashSet::new(),
        };
        for entry in &self.entries {
            match classify(&entry.name) {
                Target::Own(key) => own.set(key, entry, problems),
                // Collected by `kafka_properties`.
                Target::KafkaGlobal(_) | Target::KafkaTopic(_) => {}
                Target::Refused(message) => problems.add(Some(entry.line), message),
            }
        }
        own
    }
}

/// The own keys as the file's lines set them.
struct OwnKeyLines<'a> {
    /// The values, on top of the defaults.
    draft: Draft,
    /// The line that first set each key, to explain a conflicting second one.
    first_settings: HashMap<&'static str, &'a RawEntry>,
    /// The keys that appear at all, even with a bad value: a bad `kafka.topic` line is
    /// reported once, not again as a missing topic.
    mentioned: HashSet<&'static str>,
}

impl<'a> OwnKeyLines<'a> {
    /// Sets one own key from its line, unless the value is empty or the key was set before.
    fn set(&mut self, key: &'static OwnKey, entry: &'a RawEntry, problems: &mut Problems<'_>) {
        self.mentioned.insert(key.name);
        let written = entry.name.as_str();
        if entry.value.is_empty() {
            problems.add(Some(entry.line), format!("{written:?} requires a value"));
            return;
        }
        // The same key set twice to the same value is harmless; set to another value it is a
        // contradiction, and which line was meant is a guess.
        if let Some(first) = self.first_settings.get(key.name) {
            if first.value != entry.value {
                problems.add(
                    Some(entry.line),
                    format!(
                        "{written} = {} conflicts with line {}, which set {} = {}",
                        entry.value, first.line, first.name, first.value
                    ),
                );
            }
            return;
        }
        self.first_settings.insert(key.name, entry);
        if let Err(reason) = (key.apply)(&mut self.draft, &entry.value, entry.line) {
            problems.add(Some(entry.line), format!("{written}: {reason}"));
        }
    }
}

/// The Varnish settings: file values, then command-line overrides on top.
fn varnish_settings(
    draft: &mut Draft,
    overrides: &Overrides,
    problems: &mut Problems<'_>,
) -> VarnishSettings {
    // Varnish reads either a live instance or a file, never both; within one source (the
    // file, or the command line) naming both is refused, across them the command line wins.
    if let (Some(instance), Some(file)) = (&draft.varnish_instance, &draft.varnish_file) {
        problems.add(
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
        problems.add(
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
        query: query_setting(draft, overrides, problems),
        timeout: overrides
            .timeout
            .or_else(|| draft.varnish_timeout.take().map(|sourced| sourced.value)),
        limit: overrides
            .limit
            .or_else(|| draft.varnish_limit.take().map(|sourced| sourced.value)),
        grouping: overrides.grouping.unwrap_or(draft.varnish_grouping.value),
        file,
    }
}

/// The VSL query: `-q` from the command line, else the file's `varnish.arg.q` and the query
/// translated from `varnish.arg.m`, both when both are set. Two queries are combined as
/// varnishlog combines two `-q` options: joined by a newline, so a transaction is kept when
/// either selects it. `varnish.arg.m` always gets a notice giving the query it runs as.
fn query_setting(
    draft: &mut Draft,
    overrides: &Overrides,
    problems: &mut Problems<'_>,
) -> Option<String> {
    let file_query = draft.varnish_query.take();
    let file_match = draft.varnish_match.take();
    if let Some(query) = &overrides.query {
        if let Err(error) = edgeship_query::Query::new(query) {
            problems.add(None, format!("-q: {error}"));
        }
        if let Some(translated) = file_match {
            problems.notice(
                translated.line,
                "varnish.arg.m is set aside: -q on the command line replaces the file's query"
                    .to_owned(),
            );
        }
        return Some(query.clone());
    }
    if let Some(notice) = overrides
        .query
        .as_deref()
        .and_then(crate::varnish::dropped_backslash)
    {
        problems.notice(None, format!("-q: {notice}"));
    }
    if let Some(query) = file_query.as_ref().filter(|_| overrides.query.is_none()) {
        if let Some(notice) = crate::varnish::dropped_backslash(&query.value) {
            problems.notice(query.line, format!("varnish.arg.q: {notice}"));
        }
    }
    let Some(translated) = file_match else {
        return file_query.map(|sourced| sourced.value);
    };
    let runs_as = format!(
        "varnish.arg.m is Varnish 3's -m TAG:REGEX; it runs as the VSL query {}",
        translated.value
    );
    match file_query {
        None => {
            problems.notice(translated.line, runs_as);
            Some(translated.value)
        }
        Some(query) => {
            let line = query
                .line
                .map_or(String::new(), |line| format!(" (line {line})"));
            problems.notice(
                translated.line,
                format!(
                    "{runs_as}, combined with varnish.arg.q{line} as varnishlog combines two \
                     -q options: a transaction is kept when either query selects it"
                ),
            );
            Some(format!("{}\n{}", query.value, translated.value))
        }
    }
}

/// `kafka.topic` is required when records go to Kafka.
fn require_topic(draft: &Draft, mentioned: &HashSet<&'static str>, problems: &mut Problems<'_>) {
    // When the output line itself is bad, whether a topic is needed is unknown: say nothing.
    let output_known = draft.output.line.is_some() || !mentioned.contains("output");
    if draft.output.value == Output::Kafka && output_known && !mentioned.contains("kafka.topic") {
        problems.add(
            None,
            "missing kafka.topic (required when output = kafka)".to_owned(),
        );
    }
}

/// The message key's format and who picks the partition, from `kafka.partition` and
/// `edgeship.key.format` together.
fn key_and_partitioning(
    partition: Option<Sourced<PartitionSetting>>,
    key_format: &Sourced<String>,
    problems: &mut Problems<'_>,
) -> (Partitioning, Sourced<String>) {
    // A key format from a line, not the default.
    let explicit = key_format.line.is_some();
    // `partition = %l` says "key by host name"; an explicit key format saying something else
    // contradicts it.
    let key_format = match &partition {
        Some(Sourced {
            value: PartitionSetting::ByHostName,
            line: partition_line,
        }) if explicit && key_format.value != DEFAULT_KEY_FORMAT => {
            problems.add(
                key_format.line,
                format!(
                    "edgeship.key.format = {} conflicts with {}, which keys records by host \
                     name (%l); remove one of them",
                    key_format.value,
                    partition_line.map_or("partition = %l".to_owned(), |line| format!(
                        "partition = %l on line {line}"
                    )),
                ),
            );
            key_format.clone()
        }
        Some(Sourced {
            value: PartitionSetting::ByHostName,
            line,
        }) if !explicit => Sourced {
            value: DEFAULT_KEY_FORMAT.to_owned(),
            line: *line,
        },
        _ => key_format.clone(),
    };
    let partitioning = match partition.map(|sourced| sourced.value) {
        Some(PartitionSetting::Fixed(number)) => Partitioning::Fixed(number),
        Some(PartitionSetting::ByHostName | PartitionSetting::Partitioner) | None => {
            Partitioning::ByKey
        }
    };
    (partitioning, key_format)
}

/// The record and key formats, compiled. They are compiled here, so a bad format line is
/// reported together with every other bad line, not after they are fixed; the plans are what
/// the shipper runs. `None` when either does not compile (the problem is reported).
fn compile_plans(
    draft: &Draft,
    key_format: &Sourced<String>,
    problems: &mut Problems<'_>,
) -> Option<FormatPlans> {
    let format = &draft.format;
    let kind = match draft.format_type.value {
        FormatType::Json => FormatKind::Json,
        FormatType::String => FormatKind::String,
    };
    let record = Plan::compile(&format.value, kind)
        .map(|plan| plan.with_max_tag_size(draft.tag_size_max.value))
        .map_err(|problem| problems.add(format.line, problem.to_string()));
    let key = Plan::compile(&key_format.value, FormatKind::String).map_err(|problem| {
        problems.add(key_format.line, format!("edgeship.key.format: {problem}"));
    });
    Some(FormatPlans {
        record: record.ok()?,
        key: key.ok()?,
    })
}

/// What resolving derives beyond the draft's own values.
struct Derived {
    varnish: VarnishSettings,
    partitioning: Partitioning,
    key_format: Sourced<String>,
    /// Global, then topic properties, as [`RawConfig::kafka_properties`] returns them.
    kafka_properties: (Vec<KafkaProperty>, Vec<KafkaProperty>),
    plans: FormatPlans,
    /// What the operator should be told at start (`Config::notices`).
    notices: Vec<LineError>,
}

/// The resolved configuration: the draft's values where they are final, the derived settings
/// for the rest.
fn assemble(source: String, draft: Draft, derived: Derived) -> Config {
    let (global, topic_properties) = derived.kafka_properties;
    Config {
        source,
        output: draft.output.value,
        format: draft.format,
        format_type: draft.format_type.value,
        sequence_start: draft.sequence_start.value,
        tag_size_max: draft.tag_size_max.value,
        logline_scratch_size: draft.logline_scratch_size.value,
        daemonize: draft.daemonize.value,
        log: LogSettings {
            level: draft.log_level.value,
            stderr: draft.log_stderr.value,
            syslog: draft.log_syslog.value,
            syslog_line: draft.log_syslog.line,
            syslog_socket: draft.log_syslog_socket.value,
            kafka_msg_error: draft.log_kafka_msg_error.value,
            rate_max: draft.log_rate_max.value,
            rate_period: draft.log_rate_period.value,
        },
        statistics: StatisticsSettings {
            interval: Some(draft.statistics_interval.value)
                .filter(|interval| !interval.is_zero() && draft.statistics_file.is_some()),
            file: draft.statistics_file.map(|file| file.value),
        },
        varnish: derived.varnish,
        kafka: KafkaSettings {
            topic: draft.kafka_topic,
            partitioning: derived.partitioning,
            key_format: derived.key_format,
            global,
            topic_properties,
        },
        edgeship: EdgeshipSettings {
            heartbeat_interval: draft.heartbeat_interval.value,
            queue_full: draft.queue_full.value,
            shutdown_timeout: draft.shutdown_timeout.value,
            hostname: draft.hostname,
            spool: SpoolSettings {
                dir: draft.spool_dir.map(|dir| dir.value),
                max_bytes: draft.spool_max_bytes.value,
                fsync_interval: draft.spool_fsync_interval.value,
                when_full: draft.spool_when_full.value,
            },
            metrics_address: draft.metrics_address.map(|address| address.value),
            state_dir: draft.state_dir.map(|dir| dir.value),
        },
        plans: derived.plans,
        notices: derived.notices,
    }
}

impl Config {
    /// Reads and resolves the configuration file at `path`, applying `overrides`.
    pub fn from_path(path: impl AsRef<Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let raw = RawConfig::read(path)?;
        Ok(raw.resolve(overrides)?)
    }
}
