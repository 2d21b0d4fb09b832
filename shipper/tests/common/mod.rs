//! Support for the shipper's integration tests (`live.rs` against tansu, `faults.rs` against
//! librdkafka's mock cluster): the `edgeship` binary as a child process that is killed on
//! drop, configuration files in testkit's scratch directories, an HTTP/1.1 client over plain
//! `TcpStream`s that remembers what each request carried, the statistics file, and waits on
//! testkit's independent Kafka reader (`edgeship_testkit::topic`), which reads every
//! partition of a topic from the beginning.
//!
//! Everything the tests conclude about what landed in Kafka comes from that reader, never
//! from the shipper's own output or counters.

// Each test file is its own crate and uses a different part of this module.
#![allow(dead_code)]

pub(crate) mod capture;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use edgeship_testkit::fixtures;
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::topic;
pub(crate) use edgeship_testkit::topic::{heartbeats, records, Landed};
use serde_json::Value;

/// How long any single wait may take before the test fails with a diagnosis. Generous: the
/// machine is small and shared, and these waits end as soon as their condition holds.
pub(crate) const PATIENCE: Duration = Duration::from_secs(120);

/// A fixture configuration file from the shared fixtures.
pub(crate) fn fixture(name: &str) -> PathBuf {
    fixtures::conf(name).unwrap_or_else(|error| panic!("{error}"))
}

/// The seed configuration's format string: its one uncommented `format =` line, read from
/// the fixture so the tests follow the file.
pub(crate) fn seed_format() -> String {
    let formats = fixtures::formats(fixtures::SEED).expect("read the seed fixture");
    assert_eq!(formats.len(), 1, "the seed has one active format line");
    formats[0].clone()
}

/// The `edgeship` binary under test.
pub(crate) fn edgeship_binary() -> &'static str {
    env!("CARGO_BIN_EXE_edgeship")
}

/// A running `edgeship`, its standard output and error going to files; killed on drop, so a
/// failing test leaves nothing behind.
pub(crate) struct Edgeship {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

impl Edgeship {
    /// Starts `edgeship -S config` with extra arguments; output goes to files named after
    /// `label` in `dir`.
    pub(crate) fn start(dir: &ScratchDir, label: &str, config: &Path, args: &[&str]) -> Edgeship {
        Edgeship::start_with_env(dir, label, config, args, &[])
    }

