//! librdkafka's configuration: built from the file's `kafka.*` passthrough with edgeship's
//! defaults and its idempotence rule, validated by librdkafka itself, and every refusal
//! reported against the line that set the property.
//!
//! Defaults edgeship adds, each overridable by the file: `client.id = edgeship`,
//! `queue.buffering.max.messages = 1000000` (varnishkafka's), `enable.idempotence = true` (so
//! broker retries never duplicate), `reconnect.backoff.max.ms = 1000` (the Java client's
//! default; librdkafka's is 10 s, so after an outage it may take 10 s to notice the broker is
//! back, and every record produced meanwhile can time out when `message.timeout.ms` is
//! shorter: issue 12, item 13), and `statistics.interval.ms` from `log.statistics.interval`. Idempotence needs `acks=all`: when the file asks for fewer acks
//! (the seed and production files say `1`) and leaves idempotence at its default, acks are
//! raised to `all` with a notice; asking for both explicitly is refused as a conflict.
//!
//! Which line wins when several set one property is [`Properties`]' rule, the one librdkafka
//! applies; the values read back here (idempotence, acks, the message timeout) follow it too.
//!
//! No message from here ever shows a property's value, for any property: a misspelt
//! `kafka.sasl.pasword` is not known to be a secret, and librdkafka echoes the value of what
//! it refuses. Messages name the key as written and its line; librdkafka's own description is
//! passed through [`without_value`] first.

use std::time::Duration;

use edgeship_conf::{Config, Errors, KafkaProperty, LineError};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, DefaultProducerContext};

use super::properties::Properties;

/// librdkafka's own default for `message.timeout.ms`.
const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(300);

/// What librdkafka's configuration is built from: the file's passthrough properties (with
/// their lines) and the statistics interval.
#[derive(Debug, Clone, Copy)]
pub struct KafkaInput<'a> {
    /// The configuration file's label, for messages.
    pub source: &'a str,
    /// `kafka.*` global properties.
    pub global: &'a [KafkaProperty],
    /// `kafka.topic.*` properties.
    pub topic: &'a [KafkaProperty],
    /// `log.statistics.interval`, which sets librdkafka's `statistics.interval.ms`; with
    /// metrics on and no statistics file, [`METRICS_STATISTICS_INTERVAL`].
    pub statistics_interval: Option<Duration>,
}

/// How often librdkafka sends its statistics when only the metrics server reads them (no
/// statistics file): its queue and broker gauges are then at most this old.
pub(super) const METRICS_STATISTICS_INTERVAL: Duration = Duration::from_secs(15);

impl<'a> KafkaInput<'a> {
    /// The input of a resolved configuration.
    pub fn from_config(config: &'a Config) -> KafkaInput<'a> {
        let for_metrics = config
            .edgeship
            .metrics_address
            .map(|_| METRICS_STATISTICS_INTERVAL);
        KafkaInput {
            source: &config.source,
            global: &config.kafka.global,
            topic: &config.kafka.topic_properties,
            statistics_interval: config.statistics.interval.or(for_metrics),
        }
    }

    fn error_at(&self, line: Option<usize>, message: impl std::fmt::Display) -> LineError {
        LineError::new(self.source, line, message.to_string())
    }
}

/// librdkafka's configuration for one input, with edgeship's defaults and idempotence rule
/// applied.
#[derive(Debug, Clone)]
pub struct KafkaConfig<'a> {
    input: KafkaInput<'a>,
    properties: Properties<'a>,
    notices: Vec<String>,
}

