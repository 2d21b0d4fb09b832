//! The one precedence rule for librdkafka properties: which setting librdkafka applies when
//! several lines (or edgeship's defaults) set the same property, under the same name or an
//! alias. Everything the shipper reads back (idempotence, acks, the message timeout) and
//! everything it hands to librdkafka comes from [`Properties`], so the two always agree.
//!
//! The rule, as librdkafka applies it to a configuration built the way edgeship builds it:
//! - settings are applied in order (edgeship's defaults, then `kafka.*` global properties in
//!   file order, then `kafka.topic.*` properties in file order) and the last one applied wins;
//! - a global and a topic property of the same name are one property: every setting goes
//!   through `rd_kafka_conf_set`, which looks the name up among global properties first and,
//!   only when there is none, sets it on the default topic configuration (stripping a
//!   `topic.` prefix);
//! - an alias (`linger.ms` for `queue.buffering.max.ms`, `acks` for
//!   `request.required.acks`, ...) is the property it names.
//!
//! rust-rdkafka keeps the configuration in a hash map and applies it in the map's order, so
//! two names of one property would reach librdkafka in no fixed order; [`Properties`] keeps
//! one name per property (the one written last, so librdkafka's messages name what the
//! operator wrote) and the map never holds two.

use edgeship_conf::KafkaProperty;
use rdkafka::config::ClientConfig;

/// librdkafka's global aliases: setting the name on the left sets the property on the right
/// (`rdkafka_conf.c`, librdkafka 2.12).
const GLOBAL_ALIASES: &[(&str, &str)] = &[
    ("bootstrap.servers", "metadata.broker.list"),
    ("max.in.flight", "max.in.flight.requests.per.connection"),
    ("sasl.mechanism", "sasl.mechanisms"),
    (
        "sasl.oauthbearer.client.credentials.client.id",
        "sasl.oauthbearer.client.id",
    ),
    (
        "sasl.oauthbearer.client.credentials.client.secret",
        "sasl.oauthbearer.client.secret",
    ),
    ("max.partition.fetch.bytes", "fetch.message.max.bytes"),
    ("linger.ms", "queue.buffering.max.ms"),
    ("retries", "message.send.max.retries"),
    ("compression.type", "compression.codec"),
];

/// librdkafka's topic aliases, as above.
const TOPIC_ALIASES: &[(&str, &str)] = &[
    ("acks", "request.required.acks"),
    ("delivery.timeout.ms", "message.timeout.ms"),
    ("compression.type", "compression.codec"),
    ("enable.auto.commit", "auto.commit.enable"),
];

/// Names librdkafka knows only as topic properties (aliases included): `rd_kafka_conf_set`
/// finds no global property of that name and sets the default topic configuration's. Every
/// other topic property name (`compression.codec`, `enable.auto.commit`, ...) is also a global
/// property, which is the one set.
const TOPIC_ONLY: &[&str] = &[
    "acks",
    "auto.commit.enable",
    "auto.offset.reset",
    "compression.level",
    "consume.callback.max.messages",
    "delivery.timeout.ms",
    "message.timeout.ms",
    "msg_order_cmp",
    "offset.store.path",
    "offset.store.sync.interval.ms",
    "partitioner",
    "partitioner_cb",
    "produce.offset.report",
    "queuing.strategy",
    "request.required.acks",
    "request.timeout.ms",
];

/// Global properties whose names start with `topic.`: librdkafka finds these among global
/// properties, so their prefix is part of the name.
const GLOBAL_TOPIC_NAMES: &[&str] = &[
    "topic.metadata.refresh.interval.ms",
    "topic.metadata.refresh.fast.interval.ms",
    "topic.metadata.refresh.fast.cnt",
    "topic.metadata.refresh.sparse",
    "topic.metadata.propagation.max.ms",
    "topic.blacklist",
];

/// The property a name sets, as `rd_kafka_conf_set` resolves it: its scope and its real
/// (non-alias) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot<'n> {
    Global(&'n str),
    Topic(&'n str),
}

fn slot(name: &str) -> Slot<'_> {
    let topic_name = match name.strip_prefix("topic.") {
        Some(rest) if !GLOBAL_TOPIC_NAMES.contains(&name) => Some(rest),
        _ => TOPIC_ONLY.contains(&name).then_some(name),
    };
    match topic_name {
        Some(topic_name) => Slot::Topic(real_name(TOPIC_ALIASES, topic_name)),
        None => Slot::Global(real_name(GLOBAL_ALIASES, name)),
    }
}

fn real_name<'n>(aliases: &[(&str, &'static str)], name: &'n str) -> &'n str {
    aliases
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |&(_, real)| real)
}

/// One property as librdkafka will be given it.
#[derive(Debug, Clone)]
pub struct Setting<'a> {
    /// The name it is set under: as written in the file (or edgeship's default's name).
    pub name: &'a str,
    /// The value.
    pub value: String,
    /// The file line that set it; `None` for a default edgeship adds.
    pub origin: Option<&'a KafkaProperty>,
}

/// librdkafka's properties, one setting per property, each the one librdkafka applies.
#[derive(Debug, Clone, Default)]
pub struct Properties<'a> {
    settings: Vec<Setting<'a>>,
}

