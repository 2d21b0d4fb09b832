//! `edgeship`: the command line (varnishkafka's flags plus `--check-config`), start-up checks,
//! and exit codes: 0 clean, 1 failed while running, 2 configuration or usage error, 130 a
//! second signal during shutdown.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use edgeship_conf::{
    parse_limit, parse_timeout, Config, ConfigError, Errors, Grouping, Output, Overrides, RawConfig,
};
use edgeship_shipper::daemon::{self, Detached, StartReport};
use edgeship_shipper::kafka::{self, KafkaInput};
use edgeship_shipper::log::{self, Log};
use edgeship_shipper::notify;
use edgeship_shipper::pipeline::{self, Ending, StartAt};
use edgeship_shipper::signals;

const EXIT_RUNTIME: u8 = 1;
const EXIT_CONFIG: u8 = 2;

/// Ships every request Varnish serves to Kafka, numbered per host and run, with heartbeats.
///
/// edgeship reads varnishkafka's configuration file unchanged (-S) and accepts its flags.
/// Command-line values override the file's varnish.arg.* settings.
#[derive(Debug, Parser)]
#[command(name = "edgeship", version, about, long_about = None, after_help = AFTER_HELP)]
struct Cli {
    /// Configuration file (varnishkafka's format).
    #[arg(
        short = 'S',
        value_name = "FILE",
        default_value = "/etc/varnishkafka.conf"
    )]
    config: PathBuf,
    /// varnishd instance name or working directory to read the log of.
    #[arg(short = 'n', value_name = "NAME|DIR")]
    name: Option<String>,
    /// VSL query selecting the transactions to ship (vsl-query(7)). With vxid grouping edgeship
    /// evaluates it itself while it groups (the fast path); with -g request, or a query of
    /// more than 64 comparisons, Varnish's VSLQ does. The path chosen, and why, is logged at
    /// start.
    /// Given more than once, the queries are combined as varnishlog combines them: a
    /// transaction is shipped when any of them selects it.
    #[arg(short = 'q', value_name = "QUERY", value_parser = parse_query, action = clap::ArgAction::Append)]
    query: Vec<String>,
    /// Seconds a transaction may stay incomplete before it is forced complete (default 120).
    #[arg(short = 'T', value_name = "SECONDS", value_parser = parse_timeout)]
    timeout: Option<f64>,
    /// Incomplete transactions kept before the oldest is forced complete (default 1000).
    #[arg(short = 'L', value_name = "COUNT", value_parser = parse_limit)]
    limit: Option<u32>,
    /// Transaction grouping: vxid (default) or request.
    #[arg(short = 'g', value_name = "vxid|request", value_parser = parse_grouping)]
    grouping: Option<Grouping>,
    /// Run in the background (also `daemonize = true` in the file).
    #[arg(short = 'D')]
    daemonize: bool,
    /// Read a binary log written by `varnishlog -w` instead of the live log, then exit.
    #[arg(short = 'r', value_name = "FILE")]
    file: Option<PathBuf>,
    /// Accepted for varnishkafka compatibility and ignored.
    #[arg(short = 'N', value_name = "FILE")]
    vsm_file: Option<String>,
    /// Validate the configuration (including librdkafka's properties and the formats), print
    /// every problem as path:line: message, and exit: 0 valid, 2 invalid.
    #[arg(long)]
    check_config: bool,
    /// Start reading at the log's tail and begin a new run even when `edgeship.state.dir`
    /// holds a checkpoint this process could resume (the behaviour without a state
    /// directory). The checkpoint is still kept for the next start.
    #[arg(long)]
    from_tail: bool,
}

const AFTER_HELP: &str = "\
Outputs (output = ...): kafka (default), stdout, null.
Signals: SIGTERM/SIGINT stop reading, flush, write a final heartbeat and exit 0, all within
edgeship.shutdown.timeout (default 30 s; what is undelivered then is counted and logged); a
second one exits at once (130). SIGHUP reopens the statistics file.
Daemonized (-D or daemonize = true), edgeship logs to syslog unless log.syslog is set (false is
refused: errors would go nowhere) and does not start when syslog is unreachable at
log.syslog.socket (default /dev/log); the launching command waits until the daemon reads the
log: it exits 0 then, or with the daemon's start-up error and exit code.
Under systemd (Type=notify, NOTIFY_SOCKET set) edgeship runs in the foreground (daemonizing
is refused), sends READY=1 once it reads the log and its first heartbeat is queued, STATUS=
with a summary, STOPPING=1 at shutdown, and WATCHDOG=1 (WatchdogSec=) only while it makes
progress: it reads or the log is idle, and Kafka acknowledges records or none is waiting.
Exit codes: 0 clean stop, 1 failure while running, 2 configuration or usage error.";

/// A `-q` query, checked by the query parser so a mistake is reported with its column.
fn parse_query(value: &str) -> Result<String, String> {
    match edgeship_query::Query::new(value) {
        Ok(_) => Ok(value.to_owned()),
        Err(error) => Err(format!("-q: {error}")),
    }
}

