//! Integration tests for edgeship-conf: the shared fixture files, a table of malformed
//! configurations with their exact `path:line:` messages, overrides, and both spellings.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use edgeship_conf::{
    Config, ConfigError, Errors, FormatType, Grouping, KafkaProperty, Output, Overrides,
    Partitioning, QueueFullPolicy, RawConfig, SequenceStart, DEFAULT_FORMAT,
};

static PRODUCTION: LazyLock<String> = LazyLock::new(|| fixture("production-webrequest.conf"));
static EXAMPLE: LazyLock<String> = LazyLock::new(|| fixture("varnishkafka-1.1-example.conf"));
static SEED: LazyLock<String> = LazyLock::new(|| fixture("seed-2013-varnishkafka.conf"));

/// A fixture configuration's path, as text (error messages quote it).
fn fixture(name: &str) -> String {
    edgeship_testkit::fixtures::conf(name)
        .unwrap_or_else(|error| panic!("{error}"))
        .to_string_lossy()
        .into_owned()
}

fn resolve_text(text: &str) -> Result<Config, Errors> {
    resolve_with(text, &Overrides::default())
}

fn resolve_with(text: &str, overrides: &Overrides) -> Result<Config, Errors> {
    let raw = RawConfig::parse(text.as_bytes(), "t.conf").expect("reading a slice cannot fail");
    raw.resolve(overrides)
}

fn messages(result: Result<Config, Errors>) -> Vec<String> {
    match result {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn resolved(result: Result<Config, impl std::fmt::Display>) -> Config {
    match result {
        Ok(config) => config,
        Err(errors) => panic!("expected a configuration, got:\n{errors}"),
    }
}

/// The 1-based line of the fixture line that starts with `prefix`, so expectations about line
/// numbers follow the fixture rather than restating it.
fn line_of(path: &str, prefix: &str) -> usize {
    let text = std::fs::read_to_string(path).expect("fixture is readable");
    let index = text
        .lines()
        .position(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("{path} has no line starting with {prefix:?}"));
    index + 1
}

/// (name, value, line) of a passthrough list, for compact comparisons.
fn properties(list: &[KafkaProperty]) -> Vec<(&str, &str, usize)> {
    list.iter()
        .map(|property| {
            (
                property.name.as_str(),
                property.value.as_str(),
                property.line,
            )
        })
        .collect()
}

fn property<'a>(list: &'a [KafkaProperty], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|property| property.name == name)
        .map(|property| property.value.as_str())
}