impl<'a> KafkaConfig<'a> {
    /// Builds the configuration. A conflict edgeship refuses (explicit idempotence with fewer
    /// acks) is reported against the file's line.
    pub fn build(input: KafkaInput<'a>) -> Result<KafkaConfig<'a>, Errors> {
        let mut properties = Properties::new();
        properties.set_default("client.id", "edgeship".to_owned());
        properties.set_default("queue.buffering.max.messages", "1000000".to_owned());
        properties.set_default("enable.idempotence", "true".to_owned());
        properties.set_default("reconnect.backoff.max.ms", "1000".to_owned());
        if let Some(interval) = input.statistics_interval {
            let millis = interval.as_millis().to_string();
            properties.set_default("statistics.interval.ms", millis);
        }
        for property in input.global.iter().chain(input.topic) {
            properties.set_from_file(property);
        }
        // A file that raises the reconnect backoff's start above the default cap moves the
        // cap with it: librdkafka refuses a start above the cap.
        let start = properties.get("reconnect.backoff.ms");
        let start = start.and_then(|setting| setting.value.trim().parse::<u64>().ok());
        let default_cap = properties
            .get("reconnect.backoff.max.ms")
            .is_some_and(|setting| setting.origin.is_none());
        if let Some(start) = start.filter(|start| default_cap && *start > 1000) {
            properties.replace_value("reconnect.backoff.max.ms", &start.to_string());
        }
        let mut config = KafkaConfig {
            input,
            properties,
            notices: Vec::new(),
        };
        config.require_acks_all()?;
        Ok(config)
    }

    /// Idempotence and acks: see the module documentation.
    fn require_acks_all(&mut self) -> Result<(), Errors> {
        let properties = &self.properties;
        let idempotence = properties.get("enable.idempotence");
        let idempotent = idempotence.is_none_or(|setting| is_true(&setting.value));
        // Only a number of acks below all is raised; a value that is not a number is left for
        // librdkafka to refuse, rather than silently replaced.
        let too_few = |value: &str| value.trim().parse::<i64>().is_ok_and(|acks| acks != -1);
        let Some(acks) = properties
            .get("request.required.acks")
            .and_then(|setting| setting.origin)
            .filter(|acks| idempotent && too_few(&acks.value))
        else {
            return Ok(());
        };
        if let Some(explicit) = idempotence.and_then(|setting| setting.origin) {
            return Err(Errors::new(vec![self.input.error_at(
                Some(acks.line),
                format!(
                    "{} (fewer acks than all) conflicts with {} (line {}): the idempotent \
                     producer needs acks=all; raise acks or turn idempotence off",
                    acks.written, explicit.written, explicit.line
                ),
            )]));
        }
        self.notices.push(format!(
            "{}:{}: {} raised to all: edgeship's idempotent producer (on by default) needs \
             it; set kafka.enable.idempotence = false to keep the acks this line sets",
            self.input.source, acks.line, acks.written
        ));
        self.properties
            .replace_value("request.required.acks", "all");
        Ok(())
    }

    /// What the operator should be told at start-up about the configuration (acks raised).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// How long librdkafka keeps trying to deliver a message (`message.timeout.ms`, as
    /// librdkafka applies it), or `None` for `0`, which librdkafka reads as "no limit".
    pub fn message_timeout(&self) -> Option<Duration> {
        let millis = self
            .properties
            .get("message.timeout.ms")
            .and_then(|setting| setting.value.trim().parse::<u64>().ok());
        match millis {
            Some(0) => None,
            Some(millis) => Some(Duration::from_millis(millis)),
            None => Some(DEFAULT_MESSAGE_TIMEOUT),
        }
    }

    /// rust-rdkafka's configuration, ready to create a client.
    pub fn client(&self) -> ClientConfig {
        let mut client = self.properties.client_config();
        client.set_log_level(RDKafkaLogLevel::Warning);
        client
    }

    /// Maps librdkafka's refusal to the line that set the property it names.
    pub fn refusal(&self, error: &KafkaError) -> LineError {
        let input = &self.input;
        let KafkaError::ClientConfig(_, description, key, value) = error else {
            return input.error_at(
                None,
                format!("librdkafka refused the configuration: {error}"),
            );
        };
        let description = without_value(description, value);
        match self
            .properties
            .set_as(key)
            .and_then(|setting| setting.origin)
        {
            Some(property) => input.error_at(
                Some(property.line),
                format!("{}: librdkafka refused it: {description}", property.written),
            ),
            None => input.error_at(None, format!("librdkafka refused {key}: {description}")),
        }
    }

    /// Validates the configuration by building a producer from it, so a typo in a `kafka.*`
    /// key fails at start-up (and in `--check-config`), not at the first produce. librdkafka
    /// stops at the first property it refuses; that one is taken out and the rest tried
    /// again, so every bad line is reported at once.
    pub fn check(&self) -> Result<(), Errors> {
        let mut client = self.client();
        let mut errors = Vec::new();
        loop {
            let error = match client.create::<BaseProducer<DefaultProducerContext>>() {
                Ok(_producer) => break,
                Err(error) => error,
            };
            errors.push(self.refusal(&error));
            match &error {
                // Each round removes one property, so this ends.
                KafkaError::ClientConfig(_, _, key, _) if client.get(key).is_some() => {
                    client.remove(key);
                }
                _ => break,
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Errors::new(errors))
        }
    }
}

/// Builds and validates librdkafka's configuration for `input` (see [`KafkaConfig::check`]).
pub fn check(input: KafkaInput<'_>) -> Result<(), Errors> {
    KafkaConfig::build(input)?.check()
}

/// What librdkafka's refusal `description` says, without the refused `value` it may quote
/// (`Invalid value "..." for configuration property ...`, `... value 5 is outside ...`): a
/// quoted or whitespace-delimited occurrence becomes `(value not shown)`, and so does any
/// other occurrence of a value of four bytes or more. Shorter values are left inside longer
/// words (a value `a` must not garble the word "Invalid"), where they do not reveal anything.
pub(super) fn without_value(description: &str, value: &str) -> String {
    const HIDDEN: &str = "(value not shown)";
    if value.is_empty() {
        return description.to_owned();
    }
    let mut text = description.replace(&format!("\"{value}\""), &format!("\"{HIDDEN}\""));
    text = text
        .split(' ')
        .map(|word| if word == value { HIDDEN } else { word })
        .collect::<Vec<_>>()
        .join(" ");
    if value.len() >= 4 {
        text = text.replace(value, HIDDEN);
    }
    text
}

fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(written: &str, name: &str, value: &str, line: usize) -> KafkaProperty {
        KafkaProperty {
            name: name.to_owned(),
            value: value.to_owned(),
            written: written.to_owned(),
            line,
        }
    }

