//! The reader thread's reliability (issue 12, items 1, 2 and 6), on real processes: a private
//! varnishd (testkit) and the real `edgeship` binary with output to standard output, whose
//! lines are the records and heartbeats the tests check.
//!
//! - A stalled output while traffic wraps a small log ring: nothing shipped is garbage (every
//!   record is a request that was really sent, once) and the overrun is counted.
//! - A capture cut mid-record: every transaction before the cut is shipped (the incomplete
//!   ones flushed and counted), and the process exits 1.
//! - varnishd restarted under a live edgeship: what the new varnishd logged before edgeship
//!   reattached is read, not skipped.

// clippy.toml lets tests unwrap; the helpers below are test code too.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::capture::{capture, requests_in};
use common::{config_text, latest_statistics, raw_exchange, Edgeship, PATIENCE};
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::varnishd::Varnishd;
use serde_json::Value;

/// The fields the tests read: the URL tells which request a record is.
const FORMAT: &str = "%{@hostname}l %{@sequence!num}n %{Edgeship:run@run}x \
                      %{end:%FT%TZ@dt}t %{@uri_path}U %{@http_status}s";

/// A test configuration: JSON to standard output, statistics every second.
fn stdout_config(dir: &ScratchDir, extra: &[&str]) -> std::path::PathBuf {
    let mut lines = vec![
        "output = stdout".to_owned(),
        "log.level = 6".to_owned(),
        "log.statistics.interval = 1".to_owned(),
    ];
    lines.extend(extra.iter().map(|line| (*line).to_owned()));
    dir.write("edgeship.conf", config_text(dir, FORMAT, &lines))
        .expect("write the configuration")
}

/// Standard output's lines, parsed; a line that is not JSON fails the test (garbage).
fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"))
        })
        .collect()
}

fn is_heartbeat(line: &Value) -> bool {
    line["heartbeat"] == Value::Bool(true)
}

/// The final heartbeat among the lines; fails the test without one.
fn final_heartbeat(lines: &[Value]) -> &Value {
    lines
        .iter()
        .rfind(|line| is_heartbeat(line) && line["final"] == Value::Bool(true))
        .unwrap_or_else(|| panic!("no final heartbeat among {} lines", lines.len()))
}

fn counter(object: &Value, name: &str) -> u64 {
    object[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name} in {object}"))
}

/// The records' URL paths, each checked to arrive at most once.
fn urls_once(lines: &[Value]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for line in lines.iter().filter(|line| !is_heartbeat(line)) {
        let url = line["uri_path"]
            .as_str()
            .unwrap_or_else(|| panic!("a record without uri_path: {line}"));
        assert!(seen.insert(url.to_owned()), "{url} shipped twice");
    }
    seen
}

/// `connections` keep-alive connections sending `requests` GETs each, to `/{prefix}/{c}/{i}`;
/// returns every URL sent.
fn burst(addr: SocketAddr, prefix: &str, connections: usize, requests: usize) -> BTreeSet<String> {
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let prefix = prefix.to_owned();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("connect");
                let mut buffer = vec![0u8; 4096];
                let mut sent = Vec::with_capacity(requests);
                for i in 0..requests {
                    let url = format!("/{prefix}/{worker}/{i}");
                    let request = format!("GET {url} HTTP/1.1\r\nHost: reader.test\r\n\r\n");
                    stream.write_all(request.as_bytes()).expect("send");
                    // Synthetic answers are small: one read holds the whole response.
                    let n = stream.read(&mut buffer).expect("answer");
                    assert!(buffer[..n].starts_with(b"HTTP/1.1 200"));
                    sent.push(url);
                }
                sent
            })
        })
        .collect();
    workers
        .into_iter()
        .flat_map(|worker| worker.join().expect("a load worker"))
        .collect()
}