#[test]
fn production_fixture_resolves() {
    let config = resolved(Config::from_path(&*PRODUCTION, &Overrides::default()));
    assert_eq!(config.source, *PRODUCTION);
    assert_eq!(config.output, Output::Kafka);
    assert_eq!(config.format_type, FormatType::Json);
    assert!(config
        .format
        .value
        .starts_with("%{fake_tag0@hostname?cp1001.eqiad.wmnet}x %{@sequence!num?0}n"));
    assert!(config.format.value.ends_with("%{VCL_Log:tls@tls}x"));
    assert_eq!(config.format.line, Some(line_of(&PRODUCTION, "format =")));
    assert_eq!(config.sequence_start, SequenceStart::Number(0));
    assert_eq!(config.log.level, 6);
    assert!(!config.log.stderr);
    assert!(config.log.syslog);
    assert!(!config.daemonize);
    assert_eq!(
        config.statistics.file,
        Some(PathBuf::from(
            "/var/cache/varnishkafka/webrequest.stats.json"
        ))
    );
    assert_eq!(config.statistics.interval, Some(Duration::from_secs(15)));
    assert_eq!(config.varnish.instance.as_deref(), Some("frontend"));
    assert_eq!(
        config.varnish.query.as_deref(),
        Some(
            "ReqMethod ne \"PURGE\" and not Timestamp:Pipe and not Timestamp:Restart and not \
             ReqHeader:Upgrade ~ \"[wW]ebsocket\" and not HttpGarbage"
        )
    );
    assert_eq!(config.varnish.timeout, Some(1500.0));
    assert_eq!(config.varnish.limit, Some(10000));
    assert_eq!(config.varnish.grouping, Grouping::Vxid);
    let topic = config.kafka.topic.as_ref().expect("topic is set");
    assert_eq!(topic.value, "webrequest_text");
    assert_eq!(topic.line, Some(line_of(&PRODUCTION, "kafka.topic =")));
    assert_eq!(config.kafka.partitioning, Partitioning::ByKey);
    assert_eq!(config.kafka.key_format.value, "%l");
    assert_eq!(config.kafka.key_format.line, None);
    assert_eq!(
        property(&config.kafka.global, "metadata.broker.list"),
        Some("kafka-jumbo1001.eqiad.wmnet:9092,kafka-jumbo1002.eqiad.wmnet:9092")
    );
    assert_eq!(
        property(&config.kafka.global, "compression.codec"),
        Some("snappy")
    );
    assert_eq!(
        property(&config.kafka.global, "statistics.interval.ms"),
        Some("15000")
    );
    assert_eq!(config.kafka.global.len(), 8);
    assert_eq!(
        properties(&config.kafka.topic_properties),
        [
            (
                "request.required.acks",
                "1",
                line_of(&PRODUCTION, "kafka.topic.request.required.acks")
            ),
            (
                "message.timeout.ms",
                "300000",
                line_of(&PRODUCTION, "kafka.topic.message.timeout.ms")
            ),
        ]
    );
    assert_eq!(config.edgeship.heartbeat_interval, Duration::from_secs(10));
    assert_eq!(config.edgeship.queue_full, QueueFullPolicy::Block);
    assert_eq!(config.edgeship.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(config.edgeship.hostname, None);
}

#[test]
fn varnishkafka_example_fixture_resolves() {
    let config = resolved(Config::from_path(&*EXAMPLE, &Overrides::default()));
    assert_eq!(config.output, Output::Kafka);
    assert_eq!(config.format_type, FormatType::String);
    assert!(config.format.value.starts_with("%l        %n        %t"));
    assert!(config.format.value.contains("%{User-agent!escape}i"));
    assert_eq!(config.sequence_start, SequenceStart::Time);
    assert!(config.log.stderr);
    assert!(config.log.syslog);
    assert!(config.log.kafka_msg_error);
    assert!(!config.daemonize);
    // Commented-out settings leave varnishkafka's defaults.
    assert_eq!(config.tag_size_max, 2048);
    assert_eq!(config.logline_scratch_size, 4_194_304);
    assert_eq!(config.log.rate_max, 100);
    assert_eq!(config.log.rate_period, Duration::from_secs(60));
    // No statistics file unless one is configured (issue 12, item 11: varnishkafka's
    // default was a fixed name in /tmp), so no statistics either.
    assert_eq!(config.statistics.interval, None);
    assert_eq!(config.statistics.file, None);
    assert_eq!(config.varnish.instance, None);
    assert_eq!(config.varnish.query, None);
    assert_eq!(config.varnish.timeout, None);
    assert_eq!(config.varnish.limit, None);
    let topic = config.kafka.topic.as_ref().expect("topic is set");
    assert_eq!(topic.value, "varnish");
    assert_eq!(config.kafka.partitioning, Partitioning::ByKey);
    assert_eq!(
        properties(&config.kafka.global),
        [
            (
                "metadata.broker.list",
                "localhost:9092",
                line_of(&EXAMPLE, "kafka.metadata.broker.list")
            ),
            (
                "queue.buffering.max.messages",
                "1000000",
                line_of(&EXAMPLE, "kafka.queue.buffering.max.messages")
            ),
            (
                "message.send.max.retries",
                "3",
                line_of(&EXAMPLE, "kafka.message.send.max.retries")
            ),
        ]
    );
    assert_eq!(
        property(&config.kafka.topic_properties, "message.timeout.ms"),
        Some("60000")
    );
}

/// The 2013 seed file resolves unchanged: its Varnish 3 `varnish.arg.m` runs as the
/// equivalent VSL query, with a notice saying which, and the rest resolves like the prefixed
/// files.
#[test]
fn seed_fixture_resolves_with_its_varnish_3_option_translated() {
    let raw = RawConfig::read(&*SEED).expect("fixture is readable");
    assert_eq!(raw.problems(), &[]);
    let names: Vec<&str> = raw
        .entries()
        .iter()
        .map(|entry| entry.name.as_str())
        .collect();
    assert!(names.contains(&"metadata.broker.list"));
    assert!(names.contains(&"topic.request.required.acks"));

    let m_line = line_of(&SEED, "varnish.arg.m");
    let config = resolved(raw.resolve(&Overrides::default()));
    let notices: Vec<String> = config.notices.iter().map(ToString::to_string).collect();
    assert_eq!(
        notices,
        [format!(
            "{}:{m_line}: varnish.arg.m is Varnish 3's -m TAG:REGEX; it runs as the VSL query \
             ReqMethod ~ \"^(?!PURGE$)\"",
            *SEED
        )]
    );
    assert_eq!(config.output, Output::Kafka);
    assert_eq!(config.format_type, FormatType::Json);
    assert!(config
        .format
        .value
        .starts_with("%{@hostname}l %{@sequence!num?0}n"));
    assert_eq!(config.sequence_start, SequenceStart::Number(0));
    assert_eq!(config.varnish.instance.as_deref(), Some("frontend"));
    assert_eq!(
        config.varnish.query.as_deref(),
        Some("ReqMethod ~ \"^(?!PURGE$)\"")
    );
    let topic = config.kafka.topic.as_ref().expect("topic is set");
    assert_eq!(topic.value, "varnish2");
    assert_eq!(topic.line, Some(line_of(&SEED, "topic =")));
    // `partition = %l`: key by host name, the partitioner chooses.
    assert_eq!(config.kafka.partitioning, Partitioning::ByKey);
    assert_eq!(config.kafka.key_format.value, "%l");
    assert_eq!(
        config.kafka.key_format.line,
        Some(line_of(&SEED, "partition ="))
    );
    assert_eq!(
        properties(&config.kafka.global),
        [
            (
                "metadata.broker.list",
                "analytics1003.wikimedia.org:9092,analytics1004.wikimedia.org:9092",
                line_of(&SEED, "metadata.broker.list")
            ),
            (
                "queue.buffering.max.messages",
                "1000000",
                line_of(&SEED, "queue.buffering.max.messages")
            ),
            (
                "message.send.max.retries",
                "3",
                line_of(&SEED, "message.send.max.retries")
            ),
            (
                "compression.codec",
                "snappy",
                line_of(&SEED, "compression.codec")
            ),
        ]
    );
    assert_eq!(config.kafka.global[3].written, "compression.codec");
    assert_eq!(
        properties(&config.kafka.topic_properties),
        [
            (
                "request.required.acks",
                "1",
                line_of(&SEED, "topic.request.required.acks")
            ),
            (
                "message.timeout.ms",
                "60000",
                line_of(&SEED, "topic.message.timeout.ms")
            ),
        ]
    );
}

/// One malformed configuration per row, with every message it must produce.
#[test]
fn malformed_configurations_report_path_and_line() {
    let cases: &[(&str, &[&str])] = &[
        (
            "output = file\n",
            &["t.conf:1: output: unknown value \"file\" (expected kafka, stdout (or -) or null)"],
        ),
        (
            "topic =\n",
            &["t.conf:1: \"topic\" requires a value"],
        ),
        (
            "kafka.topic = t\nlog.foo = 1\n",
            &["t.conf:2: unknown key \"log.foo\""],
        ),
        (
            "kafka.topic = t\noutput stdout\n",
            &["t.conf:2: missing '=' (expected name = value)"],
        ),
        (
            "kafka.topic = t\n = stdout\n",
            &["t.conf:2: missing name before '=' (expected name = value)"],
        ),
        (
            "kafka.topic = t\nlog.rate.max = 10x\n",
            &["t.conf:2: log.rate.max: bad number \"10x\" (expected a whole number of at least 0)"],
        ),
        (
            "kafka.topic = t\ntag.size.max = -5\n",
            &["t.conf:2: tag.size.max: bad number \"-5\" (expected a whole number of at least 1)"],
        ),
        (
            "kafka.topic = t\nlog.stderr = ture\n",
            &["t.conf:2: log.stderr: bad boolean \"ture\" (expected true/false, yes/no, on/off \
               or a number; varnishkafka silently read this as false)"],
        ),
        (
            "kafka.topic = t\nformat.type = xml\n",
            &["t.conf:2: format.type: unknown value \"xml\" (expected string or json)"],
        ),
        (
            "kafka.topic = t\noutput = file\n",
            &["t.conf:2: output: unknown value \"file\" (expected kafka, stdout (or -) or null)"],
        ),
        (
            "output = kafka\nformat.type = json\n",
            &["t.conf: missing kafka.topic (required when output = kafka)"],
        ),
        (
            "kafka.topic = t\nvarnish.arg.m = Backend_health:^x\n",
            &["t.conf:2: varnish.arg.m: Varnish 3 tag \"Backend_health\" has no Varnish 7 \
               equivalent edgeship can translate; write a VSL query instead: varnish.arg.q = \
               <query> (see vsl-query(7))"],
        ),
        (
            "kafka.topic = t\nvarnish.arg.m = RxURL:^(/wiki/\n",
            &["t.conf:2: varnish.arg.m: translated into the VSL query ReqURL ~ \"^(/wiki/\": \
               column 10: regular expression error: PCRE2: error compiling pattern at offset 8: \
               missing closing parenthesis"],
        ),
        (
            "kafka.topic = t\nvarnish.arg.q = ReqURL ~ \"^/wiki/\" and\n",
            &["t.conf:2: varnish.arg.q: column 23: expected a VSL tag name, got end of query"],
        ),
        (
            "kafka.topic = t\nvarnish.arg.N = /var/lib/varnish/_.vsm\n",
            &["t.conf:2: varnish.arg.N (-N VSM file) no longer exists in Varnish 7; name the \
               varnishd working directory instead: varnish.arg.n = <dir>"],
        ),
        (
            "kafka.topic = t\nvarnish.arg.C = true\n",
            &["t.conf:2: varnish.arg.C (-C caseless matching) is not supported; write (?i) in \
               the regular expressions of varnish.arg.q instead"],
        ),
        (
            "kafka.topic = t\nedgeship.spool.dir = /var/spool\n",
            &["t.conf:2: unknown edgeship key \"edgeship.spool.dir\" (known: edgeship.key.format, \
               edgeship.heartbeat.interval, edgeship.queue.full, edgeship.shutdown.timeout, \
               edgeship.hostname, edgeship.metrics.address, edgeship.state.dir)"],
        ),
        (
            "kafka.topic = t\npartition = %h\n",
            &["t.conf:2: partition: bad partition \"%h\" (expected a partition number, -1 for the \
               partitioner, or %l to partition by host name)"],
        ),
        (
            "kafka.topic = t\nkafka.partition = -2\n",
            &["t.conf:2: kafka.partition: bad partition \"-2\" (expected a partition number, -1 \
               for the partitioner, or %l to partition by host name)"],
        ),
        (
            "kafka.topic = t\nlog.level = 9\n",
            &["t.conf:2: log.level: 9 is out of range (expected a whole number from 1 to 7)"],
        ),
        (
            "kafka.topic = t\nvarnish.arg.g = session\n",
            &["t.conf:2: varnish.arg.g: grouping \"session\" is not supported (edgeship renders \
               client request transactions; use vxid or request)"],
        ),
        (
            "kafka.topic = t\nvarnish.arg.g = requests\n",
            &["t.conf:2: varnish.arg.g: unknown grouping \"requests\" (expected vxid or request)"],
        ),
        (
            "kafka.topic = webrequest\ntopic = webrequest_text\n",
            &["t.conf:2: topic = webrequest_text conflicts with line 1, which set kafka.topic = \
               webrequest"],
        ),
        (
            "kafka.topic = t\npartition = %l\nedgeship.key.format = %{Host}i\n",
            &["t.conf:3: edgeship.key.format = %{Host}i conflicts with partition = %l on line 2, \
               which keys records by host name (%l); remove one of them"],
        ),
        (
            "kafka.topic = t\nformat =\n",
            &["t.conf:2: \"format\" requires a value"],
        ),
        (
            "kafka.topic = t\nedgeship.heartbeat.interval = 0\n",
            &["t.conf:2: edgeship.heartbeat.interval: 0 is out of range (expected a whole number \
               of at least 1)"],
        ),
        (
            "kafka.topic = t\nedgeship.shutdown.timeout = 0\n",
            &["t.conf:2: edgeship.shutdown.timeout: 0 is out of range (expected a whole number \
               from 1 to 3600)"],
        ),
        (
            "kafka.topic = t\nedgeship.shutdown.timeout = 3601\n",
            &["t.conf:2: edgeship.shutdown.timeout: 3601 is out of range (expected a whole \
               number from 1 to 3600)"],
        ),
        (
            "kafka.topic = t\nedgeship.queue.full = spill\n",
            &["t.conf:2: edgeship.queue.full: unknown value \"spill\" (expected block or drop)"],
        ),
        (
            "kafka.topic = t\nsequence.number = soon\n",
            &["t.conf:2: sequence.number: bad number \"soon\" (expected a whole number, 0x hex, \
               or time; varnishkafka read this as 0)"],
        ),
        (
            // Item 14 of issue 12: a start this near u64::MAX would wrap within the run.
            "kafka.topic = t\nsequence.number = 18446744073709551000\n",
            &["t.conf:2: sequence.number: 18446744073709551000 is out of range (at most \
               9223372036854775807, so that at least 2^63 numbers remain before the sequence \
               would wrap)"],
        ),
        (
            "kafka.topic = t\nvarnish.arg.T = -1\n",
            &["t.conf:2: varnish.arg.T: -1 is out of range (expected seconds, at least 0)"],
        ),
        (
            // Item 9 of issue 12: a timeout no `Duration` holds used to pass and panic at start.
            "kafka.topic = t\nvarnish.arg.T = 1e20\n",
            &["t.conf:2: varnish.arg.T: 1e20 is out of range (expected seconds, at most \
               4294967295)"],
        ),
        (
            "kafka.topic = t\nvarnish.arg.L = 0\n",
            &["t.conf:2: varnish.arg.L: 0 is out of range (expected 1 to 2147483647)"],
        ),
        (
            "kafka.topic = t\nvarnish.arg.n = frontend\nvarnish.arg.r = /tmp/x.vsl\n",
            &["t.conf:3: varnish.arg.r = /tmp/x.vsl conflicts with varnish.arg.n = frontend on \
               line 2: Varnish reads either a log file or a live instance"],
        ),
        (
            "kafka.topic = web request\n",
            &["t.conf:1: kafka.topic: \"web request\" is not a valid Kafka topic name (letters, \
               digits, '.', '_' and '-', at most 249)"],
        ),
        (
            "kafka.topic = t\nouput = stdout\n",
            &["t.conf:2: unknown key \"ouput\" (did you mean \"output\"?)"],
        ),
        (
            "kafka.topic = t\nlogline.hash.size = 5000\n",
            &["t.conf:2: logline.hash.size is no longer used (Varnish groups transactions now); \
               remove the line"],
        ),
        (
            "kafka.topic = t\nkafka.topic.Acks = 1\n",
            &["t.conf:2: \"kafka.topic.Acks\" does not name a librdkafka property (expected \
               lowercase letters, digits, '.' and '_' after the prefix)"],
        ),
    ];
    assert!(cases.len() >= 12);
    for (text, expected) in cases {
        assert_eq!(
            &messages(resolve_text(text)),
            expected,
            "configuration:\n{text}"
        );
    }
}

/// `varnish.arg.m` with `varnish.arg.q`: joined as varnishlog joins two `-q` options, with a
/// notice saying so; a command-line `-q` replaces both, and a bad one is reported with its
/// column.
#[test]
fn varnish_3_match_combines_with_the_query_and_yields_to_the_command_line() {
    let text =
        "output = stdout\nvarnish.arg.q = RespStatus >= 500\nvarnish.arg.m = RxURL:^/wiki/\n";
    let config = resolved(resolve_text(text));
    assert_eq!(
        config.varnish.query.as_deref(),
        Some("RespStatus >= 500\nReqURL ~ \"^/wiki/\"")
    );
    let notices: Vec<String> = config.notices.iter().map(ToString::to_string).collect();
    assert_eq!(notices.len(), 1);
    assert!(notices[0].starts_with("t.conf:3: varnish.arg.m is Varnish 3's -m TAG:REGEX; it runs as the VSL query ReqURL ~ \"^/wiki/\", combined with varnish.arg.q (line 2)"), "{notices:?}");

    let overrides = Overrides {
        query: Some("ReqMethod eq GET".to_owned()),
        ..Overrides::default()
    };
    let config = resolved(resolve_with(text, &overrides));
    assert_eq!(config.varnish.query.as_deref(), Some("ReqMethod eq GET"));
    assert_eq!(
        config.notices[0].to_string(),
        "t.conf:3: varnish.arg.m is set aside: -q on the command line replaces the file's query"
    );

    let overrides = Overrides {
        query: Some("ReqMethod eq".to_owned()),
        ..Overrides::default()
    };
    assert_eq!(
        messages(resolve_with(text, &overrides)),
        ["t.conf: -q: column 13: expected a string, got end of query"]
    );
    assert!(resolved(resolve_text("output = stdout\n"))
        .notices
        .is_empty());
}

#[test]
fn every_bad_line_is_reported_in_line_order() {
    let text = "\
# three mistakes among good lines
output = stdout
log.level = 0
format.type = json
varnish.arg.m = RxNothing:^(?!PURGE$)

log.syslog maybe
kafka.compression.codec = snappy
";
    let errors = match resolve_text(text) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(errors) => errors,
    };
    assert_eq!(errors.len(), 3);
    let lines: Vec<Option<usize>> = errors.iter().map(|error| error.line).collect();
    assert_eq!(lines, [Some(3), Some(5), Some(7)]);
    assert_eq!(
        errors.to_string(),
        "t.conf:3: log.level: 0 is out of range (expected a whole number from 1 to 7)\n\
         t.conf:5: varnish.arg.m: Varnish 3 tag \"RxNothing\" has no Varnish 7 equivalent \
         edgeship can translate; write a VSL query instead: varnish.arg.q = <query> (see \
         vsl-query(7))\n\
         t.conf:7: missing '=' (expected name = value)"
    );
    // The same Errors value travels inside ConfigError unchanged.
    assert_eq!(
        ConfigError::from(errors.clone()).to_string(),
        errors.to_string()
    );
}