    /// As [`Edgeship::start`], with environment variables set for it (the test hooks).
    pub(crate) fn start_with_env(
        dir: &ScratchDir,
        label: &str,
        config: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Edgeship {
        let stdout = dir.path().join(format!("{label}.stdout"));
        let stderr = dir.path().join(format!("{label}.stderr"));
        let child = Command::new(edgeship_binary())
            .arg("-S")
            .arg(config)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("create the stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("create the stderr file"))
            .spawn()
            .expect("run edgeship");
        Edgeship {
            child: Some(child),
            stdout,
            stderr,
            status: None,
        }
    }

    /// Starts a live reader on varnishd's work directory and waits until it has attached to
    /// the log: live reading starts at the log's tail, so traffic sent earlier is not seen.
    pub(crate) fn start_live(
        dir: &ScratchDir,
        label: &str,
        config: &Path,
        workdir: &Path,
        extra: &[&str],
    ) -> Edgeship {
        Edgeship::start_live_with_env(dir, label, config, workdir, extra, &[])
    }

    /// As [`Edgeship::start_live`], with environment variables set for it (the test hooks).
    pub(crate) fn start_live_with_env(
        dir: &ScratchDir,
        label: &str,
        config: &Path,
        workdir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Edgeship {
        let workdir = workdir.to_str().expect("a UTF-8 work directory");
        let mut args = vec!["-n", workdir];
        args.extend_from_slice(extra);
        let mut edgeship = Edgeship::start_with_env(dir, label, config, &args, env);
        edgeship.wait_for_stderr("reading the Varnish log");
        edgeship
    }

    /// The process id, while it runs.
    /// Sends `signal` (`-TERM`, `-KILL`, `-STOP`) to it (std can only send SIGKILL, and tests
    /// have no `unsafe`: `kill` does it).
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {signal} {pid} failed");
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// What it wrote to standard error so far.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What it wrote to standard output so far.
    pub(crate) fn stdout(&self) -> Vec<u8> {
        std::fs::read(&self.stdout).unwrap_or_default()
    }

    /// Waits until standard error contains `needle`; fails the test if the process exits
    /// first or it takes longer than [`PATIENCE`].
    pub(crate) fn wait_for_stderr(&mut self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.stderr().contains(needle) {
                return;
            }
            if let Some(status) = self.try_status() {
                panic!(
                    "edgeship exited ({status}) before saying {needle:?}:\n{}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "edgeship did not say {needle:?} within {PATIENCE:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit status if it has exited.
    pub(crate) fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Some(child) = self.child.as_mut() {
                self.status = child.try_wait().expect("poll edgeship");
            }
        }
        self.status
    }

    /// Whether it is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.try_status().is_none()
    }

    /// Waits for it to exit on its own (e.g. at the end of a `-r` file).
    pub(crate) fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.try_status() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "edgeship did not exit within {PATIENCE:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks for a clean shutdown with SIGTERM and waits for the exit. std can only send
    /// SIGKILL, and `unsafe` is not allowed here, so `kill -TERM` does it.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        if let Some(status) = self.try_status() {
            return status;
        }
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {} failed", self.pid());
        self.wait()
    }
}

impl Drop for Edgeship {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.status.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Runs `edgeship` to completion (e.g. `--check-config`) and returns its exit code and
/// standard error.
pub(crate) fn run_edgeship(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let output = Command::new(edgeship_binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run edgeship");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// One HTTP request as sent, kept to check the record against.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The identifier carried in the query string (`id=N`).
    pub(crate) id: u64,
    pub(crate) method: &'static str,
    /// The path, without the query.
    pub(crate) path: String,
    /// The query string including its `?`.
    pub(crate) query: String,
    /// Headers in sending order, the Host header first.
    pub(crate) headers: Vec<(String, String)>,
    /// The request body (sent with a Content-Length when the method is not GET).
    pub(crate) body: Vec<u8>,
}

impl Request {
    /// The value of a header as sent (last occurrence), if any.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The request as it goes on the wire.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes =
            format!("{} {}{} HTTP/1.1\r\n", self.method, self.path, self.query).into_bytes();
        for (name, value) in &self.headers {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if self.method != "GET" {
            bytes.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// What came back for one request.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// Response headers, names lower-cased.
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body_len: usize,
}

/// Sends `requests` over `connections` keep-alive connections (one thread each), in order
/// within each connection, and returns every response by request id.
pub(crate) fn send_all(
    addr: SocketAddr,
    requests: &[Request],
    connections: usize,
) -> BTreeMap<u64, Response> {
    let chunk = requests.len().div_ceil(connections.max(1)).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = requests
            .chunks(chunk)
            .map(|part| scope.spawn(move || send_on_one_connection(addr, part)))
            .collect();
        let mut all = BTreeMap::new();
        for worker in workers {
            all.extend(worker.join().expect("an HTTP client thread"));
        }
        all
    })
}

fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).expect("connect to varnishd");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    stream.set_nodelay(true).expect("set TCP_NODELAY");
    let reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    (stream, reader)
}

fn send_on_one_connection(addr: SocketAddr, requests: &[Request]) -> Vec<(u64, Response)> {
    let (mut stream, mut reader) = connect(addr);
    let mut responses = Vec::with_capacity(requests.len());
    for request in requests {
        stream
            .write_all(&request.to_bytes())
            .expect("send a request");
        let response = read_response(&mut reader);
        let closing = response
            .headers
            .get("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        responses.push((request.id, response));
        if closing {
            (stream, reader) = connect(addr);
        }
    }
    responses
}

/// Reads one HTTP/1.1 response with a Content-Length body (all varnishd's synthetic answers
/// have one).
pub(crate) fn read_response(reader: &mut BufReader<TcpStream>) -> Response {
    let mut line = String::new();
    reader.read_line(&mut line).expect("read a status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {line:?}"));
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("read a header line");
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let body_len: usize = headers
        .get("content-length")
        .map_or(0, |value| value.parse().expect("a numeric Content-Length"));
    let mut body = vec![0; body_len];
    reader.read_exact(&mut body).expect("read the body");
    Response {
        status,
        headers,
        body_len,
    }
}

/// Sends raw bytes on a new connection and returns the answer's status code.
pub(crate) fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect to varnishd");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    stream.write_all(bytes).expect("send");
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    read_response(&mut reader).status
}

/// The latest line of the statistics file at `path` whose top-level key is `key` (e.g.
/// `edgeship`, `varnishkafka`, `kafka`), if there is one yet. Lines that do not parse (one
/// being written) are passed over.
pub(crate) fn latest_statistics(path: &Path, key: &str) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|json| json.get(key).cloned())
}

/// As [`latest_statistics`], failing the test if there is no such line.
pub(crate) fn last_statistics(path: &Path, key: &str) -> Value {
    latest_statistics(path, key).unwrap_or_else(|| {
        panic!(
            "no {key:?} line in the statistics file:\n{}",
            std::fs::read_to_string(path).expect("read the statistics file")
        )
    })
}

/// testkit's topic reader with the waits these tests need, each bounded by [`PATIENCE`] and
/// failing the test with a diagnosis. It dereferences to the reader (`messages`,
/// `partitions()`).
pub(crate) struct TopicReader(topic::TopicReader);

impl Deref for TopicReader {
    type Target = topic::TopicReader;

    fn deref(&self) -> &topic::TopicReader {
        &self.0
    }
}

impl TopicReader {
    pub(crate) fn new(bootstrap: &str, topic: &str) -> TopicReader {
        let reader = topic::TopicReader::open(bootstrap, topic, "edgeship-live-test")
            .expect("create a consumer");
        assert!(reader.partitions() > 0, "topic {topic} has no partitions");
        TopicReader(reader)
    }

