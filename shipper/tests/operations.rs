//! The daemon as operators meet it (issue 12): what `--check-config` refuses, where secrets
//! never appear, how the statistics file is opened, what a daemonized start reports, and what
//! a panic on the main thread still writes. Each test runs the real `edgeship` binary, with
//! real varnishd and tansu where the behaviour involves them.

// clippy.toml lets tests unwrap; the helpers below are test code too.
#![allow(clippy::unwrap_used)]

mod common;

use std::ffi::OsStr;
use std::path::PathBuf;

use common::{line_of, offline_config, raw_exchange, run_edgeship, Edgeship, HOST};
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::varnishd::Varnishd;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

const TOPIC: &str = "webrequest_operations";

/// A format with the fields the auditor reads and the User-Agent, which the tests use to make
/// a record as large as they need.
const FORMAT: &str = "%{@hostname}l %{@sequence!num}n %{Edgeship:run@run}x %{end:%FT%TZ@dt}t \
                      %{User-Agent@user_agent}i";

/// A daemon's configuration without a statistics file line (the tests choose it): JSON with
/// [`FORMAT`], to `bootstrap`, logging to standard error, `extra` lines appended; written as
/// `name` in `dir`. Returns its path and text.
fn daemon_config(
    dir: &ScratchDir,
    name: &str,
    bootstrap: &str,
    extra: &[&str],
) -> (PathBuf, String) {
    let mut text = format!(
        "format.type = json\n\
         format = {FORMAT}\n\
         edgeship.hostname = {HOST}\n\
         daemonize = false\n\
         log.stderr = true\n\
         log.syslog = false\n\
         output = kafka\n\
         kafka.metadata.broker.list = {bootstrap}\n\
         kafka.topic = {TOPIC}\n"
    );
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    (dir.write(name, &text).expect("write a test file"), text)
}

/// Runs the daemon (not `--check-config`) on `config` against a varnishd that does not exist:
/// everything before the reader's start (the configuration, the statistics file, the
/// producer) happens, then it exits. Returns its exit code and standard error.
fn start_without_varnishd(config: &std::path::Path) -> (Option<i32>, String) {
    run_edgeship(&[
        OsStr::new("-S"),
        config.as_os_str(),
        OsStr::new("-n"),
        OsStr::new("/nonexistent"),
    ])
}

/// A mock cluster with the test topic (librdkafka's own broker, in this process).
fn mock_cluster() -> MockCluster<'static, DefaultProducerContext> {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic(TOPIC, 1, 1).unwrap();
    mock
}

/// A varnishd that logs records up to 4084 bytes (so a long header reaches the reader whole).
fn varnishd() -> Varnishd {
    Varnishd::builder()
        .param("vsl_reclen", "4084")
        .start()
        .expect("start varnishd")
}

/// One GET with a User-Agent of `agent_bytes` bytes; panics unless varnishd answers 200.
fn get_with_agent(varnishd: &Varnishd, agent_bytes: usize) {
    let request = format!(
        "GET /operations HTTP/1.1\r\nHost: test\r\nUser-Agent: {}\r\n\r\n",
        "a".repeat(agent_bytes)
    );
    assert_eq!(raw_exchange(varnishd.addr(), request.as_bytes()), 200);
}