#[test]
fn a_bad_format_is_reported_with_the_other_bad_lines() {
    let text = "\
output = stdout
log.level = 9
format.type = json
format = %{@ok}s %{Host!bogus}i
edgeship.key.format = %Q
";
    let errors = match resolve_text(text) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(errors) => errors,
    };
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(
        messages[0].starts_with("t.conf:2: log.level"),
        "{messages:#?}"
    );
    assert_eq!(
        messages[1],
        "t.conf:4: format col 15: unknown option !bogus (expected !escape or !num)"
    );
    assert!(
        messages[2]
            .starts_with("t.conf:5: edgeship.key.format: format col 1: unknown formatter %Q"),
        "{messages:#?}"
    );
}

#[test]
fn file_level_problems_come_after_line_problems() {
    assert_eq!(
        messages(resolve_text("log.level = 8\n")),
        [
            "t.conf:1: log.level: 8 is out of range (expected a whole number from 1 to 7)",
            "t.conf: missing kafka.topic (required when output = kafka)",
        ]
    );
}

#[test]
fn defaults_when_nothing_is_set() {
    let config = resolved(resolve_text("output = null\n"));
    assert_eq!(config.output, Output::Null);
    assert_eq!(config.format.value, DEFAULT_FORMAT);
    assert_eq!(config.format.line, None);
    assert_eq!(config.format_type, FormatType::String);
    assert_eq!(config.sequence_start, SequenceStart::Number(0));
    assert_eq!(config.tag_size_max, 2048);
    assert!(config.daemonize);
    assert_eq!(config.log.level, 6);
    assert!(config.log.stderr);
    assert!(!config.log.syslog);
    assert!(config.log.kafka_msg_error);
    assert_eq!(config.kafka.topic, None);
    assert_eq!(config.kafka.partitioning, Partitioning::ByKey);
    assert_eq!(config.kafka.key_format.value, "%l");
    assert_eq!(config.varnish.grouping, Grouping::Vxid);
    assert_eq!(config.edgeship.heartbeat_interval, Duration::from_secs(10));
    assert_eq!(config.edgeship.queue_full, QueueFullPolicy::Block);
}

