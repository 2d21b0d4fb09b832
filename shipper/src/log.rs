//! The daemon's own log: standard error and/or syslog as `log.stderr` / `log.syslog` say,
//! filtered by `log.level`, and rate-limited per error type (`log.rate.max` lines per
//! `log.rate.period`), with the number of suppressed lines reported when a period ends.
//!
//! Logging is never on the per-record path: errors are logged per batch or per event, so the
//! mutex here is uncontended in practice.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use edgeship_conf::LogSettings;

/// Syslog severities, as varnishkafka's `log.level` numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 3
    Error = 3,
    /// 4
    Warning = 4,
    /// 5
    Notice = 5,
    /// 6
    Info = 6,
    /// 7
    Debug = 7,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
}

type Syslog = syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>;

struct Inner {
    windows: HashMap<&'static str, Window>,
    syslog: Option<Syslog>,
}

/// Whether the local syslog at `socket` takes connections, the way [`Log::new`] connects.
/// A daemon checks this before it detaches: once its standard error is `/dev/null`, a log
/// that cannot reach syslog goes nowhere.
pub fn syslog_reachable(socket: &Path) -> Result<(), String> {
    let formatter = syslog::Formatter3164 {
        facility: syslog::Facility::LOG_DAEMON,
        hostname: None,
        process: "edgeship".into(),
        pid: std::process::id(),
    };
    syslog::unix_custom(formatter, socket)
        .map(drop)
        .map_err(|error| error.to_string())
}

/// The daemon's logger.
pub struct Log {
    settings: LogSettings,
    inner: Mutex<Inner>,
}

impl Log {
    /// A logger per `settings`. If syslog was asked for but cannot be reached, logging falls
    /// back to standard error and says so once.
    pub fn new(settings: &LogSettings) -> Log {
        let mut syslog = None;
        let mut fallback_note = None;
        if settings.syslog {
            let formatter = syslog::Formatter3164 {
                facility: syslog::Facility::LOG_DAEMON,
                hostname: None,
                process: "edgeship".into(),
                pid: std::process::id(),
            };
            match syslog::unix_custom(formatter, &settings.syslog_socket) {
                Ok(logger) => syslog = Some(logger),
                Err(error) => {
                    fallback_note = Some(format!(
                        "syslog unavailable at {} ({error}); logging to stderr",
                        settings.syslog_socket.display()
                    ))
                }
            }
        }
        let mut settings = settings.clone();
        if settings.syslog && syslog.is_none() {
            settings.stderr = true;
        }
        let log = Log {
            settings,
            inner: Mutex::new(Inner {
                windows: HashMap::new(),
                syslog,
            }),
        };
        if let Some(note) = fallback_note {
            log.write(Level::Warning, &note);
        }
        log
    }

    /// A logger that writes to standard error only, for errors before the configuration is
    /// known.
    pub fn stderr_only() -> Log {
        Log::new(&LogSettings {
            level: 6,
            stderr: true,
            syslog: false,
            syslog_line: None,
            syslog_socket: PathBuf::from("/dev/log"),
            kafka_msg_error: true,
            rate_max: 100,
            rate_period: Duration::from_secs(60),
        })
    }

    /// Whether failed deliveries are logged one by one (`log.kafka.msg.error`).
    pub fn kafka_msg_error(&self) -> bool {
        self.settings.kafka_msg_error
    }

    /// An informational line (not rate-limited: these are rare by construction).
    pub fn info(&self, message: &str) {
        self.write(Level::Info, message);
    }

    /// A notice: something the operator should know at start-up.
    pub fn notice(&self, message: &str) {
        self.write(Level::Notice, message);
    }

    /// An error of a given type, rate-limited per type.
    pub fn error(&self, kind: &'static str, message: &str) {
        self.limited(Level::Error, kind, || message.to_owned());
    }

    /// A warning of a given type, rate-limited per type.
    pub fn warning(&self, kind: &'static str, message: &str) {
        self.limited(Level::Warning, kind, || message.to_owned());
    }

    /// One event, one call: adds `amount` to `counter` and logs an error of type `kind`,
    /// rate-limited per type, saying the counter's new total, so the log and the counters
    /// never disagree. `message` gets the total and is only called when the line is written,
    /// so a flood of events formats nothing once the period's lines are used up.
    pub fn counted_error(
        &self,
        kind: &'static str,
        counter: &AtomicU64,
        amount: u64,
        message: impl FnOnce(u64) -> String,
    ) {
        let total = counter
            .fetch_add(amount, Ordering::Relaxed)
            .wrapping_add(amount);
        self.limited(Level::Error, kind, || message(total));
    }

    fn limited(&self, level: Level, kind: &'static str, message: impl FnOnce() -> String) {
        let mut report_suppressed = None;
        let allowed = {
            let Ok(mut inner) = self.inner.lock() else {
                return;
            };
            let now = Instant::now();
            let window = inner.windows.entry(kind).or_insert(Window {
                started: now,
                logged: 0,
                suppressed: 0,
            });
            if now.duration_since(window.started) >= self.settings.rate_period {
                if window.suppressed > 0 {
                    report_suppressed = Some(window.suppressed);
                }
                *window = Window {
                    started: now,
                    logged: 0,
                    suppressed: 0,
                };
            }
            if window.logged < self.settings.rate_max {
                window.logged += 1;
                true
            } else {
                window.suppressed += 1;
                false
            }
        };
        if let Some(suppressed) = report_suppressed {
            self.write(
                level,
                &format!("[{kind}] {suppressed} more messages suppressed in the last period"),
            );
        }
        if allowed {
            self.write(level, &format!("[{kind}] {}", message()));
        }
    }

    fn write(&self, level: Level, message: &str) {
        if level as u8 > self.settings.level {
            return;
        }
        if self.settings.stderr {
            // If standard error is gone there is nowhere left to report that.
            let _ = writeln!(
                std::io::stderr().lock(),
                "edgeship: {}: {message}",
                level.name()
            );
        }
        if self.settings.syslog {
            if let Ok(mut inner) = self.inner.lock() {
                if let Some(logger) = inner.syslog.as_mut() {
                    let _ = match level {
                        Level::Error => logger.err(message),
                        Level::Warning => logger.warning(message),
                        Level::Notice => logger.notice(message),
                        Level::Info => logger.info(message),
                        Level::Debug => logger.debug(message),
                    };
                }
            }
        }
    }
}