#[test]
fn check_config_refuses_a_transaction_timeout_the_reader_could_not_hold() {
    let dir = ScratchDir::new("shipper-test-timeout-range").expect("a scratch directory");
    // In the file: refused with its line, as start-up would refuse it.
    let (path, text) = offline_config(&dir, "timeout.conf", &["varnish.arg.T = 1e20"]);
    let (code, stderr) = run_edgeship(&[
        OsStr::new("--check-config"),
        OsStr::new("-S"),
        path.as_os_str(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "{}:{}: varnish.arg.T: 1e20 is out of range",
            path.display(),
            line_of(&text, "varnish.arg.T")
        )),
        "{stderr}"
    );
    // On the command line: refused as a bad flag value, with or without --check-config.
    let (valid, _) = offline_config(&dir, "valid.conf", &[]);
    for check in [true, false] {
        let mut args = vec![OsStr::new("-S"), valid.as_os_str(), OsStr::new("-T")];
        args.push(OsStr::new("1e20"));
        if check {
            args.push(OsStr::new("--check-config"));
        }
        let (code, stderr) = run_edgeship(&args);
        assert_eq!(code, Some(2), "check {check}: {stderr}");
        assert!(stderr.contains("1e20 is out of range"), "{stderr}");
    }
    // -L is bounded the same way.
    let (code, stderr) = run_edgeship(&[
        OsStr::new("--check-config"),
        OsStr::new("-S"),
        valid.as_os_str(),
        OsStr::new("-L"),
        OsStr::new("0"),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn enqueue_refusals_and_statistics_write_errors_are_logged_with_their_counts() {
    let mock = mock_cluster();
    let varnishd = varnishd();
    let dir = ScratchDir::new("shipper-test-logged-losses").expect("a scratch directory");
    let (config, _) = daemon_config(
        &dir,
        "edgeship.conf",
        &mock.bootstrap_servers(),
        &[
            // Every write to /dev/full fails (ENOSPC), as on a full disk.
            "log.statistics.file = /dev/full",
            "log.statistics.interval = 1",
            // A record over librdkafka's smallest message size is refused at enqueue.
            "kafka.message.max.bytes = 1000",
            "tag.size.max = 8192",
        ],
    );
    let mut edgeship = Edgeship::start_live(&dir, "edgeship", &config, varnishd.workdir(), &[]);
    get_with_agent(&varnishd, 3000);
    edgeship.wait_for_stderr("[produce] librdkafka refused a record at enqueue");
    edgeship.wait_for_stderr("[statistics] cannot write the statistics file");
    let status = edgeship.terminate();
    let stderr = edgeship.stderr();
    assert!(status.success(), "{status}:\n{stderr}");
    assert!(
        stderr.contains("a gap in the sequence (1 so far)"),
        "the count is in the line:\n{stderr}"
    );
    assert!(stderr.contains("(1 failed writes so far)"), "{stderr}");
}

#[test]
fn a_planted_password_never_appears_in_errors_check_config_or_statistics() {
    const PLANTED: &str = "hunter2";
    let mock = mock_cluster();
    let varnishd = varnishd();
    let dir = ScratchDir::new("shipper-test-secrets").expect("a scratch directory");
    let stats = dir.path().join("stats.json");
    let stats_line = format!("log.statistics.file = {}", stats.display());
    let secrets = [
        "kafka.sasl.password = hunter2-valid",
        "log.statistics.interval = 1",
        &stats_line,
    ];
    let misspelt = [
        // librdkafka does not know the name, so nothing marks the value as a secret.
        "kafka.sasl.pasword = hunter2-secret",
        // librdkafka quotes a refused value in its own message.
        "kafka.compression.codec = hunter2-codec",
    ];
    let (path, text) = daemon_config(
        &dir,
        "misspelt.conf",
        &mock.bootstrap_servers(),
        &[&secrets[..], &misspelt[..]].concat(),
    );
    let (code, checked) = run_edgeship(&[
        OsStr::new("--check-config"),
        OsStr::new("-S"),
        path.as_os_str(),
    ]);
    assert_eq!(code, Some(2), "{checked}");
    for key in ["kafka.sasl.pasword", "kafka.compression.codec"] {
        let expected = format!("{}:{}: {key}: ", path.display(), line_of(&text, key));
        assert!(checked.contains(&expected), "{expected} in:\n{checked}");
    }
    assert!(!checked.contains(PLANTED), "--check-config:\n{checked}");
    let (code, refused) = start_without_varnishd(&path);
    assert_eq!(code, Some(2), "{refused}");
    assert!(!refused.contains(PLANTED), "start-up:\n{refused}");

    // Running with the valid password: the log and the statistics file (librdkafka's
    // statistics included) do not show it either.
    let (path, _) = daemon_config(&dir, "valid.conf", &mock.bootstrap_servers(), &secrets);
    let mut edgeship = Edgeship::start_live(&dir, "running", &path, varnishd.workdir(), &[]);
    get_with_agent(&varnishd, 10);
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while common::latest_statistics(&stats, "kafka").is_none() {
        assert!(edgeship.is_running(), "{}", edgeship.stderr());
        assert!(std::time::Instant::now() < deadline, "no kafka statistics");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = edgeship.terminate();
    let stderr = edgeship.stderr();
    assert!(status.success(), "{status}:\n{stderr}");
    assert!(!stderr.contains(PLANTED), "the daemon's log:\n{stderr}");
    let written = std::fs::read_to_string(&stats).expect("read the statistics file");
    assert!(written.contains("\"edgeship\""), "{written}");
    assert!(
        !written.contains(PLANTED),
        "the statistics file:\n{written}"
    );
}

#[test]
fn the_statistics_file_is_never_opened_through_a_symlink_and_is_created_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = ScratchDir::new("shipper-test-stats-file").expect("a scratch directory");
    let victim = dir.write("victim", "").expect("write a test file");
    let link = dir.path().join("stats.json");
    std::os::unix::fs::symlink(&victim, &link).expect("make a symbolic link");
    let stats_line = format!("log.statistics.file = {}", link.display());
    let (path, _) = daemon_config(&dir, "link.conf", "127.0.0.1:9", &[&stats_line]);
    let (code, stderr) = start_without_varnishd(&path);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot open the statistics file {}: it is a symbolic link",
            link.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&victim).expect("read the victim"), b"");

    // A new file is created readable by its group at most, whatever the umask allows.
    let fresh = dir.path().join("fresh.json");
    let stats_line = format!("log.statistics.file = {}", fresh.display());
    let (path, _) = daemon_config(&dir, "fresh.conf", "127.0.0.1:9", &[&stats_line]);
    let (code, stderr) = start_without_varnishd(&path);
    assert_eq!(
        code,
        Some(1),
        "it fails at the reader, after opening the file:\n{stderr}"
    );
    let mode = std::fs::metadata(&fresh)
        .expect("the statistics file was created")
        .permissions()
        .mode();
    assert_eq!(mode & 0o137, 0, "mode {mode:o}");
}

/// The processes whose command line mentions `needle` (the daemon has no parent we know).
fn pids_mentioning(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// A stand-in for the system's syslog: a datagram socket in `dir`, as `/dev/log` is.
fn syslog_socket(dir: &ScratchDir) -> (std::os::unix::net::UnixDatagram, std::path::PathBuf) {
    let path = dir.path().join("syslog.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).expect("bind a syslog socket");
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("a read timeout");
    (socket, path)
}

/// Reads syslog datagrams until one contains `needle`; all of them, if none does in time.
fn syslog_until(socket: &std::os::unix::net::UnixDatagram, needle: &str) -> Result<(), String> {
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    while let Ok(length) = socket.recv(&mut buffer) {
        let line = String::from_utf8_lossy(&buffer[..length]).into_owned();
        if line.contains(needle) {
            return Ok(());
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    Err(seen)
}

#[test]
fn a_daemon_that_cannot_start_makes_its_launcher_fail_with_the_error() {
    let dir = ScratchDir::new("shipper-test-daemonize").expect("a scratch directory");
    let (syslog, socket) = syslog_socket(&dir);
    let socket_line = format!("log.syslog.socket = {}\n", socket.display());
    // No log.syslog line: daemonized, edgeship logs to syslog by itself.
    let path = dir
        .write(
            "daemon.conf",
            format!("output = null\ndaemonize = true\n{socket_line}"),
        )
        .expect("write a test file");
    let (code, stderr) = start_without_varnishd(&path);
    assert_eq!(
        code,
        Some(1),
        "the launcher waits for the daemon:\n{stderr}"
    );
    assert!(
        stderr.contains("cannot open the Varnish log"),
        "the daemon's error reaches the launcher's stderr:\n{stderr}"
    );

    // Errors would go nowhere: refused, in --check-config too.
    let text = "output = null\ndaemonize = true\nlog.syslog = false\n";
    let path = dir.write("silent.conf", text).expect("write a test file");
    for check in [true, false] {
        let mut args = vec![OsStr::new("-S"), path.as_os_str()];
        if check {
            args.push(OsStr::new("--check-config"));
        }
        let (code, stderr) = run_edgeship(&args);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "{}:3: log.syslog = false with daemonize",
                path.display()
            )),
            "{stderr}"
        );
    }

    // Nowhere to log either when syslog cannot be reached: refused before detaching.
    let absent = dir.path().join("absent.sock");
    let text = format!(
        "output = null\ndaemonize = true\nlog.syslog.socket = {}\n",
        absent.display()
    );
    let path = dir
        .write("no-syslog.conf", &text)
        .expect("write a test file");
    let (code, stderr) = start_without_varnishd(&path);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("syslog is unreachable at {}", absent.display())),
        "{stderr}"
    );

    // A daemon that starts: the launcher exits 0 once it reads the log, and it runs on,
    // logging to syslog.
    let varnishd = varnishd();
    let path = dir
        .write(
            "running.conf",
            format!("output = null\ndaemonize = true\n{socket_line}"),
        )
        .expect("write a test file");
    let workdir = varnishd.workdir().as_os_str();
    let (code, stderr) = run_edgeship(&[
        OsStr::new("-S"),
        path.as_os_str(),
        OsStr::new("-n"),
        workdir,
    ]);
    let logged = syslog_until(&syslog, "reading the Varnish log");
    let daemons = pids_mentioning(&path.display().to_string());
    for pid in &daemons {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        daemons.len(),
        1,
        "one daemon runs after its launcher exited"
    );
    if let Err(seen) = logged {
        panic!("the daemon logs to syslog; it sent:\n{seen}");
    }
}