fn get(addr: SocketAddr, url: &str) {
    let status = raw_exchange(
        addr,
        format!("GET {url} HTTP/1.1\r\nHost: reader.test\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 200, "varnishd answered {url} with {status}");
}

/// An `edgeship` whose standard output is a pipe the test reads only when it chooses to, so
/// the output can be held back; killed on drop.
struct Piped {
    child: Child,
    stderr: std::path::PathBuf,
    /// Lines read from standard output once draining started.
    lines: Arc<Mutex<String>>,
    drain: Option<std::thread::JoinHandle<()>>,
}

impl Piped {
    fn start(dir: &ScratchDir, config: &Path, workdir: &Path) -> Piped {
        let stderr = dir.path().join("edgeship.stderr");
        let child = Command::new(common::edgeship_binary())
            .arg("-S")
            .arg(config)
            .arg("-n")
            .arg(workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("create the stderr file"))
            .spawn()
            .expect("run edgeship");
        let piped = Piped {
            child,
            stderr,
            lines: Arc::new(Mutex::new(String::new())),
            drain: None,
        };
        piped.wait_for_stderr("reading the Varnish log");
        piped
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn wait_for_stderr(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "edgeship did not say {needle:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts reading standard output (until it closes) on a thread of its own.
    fn drain(&mut self) {
        let mut stdout = BufReader::new(self.child.stdout.take().expect("piped stdout"));
        let lines = Arc::clone(&self.lines);
        self.drain = Some(std::thread::spawn(move || {
            let mut line = String::new();
            while stdout.read_line(&mut line).unwrap_or(0) > 0 {
                lines.lock().unwrap().push_str(&line);
                line.clear();
            }
        }));
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().clone()
    }

    /// SIGTERM, then waits for the exit and for standard output to close.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll edgeship") {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(drain) = self.drain.take() {
            drain.join().expect("the stdout reader");
        }
        status
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the statistics file's `edgeship` line satisfies `done`.
fn wait_for_stats(
    path: &Path,
    what: &str,
    done: impl Fn(&Value) -> bool,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if latest_statistics(path, "edgeship").is_some_and(|stats| done(&stats)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "statistics never showed {what}; last {:?}\n{}",
            latest_statistics(path, "edgeship"),
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_stalled_output_while_the_ring_wraps_ships_no_garbage_and_counts_the_overrun() {
    // The smallest ring Varnish allows: the load below writes it several times over.
    let varnishd = Varnishd::builder()
        .param("vsl_space", "1M")
        .start()
        .expect("start varnishd");
    let dir = ScratchDir::new("shipper-test-reader-stall").expect("a scratch directory");
    let config = stdout_config(&dir, &[]);
    let mut edgeship = Piped::start(&dir, &config, varnishd.workdir());

    // Nobody reads edgeship's output: the pipe fills, the rendering thread waits on it, the
    // channel fills, and the reader stops draining the log while varnishd keeps writing.
    let sent = burst(varnishd.addr(), "wrap", 4, 1500);
    edgeship.drain();
    let stats = dir.path().join("stats.json");
    wait_for_stats(
        &stats,
        "the overrun and the reattach",
        |s| counter(s, "log_overruns") > 0 && counter(s, "log_reattaches") > 0,
        || edgeship.stderr(),
    );
    // Reading goes on after the overrun: a request sent now is shipped.
    get(varnishd.addr(), "/marker");
    let deadline = Instant::now() + PATIENCE;
    while !edgeship.output().contains("\"/marker\"") {
        assert!(
            Instant::now() < deadline,
            "/marker never shipped:\n{}",
            edgeship.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = edgeship.terminate();
    assert!(status.success(), "exit {status}:\n{}", edgeship.stderr());

    let lines = parse_lines(&edgeship.output());
    let shipped = urls_once(&lines);
    let garbage: Vec<_> = shipped
        .iter()
        .filter(|url| !sent.contains(*url) && url.as_str() != "/marker")
        .collect();
    assert!(
        garbage.is_empty(),
        "records of requests never sent: {garbage:?}"
    );
    for record in lines.iter().filter(|line| !is_heartbeat(line)) {
        assert_eq!(record["http_status"], "200", "{record}");
    }
    // The overrun cost records, and it says so.
    let wrap_shipped = shipped
        .iter()
        .filter(|url| url.starts_with("/wrap/"))
        .count();
    assert!(
        wrap_shipped < sent.len(),
        "nothing was lost: the ring did not wrap"
    );
    let last = final_heartbeat(&lines);
    assert!(counter(last, "log_overruns") > 0, "{last}");
    let statistics = latest_statistics(&stats, "edgeship").unwrap();
    assert_eq!(
        statistics["log_overruns"], last["log_overruns"],
        "{statistics}"
    );
    let sequences: BTreeSet<u64> = lines
        .iter()
        .filter(|line| !is_heartbeat(line))
        .map(|line| line["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sequences.len(),
        shipped.len(),
        "one sequence number per record"
    );
}

/// The URLs of the client requests varnishncsa selects from `file` with `queries` (one `-q`
/// each).
fn varnish_selects(file: &Path, queries: &[&str]) -> BTreeSet<String> {
    let output = Command::new("varnishncsa")
        .arg("-r")
        .arg(file)
        .args(queries.iter().flat_map(|query| ["-q", query]))
        .args(["-F", "%U"])
        .output()
        .expect("run varnishncsa");
    assert!(output.status.success(), "varnishncsa: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_query_ships_exactly_what_varnish_selects_and_counts_what_it_leaves_out() {
    let varnishd = Varnishd::start().expect("start varnishd");
    for i in 0..40 {
        get(varnishd.addr(), &format!("/keep/{i}"));
        get(varnishd.addr(), &format!("/drop/{i}"));
    }
    let dir = ScratchDir::new("shipper-test-reader-query").expect("a scratch directory");
    let file = dir.path().join("log.vsl");
    capture(&varnishd, &file);
    drop(varnishd);
    // A regex with an anchor, a negation and a prefix test that no request passes.
    let query = r#"ReqURL ~ "^/keep/" and not ReqURL ~ "/1[0-9]*$" and not ReqHeader:Upgrade"#;
    let selected = varnish_selects(&file, &[query]);
    let requests = requests_in(&file).len();
    assert!(
        selected.len() >= 10 && selected.len() < 40,
        "the query selects some of the requests: {selected:?}"
    );

    let config = stdout_config(&dir, &[]);
    let file_str = file.to_str().expect("a UTF-8 path");
    let mut edgeship = Edgeship::start(&dir, "query", &config, &["-r", file_str, "-q", query]);
    let status = edgeship.wait();
    assert_eq!(status.code(), Some(0), "{}", edgeship.stderr());
    assert!(
        edgeship
            .stderr()
            .contains("Fast path: vxid grouping; edgeship evaluates the query"),
        "the path chosen is logged:\n{}",
        edgeship.stderr()
    );
    let lines = parse_lines(&String::from_utf8_lossy(&edgeship.stdout()));
    assert_eq!(
        urls_once(&lines),
        selected,
        "edgeship ships what Varnish selects"
    );
    let statistics = latest_statistics(&dir.path().join("stats.json"), "edgeship").unwrap();
    assert_eq!(
        counter(&statistics, "transactions_unselected"),
        (requests - selected.len()) as u64,
        "every request left out is counted: {statistics}"
    );

    // Two -q options, combined as Varnish combines them (either selects).
    let queries = [r#"ReqURL ~ "^/keep/1""#, r#"ReqURL ~ "^/drop/2""#];
    let selected = varnish_selects(&file, &queries);
    assert!(selected.len() >= 4, "{selected:?}");
    let mut arguments = vec!["-r", file_str];
    arguments.extend(queries.iter().flat_map(|query| ["-q", *query]));
    let mut edgeship = Edgeship::start(&dir, "queries", &config, &arguments);
    assert_eq!(edgeship.wait().code(), Some(0), "{}", edgeship.stderr());
    let lines = parse_lines(&String::from_utf8_lossy(&edgeship.stdout()));
    assert_eq!(urls_once(&lines), selected, "either query selects");
}

#[test]
fn a_truncated_capture_ships_every_transaction_before_the_cut_and_exits_1() {
    let varnishd = Varnishd::start().expect("start varnishd");
    for i in 0..60 {
        get(varnishd.addr(), &format!("/cut/{i}"));
    }
    let dir = ScratchDir::new("shipper-test-reader-cut").expect("a scratch directory");
    let whole = dir.path().join("whole.vsl");
    capture(&varnishd, &whole);
    drop(varnishd);
    // Cut at two thirds, inside a word, so the cut lands inside a record.
    let bytes = std::fs::read(&whole).expect("read the capture");
    let cut_at = (bytes.len() * 2 / 3) & !3;
    let cut = dir.path().join("cut.vsl");
    std::fs::write(&cut, &bytes[..cut_at + 2]).expect("write the cut capture");
    let requests = requests_in(&cut);
    let complete: BTreeSet<String> = requests
        .values()
        .filter(|(url, end)| *end && url.as_deref().is_some_and(|u| u.starts_with("/cut/")))
        .filter_map(|(url, _)| url.clone())
        .collect();
    let incomplete = requests.values().filter(|(_, end)| !end).count() as u64;
    assert!(
        complete.len() >= 10,
        "too few requests before the cut: {complete:?}"
    );

    let config = stdout_config(&dir, &[]);
    let cut_str = cut.to_str().expect("a UTF-8 path");
    let mut edgeship = Edgeship::start(&dir, "cut", &config, &["-r", cut_str]);
    let status = edgeship.wait();
    assert_eq!(
        status.code(),
        Some(1),
        "a reader failure:\n{}",
        edgeship.stderr()
    );
    assert!(
        edgeship.stderr().contains("reading the Varnish log"),
        "the read error is logged:\n{}",
        edgeship.stderr()
    );

    let lines = parse_lines(&String::from_utf8_lossy(&edgeship.stdout()));
    let shipped = urls_once(&lines);
    let missing: Vec<_> = complete.difference(&shipped).collect();
    assert!(
        missing.is_empty(),
        "complete before the cut, not shipped: {missing:?}"
    );
    // The transactions the cut left incomplete are shipped too, forced complete, and counted.
    let last = final_heartbeat(&lines);
    assert_eq!(
        counter(last, "transactions_incomplete"),
        incomplete,
        "{last}"
    );
    assert_eq!(
        counter(last, "reader_errors"),
        1,
        "the final heartbeat says: {last}"
    );
    let records = lines.iter().filter(|line| !is_heartbeat(line)).count() as u64;
    assert_eq!(
        records,
        requests.len() as u64,
        "every request of the capture, numbered"
    );
    assert_eq!(last["sequence_last"], records - 1, "{last}");
}

#[test]
fn requests_logged_by_a_restarted_varnishd_before_the_reattach_are_shipped() {
    let mut varnishd = Varnishd::start().expect("start varnishd");
    let dir = ScratchDir::new("shipper-test-reader-restart").expect("a scratch directory");
    let config = stdout_config(&dir, &[]);
    let mut edgeship = Edgeship::start_live(&dir, "restart", &config, varnishd.workdir(), &[]);
    for i in 0..5 {
        get(varnishd.addr(), &format!("/before/{i}"));
    }
    // While varnishd is away the reader's attempts fail and its backoff grows (up to 2 s):
    // the requests below are served by the new varnishd before the reader is back.
    varnishd.restart().expect("restart varnishd");
    let after: BTreeSet<String> = (0..20).map(|i| format!("/after/{i}")).collect();
    for url in &after {
        get(varnishd.addr(), url);
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let output = String::from_utf8_lossy(&edgeship.stdout()).into_owned();
        if after
            .iter()
            .all(|url| output.contains(&format!("\"{url}\"")))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "requests after the restart not shipped:\n{output}\n{}",
            edgeship.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = edgeship.terminate();
    assert!(status.success(), "exit {status}:\n{}", edgeship.stderr());
    assert!(
        edgeship.stderr().contains("reattached"),
        "{}",
        edgeship.stderr()
    );

    let lines = parse_lines(&String::from_utf8_lossy(&edgeship.stdout()));
    let shipped = urls_once(&lines);
    for i in 0..5 {
        assert!(
            shipped.contains(&format!("/before/{i}")),
            "/before/{i}: {shipped:?}"
        );
    }
    // The reader's skipped records reach the heartbeat and the statistics alike.
    let last = final_heartbeat(&lines);
    let statistics = latest_statistics(&dir.path().join("stats.json"), "edgeship").unwrap();
    assert_eq!(
        statistics["records_skipped"], last["records_skipped"],
        "{statistics}"
    );
    assert!(counter(&statistics, "log_reattaches") >= 1, "{statistics}");
}
