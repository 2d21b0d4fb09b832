//! edgeship-audit: the command line on top of the library; maps the outcome to exit codes.
#![forbid(unsafe_code)]

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Parser, ValueEnum};

use edgeship_audit::kafka::{self, KafkaOptions, OffsetRange, Property};
use edgeship_audit::report::Status;
use edgeship_audit::time::{format_time, parse_bound};
use edgeship_audit::{input, Auditor, Config, FieldNames, Origin, Report};

/// Exit code when every row is ok.
const EXIT_OK: u8 = 0;
/// Exit code when the worst row is a warning (or some input lines were bad).
const EXIT_WARNING: u8 = 1;
/// Exit code when a row is an error or a host or topic is silent.
const EXIT_ERROR: u8 = 2;
/// Exit code when the audit could not run.
const EXIT_FAILED: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// Aligned columns, a roll-up line after each hour.
    Table,
    /// One JSON object per line: rows, roll-ups, bad-input counts (field `kind`).
    Json,
    /// Comma-separated rows and roll-ups with a header.
    Csv,
}

/// Per host, run and hour: did every record the shipper produced arrive, exactly once?
///
/// Reads edgeship (or varnishkafka) JSON records and heartbeats from files or Kafka and
/// prints, for each (host, run, hour), the classic sequence columns (sequence_min/max,
/// count_actual, count_expected, count_different, count_duplicate, count_null_sequence,
/// count_incomplete) plus count_lost and percent_lost. Unlike the classic min/max/count
/// check it does not report restarts or records stamped across :00 as loss, sees loss after the
/// last record that arrived (from heartbeats), reports hosts and topics that go silent, and
/// counts duplicates apart from loss.
///
/// Exit codes: 0 all ok; 1 a warning (or bad input lines); 2 an error or a silent host/topic;
/// 3 the audit could not run (reason on stderr).
#[derive(Debug, Parser)]
#[command(name = "edgeship-audit", version, max_term_width = 100)]
struct Args {
    /// Files of newline-delimited JSON (plain, gzip or snappy-framed, recognised by content);
    /// `-` reads standard input. Not with --brokers.
    #[arg(value_name = "FILE")]
    files: Vec<String>,

    /// Read from Kafka instead of files (bootstrap.servers, comma-separated).
    #[arg(long, value_name = "HOST:PORT,...", help_heading = "Kafka")]
    brokers: Option<String>,

    /// A topic of the stream; repeat for datacenter topics audited together
    /// (e.g. --topic eqiad.webrequest_text --topic codfw.webrequest_text).
    #[arg(long = "topic", value_name = "TOPIC", help_heading = "Kafka")]
    topics: Vec<String>,

    /// Exact offsets instead of a time window: TOPIC:PARTITION:START[-END], END exclusive
    /// (default: until caught up with the partition). Repeatable; only these partitions are read.
    #[arg(long = "offsets", value_name = "RANGE", help_heading = "Kafka")]
    offsets: Vec<String>,

    /// Join this consumer group to split the partitions with other auditors. Each partition is
    /// reported by exactly one member; use a new group name for each audit.
    #[arg(long, value_name = "GROUP", help_heading = "Kafka")]
    group: Option<String>,