#[test]
fn values_are_read_as_varnishkafka_reads_them() {
    let config = resolved(resolve_text(
        "output = -\n\
         format.type = JSON\n\
         sequence.number = 0x10\n\
         daemonize = 0\n\
         log.stderr = 2abc\n\
         log.syslog = On\n\
         log.kafka.msg.error = no\n\
         log.statistics.interval = 0\n\
         format = %h # the hash and what follows are part of the format\n",
    ));
    assert_eq!(config.output, Output::Stdout);
    assert_eq!(config.format_type, FormatType::Json);
    assert_eq!(config.sequence_start, SequenceStart::Number(16));
    // The largest start accepted still leaves 2^63 numbers.
    let largest = resolved(resolve_text(
        "kafka.topic = t\nsequence.number = 0x7fffffffffffffff\n",
    ));
    assert_eq!(
        largest.sequence_start,
        SequenceStart::Number(edgeship_conf::MAX_SEQUENCE_START)
    );
    assert!(!config.daemonize);
    assert!(config.log.stderr);
    assert!(config.log.syslog);
    assert!(!config.log.kafka_msg_error);
    assert_eq!(config.statistics.interval, None);
    assert_eq!(
        config.format.value,
        "%h # the hash and what follows are part of the format"
    );
}

#[test]
fn partitioning_and_key_format() {
    let fixed = resolved(resolve_text("kafka.topic = t\nkafka.partition = 3\n"));
    assert_eq!(fixed.kafka.partitioning, Partitioning::Fixed(3));
    assert_eq!(fixed.kafka.key_format.value, "%l");

    let keyed = resolved(resolve_text(
        "kafka.topic = t\nkafka.partition = -1\nedgeship.key.format = %{Host}i\n",
    ));
    assert_eq!(keyed.kafka.partitioning, Partitioning::ByKey);
    assert_eq!(keyed.kafka.key_format.value, "%{Host}i");
    assert_eq!(keyed.kafka.key_format.line, Some(3));

    // Saying %l twice is no conflict.
    let agreeing = resolved(resolve_text(
        "kafka.topic = t\nkafka.partition = %l\nedgeship.key.format = %l\n",
    ));
    assert_eq!(agreeing.kafka.partitioning, Partitioning::ByKey);
    assert_eq!(agreeing.kafka.key_format.line, Some(3));
}

