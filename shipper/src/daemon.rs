//! Running in the background (`daemonize`, `-D`) without losing start-up errors: the launching
//! process waits, on a socket pair shared across the fork, until the daemon says it is
//! running or why it could not start, and exits accordingly (0, or the daemon's code with its
//! error on standard error). Without this the launcher exited 0 at the fork and a failure a
//! moment later went to `/dev/null`.
//!
//! The daemon says "ready" once the reader has attached to the log and the first heartbeat is
//! queued: from then on its errors go to syslog (which daemonizing turns on, see `main.rs`).

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;

/// What the launcher prints when the daemon ended before saying anything.
const SILENT_END: &str = "edgeship: the daemon ended during start-up without a reason";

/// Where a process reports the outcome of its start-up: nowhere in the foreground, to the
/// waiting launcher in a daemon.
#[derive(Debug)]
pub struct StartReport {
    launcher: Option<UnixStream>,
}

impl StartReport {
    /// A process that was not daemonized: its errors go to its own standard error.
    pub fn foreground() -> StartReport {
        StartReport { launcher: None }
    }

    /// Tells the launcher that start-up is complete, so it exits 0. Later calls do nothing.
    pub fn ready(&mut self) {
        if let Some(mut launcher) = self.launcher.take() {
            // If the launcher is gone (killed), there is no one left to tell.
            let _ = launcher.write_all(b"ready\n");
        }
    }

    /// Hands a start-up failure (`message`, exit `code`) to the launcher, which prints it and
    /// exits with `code`. Returns false when there is no launcher waiting (the foreground, or
    /// after [`StartReport::ready`]): the caller reports the error itself.
    pub fn failed(&mut self, code: u8, message: &str) -> bool {
        let Some(mut launcher) = self.launcher.take() else {
            return false;
        };
        let _ = launcher.write_all(format!("exit {code}\n{message}\n").as_bytes());
        true
    }
}

/// Which side of the fork this process is on.
pub enum Detached {
    /// The launcher: it waited for the daemon's start-up and exits with this code.
    Launcher(u8),
    /// The daemon, with the report its start-up ends with.
    Daemon(StartReport),
}

/// Forks into the background (double fork, new session, working directory `/`, standard
/// streams to `/dev/null`, umask 027). The launcher waits for the daemon's start-up report and
/// prints a failure on its standard error.
pub fn detach() -> anyhow::Result<Detached> {
    let (mut launcher_end, daemon_end) = UnixStream::pair()?;
    match daemonize::Daemonize::new().working_directory("/").execute() {
        daemonize::Outcome::Parent(Ok(_)) => {
            // Only the daemon (and the intermediate child, until it exits) may hold the
            // writing end, so the read below ends when the daemon has spoken or died.
            drop(daemon_end);
            Ok(Detached::Launcher(wait_for_start(&mut launcher_end)))
        }
        daemonize::Outcome::Parent(Err(error)) => Err(anyhow::anyhow!("cannot daemonize: {error}")),
        daemonize::Outcome::Child(result) => {
            drop(launcher_end);
            let mut report = StartReport {
                launcher: Some(daemon_end),
            };
            if let Err(error) = result {
                report.failed(1, &format!("edgeship: cannot daemonize: {error}"));
                std::process::exit(1);
            }
            Ok(Detached::Daemon(report))
        }
    }
}

/// The launcher's wait: "ready" is success; "exit N" and a message are printed and returned;
/// an end without either is a failure too.
fn wait_for_start(launcher_end: &mut UnixStream) -> u8 {
    let mut said = String::new();
    if launcher_end.read_to_string(&mut said).is_err() || said.is_empty() {
        eprintln!("{SILENT_END}");
        return 1;
    }
    if said.starts_with("ready\n") {
        return 0;
    }
    let (status, message) = said.split_once('\n').unwrap_or((said.as_str(), ""));
    let code = status
        .strip_prefix("exit ")
        .and_then(|code| code.parse::<u8>().ok())
        .filter(|&code| code != 0)
        .unwrap_or(1);
    eprint!("{message}");
    code
}