    /// Seconds read before --from and after --to, for records stamped inside the window but
    /// produced outside it (they count as present, never as rows).
    #[arg(
        long,
        default_value_t = 60,
        value_name = "SECONDS",
        help_heading = "Kafka"
    )]
    grace: u32,

    /// Seconds to wait for each broker request before giving up (exit code 3).
    #[arg(
        long,
        default_value_t = 10,
        value_name = "SECONDS",
        help_heading = "Kafka"
    )]
    timeout: u32,

    /// A librdkafka consumer property, e.g. -X security.protocol=ssl. Repeatable.
    #[arg(short = 'X', value_name = "KEY=VALUE", help_heading = "Kafka")]
    properties: Vec<String>,

    /// Most hours a report may span without --from/--to. An input whose events lie further
    /// apart (a clock far off, or months of data) is refused with exit code 3 rather than
    /// reported as a row per silent hour; audit it in windows instead.
    #[arg(long, default_value_t = 744, value_name = "HOURS")]
    max_hours: u32,

    /// Window start, UTC (2026-11-23T14, 2026-11-23T14:30, or a full timestamp). Kafka is
    /// positioned there by time; with files, earlier records only count as present.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,

    /// Window end, UTC, exclusive; same forms as --from.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,

    /// Percent lost from which a row is a warning.
    #[arg(long, default_value_t = 0.5, value_name = "PERCENT")]
    warn: f64,

    /// Percent lost from which a row is an error.
    #[arg(long, default_value_t = 2.0, value_name = "PERCENT")]
    error: f64,

    /// Name of the host field.
    #[arg(
        long,
        default_value = "hostname",
        value_name = "NAME",
        help_heading = "Fields"
    )]
    field_hostname: String,

    /// Name of the sequence field.
    #[arg(
        long,
        default_value = "sequence",
        value_name = "NAME",
        help_heading = "Fields"
    )]
    field_sequence: String,

    /// Name of the time field (`-` marks records Varnish forced complete).
    #[arg(
        long,
        default_value = "dt",
        value_name = "NAME",
        help_heading = "Fields"
    )]
    field_dt: String,

    /// Name of the run field; records without it are audited per host, as the classic check.
    #[arg(
        long,
        default_value = "run",
        value_name = "NAME",
        help_heading = "Fields"
    )]
    field_run: String,

    /// Top-level field that marks heartbeats when it is `true`.
    #[arg(
        long,
        default_value = "heartbeat",
        value_name = "NAME",
        help_heading = "Fields"
    )]
    field_heartbeat: String,

    /// Do not show progress on stderr even when it is a terminal.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("edgeship-audit: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn run(args: &Args) -> Result<u8> {
    let config = config(args)?;
    let mut auditor = Auditor::new(config.clone());
    let started = Instant::now();
    let mut progress = Progress::new(!args.quiet && io::stderr().is_terminal());
    match &args.brokers {
        Some(brokers) => {
            if !args.files.is_empty() {
                bail!("give either files or --brokers, not both");
            }
            if args.topics.is_empty() {
                bail!("--brokers needs at least one --topic");
            }
            let options = kafka_options(args, brokers, &config)?;
            let stats = kafka::read(&mut auditor, &options, |messages| {
                progress.update(messages, None, None)
            })?;
            progress.clear();
            eprintln!(
                "edgeship-audit: {} messages from {} partitions{}{} in {:.1}s",
                stats.messages,
                stats.partitions_read,
                if stats.partitions_skipped > 0 {
                    format!(
                        ", {} already reported by the group",
                        stats.partitions_skipped
                    )
                } else {
                    String::new()
                },
                if stats.partitions_revoked > 0 {
                    format!(", {} handed to other members", stats.partitions_revoked)
                } else {
                    String::new()
                },
                started.elapsed().as_secs_f64()
            );
        }
        None => {
            if !args.topics.is_empty() || !args.offsets.is_empty() || args.group.is_some() {
                bail!("--topic, --offsets and --group need --brokers");
            }
            if args.files.is_empty() {
                bail!("no input: give files (or - for stdin), or --brokers and --topic");
            }
            read_files(&mut auditor, &args.files, &mut progress)?;
            progress.clear();
        }
    }
    if args.from.is_none() && args.to.is_none() {
        if let Some(span) = auditor.span_hours() {
            let hours = span.hours();
            if hours > i64::from(args.max_hours) {
                bail!(
                    "the input spans {hours} hours (from hour {} to hour {} since the epoch), \
                     more than --max-hours {}: audit it in windows with --from/--to, or raise \
                     --max-hours",
                    span.first,
                    span.last,
                    args.max_hours
                );
            }
        }
    }
    let report = auditor.finish();
    print_report(&report, args.output)?;
    for bad in &report.bad_input {
        eprintln!(
            "edgeship-audit: bad input: {} lines {} (first at {})",
            bad.count,
            bad.reason.name(),
            bad.first_at
        );
    }
    Ok(exit_code(&report))
}

fn exit_code(report: &Report) -> u8 {
    match report.worst() {
        Status::Error | Status::Silent => EXIT_ERROR,
        Status::Warning => EXIT_WARNING,
        // Lines we could not read may hide loss: never call that all ok.
        Status::Ok if report.totals.bad > 0 => EXIT_WARNING,
        Status::Ok => EXIT_OK,
    }
}