#[test]
fn repeated_settings() {
    // An own key repeated with the same value is accepted.
    let config = resolved(resolve_text(
        "kafka.topic = t\ntopic = t\nlog.level = 7\nlog.level = 7\n",
    ));
    assert_eq!(config.log.level, 7);

    // A passthrough property repeated: the later line wins and moves to the end, so the order
    // of effect is the file's.
    let config = resolved(resolve_text(
        "kafka.topic = t\n\
         kafka.linger.ms = 5\n\
         queue.buffering.max.ms = 10\n\
         linger.ms = 20\n\
         kafka.topic.acks = 1\n\
         topic.acks = all\n",
    ));
    assert_eq!(
        properties(&config.kafka.global),
        [("queue.buffering.max.ms", "10", 3), ("linger.ms", "20", 4)]
    );
    assert_eq!(config.kafka.global[1].written, "linger.ms");
    assert_eq!(
        properties(&config.kafka.topic_properties),
        [("acks", "all", 6)]
    );
}

#[test]
fn edgeship_keys() {
    let config = resolved(resolve_text(
        "kafka.topic = t\n\
         edgeship.heartbeat.interval = 30\n\
         edgeship.queue.full = drop\n\
         edgeship.hostname = cp1001\n\
         edgeship.shutdown.timeout = 45\n",
    ));
    assert_eq!(config.edgeship.shutdown_timeout, Duration::from_secs(45));
    assert_eq!(config.edgeship.heartbeat_interval, Duration::from_secs(30));
    assert_eq!(config.edgeship.queue_full, QueueFullPolicy::Drop);
    let hostname = config.edgeship.hostname.expect("hostname is set");
    assert_eq!(
        (hostname.value.as_str(), hostname.line),
        ("cp1001", Some(4))
    );
}

