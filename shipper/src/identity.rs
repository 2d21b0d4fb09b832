//! Who is shipping: the host name `%l` renders and the run identifier, new at every process
//! start, that lets the auditor tell a restart from loss (docs/records.md), with the run's
//! first sequence number.

use std::io::Read as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgeship_conf::Config;
use edgeship_formats::time::{TimeFormat, Timestamp};

/// This run's identity: what every record and heartbeat says about who shipped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The host name (`edgeship.hostname`, else the machine's).
    pub hostname: String,
    /// The run identifier.
    pub run: String,
    /// The first sequence number of the run (`sequence.number`).
    pub sequence_start: u64,
    /// Set when this process continues a run an earlier one started (a checkpoint, see
    /// `resume`): the next sequence number to give.
    pub resumed_at: Option<u64>,
    /// How often the run says it is alive (`edgeship.heartbeat.interval`), which every
    /// heartbeat carries so the auditor knows when the next one is overdue.
    pub heartbeat_interval: Duration,
}

impl Identity {
    /// The identity of a run of `config` started at `started`.
    pub fn new(config: &Config, started: SystemTime) -> Identity {
        let configured = config.edgeship.hostname.as_ref();
        Identity {
            hostname: hostname(configured.map(|name| name.value.as_str())),
            run: run_identifier(started),
            sequence_start: config.sequence_start.start_value(started),
            resumed_at: None,
            heartbeat_interval: config.edgeship.heartbeat_interval,
        }
    }
}

/// The run identifier: the UTC start time and 32 random bits,
/// `YYYYMMDDTHHMMSSZ-xxxxxxxx`. It sorts by start time and differs between two starts in the
/// same second.
pub fn run_identifier(start: SystemTime) -> String {
    let seconds = start
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let mut text = Vec::new();
    if let Ok(format) = TimeFormat::compile("%Y%m%dT%H%M%SZ") {
        format.render(
            Timestamp {
                seconds: seconds as i64,
                micros: 0,
            },
            &mut text,
        );
    }
    format!(
        "{}-{:08x}",
        String::from_utf8_lossy(&text),
        random_u32(start)
    )
}

/// 32 bits from the OS random source; should it be unreadable, the process id and the start
/// time's nanoseconds still make a collision between two starts very unlikely.
fn random_u32(start: SystemTime) -> u32 {
    let mut bytes = [0_u8; 4];
    let from_os =
        std::fs::File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut bytes));
    if from_os.is_ok() {
        return u32::from_le_bytes(bytes);
    }
    let nanos = start
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16)
}

/// The host name `%l` renders: `edgeship.hostname` if set, else the machine's name.
pub fn hostname(configured: Option<&str>) -> String {
    match configured {
        Some(name) => name.to_string(),
        None => gethostname::gethostname().to_string_lossy().into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_identifiers_carry_the_start_time_and_differ() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let first = run_identifier(start);
        let second = run_identifier(start);
        assert!(first.starts_with("20231114T221320Z-"), "{first}");
        assert_eq!(first.len(), "20231114T221320Z-".len() + 8);
        assert_ne!(first, second, "two starts in the same second differ");
    }
}