fn config(args: &Args) -> Result<Config> {
    let bound = |name: &str, text: &Option<String>| -> Result<Option<i64>> {
        text.as_deref()
            .map(|t| {
                parse_bound(t).ok_or_else(|| {
                    anyhow!("--{name} {t:?}: expected a UTC time such as 2026-11-23T14 or 2026-11-23T14:30:00Z")
                })
            })
            .transpose()
    };
    let from = bound("from", &args.from)?;
    let to = bound("to", &args.to)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            bail!(
                "--from {} is not before --to {}",
                format_time(f),
                format_time(t)
            );
        }
    }
    if !(args.warn >= 0.0 && args.error >= args.warn) {
        bail!(
            "thresholds must satisfy 0 <= --warn <= --error (got {} and {})",
            args.warn,
            args.error
        );
    }
    Ok(Config {
        fields: FieldNames {
            hostname: args.field_hostname.clone(),
            sequence: args.field_sequence.clone(),
            dt: args.field_dt.clone(),
            run: args.field_run.clone(),
            heartbeat: args.field_heartbeat.clone(),
            ..FieldNames::default()
        },
        from,
        to,
        warn_percent: args.warn,
        error_percent: args.error,
        topics: args.topics.clone(),
    })
}

fn kafka_options(args: &Args, brokers: &str, config: &Config) -> Result<KafkaOptions> {
    if args.group.is_some() && !args.offsets.is_empty() {
        bail!("--group splits partitions by time window; it cannot be combined with --offsets");
    }
    if !args.offsets.is_empty() && (config.from.is_some() || config.to.is_some()) {
        bail!("give either --offsets or --from/--to, not both");
    }
    let offsets = args
        .offsets
        .iter()
        .map(|text| parse_offsets(text))
        .collect::<Result<Vec<_>>>()?;
    let properties = args
        .properties
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| Property {
                    key: k.trim().to_string(),
                    value: v.trim().to_string(),
                })
                .ok_or_else(|| anyhow!("-X {p:?}: expected KEY=VALUE"))
        })
        .collect::<Result<Vec<_>>>()?;
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

fn parse_offsets(text: &str) -> Result<OffsetRange> {
    let bad = || anyhow!("--offsets {text:?}: expected TOPIC:PARTITION:START[-END]");
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

fn read_files(auditor: &mut Auditor, files: &[String], progress: &mut Progress) -> Result<()> {
    let mut done_bytes = 0u64;
    for path in files {
        let mut opened = input::open(path)?;
        let source = auditor.add_source(opened.name.clone());
        let total = opened
            .size
            .filter(|_| opened.compression == input::Compression::None);
        let result = input::for_each_line(
            &mut opened.reader,
            |line, number| {
                let origin = Origin {
                    source,
                    position: number,
                    topic: 0,
                    partition: -1,
                    timestamp: None,
                };
                auditor.ingest(line, &origin);
            },
            |bytes, lines| {
                progress.update(
                    lines,
                    Some(done_bytes + bytes),
                    total.map(|t| done_bytes + t),
                )
            },
        );
        result.map_err(|source| input::InputError::Read {
            path: path.clone(),
            lines: auditor.totals().lines,
            source,
        })?;
        done_bytes += total.unwrap_or(0);
    }
    Ok(())
}

fn print_report(report: &Report, output: Output) -> Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = match output {
        Output::Table => report.write_table(&mut out),
        Output::Json => report.write_json(&mut out),
        Output::Csv => report.write_csv(&mut out),
    };
    written
        .and_then(|()| out.flush())
        .context("writing the report")
}

/// A one-line progress indicator on stderr, shown only on a terminal and only once the input
/// is large enough for the wait to be noticed.
struct Progress {
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
    shown: bool,
}

impl Progress {
    const LARGE_BYTES: u64 = 64 << 20;
    const LARGE_MESSAGES: u64 = 200_000;

    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            started: Instant::now(),
            last: None,
            shown: false,
        }
    }

    fn update(&mut self, count: u64, bytes: Option<u64>, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let large = match bytes {
            Some(b) => b >= Self::LARGE_BYTES || total.is_some_and(|t| t >= Self::LARGE_BYTES),
            None => count >= Self::LARGE_MESSAGES,
        };
        if !large
            || self
                .last
                .is_some_and(|l| l.elapsed() < Duration::from_millis(500))
        {
            return;
        }
        self.last = Some(Instant::now());
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let mut line = format!("{count} lines, {:.0}/s", count as f64 / seconds);
        if let Some(b) = bytes {
            line.push_str(&format!(", {:.0} MiB", b as f64 / 1048576.0));
            if let Some(t) = total.filter(|&t| t > 0) {
                line.push_str(&format!(
                    " of {:.0} MiB ({:.0}%)",
                    t as f64 / 1048576.0,
                    b as f64 / t as f64 * 100.0
                ));
            }
        }
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[Kedgeship-audit: {line}");
        let _ = err.flush();
        self.shown = true;
    }

    fn clear(&mut self) {
        if self.shown {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}
