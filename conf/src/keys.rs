//! The key space: which names edgeship knows, what each one sets, and where the others go
//! (librdkafka passthrough, or an error naming the line).
//!
//! Adding a key (e.g. a later `edgeship.spool.dir`) is one [`OWN_KEYS`] entry plus the field it
//! fills in `Draft` and in the resolved [`Config`](crate::Config).
//!
//! Unprefixed names: varnishkafka's early configurations wrote librdkafka properties without
//! the `kafka.` prefix (`metadata.broker.list`, `topic.request.required.acks`, ...). The rule
//! edgeship applies, in order:
//! 1. an own key (`format`, `log.level`, ...) or an old alias (`topic`, `partition`) is itself;
//! 2. `kafka.topic.<prop>` and `topic.<prop>` are librdkafka topic properties, except
//!    `topic.metadata.*` and `topic.blacklist`, which are librdkafka GLOBAL properties of that
//!    full name (varnishkafka could not set those at all);
//! 3. `kafka.<prop>` is a librdkafka global property;
//! 4. a name in one of edgeship's own namespaces (`format.`, `log.`, `logline.`, `tag.`,
//!    `sequence.`, `output.`, `daemonize.`, `varnish.`, `edgeship.`) that is not a known key is
//!    an error here: it is clearly meant for edgeship and clearly wrong;
//! 5. any other unprefixed name shaped like a librdkafka property (lowercase letters, digits,
//!    `.`, `_`) is a librdkafka global property, exactly as if written with `kafka.`, unless it
//!    is one typo away from an own key (`ouput`, `sequence_number`), which is reported with a
//!    suggestion. librdkafka validates the rest when the shipper builds its configuration at
//!    start-up, so a misspelt property still stops start-up with its line.
//!
//! Consequence: librdkafka properties that start with one of edgeship's namespaces
//! (`log.queue`, `log.connection.close`, ...) must be written with the `kafka.` prefix.

use crate::config::{FormatType, Grouping, Output, QueueFullPolicy, SequenceStart, Sourced};
use crate::resolve::{Draft, PartitionSetting};
use crate::values::{parse_bool, parse_c_unsigned, parse_limit, parse_timeout, parse_whole};
use crate::varnish::unsupported_option;

/// An edgeship key: its canonical name and how a value sets it.
pub(crate) struct OwnKey {
    /// The canonical (prefixed) name.
    pub(crate) name: &'static str,
    /// Parses `value` (never empty: empty values are refused before) from `line` into the draft.
    /// The error is the reason only; the caller prefixes the key as written.
    pub(crate) apply: fn(&mut Draft, &str, usize) -> Result<(), String>,
}