#[test]
fn metrics_address_is_off_unless_set_and_must_be_an_ip_address_and_port() {
    let config = resolved(resolve_text("kafka.topic = t\n"));
    assert_eq!(config.edgeship.metrics_address, None);
    let config = resolved(resolve_text(
        "kafka.topic = t\nedgeship.metrics.address = 127.0.0.1:9132\n",
    ));
    assert_eq!(
        config.edgeship.metrics_address,
        Some("127.0.0.1:9132".parse().expect("an address"))
    );
    let refused = resolve_text("kafka.topic = t\nedgeship.metrics.address = localhost:9132\n");
    let message = refused.expect_err("a host name is refused").to_string();
    assert!(
        message.contains("t.conf:2:") && message.contains("not an IP address and port"),
        "{message}"
    );
}

#[test]
fn command_line_overrides_file_values() {
    let overrides = Overrides {
        name: Some("backend".to_owned()),
        query: Some("ReqURL ~ \"^/api/\"".to_owned()),
        timeout: Some(2.5),
        limit: Some(50),
        grouping: Some(Grouping::Request),
        file: None,
    };
    let config = resolved(Config::from_path(&*PRODUCTION, &overrides));
    assert_eq!(config.varnish.instance.as_deref(), Some("backend"));
    assert_eq!(config.varnish.query.as_deref(), Some("ReqURL ~ \"^/api/\""));
    assert_eq!(config.varnish.timeout, Some(2.5));
    assert_eq!(config.varnish.limit, Some(50));
    assert_eq!(config.varnish.grouping, Grouping::Request);
    assert_eq!(config.varnish.file, None);
    // Everything else still comes from the file.
    assert_eq!(
        config.kafka.topic.map(|topic| topic.value).as_deref(),
        Some("webrequest_text")
    );

    // -r replaces the live instance the file names.
    let replay = Overrides {
        file: Some(PathBuf::from("/tmp/replay.vsl")),
        ..Overrides::default()
    };
    let config = resolved(Config::from_path(&*PRODUCTION, &replay));
    assert_eq!(config.varnish.file, Some(PathBuf::from("/tmp/replay.vsl")));
    assert_eq!(config.varnish.instance, None);
    assert_eq!(config.varnish.limit, Some(10000));

    // -n replaces a file's varnish.arg.r.
    let live = Overrides {
        name: Some("frontend".to_owned()),
        ..Overrides::default()
    };
    let config = resolved(resolve_with(
        "output = null\nvarnish.arg.r = /tmp/x.vsl\n",
        &live,
    ));
    assert_eq!(config.varnish.file, None);
    assert_eq!(config.varnish.instance.as_deref(), Some("frontend"));

    let both = Overrides {
        name: Some("frontend".to_owned()),
        file: Some(PathBuf::from("/tmp/replay.vsl")),
        ..Overrides::default()
    };
    assert_eq!(
        messages(resolve_with("output = null\n", &both)),
        [
            "t.conf: the command line gives both -n and -r: Varnish reads either a log file or a \
          live instance"
        ]
    );
}

