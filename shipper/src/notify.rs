//! systemd's notification protocol (sd_notify(3)) without libsystemd: newline-separated
//! `KEY=value` assignments in one datagram to the Unix socket named by `$NOTIFY_SOCKET`, a
//! path (`/run/systemd/notify`) or, with a leading `@`, an abstract socket name. And the
//! watchdog's settings, `$WATCHDOG_USEC` (and `$WATCHDOG_PID`, when set, naming this process)
//! as sd_watchdog_enabled(3) reads them.
//!
//! Not supported: `vsock:` addresses (a service in a virtual machine notifying its host),
//! which a shipper on a cache host has no use for; such a socket is reported at start as
//! unusable and the process runs without notifications.

use std::io;
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Whether a service manager listens for notifications (`$NOTIFY_SOCKET` is set).
pub fn listening() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// Where notifications go: an unbound datagram socket and the service manager's address.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    address: SocketAddr,
}

impl Notifier {
    /// The notifier for `$NOTIFY_SOCKET`: `Ok(None)` when it is not set (not started by
    /// systemd, or by a unit that is not `Type=notify`), an error when it is set but unusable.
    pub fn from_environment() -> io::Result<Option<Notifier>> {
        match std::env::var_os("NOTIFY_SOCKET") {
            None => Ok(None),
            Some(value) => {
                let value = value.into_string().map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "NOTIFY_SOCKET is not UTF-8")
                })?;
                Notifier::to(&value).map(Some)
            }
        }
    }

    /// A notifier for the socket written as `$NOTIFY_SOCKET` writes it.
    pub fn to(notify_socket: &str) -> io::Result<Notifier> {
        Ok(Notifier {
            socket: UnixDatagram::unbound()?,
            address: socket_address(notify_socket)?,
        })
    }

    /// Sends one notification (`READY=1`, `WATCHDOG=1`, `STATUS=...`; several separated by
    /// newlines). A datagram is all or nothing, so a short send is an error.
    pub fn send(&self, assignments: &str) -> io::Result<()> {
        let sent = self
            .socket
            .send_to_addr(assignments.as_bytes(), &self.address)?;
        if sent == assignments.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the notification was cut short",
            ))
        }
    }
}

/// The address `$NOTIFY_SOCKET` names: `@name` is the abstract name `name`, anything else
/// must be an absolute path.
pub fn socket_address(notify_socket: &str) -> io::Result<SocketAddr> {
    if let Some(name) = notify_socket.strip_prefix('@') {
        SocketAddr::from_abstract_name(name.as_bytes())
    } else if notify_socket.starts_with('/') {
        SocketAddr::from_pathname(notify_socket)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "NOTIFY_SOCKET={notify_socket:?} is neither a path nor an abstract socket name \
                 (vsock addresses are not supported)"
            ),
        ))
    }
}

/// The watchdog interval systemd expects `WATCHDOG=1` within (`WatchdogSec=`), read from
/// `$WATCHDOG_USEC` and `$WATCHDOG_PID`; `None` when the watchdog is off for this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog_interval_of(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// [`watchdog_interval`] over given values: the interval is `usec` microseconds (0 or
/// unreadable is no watchdog), for this process only if `pid`, when given, is `own_pid` (a
/// child that inherited the variables must not feed its parent's watchdog).
pub fn watchdog_interval_of(
    usec: Option<&str>,
    pid: Option<&str>,
    own_pid: u32,
) -> Option<Duration> {
    let micros = usec?
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|&micros| micros > 0)?;
    match pid {
        Some(pid) if pid.trim().parse::<u32>().ok() != Some(own_pid) => None,
        _ => Some(Duration::from_micros(micros)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_and_an_abstract_name_are_read_and_anything_else_is_refused() {
        let path = socket_address("/run/systemd/notify").expect("a path");
        assert_eq!(
            path.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        let abstract_name = socket_address("@edgeship/notify").expect("an abstract name");
        assert_eq!(
            abstract_name.as_abstract_name(),
            Some(&b"edgeship/notify"[..])
        );
        assert!(socket_address("vsock:2:1234").is_err());
        assert!(socket_address("relative/socket").is_err());
    }

    #[test]
    fn a_notification_arrives_whole_on_a_bound_socket() {
        let dir = edgeship_testkit::scratch::ScratchDir::new("notify").expect("a scratch dir");
        let path = dir.path().join("notify");
        let manager = UnixDatagram::bind(&path).expect("bind the manager's socket");
        let notifier = Notifier::to(path.to_str().expect("UTF-8")).expect("a notifier");
        notifier.send("READY=1\nSTATUS=up").expect("send");
        let mut buffer = [0_u8; 64];
        let received = manager.recv(&mut buffer).expect("receive");
        assert_eq!(&buffer[..received], b"READY=1\nSTATUS=up");
    }

    #[test]
    fn the_watchdog_is_on_for_a_positive_interval_and_this_process_only() {
        let two_seconds = Some(Duration::from_secs(2));
        assert_eq!(watchdog_interval_of(Some("2000000"), None, 7), two_seconds);
        assert_eq!(
            watchdog_interval_of(Some("2000000"), Some("7"), 7),
            two_seconds
        );
        assert_eq!(watchdog_interval_of(Some("2000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval_of(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval_of(Some("soon"), None, 7), None);
        assert_eq!(watchdog_interval_of(None, Some("7"), 7), None);
    }
}