/// Every key edgeship interprets itself. The defaults live in `resolve.rs`, next to the code
/// that fills them in, and are listed in the crate documentation.
pub(crate) static OWN_KEYS: &[OwnKey] = &[
    OwnKey {
        name: "kafka.topic",
        apply: |draft, value, line| {
            draft.kafka_topic = Some(Sourced::at(topic_name(value)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "kafka.partition",
        apply: |draft, value, line| {
            draft.kafka_partition = Some(Sourced::at(partition(value)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "format",
        apply: |draft, value, line| {
            draft.format = Some(Sourced::at(value.to_owned(), line));
            Ok(())
        },
    },
    OwnKey {
        name: "format.type",
        apply: |draft, value, line| {
            let format_type = match value.to_ascii_lowercase().as_str() {
                "string" => FormatType::String,
                "json" => FormatType::Json,
                _ => return Err(format!("unknown value {value:?} (expected string or json)")),
            };
            draft.format_type = Some(Sourced::at(format_type, line));
            Ok(())
        },
    },
    OwnKey {
        name: "output",
        apply: |draft, value, line| {
            let output = match value {
                "kafka" => Output::Kafka,
                "stdout" | "-" => Output::Stdout,
                "null" => Output::Null,
                _ => {
                    return Err(format!(
                        "unknown value {value:?} (expected kafka, stdout (or -) or null)"
                    ))
                }
            };
            draft.output = Some(Sourced::at(output, line));
            Ok(())
        },
    },
    OwnKey {
        name: "sequence.number",
        apply: |draft, value, line| {
            let start = if value == "time" {
                SequenceStart::Time
            } else {
                SequenceStart::Number(parse_c_unsigned(value).ok_or_else(|| {
                    format!(
                        "bad number {value:?} (expected a whole number, 0x hex, or time; \
                         varnishkafka read this as 0)"
                    )
                })?)
            };
            draft.sequence_start = Some(Sourced::at(start, line));
            Ok(())
        },
    },
    OwnKey {
        name: "tag.size.max",
        apply: |draft, value, line| {
            draft.tag_size_max = Some(Sourced::at(size(value)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "logline.scratch.size",
        apply: |draft, value, line| {
            draft.logline_scratch_size = Some(Sourced::at(size(value)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "daemonize",
        apply: |draft, value, line| {
            draft.daemonize = Some(Sourced::at(parse_bool(value)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "log.level",
        apply: |draft, value, line| {
            let level = parse_whole(value, 1, 7)?;
            draft.log_level = Some(Sourced::at(narrow(level)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "log.stderr",
        apply: |draft, value, line| {
            draft.log_stderr = Some(Sourced::at(parse_bool(value)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "log.syslog",
        apply: |draft, value, line| {
            draft.log_syslog = Some(Sourced::at(parse_bool(value)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "log.kafka.msg.error",
        apply: |draft, value, line| {
            draft.log_kafka_msg_error = Some(Sourced::at(parse_bool(value)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "log.rate.max",
        apply: |draft, value, line| {
            let max = parse_whole(value, 0, u64::from(u32::MAX))?;
            draft.log_rate_max = Some(Sourced::at(narrow(max)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "log.rate.period",
        apply: |draft, value, line| {
            draft.log_rate_period = Some(Sourced::at(seconds(value, 1)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "log.statistics.file",
        apply: |draft, value, line| {
            draft.statistics_file = Some(Sourced::at(value.into(), line));
            Ok(())
        },
    },
    OwnKey {
        name: "log.statistics.interval",
        apply: |draft, value, line| {
            draft.statistics_interval = Some(Sourced::at(seconds(value, 0)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "varnish.arg.q",
        apply: |draft, value, line| {
            draft.varnish_query = Some(Sourced::at(value.to_owned(), line));
            Ok(())
        },
    },
    OwnKey {
        name: "varnish.arg.n",
        apply: |draft, value, line| {
            draft.varnish_instance = Some(Sourced::at(value.to_owned(), line));
            Ok(())
        },
    },
    OwnKey {
        name: "varnish.arg.T",
        apply: |draft, value, line| {
            let timeout = parse_timeout(value).map_err(|error| error.to_string())?;
            draft.varnish_timeout = Some(Sourced::at(timeout, line));
            Ok(())
        },
    },
    OwnKey {
        name: "varnish.arg.L",
        apply: |draft, value, line| {
            let limit = parse_limit(value).map_err(|error| error.to_string())?;
            draft.varnish_limit = Some(Sourced::at(limit, line));
            Ok(())
        },
    },
    OwnKey {
        name: "varnish.arg.g",
        apply: |draft, value, line| {
            let grouping: Grouping = value
                .parse()
                .map_err(|error: crate::ValueError| error.to_string())?;
            draft.varnish_grouping = Some(Sourced::at(grouping, line));
            Ok(())
        },
    },
    OwnKey {
        name: "varnish.arg.r",
        apply: |draft, value, line| {
            draft.varnish_file = Some(Sourced::at(value.into(), line));
            Ok(())
        },
    },
    OwnKey {
        name: "edgeship.key.format",
        apply: |draft, value, line| {
            draft.key_format = Some(Sourced::at(value.to_owned(), line));
            Ok(())
        },
    },
    OwnKey {
        name: "edgeship.heartbeat.interval",
        apply: |draft, value, line| {
            // Heartbeats are how the auditor tells "no traffic" from "pipeline broken", so
            // there is no 0 = off.
            draft.heartbeat_interval = Some(Sourced::at(seconds(value, 1)?, line));
            Ok(())
        },
    },
    OwnKey {
        name: "edgeship.queue.full",
        apply: |draft, value, line| {
            let policy = match value.to_ascii_lowercase().as_str() {
                "block" => QueueFullPolicy::Block,
                "drop" => QueueFullPolicy::Drop,
                _ => return Err(format!("unknown value {value:?} (expected block or drop)")),
            };
            draft.queue_full = Some(Sourced::at(policy, line));
            Ok(())
        },
    },
    OwnKey {
        name: "edgeship.hostname",
        apply: |draft, value, line| {
            if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "{value:?} is not a host name (it contains white space or control characters)"
                ));
            }
            draft.hostname = Some(Sourced::at(value.to_owned(), line));
            Ok(())
        },
    },
];

/// Old spellings varnishkafka's early configurations used for own keys.
const ALIASES: &[(&str, &str)] = &[("topic", "kafka.topic"), ("partition", "kafka.partition")];

/// Keys of older varnishkafka versions that no longer mean anything, with what to do instead.
const RETIRED_KEYS: &[(&str, &str)] = &[
    (
        "format.key",
        "no longer exists; the Kafka message key is set with edgeship.key.format",
    ),
    (
        "format.key.type",
        "no longer exists; the Kafka message key (edgeship.key.format) is always text",
    ),
    ("log.data.copy", "is no longer used; remove the line"),
    (
        "log.line.scratch.size",
        "is the old name of logline.scratch.size",
    ),
    (
        "log.hash.size",
        "is no longer used (Varnish groups transactions now); remove the line",
    ),
    (
        "log.hash.max",
        "is no longer used (Varnish groups transactions now); remove the line",
    ),
    (
        "logline.hash.size",
        "is no longer used (Varnish groups transactions now); remove the line",
    ),
    (
        "logline.hash.max",
        "is no longer used (Varnish groups transactions now); remove the line",
    ),
];

/// Prefixes reserved for edgeship's own keys: an unknown name under one of them is an error.
const OWN_NAMESPACES: &[&str] = &[
    "format.",
    "log.",
    "logline.",
    "tag.",
    "sequence.",
    "output.",
    "daemonize.",
    "varnish.",
    "edgeship.",
];

/// librdkafka global properties whose names start with `topic.`; they must not be taken for
/// topic properties.
fn is_global_topic_property(property: &str) -> bool {
    property.starts_with("metadata.") || property == "blacklist"
}

/// Where one raw name goes.
pub(crate) enum Target {
    /// An own key (found through its canonical name or an alias).
    Own(&'static OwnKey),
    /// A librdkafka global property with this name.
    KafkaGlobal(String),
    /// A librdkafka topic property with this name.
    KafkaTopic(String),
    /// Not a key edgeship accepts; the message says why.
    Refused(String),
}

/// Decides where `name` goes; `value` only shapes the message for a removed Varnish option.
pub(crate) fn classify(name: &str, value: &str) -> Target {
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| canonical);
    if let Some(key) = OWN_KEYS.iter().find(|key| key.name == canonical) {
        return Target::Own(key);
    }
    if let Some(property) = name.strip_prefix("kafka.") {
        return kafka_property(name, property);
    }
    if let Some(letter) = name.strip_prefix("varnish.arg.") {
        if letter.len() == 1 && letter.bytes().all(|byte| byte.is_ascii_alphabetic()) {
            return Target::Refused(unsupported_option(letter, value));
        }
    }
    if let Some((_, reason)) = RETIRED_KEYS.iter().find(|(retired, _)| *retired == name) {
        return Target::Refused(format!("{name} {reason}"));
    }
    if name.starts_with("edgeship.") {
        let known: Vec<&str> = OWN_KEYS
            .iter()
            .map(|key| key.name)
            .filter(|known| known.starts_with("edgeship."))
            .collect();
        return Target::Refused(format!(
            "unknown edgeship key {name:?} (known: {})",
            known.join(", ")
        ));
    }
    if OWN_NAMESPACES.iter().any(|space| name.starts_with(space)) {
        return Target::Refused(unknown_key(name, 2));
    }
    if let Some(property) = name.strip_prefix("topic.") {
        return kafka_property(name, &format!("topic.{property}"));
    }
    if looks_like_librdkafka_property(name) && closest_own_key(name, 1).is_none() {
        return Target::KafkaGlobal(name.to_owned());
    }
    Target::Refused(unknown_key(name, 2))
}

/// `property` is what follows `kafka.` (or the whole unprefixed name).
fn kafka_property(written: &str, property: &str) -> Target {
    let (property, is_topic) = match property.strip_prefix("topic.") {
        Some(topic_property) if is_global_topic_property(topic_property) => (property, false),
        Some(topic_property) => (topic_property, true),
        None => (property, false),
    };
    if !looks_like_librdkafka_property(property) {
        return Target::Refused(format!(
            "{written:?} does not name a librdkafka property (expected lowercase letters, \
             digits, '.' and '_' after the prefix)"
        ));
    }
    if is_topic {
        Target::KafkaTopic(property.to_owned())
    } else {
        Target::KafkaGlobal(property.to_owned())
    }
}

/// librdkafka's property names: lowercase ASCII letters, digits, `.` and `_`, starting with a
/// letter, with no empty dot-separated part.
fn looks_like_librdkafka_property(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'.' | b'_')
        })
        && name.split('.').all(|part| !part.is_empty())
}

fn unknown_key(name: &str, max_distance: usize) -> String {
    match closest_own_key(name, max_distance) {
        Some(suggestion) => format!("unknown key {name:?} (did you mean {suggestion:?}?)"),
        None => format!("unknown key {name:?}"),
    }
}

/// The own key or alias nearest to `name` (case-insensitively) within `max_distance` edits.
fn closest_own_key(name: &str, max_distance: usize) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    OWN_KEYS
        .iter()
        .map(|key| key.name)
        .chain(ALIASES.iter().map(|(alias, _)| *alias))
        // Lengths further apart than the allowed edits can never be within them; skipping
        // those keeps a long garbage key from costing a full distance table per candidate.
        .filter(|candidate| candidate.len().abs_diff(lower.len()) <= max_distance)
        .map(|candidate| {
            (
                edit_distance(&lower, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= max_distance)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over bytes (key names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &a_byte) in a.as_bytes().iter().enumerate() {
        current[0] = i + 1;
        for (j, &b_byte) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_byte != b_byte);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
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

fn size(value: &str) -> Result<usize, String> {
    let size = parse_whole(value, 1, u64::from(u32::MAX))?;
    narrow(size)
}

fn seconds(value: &str, min: u64) -> Result<std::time::Duration, String> {
    let seconds = parse_whole(value, min, u64::from(u32::MAX))?;
    Ok(std::time::Duration::from_secs(seconds))
}

/// Converts a range-checked number to the field's type; the ranges above make failure
/// impossible, but the daemon does not panic on "impossible".
fn narrow<T: TryFrom<u64>>(number: u64) -> Result<T, String> {
    T::try_from(number).map_err(|_| format!("{number} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> String {
        match classify(name, "") {
            Target::Own(key) => format!("own {}", key.name),
            Target::KafkaGlobal(property) => format!("global {property}"),
            Target::KafkaTopic(property) => format!("topic {property}"),
            Target::Refused(message) => format!("refused {message}"),
        }
    }

    #[test]
    fn names_go_where_the_rule_says() {
        let cases = [
            ("kafka.topic", "own kafka.topic"),
            ("topic", "own kafka.topic"),
            ("partition", "own kafka.partition"),
            ("edgeship.key.format", "own edgeship.key.format"),
            ("kafka.compression.codec", "global compression.codec"),
            ("compression.codec", "global compression.codec"),
            ("metadata.broker.list", "global metadata.broker.list"),
            ("kafka.topic.request.required.acks", "topic request.required.acks"),
            ("topic.message.timeout.ms", "topic message.timeout.ms"),
            ("kafka.topic.metadata.refresh.interval.ms", "global topic.metadata.refresh.interval.ms"),
            ("topic.metadata.refresh.interval.ms", "global topic.metadata.refresh.interval.ms"),
            ("kafka.log.queue", "global log.queue"),
            ("debug", "global debug"),
            ("partitioner", "global partitioner"),
            ("log.foo", "refused unknown key \"log.foo\""),
            ("log.levle", "refused unknown key \"log.levle\" (did you mean \"log.level\"?)"),
            ("ouput", "refused unknown key \"ouput\" (did you mean \"output\"?)"),
            ("sequence_number", "refused unknown key \"sequence_number\" (did you mean \"sequence.number\"?)"),
            ("Format", "refused unknown key \"Format\" (did you mean \"format\"?)"),
            ("kafka.", "refused \"kafka.\" does not name a librdkafka property (expected lowercase letters, digits, '.' and '_' after the prefix)"),
            ("format.key", "refused format.key no longer exists; the Kafka message key is set with edgeship.key.format"),
            ("varnish.arg.qq", "refused unknown key \"varnish.arg.qq\" (did you mean \"varnish.arg.q\"?)"),
            ("varnish.arg.m", "refused varnish.arg.m (-m tag:regex) no longer exists in Varnish 7; use a VSL query instead: varnish.arg.q = <query> (see vsl-query(7))"),
            ("edgeship.spool", "refused unknown edgeship key \"edgeship.spool\" (known: edgeship.key.format, edgeship.heartbeat.interval, edgeship.queue.full, edgeship.hostname)"),
        ];
        for (name, expected) in cases {
            assert_eq!(target(name), expected, "name {name:?}");
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("output", "output"), 0);
        assert_eq!(edit_distance("ouput", "output"), 1);
        assert_eq!(edit_distance("partitioner", "partition"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("%l"), Ok(PartitionSetting::ByHostName));
        assert_eq!(partition("-1"), Ok(PartitionSetting::Partitioner));
        assert_eq!(partition("0"), Ok(PartitionSetting::Fixed(0)));
        assert_eq!(
            partition("2147483647"),
            Ok(PartitionSetting::Fixed(i32::MAX))
        );
        for bad in ["-2", "2147483648", "%h", "x", "-", "1.5"] {
            assert!(partition(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn topic_names() {
        assert!(topic_name("webrequest_text").is_ok());
        assert!(topic_name("a.b-c").is_ok());
        assert!(topic_name("web request").is_err());
        assert!(topic_name("..").is_err());
        assert!(topic_name(&"x".repeat(250)).is_err());
    }
}