#[test]
fn a_panic_in_the_shipping_loop_still_flushes_and_writes_the_final_heartbeat_and_statistics() {
    let mock = mock_cluster();
    let varnishd = varnishd();
    let dir = ScratchDir::new("shipper-test-panic").expect("a scratch directory");
    let stats = dir.path().join("stats.json");
    let stats_line = format!("log.statistics.file = {}", stats.display());
    let (config, _) = daemon_config(
        &dir,
        "edgeship.conf",
        &mock.bootstrap_servers(),
        &[&stats_line, "log.statistics.interval = 3600"],
    );
    let workdir = varnishd.workdir().to_str().expect("a UTF-8 work directory");
    let mut edgeship = Edgeship::start_with_env(
        &dir,
        "edgeship",
        &config,
        &["-n", workdir],
        // The hidden test hook (see pipeline.rs): panic right after the first batch.
        &[("EDGESHIP_TEST_PANIC_AFTER_BATCHES", "1")],
    );
    edgeship.wait_for_stderr("reading the Varnish log");
    get_with_agent(&varnishd, 10);
    let status = edgeship.wait();
    let stderr = edgeship.stderr();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("[panic] the shipping loop panicked"),
        "{stderr}"
    );

    // The record shipped before the panic was delivered (not purged with a dropped
    // producer), then the final heartbeat.
    let mut reader = common::TopicReader::new(&mock.bootstrap_servers(), TOPIC);
    reader.read_to_end(1);
    assert_eq!(common::records(&reader.messages).count(), 1, "{stderr}");
    let last = common::heartbeats(&reader.messages)
        .last()
        .map(|message| message.json.clone())
        .expect("a final heartbeat");
    assert_eq!(last["final"], serde_json::Value::Bool(true));
    assert_eq!(last["records_delivered"], 1);
    // And the last statistics line, which counts the panic.
    let edgeship_stats = common::last_statistics(&stats, "edgeship");
    assert_eq!(edgeship_stats["panics"], 1, "{edgeship_stats}");
}