    fn input<'a>(global: &'a [KafkaProperty], topic: &'a [KafkaProperty]) -> KafkaInput<'a> {
        KafkaInput {
            source: "test.conf",
            global,
            topic,
            statistics_interval: None,
        }
    }

    fn resolved(text: &str) -> Config {
        edgeship_conf::RawConfig::parse(text.as_bytes(), "t.conf")
            .expect("reads")
            .resolve(&edgeship_conf::Overrides::default())
            .expect("resolves")
    }

    #[test]
    fn librdkafka_statistics_are_on_for_the_metrics_server_or_the_statistics_file() {
        let interval = |text: &str| {
            let config = resolved(text);
            let kafka = KafkaConfig::build(KafkaInput::from_config(&config)).expect("builds");
            kafka
                .client()
                .get("statistics.interval.ms")
                .map(str::to_owned)
        };
        let base = "kafka.topic = t\nlog.statistics.interval = 5\n";
        assert_eq!(interval(base), None, "no file, no metrics: off");
        let metrics = format!("{base}edgeship.metrics.address = 127.0.0.1:9132\n");
        assert_eq!(interval(&metrics).as_deref(), Some("15000"));
        let file = format!("{metrics}log.statistics.file = /tmp/x.json\n");
        assert_eq!(
            interval(&file).as_deref(),
            Some("5000"),
            "the file's interval"
        );
        let own = format!("{metrics}kafka.statistics.interval.ms = 0\n");
        assert_eq!(
            interval(&own).as_deref(),
            Some("0"),
            "the operator's line wins"
        );
    }

    #[test]
    fn the_message_timeout_read_back_is_the_one_handed_to_librdkafka() {
        let global = [property(
            "kafka.message.timeout.ms",
            "message.timeout.ms",
            "1000",
            1,
        )];
        let topic = [property(
            "kafka.topic.delivery.timeout.ms",
            "delivery.timeout.ms",
            "2000",
            2,
        )];
        let config = KafkaConfig::build(input(&global, &topic)).expect("builds");
        assert_eq!(config.message_timeout(), Some(Duration::from_millis(2000)));
        let client = config.client();
        assert_eq!(client.get("delivery.timeout.ms"), Some("2000"));
        assert_eq!(client.get("message.timeout.ms"), None);
    }

