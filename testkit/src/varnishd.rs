//! A private varnishd on loopback with its own work directory, stopped on drop.
//!
//! [`Varnishd`] starts Debian's `/usr/sbin/varnishd` in the foreground (`-F`) on 127.0.0.1
//! with an ephemeral port, a private `-n` work directory under the system temp directory, no
//! jail (`-j none`, so it runs as root or as any user without the `varnish` accounts), and a
//! VCL that answers every request itself (no backend): `/status/NNN...` answers with status
//! NNN, `/sleep...` waits 3 s first, anything else 200. The guard waits until varnishd answers
//! HTTP, exposes its address and work directory (what a log reader passes as `-n`), can
//! restart it in place, and stops it (SIGTERM, then SIGKILL) and removes the directory when
//! dropped, pass or fail.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::port::free_port;
use crate::scratch::ScratchDir;

/// The VCL the guard loads unless told otherwise: synthetic answers, no backend.
pub const DEFAULT_VCL: &str = r#"vcl 4.1;
import std;
import vtc;

backend default none;

sub vcl_recv {
    if (req.url ~ "^/sleep") {
        # A request that stays incomplete for a while: exercises the -T timeout.
        vtc.sleep(3s);
    }
    if (req.url ~ "^/status/[0-9][0-9][0-9]") {
        return (synth(std.integer(regsub(req.url, "^/status/([0-9][0-9][0-9]).*$", "\1"), 500)));
    }
    return (synth(200));
}

sub vcl_synth {
    set resp.http.Content-Type = "text/plain";
    set resp.body = "edgeship test answer\n";
    return (deliver);
}
"#;

/// How long to wait for varnishd to answer after starting it (compiling the VCL takes a
/// second or two on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long varnishd gets to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Settings for a [`Varnishd`] before it starts.
#[derive(Debug, Clone)]
pub struct Builder {
    binary: PathBuf,
    vcl: String,
    params: Vec<(String, String)>,
    storage: String,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            binary: PathBuf::from(
                std::env::var_os("EDGESHIP_VARNISHD")
                    .unwrap_or_else(|| "/usr/sbin/varnishd".into()),
            ),
            vcl: DEFAULT_VCL.to_owned(),
            params: Vec::new(),
            // Small, so that several instances fit on a test machine.
            storage: "malloc,32m".to_owned(),
        }
    }
}

impl Builder {
    /// A runtime parameter (`-p name=value`), e.g. `vsl_space=1M`.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the default VCL. `${PORT}` in it is replaced by varnishd's own listening port
    /// (so a VCL can use varnishd itself as its backend, e.g. to serve ESI fragments).
    pub fn vcl(mut self, vcl: &str) -> Self {
        self.vcl = vcl.to_owned();
        self
    }

    /// Starts varnishd and waits until it answers.
    pub fn start(self) -> io::Result<Varnishd> {
        let workdir = ScratchDir::new("varnishd")?;
        let vcl_path = workdir.path().join("edgeship-test.vcl");
        let mut varnishd = Varnishd {
            settings: self,
            workdir,
            vcl_path,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child: None,
        };
        // A port that was free a moment ago can be taken in between; try a few.
        let mut last_error = None;
        for _ in 0..5 {
            varnishd.addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
            match varnishd.spawn() {
                Ok(()) => return Ok(varnishd),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("varnishd did not start")))
    }
}

/// A running varnishd, stopped and cleaned up on drop.
#[derive(Debug)]
pub struct Varnishd {
    settings: Builder,
    /// Removed when the guard is dropped, after `Drop::drop` has stopped varnishd.
    workdir: ScratchDir,
    vcl_path: PathBuf,
    addr: SocketAddr,
    child: Option<Child>,
}

impl Varnishd {
    /// Starts varnishd with the default settings.
    pub fn start() -> io::Result<Varnishd> {
        Builder::default().start()
    }

