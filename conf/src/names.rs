//! The key space: where each name written in the file goes: to an own key (`keys.rs`), to
//! librdkafka (passthrough), or to an error naming the line.
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

use crate::keys::{OwnKey, OWN_KEYS};
use crate::varnish::unsupported_option;

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

/// Decides where `name` goes.
pub(crate) fn classify(name: &str) -> Target {
    if let Some(key) = OWN_KEYS
        .iter()
        .find(|key| key.name == name || key.aliases.contains(&name))
    {
        return Target::Own(key);
    }
    if let Some(property) = name.strip_prefix("kafka.") {
        return kafka_property(name, property);
    }
    if let Some(letter) = name.strip_prefix("varnish.arg.") {
        if letter.len() == 1 && letter.bytes().all(|byte| byte.is_ascii_alphabetic()) {
            return Target::Refused(unsupported_option(letter));
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
        .chain(OWN_KEYS.iter().flat_map(|key| key.aliases.iter().copied()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> String {
        match classify(name) {
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
            ("varnish.arg.m", "own varnish.arg.m"),
            ("varnish.arg.N", "refused varnish.arg.N (-N VSM file) no longer exists in Varnish 7; name the varnishd working directory instead: varnish.arg.n = <dir>"),
            ("edgeship.spool", "refused unknown edgeship key \"edgeship.spool\" (known: edgeship.key.format, edgeship.heartbeat.interval, edgeship.queue.full, edgeship.shutdown.timeout, edgeship.spool.dir, edgeship.spool.max.bytes, edgeship.spool.fsync.interval, edgeship.spool.when_full, edgeship.hostname, edgeship.metrics.address, edgeship.state.dir)"),
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
}