    #[test]
    fn the_reconnect_backoff_is_capped_at_a_second_unless_the_file_says_otherwise() {
        let unset = KafkaConfig::build(input(&[], &[])).expect("builds");
        assert_eq!(unset.client().get("reconnect.backoff.max.ms"), Some("1000"));
        let global = [property(
            "kafka.reconnect.backoff.max.ms",
            "reconnect.backoff.max.ms",
            "5000",
            1,
        )];
        let set = KafkaConfig::build(input(&global, &[])).expect("builds");
        assert_eq!(set.client().get("reconnect.backoff.max.ms"), Some("5000"));
        let start = [property(
            "kafka.reconnect.backoff.ms",
            "reconnect.backoff.ms",
            "3000",
            1,
        )];
        let raised = KafkaConfig::build(input(&start, &[])).expect("builds");
        assert_eq!(
            raised.client().get("reconnect.backoff.max.ms"),
            Some("3000")
        );
        let client = raised.client();
        let producer: Result<BaseProducer<DefaultProducerContext>, _> = client.create();
        assert!(producer.is_ok(), "librdkafka accepts it");
    }

    #[test]
    fn a_message_timeout_of_zero_is_no_limit_not_a_zero_budget() {
        let global = [property(
            "kafka.message.timeout.ms",
            "message.timeout.ms",
            "0",
            1,
        )];
        let config = KafkaConfig::build(input(&global, &[])).expect("builds");
        assert_eq!(config.message_timeout(), None);
        let unset = KafkaConfig::build(input(&[], &[])).expect("builds");
        assert_eq!(unset.message_timeout(), Some(DEFAULT_MESSAGE_TIMEOUT));
    }

    #[test]
    fn fewer_acks_are_raised_under_whichever_name_set_them_last() {
        let topic = [
            property(
                "kafka.topic.request.required.acks",
                "request.required.acks",
                "1",
                1,
            ),
            property("kafka.topic.acks", "acks", "1", 2),
        ];
        let config = KafkaConfig::build(input(&[], &topic)).expect("builds");
        let client = config.client();
        assert_eq!(client.get("acks"), Some("all"));
        assert_eq!(client.get("request.required.acks"), None);
        assert_eq!(config.notices().len(), 1, "{:?}", config.notices());
        assert!(config.notices()[0].starts_with("test.conf:2: kafka.topic.acks raised"));
    }

    #[test]
    fn refusals_never_show_the_value() {
        let cases = [
            (
                "Invalid value \"hunter2\" for configuration property \"compression.codec\"",
                "hunter2",
                "Invalid value \"(value not shown)\" for configuration property \
                 \"compression.codec\"",
            ),
            (
                "Configuration property \"linger.ms\" value 9 is outside allowed range 0..900",
                "9",
                "Configuration property \"linger.ms\" value (value not shown) is outside \
                 allowed range 0..900",
            ),
            (
                "No such configuration property: \"sasl.pasword\"",
                "a",
                "No such configuration property: \"sasl.pasword\"",
            ),
            (
                "unexpected: s3cr3t-value inside",
                "s3cr3t-value",
                "unexpected: (value not shown) inside",
            ),
        ];
        for (description, value, expected) in cases {
            assert_eq!(without_value(description, value), expected);
        }
    }

    #[test]
    fn a_refused_property_is_reported_by_key_and_line_only() {
        let global = [property(
            "kafka.sasl.pasword",
            "sasl.pasword",
            "hunter2-secret",
            7,
        )];
        let config = KafkaConfig::build(input(&global, &[])).expect("builds");
        let errors = config.check().expect_err("librdkafka refuses the name");
        let text = errors.to_string();
        assert!(
            text.starts_with("test.conf:7: kafka.sasl.pasword: librdkafka refused it"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
}
