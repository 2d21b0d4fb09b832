//! A tansu Kafka-protocol broker on loopback with memory storage, stopped on drop.
//!
//! [`Tansu::start`] runs `tansu broker` on 127.0.0.1 with an ephemeral port and memory storage
//! (the engine that handles snappy batches, idempotent producers and consumer groups), waits
//! until it answers a Kafka `ApiVersions` request, and kills it (then waits for it) when the
//! guard is dropped, pass or fail. tansu does not create topics on first use, so
//! [`Tansu::create_topic`] does it with tansu's own `topic create` command.
//!
//! The binary is `$EDGESHIP_TANSU`, else `$EDGESHIP_TOOLS/bin/tansu` (default tools directory
//! `$HOME/.cache/edgeship-tools`), which `scripts/setup` builds. A missing binary is an error
//! that says so: tests fail rather than skip.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::port::free_port;
use crate::process::{log_tail, Readiness};
use crate::proxy::Proxy;
use crate::scratch::ScratchDir;

/// How long the broker gets to answer after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the tansu binary is expected, following the environment.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("EDGESHIP_TANSU") {
        return PathBuf::from(path);
    }
    let tools = std::env::var_os("EDGESHIP_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            PathBuf::from(home).join(".cache/edgeship-tools")
        });
    tools.join("bin/tansu")
}

/// A running tansu broker, killed on drop.
#[derive(Debug)]
pub struct Tansu {
    binary: PathBuf,
    addr: SocketAddr,
    /// The address clients are told to use: `addr`, or a proxy's in front of it.
    advertised: SocketAddr,
    child: Child,
    /// Holds the broker's log; removed when the guard is dropped, after the broker is gone.
    dir: ScratchDir,
}

impl Tansu {
    /// Starts a broker on a free loopback port with memory storage and waits until it answers.
    pub fn start() -> io::Result<Tansu> {
        Self::start_advertising(|addr| addr)
    }

    /// Starts a broker behind `proxy`: it advertises the proxy's address (so clients never
    /// reconnect around it) and the proxy forwards to it. [`Tansu::bootstrap`] is then the
    /// proxy's address; pausing the proxy cuts every client off the broker.
    pub fn start_behind(proxy: &Proxy) -> io::Result<Tansu> {
        let tansu = Self::start_advertising(|_| proxy.addr())?;
        proxy.forward_to(tansu.addr);
        Ok(tansu)
    }

    /// Starts a broker listening on a free port and advertising `advertise(listener)`.
    fn start_advertising(advertise: impl Fn(SocketAddr) -> SocketAddr) -> io::Result<Tansu> {
        let binary = binary();
        if !binary.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "tansu not found at {} (set EDGESHIP_TANSU, or run scripts/setup to build it)",
                    binary.display()
                ),
            ));
        }
        let mut last_error = None;
        // A port free a moment ago can be taken in between; try a few.
        for _ in 0..5 {
            match Self::spawn(&binary, &advertise) {
                Ok(tansu) => return Ok(tansu),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("tansu did not start")))
    }

    fn spawn(binary: &Path, advertise: impl Fn(SocketAddr) -> SocketAddr) -> io::Result<Tansu> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let advertised = advertise(addr);
        let dir = ScratchDir::new("tansu")?;
        let log_file = std::fs::File::create(dir.path().join("tansu.log"))?;
        let child = Command::new(binary)
            .arg("broker")
            .args(["--listener-url", &format!("tcp://{addr}")])
            .args(["--advertised-listener-url", &format!("tcp://{advertised}")])
            .args(["--storage-engine", "memory://tansu/"])
            // The scratch directory's name is unique to this broker.
            .args(["--cluster-id", dir.name()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()?;
        let mut tansu = Tansu {
            binary: binary.to_path_buf(),
            addr,
            advertised,
            child,
            dir,
        };
        tansu.wait_ready()?;
        Ok(tansu)
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let addr = self.addr;
        let readiness = Readiness {
            name: "tansu",
            addr,
            log: &self.dir.path().join("tansu.log"),
            timeout: START_TIMEOUT,
            pause: Duration::from_millis(50),
        };
        readiness.wait(&mut self.child, || api_versions(addr).is_ok())
    }

    /// The broker's address as clients must use it, for `bootstrap.servers` (a proxy's in
    /// front of it for [`Tansu::start_behind`]).
    pub fn bootstrap(&self) -> String {
        self.advertised.to_string()
    }

    /// Creates a topic with `partitions` partitions (tansu does not create topics on first use).
    pub fn create_topic(&self, name: &str, partitions: u32) -> io::Result<()> {
        let output = Command::new(&self.binary)
            .args(["topic", "create", name])
            .args(["--broker", &format!("tcp://{}", self.addr)])
            .args(["--partitions", &partitions.to_string()])
            .stdin(Stdio::null())
            .output()?;
        if output.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "tansu topic create {name} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )))
        }
    }

    /// The last lines the broker logged, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.dir.path().join("tansu.log"))
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        // Memory storage has nothing to flush: kill outright, then reap the process.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a Kafka `ApiVersions` (v0) request and waits for any well-framed answer: the broker is
/// then serving the protocol, not merely listening.
fn api_versions(addr: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let client_id = b"edgeship-testkit";
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes()); // api key: ApiVersions
    body.extend_from_slice(&0i16.to_be_bytes()); // api version 0
    body.extend_from_slice(&1i32.to_be_bytes()); // correlation id
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame)?;
    let mut header = [0u8; 8];
    stream.read_exact(&mut header)?;
    let correlation = i32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if correlation == 1 {
        Ok(())
    } else {
        Err(io::Error::other("unexpected ApiVersions answer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_creates_topics_and_stops() {
        let tansu = Tansu::start().expect("tansu starts (run scripts/setup if it is missing)");
        let addr = tansu.addr;
        api_versions(addr).expect("answers ApiVersions");
        tansu
            .create_topic("edgeship.testkit", 2)
            .expect("creates a topic");
        let err = tansu.create_topic("edgeship.testkit", 2);
        assert!(err.is_err(), "creating the same topic twice is refused");
        drop(tansu);
        assert!(api_versions(addr).is_err(), "the broker is gone after drop");
    }
}