impl<'a> Properties<'a> {
    /// No properties.
    pub fn new() -> Properties<'a> {
        Properties::default()
    }

    /// Sets a default of edgeship's own: applied before the file's lines, which override it.
    pub fn set_default(&mut self, name: &'static str, value: String) {
        self.set(Setting {
            name,
            value,
            origin: None,
        });
    }

    /// Applies one of the file's lines: it replaces whatever set the same property before,
    /// under any of its names.
    pub fn set_from_file(&mut self, property: &'a KafkaProperty) {
        self.set(Setting {
            name: &property.name,
            value: property.value.clone(),
            origin: Some(property),
        });
    }

    fn set(&mut self, setting: Setting<'a>) {
        let target = slot(setting.name);
        match self.settings.iter_mut().find(|s| slot(s.name) == target) {
            Some(existing) => *existing = setting,
            None => self.settings.push(setting),
        }
    }

    /// The setting librdkafka applies for the property `name` (or an alias of it) names.
    pub fn get(&self, name: &str) -> Option<&Setting<'a>> {
        let target = slot(name);
        self.settings.iter().find(|s| slot(s.name) == target)
    }

    /// Replaces the value librdkafka is given for the property `name` names, keeping the
    /// name it is set under; nothing happens if it is not set.
    pub fn replace_value(&mut self, name: &str, value: &str) {
        let target = slot(name);
        if let Some(setting) = self.settings.iter_mut().find(|s| slot(s.name) == target) {
            setting.value = value.to_owned();
        }
    }

    /// The setting handed to librdkafka under exactly `name`, for mapping librdkafka's refusal
    /// (which names the key it was given) back to a line.
    pub fn set_as(&self, name: &str) -> Option<&Setting<'a>> {
        self.settings.iter().find(|s| s.name == name)
    }

    /// rust-rdkafka's configuration: every setting under its name.
    pub fn client_config(&self) -> ClientConfig {
        let mut client = ClientConfig::new();
        for setting in &self.settings {
            client.set(setting.name, &setting.value);
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// File lines (name, value), numbered from 1, as `set_from_file` receives them.
    fn lines(written: &[(&str, &str)]) -> Vec<KafkaProperty> {
        let numbered = written.iter().zip(1..);
        let line = |(&(name, value), line): (&(&str, &str), usize)| KafkaProperty {
            name: name.to_owned(),
            value: value.to_owned(),
            written: format!("kafka.{name}"),
            line,
        };
        numbered.map(line).collect()
    }

    fn properties(lines: &[KafkaProperty]) -> Properties<'_> {
        let mut properties = Properties::new();
        lines.iter().for_each(|line| properties.set_from_file(line));
        properties
    }

    /// Lines applied in order; a name read back; the name the winning setting is handed to
    /// librdkafka under and its value; how many of the lines' names reach librdkafka.
    struct Case {
        written: &'static [(&'static str, &'static str)],
        read: &'static str,
        applied: (&'static str, &'static str),
        handed_over: usize,
    }

    #[test]
    fn the_setting_applied_last_wins_under_any_name_of_its_property() {
        let cases = [
            Case {
                written: &[("linger.ms", "5"), ("queue.buffering.max.ms", "10")],
                read: "linger.ms",
                applied: ("queue.buffering.max.ms", "10"),
                handed_over: 1,
            },
            Case {
                written: &[("request.required.acks", "1"), ("acks", "all")],
                read: "request.required.acks",
                applied: ("acks", "all"),
                handed_over: 1,
            },
            Case {
                written: &[
                    ("delivery.timeout.ms", "1000"),
                    ("message.timeout.ms", "2000"),
                ],
                read: "delivery.timeout.ms",
                applied: ("message.timeout.ms", "2000"),
                handed_over: 1,
            },
            // A topic-only property is the same with or without librdkafka's `topic.` prefix.
            Case {
                written: &[
                    ("message.timeout.ms", "2000"),
                    ("topic.delivery.timeout.ms", "3000"),
                ],
                read: "message.timeout.ms",
                applied: ("topic.delivery.timeout.ms", "3000"),
                handed_over: 1,
            },
            // Global properties named `topic.*` keep their prefix.
            Case {
                written: &[
                    ("topic.metadata.refresh.sparse", "false"),
                    ("metadata.refresh.sparse", "true"),
                ],
                read: "topic.metadata.refresh.sparse",
                applied: ("topic.metadata.refresh.sparse", "false"),
                handed_over: 2,
            },
            // `compression.codec` is a global and a topic property: the prefix names the topic's.
            Case {
                written: &[
                    ("compression.type", "lz4"),
                    ("topic.compression.codec", "zstd"),
                ],
                read: "compression.codec",
                applied: ("compression.type", "lz4"),
                handed_over: 2,
            },
        ];
        for case in cases {
            let written = case.written;
            let lines = lines(written);
            let properties = properties(&lines);
            let setting = properties.get(case.read).expect("set");
            let applied = (setting.name, setting.value.as_str());
            assert_eq!(applied, case.applied, "{written:?}");
            let client = properties.client_config();
            assert_eq!(
                client.get(case.applied.0),
                Some(case.applied.1),
                "{written:?}"
            );
            let handed_over = written
                .iter()
                .filter(|(name, _)| client.get(name).is_some());
            assert_eq!(handed_over.count(), case.handed_over, "{written:?}");
        }
    }

    #[test]
    fn the_file_overrides_edgeship_s_defaults() {
        let lines = lines(&[("enable.idempotence", "false")]);
        let mut properties = Properties::new();
        properties.set_default("enable.idempotence", "true".to_owned());
        let default = properties.get("enable.idempotence").expect("set");
        assert_eq!((default.value.as_str(), default.origin), ("true", None));
        properties.set_from_file(&lines[0]);
        let setting = properties.get("enable.idempotence").expect("set");
        assert_eq!(
            (setting.value.as_str(), setting.origin),
            ("false", Some(&lines[0]))
        );
    }
}