fn parse_grouping(value: &str) -> Result<Grouping, String> {
    value.parse::<Grouping>().map_err(|error| error.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let early_log = Log::stderr_only();
    if cli.vsm_file.is_some() {
        early_log.notice("-N is accepted for varnishkafka compatibility and ignored");
    }
    let overrides = Overrides {
        name: cli.name.clone(),
        // varnishlog joins its -q options with newlines: one query per line, ORed.
        query: (!cli.query.is_empty()).then(|| cli.query.join("\n")),
        timeout: cli.timeout,
        limit: cli.limit,
        grouping: cli.grouping,
        file: cli.file.clone(),
    };
    let config = match load(&cli.config, &overrides) {
        Ok(loaded) => loaded,
        Err(error) => {
            // One problem per line, in line order (see `edgeship_conf::Errors`).
            eprintln!("{error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let daemonized = cli.daemonize || config.daemonize;
    if daemonized && notify::listening() {
        // Under Type=notify the forked daemon is not the main process systemd watches: the
        // launcher's exit would end the unit, and the daemon's notifications are refused.
        eprintln!(
            "edgeship: daemonize (-D or daemonize = true) under systemd (NOTIFY_SOCKET is set): \
             systemd supervises the process itself; set daemonize = false"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    if let Err(error) = daemon_can_log(&config, daemonized) {
        eprintln!("{error}");
        return ExitCode::from(EXIT_CONFIG);
    }
    if cli.check_config {
        // What the daemon would log as notices at start (`varnish.arg.m` translated, ...).
        for notice in &config.notices {
            eprintln!("{notice}");
        }
        eprintln!("{}: configuration is valid", config.source);
        return ExitCode::SUCCESS;
    }
    let mut log_settings = config.log.clone();
    let mut report = StartReport::foreground();
    if daemonized {
        // A daemon has no terminal (as varnishkafka: no stderr logging), so it logs to syslog.
        log_settings.stderr = false;
        log_settings.syslog = true;
        if let Err(error) = log::syslog_reachable(&log_settings.syslog_socket) {
            eprintln!(
                "edgeship: cannot daemonize: syslog is unreachable at {} ({error}); a daemon's \
                 standard error is /dev/null, so its log would go nowhere. Start the system's \
                 syslog, point log.syslog.socket at it, or run in the foreground \
                 (daemonize = false) under a supervisor",
                log_settings.syslog_socket.display()
            );
            return ExitCode::from(EXIT_RUNTIME);
        }
        match daemon::detach() {
            Ok(Detached::Launcher(code)) => return ExitCode::from(code),
            Ok(Detached::Daemon(daemon_report)) => report = daemon_report,
            Err(error) => {
                eprintln!("edgeship: {error:#}");
                return ExitCode::from(EXIT_RUNTIME);
            }
        }
    }
    let start_at = if cli.from_tail {
        StartAt::Tail
    } else {
        StartAt::Checkpoint
    };
    match run(&config, &log_settings, &mut report, start_at) {
        Ok(Ending::Clean) => ExitCode::SUCCESS,
        Ok(Ending::Failed) => ExitCode::from(EXIT_RUNTIME),
        Err(error) => {
            let message = format!("edgeship: {error:#}");
            // Before "ready" the launcher prints it; after, a daemon's stderr is /dev/null and
            // the error goes to the log (syslog) as well.
            if !report.failed(EXIT_RUNTIME, &message) {
                eprintln!("{message}");
            }
            if daemonized {
                Log::new(&log_settings).error("exit", &message);
            }
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// A daemon's standard error is `/dev/null`: refuses `log.syslog = false` when daemonized,
/// which would leave errors nowhere to go.
fn daemon_can_log(config: &Config, daemonized: bool) -> Result<(), edgeship_conf::LineError> {
    match config.log.syslog_line {
        Some(line) if daemonized && !config.log.syslog => Err(config.error_at(
            Some(line),
            "log.syslog = false with daemonize (or -D): a daemon's standard error is /dev/null, \
             so its errors would go nowhere; turn log.syslog on or daemonize off",
        )),
        _ => Ok(()),
    }
}

/// Reads, resolves and checks everything that can be checked before running: the file, the
/// formats, and librdkafka's configuration. Returns every problem found, in line order.
fn load(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
    let raw = RawConfig::read(path)?;
    let resolved = raw.resolve(overrides);
    let mut problems = Vec::new();

    // librdkafka checks the kafka.* lines even when other lines are bad, so one run reports
    // every problem. Like varnishkafka, properties are checked whatever the output.
    let (global, topic) = raw.kafka_properties();
    let output_is_kafka = resolved
        .as_ref()
        .map_or(true, |config| config.output == Output::Kafka);
    if output_is_kafka || !global.is_empty() || !topic.is_empty() {
        let input = KafkaInput {
            source: raw.source(),
            global: &global,
            topic: &topic,
            statistics_interval: resolved
                .as_ref()
                .ok()
                .and_then(|config| config.statistics.interval),
        };
        if let Err(errors) = kafka::check(input) {
            problems.extend(errors.into_vec());
        }
    }
    match resolved {
        Ok(config) if problems.is_empty() => Ok(config),
        Ok(_) => Err(Errors::new(problems).into()),
        Err(errors) => {
            problems.extend(errors.into_vec());
            Err(Errors::new(problems).into())
        }
    }
}

fn run(
    config: &Config,
    log_settings: &edgeship_conf::LogSettings,
    report: &mut StartReport,
    start_at: StartAt,
) -> anyhow::Result<Ending> {
    let log = Log::new(log_settings);
    let flags = signals::install()?;
    let launch = pipeline::Launch {
        config,
        flags,
        log,
        start_at,
    };
    pipeline::run(launch, report)
}