    /// Settings to adjust before starting.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The listening address (127.0.0.1 and an ephemeral port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `-n` work directory: what a log reader names the instance by.
    pub fn workdir(&self) -> &Path {
        self.workdir.path()
    }

    /// The process id of the management process, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops varnishd and starts it again with the same work directory, port and settings
    /// (a new worker, a new shared-memory log), waiting until it answers.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                // The port may linger for a moment after the old process is gone.
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Stops varnishd (SIGTERM, then SIGKILL after a grace period) and reaps it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // std can only send SIGKILL; `kill -TERM` lets varnishd stop its worker cleanly.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Writes everything still in varnishd's log ring to `file`, ungrouped, with
    /// `varnishlog -d -g raw -w`: a capture that readers and `varnishlog -r` read back.
    pub fn write_log(&self, file: &Path) -> io::Result<()> {
        let status = Command::new("varnishlog")
            .arg("-n")
            .arg(self.workdir())
            .args(["-d", "-g", "raw", "-w"])
            .arg(file)
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("varnishlog -w: {status}")))
        }
    }

    /// What varnishd printed so far (for diagnostics in failed tests).
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.workdir().join("varnishd.out")).unwrap_or_default()
    }

    fn spawn(&mut self) -> io::Result<()> {
        let vcl = self
            .settings
            .vcl
            .replace("${PORT}", &self.addr.port().to_string());
        std::fs::write(&self.vcl_path, vcl)?;
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.workdir().join("varnishd.out"))?;
        let mut command = Command::new(&self.settings.binary);
        command
            .arg("-F")
            .args(["-j", "none"])
            .arg("-n")
            .arg(self.workdir.path())
            .args(["-a", &self.addr.to_string()])
            .arg("-f")
            .arg(&self.vcl_path)
            .args(["-s", &self.settings.storage])
            // No management CLI port: nothing in the tests needs it.
            .args(["-T", "none"]);
        for (name, value) in &self.settings.params {
            command.arg("-p").arg(format!("{name}={value}"));
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot run {}: {error}", self.settings.binary.display()),
                )
            })?;
        self.child = Some(child);
        match self.wait_until_answering() {
            Ok(()) => Ok(()),
            Err(error) => {
                self.stop();
                Err(io::Error::other(format!(
                    "varnishd did not come up on {}: {error}\n{}",
                    self.addr,
                    self.output()
                )))
            }
        }
    }

    fn wait_until_answering(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    return Err(io::Error::other(format!("varnishd exited: {status}")));
                }
            }
            match probe(self.addr) {
                Ok(()) => return self.wait_until_probe_logged(deadline),
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Waits until the probe request is in varnishd's log. varnishd answers a request before
    /// it writes the request's log records, so without this a test that starts reading the
    /// log right away could see the probe's transaction arrive as if it were its own traffic.
    fn wait_until_probe_logged(&mut self, deadline: Instant) -> io::Result<()> {
        let mut varnishlog = Command::new("varnishlog")
            .arg("-n")
            .arg(self.workdir.path())
            .args(["-d", "-g", "request", "-k", "1", "-q"])
            .arg("ReqURL eq \"/edgeship-probe\"")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| {
                io::Error::new(error.kind(), format!("cannot run varnishlog: {error}"))
            })?;
        loop {
            if let Some(status) = varnishlog.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(io::Error::other(format!(
                        "varnishlog waiting for the probe: {status}"
                    )))
                };
            }
            if Instant::now() >= deadline {
                let _ = varnishlog.kill();
                let _ = varnishlog.wait();
                return Err(io::Error::other("the probe request never reached the log"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Varnishd {
    fn drop(&mut self) {
        // The work directory goes with the `workdir` field, once varnishd no longer uses it.
        self.stop();
    }
}

/// Sends one HTTP request and expects an HTTP answer.
fn probe(addr: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream
        .write_all(b"GET /edgeship-probe HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")?;
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer)?;
    if answer.starts_with(b"HTTP/1.1 ") {
        Ok(())
    } else {
        Err(io::Error::other("not an HTTP answer"))
    }
}
