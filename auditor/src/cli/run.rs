//! Running the audit the command line describes: read the files or topics, refuse an
//! unbounded span, write the report and the bad-input summary.

use std::io::{self, Write};
use std::time::Instant;

use super::args::{Args, ReportFormat};
use super::progress::Progress;
use super::settings::{OptionsError, Settings, Source};
use crate::audit::{Auditor, HourSpan, Origin};
use crate::input::{self, InputError};
use crate::kafka::{self, KafkaError, KafkaOptions, KafkaStats};
use crate::report::Report;

/// Why the audit could not run (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The command line is refused.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// A file could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The topics could not be read.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// Without a window, the input spans more hours than `--max-hours`.
    #[error(
        "the input spans {hours} hours (from hour {} to hour {} since the epoch), more than \
         --max-hours {max_hours}: audit it in windows with --from/--to, or raise --max-hours",
        span.first,
        span.last
    )]
    TooManyHours {
        /// Hours spanned.
        hours: i64,
        /// The hours.
        span: HourSpan,
        /// `--max-hours`.
        max_hours: u32,
    },
    /// The report could not be written.
    #[error("writing the report")]
    Write(#[source] io::Error),
}

/// Runs the audit `args` describe and writes its report; returns the report, whose worst
/// status the exit code reflects.
pub fn run(args: &Args) -> Result<Report, RunError> {
    let settings = Settings::from_args(args)?;
    for warning in &settings.warnings {
        eprintln!("edgeship-audit: warning: {warning}");
    }
    let started = Instant::now();
    let mut auditor = Auditor::new(settings.config.clone());
    let mut progress = Progress::new(settings.progress);
    match &settings.source {
        Source::Kafka(options) => {
            let stats = read_kafka(&mut auditor, options, &mut progress)?;
            progress.clear();
            eprintln!(
                "edgeship-audit: {}",
                kafka_summary(&stats, started.elapsed().as_secs_f64())
            );
        }
        Source::Files(files) => {
            read_files(&mut auditor, files, &mut progress)?;
            progress.clear();
        }
    }
    check_span(&settings, &auditor)?;
    let report = auditor.finish();
    write_report(&report, settings.format).map_err(RunError::Write)?;
    for bad in &report.bad_input {
        eprintln!(
            "edgeship-audit: bad input: {} lines {} (first at {})",
            bad.count,
            bad.reason.name(),
            bad.first_at
        );
    }
    Ok(report)
}

fn read_kafka(
    auditor: &mut Auditor,
    options: &KafkaOptions,
    progress: &mut Progress,
) -> Result<KafkaStats, KafkaError> {
    kafka::read(auditor, options, |messages| progress.messages(messages))
}

/// What the Kafka input did, in one line.
fn kafka_summary(stats: &KafkaStats, seconds: f64) -> String {
    let mut line = format!(
        "{} messages from {} partitions",
        stats.messages, stats.partitions_read
    );
    if stats.partitions_skipped > 0 {
        line.push_str(&format!(
            ", {} already reported by the group",
            stats.partitions_skipped
        ));
    }
    if stats.partitions_revoked > 0 {
        line.push_str(&format!(
            ", {} handed to other members",
            stats.partitions_revoked
        ));
    }
    line.push_str(&format!(" in {seconds:.1}s"));
    line
}

/// Folds every line of the files into the audit, in order.
fn read_files(
    auditor: &mut Auditor,
    files: &[String],
    progress: &mut Progress,
) -> Result<(), InputError> {
    let mut done_bytes = 0u64;
    for path in files {
        let mut opened = input::open(path)?;
        let source = auditor.add_source(opened.name.clone());
        // Only an uncompressed file's size says how much is left to read.
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
                match line {
                    input::Line::Text(line) => auditor.ingest(line, &origin),
                    input::Line::TooLong => auditor.ingest_too_long(&origin),
                }
            },
            |bytes, lines| {
                progress.bytes(lines, done_bytes + bytes, total.map(|t| done_bytes + t));
            },
        );
        result.map_err(|source| InputError::Read {
            path: path.clone(),
            lines: auditor.totals().lines,
            source,
        })?;
        done_bytes += total.unwrap_or(0);
    }
    Ok(())
}

/// Without `--from`/`--to`, refuses an input whose events lie more than `--max-hours` apart:
/// the report would have a row per silent hour between them.
fn check_span(settings: &Settings, auditor: &Auditor) -> Result<(), RunError> {
    if settings.config.from.is_some() || settings.config.to.is_some() {
        return Ok(());
    }
    match auditor.span_hours() {
        Some(span) if span.hours() > i64::from(settings.max_hours) => Err(RunError::TooManyHours {
            hours: span.hours(),
            span,
            max_hours: settings.max_hours,
        }),
        _ => Ok(()),
    }
}

/// Writes the report on standard output in `format`.
fn write_report(report: &Report, format: ReportFormat) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match format {
        ReportFormat::Table => report.write_table(&mut out),
        ReportFormat::Json => report.write_json(&mut out),
        ReportFormat::Csv => report.write_csv(&mut out),
    }?;
    out.flush()
}