    /// Takes what the consumer has (see [`topic::TopicReader::poll_some`]); consumer errors
    /// are printed, and reading goes on.
    pub(crate) fn poll_some(&mut self, wait: Duration) -> bool {
        self.0.poll_some(wait).unwrap_or_else(|error| {
            eprintln!("consumer: {error}");
            true
        })
    }

    /// Reads until `done` holds for what was read so far; fails after [`PATIENCE`].
    pub(crate) fn read_until(&mut self, what: &str, done: impl Fn(&[Landed]) -> bool) {
        self.read_until_or(what, done, String::new);
    }

    /// As [`TopicReader::read_until`], adding `diagnosis()` (e.g. the shipper's log) to the
    /// failure message.
    pub(crate) fn read_until_or(
        &mut self,
        what: &str,
        done: impl Fn(&[Landed]) -> bool,
        diagnosis: impl Fn() -> String,
    ) {
        let deadline = Instant::now() + PATIENCE;
        while !done(&self.messages) {
            if Instant::now() >= deadline {
                let last_heartbeat = heartbeats(&self.messages)
                    .last()
                    .map(|m| m.json.to_string())
                    .unwrap_or_default();
                panic!(
                    "waited {PATIENCE:?} for {what}; read {} messages ({} records); last \
                     heartbeat: {last_heartbeat}\n{}",
                    self.messages.len(),
                    records(&self.messages).count(),
                    diagnosis()
                );
            }
            self.poll_some(Duration::from_millis(200));
        }
    }

    /// Reads everything the producers wrote, once they have exited cleanly: until `runs`
    /// final heartbeats (the last message of each run) have arrived and every partition is
    /// at its end.
    pub(crate) fn read_to_end(&mut self, runs: usize) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let finals = heartbeats(&self.messages)
                .filter(|m| m.json.get("final") == Some(&Value::Bool(true)))
                .count();
            if finals >= runs && self.caught_up() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {PATIENCE:?} for the end: {finals} of {runs} final heartbeats, \
                 partitions at end {:?}, {} messages",
                self.at_end(),
                self.messages.len()
            );
            self.poll_some(Duration::from_millis(200));
        }
    }
}

/// CRC-32 (IEEE, reflected), the hash librdkafka's default `consistent_random` partitioner
/// applies to a non-empty key: written out here so the expected partition is computed
/// independently of both the shipper and librdkafka.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The partition librdkafka's default partitioner puts `key` in.
pub(crate) fn partition_of(key: &str, partitions: i32) -> i32 {
    (crc32(key.as_bytes()) % partitions as u32) as i32
}

/// A configuration file for these tests: JSON with `format`, the host name `cp-test`, logs
/// to standard error, statistics into the test directory, and `extra` lines appended.
pub(crate) fn config_text(dir: &ScratchDir, format: &str, extra: &[String]) -> String {
    let mut text = format!(
        "# written by the shipper's integration tests (shipper/tests)\n\
         format.type = json\n\
         format = {format}\n\
         edgeship.hostname = {HOST}\n\
         daemonize = false\n\
         log.stderr = true\n\
         log.syslog = false\n\
         log.statistics.file = {}\n",
        dir.path().join("stats.json").display()
    );
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// A valid configuration that contacts no broker (for `--check-config` and start-up checks),
/// with `extra` lines appended, written as `name` in `dir`; returns its path and text.
pub(crate) fn offline_config(dir: &ScratchDir, name: &str, extra: &[&str]) -> (PathBuf, String) {
    let mut lines = kafka_lines("127.0.0.1:9", "webrequest_check");
    lines.extend(extra.iter().map(|line| (*line).to_owned()));
    let text = config_text(dir, &seed_format(), &lines);
    (dir.write(name, &text).expect("write a test file"), text)
}

/// The 1-based number of the first line of `text` starting with `prefix`.
pub(crate) fn line_of(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?}"))
        + 1
}

/// The host name every test config sets (`edgeship.hostname`, rendered by `%l`).
pub(crate) const HOST: &str = "cp-test";

/// The Kafka lines of a test configuration: the seed's settings (acks 1, snappy, three
/// retries) pointed at the test broker and topic, keyed by host name as the seed asked.
pub(crate) fn kafka_lines(bootstrap: &str, topic: &str) -> Vec<String> {
    vec![
        "output = kafka".to_owned(),
        format!("kafka.metadata.broker.list = {bootstrap}"),
        format!("kafka.topic = {topic}"),
        "kafka.partition = %l".to_owned(),
        "kafka.queue.buffering.max.messages = 1000000".to_owned(),
        "kafka.message.send.max.retries = 3".to_owned(),
        "kafka.topic.request.required.acks = 1".to_owned(),
        "kafka.topic.message.timeout.ms = 60000".to_owned(),
        "kafka.compression.codec = snappy".to_owned(),
    ]
}
