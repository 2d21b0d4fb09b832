//! A real Prometheus server on loopback, stopped on drop, and `promtool check metrics`.
//!
//! [`Prometheus::start`] runs Debian's `prometheus` (`scripts/setup` installs it) on
//! 127.0.0.1 with an ephemeral port, its own scratch data directory and a scrape
//! configuration for the given targets, waits until `/-/ready` answers 200, and kills it
//! (then waits for it) when the guard is dropped, pass or fail. [`Prometheus::query`] asks its
//! HTTP API (`/api/v1/query`) for an instant vector.
//!
//! The binaries are `$EDGESHIP_PROMETHEUS` and `$EDGESHIP_PROMTOOL`, else `prometheus` and
//! `promtool` on the `PATH`. A missing binary is an error that says so: tests fail rather
//! than skip.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::http;
use crate::port::free_port;
use crate::process::{log_tail, Readiness};
use crate::scratch::ScratchDir;

/// How long the server gets to become ready after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one API request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One series of a query's answer: its labels and value.
pub type Sample = (BTreeMap<String, String>, f64);

fn binary(variable: &str, default: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| default.to_owned())
}

/// A running Prometheus, killed on drop.
#[derive(Debug)]
pub struct Prometheus {
    addr: SocketAddr,
    child: Child,
    /// Its configuration, data and log; removed when the guard is dropped, after the server.
    dir: ScratchDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `/metrics` of every target every `interval`, and waits until
    /// it is ready.
    pub fn start(targets: &[SocketAddr], interval: Duration) -> io::Result<Prometheus> {
        let mut last_error = None;
        // A port free a moment ago can be taken in between; try a few.
        for _ in 0..3 {
            match Prometheus::start_once(targets, interval) {
                Ok(prometheus) => return Ok(prometheus),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("prometheus did not start")))
    }

    fn start_once(targets: &[SocketAddr], interval: Duration) -> io::Result<Prometheus> {
        let dir = ScratchDir::new("prometheus")?;
        let seconds = interval.as_secs_f64();
        let targets: Vec<String> = targets.iter().map(|target| format!("'{target}'")).collect();
        let config = dir.write(
            "prometheus.yml",
            format!(
                "global:\n  scrape_interval: {seconds}s\n  evaluation_interval: {seconds}s\n\
                 scrape_configs:\n  - job_name: edgeship\n    scrape_timeout: {seconds}s\n    \
                 metrics_path: /metrics\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ),
        )?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let log = std::fs::File::create(dir.path().join("prometheus.log"))?;
        let program = binary("EDGESHIP_PROMETHEUS", "prometheus");
        let mut command = Command::new(&program);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = spawn(&mut command, &program)?;
        let mut prometheus = Prometheus { addr, child, dir };
        prometheus.wait_ready()?;
        Ok(prometheus)
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let readiness = Readiness {
            name: "prometheus",
            addr: self.addr,
            log: &self.dir.path().join("prometheus.log"),
            timeout: START_TIMEOUT,
            pause: Duration::from_millis(100),
        };
        let addr = self.addr;
        readiness.wait(&mut self.child, || {
            get(addr, "/-/ready").is_ok_and(|(status, _)| status == 200)
        })
    }

    /// Evaluates `expression` now through `/api/v1/query`; returns the vector's series.
    pub fn query(&self, expression: &str) -> io::Result<Vec<Sample>> {
        let (status, body) = get(
            self.addr,
            &format!("/api/v1/query?query={}", encode(expression)),
        )?;
        let answer: Value = serde_json::from_slice(&body).map_err(|error| {
            io::Error::other(format!(
                "prometheus answered {status} with no JSON: {error}"
            ))
        })?;
        if answer["status"] != "success" {
            return Err(io::Error::other(format!(
                "query {expression:?} failed: {answer}"
            )));
        }
        let series = answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(series
            .iter()
            .filter_map(|one| {
                let labels = one["metric"]
                    .as_object()?
                    .iter()
                    .map(|(name, value)| (name.clone(), value.as_str().unwrap_or("").to_owned()))
                    .collect();
                let value = one["value"][1].as_str()?.parse().ok()?;
                Some((labels, value))
            })
            .collect())
    }

    /// The last lines the server logged, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.dir.path().join("prometheus.log"))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // A test's data is thrown away with the scratch directory: kill, then reap.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs `target` from the server at `addr` (HTTP/1.0, so the answer is never chunked); returns the
/// status and the body.
fn get(addr: SocketAddr, target: &str) -> io::Result<(u16, Vec<u8>)> {
    let request = format!("GET {target} HTTP/1.0\r\nHost: {}\r\n\r\n", addr);
    let answer = http::exchange(addr, request.as_bytes(), REQUEST_TIMEOUT)?;
    let status = http::status(&answer)
        .ok_or_else(|| io::Error::other("prometheus sent no HTTP status line"))?;
    let body = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or_else(Vec::new, |end| answer[end + 4..].to_vec());
    Ok((status, body))
}

/// Starts `command` (running `program`); a failure says that `scripts/setup` installs it.
fn spawn(command: &mut Command, program: &str) -> io::Result<Child> {
    command.spawn().map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot run {program} ({error}): scripts/setup installs it"),
        )
    })
}

/// Percent-encodes everything but unreserved characters, for a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Runs `promtool check metrics` on an exposition; returns whether it passed and what it
/// printed.
pub fn check_metrics(exposition: &[u8]) -> io::Result<(bool, String)> {
    let program = binary("EDGESHIP_PROMTOOL", "promtool");
    let mut command = Command::new(&program);
    command
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(&mut command, &program)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(exposition)?;
    }
    let output = child.wait_with_output()?;
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), printed))
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn query_parameters_are_percent_encoded() {
        assert_eq!(
            encode("sum(x{le=\"+Inf\"}) > 0"),
            "sum%28x%7Ble%3D%22%2BInf%22%7D%29%20%3E%200"
        );
    }
}