#[test]
fn command_line_values_follow_the_file_rules() {
    assert_eq!(edgeship_conf::parse_timeout("1500"), Ok(1500.0));
    assert!(edgeship_conf::parse_timeout("soon").is_err());
    assert_eq!(edgeship_conf::parse_limit("10000"), Ok(10000));
    assert_eq!(
        edgeship_conf::parse_limit("0").map_err(|error| error.to_string()),
        Err("0 is out of range (expected 1 to 2147483647)".to_owned())
    );
    assert_eq!("REQUEST".parse::<Grouping>(), Ok(Grouping::Request));
    assert!("raw".parse::<Grouping>().is_err());
}

/// The prefixed and the unprefixed spellings of the same settings resolve identically (apart
/// from `written`, which records the spelling for messages).
#[test]
fn both_spellings_resolve_alike() {
    let prefixed = "\
kafka.metadata.broker.list = broker1:9092,broker2:9092
kafka.compression.codec = snappy
kafka.queue.buffering.max.messages = 1000000
kafka.message.send.max.retries = 3
kafka.topic = varnish2
kafka.partition = %l
kafka.topic.request.required.acks = 1
kafka.topic.message.timeout.ms = 60000
";
    let unprefixed = "\
metadata.broker.list = broker1:9092,broker2:9092
compression.codec = snappy
queue.buffering.max.messages = 1000000
message.send.max.retries = 3
topic = varnish2
partition = %l
topic.request.required.acks = 1
topic.message.timeout.ms = 60000
";
    let without_spelling = |mut config: Config| {
        for property in config
            .kafka
            .global
            .iter_mut()
            .chain(config.kafka.topic_properties.iter_mut())
        {
            property.written.clear();
        }
        config
    };
    let from_prefixed = without_spelling(resolved(resolve_text(prefixed)));
    let from_unprefixed = without_spelling(resolved(resolve_text(unprefixed)));
    assert_eq!(from_prefixed, from_unprefixed);
    assert_eq!(from_prefixed.kafka.global.len(), 4);
    assert_eq!(from_prefixed.kafka.topic_properties.len(), 2);
    assert_eq!(from_prefixed.kafka.key_format.line, Some(6));
}

#[test]
fn later_errors_can_be_located_in_the_file() {
    // A problem found after resolution (librdkafka refusing a passthrough value, say) is
    // reported against the line that set it.
    let config = resolved(resolve_text(
        "output = stdout\n\nkafka.compression.codec = zip\n",
    ));
    let codec = &config.kafka.global[0];
    let error = config.error_at(Some(codec.line), "librdkafka refused it");
    assert_eq!(error.to_string(), "t.conf:3: librdkafka refused it");
}

#[test]
fn unreadable_file_names_the_path() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/no-such-file.conf");
    match Config::from_path(path, &Overrides::default()) {
        Err(error @ ConfigError::Io { .. }) => {
            assert_eq!(
                error.to_string(),
                format!("{path}: cannot read the configuration file")
            );
            let source = std::error::Error::source(&error).expect("the io error is the source");
            assert!(source.to_string().contains("No such file"), "{source}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}
