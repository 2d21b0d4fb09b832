//! The command line's options, as clap reads them.

use clap::{Parser, ValueEnum};

use crate::scan::FieldNames;

/// How the report is written on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
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
/// Besides the rows it reports what the heartbeats say about each run (lines starting `!!` in
/// the table): "no heartbeat since T" when a host's latest run sent no heartbeat, and no final
/// one, for more than twice its interval before the window's end (--to, else the newest time
/// read); "ended without a final heartbeat" for a run that a later one followed; the "unread
/// window" between one run's last heartbeat and the next run's first; and, for records without
/// a run field read from files, the "inferred run boundary" where a sequence restarts; "spool
/// pending" when a host's latest heartbeat says records still wait in its disk spool. From
/// Kafka, the edgeship.run and edgeship.sequence record headers name each record's run. The
/// shipper's own loss counters (overruns, drops, delivery failures) are reported per hour as
/// count_shipper_lost, beside count_lost and never added to it.
///
/// Exit codes: 0 all ok; 1 a warning: loss at --warn, any shipper-counted loss (an overrun
/// counts once however many requests it lost), a run that ended
/// without a final heartbeat (not the latest), an unread window between runs, spool pending,
/// or bad input
/// lines; 2 an error: loss or shipper-counted loss at --error, no heartbeat since T (the
/// latest run stopped before the window's end), or a silent host/topic; 3 the audit could not
/// run (reason on stderr).
#[derive(Debug, Parser)]
#[command(name = "edgeship-audit", version, max_term_width = 100)]
pub struct Args {
    /// Files of newline-delimited JSON (plain, gzip or snappy-framed, recognised by content);
    /// `-` reads standard input. Not with --brokers.
    #[arg(value_name = "FILE")]
    pub(super) files: Vec<String>,

    /// Read from Kafka instead of files (bootstrap.servers, comma-separated).
    #[arg(long, value_name = "HOST:PORT,...", help_heading = "Kafka")]
    pub(super) brokers: Option<String>,

    /// A topic of the stream; repeat for datacenter topics audited together
    /// (e.g. --topic eqiad.webrequest_text --topic codfw.webrequest_text).
    #[arg(long = "topic", value_name = "TOPIC", help_heading = "Kafka")]
    pub(super) topics: Vec<String>,

    /// Exact offsets instead of a time window: TOPIC:PARTITION:START[-END], END exclusive
    /// (default: until caught up with the partition). Repeatable; only these partitions are read.
    #[arg(long = "offsets", value_name = "RANGE", help_heading = "Kafka")]
    pub(super) offsets: Vec<String>,

    /// Join this consumer group to split the partitions with other auditors. Each partition is
    /// reported by exactly one member; use a new group name for each audit.
    #[arg(long, value_name = "GROUP", help_heading = "Kafka")]
    pub(super) group: Option<String>,

    /// Seconds read before --from and after --to, for records stamped inside the window but
    /// produced outside it (they count as present, never as rows).
    #[arg(
        long,
        default_value_t = 60,
        value_name = "SECONDS",
        help_heading = "Kafka"
    )]
    pub(super) grace: u32,

    /// Seconds to wait for each broker request before giving up (exit code 3).
    #[arg(
        long,
        default_value_t = 10,
        value_name = "SECONDS",
        help_heading = "Kafka"
    )]
    pub(super) timeout: u32,

    /// A librdkafka consumer property, e.g. -X security.protocol=ssl. Repeatable. Not for
    /// secrets (the command line is visible to every local user): give those in
    /// --kafka-config or as EDGESHIP_AUDIT_KAFKA_* environment variables
    /// (EDGESHIP_AUDIT_KAFKA_SASL_PASSWORD sets sasl.password).
    #[arg(short = 'X', value_name = "KEY=VALUE", help_heading = "Kafka")]
    pub(super) properties: Vec<String>,

    /// A file of librdkafka consumer properties, one KEY=VALUE a line (# comments). The
    /// environment's EDGESHIP_AUDIT_KAFKA_* variables override it, and -X overrides both.
    /// Property values are never printed, in errors either.
    #[arg(long, value_name = "FILE", help_heading = "Kafka")]
    pub(super) kafka_config: Option<String>,

    /// Most hours a report may span. Without --from/--to, an input whose events lie further
    /// apart (a clock far off, or months of data) is refused with exit code 3 rather than
    /// reported as a row per silent hour; audit it in windows instead. A --from/--to window
    /// longer than this is refused the same way. With only --from (or only --to), events more
    /// than this many hours after (before) it are not counted: bad input "out_of_window".
    #[arg(long, default_value_t = 744, value_name = "HOURS")]
    pub(super) max_hours: u32,

    /// Window start, UTC (2026-11-23T14, 2026-11-23T14:30, or a full timestamp). Kafka is
    /// positioned there by time; with files, earlier records only count as present.
    #[arg(long, value_name = "TIME")]
    pub(super) from: Option<String>,

    /// Window end, UTC, exclusive; same forms as --from.
    #[arg(long, value_name = "TIME")]
    pub(super) to: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub(super) output: ReportFormat,

    /// Percent lost from which a row is a warning.
    #[arg(long, default_value_t = 0.5, value_name = "PERCENT")]
    pub(super) warn: f64,

    /// Percent lost from which a row is an error.
    #[arg(long, default_value_t = 2.0, value_name = "PERCENT")]
    pub(super) error: f64,

    /// The names of the fields read.
    #[command(flatten)]
    pub(super) fields: FieldArgs,

    /// Do not show progress on stderr even when it is a terminal.
    // Listed with the general options, not under the heading the fields above set.
    #[arg(long, help_heading = None)]
    pub(super) quiet: bool,
}

/// The options that name the fields of a record.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Fields")]
pub(super) struct FieldArgs {
    /// Name of the host field.
    #[arg(long, default_value = "hostname", value_name = "NAME")]
    pub(super) field_hostname: String,

    /// Name of the sequence field.
    #[arg(long, default_value = "sequence", value_name = "NAME")]
    pub(super) field_sequence: String,

    /// Name of the time field (`-` marks records Varnish forced complete).
    #[arg(long, default_value = "dt", value_name = "NAME")]
    pub(super) field_dt: String,

    /// Name of the run field; records without it are audited per host, as the classic check.
    #[arg(long, default_value = "run", value_name = "NAME")]
    pub(super) field_run: String,

    /// Top-level field that marks heartbeats when it is `true`.
    #[arg(long, default_value = "heartbeat", value_name = "NAME")]
    pub(super) field_heartbeat: String,
}

impl FieldArgs {
    /// The audit's field names: these, and the defaults for the heartbeat's numbers.
    pub(super) fn names(&self) -> FieldNames {
        FieldNames {
            hostname: self.field_hostname.clone(),
            sequence: self.field_sequence.clone(),
            dt: self.field_dt.clone(),
            run: self.field_run.clone(),
            heartbeat: self.field_heartbeat.clone(),
            ..FieldNames::default()
        }
    }
}
